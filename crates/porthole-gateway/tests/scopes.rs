//! Scoped API keys (tenancy) over real sockets: two keys that must not see each other's VMs in
//! listings, lookups, console URLs, resets or console auth tokens.

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::{api, start_with};
use porthole_gateway::inventory::{Endpoint, Instance, InstanceState, Inventory, StaticTargets, Survey};
use porthole_gateway::{ApiKey, Role, Scope, Settings};
use porthole_testkit::FakeVncServer;
use std::sync::Arc;
use uuid::Uuid;

/// Sees `web-*` only; an admin, so it may read console auth tokens (its own).
const WEB: &str = "web-team-secret-0123456789";
/// Sees node `kvm2` only.
const KVM2: &str = "kvm2-team-secret-0123456789";
/// Sees everything.
const OPS: &str = "ops-secret-0123456789abcdef";

const DB: Uuid = Uuid::from_u128(0x3333_3333_3333_4333_8333_3333_3333_3333);

/// A static target `web-1` plus a running `db-1` on libvirt node `kvm2`.
struct TwoTenants {
    targets: StaticTargets,
    db: Instance,
}

#[async_trait]
impl Inventory for TwoTenants {
    async fn survey(&self) -> Survey {
        let mut s = self.targets.survey().await;
        s.instances.push(self.db.clone());
        s
    }
}

async fn gateway(web_vnc: std::net::SocketAddr, db_vnc: std::net::SocketAddr) -> common::Gateway {
    let targets = StaticTargets::new([("web-1".to_owned(), None, Endpoint::tcp("127.0.0.1", web_vnc.port()))]);
    let db = Instance {
        uuid: DB,
        name: "db-1".into(),
        node: Some("kvm2".into()),
        state: InstanceState::Running,
        vnc: Some(Endpoint::tcp("127.0.0.1", db_vnc.port())),
        graphics: None,
        serial: None,
    };
    let mut web = ApiKey::new("web-team", WEB, Role::Admin);
    web.scope = Scope { instances: vec!["web-*".into()], nodes: vec![] };
    let mut kvm2 = ApiKey::new("kvm2-team", KVM2, Role::Admin);
    kvm2.scope = Scope { instances: vec![], nodes: vec!["kvm2".into()] };
    let settings = Settings { api_keys: vec![web, kvm2, ApiKey::new("ops", OPS, Role::Admin)], ..Settings::default() };
    let inventory = TwoTenants { targets: targets.clone(), db };
    start_with(targets, Arc::new(inventory), settings).await
}

