//! The sessions API extension over real sockets, one process with its sessions recorded in memory:
//! the live list, the history with end reasons and bytes, ending one session or an instance's.

#![allow(clippy::unwrap_used)]

mod common;

use common::raw::{open, read_close, read_frame};
use common::{api, start, wait_for};
use porthole_gateway::{ApiKey, Role, Settings};
use porthole_testkit::FakeVncServer;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

const KEY: &str = "sessions-test-key-0123456789";

fn settings() -> Settings {
    Settings { api_keys: vec![ApiKey::new("ops", KEY, Role::Admin)], ..Settings::default() }
}

/// `GET path` until `cond` holds on the answer (up to 5 s); returns it.
async fn list_until(gw: &common::Gateway, path: &str, cond: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    for _ in 0..100 {
        let (code, _, body) = api(gw.addr, "GET", path, Some(KEY), None).await;
        assert_eq!(code, 200, "{body}");
        if cond(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never showed what was expected");
}

#[tokio::test]
async fn sessions_are_listed_ended_by_id_and_kept_in_history() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = start(&[("lab", vnc.addr())], settings()).await;
    let minted = gw.mint("lab").await;
    let (mut r, mut w) = open(gw.addr, minted.token.expose()).await.into_split();
    w.write_all(&common::raw::frame(2, b"hello", true)).await.unwrap();
    assert_eq!(read_frame(&mut r).await.map(|f| f.1), Some(b"hello".to_vec()));

    let live = list_until(&gw, "/v2.1/porthole/sessions", |b| b["sessions"].as_array().is_some_and(|s| s.len() == 1)).await;
    let s = &live["sessions"][0];
    assert_eq!(s["instance"], "lab");
    assert_eq!(s["instance_uuid"], gw.instance("lab").to_string());
    assert_eq!(
        (s["client"].as_str(), s["console_type"].as_str(), s["minted_by"].as_str()),
        (Some("127.0.0.1"), Some("novnc"), Some("test"))
    );
    assert_eq!(s["proxy_id"].as_str(), Some(gw.state.cluster.proxy_id()));
    assert!(s["node"].is_null() && s.get("ended").is_none() && s["started"].as_str().is_some_and(|t| t.ends_with('Z')), "{s}");
    let id = s["id"].as_str().unwrap().to_owned();

    let (code, _, _) = api(gw.addr, "DELETE", &format!("/v2.1/porthole/sessions/{id}"), Some(KEY), None).await;
    assert_eq!(code, 204);
    let close = tokio::time::timeout(Duration::from_secs(1), read_close(&mut r)).await.unwrap();
    assert_eq!(close, Some((1008, "Session ended by an administrator".into())));
    let history = list_until(&gw, "/v2.1/porthole/sessions?history=true", |b| !b["sessions"][0]["ended"].is_null()).await;
    let h = &history["sessions"][0];
    assert_eq!((h["id"].as_str(), h["end_reason"].as_str()), (Some(id.as_str()), Some("killed")));
    assert_eq!((h["bytes_to_server"].as_u64(), h["bytes_to_browser"].as_u64()), (Some(5), Some(5)), "{h}");
    let (_, _, live) = api(gw.addr, "GET", "/v2.1/porthole/sessions", Some(KEY), None).await;
    assert_eq!(live["sessions"], serde_json::json!([]));
    let (code, _, body) = api(gw.addr, "DELETE", &format!("/v2.1/porthole/sessions/{id}"), Some(KEY), None).await;
    assert_eq!(code, 404, "an ended session: {body}");
    assert_eq!(api(gw.addr, "DELETE", "/v2.1/porthole/sessions/not-a-uuid", Some(KEY), None).await.0, 404);
}

#[tokio::test]
async fn an_instances_sessions_end_and_its_tokens_stay_valid() {
    let (a, b) = (FakeVncServer::raw_echo().await, FakeVncServer::raw_echo().await);
    let gw = start(&[("lab", a.addr()), ("other", b.addr())], settings()).await;
    let token = gw.mint("lab").await;
    let (mut r1, _w1) = open(gw.addr, token.token.expose()).await.into_split();
    let (mut r2, _w2) = open(gw.addr, gw.mint("lab").await.token.expose()).await.into_split();
    let (mut r3, _w3) = open(gw.addr, gw.mint("other").await.token.expose()).await.into_split();
    wait_for(|| gw.live() == 3).await;
    let by_name = list_until(&gw, "/v2.1/porthole/sessions?instance=lab", |b| b["sessions"].as_array().is_some_and(|s| s.len() == 2)).await;
    assert!(by_name["sessions"].as_array().unwrap().iter().all(|s| s["instance"] == "lab"));
    let by_uuid = format!("/v2.1/porthole/sessions?instance={}", gw.instance("other"));
    list_until(&gw, &by_uuid, |b| b["sessions"].as_array().is_some_and(|s| s.len() == 1)).await;

    assert_eq!(api(gw.addr, "DELETE", "/v2.1/porthole/sessions?instance=lab", Some(KEY), None).await.0, 204);
    for r in [&mut r1, &mut r2] {
        let close = tokio::time::timeout(Duration::from_secs(1), read_close(r)).await.unwrap();
        assert_eq!(close, Some((1008, "Session ended by an administrator".into())));
    }
    assert!(tokio::time::timeout(Duration::from_millis(300), read_frame(&mut r3)).await.is_err(), "the other instance's session goes on");
    // Not a reset: the same URL opens again.
    let _again = open(gw.addr, token.token.expose()).await;
    assert_eq!(api(gw.addr, "DELETE", "/v2.1/porthole/sessions?instance=nothing-like-it", Some(KEY), None).await.0, 404);
    assert_eq!(api(gw.addr, "DELETE", "/v2.1/porthole/sessions", Some(KEY), None).await.0, 400);
    assert_eq!(api(gw.addr, "GET", "/v2.1/porthole/sessions", None, None).await.0, 401);
}

/// Two processes on one store: a VM stop seen by one (its libvirt events) reaches the sessions of
/// the other, whose browsers are told "Instance stopped".
#[tokio::test]
async fn a_stop_seen_by_one_process_ends_the_sessions_of_another() {
    use porthole_gateway::cluster::ClusterSettings;
    use porthole_gateway::live::{Policy, SessionMeta};
    use porthole_gateway::AppState;
    use porthole_tokens::cluster::MemoryCluster;
    use porthole_tokens::store::MemoryStore;
    use porthole_tokens::{Clock, ConsoleAuth};
    use std::sync::Arc;

    let tokens = ConsoleAuth::new(Arc::new(MemoryStore::new()), Clock::System);
    let sessions: Arc<MemoryCluster> = Arc::new(MemoryCluster::new());
    let inventory = Arc::new(common::targets(&[]));
    let process = |name: &str| {
        let settings = ClusterSettings { proxy_id: name.into(), ..ClusterSettings::default() };
        AppState::join(Settings::default(), tokens.clone(), inventory.clone(), sessions.clone(), settings)
    };
    let (seeing, other) = (process("seeing").await.unwrap(), process("other").await.unwrap());
    let vm = uuid::Uuid::new_v4();
    let mut held = other.live.register(SessionMeta::new(vm, [192, 0, 2, 1].into()), other.live.generation()).unwrap();
    seeing.end_consoles(vm, Policy::InstanceStopped).await.unwrap();
    let why = tokio::time::timeout(Duration::from_secs(1), &mut held.ended).await.expect("within a second").unwrap();
    assert_eq!(why, Policy::InstanceStopped);
}
