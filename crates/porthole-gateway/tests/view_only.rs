//! View-only consoles, enforced by the proxy: a viewer's keys, pointer and clipboard never reach
//! the VNC server while a normal session's do; what viewing needs passes; garbage ends with 1002.

#![allow(clippy::unwrap_used)]

mod common;

use common::start;
use porthole_gateway::Settings;
use porthole_rfb::ClientMessage;
use porthole_testkit::{ws_connect, FakeVncServer, RfbClient, WsIo};
use std::time::Duration;

/// An RFB client through the proxy, asking for an exclusive session (shared = false).
async fn client(gw: &common::Gateway, token: &str) -> RfbClient<WsIo> {
    let (ws, _) = ws_connect(&gw.ws_url(token), &[("sec-websocket-protocol", "binary")]).await.unwrap();
    RfbClient::handshake_with(WsIo::new(ws), false).await.unwrap()
}

#[tokio::test]
async fn a_viewer_watches_while_a_driver_types() {
    let server = FakeVncServer::start(64, 48).await;
    let gw = start(&[("vm", server.addr())], Settings::default()).await;
    let viewer_token = gw.mint_view_only("vm").await;
    let driver_token = gw.mint("vm").await;
    let mut viewer = client(&gw, viewer_token.token.expose()).await;
    let mut driver = client(&gw, driver_token.token.expose()).await;

    // The viewer sees the screen: update requests pass.
    viewer.request_update(false, 0, 0, 64, 48).await.unwrap();
    assert_eq!(viewer.read_update().await.unwrap()[0].pixels.len(), 64 * 48 * 4);
    // Its input is dropped…
    viewer.tap_key(0x71).await.unwrap();
    viewer.send(&ClientMessage::PointerEvent { buttons: 1, x: 5, y: 5 }).await.unwrap();
    viewer.send(&ClientMessage::ClientCutText(b"rm -rf /".to_vec())).await.unwrap();
    viewer.request_update(true, 0, 0, 1, 1).await.unwrap();
    viewer.read_update().await.unwrap();
    // …while the driver's arrives.
    driver.tap_key(0x64).await.unwrap();
    driver.request_update(true, 0, 0, 1, 1).await.unwrap();
    driver.read_update().await.unwrap();
    let got = server.received();
    assert!(got.iter().any(|m| matches!(m, ClientMessage::KeyEvent { key: 0x64, .. })), "{got:?}");
    assert!(!got.iter().any(|m| matches!(m, ClientMessage::KeyEvent { key: 0x71, .. })), "{got:?}");
    assert!(!got.iter().any(|m| matches!(m, ClientMessage::PointerEvent { .. } | ClientMessage::ClientCutText(_))), "{got:?}");
    assert_eq!(server.shared_flags(), vec![true, false], "the viewer's ClientInit is made shared, the driver's is left alone");
}

#[tokio::test]
async fn a_viewer_sending_garbage_is_closed_with_1002() {
    let server = FakeVncServer::start(16, 16).await;
    let gw = start(&[("vm", server.addr())], Settings::default()).await;
    let token = gw.mint_view_only("vm").await;
    let mut viewer = client(&gw, token.token.expose()).await;
    tokio::io::AsyncWriteExt::write_all(viewer.get_mut(), &[99, 1, 2, 3]).await.unwrap();
    tokio::io::AsyncWriteExt::flush(viewer.get_mut()).await.unwrap();
    let mut sink = Vec::new();
    let io = viewer.get_mut();
    let _ = tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read_to_end(io, &mut sink)).await;
    assert_eq!(io.close_frame().map(|c| c.0), Some(1002));
}
