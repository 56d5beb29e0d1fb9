//! The byte pump between a browser's WebSocket and a VNC server's connection.
//!
//! One poll function moves bytes both ways without ever awaiting one peer while the other (or a
//! policy) waits: the browser's frames are parsed and their payload written to the server; each
//! read from the server becomes one binary frame, header and payload in one vectored write. A
//! side is only read when what was read from it before is out (backpressure both ways). What
//! was written is flushed too: TLS on either side may keep records back until then. The
//! caller races [`Relay::poll`] against the policies (revoke, expiry, shutdown); the relay's own
//! clock watches idleness, peers that stop accepting bytes, and a VNC server that never speaks.
//!
//! The server read buffer starts at 4 KiB, doubles while reads fill it up to [`READ_CHUNK`], is
//! only allocated once the server is readable, and is freed when a burst is over, so an idle
//! session holds no buffer. (splice(2) was measured slower on loopback: bench/NOTES.md.)

use crate::end::{EndKind, SessionEnd, Side};
use crate::live::{Counters, Policy};
use bytes::{Buf as _, Bytes, BytesMut};
use offer::Offer;
use porthole_rfb::view_only::ViewOnlyFilter;
use porthole_ws::conn::MAX_QUEUED;
use porthole_ws::{Event, Transport, WsConn};
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Most bytes taken from the VNC server per WebSocket frame.
pub(crate) const READ_CHUNK: usize = 256 * 1024;
/// The read buffer starts this small and doubles while reads fill it, up to [`READ_CHUNK`].
pub(crate) const FIRST_READ_CHUNK: usize = 4 * 1024;

/// The relay's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// End after this long without a byte either way.
    pub idle: Option<Duration>,
    /// End when a peer accepts none of the bytes waiting for it for this long.
    pub stall: Duration,
    /// End when the VNC server has sent nothing this long after the start (it speaks first in RFB).
    pub first_bytes: Option<Duration>,
}

/// A relay between a browser (`B`) and a VNC server (`V`).
pub(crate) struct Relay<B, V> {
    ws: WsConn<B>,
    vnc: V,
    /// Browser payload not yet written to the server.
    to_vnc: Bytes,
    /// Bytes went to the server since its last flush (VeNCrypt's TLS may hold records back
    /// until flushed; a plain socket's flush costs nothing).
    vnc_unflushed: bool,
    /// The server read buffer (empty between bursts).
    rbuf: BytesMut,
    chunk: usize,
    full: bool,
    counters: Arc<Counters>,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    started: Instant,
    last_progress: Instant,
    heard_from_vnc: bool,
    vnc_blocked_since: Option<Instant>,
    browser_blocked_since: Option<Instant>,
    /// The server's first bytes, watched for its security offer (relay mode); `None` once known.
    sniff: Option<Offer>,
    /// What the sniff learned.
    offer: Option<Offer>,
    /// A view-only session's filter of the browser's messages.
    view_only: Option<ViewOnlyFilter>,
}

impl<B: Transport, V: Transport> Relay<B, V> {
    /// A relay over an upgraded WebSocket and a connected (and secured) VNC server.
    pub(crate) fn new(ws: WsConn<B>, vnc: V, limits: Limits, counters: Arc<Counters>) -> Self {
        let now = Instant::now();
        Relay {
            ws,
            vnc,
            to_vnc: Bytes::new(),
            vnc_unflushed: false,
            rbuf: BytesMut::new(),
            chunk: FIRST_READ_CHUNK,
            full: false,
            counters,
            limits,
            timer: Box::pin(tokio::time::sleep_until(far_future())),
            started: now,
            last_progress: now,
            heard_from_vnc: limits.first_bytes.is_none(),
            vnc_blocked_since: None,
            browser_blocked_since: None,
            sniff: None,
            offer: None,
            view_only: None,
        }
    }

    /// Passes on first what the browser sent during the security handshake.
    pub(crate) fn set_early(&mut self, early: Bytes) -> Result<(), SessionEnd> {
        self.to_vnc = self.filter(early)?;
        Ok(())
    }

