//! Consoles: `POST /servers/{id}/remote-consoles`, the legacy `os-getVNCConsole` action, Nova's
//! never-shipped reset (`DELETE /servers/{id}/remote-consoles`), and `os-console-auth-tokens`.

use super::auth::Caller;
use super::error::{ApiError, BadRequestBody, ConflictBody, ForbiddenBody, NotFoundBody, UnauthorizedBody, UnavailableBody};
use super::servers::by_id;
use crate::mint::{mint_console, ConsoleError, MintRequest};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use porthole_tokens::{ConsoleType, Token, TokenEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const PROTOCOLS: [&str; 5] = ["vnc", "spice", "serial", "rdp", "mks"];
const TYPES: [&str; 7] = ["novnc", "xvpvnc", "spice-html5", "spice-direct", "serial", "rdp-html5", "webmks"];

/// What console to create.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoteConsoleSpec {
    /// `vnc` or `serial` (spice, rdp and mks are refused with 400).
    #[schema(example = "vnc")]
    pub protocol: String,
    /// `novnc` (with `vnc`) or `serial` (with `serial`).
    #[serde(rename = "type")]
    #[schema(example = "novnc")]
    pub kind: String,
    /// Porthole extension: a console that can only be watched (the proxy drops keys, pointer
    /// and clipboard). VNC only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub view_only: bool,
}

/// `{"remote_console": {"protocol": "vnc", "type": "novnc"}}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoteConsoleRequest {
    /// The console wanted.
    pub remote_console: RemoteConsoleSpec,
}

/// A console and its URL.
#[derive(Serialize, ToSchema)]
pub(crate) struct RemoteConsole {
    /// `vnc`.
    pub protocol: String,
    /// `novnc`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The access URL: `<novncproxy_base_url>?path=%3Ftoken%3D<token>`.
    pub url: String,
}

/// `{"remote_console": {...}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct RemoteConsoleDoc {
    /// The console.
    pub remote_console: RemoteConsole,
}

/// The legacy action's console.
#[derive(Serialize, ToSchema)]
pub(crate) struct LegacyConsole {
    /// `novnc`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The access URL.
    pub url: String,
}

/// `{"console": {"type": "novnc", "url": …}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct LegacyConsoleDoc {
    /// The console.
    pub console: LegacyConsole,
}

/// What a token opens (admin only).
#[derive(Serialize, ToSchema)]
pub(crate) struct ConsoleConnectInfo {
    /// The instance.
    pub instance_uuid: String,
    /// Where the proxy connects.
    pub host: String,
    /// The VNC port (0 for an endpoint libvirt holds: graphics-fd or console stream, whose node is in `host`).
    pub port: u16,
    /// Always null: libvirt does not use it.
    pub internal_access_path: Option<String>,
}

/// `{"console": {...}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConsoleConnectInfoDoc {
    /// The connect info.
    pub console: ConsoleConnectInfo,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("Invalid input for the request body: {e}")))
}

/// A store that is down answers 503 (the cause goes to the log); Nova's database, which only Nova
/// writes, 409; anything else is a 500.
pub(crate) fn store_error(e: porthole_tokens::Error) -> ApiError {
    if e.is_read_only() {
        return ApiError::Conflict(format!("{e}: console URLs come from Nova's API (openstack console url show --novnc SERVER)."));
    }
    if e.is_unavailable() {
        tracing::warn!(cause = %e, "console token store unavailable");
        ApiError::Unavailable("The console token store is unavailable; try again later.".into())
    } else {
        ApiError::Internal(e.to_string())
    }
}

async fn console_url(state: &AppState, caller: &Caller, id: &str, console_type: ConsoleType, view_only: bool) -> Result<String, ApiError> {
    let instance = by_id(state, caller, id).await?;
    let s = state.settings();
    let key = instance.uuid.to_string();
    let base = if console_type == ConsoleType::Serial { &s.serial_base_url } else { &s.console_base_url };
    let req = MintRequest { key: &key, base, ttl: s.token_ttl, console_type, view_only, minted_by: Some(caller.name.clone()) };
    let minted = mint_console(state.inventory().as_ref(), &state.auth, &req).await.map_err(|e| match e {
        ConsoleError::Lookup(l) => ApiError::Unavailable(l.to_string()),
        ConsoleError::Store(s) => store_error(s),
        other => ApiError::Conflict(format!("{other}.")),
    })?;
    tracing::info!(instance = %instance.name, uuid = %instance.uuid, key = %caller.name, console = %console_type, view_only, "console URL minted through the API");
    Ok(minted.1.url)
}

/// Creates a noVNC console and returns its URL.
#[utoipa::path(post, path = "/v2.1/servers/{server_id}/remote-consoles", params(("server_id" = String, Path)),
    request_body = RemoteConsoleRequest, responses(
        (status = 200, body = RemoteConsoleDoc), (status = 400, body = BadRequestBody), (status = 401, body = UnauthorizedBody),
        (status = 404, body = NotFoundBody), (status = 409, body = ConflictBody), (status = 503, body = UnavailableBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RemoteConsoleDoc>, ApiError> {
    let req: RemoteConsoleRequest = parse_json(&body)?;
    let RemoteConsoleSpec { protocol, kind, view_only } = req.remote_console;
    if !PROTOCOLS.contains(&protocol.as_str()) || !TYPES.contains(&kind.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "Invalid input: protocol {protocol:?} or type {kind:?} is not one of {PROTOCOLS:?} / {TYPES:?}."
        )));
    }
    let console_type = match (protocol.as_str(), kind.as_str()) {
        ("vnc", "novnc") => ConsoleType::Novnc,
        ("serial", "serial") if !view_only => ConsoleType::Serial,
        ("serial", "serial") => return Err(ApiError::BadRequest("view_only is for VNC consoles.".into())),
        _ => return Err(ApiError::BadRequest(format!("Unavailable console type {kind}."))),
    };
    let url = console_url(&state, &caller, &id, console_type, view_only).await?;
    Ok(Json(RemoteConsoleDoc { remote_console: RemoteConsole { protocol, kind, url } }))
}

