//! The built-in demo VNC server (`porthole serve --demo`): RFB 3.8, security None, a test screen
//! that shows the keys typed. It lets a newcomer see a console without any VM.

pub mod screen;

use bytes::{Buf as _, BytesMut};
use porthole_rfb::messages::{encode_raw_rect_header, encode_security_result, encode_security_types, encode_update_header};
use porthole_rfb::{ClientMessage, Error as RfbError, PixelFormat, ProtocolVersion, Reader, ServerInit};
use screen::{Rect, Screen, HEIGHT, WIDTH};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Time a client has to finish the RFB handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running demo server; dropping it stops accepting (open connections end with their clients).
pub struct DemoServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl DemoServer {
    /// Binds `addr` and serves until dropped.
    pub async fn start(addr: SocketAddr) -> io::Result<DemoServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((sock, peer)) => {
                        tokio::spawn(async move {
                            if let Err(e) = serve_viewer(sock).await {
                                tracing::debug!(%peer, cause = %e, "demo viewer left");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(cause = %e, "demo server accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(DemoServer { addr, accept })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve_viewer(mut sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut sock))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))??;
    Viewer { screen: Screen::new(), format: PixelFormat::rgbx8888(), pending: None, out: Vec::new() }.run(sock).await
}

async fn handshake(sock: &mut TcpStream) -> io::Result<()> {
    let mut out = Vec::new();
    ProtocolVersion::V3_8.encode(&mut out);
    sock.write_all(&out).await?;
    let mut line = [0u8; 12];
    sock.read_exact(&mut line).await?;
    let version = ProtocolVersion::read(&mut Reader::new(&line)).map_err(io::Error::other)?;
    out.clear();
    if version.major == 3 && version.minor < 7 {
        out.extend_from_slice(&1u32.to_be_bytes()); // RFB 3.3: the server decides, None
        sock.write_all(&out).await?;
    } else {
        encode_security_types(&mut out, &[1]);
        sock.write_all(&out).await?;
        if sock.read_u8().await? != 1 {
            out.clear();
            encode_security_result(&mut out, Some("only security type None is offered"));
            sock.write_all(&out).await?;
            return Err(io::Error::other("client chose a security type that was not offered"));
        }
        if version.minor >= 8 {
            out.clear();
            encode_security_result(&mut out, None);
            sock.write_all(&out).await?;
        }
    }
    sock.read_u8().await?; // ClientInit: shared or not, all viewers are independent here
    out.clear();
    ServerInit { width: WIDTH, height: HEIGHT, pixel_format: PixelFormat::rgbx8888(), name: b"Porthole demo".to_vec() }.encode(&mut out);
    sock.write_all(&out).await
}

struct Viewer {
    screen: Screen,
    format: PixelFormat,
    /// An incremental update request waiting for something to change.
    pending: Option<Rect>,
    out: Vec<u8>,
}

impl Viewer {
    async fn run(mut self, mut sock: TcpStream) -> io::Result<()> {
        let mut input = BytesMut::with_capacity(1024);
        loop {
            let msg = {
                let mut r = Reader::new(&input);
                match ClientMessage::read(&mut r) {
                    Ok(m) => {
                        let used = r.position();
                        input.advance(used);
                        Some(m)
                    }
                    Err(RfbError::Incomplete) => None,
                    Err(e) => return Err(io::Error::other(e)),
                }
            };
            match msg {
                Some(m) => self.handle(m, &mut sock).await?,
                None => {
                    if sock.read_buf(&mut input).await? == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn handle(&mut self, msg: ClientMessage, sock: &mut TcpStream) -> io::Result<()> {
        match msg {
            ClientMessage::SetPixelFormat(pf) => {
                if pf.bytes_per_pixel().is_none() {
                    return Err(io::Error::other("unsupported pixel format (true colour 8/16/32 bpp only)"));
                }
                self.format = pf;
            }
            ClientMessage::FramebufferUpdateRequest { incremental, x, y, width, height } => {
                let Some(want) = Screen::full().intersect(&Rect { x, y, w: width, h: height }) else {
                    return Ok(());
                };
                if !incremental {
                    self.screen.take_dirty();
                    return self.send(want, sock).await;
                }
                self.pending = Some(want);
                self.flush_pending(sock).await?;
            }
            ClientMessage::KeyEvent { down: true, key } => {
                self.screen.key(key);
                self.flush_pending(sock).await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn flush_pending(&mut self, sock: &mut TcpStream) -> io::Result<()> {
        // Only take the changed region when a request waits for it: a change made while an update
        // is on its way stays dirty until the next request.
        let Some(want) = self.pending else { return Ok(()) };
        let Some(dirty) = self.screen.take_dirty() else { return Ok(()) };
        self.pending = None;
        match want.intersect(&dirty) {
            Some(r) => self.send(r, sock).await,
            None => Ok(()),
        }
    }

    async fn send(&mut self, r: Rect, sock: &mut TcpStream) -> io::Result<()> {
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
        sock.write_all(&self.out).await
    }
}
