//! The byte pump between a browser's WebSocket and a VNC server's TCP stream.
//!
//! One task per session, one loop: whichever side has data is copied to the other, and a write
//! must finish before that side is read again (backpressure). When either side closes the other is
//! closed, with a close code that says which side ended it.

use axum::extract::ws::{CloseFrame, Message};
use bytes::BytesMut;
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::sessions::PolicyClose;

/// Bytes read from the VNC server per WebSocket message, at most. Large frames cost less CPU per
/// byte (measured: 0.45 → 0.40 CPU s/GB from 64 KiB to 256 KiB, bench/quick.sh).
pub const READ_CHUNK: usize = 256 * 1024;
/// The read buffer starts this small, so an idle session holds little memory, and doubles while
/// reads fill it, up to [`READ_CHUNK`].
pub const FIRST_READ_CHUNK: usize = 4 * 1024;

/// WebSocket close codes the proxy sends.
pub mod close_code {
    /// The VNC server closed the connection.
    pub const NORMAL: u16 = 1000;
    /// Ended by policy: revoked, expired, idle or a limit.
    pub const POLICY: u16 = 1008;
    /// The VNC server could not be reached, or failed.
    pub const UPSTREAM_ERROR: u16 = 1011;
}

/// How a session ended, and which side ended it.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayEnd {
    /// The browser closed (or went away).
    Downstream,
    /// The VNC server closed its side.
    UpstreamClosed,
    /// Reading from or writing to the VNC server failed.
    UpstreamError(String),
    /// The browser's connection failed.
    DownstreamError(String),
    /// The proxy ended it: revoked, expired, idle.
    Policy(&'static str),
}

/// Relays until one side ends, and says how it ended; the caller closes the WebSocket.
pub async fn relay<W, E, T>(ws: &mut W, tcp: T, close: impl Future<Output = PolicyClose>, idle: Option<Duration>) -> RelayEnd
where
    W: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
    T: AsyncRead + AsyncWrite + Unpin,
{
    pump(ws, tcp, close, idle).await
}

/// The close frame for how a session ended (`None`: the browser is gone, nothing to send).
pub fn close_frame(end: &RelayEnd) -> Option<(u16, &'static str)> {
    match end {
        RelayEnd::Downstream | RelayEnd::DownstreamError(_) => None,
        RelayEnd::UpstreamClosed => Some((close_code::NORMAL, "Target closed")),
        RelayEnd::UpstreamError(_) => Some((close_code::UPSTREAM_ERROR, "Target connection failed")),
        RelayEnd::Policy(why) => Some((close_code::POLICY, why)),
    }
}

/// Sends a close frame (if any) and closes the WebSocket.
pub async fn close_ws<W, E>(ws: &mut W, frame: Option<(u16, &'static str)>)
where
    W: Sink<Message, Error = E> + Unpin,
{
    if let Some((code, reason)) = frame {
        let _ = ws.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
    let _ = ws.close().await;
}

async fn pump<W, E, T>(ws: &mut W, mut tcp: T, close: impl Future<Output = PolicyClose>, idle: Option<Duration>) -> RelayEnd
where
    W: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
    T: AsyncRead + AsyncWrite + Unpin,
{
    tokio::pin!(close);
    let idle_limit = idle.unwrap_or(Duration::MAX);
    let idle_timer = tokio::time::sleep(idle_limit.min(Duration::from_secs(86400 * 365)));
    tokio::pin!(idle_timer);
    let mut buf = BytesMut::new();
    let mut chunk = FIRST_READ_CHUNK;
    loop {
        buf.reserve(chunk);
        tokio::select! {
            msg = ws.next() => {
                let data = match msg {
                    None | Some(Ok(Message::Close(_))) => {
                        let _ = tcp.shutdown().await;
                        return RelayEnd::Downstream;
                    }
                    Some(Err(e)) => return RelayEnd::DownstreamError(e.to_string()),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => t.into(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                };
                if let Err(e) = tcp.write_all(&data).await {
                    return RelayEnd::UpstreamError(e.to_string());
                }
            }
            n = tcp.read_buf(&mut buf) => match n {
                Ok(0) => return RelayEnd::UpstreamClosed,
                Ok(n) => {
                    if n >= chunk {
                        chunk = (chunk * 2).min(READ_CHUNK);
                    }
                    if let Err(e) = ws.send(Message::Binary(buf.split().freeze())).await {
                        return RelayEnd::DownstreamError(e.to_string());
                    }
                }
                Err(e) => return RelayEnd::UpstreamError(e.to_string()),
            },
            why = &mut close => return RelayEnd::Policy(why.reason),
            () = &mut idle_timer, if idle.is_some() => return RelayEnd::Policy("idle timeout"),
        }
        if idle.is_some() {
            idle_timer.as_mut().reset(tokio::time::Instant::now() + idle_limit);
        }
    }
}
