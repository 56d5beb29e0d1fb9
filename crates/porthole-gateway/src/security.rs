//! The RFB security proxy, driven over the real connections: runs
//! [`porthole_rfb::handshake::ProxyHandshake`] between the browser's WebSocket and the VNC
//! server, wraps the server in TLS for VeNCrypt, and hands back a stream for the relay.

mod tls;

pub use tls::{tls_config, TlsSettings};

use crate::upstream::Upstream;
use axum::extract::ws::Message;
use bytes::{Buf as _, BytesMut};
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use porthole_rfb::handshake::{Culprit, Failure, Outcome, ProxyHandshake, Scheme, Side, Step};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::time::Instant;

/// Default time a VNC server has to finish the security handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[vnc] auth_schemes` and what VeNCrypt needs.
#[derive(Clone, Debug)]
pub struct SecuritySettings {
    /// Schemes toward VNC servers, in preference order (the server's order decides).
    pub schemes: Vec<Scheme>,
    /// TLS client configuration for VeNCrypt (CA, optional client certificate).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Time allowed for the whole handshake.
    pub timeout: Duration,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings { schemes: vec![Scheme::None], tls: None, timeout: DEFAULT_HANDSHAKE_TIMEOUT }
    }
}

impl SecuritySettings {
    /// Whether the proxy terminates the security handshake. With `auth_schemes = ["none"]` (the
    /// default) the browser and the VNC server negotiate between themselves and every byte is relayed.
    pub fn enabled(&self) -> bool {
        self.schemes != [Scheme::None]
    }
}

/// The VNC server after the handshake: as it was, or inside TLS.
#[derive(Debug)]
pub enum Secured {
    /// No TLS.
    Plain(Upstream),
    /// VeNCrypt X509*: TLS with the server.
    Tls(Box<tokio_rustls::client::TlsStream<Upstream>>),
}

/// Why the handshake failed; the browser has already been told.
#[derive(Debug)]
pub struct HandshakeError {
    /// The handshake's own account, when it got that far.
    pub failure: Option<Failure>,
    /// What happened, for the log.
    pub log: String,
    /// Whether the browser (not the server) misbehaved.
    pub tenant_fault: bool,
}

/// Runs the security handshake; on success, bytes the browser sent early have gone to the server
/// and bytes the server sent after its SecurityResult have gone to the browser.
pub async fn secure<W, E>(
    ws: &mut W,
    upstream: Upstream,
    settings: &SecuritySettings,
    password: Option<Vec<u8>>,
    server_name: &str,
) -> Result<Secured, HandshakeError>
where
    W: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + settings.timeout;
    let mut hs = ProxyHandshake::new(settings.schemes.clone(), password);
    let mut up = Some(Secured::Plain(upstream));
    let (mut from_server, mut from_tenant) = (BytesMut::with_capacity(512), BytesMut::with_capacity(64));
    loop {
        let side = hs.wants();
        let buf = match side {
            Side::Server => &mut from_server,
            Side::Tenant => &mut from_tenant,
        };
        let (steps, next) = match hs.handle(buf) {
            Ok(Outcome::NeedMore(next)) => {
                hs = next;
                let read = match (side, up.as_mut()) {
                    (Side::Server, Some(u)) => tokio::time::timeout_at(deadline, read_server(u, &mut from_server)).await,
                    (Side::Tenant, _) => tokio::time::timeout_at(deadline, read_tenant(ws, &mut from_tenant)).await,
                    (Side::Server, None) => Ok(Err("no connection to the VNC server".to_owned())),
                };
                let problem = match read {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(_) => format!("the security handshake took longer than {:?}", settings.timeout),
                };
                let failure = hs.fail(problem.clone());
                return Err(give_up(ws, up.as_mut(), Some(failure), problem, side == Side::Tenant).await);
            }
            Ok(Outcome::Progress { next, consumed, steps }) => {
                buf.advance(consumed);
                (steps, Some(next))
            }
            Ok(Outcome::Done { consumed, steps }) => {
                buf.advance(consumed);
                (steps, None)
            }
            Err(f) => {
                let (log, tenant) = (f.log.clone(), f.culprit == Culprit::Tenant);
                return Err(give_up(ws, up.as_mut(), Some(f), log, tenant).await);
            }
        };
        for step in steps {
            if let Err(log) = carry_out(step, ws, &mut up, settings, server_name).await {
                let failure = next.as_ref().map(|h| h.fail(log.clone()));
                return Err(give_up(ws, up.as_mut(), failure, log, false).await);
            }
        }
        match (next, up) {
            (Some(n), u) => {
                hs = n;
                up = u;
            }
            (None, Some(u)) => return hand_over(ws, u, from_server, from_tenant).await,
            (None, None) => {
                return Err(HandshakeError { failure: None, log: "no connection to the VNC server".into(), tenant_fault: false })
            }
        }
    }
}

