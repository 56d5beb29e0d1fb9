//! The HTTP edge under odd or hostile requests: HTTP/1.0 upgrades, duplicate headers, slow
//! bodies, refusals logged as refusals, and the console page's framing headers.

#![allow(clippy::unwrap_used)]

mod common;

use common::raw::upgrade_request;
use common::{http_raw, start};
use porthole_gateway::{ApiKey, Role, Settings};
use porthole_testkit::FakeVncServer;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const KEY: &str = "edge-test-key-0123456789";

#[tokio::test]
async fn an_http_1_0_upgrade_is_refused_with_400_not_500() {
    let logs = common::logs::capture_logs();
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let req = upgrade_request(gw.addr, m.token.expose(), "").replacen("HTTP/1.1", "HTTP/1.0", 1);
    let (status, text) = http_raw(gw.addr, &req).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(echo.connections(), 0);
    assert!(logs.errors().is_empty(), "a refusal is not an error: {:?}", logs.errors());
}

#[tokio::test]
async fn max_sessions_refusals_are_not_logged_as_errors() {
    let logs = common::logs::capture_logs();
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings { max_sessions: 1, ..Settings::default() }).await;
    let m = gw.mint("echo").await;
    let _first = common::raw::open(gw.addr, m.token.expose()).await;
    assert_eq!(common::raw::try_open(gw.addr, m.token.expose()).await.err(), Some(503));
    assert!(logs.errors().is_empty(), "a refusal is not an error: {:?}", logs.errors());
    assert!(logs.all().iter().any(|l| l.contains("max_sessions")), "the refusal is logged: {:?}", logs.all());
}

#[tokio::test]
async fn duplicate_host_or_origin_headers_get_400() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let origin = format!("http://{}", gw.addr);
    for extra in [format!("Host: {}\r\n", gw.addr), format!("Origin: {origin}\r\nOrigin: http://evil.example\r\n")] {
        let (status, text) = http_raw(gw.addr, &upgrade_request(gw.addr, m.token.expose(), &extra)).await;
        assert_eq!(status, 400, "{extra:?}: {text}");
    }
    assert_eq!(echo.connections(), 0);
}

#[tokio::test]
async fn an_api_body_sent_one_byte_a_second_is_cut_off() {
    let settings =
        Settings { api_keys: vec![ApiKey::new("ops", KEY, Role::Admin)], request_timeout: Duration::from_secs(2), ..Settings::default() };
    let gw = start(&[], settings).await;
    let body = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v2.1/servers/{}/remote-consoles HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        uuid::Uuid::new_v4(),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut r, mut w) = s.into_split();
    let dribble = tokio::spawn(async move {
        for b in body.bytes() {
            if w.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(6), r.read_to_end(&mut answer)).await.expect("the request is held forever").unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
    dribble.abort();
}

#[tokio::test]
async fn the_console_page_may_only_be_framed_by_its_own_origin_by_default() {
    let gw = start(&[], Settings::default()).await;
    let (status, text) = http_raw(gw.addr, "GET /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 200, "{text}");
    let head = text.to_ascii_lowercase();
    assert!(head.contains("x-frame-options: sameorigin"), "{text}");
    assert!(head.contains("content-security-policy: frame-ancestors 'self'"), "{text}");
    assert!(head.contains("referrer-policy: no-referrer"), "the page URL holds a token: {text}");
}

#[tokio::test]
async fn frame_ancestors_lets_a_dashboard_embed_the_console() {
    let settings = Settings { frame_ancestors: vec!["'self'".into(), "https://horizon.example".into()], ..Settings::default() };
    let gw = start(&[], settings).await;
    let (_, text) = http_raw(gw.addr, "GET /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let head = text.to_ascii_lowercase();
    assert!(head.contains("content-security-policy: frame-ancestors 'self' https://horizon.example"), "{text}");
    assert!(!head.contains("x-frame-options"), "X-Frame-Options cannot name other origins: {text}");
}

#[tokio::test]
async fn a_vnc_server_asking_for_a_password_the_proxy_cannot_give_is_logged_as_that() {
    let logs = common::logs::capture_logs();
    let server = FakeVncServer::start_fixed_with_password(64, 64, b"secret").await;
    let gw = start(&[("locked", server.addr())], Settings::default()).await;
    let m = gw.mint("locked").await;
    let (mut r, mut w) = common::raw::open(gw.addr, m.token.expose()).await.into_split();
    // A browser without a password: it reads the version and the offer, answers the version, gives up.
    let mut seen = Vec::new();
    while seen.len() < 12 {
        seen.extend(common::raw::read_frame(&mut r).await.expect("the server's version").1);
    }
    w.write_all(&common::raw::frame(2, b"RFB 003.008\n", true)).await.unwrap();
    while seen.len() < 14 {
        seen.extend(common::raw::read_frame(&mut r).await.expect("the server's security types").1);
    }
    assert_eq!(&seen[..14], b"RFB 003.008\n\x01\x02");
    w.write_all(&common::raw::frame(8, &[0x03, 0xe8], true)).await.unwrap();
    common::wait_for(|| gw.live() == 0).await;
    let ended = logs.all().into_iter().find(|l| l.contains("session ended")).expect("an end line");
    assert!(ended.contains("asks for authentication (VNC)") && ended.contains("auth_schemes"), "{ended}");
}
