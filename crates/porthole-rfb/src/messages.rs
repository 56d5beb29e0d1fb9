//! RFB messages: ProtocolVersion, PixelFormat, ServerInit, client-to-server messages, and the
//! server-to-client encoders a VNC server needs (security list, SecurityResult, FramebufferUpdate).

use crate::codec::{put_i32, put_u16, put_u32, Reader};
use crate::{Error, InvalidMessage, Result};

/// Longest desktop name accepted in a ServerInit.
pub const MAX_NAME_LEN: usize = 4096;
/// Longest cut text accepted from a client.
pub const MAX_CUT_TEXT_LEN: usize = 1 << 20;
/// Most encodings accepted in one SetEncodings.
pub const MAX_ENCODINGS: usize = 1024;

/// `RFB xxx.yyy\n`: 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolVersion {
    /// Major version (3).
    pub major: u16,
    /// Minor version (3, 7 or 8).
    pub minor: u16,
}

impl ProtocolVersion {
    /// RFB 3.8, the only version the proxy speaks.
    pub const V3_8: ProtocolVersion = ProtocolVersion { major: 3, minor: 8 };

    /// Decodes the 12-byte version line.
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let b = r.take(12)?;
        let digits = |s: &[u8]| -> Option<u16> {
            s.iter().all(u8::is_ascii_digit).then(|| s.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0')))
        };
        if &b[..4] != b"RFB " || b[7] != b'.' || b[11] != b'\n' {
            return Err(InvalidMessage::BadVersion.into());
        }
        match (digits(&b[4..7]), digits(&b[8..11])) {
            (Some(major), Some(minor)) => Ok(ProtocolVersion { major, minor }),
            _ => Err(InvalidMessage::BadVersion.into()),
        }
    }

    /// Encodes the version line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("RFB {:03}.{:03}\n", self.major % 1000, self.minor % 1000).as_bytes());
    }
}

/// How pixels are laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// Bits per pixel: 8, 16 or 32.
    pub bits_per_pixel: u8,
    /// Useful bits.
    pub depth: u8,
    /// Multi-byte pixels are big-endian.
    pub big_endian: bool,
    /// True colour (the only kind supported here).
    pub true_colour: bool,
    /// Maximum red value.
    pub red_max: u16,
    /// Maximum green value.
    pub green_max: u16,
    /// Maximum blue value.
    pub blue_max: u16,
    /// Red shift.
    pub red_shift: u8,
    /// Green shift.
    pub green_shift: u8,
    /// Blue shift.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// 32 bpp, depth 24, little-endian, red in the low byte: what noVNC asks for.
    pub fn rgbx8888() -> Self {
        PixelFormat {
            bits_per_pixel: 32,
            depth: 24,
            big_endian: false,
            true_colour: true,
            red_max: 255,
            green_max: 255,
            blue_max: 255,
            red_shift: 0,
            green_shift: 8,
            blue_shift: 16,
        }
    }

    /// Decodes the 16-byte pixel format.
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let pf = PixelFormat {
            bits_per_pixel: r.u8()?,
            depth: r.u8()?,
            big_endian: r.u8()? != 0,
            true_colour: r.u8()? != 0,
            red_max: r.u16()?,
            green_max: r.u16()?,
            blue_max: r.u16()?,
            red_shift: r.u8()?,
            green_shift: r.u8()?,
            blue_shift: r.u8()?,
        };
        r.skip(3)?;
        Ok(pf)
    }

    /// Encodes the 16-byte pixel format.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.bits_per_pixel, self.depth, u8::from(self.big_endian), u8::from(self.true_colour)]);
        put_u16(out, self.red_max);
        put_u16(out, self.green_max);
        put_u16(out, self.blue_max);
        out.extend_from_slice(&[self.red_shift, self.green_shift, self.blue_shift, 0, 0, 0]);
    }

    /// Bytes per pixel, if the format is one a server here can produce.
    pub fn bytes_per_pixel(&self) -> Option<usize> {
        let ok_shift = |s: u8| u32::from(s) < u32::from(self.bits_per_pixel);
        match self.bits_per_pixel {
            8 | 16 | 32 if self.true_colour && ok_shift(self.red_shift) && ok_shift(self.green_shift) && ok_shift(self.blue_shift) => {
                Some(usize::from(self.bits_per_pixel / 8))
            }
            _ => None,
        }
    }

    /// Appends one pixel of 8-bit `r, g, b` in this format. Call only when
    /// [`bytes_per_pixel`](Self::bytes_per_pixel) is `Some`.
    pub fn put_pixel(&self, out: &mut Vec<u8>, (r, g, b): (u8, u8, u8)) {
        let scale = |v: u8, max: u16| u32::from(v) * u32::from(max) / 255;
        let v = (scale(r, self.red_max) << self.red_shift)
            | (scale(g, self.green_max) << self.green_shift)
            | (scale(b, self.blue_max) << self.blue_shift);
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(v as u8),
            (16, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&v.to_le_bytes()),
            (_, true) => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// The server's first message after security: size, pixel format and desktop name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The server's pixel format.
    pub pixel_format: PixelFormat,
    /// Desktop name (capped at [`MAX_NAME_LEN`]).
    pub name: Vec<u8>,
}

