//! In-process VNC servers on 127.0.0.1:0 for tests: RFB 3.8 with raw updates (security None or VNC
//! authentication with a random challenge), raw echo, greet-then-close. The RFB one runs the same
//! server handshake as the demo (`porthole_demo::ServerConnection`).

use porthole_demo::{ServerConnection, DEFAULT_HANDSHAKE_TIMEOUT};
use porthole_rfb::handshake::server::Security;
use porthole_rfb::messages::{encode_raw_rect_header, encode_update_header};
use porthole_rfb::{ClientMessage, PixelFormat, ServerInit};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
enum Mode {
    Rfb { width: u16, height: u16, fixed: bool, password: Option<Vec<u8>> },
    Echo,
    GreetThenClose(Vec<u8>),
}

#[derive(Default)]
struct Shared {
    connections: AtomicUsize,
    live: AtomicUsize,
    received: Mutex<Vec<ClientMessage>>,
    shared_flags: Mutex<Vec<bool>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A VNC server in the test process. Dropping it stops it and its connections.
pub struct FakeVncServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FakeVncServer {
    /// RFB 3.8, security None, a `width`×`height` framebuffer; every FramebufferUpdateRequest is
    /// answered at once with one raw rectangle of the requested size (see [`pixel`]).
    pub async fn start(width: u16, height: u16) -> Self {
        Self::spawn(Mode::Rfb { width, height, fixed: false, password: None }).await
    }

    /// Like [`start`](Self::start), but every update of a given rectangle is the same bytes,
    /// computed once: for benchmarks, where the server must cost next to nothing.
    pub async fn start_fixed(width: u16, height: u16) -> Self {
        Self::spawn(Mode::Rfb { width, height, fixed: true, password: None }).await
    }

    /// As [`FakeVncServer::start_fixed`], but offering only VNC authentication (security type 2)
    /// with `password`; a wrong response gets a failed SecurityResult.
    pub async fn start_fixed_with_password(width: u16, height: u16, password: &[u8]) -> Self {
        Self::spawn(Mode::Rfb { width, height, fixed: true, password: Some(password.to_vec()) }).await
    }

    /// Plain TCP: every byte is echoed back.
    pub async fn raw_echo() -> Self {
        Self::spawn(Mode::Echo).await
    }

    /// Plain TCP: writes `greeting`, then closes.
    pub async fn greet_then_close(greeting: Vec<u8>) -> Self {
        Self::spawn(Mode::GreetThenClose(greeting)).await
    }

    async fn spawn(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                sh.connections.fetch_add(1, Ordering::SeqCst);
                sh.live.fetch_add(1, Ordering::SeqCst);
                let (mode, conn_shared) = (mode.clone(), sh.clone());
                let task = tokio::spawn(async move {
                    let _ = serve(sock, mode, &conn_shared).await;
                    conn_shared.live.fetch_sub(1, Ordering::SeqCst);
                });
                sh.tasks.lock().unwrap().push(task);
            }
        });
        FakeVncServer { addr, shared, accept }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn live_connections(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Client messages received so far, over all connections (RFB mode).
    pub fn received(&self) -> Vec<ClientMessage> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The shared flag of each ClientInit, in order (RFB mode).
    pub fn shared_flags(&self) -> Vec<bool> {
        self.shared.shared_flags.lock().unwrap().clone()
    }

    /// Closes every live connection.
    pub fn close_all(&self) {
        for t in self.shared.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for FakeVncServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.close_all();
    }
}

/// The test pattern: the 32-bit pixel at (x, y) of update number `frame`.
pub fn pixel(x: u16, y: u16, frame: u32) -> u32 {
    (u32::from(x) << 16 ^ u32::from(y)).wrapping_mul(2_654_435_761).wrapping_add(frame)
}

async fn serve(mut sock: TcpStream, mode: Mode, shared: &Shared) -> Result<(), porthole_demo::Error> {
    let _ = sock.set_nodelay(true);
    match mode {
        Mode::Echo => {
            let (mut r, mut w) = sock.split();
            tokio::io::copy(&mut r, &mut w).await?;
            Ok(())
        }
        Mode::GreetThenClose(bytes) => {
            sock.write_all(&bytes).await?;
            Ok(sock.shutdown().await?)
        }
        Mode::Rfb { width, height, fixed, password } => {
            let security = match password {
                Some(password) => Security::VncAuth { password, challenge: rand::random() },
                None => Security::None,
            };
            let init = ServerInit { width, height, pixel_format: PixelFormat::rgbx8888(), name: b"fake".to_vec() };
            let conn = ServerConnection::accept(sock, security, init, DEFAULT_HANDSHAKE_TIMEOUT).await?;
            shared.shared_flags.lock().unwrap().push(conn.shared());
            serve_rfb(conn, width, height, fixed, shared).await
        }
    }
}

/// Answers update requests with the test pattern; with `fixed`, a repeated request gets the very
/// bytes of the last answer, computed once.
async fn serve_rfb(
    mut conn: ServerConnection<TcpStream>,
    width: u16,
    height: u16,
    fixed: bool,
    shared: &Shared,
) -> Result<(), porthole_demo::Error> {
    let mut out = Vec::new();
    let mut frame = 0u32;
    let mut cached: Option<(u16, u16, u16, u16)> = None;
    while let Some(msg) = conn.read_message().await? {
        let ClientMessage::FramebufferUpdateRequest { x, y, width: w, height: h, .. } = msg else {
            shared.received.lock().unwrap().push(msg);
            continue;
        };
        let (w, h) = (w.min(width.saturating_sub(x)), h.min(height.saturating_sub(y)));
        if !(fixed && cached == Some((x, y, w, h))) {
            cached = Some((x, y, w, h));
            out.clear();
            out.reserve(16 + usize::from(w) * usize::from(h) * 4);
            encode_update_header(&mut out, 1);
            encode_raw_rect_header(&mut out, x, y, w, h);
            for py in y..y + h {
                for px in x..x + w {
                    out.extend_from_slice(&pixel(px, py, frame).to_le_bytes());
                }
            }
            frame = frame.wrapping_add(1);
        }
        conn.write_all(&out).await?;
    }
    Ok(())
}
