//! Nova's tokens (a Nova store): the endpoint re-check by the token's host, as Nova's
//! `validate_console_port` does over RPC, here answered by the node that host names. The
//! inventory below stands in for the libvirt nodes (porthole-compute tests the real lookup).

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::{api, start_with};
use porthole_gateway::inventory::{HostPort, Inventory, LookupError, StaticTargets, Survey};
use porthole_gateway::settings::EndpointCheck;
use porthole_gateway::{ApiKey, Role, Settings};
use porthole_testkit::FakeVncServer;
use porthole_tokens::{ConnectInfo, ConsoleType, Token, TokenEndpoint, TokenStore as _};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Error as WsError;
use uuid::Uuid;

/// One compute host, `10.0.0.11` (a `[[nodes]]` proxyclient_address), running `instance` with its
/// VNC server on `port`; another, `10.0.0.66`, whose node does not answer.
struct Hosts {
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
            "10.0.0.11" if instance == self.instance && port == self.port => Ok(HostPort::Matches),
            "10.0.0.11" => Ok(HostPort::Moved),
            "10.0.0.66" => {
                Err(LookupError::NotFoundSomeUnreachable { key: instance.to_string(), unreachable: "node kvm6: timed out".into() })
            }
            _ => Ok(HostPort::NoNode),
        }
    }
}

async fn gateway(vnc: &FakeVncServer, instance: Uuid, require_node_match: bool) -> common::Gateway {
    let settings = Settings {
        endpoint_check: EndpointCheck::NovaHosts { require_node_match },
        api_keys: vec![ApiKey { name: "ops".into(), secret: "ops-secret-0123456789".into(), role: Role::Admin }],
        ..Settings::default()
    };
    start_with(StaticTargets::default(), Arc::new(Hosts { instance, port: vnc.addr().port() }), settings).await
}

/// A token as Nova writes it: its host is the compute's `server_proxyclient_address`, where the
/// proxy connects. Only tokens for 127.0.0.1 are ever connected here.
async fn nova_token(gw: &common::Gateway, instance: Uuid, host: &str, port: u16) -> Token {
    let token = Token::from_presented(&Uuid::new_v4().to_string());
    let info = ConnectInfo {
        instance_uuid: instance,
        console_type: ConsoleType::Novnc,
        endpoint: TokenEndpoint::Tcp { host: host.into(), port },
        internal_access_path: None,
        access_url_base: gw.base(),
        expires: gw.auth.clock().now() + 600,
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
    let gw = gateway(&vnc, instance, false).await;
    let port = vnc.addr().port();
    // The node of 10.0.0.11 has the instance on that port: admitted (asked through the console
    // page's check, which does not connect: 10.0.0.11 is not this machine).
    let current = nova_token(&gw, instance, "10.0.0.11", port).await;
    assert_eq!(check_reason(&gw, &current).await, "ok");
    // The port now belongs to another domain.
    let stale = nova_token(&gw, instance, "10.0.0.11", port.wrapping_add(1)).await;
    assert_eq!(status(&gw, &stale).await, 401);
    assert_eq!(check_reason(&gw, &stale).await, "moved");
    // Another instance's token with this port.
    let other = nova_token(&gw, Uuid::new_v4(), "10.0.0.11", port).await;
    assert_eq!(status(&gw, &other).await, 401);
    // The node that would answer is down: 503, not a guess.
    let down = nova_token(&gw, instance, "10.0.0.66", port).await;
    assert_eq!(status(&gw, &down).await, 503);
    assert_eq!(check_reason(&gw, &down).await, "unavailable");
    assert_eq!(vnc.connections(), 0, "no refused request may reach the VNC server");
}

#[tokio::test]
async fn a_host_no_node_is_opens_on_the_token_alone_unless_a_node_match_is_required() {
    let vnc = FakeVncServer::raw_echo().await;
    let instance = Uuid::new_v4();
    let lenient = gateway(&vnc, instance, false).await;
    let token = nova_token(&lenient, instance, "127.0.0.1", vnc.addr().port()).await;
    assert_eq!(status(&lenient, &token).await, 101, "as Nova would if its compute said yes");
    let strict = gateway(&vnc, instance, true).await;
    let token = nova_token(&strict, instance, "127.0.0.1", vnc.addr().port()).await;
    assert_eq!(status(&strict, &token).await, 401);
}
