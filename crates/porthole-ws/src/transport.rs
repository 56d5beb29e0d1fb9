//! The byte streams a WebSocket (or a relay's other side) runs on: TCP and Unix sockets, TLS
//! streams wrapped by the caller, in-memory pipes for tests.

use std::io;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream.
///
/// [`poll_read_ready`](Transport::poll_read_ready) lets an idle connection wait for bytes without
/// holding a read buffer: sockets say when they are readable; other streams (TLS, pipes) keep the
/// default, which says "ready" at once and lets the read itself wait.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Ready when a read would make progress (or fail). The default is ready at once.
    fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Transport for tokio::net::TcpStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::TcpStream::poll_read_ready(self, cx)
    }
}

impl Transport for tokio::net::UnixStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::UnixStream::poll_read_ready(self, cx)
    }
}

impl Transport for tokio::io::DuplexStream {}
