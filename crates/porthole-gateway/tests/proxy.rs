//! The proxy over real sockets: tokens, Origin, paths, relay both ways, close codes, no leaks.

#![allow(clippy::unwrap_used)]

mod common;

use common::{http_raw, start, wait_for};
use futures_util::{SinkExt as _, StreamExt as _};
use porthole_gateway::live::Policy;
use porthole_gateway::Settings;
use porthole_testkit::FakeVncServer;
use porthole_tokens::{ConnectInfo, Token, TokenEndpoint, TokenStore as _};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, headers: &[(&'static str, &str)]) -> Result<(Ws, u16, Option<String>), WsError> {
    let mut req = url.into_client_request()?;
    for (k, v) in headers {
        req.headers_mut().insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let (ws, resp) = tokio_tungstenite::connect_async(req).await?;
    let proto = resp.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_owned());
    Ok((ws, resp.status().as_u16(), proto))
}

fn http_status(e: &WsError) -> u16 {
    match e {
        WsError::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Reads until the server's close frame; returns its code and the binary bytes seen before it.
async fn read_until_close(ws: &mut Ws) -> (Option<(u16, String)>, Vec<u8>) {
    let mut data = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("no close within 10 s") {
            Some(Ok(Message::Binary(b))) => data.extend_from_slice(&b),
            Some(Ok(Message::Close(f))) => return (f.map(|f| (u16::from(f.code), f.reason.to_string())), data),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (None, data),
        }
    }
}

#[tokio::test]
async fn bytes_flow_both_ways_through_the_relay() {
    porthole_testkit::trace_init();
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let (ws, status, proto) = connect(&gw.ws_url(m.token.expose()), &[("sec-websocket-protocol", "binary")]).await.unwrap();
    assert_eq!(status, 101);
    assert_eq!(proto.as_deref(), Some("binary"));
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (mut tx, mut rx) = ws.split();
    let sent = payload.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(7_919) {
            tx.send(Message::binary(chunk.to_vec())).await.unwrap();
        }
        tx
    });
    let mut got = Vec::new();
    while got.len() < payload.len() {
        match tokio::time::timeout(Duration::from_secs(10), rx.next()).await.unwrap() {
            Some(Ok(Message::Binary(b))) => got.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, payload);
    let tx = writer.await.unwrap();
    drop(tx.reunite(rx).unwrap().close(None).await);
    wait_for(|| gw.live() == 0).await;
}

#[tokio::test]
async fn no_subprotocol_offered_none_answered() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let (_ws, status, proto) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    assert_eq!((status, proto), (101, None));
}

#[tokio::test]
async fn token_in_cookie_works() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let cookie = format!("?=!; token=\"{}\"", m.token.expose());
    let url = format!("ws://{}/websockify", gw.addr);
    let (_ws, status, _) = connect(&url, &[("cookie", &cookie)]).await.unwrap();
    assert_eq!(status, 101);
}

#[tokio::test]
async fn missing_bad_expired_and_revoked_tokens_get_401() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let bare = format!("ws://{}/", gw.addr);
    assert_eq!(http_status(&connect(&bare, &[]).await.unwrap_err()), 401);
    assert_eq!(http_status(&connect(&gw.ws_url("bogus"), &[]).await.unwrap_err()), 401);

    let expired = Token::generate();
    let m = gw.mint("echo").await;
    let info = ConnectInfo { expires: gw.auth.clock().now() - 1, ..m.info.clone() };
    gw.store.insert(&expired.hash(), &info).await.unwrap();
    assert_eq!(http_status(&connect(&gw.ws_url(expired.expose()), &[]).await.unwrap_err()), 401);

    gw.auth.revoke_instance(gw.instance("echo")).await.unwrap();
    assert_eq!(http_status(&connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap_err()), 401);
    assert_eq!(echo.connections(), 0, "no refused request may reach the VNC server");
}

#[tokio::test]
async fn token_for_a_port_that_no_longer_belongs_to_the_instance_gets_401() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let stale = Token::generate();
    let m = gw.mint("echo").await;
    let TokenEndpoint::Tcp { host, port } = m.info.endpoint.clone() else { panic!("a static target has a TCP endpoint") };
    let info = ConnectInfo { endpoint: TokenEndpoint::Tcp { host, port: port.wrapping_add(1) }, ..m.info.clone() };
    gw.store.insert(&stale.hash(), &info).await.unwrap();
    assert_eq!(http_status(&connect(&gw.ws_url(stale.expose()), &[]).await.unwrap_err()), 401);
}

