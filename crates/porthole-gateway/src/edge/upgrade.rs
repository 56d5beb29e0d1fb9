//! The console connection: a request with `Upgrade: websocket` on any path is checked (RFC 6455,
//! then [`crate::admission`]), refused with a status or answered `101`, and its connection handed
//! to a session once hyper lets go of it.

use super::stream::BrowserStream;
use crate::admission::{self, Refusal};
use crate::session;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http::header::{CACHE_CONTROL, CONNECTION, SEC_WEBSOCKET_VERSION};
use http::{HeaderValue, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use porthole_ws::handshake;
use porthole_ws::WsConn;
use std::net::SocketAddr;

/// Middleware: console connections go to [`websocket`], everything else on.
pub(crate) async fn upgrade_or_next(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if handshake::is_upgrade(req.headers()) {
        websocket(state, req).await
    } else {
        next.run(req).await
    }
}

/// The answer to a refused console request (the status, and one line saying why).
pub(crate) fn refusal_response(r: &Refusal) -> Response {
    // The connection is closed after a refusal: it asked for an upgrade, not for more requests.
    let mut res = (r.status(), [(CACHE_CONTROL, "no-store"), (CONNECTION, "close")], r.message()).into_response();
    if matches!(r, Refusal::WrongVersion) {
        res.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    }
    res
}

async fn websocket(state: AppState, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let accepted = match handshake::check(&parts.method, parts.version, &parts.headers) {
        Ok(a) => a,
        Err(r) => {
            let refusal = if r.status == StatusCode::UPGRADE_REQUIRED { Refusal::WrongVersion } else { Refusal::Malformed(r.reason) };
            refusal.log(peer);
            return refusal_response(&refusal);
        }
    };
    let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
        let refusal = Refusal::Malformed("this connection cannot be upgraded");
        refusal.log(peer);
        return refusal_response(&refusal);
    };
    let request = admission::Request { headers: &parts.headers, query: parts.uri.query(), peer };
    let admitted = match admission::admit(&state, request).await {
        Ok(a) => a,
        Err(r) => {
            r.log(peer);
            return refusal_response(&r);
        }
    };
    tokio::spawn(async move {
        // The admitted session (its slot and registration) is dropped if the upgrade fails.
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => return tracing::debug!(cause = %e, "WebSocket upgrade failed"),
        };
        match upgraded.downcast::<TokioIo<BrowserStream>>() {
            Ok(io) => session::run(WsConn::new(io.io.into_inner(), io.read_buf), admitted, state).await,
            Err(_) => tracing::error!("WebSocket upgrade on a connection of an unexpected type; closing it"),
        }
    });
    accepted.switching_protocols().map(|()| Body::empty())
}
