//! One browser's WebSocket after the upgrade: the frame reader, the data frame on its way out, and
//! frames queued behind it (pongs, close, the messages of the phases before the relay).
//!
//! The relay drives it with a small poll API ([`WsConn::poll_fill`], [`WsConn::next_event`],
//! [`WsConn::start_frame`], [`WsConn::poll_write`]), so that it can watch both peers and every
//! policy in one loop; the phases before the relay use the async helpers ([`WsConn::recv_data`],
//! [`WsConn::send_binary`], [`WsConn::close`]).

use crate::frame::{encode_close, encode_frame, opcode, server_header, Event, FrameReader, ProtocolError};
use crate::Transport;
use bytes::{Buf as _, Bytes, BytesMut};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Bytes read from the browser at a time (it sends input events: little).
pub const BROWSER_READ_CHUNK: usize = 8 * 1024;

/// Frames queued beyond this stop the relay reading from the browser until they are written, so a
/// browser that pings without reading cannot make the queue grow.
pub const MAX_QUEUED: usize = 64 * 1024;

/// What can go wrong on a browser's WebSocket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The browser sent something RFC 6455 forbids.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
}

/// The data frame on its way to the browser: its header, then its payload.
#[derive(Debug, Default)]
struct Outgoing {
    header: [u8; 10],
    header_len: usize,
    header_done: usize,
    payload: BytesMut,
}

impl Outgoing {
    fn pending(&self) -> bool {
        self.header_done < self.header_len || !self.payload.is_empty()
    }
}

/// A browser's WebSocket connection, server side, over any [`Transport`].
#[derive(Debug)]
pub struct WsConn<S> {
    io: S,
    reader: FrameReader,
    frame: Outgoing,
    /// Whole frames waiting behind `frame`.
    queued: BytesMut,
    /// A close frame was queued: nothing more is queued after it.
    close_sent: bool,
    eof: bool,
    /// Bytes were written since the last flush. A TLS stream may hold records the socket did
    /// not take at once, and sends them only when flushed (or written to again); a plain
    /// socket's flush costs nothing.
    unflushed: bool,
}

