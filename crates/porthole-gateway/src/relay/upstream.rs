//! The VNC server's side of the relay, and the frame on its way to the browser.
//!
//! Each read from the server becomes one binary frame, written with its header in one vectored
//! write (no copy of the payload in user space). The read buffer starts at 4 KiB, doubles while
//! reads fill it, up to [`READ_CHUNK`], is only allocated once the server has something to say, and
//! is freed when a burst is over: an idle session holds no buffer. (splice(2) through a pipe was
//! measured and was slower on loopback: bench/NOTES.md.)

use crate::security::Secured;
use crate::upstream::Upstream;
use bytes::{Buf as _, BytesMut};
use std::io::{self, IoSlice};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Most bytes taken from the VNC server per WebSocket frame.
pub const READ_CHUNK: usize = 256 * 1024;
/// Read size through TLS.
const TLS_READ_CHUNK: usize = 32 * 1024;
/// The read buffer starts this small and doubles while reads fill it, up to [`READ_CHUNK`].
pub const FIRST_READ_CHUNK: usize = 4 * 1024;

/// A frame for the browser: its header, then its payload.
#[derive(Debug, Default)]
pub struct Outgoing {
    header: [u8; 10],
    header_len: usize,
    header_done: usize,
    /// The payload not yet written.
    buf: BytesMut,
}

impl Outgoing {
    /// Whether part of a frame is still to be written.
    pub fn pending(&self) -> bool {
        self.header_done < self.header_len || !self.buf.is_empty()
    }

    fn start(&mut self, len: usize) {
        let (h, used) = crate::ws::frame::server_header(crate::ws::frame::opcode::BINARY, len);
        self.header = h;
        self.header_len = used;
        self.header_done = 0;
    }

    /// Writes as much of the frame as the browser's socket takes; `WouldBlock` when it is full.
    pub fn write_to(&mut self, browser: &TcpStream) -> io::Result<()> {
        while self.pending() {
            let header = &self.header[self.header_done..self.header_len];
            let n = browser.try_write_vectored(&[IoSlice::new(header), IoSlice::new(&self.buf)])?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let from_header = n.min(header.len());
            self.header_done += from_header;
            self.buf.advance(n - from_header);
        }
        Ok(())
    }
}

/// The VNC server's side: the connection the security phase handed over, and the read size.
#[derive(Debug)]
pub struct UpstreamSide {
    conn: Secured,
    /// Size of the next read.
    chunk: usize,
    /// The last read filled the buffer (a burst goes on).
    full: bool,
}

/// `$e` with `$s` bound to the plain TCP or Unix stream.
macro_rules! on_plain {
    ($up:expr, $s:ident => $e:expr) => {
        match $up {
            Upstream::Tcp($s) => $e,
            Upstream::Unix($s) => $e,
        }
    };
}

impl UpstreamSide {
    /// Wraps the connection the security phase handed over.
    pub fn new(conn: Secured) -> Self {
        UpstreamSide { conn, chunk: FIRST_READ_CHUNK, full: false }
    }

    /// Waits for the server's next bytes and makes them the payload of `out` (which must be
    /// empty): `Ok(0)` when the server closed. Cancel-safe: nothing is read until it completes.
    /// On a plain connection the buffer is only reserved once the socket is readable, so a session
    /// waiting for its server holds none.
    pub async fn read_into(&mut self, out: &mut Outgoing) -> io::Result<usize> {
        let n = match &mut self.conn {
            Secured::Tls(tls) => {
                // rustls hands out at most a record (16 KiB) of plaintext at a time.
                out.buf.reserve(TLS_READ_CHUNK);
                self.full = false;
                tls.read_buf(&mut out.buf).await?
            }
            Secured::Plain(up) => loop {
                on_plain!(&*up, s => s.readable().await)?;
                out.buf.reserve(self.chunk);
                match on_plain!(&*up, s => s.try_read_buf(&mut out.buf)) {
                    Ok(n) => {
                        self.full = n >= self.chunk;
                        if self.full {
                            self.chunk = (self.chunk * 2).min(READ_CHUNK);
                        } else if n < self.chunk / 4 {
                            self.chunk = (self.chunk / 2).max(FIRST_READ_CHUNK);
                        }
                        break n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            },
        };
        if n > 0 {
            out.start(n);
        }
        Ok(n)
    }

    /// After a frame went out whole: unless a burst goes on, the buffer is freed (the next read
    /// allocates what it needs once there is something to read).
    pub fn frame_done(&mut self, out: &mut Outgoing) {
        if !self.full {
            out.buf = BytesMut::new();
        }
    }

    /// Writes the browser's bytes to the server.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.conn.write_all(data).await?;
        self.conn.flush().await
    }

    /// Ends the connection's write side (the browser left).
    pub async fn shutdown(&mut self) {
        let _ = self.conn.shutdown().await;
    }
}
