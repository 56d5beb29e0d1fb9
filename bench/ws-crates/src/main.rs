//! `ws-crates tungstenite|fastwebsockets LISTEN TARGET`: a bare WebSocket → TCP relay (no token,
//! no checks) built the way Porthole's relay is (one binary frame per read of up to 256 KiB, the
//! read buffer growing from 4 KiB), on one WebSocket crate or the other, so that the crates can be
//! compared under the same client and server (bench/crates.sh).

use base64::Engine as _;
use bytes::BytesMut;
use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
use futures_util::{SinkExt as _, StreamExt as _};
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const READ_CHUNK: usize = 256 * 1024;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, listen, target) = match &args[..] {
        [_, m, l, t] => (m.clone(), l.clone(), t.clone()),
        _ => {
            eprintln!("usage: ws-crates tungstenite|fastwebsockets LISTEN TARGET");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&listen).await.expect("bind");
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let (mode, target) = (mode.clone(), target.clone());
        tokio::spawn(async move {
            let Ok(up) = TcpStream::connect(&target).await else { return };
            let _ = up.set_nodelay(true);
            match mode.as_str() {
                "tungstenite" => tungstenite(tcp, up).await,
                _ => fast(tcp, up).await,
            }
        });
    }
}

/// Reads the server's next bytes into `buf` (which grows from 4 KiB while reads fill it, as in
/// Porthole); false at end of stream or on error.
async fn next_chunk(ur: &mut tokio::net::tcp::OwnedReadHalf, buf: &mut BytesMut, chunk: &mut usize) -> bool {
    buf.reserve(*chunk);
    match ur.read_buf(buf).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            if n >= *chunk {
                *chunk = (*chunk * 2).min(READ_CHUNK);
            }
            true
        }
    }
}

async fn tungstenite(tcp: TcpStream, up: TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let (mut tx, mut rx) = ws.split();
    let (mut ur, mut uw) = up.into_split();
    let down = tokio::spawn(async move {
        let (mut buf, mut chunk) = (BytesMut::new(), 4096);
        while next_chunk(&mut ur, &mut buf, &mut chunk).await {
            let msg = tokio_tungstenite::tungstenite::Message::Binary(buf.split().freeze());
            if tx.send(msg).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(msg)) = rx.next().await {
        if msg.is_binary() && uw.write_all(&msg.into_data()).await.is_err() {
            break;
        }
    }
    down.abort();
}

async fn fast(mut tcp: TcpStream, up: TcpStream) {
    // The opening handshake by hand (fastwebsockets' own needs hyper); the browser sends nothing
    // before the 101, so nothing is read past the request.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if tcp.read_exact(&mut b).await.is_err() {
            return;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let Some(key) = text
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key")).map(|(_, v)| v.trim().to_owned()))
    else {
        return;
    };
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let resp =
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
    if tcp.write_all(resp.as_bytes()).await.is_err() {
        return;
    }
    let mut ws = WebSocket::after_handshake(tcp, Role::Server);
    ws.set_writev(true);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let (mut rx, mut tx) = ws.split(tokio::io::split);
    let (mut ur, mut uw) = up.into_split();
    let down = tokio::spawn(async move {
        let (mut buf, mut chunk) = (BytesMut::new(), 4096);
        while next_chunk(&mut ur, &mut buf, &mut chunk).await {
            if tx.write_frame(Frame::binary(Payload::Borrowed(&buf[..]))).await.is_err() {
                break;
            }
            buf.clear();
        }
    });
    loop {
        let frame = rx.read_frame::<_, fastwebsockets::WebSocketError>(&mut |_| async { Ok(()) }).await;
        match frame {
            Ok(f) if f.opcode == OpCode::Binary || f.opcode == OpCode::Continuation => {
                if uw.write_all(&f.payload).await.is_err() {
                    break;
                }
            }
            Ok(f) if f.opcode == OpCode::Close => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    down.abort();
}
