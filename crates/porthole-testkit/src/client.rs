//! The client side of RFB 3.8 with security None, over any byte stream; Raw updates only.

use porthole_rfb::messages::encode_update_header;
use porthole_rfb::{ClientMessage, ProtocolVersion, Reader, ServerInit};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// One rectangle of a FramebufferUpdate, with its raw pixel bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub encoding: i32,
    pub pixels: Vec<u8>,
}

/// An RFB client after the handshake.
pub struct RfbClient<S> {
    io: S,
    pub server_init: ServerInit,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RfbClient<S> {
    /// RFB 3.8 handshake with security None and a shared ClientInit.
    pub async fn handshake(io: S) -> std::io::Result<Self> {
        Self::handshake_with(io, true).await
    }

    /// RFB 3.8 handshake with security None; `shared` is ClientInit's flag.
    pub async fn handshake_with(mut io: S, shared: bool) -> std::io::Result<Self> {
        let mut version = [0u8; 12];
        io.read_exact(&mut version).await?;
        ProtocolVersion::read(&mut Reader::new(&version)).map_err(std::io::Error::other)?;
        let mut out = Vec::new();
        ProtocolVersion::V3_8.encode(&mut out);
        io.write_all(&out).await?;
        io.flush().await?;
        let n = io.read_u8().await?;
        if n == 0 {
            let len = io.read_u32().await? as usize;
            let mut reason = vec![0; len.min(4096)];
            io.read_exact(&mut reason).await?;
            return Err(std::io::Error::other(format!("server refused: {}", String::from_utf8_lossy(&reason))));
        }
        let mut types = vec![0; usize::from(n)];
        io.read_exact(&mut types).await?;
        if !types.contains(&1) {
            return Err(std::io::Error::other(format!("no security type None in {types:?}")));
        }
        io.write_all(&[1]).await?;
        io.flush().await?;
        let result = io.read_u32().await?;
        if result != 0 {
            let len = io.read_u32().await? as usize;
            let mut reason = vec![0; len.min(4096)];
            io.read_exact(&mut reason).await?;
            return Err(std::io::Error::other(format!("security result: failed: {}", String::from_utf8_lossy(&reason))));
        }
        io.write_all(&[u8::from(shared)]).await?;
        io.flush().await?;
        let mut head = vec![0u8; 24];
        io.read_exact(&mut head).await?;
        let name_len = u32::from_be_bytes([head[20], head[21], head[22], head[23]]) as usize;
        head.resize(24 + name_len.min(4096), 0);
        io.read_exact(&mut head[24..]).await?;
        let server_init = ServerInit::read(&mut Reader::new(&head)).map_err(std::io::Error::other)?;
        Ok(RfbClient { io, server_init })
    }

    /// Sends one client message.
    pub async fn send(&mut self, msg: &ClientMessage) -> std::io::Result<()> {
        let mut out = Vec::new();
        msg.encode(&mut out);
        self.io.write_all(&out).await?;
        self.io.flush().await
    }

    /// Asks for a rectangle.
    pub async fn request_update(&mut self, incremental: bool, x: u16, y: u16, width: u16, height: u16) -> std::io::Result<()> {
        self.send(&ClientMessage::FramebufferUpdateRequest { incremental, x, y, width, height }).await
    }

    /// Presses and releases a key.
    pub async fn tap_key(&mut self, key: u32) -> std::io::Result<()> {
        self.send(&ClientMessage::KeyEvent { down: true, key }).await?;
        self.send(&ClientMessage::KeyEvent { down: false, key }).await
    }

    /// Reads one FramebufferUpdate (Raw rectangles only, 32 bpp unless `bpp` says otherwise).
    pub async fn read_update(&mut self) -> std::io::Result<Vec<Rect>> {
        let bpp = usize::from(self.server_init.pixel_format.bits_per_pixel / 8).max(1);
        let mut head = [0u8; 4];
        self.io.read_exact(&mut head).await?;
        let mut expected = Vec::new();
        encode_update_header(&mut expected, 0);
        if head[0] != expected[0] {
            return Err(std::io::Error::other(format!("expected a FramebufferUpdate, got message type {}", head[0])));
        }
        let n = u16::from_be_bytes([head[2], head[3]]);
        let mut rects = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let x = self.io.read_u16().await?;
            let y = self.io.read_u16().await?;
            let width = self.io.read_u16().await?;
            let height = self.io.read_u16().await?;
            let encoding = self.io.read_i32().await?;
            if encoding != 0 {
                return Err(std::io::Error::other(format!("encoding {encoding} is not Raw")));
            }
            let mut pixels = vec![0; usize::from(width) * usize::from(height) * bpp];
            self.io.read_exact(&mut pixels).await?;
            rects.push(Rect { x, y, width, height, encoding, pixels });
        }
        Ok(rects)
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.io
    }
}
