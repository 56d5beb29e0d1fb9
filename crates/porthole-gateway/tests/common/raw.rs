//! A hand-made browser for the policy tests: the upgrade written by hand, masked frames written
//! straight to the socket, server frames read one at a time.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0xa1, 0x02, 0x7c, 0xee];

/// A client frame (FIN set), masked or not.
pub fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n <= 0xFFFF => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        f.extend_from_slice(&MASK);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// The upgrade request for `token`, with extra header lines (each ending in `\r\n`).
pub fn upgrade_request(addr: SocketAddr, token: &str, extra: &str) -> String {
    format!(
        "GET /?token={token} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// Sends the upgrade and reads the response head: `Ok(socket)` after a 101, else `Err(status)`.
pub async fn try_open(addr: SocketAddr, token: &str) -> Result<TcpStream, u16> {
    let mut s = TcpStream::connect(addr).await.map_err(|_| 0u16)?;
    s.write_all(upgrade_request(addr, token, "").as_bytes()).await.map_err(|_| 0u16)?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        match s.read(&mut b).await {
            Ok(1) => head.push(b[0]),
            _ => return Err(0),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if status == 101 {
        Ok(s)
    } else {
        Err(status)
    }
}

/// Like [`try_open`], but a refusal fails the test.
pub async fn open(addr: SocketAddr, token: &str) -> TcpStream {
    match try_open(addr, token).await {
        Ok(s) => s,
        Err(status) => panic!("upgrade refused with {status}"),
    }
}

/// Reads one server frame: `Some((opcode, payload))`, `None` at end of stream or on an error.
pub async fn read_frame(s: &mut OwnedReadHalf) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.ok()?;
    let len = match h[1] & 0x7F {
        126 => u64::from(s.read_u16().await.ok()?),
        127 => s.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut p = vec![0u8; usize::try_from(len).ok()?];
    s.read_exact(&mut p).await.ok()?;
    Some((h[0] & 0x0F, p))
}

/// Reads frames until a close frame: its code and reason; `None` when the connection ended without one.
pub async fn read_close(s: &mut OwnedReadHalf) -> Option<(u16, String)> {
    loop {
        let (op, p) = read_frame(s).await?;
        if op == 8 {
            let code = p.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]))?;
            return Some((code, String::from_utf8_lossy(&p[2..]).into_owned()));
        }
    }
}

/// Writes binary frames of 64 KiB until `total` bytes went out or the socket stays full for
/// `stall`; returns how many payload bytes were written.
pub async fn flood(w: &mut OwnedWriteHalf, total: usize, stall: Duration) -> usize {
    let chunk = frame(2, &vec![0x55u8; 64 * 1024], true);
    let mut sent = 0;
    while sent < total {
        match tokio::time::timeout(stall, w.write_all(&chunk)).await {
            Ok(Ok(())) => sent += 64 * 1024,
            _ => break,
        }
    }
    sent
}

/// A VNC server that greets (`RFB 003.008\n`) and then never reads; it keeps every connection.
pub struct DeafServer {
    pub addr: SocketAddr,
    pub conns: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DeafServer {
    pub async fn start(greeting: &'static [u8]) -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s.write_all(greeting).await;
                kept.lock().unwrap().push(s);
            }
        });
        DeafServer { addr, conns, task }
    }

    /// Whether every connection it accepted has been closed by the proxy (reads EOF or an error).
    pub async fn all_closed_by_proxy(&self) -> bool {
        let mut conns = std::mem::take(&mut *self.conns.lock().unwrap());
        let mut closed = true;
        for s in &mut conns {
            // Drain what the proxy sent; EOF or a reset means the proxy closed its side.
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => continue,
                    Err(_) => {
                        closed = false;
                        break;
                    }
                }
            }
        }
        self.conns.lock().unwrap().extend(conns);
        closed
    }
}

impl Drop for DeafServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
