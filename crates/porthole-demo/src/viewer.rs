//! One client of the demo: the test screen in the pixel format it asked for, a full update when
//! it asks for one, and an incremental one once a key it typed has changed something.

use crate::screen::{Rect, Screen};
use crate::{Error, Result, ServerConnection};
use porthole_rfb::messages::{encode_raw_rect_header, encode_update_header};
use porthole_rfb::{ClientMessage, PixelFormat};
use tokio::io::{AsyncRead, AsyncWrite};

/// The demo's side of one connection, after the handshake.
pub(crate) struct Viewer<S> {
    conn: ServerConnection<S>,
    screen: Screen,
    format: PixelFormat,
    /// An incremental update request waiting for something to change.
    pending: Option<Rect>,
    out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Viewer<S> {
    pub(crate) fn new(conn: ServerConnection<S>) -> Self {
        Viewer { conn, screen: Screen::new(), format: PixelFormat::rgbx8888(), pending: None, out: Vec::new() }
    }

    /// Serves the client until it leaves.
    pub(crate) async fn run(mut self) -> Result<()> {
        while let Some(msg) = self.conn.read_message().await? {
            self.handle(msg).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: ClientMessage) -> Result<()> {
        match msg {
            ClientMessage::SetPixelFormat(pf) => {
                if pf.bytes_per_pixel().is_none() {
                    return Err(Error::UnsupportedPixelFormat);
                }
                self.format = pf;
            }
            ClientMessage::FramebufferUpdateRequest { incremental, x, y, width, height } => {
                let Some(want) = Screen::full().intersect(&Rect { x, y, w: width, h: height }) else {
                    return Ok(());
                };
                if !incremental {
                    self.screen.take_dirty();
                    return self.send(want).await;
                }
                self.pending = Some(want);
                self.flush_pending().await?;
            }
            ClientMessage::KeyEvent { down: true, key } => {
                self.screen.key(key);
                self.flush_pending().await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn flush_pending(&mut self) -> Result<()> {
        // Only take the changed region when a request waits for it: a change made while an update
        // is on its way stays dirty until the next request.
        let Some(want) = self.pending else { return Ok(()) };
        let Some(dirty) = self.screen.take_dirty() else { return Ok(()) };
        self.pending = None;
        match want.intersect(&dirty) {
            Some(r) => self.send(r).await,
            None => Ok(()),
        }
    }

    async fn send(&mut self, r: Rect) -> Result<()> {
        let bpp = self.format.bytes_per_pixel().unwrap_or(4);
        self.out.clear();
        self.out.reserve(16 + usize::from(r.w) * usize::from(r.h) * bpp);
        encode_update_header(&mut self.out, 1);
        encode_raw_rect_header(&mut self.out, r.x, r.y, r.w, r.h);
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                self.format.put_pixel(&mut self.out, self.screen.pixel(x, y));
            }
        }
        self.conn.write_all(&self.out).await
    }
}
