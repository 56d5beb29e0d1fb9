//! Starts the gateway on 127.0.0.1:0 with static targets and an in-memory token store.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod logs;
pub mod raw;

use porthole_gateway::inventory::{Endpoint, StaticTargets};
use porthole_gateway::{AppState, Settings};
use porthole_tokens::auth::{ConsoleTarget, Minted};
use porthole_tokens::store::MemoryStore;
use porthole_tokens::{Clock, ConsoleAuth};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use uuid::Uuid;

pub struct Gateway {
    pub addr: SocketAddr,
    pub state: AppState,
    pub auth: ConsoleAuth,
    pub store: Arc<MemoryStore>,
    pub inventory: StaticTargets,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Static targets by name and address.
pub fn targets(targets: &[(&str, SocketAddr)]) -> StaticTargets {
    StaticTargets::new(targets.iter().map(|(name, addr)| ((*name).to_owned(), None, Endpoint::tcp(addr.ip().to_string(), addr.port()))))
}

pub async fn start(targets: &[(&str, SocketAddr)], settings: Settings) -> Gateway {
    let inventory = self::targets(targets);
    start_with(inventory.clone(), Arc::new(inventory), settings).await
}

/// Starts the gateway on any inventory; `targets` is what `mint` looks names up in.
pub async fn start_with(targets: StaticTargets, inventory: Arc<dyn porthole_gateway::inventory::Inventory>, settings: Settings) -> Gateway {
    let store = Arc::new(MemoryStore::new());
    let auth = ConsoleAuth::new(store.clone(), Clock::System);
    start_full(targets, inventory, settings, auth, store).await
}

/// Starts the gateway with a token authority of the test's choosing (`store` is then only kept).
pub async fn start_full(
    targets: StaticTargets,
    inventory: Arc<dyn porthole_gateway::inventory::Inventory>,
    settings: Settings,
    auth: ConsoleAuth,
    store: Arc<MemoryStore>,
) -> Gateway {
    let inventory_for_state = inventory;
    let inventory = targets;
    let state = AppState::new(settings, auth.clone(), inventory_for_state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let served = tokio::spawn(async move {
        porthole_gateway::serve(listener, st, async {
            let _ = rx.await;
        })
        .await
    });
    Gateway { addr, state, auth, store, inventory, shutdown: Some(tx), served: Some(served) }
}

impl Gateway {
    pub fn base(&self) -> String {
        format!("http://{}/vnc_lite.html", self.addr)
    }

    /// Mints a token for a target by name.
    pub async fn mint(&self, name: &str) -> Minted {
        self.mint_ttl(name, Duration::from_secs(600)).await
    }

    /// Live sessions.
    pub fn live(&self) -> usize {
        self.state.live.count()
    }

    /// Starts the shutdown (as SIGTERM does); the handle finishes when `serve` returns.
    pub fn stop(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.served.take().expect("stopped once")
    }

    /// Mints a view-only token for a target by name.
    pub async fn mint_view_only(&self, name: &str) -> Minted {
        self.mint_with(name, Duration::from_secs(600), true).await
    }

    /// Mints a token valid for `ttl` for a target by name.
    pub async fn mint_ttl(&self, name: &str, ttl: Duration) -> Minted {
        self.mint_with(name, ttl, false).await
    }

    async fn mint_with(&self, name: &str, ttl: Duration, view_only: bool) -> Minted {
        use porthole_gateway::inventory::Inventory as _;
        let inst = self.inventory.find(name).await.unwrap();
        let ep = inst.vnc.unwrap();
        let target = ConsoleTarget {
            instance_uuid: inst.uuid,
            console_type: porthole_tokens::ConsoleType::Novnc,
            endpoint: porthole_gateway::mint::token_endpoint(&ep),
            view_only,
            minted_by: Some("test".into()),
        };
        self.auth.authorize(&target, &self.base(), ttl).await.unwrap()
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("ws://{}/?token={token}", self.addr)
    }

    pub fn instance(&self, name: &str) -> Uuid {
        porthole_gateway::inventory::target_uuid(name)
    }
}

/// A raw HTTP/1.1 request over TCP; returns the status code and the whole response text.
pub async fn http_raw(addr: SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

/// One HTTP request with an optional `X-Auth-Token` and JSON body; returns status, the raw head
/// and the body parsed as JSON (Null when empty or not JSON).
pub async fn api(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> (u16, String, serde_json::Value) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("X-Auth-Token: {k}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    let (code, text) = http_raw(addr, &req).await;
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // Bodies may be chunked: take the JSON between the first { and the last }.
    let json = match (rest.find('{'), rest.rfind('}')) {
        (Some(a), Some(b)) if b > a => serde_json::from_str(&rest[a..=b]).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    (code, head.to_owned(), json)
}

/// Polls `cond` every 25 ms for up to 5 s.
pub async fn wait_for(cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached within 5 s");
}