impl<S: Transport> WsConn<S> {
    /// Takes over an upgraded connection; `read_ahead` are bytes read along with the request.
    pub fn new(io: S, read_ahead: Bytes) -> Self {
        WsConn {
            io,
            reader: FrameReader::new(BytesMut::from(&read_ahead[..])),
            frame: Outgoing::default(),
            queued: BytesMut::new(),
            close_sent: false,
            eof: false,
            unflushed: false,
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Reads more of the browser's bytes into the frame reader: `Ready(Ok(0))` at end of stream.
    /// An idle connection waits for readiness without holding a read buffer.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.eof {
            return Poll::Ready(Ok(0));
        }
        ready!(self.io.poll_read_ready(cx))?;
        self.reader.buf.reserve(BROWSER_READ_CHUNK);
        let n = ready!(tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.reader.buf))?;
        if n == 0 {
            self.eof = true;
        }
        Poll::Ready(Ok(n))
    }

    /// The next event in what was read, `Ok(None)` if more must be read first. Pings are answered
    /// and a close is echoed here; a protocol error queues a 1002 close.
    pub fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        match self.reader.next_event() {
            Ok(Some(event)) => {
                self.answer(&event);
                Ok(Some(event))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.queue_close(crate::close_code::PROTOCOL_ERROR, &e.to_string());
                Err(e)
            }
        }
    }

    fn answer(&mut self, event: &Event) {
        match event {
            Event::Ping(p) if !self.close_sent => encode_frame(&mut self.queued, opcode::PONG, p),
            Event::Close(c) if !self.close_sent => {
                self.close_sent = true;
                match c {
                    Some((code, _)) => encode_close(&mut self.queued, *code, ""),
                    None => encode_frame(&mut self.queued, opcode::CLOSE, &[]),
                }
            }
            _ => {}
        }
    }

    /// Whether the browser's stream ended.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Bytes of whole frames waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Whether a data frame is part-way out.
    pub fn frame_pending(&self) -> bool {
        self.frame.pending()
    }

    /// Whether anything waits to be written (or flushed).
    pub fn wants_write(&self) -> bool {
        self.has_bytes() || self.unflushed
    }

    fn has_bytes(&self) -> bool {
        self.frame.pending() || !self.queued.is_empty()
    }

    /// Makes `payload` the next binary frame, written by [`poll_write`](Self::poll_write) with its
    /// header in one vectored write (no copy). Call it when no frame is pending; otherwise the
    /// payload is copied into the queue behind the pending one.
    pub fn start_frame(&mut self, payload: BytesMut) {
        if self.close_sent || payload.is_empty() {
            return;
        }
        if self.frame.pending() {
            encode_frame(&mut self.queued, opcode::BINARY, &payload);
            return;
        }
        let (header, used) = server_header(opcode::BINARY, payload.len());
        self.frame = Outgoing { header, header_len: used, header_done: 0, payload };
    }

    /// Queues a binary frame (copying `data`).
    pub fn queue_binary(&mut self, data: &[u8]) {
        if !self.close_sent {
            encode_frame(&mut self.queued, opcode::BINARY, data);
        }
    }

    /// Queues a close frame with `code` and `reason` (cut to fit); nothing is queued after it.
    pub fn queue_close(&mut self, code: u16, reason: &str) {
        if !self.close_sent {
            self.close_sent = true;
            encode_close(&mut self.queued, code, reason);
        }
    }

    /// Writes the pending frame, then the queued ones; `Ready(Ok(()))` once all is out.
    pub fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.has_bytes() {
            let f = &self.frame;
            let bufs = [IoSlice::new(&f.header[f.header_done..f.header_len]), IoSlice::new(&f.payload), IoSlice::new(&self.queued)];
            let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            self.consume_written(n);
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    fn consume_written(&mut self, mut n: usize) {
        let f = &mut self.frame;
        let from_header = n.min(f.header_len - f.header_done);
        f.header_done += from_header;
        n -= from_header;
        let from_payload = n.min(f.payload.len());
        f.payload.advance(from_payload);
        n -= from_payload;
        if !f.pending() {
            // The buffer goes back to its owner's allocation (see `BytesMut::reserve`).
            f.payload = BytesMut::new();
        }
        self.queued.advance(n);
    }

    /// Shuts down the write side of the stream.
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    /// The next data from the browser (a piece of a message): `Ok(None)` when it closed or left.
    /// Control frames are answered along the way.
    pub async fn recv_data(&mut self) -> Result<Option<Bytes>, WsError> {
        loop {
            let event = self.next_event()?;
            if self.wants_write() {
                // Pongs go out as soon as the socket takes them; a full socket is tried again later,
                // and a browser that pings without reading is waited for once the queue is long.
                if self.queued.len() >= MAX_QUEUED {
                    poll_fn(|cx| self.poll_write(cx)).await?;
                } else if let Poll::Ready(Err(e)) = poll_fn(|cx| Poll::Ready(self.poll_write(cx))).await {
                    return Err(e.into());
                }
            }
            match event {
                Some(Event::Data(d)) => return Ok(Some(d)),
                Some(Event::Close(_)) => return Ok(None),
                Some(Event::Ping(_) | Event::Pong) => continue,
                None => {}
            }
            if poll_fn(|cx| self.poll_fill(cx)).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Sends one binary frame and waits until it is written.
    pub async fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        self.queue_binary(data);
        poll_fn(|cx| self.poll_write(cx)).await
    }

    /// Sends a close frame (unless one was sent) and shuts the stream down.
    pub async fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        self.queue_close(code, reason);
        poll_fn(|cx| self.poll_write(cx)).await?;
        poll_fn(|cx| self.poll_shutdown(cx)).await
    }
}

#[cfg(test)]
mod tests;