/// Server actions; only the legacy `os-getVNCConsole` is served.
#[utoipa::path(post, path = "/v2.1/servers/{server_id}/action", params(("server_id" = String, Path)),
    request_body(content = Object, description = "{\"os-getVNCConsole\": {\"type\": \"novnc\"}}"), responses(
        (status = 200, body = LegacyConsoleDoc), (status = 400, body = BadRequestBody), (status = 401, body = UnauthorizedBody),
        (status = 404, body = NotFoundBody), (status = 409, body = ConflictBody), (status = 503, body = UnavailableBody)))]
pub(crate) async fn action(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LegacyConsoleDoc>, ApiError> {
    let req: serde_json::Map<String, serde_json::Value> = parse_json(&body)?;
    let mut keys = req.keys();
    let (Some(name), None) = (keys.next(), keys.next()) else {
        return Err(ApiError::BadRequest("Malformed request body: exactly one action expected.".into()));
    };
    let kind = req[name].get("type").and_then(|t| t.as_str()).map(str::to_owned);
    let valid_shape = req[name].as_object().is_some_and(|o| o.len() == 1);
    let console_type = match (name.as_str(), kind.as_deref()) {
        ("os-getVNCConsole", Some("novnc")) if valid_shape => ConsoleType::Novnc,
        ("os-getVNCConsole", Some("xvpvnc")) if valid_shape => return Err(ApiError::BadRequest("Invalid console type xvpvnc".into())),
        ("os-getVNCConsole", _) => return Err(ApiError::BadRequest("Invalid input: os-getVNCConsole needs {\"type\": \"novnc\"}.".into())),
        ("os-getSerialConsole", Some("serial")) if valid_shape => ConsoleType::Serial,
        ("os-getSerialConsole", _) => {
            return Err(ApiError::BadRequest("Invalid input: os-getSerialConsole needs {\"type\": \"serial\"}.".into()))
        }
        _ => return Err(ApiError::BadRequest(format!("There is no such action: {name}"))),
    };
    let url = console_url(&state, &caller, &id, console_type, false).await?;
    Ok(Json(LegacyConsoleDoc { console: LegacyConsole { kind: console_type.to_string(), url } }))
}

/// Revokes every console token of the server and closes its live sessions (code 1008). Nova's
/// reset-vnc-console blueprint, never shipped there.
#[utoipa::path(delete, path = "/v2.1/servers/{server_id}/remote-consoles", params(("server_id" = String, Path)), responses(
    (status = 204, description = "Tokens revoked, sessions closed"), (status = 401, body = UnauthorizedBody),
    (status = 404, body = NotFoundBody), (status = 409, body = ConflictBody, description = "The tokens are Nova's (live sessions were closed)"),
    (status = 503, body = UnavailableBody)))]
pub(crate) async fn reset(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let instance = by_id(&state, &caller, &id).await?;
    let (revoked, closed) = state.end_consoles(instance.uuid, crate::live::Policy::Reset).await.map_err(|e| match e.is_read_only() {
        true => ApiError::Conflict(
            "Live sessions were closed, but the console tokens are Nova's (this store is Nova's database, read-only): \
             they stay valid until Nova deletes them."
                .into(),
        ),
        false => store_error(e),
    })?;
    tracing::info!(instance = %instance.uuid, revoked, closed_here = closed, "consoles reset through the API; the other proxies close theirs");
    Ok(StatusCode::NO_CONTENT)
}

/// What a console token opens (admin only).
#[utoipa::path(get, path = "/v2.1/os-console-auth-tokens/{console_token}", params(("console_token" = String, Path)), responses(
    (status = 200, body = ConsoleConnectInfoDoc), (status = 401, body = UnauthorizedBody), (status = 403, body = ForbiddenBody),
    (status = 404, body = NotFoundBody)))]
pub(crate) async fn token_info(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
) -> Result<Json<ConsoleConnectInfoDoc>, ApiError> {
    caller.require_admin("os_compute_api:os-console-auth-tokens")?;
    let info = state.auth.validate(&Token::from_presented(&token)).await.map_err(store_error)?;
    let not_found = || ApiError::NotFound("Token not found".into());
    let info = info.ok_or_else(not_found)?;
    // A key limited to some instances reads only their tokens; another instance's is not found.
    if !caller.scope.is_unrestricted() {
        match state.inventory().find_by_uuid(info.instance_uuid).await {
            Ok(i) if caller.sees(&i.name, i.node.as_deref()) => {}
            Ok(_) | Err(porthole_compute::LookupError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(ApiError::Unavailable(e.to_string())),
        }
    }
    // Nova's shape has only host and port: a libvirt-held endpoint shows its node and port 0.
    let (host, port) = match info.endpoint {
        TokenEndpoint::Tcp { host, port } => (host, port),
        TokenEndpoint::GraphicsFd { node } | TokenEndpoint::ConsoleStream { node } => (node, 0),
        _ => (String::new(), 0),
    };
    Ok(Json(ConsoleConnectInfoDoc {
        console: ConsoleConnectInfo {
            instance_uuid: info.instance_uuid.to_string(),
            host,
            port,
            internal_access_path: info.internal_access_path,
        },
    }))
}