async fn hand_over<W, E>(ws: &mut W, mut up: Secured, server: BytesMut, tenant: BytesMut) -> Result<Secured, HandshakeError>
where
    W: Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
{
    let fail = |log: String| HandshakeError { failure: None, log, tenant_fault: false };
    if !tenant.is_empty() {
        up.write_all(&tenant).await.map_err(|e| fail(format!("writing to the VNC server: {e}")))?;
        up.flush().await.map_err(|e| fail(format!("writing to the VNC server: {e}")))?;
    }
    if !server.is_empty() {
        ws.send(Message::Binary(server.freeze())).await.map_err(|e| fail(format!("writing to the browser: {e}")))?;
    }
    Ok(up)
}

async fn carry_out<W, E>(
    step: Step,
    ws: &mut W,
    slot: &mut Option<Secured>,
    settings: &SecuritySettings,
    server_name: &str,
) -> Result<(), String>
where
    W: Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
{
    match step {
        Step::Send(Side::Server, bytes) => {
            let up = slot.as_mut().ok_or("no connection to the VNC server")?;
            up.write_all(&bytes).await.map_err(|e| format!("writing to the VNC server: {e}"))?;
            up.flush().await.map_err(|e| format!("writing to the VNC server: {e}"))
        }
        Step::Send(Side::Tenant, bytes) => ws.send(Message::Binary(bytes.into())).await.map_err(|e| format!("writing to the browser: {e}")),
        Step::StartTls => {
            let Some(cfg) = settings.tls.clone() else {
                return Err("VeNCrypt needs [vnc] vencrypt_ca_certs".into());
            };
            let plain = match slot.take() {
                Some(Secured::Plain(p)) => p,
                _ => return Err("TLS requested on a connection that is not plain".into()),
            };
            let tls = tls::connect(cfg, server_name, plain).await.map_err(|e| format!("TLS with the VNC server failed: {e}"))?;
            *slot = Some(Secured::Tls(Box::new(tls)));
            Ok(())
        }
    }
}

async fn give_up<W, E>(ws: &mut W, up: Option<&mut Secured>, failure: Option<Failure>, log: String, tenant_fault: bool) -> HandshakeError
where
    W: Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
{
    if let Some(f) = &failure {
        if let (Some(bytes), Some(up)) = (&f.to_server, up) {
            let _ = up.write_all(bytes).await;
        }
        if let Some(bytes) = &f.to_tenant {
            let _ = ws.send(Message::Binary(bytes.clone().into())).await;
        }
    }
    HandshakeError { failure, log, tenant_fault }
}

async fn read_server(up: &mut Secured, buf: &mut BytesMut) -> Result<(), String> {
    match up.read_buf(buf).await {
        Ok(0) => Err("the VNC server closed the connection during the security handshake".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("reading from the VNC server: {e}")),
    }
}

async fn read_tenant<W, E>(ws: &mut W, buf: &mut BytesMut) -> Result<(), String>
where
    W: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                buf.extend_from_slice(&b);
                return Ok(());
            }
            Some(Ok(Message::Text(t))) => {
                buf.extend_from_slice(t.as_bytes());
                return Ok(());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None => return Err("the browser left during the security handshake".into()),
            Some(Err(e)) => return Err(format!("reading from the browser: {e}")),
        }
    }
}

impl AsyncRead for Secured {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Secured::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Secured::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Secured {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Secured::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Secured::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Secured::Plain(s) => Pin::new(s).poll_flush(cx),
            Secured::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Secured::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Secured::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
