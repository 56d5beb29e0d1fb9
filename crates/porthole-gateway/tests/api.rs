//! The Nova-compatible API over real sockets: auth, servers, remote consoles, the legacy action,
//! console auth tokens, the reset extension, microversions and error shapes.

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::{api, start_with};
use porthole_gateway::inventory::{Endpoint, Instance, InstanceState, Inventory, StaticTargets, Survey};
use porthole_gateway::Settings;
use porthole_gateway::{ApiKey, Role};
use porthole_testkit::{ws_connect, FakeVncServer, RfbClient, WsIo};
use std::sync::Arc;
use uuid::Uuid;

const ADMIN: &str = "admin-secret-0123456789";
const MEMBER: &str = "member-secret-0123456789";

/// Static targets plus fixed instances in other states.
struct Mixed {
    targets: StaticTargets,
    extra: Vec<Instance>,
}

#[async_trait]
impl Inventory for Mixed {
    async fn survey(&self) -> Survey {
        let mut s = self.targets.survey().await;
        s.instances.extend(self.extra.clone());
        s
    }
}

const OFF: Uuid = Uuid::from_u128(0x1111_1111_1111_4111_8111_1111_1111_1111);
const STOPPING: Uuid = Uuid::from_u128(0x2222_2222_2222_4222_8222_2222_2222_2222);

async fn gateway(vnc: std::net::SocketAddr) -> common::Gateway {
    let targets = StaticTargets::new([("vm1".to_owned(), None, Endpoint::tcp("127.0.0.1", vnc.port()))]);
    let other = |uuid, name: &str, state: InstanceState| Instance {
        uuid,
        name: name.into(),
        node: Some("n1".into()),
        state,
        vnc: None,
        graphics: None,
        serial: None,
    };
    let inv = Mixed {
        targets: targets.clone(),
        extra: vec![other(OFF, "off1", InstanceState::ShutOff), other(STOPPING, "stopping1", InstanceState::InShutdown)],
    };
    let settings = Settings {
        api_keys: vec![ApiKey::new("ops", ADMIN, Role::Admin), ApiKey::new("dev", MEMBER, Role::Member)],
        ..Settings::default()
    };
    start_with(targets, Arc::new(inv), settings).await
}

#[tokio::test]
async fn version_document_needs_no_key_and_echoes_microversions() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    for path in ["/v2.1", "/v2.1/"] {
        let (code, head, body) = api(gw.addr, "GET", path, None, None).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(body["version"]["id"], "v2.1");
        assert_eq!(body["version"]["min_version"], "2.1");
        assert!(head.to_ascii_lowercase().contains("openstack-api-version: compute 2.1"), "{head}");
    }
    let req = format!("GET /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {ADMIN}\r\nOpenStack-API-Version: compute 2.53\r\nConnection: close\r\n\r\n");
    let (code, text) = common::http_raw(gw.addr, &req).await;
    assert_eq!(code, 200);
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("openstack-api-version: compute 2.53") && lower.contains("x-openstack-nova-api-version: 2.53"), "{text}");
    let req = format!(
        "GET /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {ADMIN}\r\nX-OpenStack-Nova-API-Version: 9.9\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(common::http_raw(gw.addr, &req).await.0, 406);
}

#[tokio::test]
async fn keys_are_required_and_roles_enforced() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let (code, _, body) = api(gw.addr, "GET", "/v2.1/servers", None, None).await;
    assert_eq!((code, body["error"]["code"].as_u64()), (401, Some(401)));
    assert_eq!(api(gw.addr, "GET", "/v2.1/servers", Some("wrong-wrong-wrong-wrong"), None).await.0, 401);
    assert_eq!(api(gw.addr, "GET", "/v2.1/servers", Some(MEMBER), None).await.0, 200);
    let (code, _, body) = api(gw.addr, "GET", "/v2.1/os-console-auth-tokens/abc", Some(MEMBER), None).await;
    assert_eq!(code, 403);
    assert_eq!(body["forbidden"]["code"], 403);
}