#[tokio::test]
async fn foreign_origin_gets_403_and_own_origin_passes() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let url = gw.ws_url(m.token.expose());
    let err = connect(&url, &[("origin", "http://evil.example")]).await.unwrap_err();
    assert_eq!(http_status(&err), 403);
    let err = connect(&url, &[("origin", &format!("https://{}", gw.addr))]).await.unwrap_err();
    assert_eq!(http_status(&err), 403, "scheme mismatch");
    let (_ws, status, _) = connect(&url, &[("origin", &format!("http://{}", gw.addr))]).await.unwrap();
    assert_eq!(status, 101);
}

#[tokio::test]
async fn target_refusing_the_connection_closes_with_1011() {
    // A port that was free a moment ago: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gw = start(&[("gone", free)], Settings::default()).await;
    let m = gw.mint("gone").await;
    let (mut ws, status, _) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    assert_eq!(status, 101);
    let (close, _) = read_until_close(&mut ws).await;
    assert_eq!(close.map(|c| c.0), Some(1011));
    wait_for(|| gw.live() == 0).await;
}

#[tokio::test]
async fn target_closing_mid_session_closes_with_1000() {
    let server = FakeVncServer::greet_then_close(b"RFB 003.008\n".to_vec()).await;
    let gw = start(&[("short", server.addr())], Settings::default()).await;
    let m = gw.mint("short").await;
    let (mut ws, _, _) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    let (close, data) = read_until_close(&mut ws).await;
    assert_eq!(data, b"RFB 003.008\n");
    assert_eq!(close, Some((1000, "VNC server closed the connection".to_owned())));
    wait_for(|| gw.live() == 0).await;
}

#[tokio::test]
async fn revoking_an_instance_closes_its_live_sessions_with_1008() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let (mut ws, _, _) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    ws.send(Message::binary(b"ping".to_vec())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(b"ping".to_vec()));
    let n = gw.state.live.end_instance(gw.instance("echo"), Policy::Reset);
    assert_eq!(n, 1);
    let (close, _) = read_until_close(&mut ws).await;
    assert_eq!(close, Some((1008, "Console reset by an administrator".to_owned())));
    wait_for(|| echo.live_connections() == 0).await;
}

#[tokio::test]
async fn browser_closing_closes_the_target_connection() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let (mut ws, _, _) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    ws.send(Message::binary(b"x".to_vec())).await.unwrap();
    let _ = ws.next().await;
    assert_eq!(echo.live_connections(), 1);
    ws.close(None).await.unwrap();
    wait_for(|| echo.live_connections() == 0 && gw.live() == 0).await;
}

#[tokio::test]
async fn idle_sessions_are_closed_with_1008() {
    let echo = FakeVncServer::raw_echo().await;
    let settings = Settings { idle_timeout: Some(Duration::from_millis(300)), ..Settings::default() };
    let gw = start(&[("echo", echo.addr())], settings).await;
    let m = gw.mint("echo").await;
    let (mut ws, _, _) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    let (close, _) = read_until_close(&mut ws).await;
    assert_eq!(close.map(|c| c.0), Some(1008));
}

#[tokio::test]
async fn max_sessions_refuses_with_503() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings { max_sessions: 1, ..Settings::default() }).await;
    let m = gw.mint("echo").await;
    let (_first, _, _) = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    let err = connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap_err();
    assert_eq!(http_status(&err), 503);
}

#[tokio::test]
async fn double_slash_paths_are_refused_with_400() {
    let gw = start(&[], Settings::default()).await;
    for path in ["//example.com/%2F..", "///example.com/%2F..", "//"] {
        let (code, text) = http_raw(gw.addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await;
        assert_eq!(code, 400, "{path}: {text}");
        assert!(!text.to_ascii_lowercase().contains("location:"), "{text}");
    }
}

#[tokio::test]
async fn healthz_answers() {
    let gw = start(&[], Settings::default()).await;
    let (code, text) = http_raw(gw.addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(code, 200);
    assert!(text.ends_with("ok\n"));
}
