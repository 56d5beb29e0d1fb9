//! The byte pump between a browser's WebSocket and a VNC server's connection.
//!
//! One task per session, one loop driven by readiness: the browser's frames are parsed and their
//! payload written to the server; the server's bytes become one binary frame per read (see
//! [`upstream`]). A frame must be out before the server is read again
//! (backpressure). When either side closes the other is closed, with a close code that says which
//! side ended it.

pub mod upstream;

use crate::security::Secured;
use crate::sessions::PolicyClose;
use crate::ws::conn::MAX_QUEUED;
use crate::ws::frame::Event;
use crate::ws::WsConn;
use axum::extract::ws::{CloseFrame, Message};
use bytes::Buf as _;
use futures_util::{Sink, SinkExt as _};
use std::future::Future;
use std::io;
use std::time::Duration;
use upstream::{Outgoing, UpstreamSide};

pub use upstream::{FIRST_READ_CHUNK, READ_CHUNK};

/// How long a frame cut short by the end of a session may take to finish, so that the close
/// frame can follow it.
const FINISH_FRAME: Duration = Duration::from_secs(5);

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
pub async fn relay(ws: &mut WsConn, up: Secured, close: impl Future<Output = PolicyClose>, idle: Option<Duration>) -> RelayEnd {
    let mut up = UpstreamSide::new(up);
    let mut out = Outgoing::default();
    let end = pump(ws, &mut up, &mut out, close, idle).await;
    if out.pending() && !matches!(end, RelayEnd::Downstream | RelayEnd::DownstreamError(_)) {
        let finished = tokio::time::timeout(FINISH_FRAME, async {
            loop {
                ws.tcp.writable().await?;
                match out.write_to(&ws.tcp) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    other => return other,
                }
            }
        });
        if !matches!(finished.await, Ok(Ok(()))) {
            ws.broken = true;
        }
    } else if out.pending() {
        ws.broken = true;
    }
    end
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
    // A browser that reads nothing more must not hold the session open.
    let _ = tokio::time::timeout(FINISH_FRAME, async {
        if let Some((code, reason)) = frame {
            let _ = ws.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
        }
        let _ = ws.close().await;
    })
    .await;
}

/// What woke the loop.
enum Wake {
    Policy(&'static str),
    Browser(io::Result<()>),
    BrowserWritable(io::Result<()>),
    Upstream(io::Result<usize>),
}

async fn pump(
    ws: &mut WsConn,
    up: &mut UpstreamSide,
    out: &mut Outgoing,
    close: impl Future<Output = PolicyClose>,
    idle: Option<Duration>,
) -> RelayEnd {
    tokio::pin!(close);
    let idle_limit = idle.unwrap_or(Duration::MAX);
    let idle_timer = tokio::time::sleep(idle_limit.min(Duration::from_secs(86400 * 365)));
    tokio::pin!(idle_timer);
    // Bytes that came with the upgrade or after the security handshake.
    if let Some(end) = from_browser(ws, up).await {
        return end;
    }
    loop {
        let writing = out.pending() || !ws.wbuf.is_empty();
        let wake = tokio::select! {
            biased;
            why = &mut close => Wake::Policy(why.reason),
            () = &mut idle_timer, if idle.is_some() => Wake::Policy("idle timeout"),
            r = ws.tcp.readable(), if ws.wbuf.len() < MAX_QUEUED => Wake::Browser(r),
            r = ws.tcp.writable(), if writing => Wake::BrowserWritable(r),
            r = up.read_into(out), if !writing => Wake::Upstream(r),
        };
        match wake {
            Wake::Policy(why) => return RelayEnd::Policy(why),
            Wake::Browser(r) => {
                if let Err(e) = r {
                    return RelayEnd::DownstreamError(e.to_string());
                }
                match ws.try_read() {
                    Ok(0) => {
                        up.shutdown().await;
                        return RelayEnd::Downstream;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return RelayEnd::DownstreamError(e.to_string()),
                }
                if let Some(end) = from_browser(ws, up).await {
                    return end;
                }
            }
            Wake::BrowserWritable(r) => {
                if let Err(e) = r.and_then(|()| flush(ws, up, out)) {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        return RelayEnd::DownstreamError(e.to_string());
                    }
                }
            }
            Wake::Upstream(Ok(0)) => return RelayEnd::UpstreamClosed,
            Wake::Upstream(Ok(_)) => {
                // The browser's socket usually has room: write now rather than wait for readiness.
                if let Err(e) = flush(ws, up, out) {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        return RelayEnd::DownstreamError(e.to_string());
                    }
                }
            }
            Wake::Upstream(Err(e)) => return RelayEnd::UpstreamError(e.to_string()),
        }
        if idle.is_some() {
            idle_timer.as_mut().reset(tokio::time::Instant::now() + idle_limit);
        }
    }
}

/// Writes the frame in progress, then the control frames queued behind it.
fn flush(ws: &mut WsConn, up: &mut UpstreamSide, out: &mut Outgoing) -> io::Result<()> {
    if out.pending() {
        out.write_to(&ws.tcp)?;
        up.frame_done(out);
    }
    while !ws.wbuf.is_empty() {
        let n = ws.tcp.try_write(&ws.wbuf)?;
        ws.wbuf.advance(n);
    }
    Ok(())
}

/// Handles the browser's frames buffered so far: payload to the server, pongs queued; `Some`
/// when the session ends.
async fn from_browser(ws: &mut WsConn, up: &mut UpstreamSide) -> Option<RelayEnd> {
    loop {
        match ws.reader.next_event() {
            Ok(None) => return None,
            Ok(Some(Event::Data(data))) => {
                if let Err(e) = up.write_all(&data).await {
                    return Some(RelayEnd::UpstreamError(e.to_string()));
                }
            }
            Ok(Some(event @ Event::Close(_))) => {
                ws.answer(&event);
                up.shutdown().await;
                return Some(RelayEnd::Downstream);
            }
            Ok(Some(event)) => ws.answer(&event),
            Err(e) => {
                ws.refuse(&e);
                up.shutdown().await;
                return Some(RelayEnd::DownstreamError(e.to_string()));
            }
        }
    }
}