#[tokio::test]
async fn servers_list_detail_filter_and_show() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let (_, _, body) = api(gw.addr, "GET", "/v2.1/servers", Some(ADMIN), None).await;
    assert_eq!(body["servers"].as_array().unwrap().len(), 3);
    let (_, _, body) = api(gw.addr, "GET", "/v2.1/servers/detail?name=off1", Some(ADMIN), None).await;
    let servers = body["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["status"], "SHUTOFF");
    assert_eq!(servers[0]["id"], OFF.to_string());
    let vm1 = gw.instance("vm1");
    let (code, _, body) = api(gw.addr, "GET", &format!("/v2.1/servers/{vm1}"), Some(ADMIN), None).await;
    assert_eq!(code, 200);
    assert_eq!((body["server"]["name"].as_str(), body["server"]["status"].as_str()), (Some("vm1"), Some("ACTIVE")));
    assert!(body["server"]["links"][0]["href"].as_str().unwrap().ends_with(&format!("/v2.1/servers/{vm1}")));
    // A name is not an id (the openstack client relies on this 404 before searching by name).
    let (code, _, body) = api(gw.addr, "GET", "/v2.1/servers/vm1", Some(ADMIN), None).await;
    assert_eq!(code, 404);
    assert_eq!(body["itemNotFound"]["code"], 404);
}