    /// Filters the browser's messages: only what viewing needs reaches the server (the filter
    /// starts at ClientInit, so set it before [`set_early`](Self::set_early)).
    pub(crate) fn view_only(mut self) -> Self {
        self.view_only = Some(ViewOnlyFilter::new());
        self
    }

    /// The browser's payload as it may go to the server.
    fn filter(&mut self, data: Bytes) -> Result<Bytes, SessionEnd> {
        let Some(filter) = &mut self.view_only else { return Ok(data) };
        let mut out = Vec::with_capacity(data.len() + 1);
        filter.feed(&data, &mut out).map_err(|e| browser(EndKind::Rfb(e.to_string())))?;
        Ok(Bytes::from(out))
    }

    /// Watches the server's first bytes for its security offer (relay mode, where the browser
    /// and the server negotiate between themselves).
    pub(crate) fn sniff_offer(mut self) -> Self {
        self.sniff = Some(Offer::default());
        self
    }

    /// What the server offered, if the sniff saw it.
    pub(crate) fn offer(&self) -> Option<&Offer> {
        self.offer.as_ref()
    }

    /// The browser's WebSocket, for the close that follows the relay.
    pub(crate) fn into_browser(self) -> WsConn<B> {
        self.ws
    }

    /// Moves bytes until nothing can move; `Ready` with how the session ended.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<SessionEnd> {
        loop {
            match self.step(cx) {
                Ok(true) => self.last_progress = Instant::now(),
                Ok(false) => break,
                Err(end) => return Poll::Ready(end),
            }
        }
        self.poll_clock(cx)
    }

    /// One pass over both directions: `Ok(true)` if any byte moved.
    fn step(&mut self, cx: &mut Context<'_>) -> Result<bool, SessionEnd> {
        let mut progress = false;
        // Browser → VNC server.
        if !self.to_vnc.is_empty() {
            match Pin::new(&mut self.vnc).poll_write(cx, &self.to_vnc) {
                Poll::Ready(Ok(0)) => return Err(vnc(EndKind::Failed(io::ErrorKind::WriteZero.into()))),
                Poll::Ready(Ok(n)) => {
                    self.to_vnc.advance(n);
                    self.vnc_unflushed = true;
                    self.counters.to_server.fetch_add(n as u64, Ordering::Relaxed);
                    self.vnc_blocked_since = None;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(vnc(EndKind::Failed(e))),
                Poll::Pending => {
                    self.vnc_blocked_since.get_or_insert_with(Instant::now);
                }
            }
        }
        if self.to_vnc.is_empty() && self.vnc_unflushed {
            match Pin::new(&mut self.vnc).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.vnc_unflushed = false,
                Poll::Ready(Err(e)) => return Err(vnc(EndKind::Failed(e))),
                Poll::Pending => {
                    self.vnc_blocked_since.get_or_insert_with(Instant::now);
                }
            }
        }
        if self.to_vnc.is_empty() && self.ws.queued() < MAX_QUEUED {
            progress |= self.take_from_browser(cx)?;
        }
        // VNC server → browser.
        if !self.ws.frame_pending() {
            progress |= self.read_from_vnc(cx)?;
        }
        if self.ws.wants_write() {
            match self.ws.poll_write(cx) {
                Poll::Ready(Ok(())) => {
                    self.browser_blocked_since = None;
                    self.end_of_frame();
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(browser(EndKind::Failed(e))),
                Poll::Pending => {
                    self.browser_blocked_since.get_or_insert_with(Instant::now);
                }
            }
        }
        Ok(progress)
    }

    /// Takes the next data from the browser's frames (reading more if none is buffered).
    fn take_from_browser(&mut self, cx: &mut Context<'_>) -> Result<bool, SessionEnd> {
        loop {
            match self.ws.next_event() {
                Ok(Some(Event::Data(d))) => {
                    self.to_vnc = self.filter(d)?;
                    return Ok(true);
                }
                Ok(Some(Event::Close(_))) => return Err(browser(EndKind::Closed)),
                Ok(Some(Event::Ping(_) | Event::Pong)) => continue,
                Err(e) => return Err(browser(EndKind::Protocol(e))),
                Ok(None) => {}
            }
            return match self.ws.poll_fill(cx) {
                Poll::Ready(Ok(0)) => Err(browser(EndKind::Closed)),
                Poll::Ready(Ok(_)) => continue,
                Poll::Ready(Err(e)) => Err(browser(EndKind::Failed(e))),
                Poll::Pending => Ok(false),
            };
        }
    }

    /// Reads what the VNC server has and makes it the next frame.
    fn read_from_vnc(&mut self, cx: &mut Context<'_>) -> Result<bool, SessionEnd> {
        let n = match self.poll_read_vnc(cx) {
            Poll::Ready(Ok(0)) => return Err(vnc(EndKind::Closed)),
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Err(vnc(EndKind::Failed(e))),
            Poll::Pending => return Ok(false),
        };
        self.heard_from_vnc = true;
        self.counters.to_browser.fetch_add(n as u64, Ordering::Relaxed);
        self.full = n >= self.chunk;
        if self.full {
            self.chunk = (self.chunk * 2).min(READ_CHUNK);
        } else if n < self.chunk / 4 {
            self.chunk = (self.chunk / 2).max(FIRST_READ_CHUNK);
        }
        let payload = self.rbuf.split();
        if let Some(sniff) = &mut self.sniff {
            if !sniff.feed(&payload) {
                self.offer = self.sniff.take();
            }
        }
        self.ws.start_frame(payload);
        Ok(true)
    }

    fn poll_read_vnc(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        ready!(self.vnc.poll_read_ready(cx))?;
        self.rbuf.reserve(self.chunk);
        tokio_util::io::poll_read_buf(Pin::new(&mut self.vnc), cx, &mut self.rbuf)
    }

    /// After a frame went out whole: unless a burst goes on, the read buffer is freed (the next
    /// read allocates once there is something to read); during a burst the next `reserve`
    /// reclaims the same allocation.
    fn end_of_frame(&mut self) {
        if !self.full {
            self.rbuf = BytesMut::new();
        }
    }

    /// The relay's clock: the earliest of its deadlines, re-armed lazily (moving a deadline later
    /// does not touch the timer; it fires early and is re-armed).
    fn poll_clock(&mut self, cx: &mut Context<'_>) -> Poll<SessionEnd> {
        loop {
            let Some(deadline) = self.next_deadline() else { return Poll::Pending };
            if deadline < self.timer.deadline() || self.timer.is_elapsed() {
                self.timer.as_mut().reset(deadline);
            }
            ready!(self.timer.as_mut().poll(cx));
            if let Some(end) = self.expired(Instant::now()) {
                return Poll::Ready(end);
            }
            self.timer.as_mut().reset(far_future());
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let l = &self.limits;
        [
            l.idle.map(|d| self.last_progress + d),
            self.vnc_blocked_since.map(|t| t + l.stall),
            self.browser_blocked_since.map(|t| t + l.stall),
            l.first_bytes.filter(|_| !self.heard_from_vnc).map(|d| self.started + d),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn expired(&self, now: Instant) -> Option<SessionEnd> {
        let l = &self.limits;
        if let Some(d) = l.first_bytes.filter(|d| !self.heard_from_vnc && now >= self.started + *d) {
            return Some(vnc(EndKind::Silent(d)));
        }
        if self.vnc_blocked_since.is_some_and(|t| now >= t + l.stall) {
            return Some(vnc(EndKind::Stalled(l.stall)));
        }
        if self.browser_blocked_since.is_some_and(|t| now >= t + l.stall) {
            return Some(browser(EndKind::Stalled(l.stall)));
        }
        if l.idle.is_some_and(|d| now >= self.last_progress + d) {
            return Some(SessionEnd::policy(Policy::Idle));
        }
        None
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

fn vnc(kind: EndKind) -> SessionEnd {
    SessionEnd::new(Side::VncServer, kind)
}

fn browser(kind: EndKind) -> SessionEnd {
    SessionEnd::new(Side::Browser, kind)
}

mod offer;
#[cfg(test)]
mod tests;
