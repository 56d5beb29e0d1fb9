//! The WebSocket protocol at the proxy, over real sockets with frames built by hand: pings,
//! fragments, hostile frames, the opening handshake's refusals.

#![allow(clippy::unwrap_used)]

mod common;

use common::{http_raw, start};
use porthole_gateway::Settings;
use porthole_testkit::FakeVncServer;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0xa1, 0x02, 0x7c, 0xee];

fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
    let m = if masked { 0x80 } else { 0 };
    if payload.len() < 126 {
        f.push(m | payload.len() as u8);
    } else {
        f.push(m | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    if masked {
        f.extend_from_slice(&MASK);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Opens a console WebSocket by hand; returns the socket after the 101.
async fn open(gw: &common::Gateway, target: &str) -> TcpStream {
    let m = gw.mint(target).await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let req = format!(
        "GET /?token={} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: binary\r\n\r\n",
        m.token.expose(),
        gw.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    s
}

/// Reads one server frame: (opcode, payload).
async fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut h)).await.expect("a frame within 10 s").unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7F {
        126 => u64::from(s.read_u16().await.unwrap()),
        127 => s.read_u64().await.unwrap(),
        n => u64::from(n),
    };
    let mut p = vec![0u8; len as usize];
    s.read_exact(&mut p).await.unwrap();
    (h[0] & 0x0F, p)
}

/// Reads data frames until `want` bytes came, answering nothing.
async fn read_data(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        let (op, p) = read_frame(s).await;
        assert_eq!(op, 2, "binary frames only");
        got.extend(p);
    }
    got
}

#[tokio::test]
async fn fragments_and_pings_between_them_reach_the_server_in_order() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let mut s = open(&gw, "echo").await;
    let mut bytes = frame(false, 2, b"hello ", true);
    bytes.extend(frame(true, 9, b"are you there", true));
    bytes.extend(frame(false, 0, b"fragmented ", true));
    bytes.extend(frame(true, 0, &[b'w'; 300], true));
    bytes.extend(frame(true, 1, b" and text", true));
    s.write_all(&bytes).await.unwrap();
    let mut echoed = Vec::new();
    let mut pong = None;
    let want = 6 + 11 + 300 + 9;
    while echoed.len() < want {
        match read_frame(&mut s).await {
            (2, p) => echoed.extend(p),
            (10, p) => pong = Some(p),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    let mut expected = b"hello fragmented ".to_vec();
    expected.extend([b'w'; 300]);
    expected.extend(b" and text");
    assert_eq!(echoed, expected);
    assert_eq!(pong.as_deref(), Some(&b"are you there"[..]));
    // A clean close is echoed.
    s.write_all(&frame(true, 8, &[0x03, 0xe8], true)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, (8, vec![0x03, 0xe8]));
}

#[tokio::test]
async fn an_unmasked_frame_is_a_protocol_error() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let mut s = open(&gw, "echo").await;
    s.write_all(&frame(true, 2, b"abc", true)).await.unwrap();
    assert_eq!(read_data(&mut s, 3).await, b"abc");
    s.write_all(&frame(true, 2, b"abc", false)).await.unwrap();
    let (op, p) = read_frame(&mut s).await;
    assert_eq!((op, u16::from_be_bytes([p[0], p[1]])), (8, 1002));
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await.unwrap().unwrap();
    assert_eq!(n, 0, "the connection is closed after the close frame");
}

#[tokio::test]
async fn large_server_output_arrives_whole_in_binary_frames() {
    let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let server = FakeVncServer::greet_then_close(blob.clone()).await;
    let gw = start(&[("blob", server.addr())], Settings::default()).await;
    let mut s = open(&gw, "blob").await;
    assert_eq!(read_data(&mut s, blob.len()).await, blob);
    let (op, p) = read_frame(&mut s).await;
    assert_eq!((op, u16::from_be_bytes([p[0], p[1]])), (8, 1000));
}

#[tokio::test]
async fn upgrade_refusals_say_why() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], Settings::default()).await;
    let m = gw.mint("echo").await;
    let req = |version: &str, key: &str| {
        format!(
            "GET /?token={} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: {key}\r\n\r\n",
            m.token.expose(),
            gw.addr
        )
    };
    let (status, body) = http_raw(gw.addr, &req("8", "dGhlIHNhbXBsZSBub25jZQ==")).await;
    assert_eq!(status, 426, "{body}");
    assert!(body.to_ascii_lowercase().contains("sec-websocket-version: 13"), "{body}");
    let (status, _) = http_raw(gw.addr, &req("13", "short")).await;
    assert_eq!(status, 400);
}
