//! A browser's WebSocket after the upgrade: the TCP connection itself (the relay splices into it),
//! the frame reader, and frames waiting to be written. As a `Stream` and `Sink` of messages it
//! serves the phases before the relay (the security handshake, refusals).

use super::frame::{encode_close, encode_frame, opcode, Event, FrameReader, ProtocolError};
use axum::extract::ws::{CloseFrame, Message};
use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite as _;
use tokio::net::TcpStream;

/// Bytes read from the browser at a time (it sends input events: little).
pub const BROWSER_READ_CHUNK: usize = 8 * 1024;

/// Control frames (pongs) queued beyond this stop reading from the browser until they are written,
/// so a browser that pings without reading cannot make the queue grow.
pub const MAX_QUEUED: usize = 64 * 1024;

/// Close code for a browser that broke the protocol.
pub const PROTOCOL_ERROR: u16 = 1002;

/// What can go wrong on a browser's WebSocket.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The browser sent something RFC 6455 forbids.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
}

/// A browser's WebSocket connection, server side.
#[derive(Debug)]
pub struct WsConn {
    /// The connection (after the HTTP upgrade).
    pub(crate) tcp: TcpStream,
    /// Frames from the browser.
    pub(crate) reader: FrameReader,
    /// Frames waiting to be written (control frames, messages of the phases before the relay).
    pub(crate) wbuf: BytesMut,
    /// A close frame was queued: nothing more is written.
    pub(crate) close_sent: bool,
    /// A frame was cut off mid-way: no further frame can be written, only the connection closed.
    pub(crate) broken: bool,
    eof: bool,
}

impl WsConn {
    /// Takes over an upgraded connection; `read_ahead` are bytes read along with the request.
    pub fn new(tcp: TcpStream, read_ahead: Bytes) -> Self {
        WsConn {
            tcp,
            reader: FrameReader::new(BytesMut::from(&read_ahead[..])),
            wbuf: BytesMut::new(),
            close_sent: false,
            broken: false,
            eof: false,
        }
    }

    /// Reacts to an event from the browser as the protocol requires (pong, close echo).
    pub(crate) fn answer(&mut self, event: &Event) {
        match event {
            Event::Ping(p) if !self.close_sent => encode_frame(&mut self.wbuf, opcode::PONG, p),
            Event::Close(c) if !self.close_sent => {
                self.close_sent = true;
                match c {
                    Some((code, _)) => encode_close(&mut self.wbuf, *code, ""),
                    None => encode_frame(&mut self.wbuf, opcode::CLOSE, &[]),
                }
            }
            _ => {}
        }
    }

    /// Queues a close frame for a protocol error.
    pub(crate) fn refuse(&mut self, e: &ProtocolError) {
        if !self.close_sent {
            self.close_sent = true;
            encode_close(&mut self.wbuf, PROTOCOL_ERROR, &e.to_string());
        }
    }

    /// Reads what the socket has into the frame reader: `Ok(0)` at end of stream.
    pub(crate) fn try_read(&mut self) -> io::Result<usize> {
        self.reader.buf.reserve(BROWSER_READ_CHUNK);
        self.tcp.try_read_buf(&mut self.reader.buf)
    }

    fn poll_write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.wbuf.is_empty() {
            if self.broken {
                self.wbuf.clear();
                break;
            }
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.wbuf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wbuf.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl Stream for WsConn {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.wbuf.len() >= MAX_QUEUED {
                ready!(this.poll_write_pending(cx))?;
            } else if !this.wbuf.is_empty() {
                // Pongs go out as soon as the socket takes them; a full socket waits for the next call.
                if let Poll::Ready(Err(e)) = this.poll_write_pending(cx) {
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            match this.reader.next_event() {
                Err(e) => {
                    this.refuse(&e);
                    return Poll::Ready(Some(Err(e.into())));
                }
                Ok(Some(event)) => {
                    this.answer(&event);
                    let msg = match event {
                        Event::Data(b) => Message::Binary(b),
                        Event::Ping(p) => Message::Ping(p),
                        Event::Pong => Message::Pong(Bytes::new()),
                        Event::Close(c) => Message::Close(c.map(|(code, reason)| CloseFrame { code, reason: reason.into() })),
                    };
                    return Poll::Ready(Some(Ok(msg)));
                }
                Ok(None) if this.eof => return Poll::Ready(None),
                Ok(None) => {}
            }
            ready!(this.tcp.poll_read_ready(cx))?;
            match this.try_read() {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
        }
    }
}

impl Sink<Message> for WsConn {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        if this.wbuf.len() >= MAX_QUEUED {
            ready!(this.poll_write_pending(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), WsError> {
        let this = self.get_mut();
        if this.close_sent {
            return Ok(());
        }
        match msg {
            Message::Binary(b) => encode_frame(&mut this.wbuf, opcode::BINARY, &b),
            Message::Text(t) => encode_frame(&mut this.wbuf, opcode::TEXT, t.as_bytes()),
            Message::Ping(p) => encode_frame(&mut this.wbuf, opcode::PING, &p),
            Message::Pong(p) => encode_frame(&mut this.wbuf, opcode::PONG, &p),
            Message::Close(frame) => {
                this.close_sent = true;
                match frame {
                    Some(f) => encode_close(&mut this.wbuf, f.code, &f.reason),
                    None => encode_frame(&mut this.wbuf, opcode::CLOSE, &[]),
                }
            }
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        ready!(this.poll_write_pending(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx).map_err(WsError::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        if !this.close_sent && !this.broken {
            this.close_sent = true;
            encode_frame(&mut this.wbuf, opcode::CLOSE, &[]);
        }
        ready!(this.poll_write_pending(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx).map_err(WsError::from)
    }
}
