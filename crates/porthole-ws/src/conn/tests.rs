//! The connection over an in-memory pipe, with frames built by hand as a browser sends them.

use super::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

const MASK: [u8; 4] = [1, 2, 3, 4];

fn client_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | op, 0x80 | payload.len() as u8];
    f.extend_from_slice(&MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

fn pair(buffer: usize) -> (WsConn<DuplexStream>, DuplexStream) {
    let (server, browser) = tokio::io::duplex(buffer);
    (WsConn::new(server, Bytes::new()), browser)
}

/// Reads one unmasked server frame.
async fn server_frame(b: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    b.read_exact(&mut h).await.unwrap();
    let len = match h[1] {
        126 => usize::from(b.read_u16().await.unwrap()),
        127 => usize::try_from(b.read_u64().await.unwrap()).unwrap(),
        n => usize::from(n),
    };
    let mut p = vec![0; len];
    b.read_exact(&mut p).await.unwrap();
    (h[0] & 0x0f, p)
}

#[tokio::test]
async fn data_arrives_and_pings_are_answered_on_the_way() {
    let (mut ws, mut browser) = pair(4096);
    let mut bytes = client_frame(opcode::PING, b"hi");
    bytes.extend(client_frame(opcode::BINARY, b"keys"));
    browser.write_all(&bytes).await.unwrap();
    assert_eq!(ws.recv_data().await.unwrap().as_deref(), Some(&b"keys"[..]));
    assert_eq!(server_frame(&mut browser).await, (opcode::PONG, b"hi".to_vec()));
}

#[tokio::test]
async fn a_close_is_echoed_and_ends_the_data() {
    let (mut ws, mut browser) = pair(4096);
    browser.write_all(&client_frame(opcode::CLOSE, &[0x03, 0xe8, b'b', b'y', b'e'])).await.unwrap();
    assert_eq!(ws.recv_data().await.unwrap(), None);
    poll_fn(|cx| ws.poll_write(cx)).await.unwrap();
    assert_eq!(server_frame(&mut browser).await, (opcode::CLOSE, vec![0x03, 0xe8]));
}

#[tokio::test]
async fn a_protocol_error_queues_a_1002_close() {
    let (mut ws, mut browser) = pair(4096);
    browser.write_all(&[0x82, 0x03, b'a', b'b', b'c']).await.unwrap(); // unmasked
    assert!(matches!(ws.recv_data().await, Err(WsError::Protocol(ProtocolError::Unmasked))));
    poll_fn(|cx| ws.poll_write(cx)).await.unwrap();
    let (op, p) = server_frame(&mut browser).await;
    assert_eq!((op, u16::from_be_bytes([p[0], p[1]])), (opcode::CLOSE, 1002));
}

#[tokio::test]
async fn a_large_frame_goes_out_whole_through_a_narrow_pipe_before_what_is_queued() {
    let (mut ws, mut browser) = pair(1000);
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    ws.start_frame(BytesMut::from(&payload[..]));
    ws.queue_close(1000, "done");
    let reader = tokio::spawn(async move {
        let first = server_frame(&mut browser).await;
        let second = server_frame(&mut browser).await;
        (first, second)
    });
    poll_fn(|cx| ws.poll_write(cx)).await.unwrap();
    let ((op1, p1), (op2, p2)) = reader.await.unwrap();
    assert_eq!((op1, p1.len()), (opcode::BINARY, payload.len()));
    assert_eq!(p1, payload);
    assert_eq!((op2, &p2[2..]), (opcode::CLOSE, &b"done"[..]));
    assert!(!ws.wants_write());
}

#[tokio::test]
async fn nothing_is_queued_after_a_close() {
    let (mut ws, _browser) = pair(4096);
    ws.queue_close(1001, "Going away");
    let after = ws.queued();
    ws.queue_binary(b"late");
    ws.start_frame(BytesMut::from(&b"late"[..]));
    ws.queue_close(1000, "again");
    assert_eq!(ws.queued(), after);
    assert!(!ws.frame_pending());
}

#[tokio::test]
async fn the_end_of_the_stream_is_reported() {
    let (mut ws, browser) = pair(64);
    drop(browser);
    assert_eq!(ws.recv_data().await.unwrap(), None);
    assert!(ws.is_eof());
}
