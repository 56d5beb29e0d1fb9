//! The RFB security proxy, driven over the real connections: runs
//! [`porthole_rfb::handshake::ProxyHandshake`] between the browser's WebSocket and the VNC
//! server, wraps the server in TLS for VeNCrypt, and hands back the stream for the relay.

mod tls;

pub use tls::{tls_config, TlsSettings};

use super::VncStream;
use crate::settings::SecuritySettings;
use bytes::{Buf as _, Bytes, BytesMut};
use porthole_rfb::handshake::{Culprit, Failure, Outcome, ProxyHandshake, Side, Step};
use porthole_ws::{Transport, WsConn};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

/// Why the handshake failed; the browser has already been told.
#[derive(Debug)]
pub(crate) struct HandshakeError {
    /// What happened, for the log.
    pub log: String,
    /// Whether the browser (not the server) misbehaved.
    pub browser_fault: bool,
}

impl HandshakeError {
    /// One word for the cause (the `cause` label of `porthole_security_handshake_failures_total`),
    /// read off the log line that porthole-rfb and this file write (pinned by a test).
    pub(crate) fn cause(&self) -> &'static str {
        let log = self.log.as_str();
        if self.browser_fault {
            "browser"
        } else if log.starts_with("VNC server refused authentication") {
            "auth_refused"
        } else if log.contains("none of them allowed by [vnc] auth_schemes") {
            "no_common_scheme"
        } else if log.starts_with("VNC server refused the connection") {
            "refused"
        } else if log.starts_with("the security handshake took longer") {
            "timeout"
        } else if log.contains("TLS") || log.contains("vencrypt_ca_certs") {
            "tls"
        } else if ["writing to", "reading from", "no connection", "the VNC server closed"].iter().any(|p| log.starts_with(p)) {
            "io"
        } else {
            "protocol"
        }
    }
}

/// Runs the security handshake; on success, bytes the server sent after its SecurityResult have
/// gone to the browser, and the bytes the browser sent early (its ClientInit, perhaps more) come
/// back with the stream for the relay to pass on (a view-only session filters them).
pub(crate) async fn secure<B: Transport>(
    ws: &mut WsConn<B>,
    upstream: VncStream,
    settings: &SecuritySettings,
    password: Option<Vec<u8>>,
    server_name: &str,
) -> Result<(VncStream, Bytes), HandshakeError> {
    let deadline = Instant::now() + settings.timeout;
    let mut hs = ProxyHandshake::new(settings.schemes.clone(), password);
    let mut up = Some(upstream);
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
            (None, None) => return Err(HandshakeError { log: "no connection to the VNC server".into(), browser_fault: false }),
        }
    }
}

async fn hand_over<B: Transport>(
    ws: &mut WsConn<B>,
    up: VncStream,
    server: BytesMut,
    tenant: BytesMut,
) -> Result<(VncStream, Bytes), HandshakeError> {
    if !server.is_empty() {
        let fail = |log: String| HandshakeError { log, browser_fault: false };
        ws.send_binary(&server).await.map_err(|e| fail(format!("writing to the browser: {e}")))?;
    }
    Ok((up, tenant.freeze()))
}

async fn carry_out<B: Transport>(
    step: Step,
    ws: &mut WsConn<B>,
    slot: &mut Option<VncStream>,
    settings: &SecuritySettings,
    server_name: &str,
) -> Result<(), String> {
    match step {
        Step::Send(Side::Server, bytes) => {
            let up = slot.as_mut().ok_or("no connection to the VNC server")?;
            up.write_all(&bytes).await.map_err(|e| format!("writing to the VNC server: {e}"))?;
            up.flush().await.map_err(|e| format!("writing to the VNC server: {e}"))
        }
        Step::Send(Side::Tenant, bytes) => ws.send_binary(&bytes).await.map_err(|e| format!("writing to the browser: {e}")),
        Step::StartTls => {
            let Some(cfg) = settings.tls.clone() else {
                return Err("VeNCrypt needs [vnc] vencrypt_ca_certs".into());
            };
            let plain = match slot.take() {
                Some(p @ (VncStream::Tcp(_) | VncStream::Unix(_))) => p,
                _ => return Err("TLS requested on a connection that is not plain".into()),
            };
            let tls = tls::connect(cfg, server_name, plain).await.map_err(|e| format!("TLS with the VNC server failed: {e}"))?;
            *slot = Some(VncStream::Tls(Box::new(tls)));
            Ok(())
        }
    }
}

async fn give_up<B: Transport>(
    ws: &mut WsConn<B>,
    up: Option<&mut VncStream>,
    failure: Option<Failure>,
    log: String,
    browser_fault: bool,
) -> HandshakeError {
    if let Some(f) = &failure {
        if let (Some(bytes), Some(up)) = (&f.to_server, up) {
            let _ = up.write_all(bytes).await;
        }
        if let Some(bytes) = &f.to_tenant {
            let _ = ws.send_binary(bytes).await;
        }
    }
    HandshakeError { log, browser_fault }
}

async fn read_server(up: &mut VncStream, buf: &mut BytesMut) -> Result<(), String> {
    match up.read_buf(buf).await {
        Ok(0) => Err("the VNC server closed the connection during the security handshake".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("reading from the VNC server: {e}")),
    }
}

async fn read_tenant<B: Transport>(ws: &mut WsConn<B>, buf: &mut BytesMut) -> Result<(), String> {
    match ws.recv_data().await {
        Ok(Some(data)) => {
            buf.extend_from_slice(&data);
            Ok(())
        }
        Ok(None) => Err("the browser left during the security handshake".into()),
        Err(e) => Err(format!("reading from the browser: {e}")),
    }
}
