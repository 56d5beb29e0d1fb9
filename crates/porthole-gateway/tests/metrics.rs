//! `/metrics` over real sockets: who may read it on the main listener, what the dedicated listener
//! answers, and that a session's life shows in it.

#![allow(clippy::unwrap_used)]

mod common;

use common::raw::{frame, open, read_frame};
use common::{http_raw, start};
use porthole_gateway::{ApiKey, Role, Scope, Settings};
use porthole_testkit::FakeVncServer;
use tokio::io::AsyncWriteExt as _;

const ADMIN: &str = "metrics-admin-0123456789";
const MEMBER: &str = "metrics-member-0123456789";
const SCOPED: &str = "metrics-scoped-0123456789";

fn settings() -> Settings {
    let mut scoped = ApiKey::new("scoped", SCOPED, Role::Admin);
    scoped.scope = Scope { instances: vec!["lab*".into()], nodes: vec![] };
    Settings {
        api_keys: vec![ApiKey::new("ops", ADMIN, Role::Admin), ApiKey::new("dev", MEMBER, Role::Member), scoped],
        ..Settings::default()
    }
}

async fn get_metrics(addr: std::net::SocketAddr, auth: &str) -> (u16, String) {
    http_raw(addr, &format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n")).await
}

#[tokio::test]
async fn the_main_listener_answers_unscoped_admin_keys_only() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = start(&[("lab", vnc.addr())], settings()).await;
    assert_eq!(get_metrics(gw.addr, "").await.0, 401);
    assert_eq!(get_metrics(gw.addr, &format!("X-Auth-Token: {MEMBER}\r\n")).await.0, 403);
    assert_eq!(get_metrics(gw.addr, &format!("X-Auth-Token: {SCOPED}\r\n")).await.0, 403, "a scoped admin does not see every node");
    assert_eq!(get_metrics(gw.addr, "Authorization: Bearer wrong-wrong-wrong\r\n").await.0, 401);
    let (code, text) = get_metrics(gw.addr, &format!("Authorization: Bearer {ADMIN}\r\n")).await;
    assert_eq!(code, 200);
    assert!(text.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{text}");
    let (code, _) = get_metrics(gw.addr, &format!("X-Auth-Token: {ADMIN}\r\n")).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_session_is_counted_live_then_ended_with_its_bytes() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = start(&[("lab", vnc.addr())], settings()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = listener.local_addr().unwrap();
    tokio::spawn(porthole_gateway::serve_metrics(listener, gw.state.clone()));
    let scrape = || async move { http_raw(metrics_addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.1 };

    let minted = gw.mint("lab").await;
    let (mut r, mut w) = open(gw.addr, minted.token.expose()).await.into_split();
    w.write_all(&frame(2, b"hello", true)).await.unwrap();
    assert_eq!(read_frame(&mut r).await.map(|f| f.1), Some(b"hello".to_vec()));
    let text = scrape().await;
    for line in [
        "porthole_sessions_live{node=\"\"} 1",
        "porthole_token_checks_total{stage=\"upgrade\",outcome=\"ok\"} 1",
        "porthole_relayed_bytes_total{direction=\"to_server\"} 5",
        "porthole_relayed_bytes_total{direction=\"to_browser\"} 5",
        "porthole_session_setup_seconds_count 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    drop((r, w));
    common::wait_for(|| gw.live() == 0).await;
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape().await;
        if text.lines().any(|l| l == "porthole_sessions_live{node=\"\"} 0") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for line in ["porthole_sessions_live{node=\"\"} 0", "porthole_relayed_bytes_total{direction=\"to_server\"} 5"] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert!(text.lines().any(|l| l.starts_with("porthole_sessions_ended_total{reason=\"browser-")), "{text}");
}
