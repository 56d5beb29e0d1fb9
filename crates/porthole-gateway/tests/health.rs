//! Readiness and the client's address: `/readyz` says what is wrong (a store whose file was
//! deleted, a node that does not answer), and `X-Forwarded-For` counts only from trusted proxies.

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::{api, http_raw, start, start_full};
use porthole_gateway::inventory::{Inventory, StaticTargets, Survey};
use porthole_gateway::{ApiKey, Role, Settings};
use porthole_testkit::FakeVncServer;
use porthole_tokens::store::{MemoryStore, StoreOptions};
use porthole_tokens::{open_store, Clock, ConsoleAuth};
use std::sync::Arc;

const KEY: &str = "health-test-key-0123456789";

fn json_of(text: &str) -> serde_json::Value {
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let (a, b) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    serde_json::from_str(&body[a..=b]).unwrap()
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    http_raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await
}

/// Targets plus a node that does not answer.
struct WithNodes(StaticTargets);

#[async_trait]
impl Inventory for WithNodes {
    async fn survey(&self) -> Survey {
        self.0.survey().await
    }

    async fn node_health(&self) -> Vec<(String, Result<(), String>)> {
        vec![("kvm1".into(), Ok(())), ("kvm2".into(), Err("no answer within 2 s".into()))]
    }
}

#[tokio::test]
async fn readyz_lists_the_store_and_each_node() {
    let targets = common::targets(&[]);
    let auth = ConsoleAuth::new(Arc::new(MemoryStore::new()), Clock::System);
    let gw = start_full(targets.clone(), Arc::new(WithNodes(targets)), Settings::default(), auth, Arc::new(MemoryStore::new())).await;
    let (code, text) = get(gw.addr, "/readyz").await;
    assert_eq!(code, 200, "{text}");
    let body = json_of(&text);
    assert_eq!(body["ready"], true);
    assert_eq!(body["store"]["ok"], true);
    assert_eq!(body["nodes"][0], serde_json::json!({"name": "kvm1", "reachable": true}));
    assert_eq!(body["nodes"][1]["reachable"], false);
    assert_eq!(get(gw.addr, "/healthz").await.0, 200);
}

#[tokio::test]
async fn a_deleted_store_file_makes_readyz_fail_and_mints_answer_503() {
    let echo = FakeVncServer::raw_echo().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("porthole.db");
    let store = open_store(&format!("sqlite://{}", file.display()), &StoreOptions::default()).await.unwrap();
    let auth = ConsoleAuth::new(store, Clock::System);
    let targets = common::targets(&[("vm", echo.addr())]);
    let settings = Settings { api_keys: vec![ApiKey::new("ops", KEY, Role::Admin)], ..Settings::default() };
    let gw = start_full(targets.clone(), Arc::new(targets), settings, auth, Arc::new(MemoryStore::new())).await;
    let token = gw.mint("vm").await;
    assert_eq!(get(gw.addr, "/readyz").await.0, 200);

    std::fs::remove_file(&file).unwrap();
    let (code, text) = get(gw.addr, "/readyz").await;
    assert_eq!(code, 503, "{text}");
    let body = json_of(&text);
    assert_eq!(body["store"]["ok"], false);
    assert!(body["store"]["error"].as_str().unwrap().contains("deleted"), "{body}");
    let vm = gw.instance("vm");
    let body = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;
    let (code, _, json) = api(gw.addr, "POST", &format!("/v2.1/servers/{vm}/remote-consoles"), Some(KEY), Some(body)).await;
    assert_eq!(code, 503, "{json}");
    assert!(json["serviceUnavailable"]["message"].is_string(), "{json}");
    assert_eq!(common::raw::try_open(gw.addr, token.token.expose()).await.err(), Some(503));
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let echo = FakeVncServer::raw_echo().await;
    for (trusted, expected) in [(vec![], "127.0.0.1"), (vec!["127.0.0.0/8".parse().unwrap()], "203.0.113.7")] {
        let settings = Settings { trusted_proxies: trusted, ..Settings::default() };
        let gw = start(&[("vm", echo.addr())], settings).await;
        let m = gw.mint("vm").await;
        let extra = "X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n";
        let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, common::raw::upgrade_request(gw.addr, m.token.expose(), extra).as_bytes())
            .await
            .unwrap();
        common::wait_for(|| gw.live() == 1).await;
        assert_eq!(gw.state.live.list()[0].client.to_string(), expected);
    }
}
