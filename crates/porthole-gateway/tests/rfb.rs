//! RFB through the proxy: a VNC client behind the WebSocket sees exactly what the server sends.

#![allow(clippy::unwrap_used)]

mod common;

use porthole_gateway::Settings;
use porthole_testkit::server::pixel;
use porthole_testkit::{ws_connect, FakeVncServer, RfbClient, WsIo};

#[tokio::test]
async fn large_framebuffer_updates_arrive_intact() {
    porthole_testkit::trace_init();
    let server = FakeVncServer::start(1920, 1080).await;
    let gw = common::start(&[("big", server.addr())], Settings::default()).await;
    let m = gw.mint("big").await;
    let (ws, _) = ws_connect(&gw.ws_url(m.token.expose()), &[("sec-websocket-protocol", "binary")]).await.unwrap();
    let mut c = RfbClient::handshake(WsIo::new(ws)).await.unwrap();
    assert_eq!((c.server_init.width, c.server_init.height), (1920, 1080));
    for frame in 0..5u32 {
        c.request_update(frame > 0, 0, 0, 1920, 1080).await.unwrap();
        let rects = c.read_update().await.unwrap();
        assert_eq!(rects.len(), 1);
        let px = &rects[0].pixels;
        assert_eq!(px.len(), 1920 * 1080 * 4);
        for (x, y) in [(0u16, 0u16), (1919, 0), (0, 1079), (1919, 1079), (960, 540), (17, 999)] {
            let at = (usize::from(y) * 1920 + usize::from(x)) * 4;
            assert_eq!(&px[at..at + 4], &pixel(x, y, frame).to_le_bytes(), "frame {frame} at {x},{y}");
        }
    }
    // Keys typed into the WebSocket reach the server.
    c.tap_key(0x61).await.unwrap();
    c.request_update(true, 0, 0, 1, 1).await.unwrap();
    c.read_update().await.unwrap();
    assert!(server.received().iter().any(|m| matches!(m, porthole_rfb::ClientMessage::KeyEvent { key: 0x61, .. })));
}

#[tokio::test]
async fn the_demo_server_through_the_proxy() {
    let demo = porthole_demo::DemoServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = common::start(&[("demo", demo.local_addr())], Settings::default()).await;
    let m = gw.mint("demo").await;
    let (ws, _) = ws_connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    let mut c = RfbClient::handshake(WsIo::new(ws)).await.unwrap();
    assert_eq!(c.server_init.name, b"Porthole demo");
    c.request_update(false, 0, 0, 800, 600).await.unwrap();
    assert_eq!(c.read_update().await.unwrap()[0].pixels.len(), 800 * 600 * 4);
}

#[tokio::test]
async fn security_proxy_forwards_bytes_the_browser_sent_early() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use porthole_rfb::handshake::Scheme;
    use tokio_tungstenite::tungstenite::Message;
    let server = FakeVncServer::start(32, 16).await;
    let mut settings = Settings::default();
    settings.security.schemes = vec![Scheme::Vnc, Scheme::None];
    let gw = common::start(&[("fake", server.addr())], settings).await;
    let m = gw.mint("fake").await;
    let (mut ws, _) = ws_connect(&gw.ws_url(m.token.expose()), &[]).await.unwrap();
    let mut got = Vec::new();
    async fn read_at_least(ws: &mut porthole_testkit::ws::WsStream, got: &mut Vec<u8>, n: usize) {
        while got.len() < n {
            match ws.next().await.unwrap().unwrap() {
                Message::Binary(b) => got.extend_from_slice(&b),
                other => panic!("{other:?}"),
            }
        }
    }
    read_at_least(&mut ws, &mut got, 12).await;
    assert_eq!(&got[..12], b"RFB 003.008\n");
    ws.send(Message::binary(b"RFB 003.008\n".to_vec())).await.unwrap();
    read_at_least(&mut ws, &mut got, 14).await;
    assert_eq!(&got[12..14], &[1, 1], "only None is offered to the browser");
    // The choice and ClientInit in one message, before the SecurityResult came.
    ws.send(Message::binary(vec![1, 1])).await.unwrap();
    read_at_least(&mut ws, &mut got, 18 + 24 + 4).await;
    assert_eq!(&got[14..18], &[0, 0, 0, 0], "SecurityResult OK");
    let init = porthole_rfb::ServerInit::read(&mut porthole_rfb::Reader::new(&got[18..])).unwrap();
    assert_eq!((init.width, init.height), (32, 16), "ClientInit reached the server, ServerInit came back");
}
