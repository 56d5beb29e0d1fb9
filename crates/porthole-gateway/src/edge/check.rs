//! `POST /console/check`: the console page asks, before connecting and after a failure, whether
//! its token would be admitted, and why not. It answers exactly what an upgrade would (the same
//! [`crate::admission`] checks, throttled alike); the token itself is the secret, so this is no new
//! oracle: only its holder learns that it expired or was revoked.

use crate::admission::{self, Refusal};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::Json;
use http::HeaderMap;
use porthole_tokens::TokenEndpoint;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Deserialize)]
struct CheckRequest {
    token: String,
}

/// The answer (always 200: the page reads the reason).
#[derive(Serialize)]
pub(crate) struct CheckAnswer {
    ok: bool,
    reason: &'static str,
    message: &'static str,
    #[serde(rename = "final")]
    final_: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    view_only: Option<bool>,
}

pub(crate) async fn console_check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<CheckAnswer> {
    let token = serde_json::from_slice::<CheckRequest>(&body).map(|r| r.token).unwrap_or_default();
    let query = format!("token={}", url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>());
    let request = admission::Request { headers: &headers, query: Some(&query), peer };
    let checked = match admission::check(&state, request).await {
        Ok(checked) => reachable(&state, checked).await,
        Err(r) => Err(r),
    };
    Json(match checked {
        Ok(checked) => CheckAnswer {
            ok: true,
            reason: "ok",
            message: "The console is ready",
            final_: false,
            console_type: Some(checked.info.console_type.to_string()),
            view_only: Some(checked.info.view_only),
        },
        Err(r) => refused(&r, peer),
    })
}

/// Whether the console's VNC server (or serial chardev) answers a TCP connection now: what the
/// upgrade would meet next. Endpoints reached through libvirt were just asked of their node.
async fn reachable(state: &AppState, checked: admission::Checked) -> Result<admission::Checked, Refusal> {
    let TokenEndpoint::Tcp { host, port } = &checked.info.endpoint else { return Ok(checked) };
    let limit = state.settings().connect_timeout;
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect((host.as_str(), *port))).await {
        Ok(Ok(_)) => Ok(checked),
        _ => Err(Refusal::Unreachable),
    }
}

fn refused(r: &Refusal, peer: SocketAddr) -> CheckAnswer {
    r.log(peer);
    CheckAnswer { ok: false, reason: r.code(), message: r.message(), final_: r.is_final(), console_type: None, view_only: None }
}
