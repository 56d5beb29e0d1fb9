//! A browser's connection as the edge serves it: plain TCP (the relay's fast path), or TLS
//! terminated here with rustls (`[proxy] cert`, `key`), told apart by the first byte on a port
//! that serves both (unless `ssl_only`).

use porthole_ws::Transport;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

/// A TLS ClientHello starts with this byte (record type "handshake").
const TLS_HANDSHAKE: u8 = 0x16;
/// How long a client has to send its first byte, and to finish the TLS handshake.
const FIRST_BYTES: Duration = Duration::from_secs(30);

/// A browser's connection.
#[derive(Debug)]
pub(crate) enum BrowserStream {
    /// Plain HTTP/WebSocket.
    Tcp(TcpStream),
    /// HTTPS/WSS.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Why a connection was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcceptError {
    /// Nothing came, or the TLS handshake failed or took too long.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Plain HTTP on a proxy that serves HTTPS only (it was told so).
    #[error("plain HTTP refused (ssl_only)")]
    PlainRefused,
}

/// Takes a connection: TLS when the client starts a TLS handshake and a certificate is
/// configured, plain otherwise (refused with a one-line answer when `ssl_only`).
pub(crate) async fn accept(tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, ssl_only: bool) -> Result<BrowserStream, AcceptError> {
    let Some(config) = tls else { return Ok(BrowserStream::Tcp(tcp)) };
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(FIRST_BYTES, tcp.peek(&mut first)).await;
    let n = peeked.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request within 30 s"))??;
    if n == 1 && first[0] == TLS_HANDSHAKE {
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(tcp);
        let tls = tokio::time::timeout(FIRST_BYTES, handshake)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake took longer than 30 s"))??;
        return Ok(BrowserStream::Tls(Box::new(tls)));
    }
    if ssl_only {
        let mut tcp = tcp;
        let body = "This console proxy speaks HTTPS only: use an https:// console URL.\n";
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(answer.as_bytes())).await;
        return Err(AcceptError::PlainRefused);
    }
    Ok(BrowserStream::Tcp(tcp))
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            BrowserStream::Tcp($s) => $e,
            BrowserStream::Tls($s) => $e,
        }
    };
}

impl AsyncRead for BrowserStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for BrowserStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

impl Transport for BrowserStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            BrowserStream::Tcp(s) => s.poll_read_ready(cx),
            // TLS may hold decrypted bytes already: let the read itself wait.
            BrowserStream::Tls(_) => Poll::Ready(Ok(())),
        }
    }
}
