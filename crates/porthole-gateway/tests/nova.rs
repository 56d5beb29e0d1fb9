//! Nova's tokens (a Nova store): the endpoint re-check by the token's host, as Nova's
//! `validate_console_port` does over RPC, here answered by the node that host names. The
//! inventory below stands in for the libvirt nodes (porthole-compute tests the real lookup).

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::{api, start_with};
use porthole_gateway::inventory::{Endpoint, HostPort, Instance, InstanceState, Inventory, LookupError, StaticTargets, Survey};
use porthole_gateway::settings::EndpointCheck;
use porthole_gateway::{ApiKey, Role, Settings};
use porthole_testkit::FakeVncServer;
use porthole_tokens::{ConnectInfo, ConsoleType, Token, TokenEndpoint, TokenStore as _};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Error as WsError;
use uuid::Uuid;

/// One compute host, `node_host` (a `[[nodes]]` proxyclient_address), running `instance` with its
/// VNC server on `port`; another, `127.0.0.66`, whose node does not answer. Every host is a
/// loopback address: the console page's check connects to the VNC server of a token it admits.
struct Hosts {
    node_host: &'static str,
    instance: Uuid,
    port: u16,
}

#[async_trait]
impl Inventory for Hosts {
    async fn survey(&self) -> Survey {
        Survey::default()
    }

    async fn console_port_on_host(&self, instance: Uuid, host: &str, port: u16) -> Result<HostPort, LookupError> {
        match host {
            h if h == self.node_host && instance == self.instance && port == self.port => Ok(HostPort::Matches(Box::new(Instance {
                uuid: instance,
                name: "web01".into(),
                node: Some("kvm1".into()),
                state: InstanceState::Running,
                vnc: Some(Endpoint::tcp(self.node_host, port)),
                graphics: None,
                serial: None,
            }))),
            h if h == self.node_host => Ok(HostPort::Moved),
            "127.0.0.66" => {
                Err(LookupError::NotFoundSomeUnreachable { key: instance.to_string(), unreachable: "node kvm6: timed out".into() })
            }
            _ => Ok(HostPort::NoNode),
        }
    }
}

async fn gateway(vnc: &FakeVncServer, node_host: &'static str, instance: Uuid, require_node_match: bool) -> common::Gateway {
    let settings = Settings {
        endpoint_check: EndpointCheck::NovaHosts { require_node_match },
        api_keys: vec![ApiKey::new("ops", "ops-secret-0123456789", Role::Admin)],
        ..Settings::default()
    };
    start_with(StaticTargets::default(), Arc::new(Hosts { node_host, instance, port: vnc.addr().port() }), settings).await
}

/// A token as Nova writes it: its host is the compute's `server_proxyclient_address`, where the
/// proxy connects.
async fn nova_token(gw: &common::Gateway, instance: Uuid, host: &str, port: u16) -> Token {
    let token = Token::from_presented(&Uuid::new_v4().to_string());
    let info = ConnectInfo {
        instance_uuid: instance,
        console_type: ConsoleType::Novnc,
        endpoint: TokenEndpoint::Tcp { host: host.into(), port },
        internal_access_path: None,
        access_url_base: gw.base(),
        expires: gw.auth.clock().now() + 600,
        view_only: false,
        minted_by: Some("nova".into()),
    };
    gw.store.insert(&token.hash(), &info).await.unwrap();
    token
}

async fn status(gw: &common::Gateway, token: &Token) -> u16 {
    match tokio_tungstenite::connect_async(gw.ws_url(token.expose())).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(other) => panic!("{other:?}"),
    }
}

async fn check_reason(gw: &common::Gateway, token: &Token) -> String {
    let body = format!("{{\"token\": \"{}\"}}", token.expose());
    let (_, _, doc) = api(gw.addr, "POST", "/console/check", None, Some(&body)).await;
    doc["reason"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_host_a_token_names_re_checks_its_port() {
    let vnc = FakeVncServer::raw_echo().await;
    let instance = Uuid::new_v4();
    let gw = gateway(&vnc, "127.0.0.1", instance, false).await;
    let port = vnc.addr().port();
    // The port now belongs to another domain.
    let stale = nova_token(&gw, instance, "127.0.0.1", port.wrapping_add(1)).await;
    assert_eq!(status(&gw, &stale).await, 401);
    assert_eq!(check_reason(&gw, &stale).await, "moved");
    // Another instance's token with this port.
    let other = nova_token(&gw, Uuid::new_v4(), "127.0.0.1", port).await;
    assert_eq!(status(&gw, &other).await, 401);
    // The node that would answer is down: 503, not a guess.
    let down = nova_token(&gw, instance, "127.0.0.66", port).await;
    assert_eq!(status(&gw, &down).await, 503);
    assert_eq!(check_reason(&gw, &down).await, "unavailable");
    assert_eq!(vnc.connections(), 0, "no refused request may reach the VNC server");
    // The node of 127.0.0.1 has the instance on that port: admitted.
    let current = nova_token(&gw, instance, "127.0.0.1", port).await;
    assert_eq!(check_reason(&gw, &current).await, "ok");
    assert_eq!(status(&gw, &current).await, 101);
}

#[tokio::test]
async fn a_host_no_node_is_opens_on_the_token_alone_unless_a_node_match_is_required() {
    let vnc = FakeVncServer::raw_echo().await;
    let instance = Uuid::new_v4();
    // The only node is 127.0.0.3; the token's host, 127.0.0.1, is none.
    let lenient = gateway(&vnc, "127.0.0.3", instance, false).await;
    let token = nova_token(&lenient, instance, "127.0.0.1", vnc.addr().port()).await;
    assert_eq!(status(&lenient, &token).await, 101, "as Nova would if its compute said yes");
    let strict = gateway(&vnc, "127.0.0.3", instance, true).await;
    let token = nova_token(&strict, instance, "127.0.0.1", vnc.addr().port()).await;
    assert_eq!(status(&strict, &token).await, 401);
    assert_eq!(check_reason(&strict, &token).await, "moved");
}
