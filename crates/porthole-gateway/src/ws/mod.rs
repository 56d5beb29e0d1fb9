//! The WebSocket endpoint: token, endpoint re-check and Origin, refused before the upgrade with a
//! status; then one relayed session per connection.

pub mod conn;
pub mod frame;
pub mod upgrade;

pub use conn::WsConn;

use crate::origin::{check_origin, OriginRequest};
use crate::relay::{close_code, close_frame, close_ws, relay, RelayEnd};
use crate::sessions::PolicyClose;
use crate::state::AppState;
use crate::token_source::token_from_request;
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{ConnectInfo as PeerAddr, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use futures_util::SinkExt as _;
use http::header::{HOST, ORIGIN, UPGRADE};
use http::StatusCode;
use porthole_tokens::{ConnectInfo, Token};
use std::net::SocketAddr;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{info, warn, Instrument as _};

/// Middleware: a request with `Upgrade: websocket`, on any path, is a console connection.
pub(crate) async fn upgrade_or_next(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_ws = req.headers().get(UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if is_ws {
        websocket(state, req).await
    } else {
        next.run(req).await
    }
}

fn refuse(status: StatusCode, reason: &'static str) -> Response {
    (status, [(http::header::CACHE_CONTROL, "no-store")], reason).into_response()
}

async fn websocket(state: AppState, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    let peer = parts.extensions.get::<PeerAddr<SocketAddr>>().map(|p| p.0);
    let Some(token) = token_from_request(parts.uri.query(), &parts.headers) else {
        info!(?peer, "console refused: no token");
        return refuse(StatusCode::UNAUTHORIZED, "Invalid or expired token");
    };
    let token = Token::from_presented(&token);
    let info = match state.auth.validate(&token).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            info!(?peer, "console refused: invalid token");
            return refuse(StatusCode::UNAUTHORIZED, "Invalid or expired token");
        }
        Err(e) => {
            warn!(cause = %e, "token store failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "Token store unavailable");
        }
    };
    let endpoint = crate::endpoint::token_endpoint(&info);
    match state.inventory.endpoint_matches(info.instance_uuid, &endpoint).await {
        Ok(true) => {}
        Ok(false) => {
            warn!(?peer, instance = %info.instance_uuid, "console refused: endpoint no longer belongs to the instance");
            return refuse(StatusCode::UNAUTHORIZED, "Invalid or expired token");
        }
        Err(e) => {
            warn!(?peer, instance = %info.instance_uuid, cause = %e, "console refused: the endpoint could not be re-checked");
            return refuse(StatusCode::UNAUTHORIZED, "Invalid or expired token");
        }
    }
    let origin_req = OriginRequest {
        origin: parts.headers.get(ORIGIN).map(|v| v.as_bytes()),
        host: parts.headers.get(HOST).map(|v| v.as_bytes()),
        forwarded_proto: parts.headers.get("x-forwarded-proto").map(|v| v.as_bytes()),
    };
    if let Err(e) = check_origin(origin_req, &state.settings.allowed_origins, &info.access_url_base) {
        warn!(?peer, instance = %info.instance_uuid, cause = %e, "console refused: Origin");
        return refuse(StatusCode::FORBIDDEN, "Origin not allowed");
    }
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        warn!(?peer, "console refused: max_sessions reached");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "Too many console sessions");
    };
    let accepted = match upgrade::check(&parts.method, &parts.headers) {
        Ok(a) => a,
        Err(r) => {
            let mut res = refuse(r.status, r.reason);
            if r.status == StatusCode::UPGRADE_REQUIRED {
                res.headers_mut().insert(http::header::SEC_WEBSOCKET_VERSION, http::HeaderValue::from_static("13"));
            }
            return res;
        }
    };
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        warn!("WebSocket request on a connection that cannot be upgraded");
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Connection cannot be upgraded");
    };
    let span = tracing::info_span!("session", peer = ?peer, instance = %info.instance_uuid,
        target = %endpoint, token_id = %token.hash().short());
    upgrade::upgrade(accepted, on_upgrade, move |socket| run_session(socket, info, state, permit).instrument(span))
}

async fn run_session(mut socket: WsConn, info: ConnectInfo, state: AppState, _permit: OwnedSemaphorePermit) {
    let mut guard = state.sessions.register(info.instance_uuid);
    let settings = &state.settings;
    let inventory = &state.inventory;
    let endpoint = crate::endpoint::token_endpoint(&info);
    let tcp = match inventory.open_console(info.instance_uuid, &endpoint, settings.connect_timeout).await {
        Ok(tcp) => tcp,
        Err(e) => {
            warn!(cause = %e, "target unreachable");
            let frame = CloseFrame { code: close_code::UPSTREAM_ERROR, reason: "Target unreachable".into() };
            let _ = socket.send(Message::Close(Some(frame))).await;
            return;
        }
    };
    let upstream = if settings.security.enabled() {
        let password = state.inventory.vnc_password(info.instance_uuid).await.map(String::into_bytes);
        match crate::security::secure(&mut socket, tcp, &settings.security, password, &info.host).await {
            Ok(secured) => secured,
            Err(e) => {
                warn!(cause = %e.log, "VNC security handshake failed");
                let code = if e.tenant_fault { close_code::POLICY } else { close_code::UPSTREAM_ERROR };
                close_ws(&mut socket, Some((code, "VNC security negotiation failed"))).await;
                return;
            }
        }
    } else {
        crate::security::Secured::Plain(tcp)
    };
    info!("session started");
    let expiry = settings.enforce_session_timeout.then(|| {
        let left = info.expires.saturating_sub(state.auth.clock().now());
        std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0))
    });
    let close = async {
        let expired = async {
            match expiry {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            why = &mut guard.closed => match why {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            },
            () = expired => PolicyClose { reason: "Token expired" },
        }
    };
    let mut end = relay(&mut socket, upstream, close, settings.idle_timeout).await;
    if end == RelayEnd::UpstreamClosed {
        end = why_target_closed(&state, &info, &mut guard.closed).await;
    }
    close_ws(&mut socket, close_frame(&end)).await;
    info!(end = ?end, "session ended");
}

/// How long to wait, after a VM's VNC server closed, for libvirt to say whether the VM stopped.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A VM's VNC server closes its socket a moment before libvirt reports the VM stopped: tell the
/// two apart, so that a stopped VM's sessions end with 1008 as its revoked tokens do.
async fn why_target_closed(state: &AppState, info: &ConnectInfo, revoked: &mut tokio::sync::oneshot::Receiver<PolicyClose>) -> RelayEnd {
    if !state.inventory.managed(info.instance_uuid).await {
        return RelayEnd::UpstreamClosed;
    }
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    let endpoint = crate::endpoint::token_endpoint(info);
    loop {
        if let Ok(false) = state.inventory.endpoint_matches(info.instance_uuid, &endpoint).await {
            return RelayEnd::Policy("Instance stopped");
        }
        tokio::select! {
            why = &mut *revoked => return match why {
                Ok(why) => RelayEnd::Policy(why.reason),
                Err(_) => RelayEnd::UpstreamClosed,
            },
            () = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return RelayEnd::UpstreamClosed;
        }
    }
}
