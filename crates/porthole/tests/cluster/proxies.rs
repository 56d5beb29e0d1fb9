//! Several real `porthole serve` processes on one store, and what a test does with them: console
//! URLs from the API or the CLI, WebSocket sessions that echo, the sessions API, the CLI.

#![allow(dead_code, unreachable_pub)]

use crate::harness::{frame, read_close, upgrade, Server};
use porthole_testkit::FakeVncServer;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const KEY: &str = "cluster-test-key-0123456789";

/// The configuration of each process: its listener, the shared store, one echo target `lab`
/// (the same in every process, so that any token opens anywhere), an admin key, a 1 s heartbeat.
pub fn config(store: &str, proxy_id: &str, vnc: &FakeVncServer, extra: &str) -> String {
    format!(
        "[proxy]\nlisten = \"127.0.0.1:@PORT@\"\n[consoleauth]\nstore = \"{store}\"\npool_acquire_timeout = 2\n{extra}\n\
         [cluster]\nproxy_id = \"{proxy_id}\"\nheartbeat_interval = 1\n\
         [[targets]]\nname = \"lab\"\nhost = \"127.0.0.1\"\nport = {}\n\
         [[api.keys]]\nname = \"ops\"\nsecret = \"{KEY}\"\nrole = \"admin\"\n",
        vnc.addr().port()
    )
}

/// `n` processes named p1, p2, … on `store`.
pub fn start(n: usize, store: &str, vnc: &FakeVncServer) -> Vec<Server> {
    (1..=n).map(|i| Server::start(&config(store, &format!("p{i}"), vnc, ""))).collect()
}

/// One HTTP request with the admin key; the status and the body as JSON (Null if none).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let rest = text.split_once("\r\n\r\n").map_or("", |(_, r)| r);
    let json = match (rest.find('{'), rest.rfind('}')) {
        (Some(a), Some(b)) if b > a => serde_json::from_str(&rest[a..=b]).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    (code, json)
}

/// The token of a URL minted through a process's API.
pub async fn mint_api(server: &Server) -> String {
    let body = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;
    let uuid = porthole_gateway::inventory::target_uuid("lab");
    let (code, doc) = http(server.addr, "POST", &format!("/v2.1/servers/{uuid}/remote-consoles"), Some(body)).await;
    assert_eq!(code, 200, "{doc}");
    let url = doc["remote_console"]["url"].as_str().unwrap().to_owned();
    url.rsplit("%3Ftoken%3D").next().unwrap().to_owned()
}

/// Runs the CLI with a process's configuration.
pub fn cli(server: &Server, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_porthole"));
    cmd.args(args).arg("-c").arg(&server.config);
    cmd.output().unwrap()
}

/// A WebSocket session on `addr`, upgraded and echoing.
pub async fn session(addr: SocketAddr, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(upgrade(&mut s, addr, token).await, 101, "the upgrade on {addr}");
    echo(&mut s, b"hello").await;
    s
}

/// The upgrade's status alone.
pub async fn try_session(addr: SocketAddr, token: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    upgrade(&mut s, addr, token).await
}

/// Sends `payload` and reads its echo.
pub async fn echo(s: &mut TcpStream, payload: &[u8]) {
    s.write_all(&frame(2, payload)).await.unwrap();
    let mut h = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut h)).await.expect("an echo within 5 s").unwrap();
    let mut p = vec![0u8; usize::from(h[1] & 0x7f)];
    s.read_exact(&mut p).await.unwrap();
    assert_eq!(p, payload);
}

/// Waits for the close frame: its code and reason, and how long it took.
pub async fn closed_within(s: &mut TcpStream, limit: Duration) -> ((u16, String), Duration) {
    let started = Instant::now();
    let close = tokio::time::timeout(limit, read_close(s, &mut Vec::new())).await;
    let close = close.unwrap_or_else(|_| panic!("no close frame within {limit:?}")).expect("a close frame, not the end of the stream");
    (close, started.elapsed())
}

/// The live sessions a process's API lists.
pub async fn live_sessions(server: &Server) -> Vec<serde_json::Value> {
    let (code, doc) = http(server.addr, "GET", "/v2.1/porthole/sessions", None).await;
    assert_eq!(code, 200, "{doc}");
    doc["sessions"].as_array().cloned().unwrap_or_default()
}

/// The history a process's API lists.
pub async fn history(server: &Server) -> Vec<serde_json::Value> {
    let (code, doc) = http(server.addr, "GET", "/v2.1/porthole/sessions?history=true", None).await;
    assert_eq!(code, 200, "{doc}");
    doc["sessions"].as_array().cloned().unwrap_or_default()
}

/// Polls `check` every 100 ms for up to `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} not within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh schema on the test server (`PORTHOLE_TEST_POSTGRES_URL`, from scripts/postgres-up.sh).
pub async fn postgres_store() -> String {
    let url = std::env::var("PORTHOLE_TEST_POSTGRES_URL")
        .expect("PORTHOLE_TEST_POSTGRES_URL is not set: start one with `export PORTHOLE_TEST_POSTGRES_URL=$(scripts/postgres-up.sh)`");
    porthole_tokens::store::scratch_schema(&url).await.expect("a scratch schema on the test server")
}
