//! WebSocket framing (RFC 6455 §5) as a console relay needs it: browser frames are parsed as a
//! byte stream (data payloads are handed on as they arrive, never reassembled into messages), and
//! server frames are only ever a header written in front of a payload the caller already holds.
//!
//! Browser input is hostile: every header field is checked, lengths are never trusted for
//! allocation, and nothing here panics on any input (fuzzed by `fuzz/fuzz_targets/ws_frames.rs`).

use bytes::{Buf as _, Bytes, BytesMut};

/// Frame opcodes.
pub mod opcode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// Text data.
    pub const TEXT: u8 = 0x1;
    /// Binary data.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// Largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a browser's bytes amount to, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Payload bytes of a text or binary message, unmasked (a piece of a frame, or a whole one).
    Data(Bytes),
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong (unsolicited or not): nothing to do.
    Pong,
    /// The browser closes: its status code and reason, if it sent them.
    Close(Option<(u16, String)>),
}

/// Why a browser's frames are refused; the connection is then closed with 1002 (protocol error).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// RSV1–3 set without an extension that defines them.
    #[error("reserved bits set in a WebSocket frame")]
    Reserved,
    /// An opcode RFC 6455 does not define.
    #[error("unknown WebSocket opcode {0:#x}")]
    Opcode(u8),
    /// Browsers must mask every frame (§5.1).
    #[error("unmasked WebSocket frame from the browser")]
    Unmasked,
    /// A control frame fragmented or over 125 bytes.
    #[error("malformed WebSocket control frame")]
    Control,
    /// A 64-bit length with the top bit set.
    #[error("WebSocket frame length out of range")]
    Length,
    /// A continuation with nothing to continue, or a new message inside a fragmented one.
    #[error("WebSocket fragments out of order")]
    Fragments,
    /// A close frame with a one-byte body, a reserved code or a reason that is not UTF-8.
    #[error("malformed WebSocket close frame")]
    Close,
}

/// The header of a frame being read.
#[derive(Clone, Copy, Debug)]
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
}

/// Parses a browser's frames out of the bytes read so far ([`FrameReader::buf`]).
#[derive(Debug, Default)]
pub struct FrameReader {
    /// Bytes read from the socket and not yet parsed.
    pub buf: BytesMut,
    /// The data frame whose payload is being handed on: its header and how much of it is done.
    current: Option<(Header, u64)>,
    /// Inside a fragmented message (a data frame without FIN was seen).
    in_message: bool,
    /// A close frame was parsed: nothing after it counts.
    closed: bool,
}

impl FrameReader {
    /// A reader that starts with `buf` (bytes read along with the HTTP request).
    pub fn new(buf: BytesMut) -> Self {
        FrameReader { buf, ..FrameReader::default() }
    }

    /// The next event from the bytes buffered, `Ok(None)` if more must be read first.
    pub fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            if self.closed {
                return Ok(None);
            }
            if let Some((header, done)) = self.current {
                let left = header.len - done;
                if left == 0 {
                    self.current = None;
                    continue;
                }
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(self.buf.len());
                let mut chunk = self.buf.split_to(take);
                unmask(&mut chunk, header.mask, done);
                let done = done + take as u64;
                self.current = if done == header.len { None } else { Some((header, done)) };
                return Ok(Some(Event::Data(chunk.freeze())));
            }
            let Some((header, header_len)) = parse_header(&self.buf)? else { return Ok(None) };
            match header.opcode {
                opcode::TEXT | opcode::BINARY | opcode::CONTINUATION => {
                    let continuation = header.opcode == opcode::CONTINUATION;
                    if continuation != self.in_message {
                        return Err(ProtocolError::Fragments);
                    }
                    self.in_message = !header.fin;
                    self.buf.advance(header_len);
                    self.current = Some((header, 0));
                }
                _ => {
                    // Control frames are small: wait until the whole frame is here.
                    let len = header.len as usize; // ≤ 125, checked by parse_header
                    if self.buf.len() < header_len + len {
                        return Ok(None);
                    }
                    self.buf.advance(header_len);
                    let mut payload = self.buf.split_to(len);
                    unmask(&mut payload, header.mask, 0);
                    return match header.opcode {
                        opcode::PING => Ok(Some(Event::Ping(payload.freeze()))),
                        opcode::PONG => Ok(Some(Event::Pong)),
                        _ => {
                            self.closed = true;
                            parse_close(&payload).map(|c| Some(Event::Close(c)))
                        }
                    };
                }
            }
        }
    }
}

/// Parses a frame header; `Ok(None)` if `buf` does not hold all of it yet.
fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, ProtocolError> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(ProtocolError::Reserved);
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    match opcode {
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY | opcode::CLOSE | opcode::PING | opcode::PONG => {}
        other => return Err(ProtocolError::Opcode(other)),
    }
    if b1 & 0x80 == 0 {
        return Err(ProtocolError::Unmasked);
    }
    let (len, at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(b);
                (u64::from_be_bytes(be), 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if len > i64::MAX as u64 {
        return Err(ProtocolError::Length);
    }
    if opcode >= opcode::CLOSE && (!fin || len > MAX_CONTROL_PAYLOAD as u64) {
        return Err(ProtocolError::Control);
    }
    let Some(m) = buf.get(at..at + 4) else { return Ok(None) };
    Ok(Some((Header { fin, opcode, mask: [m[0], m[1], m[2], m[3]], len }, at + 4)))
}

/// A close frame's body: empty, or a status code and a UTF-8 reason (§5.5.1, §7.4).
fn parse_close(body: &[u8]) -> Result<Option<(u16, String)>, ProtocolError> {
    match body {
        [] => Ok(None),
        [_] => Err(ProtocolError::Close),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            let reason = std::str::from_utf8(reason).map_err(|_| ProtocolError::Close)?;
            if valid {
                Ok(Some((code, reason.to_owned())))
            } else {
                Err(ProtocolError::Close)
            }
        }
    }
}

/// XORs `data` with the masking key, `offset` bytes into the frame's payload.
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let key = [mask[shift], mask[(shift + 1) % 4], mask[(shift + 2) % 4], mask[(shift + 3) % 4]];
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(key) {
        *b ^= k;
    }
}

/// A server frame's header (FIN set, no mask) for a payload of `len` bytes; returns the header
/// and how many of its bytes are used.
pub fn server_header(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x80 | (opcode & 0x0F);
    let used = if len < 126 {
        h[1] = len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (h, used)
}

/// Appends a whole server frame (header and payload) to `out`.
pub fn encode_frame(out: &mut BytesMut, opcode: u8, payload: &[u8]) {
    let (h, used) = server_header(opcode, payload.len());
    out.extend_from_slice(&h[..used]);
    out.extend_from_slice(payload);
}

/// Appends a close frame with `code` and `reason` (cut to fit a control frame) to `out`.
pub fn encode_close(out: &mut BytesMut, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut body = Vec::with_capacity(2 + end);
    body.extend_from_slice(&code.to_be_bytes());
    body.extend_from_slice(&reason.as_bytes()[..end]);
    encode_frame(out, opcode::CLOSE, &body);
}

#[cfg(test)]
mod tests;