#[tokio::test]
async fn remote_console_url_relays_and_its_token_is_inspectable() {
    let vnc = FakeVncServer::start(64, 48).await;
    let gw = gateway(vnc.addr()).await;
    let vm1 = gw.instance("vm1");
    let body = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;
    let (code, _, doc) = api(gw.addr, "POST", &format!("/v2.1/servers/{vm1}/remote-consoles"), Some(MEMBER), Some(body)).await;
    assert_eq!(code, 200, "{doc}");
    assert_eq!((doc["remote_console"]["protocol"].as_str(), doc["remote_console"]["type"].as_str()), (Some("vnc"), Some("novnc")));
    let url = doc["remote_console"]["url"].as_str().unwrap();
    let token = url.split("%3Ftoken%3D").nth(1).unwrap();
    assert!(url.starts_with(&format!("{}?path=%3Ftoken%3D", Settings::default().console_base_url)), "{url}");
    let (ws, _) = ws_connect(&gw.ws_url(token), &[]).await.unwrap();
    let c = RfbClient::handshake(WsIo::new(ws)).await.unwrap();
    assert_eq!(c.server_init.width, 64);

    let (code, _, info) = api(gw.addr, "GET", &format!("/v2.1/os-console-auth-tokens/{token}"), Some(ADMIN), None).await;
    assert_eq!(code, 200);
    assert_eq!(info["console"]["instance_uuid"], vm1.to_string());
    assert_eq!(info["console"]["port"], vnc.addr().port());
    let (code, _, _) = api(gw.addr, "GET", "/v2.1/os-console-auth-tokens/not-a-token", Some(ADMIN), None).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn legacy_action() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let path = format!("/v2.1/servers/{}/action", gw.instance("vm1"));
    let (code, _, doc) = api(gw.addr, "POST", &path, Some(ADMIN), Some(r#"{"os-getVNCConsole": {"type": "novnc"}}"#)).await;
    assert_eq!(code, 200);
    assert_eq!(doc["console"]["type"], "novnc");
    assert!(doc["console"]["url"].as_str().unwrap().contains("?path=%3Ftoken%3D"));
    for bad in [r#"{"os-getVNCConsole": {"type": "xvpvnc"}}"#, r#"{"os-getVNCConsole": {}}"#, r#"{"reboot": {"type": "HARD"}}"#, "[]", "{"]
    {
        let (code, _, doc) = api(gw.addr, "POST", &path, Some(ADMIN), Some(bad)).await;
        assert_eq!(code, 400, "{bad}");
        assert_eq!(doc["badRequest"]["code"], 400, "{bad}");
    }
}

#[tokio::test]
async fn errors_in_novas_shapes() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let vm1 = gw.instance("vm1");
    let post = |id: String, body: &'static str| {
        let addr = gw.addr;
        async move { api(addr, "POST", &format!("/v2.1/servers/{id}/remote-consoles"), Some(ADMIN), Some(body)).await }
    };
    let novnc = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;
    for (body, want) in [
        (r#"{"remote_console": {"protocol": "spice", "type": "spice-html5"}}"#, 400),
        (r#"{"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}"#, 400),
        (r#"{"remote_console": {"protocol": "vnc", "type": "xvpvnc"}}"#, 400),
        (r#"{"remote_console": {"protocol": "vnc", "type": "spice-html5"}}"#, 400),
        (r#"{"remote_console": {"protocol": "vnc"}}"#, 400),
        (r#"{"remote_console": {"protocol": "vnc", "type": "novnc", "x": 1}}"#, 400),
        (r#"{"remote_console": {"protocol": "telnet", "type": "novnc"}}"#, 400),
        ("not json", 400),
    ] {
        let (code, _, doc) = post(vm1.to_string(), body).await;
        assert_eq!(code, want, "{body}: {doc}");
        assert_eq!(doc["badRequest"]["code"], 400);
    }
    let (code, _, doc) = post(Uuid::new_v4().to_string(), novnc).await;
    assert_eq!((code, doc["itemNotFound"]["code"].as_u64()), (404, Some(404)));
    let (code, _, doc) = post(OFF.to_string(), novnc).await;
    assert_eq!((code, doc["conflict"]["code"].as_u64()), (409, Some(409)), "{doc}");
    // Stopping is a 409 too (Nova answers 500 there).
    assert_eq!(post(STOPPING.to_string(), novnc).await.0, 409);
}

#[tokio::test]
async fn reset_revokes_tokens_and_closes_sessions() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let vm1 = gw.instance("vm1");
    let m = gw.mint("vm1").await;
    let (ws, _) = ws_connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    let mut io = WsIo::new(ws);
    let (code, _, _) = api(gw.addr, "DELETE", &format!("/v2.1/servers/{vm1}/remote-consoles"), Some(MEMBER), None).await;
    assert_eq!(code, 204);
    let mut sink = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), tokio::io::AsyncReadExt::read_to_end(&mut io, &mut sink))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(io.close_frame().map(|c| c.0), Some(1008));
    assert!(ws_connect(&gw.ws_url(m.token.expose()), &[]).await.is_err());
    assert_eq!(api(gw.addr, "DELETE", &format!("/v2.1/servers/{}/remote-consoles", Uuid::new_v4()), Some(ADMIN), None).await.0, 404);
}

#[tokio::test]
async fn openapi_document_is_served() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let (code, _, doc) = api(gw.addr, "GET", "/v2.1/openapi.json", None, None).await;
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/v2.1/servers/{server_id}/remote-consoles"]["post"].is_object());
}

/// `openstack server show` read `flavor` off the server and failed on its absence
/// ("'NoneType' object has no attribute 'get'"); the client sends microversion 2.96.
#[tokio::test]
async fn servers_carry_flavor_and_image_as_the_openstack_client_reads_them() {
    let vnc = FakeVncServer::raw_echo().await;
    let gw = gateway(vnc.addr()).await;
    let vm1 = gw.instance("vm1");
    for (version, embedded) in [("2.96", true), ("2.47", true), ("2.46", false), ("2.1", false)] {
        let req = format!(
            "GET /v2.1/servers/{vm1} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {ADMIN}\r\nOpenStack-API-Version: compute {version}\r\nConnection: close\r\n\r\n"
        );
        let (code, text) = common::http_raw(gw.addr, &req).await;
        assert_eq!(code, 200);
        let body: serde_json::Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        let server = &body["server"];
        assert_eq!(server["flavor"]["original_name"].is_string(), embedded, "{version}: {server}");
        assert_eq!(server["flavor"]["id"].is_string(), !embedded, "{version}: {server}");
        assert_eq!(server["image"], "");
        assert_eq!(server["OS-EXT-STS:power_state"], 1);
    }
    let (_, _, list) = api(gw.addr, "GET", "/v2.1/servers/detail", Some(ADMIN), None).await;
    assert!(list["servers"].as_array().unwrap().iter().all(|s| s["flavor"].is_object()));
}
