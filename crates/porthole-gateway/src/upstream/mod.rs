//! The console's side of a session: connecting to the VNC server (TCP, or a socket libvirt hands
//! over) and, with the security proxy on, the RFB security handshake and VeNCrypt's TLS; or opening
//! the guest's serial console (libvirt's console stream, or a TCP chardev). What comes out is one
//! [`VncStream`] the relay runs on.

pub(crate) mod security;

use crate::end::{EndKind, SessionEnd, Side};
use crate::settings::Settings;
use bytes::Bytes;
use porthole_compute::{Inventory, Upstream};
use porthole_tokens::{ConnectInfo, ConsoleType, TokenEndpoint};
use porthole_ws::{Transport, WsConn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected VNC server: plain, or inside TLS (VeNCrypt).
#[derive(Debug)]
pub(crate) enum VncStream {
    /// TCP, with TCP_NODELAY.
    Tcp(TcpStream),
    /// A socket from libvirt, connected straight to QEMU's VNC server.
    Unix(UnixStream),
    /// VeNCrypt X509*: TLS over one of the above.
    Tls(Box<tokio_rustls::client::TlsStream<VncStream>>),
    /// A guest's serial console through libvirt (`virDomainOpenConsole`): no port anywhere.
    Console(porthole_compute::ConsoleStream),
}

impl From<Upstream> for VncStream {
    fn from(up: Upstream) -> Self {
        match up {
            Upstream::Tcp(s) => VncStream::Tcp(s),
            Upstream::Unix(s) => VncStream::Unix(s),
        }
    }
}

/// A connected VNC server, and what the browser sent ahead during the security handshake.
pub(crate) struct Connected {
    /// The server's stream.
    pub vnc: VncStream,
    /// The browser's bytes that came with or after the end of its side of the handshake.
    pub early: Bytes,
    /// The proxy ran the security handshake (so the server's offer needs no sniffing).
    pub secured: bool,
}

/// Connects to the VNC server a token names and, with the security proxy on (always for a
/// view-only session, whose browser must not negotiate with the server), authenticates to it on
/// the browser's behalf (the browser sees security type None).
pub(crate) async fn connect<B: Transport>(
    ws: &mut WsConn<B>,
    info: &ConnectInfo,
    inventory: &dyn Inventory,
    settings: &Settings,
) -> Result<Connected, SessionEnd> {
    let unreachable = |e: String| SessionEnd::new(Side::VncServer, EndKind::Unreachable(e));
    if info.console_type == ConsoleType::Serial {
        let stream = match &info.endpoint {
            TokenEndpoint::ConsoleStream { node } => inventory.open_serial(info.instance_uuid, node).await.map(VncStream::Console),
            TokenEndpoint::Tcp { host, port } => {
                let ep = porthole_compute::Endpoint::tcp(host.clone(), *port);
                inventory.open_console(info.instance_uuid, &ep, settings.connect_timeout).await.map(VncStream::from)
            }
            other => return Err(unreachable(format!("{other} is not a serial console"))),
        };
        return Ok(Connected { vnc: stream.map_err(|e| unreachable(e.to_string()))?, early: Bytes::new(), secured: false });
    }
    let not_vnc = || unreachable(format!("{} is not a VNC endpoint", info.endpoint));
    let ep = crate::endpoint::vnc_endpoint(&info.endpoint).ok_or_else(not_vnc)?;
    let opened = inventory.open_console(info.instance_uuid, &ep, settings.connect_timeout).await;
    let vnc = VncStream::from(opened.map_err(|e| unreachable(e.to_string()))?);
    if !settings.security.enabled() && !info.view_only {
        return Ok(Connected { vnc, early: Bytes::new(), secured: false });
    }
    let password = inventory.vnc_password(info.instance_uuid).await.map(String::into_bytes);
    let server_name = match &ep {
        porthole_compute::Endpoint::Tcp { host, .. } => host.as_str(),
        porthole_compute::Endpoint::GraphicsFd { node } => node.as_str(),
    };
    let (vnc, early) = security::secure(ws, vnc, &settings.security, password, server_name).await.map_err(|e| {
        let side = if e.browser_fault { Side::Browser } else { Side::VncServer };
        SessionEnd::new(side, EndKind::Handshake { cause: e.cause(), log: e.log })
    })?;
    Ok(Connected { vnc, early, secured: true })
}

/// `$e` with `$s` bound to the stream inside.
macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            VncStream::Tcp($s) => $e,
            VncStream::Unix($s) => $e,
            VncStream::Tls($s) => $e,
            VncStream::Console($s) => $e,
        }
    };
}

impl AsyncRead for VncStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for VncStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

impl Transport for VncStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            VncStream::Tcp(s) => s.poll_read_ready(cx),
            VncStream::Unix(s) => s.poll_read_ready(cx),
            // TLS may hold decrypted bytes already, a console stream has its own buffer: let the
            // read itself wait.
            VncStream::Tls(_) | VncStream::Console(_) => Poll::Ready(Ok(())),
        }
    }
}
