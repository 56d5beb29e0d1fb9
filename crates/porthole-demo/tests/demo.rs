//! The demo VNC server, driven by the testkit's RFB client over TCP.

#![allow(clippy::unwrap_used)]

use porthole_demo::DemoServer;
use porthole_testkit::RfbClient;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn demo_draws_a_screen_and_shows_typed_keys() {
    let demo = DemoServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let tcp = tokio::net::TcpStream::connect(demo.local_addr()).await.unwrap();
    let mut c = RfbClient::handshake(tcp).await.unwrap();
    assert_eq!((c.server_init.width, c.server_init.height), (800, 600));
    assert_eq!(c.server_init.name, b"Porthole demo");
    c.request_update(false, 0, 0, 800, 600).await.unwrap();
    let full = c.read_update().await.unwrap();
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].pixels.len(), 800 * 600 * 4);
    let colours: HashSet<&[u8]> = full[0].pixels.chunks(4).collect();
    assert!(colours.len() > 20, "a recognisable screen has many colours, got {}", colours.len());

    // Nothing changed: an incremental request waits; a key makes it answer with the text area.
    c.request_update(true, 0, 0, 800, 600).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), c.read_update()).await;
    assert!(waited.is_err(), "no update without a change");
    c.tap_key(u32::from(b'Q')).await.unwrap();
    let upd = tokio::time::timeout(Duration::from_secs(5), c.read_update()).await.unwrap().unwrap();
    let r = &upd[0];
    assert!(r.y > 200 && r.y < 300 && r.height > 50, "{:?}", (r.x, r.y, r.width, r.height));
    let before = &full[0].pixels;
    let mut changed = 0;
    for row in 0..usize::from(r.height) {
        let y = usize::from(r.y) + row;
        for col in 0..usize::from(r.width) {
            let x = usize::from(r.x) + col;
            let new = &r.pixels[(row * usize::from(r.width) + col) * 4..][..4];
            let old = &before[(y * 800 + x) * 4..][..4];
            changed += usize::from(new != old);
        }
    }
    assert!(changed > 50, "typing a character changes pixels, changed {changed}");
}

#[tokio::test]
async fn demo_survives_garbage() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let demo = DemoServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(demo.local_addr()).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await.unwrap();
    // The server is still there for the next viewer.
    let tcp = tokio::net::TcpStream::connect(demo.local_addr()).await.unwrap();
    assert!(RfbClient::handshake(tcp).await.is_ok());
}