impl ServerInit {
    /// Decodes a ServerInit.
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let width = r.u16()?;
        let height = r.u16()?;
        let pixel_format = PixelFormat::read(r)?;
        let len = r.u32()? as usize;
        if len > MAX_NAME_LEN {
            return Err(InvalidMessage::MessageTooLarge { what: "desktop name", len, max: MAX_NAME_LEN }.into());
        }
        Ok(ServerInit { width, height, pixel_format, name: r.take(len)?.to_vec() })
    }

    /// Encodes a ServerInit.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.width);
        put_u16(out, self.height);
        self.pixel_format.encode(out);
        put_u32(out, self.name.len() as u32);
        out.extend_from_slice(&self.name);
    }
}

/// A message from client to server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// Use this pixel format from now on.
    SetPixelFormat(PixelFormat),
    /// Encodings the client accepts, in preference order.
    SetEncodings(Vec<i32>),
    /// Send (the changed part of) this rectangle.
    FramebufferUpdateRequest {
        /// Only changes are wanted.
        incremental: bool,
        /// Left.
        x: u16,
        /// Top.
        y: u16,
        /// Width.
        width: u16,
        /// Height.
        height: u16,
    },
    /// A key went down or up.
    KeyEvent {
        /// Pressed (true) or released.
        down: bool,
        /// X11 keysym.
        key: u32,
    },
    /// The pointer moved or a button changed.
    PointerEvent {
        /// Button mask.
        buttons: u8,
        /// X.
        x: u16,
        /// Y.
        y: u16,
    },
    /// Latin-1 clipboard text.
    ClientCutText(Vec<u8>),
}

impl ClientMessage {
    /// Decodes one client message.
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        match r.u8()? {
            0 => {
                r.skip(3)?;
                Ok(ClientMessage::SetPixelFormat(PixelFormat::read(r)?))
            }
            2 => {
                r.skip(1)?;
                let n = usize::from(r.u16()?);
                if n > MAX_ENCODINGS {
                    return Err(InvalidMessage::MessageTooLarge { what: "encoding list", len: n, max: MAX_ENCODINGS }.into());
                }
                let list = r.take(n * 4)?;
                Ok(ClientMessage::SetEncodings(list.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()))
            }
            3 => Ok(ClientMessage::FramebufferUpdateRequest {
                incremental: r.u8()? != 0,
                x: r.u16()?,
                y: r.u16()?,
                width: r.u16()?,
                height: r.u16()?,
            }),
            4 => {
                let down = r.u8()? != 0;
                r.skip(2)?;
                Ok(ClientMessage::KeyEvent { down, key: r.u32()? })
            }
            5 => Ok(ClientMessage::PointerEvent { buttons: r.u8()?, x: r.u16()?, y: r.u16()? }),
            6 => {
                r.skip(3)?;
                let len = r.u32()? as usize;
                if len > MAX_CUT_TEXT_LEN {
                    return Err(InvalidMessage::MessageTooLarge { what: "cut text", len, max: MAX_CUT_TEXT_LEN }.into());
                }
                Ok(ClientMessage::ClientCutText(r.take(len)?.to_vec()))
            }
            t => Err(Error::InvalidMessage(InvalidMessage::UnknownMessageType(t))),
        }
    }

    /// Encodes the message as a client sends it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ClientMessage::SetPixelFormat(pf) => {
                out.extend_from_slice(&[0, 0, 0, 0]);
                pf.encode(out);
            }
            ClientMessage::SetEncodings(list) => {
                out.extend_from_slice(&[2, 0]);
                put_u16(out, list.len() as u16);
                list.iter().for_each(|e| put_i32(out, *e));
            }
            ClientMessage::FramebufferUpdateRequest { incremental, x, y, width, height } => {
                out.extend_from_slice(&[3, u8::from(*incremental)]);
                [*x, *y, *width, *height].iter().for_each(|v| put_u16(out, *v));
            }
            ClientMessage::KeyEvent { down, key } => {
                out.extend_from_slice(&[4, u8::from(*down), 0, 0]);
                put_u32(out, *key);
            }
            ClientMessage::PointerEvent { buttons, x, y } => {
                out.extend_from_slice(&[5, *buttons]);
                put_u16(out, *x);
                put_u16(out, *y);
            }
            ClientMessage::ClientCutText(text) => {
                out.extend_from_slice(&[6, 0, 0, 0]);
                put_u32(out, text.len() as u32);
                out.extend_from_slice(text);
            }
        }
    }
}

/// Server side of RFB 3.8 security negotiation: the list of offered types.
pub fn encode_security_types(out: &mut Vec<u8>, types: &[u8]) {
    out.push(types.len() as u8);
    out.extend_from_slice(types);
}

/// SecurityResult: 0 OK, otherwise failed with a reason (RFB 3.8).
pub fn encode_security_result(out: &mut Vec<u8>, failure: Option<&str>) {
    match failure {
        None => put_u32(out, 0),
        Some(reason) => {
            put_u32(out, 1);
            put_u32(out, reason.len() as u32);
            out.extend_from_slice(reason.as_bytes());
        }
    }
}

/// The header of a FramebufferUpdate with `rects` rectangles.
pub fn encode_update_header(out: &mut Vec<u8>, rects: u16) {
    out.extend_from_slice(&[0, 0]);
    put_u16(out, rects);
}

/// The header of one Raw-encoded rectangle; `w * h` pixels follow.
pub fn encode_raw_rect_header(out: &mut Vec<u8>, x: u16, y: u16, w: u16, h: u16) {
    [x, y, w, h].iter().for_each(|v| put_u16(out, *v));
    put_i32(out, 0);
}

#[cfg(test)]
mod tests;