fn names(body: &serde_json::Value) -> Vec<String> {
    body["servers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
}

const NOVNC: &str = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;

/// Mints a console through the API and returns its token.
async fn console_token(gw: &common::Gateway, key: &str, id: Uuid) -> String {
    let (code, _, doc) = api(gw.addr, "POST", &format!("/v2.1/servers/{id}/remote-consoles"), Some(key), Some(NOVNC)).await;
    assert_eq!(code, 200, "{doc}");
    let url = doc["remote_console"]["url"].as_str().unwrap();
    url.rsplit("token%3D").next().unwrap().to_owned()
}

#[tokio::test]
async fn two_scoped_keys_do_not_see_each_others_servers() {
    let (web_vnc, db_vnc) = (FakeVncServer::raw_echo().await, FakeVncServer::raw_echo().await);
    let gw = gateway(web_vnc.addr(), db_vnc.addr()).await;
    let web1 = gw.instance("web-1");
    for (key, want) in [(WEB, vec!["web-1"]), (KVM2, vec!["db-1"]), (OPS, vec!["db-1", "web-1"])] {
        for path in ["/v2.1/servers", "/v2.1/servers/detail"] {
            let (code, _, body) = api(gw.addr, "GET", path, Some(key), None).await;
            assert_eq!(code, 200);
            let mut got = names(&body);
            got.sort();
            assert_eq!(got, want, "{path} with {key}");
        }
    }
    // The dashboard's list too.
    for (key, want) in [(WEB, vec!["web-1"]), (KVM2, vec!["db-1"])] {
        let (code, _, body) = api(gw.addr, "GET", "/v2.1/porthole/instances", Some(key), None).await;
        assert_eq!(code, 200);
        let got: Vec<&str> = body["instances"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
        assert_eq!(got, want);
    }
    // A name filter does not reach past the scope either.
    let (_, _, body) = api(gw.addr, "GET", "/v2.1/servers/detail?name=^db-1$", Some(WEB), None).await;
    assert!(names(&body).is_empty());
    // Each other's servers are not found: show, console URL, legacy action, reset.
    for (key, other, own) in [(WEB, DB, web1), (KVM2, web1, DB)] {
        let (code, _, body) = api(gw.addr, "GET", &format!("/v2.1/servers/{other}"), Some(key), None).await;
        assert_eq!((code, body["itemNotFound"]["code"].as_u64()), (404, Some(404)));
        assert_eq!(api(gw.addr, "GET", &format!("/v2.1/servers/{own}"), Some(key), None).await.0, 200);
        let consoles = format!("/v2.1/servers/{other}/remote-consoles");
        assert_eq!(api(gw.addr, "POST", &consoles, Some(key), Some(NOVNC)).await.0, 404);
        assert_eq!(api(gw.addr, "DELETE", &consoles, Some(key), None).await.0, 404);
        let action = format!("/v2.1/servers/{other}/action");
        assert_eq!(api(gw.addr, "POST", &action, Some(key), Some(r#"{"os-getVNCConsole": {"type": "novnc"}}"#)).await.0, 404);
    }
}

#[tokio::test]
async fn a_scoped_key_reads_only_its_own_instances_tokens() {
    let (web_vnc, db_vnc) = (FakeVncServer::raw_echo().await, FakeVncServer::raw_echo().await);
    let gw = gateway(web_vnc.addr(), db_vnc.addr()).await;
    let web_token = console_token(&gw, WEB, gw.instance("web-1")).await;
    let db_token = console_token(&gw, KVM2, DB).await;
    let info = |key: &'static str, token: String| {
        let addr = gw.addr;
        async move { api(addr, "GET", &format!("/v2.1/os-console-auth-tokens/{token}"), Some(key), None).await }
    };
    let (code, _, own) = info(WEB, web_token.clone()).await;
    assert_eq!((code, own["console"]["instance_uuid"].as_str()), (200, Some(gw.instance("web-1").to_string().as_str())));
    let (code, _, body) = info(WEB, db_token.clone()).await;
    assert_eq!((code, body["itemNotFound"]["code"].as_u64()), (404, Some(404)), "another tenant's token is not found");
    assert_eq!(info(KVM2, web_token.clone()).await.0, 404);
    assert_eq!(info(KVM2, db_token.clone()).await.0, 200);
    // The unscoped admin reads both.
    assert_eq!(info(OPS, web_token).await.0, 200);
    assert_eq!(info(OPS, db_token).await.0, 200);
}

#[tokio::test]
async fn a_scoped_key_sees_and_ends_only_its_instances_sessions() {
    use tokio::io::AsyncWriteExt as _;
    let (web_vnc, db_vnc) = (FakeVncServer::raw_echo().await, FakeVncServer::raw_echo().await);
    let gw = gateway(web_vnc.addr(), db_vnc.addr()).await;
    let mut held = Vec::new();
    for token in [console_token(&gw, WEB, gw.instance("web-1")).await, console_token(&gw, KVM2, DB).await] {
        let (mut r, mut w) = common::raw::open(gw.addr, &token).await.into_split();
        w.write_all(&common::raw::frame(2, b"hi", true)).await.unwrap();
        assert_eq!(common::raw::read_frame(&mut r).await.map(|f| f.1), Some(b"hi".to_vec()));
        held.push((r, w));
    }
    let sessions = |key: &'static str| {
        let addr = gw.addr;
        async move {
            let (code, _, body) = api(addr, "GET", "/v2.1/porthole/sessions", Some(key), None).await;
            assert_eq!(code, 200, "{body}");
            body["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["instance"].as_str().unwrap().to_owned(), s["id"].as_str().unwrap().to_owned()))
                .collect::<Vec<_>>()
        }
    };
    common::wait_for(|| gw.live() == 2).await;
    let mut all = Vec::new();
    for _ in 0..100 {
        all = sessions(OPS).await;
        if all.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(all.len(), 2, "{all:?}");
    let web: Vec<_> = sessions(WEB).await;
    let db: Vec<_> = sessions(KVM2).await;
    assert_eq!(web.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["web-1"]);
    assert_eq!(db.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["db-1"]);
    // Neither can end the other's, by id or by instance.
    let (web_id, db_id) = (&web[0].1, &db[0].1);
    assert_eq!(api(gw.addr, "DELETE", &format!("/v2.1/porthole/sessions/{db_id}"), Some(WEB), None).await.0, 404);
    assert_eq!(api(gw.addr, "DELETE", "/v2.1/porthole/sessions?instance=db-1", Some(WEB), None).await.0, 404);
    assert_eq!(api(gw.addr, "DELETE", &format!("/v2.1/porthole/sessions/{web_id}"), Some(KVM2), None).await.0, 404);
    assert_eq!(gw.live(), 2, "nothing was ended");
    // Each ends its own.
    assert_eq!(api(gw.addr, "DELETE", &format!("/v2.1/porthole/sessions/{db_id}"), Some(KVM2), None).await.0, 204);
    let (mut r, _) = held.pop().unwrap();
    let close = tokio::time::timeout(std::time::Duration::from_secs(2), common::raw::read_close(&mut r)).await.unwrap();
    assert_eq!(close, Some((1008, "Session ended by an administrator".into())));
}
