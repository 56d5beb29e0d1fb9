//! Porthole's API extension for console sessions, cluster-wide (`/v2.1/porthole/sessions`):
//! list the live ones (or the history), end one wherever it runs, end an instance's. The list
//! comes from the store, where every process records its sessions; an end reaches the process
//! holding the session through a cluster event. A key limited to some instances (`[[api.keys]]
//! instances`, `nodes`) sees and ends only their sessions; the others are not found.

use super::auth::Caller;
use super::consoles::store_error;
use super::error::{ApiError, BadRequestBody, NotFoundBody, UnauthorizedBody, UnavailableBody};
use crate::live::Policy;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use porthole_compute::LookupError;
use porthole_tokens::cluster::{rfc3339, InstanceFilter, SessionQuery, DEFAULT_HISTORY_LIMIT};
use porthole_tokens::{ClusterEvent, SessionRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A query string that does not parse is a 400 in Nova's shape (JSON), not axum's plain text.
fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("Invalid input for the query string: {}", e.body_text()))
}

/// A console session, as the API and `porthole sessions --json` show it.
#[derive(Serialize, ToSchema)]
pub struct SessionDoc {
    /// Unique cluster-wide.
    pub id: String,
    /// The `porthole serve` process that holds (held) it.
    pub proxy_id: String,
    /// The instance.
    pub instance_uuid: String,
    /// The instance's name.
    pub instance: String,
    /// Its libvirt node; null for a static target.
    pub node: Option<String>,
    /// The browser's address.
    pub client: String,
    /// `novnc` or `serial`.
    pub console_type: String,
    /// The browser's input is dropped.
    pub view_only: bool,
    /// The API key (or `cli`) that minted its console URL.
    pub minted_by: Option<String>,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Bytes from the browser to the VNC server (as of the holder's last heartbeat while live).
    pub bytes_to_server: u64,
    /// Bytes from the VNC server to the browser.
    pub bytes_to_browser: u64,
    /// History only: when it ended (null while live).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub ended: Option<Option<String>>,
    /// History only: why it ended (`browser-closed`, `server-closed`, `reset`, `killed`,
    /// `instance-stopped`, `expired`, `idle`, `shutdown`, `proxy-gone`, …; null while live).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub end_reason: Option<Option<String>>,
}

impl SessionDoc {
    /// A session's record as shown; `history` adds `ended` and `end_reason` (null while live).
    pub fn of(r: SessionRecord, history: bool) -> Self {
        SessionDoc {
            id: r.id.to_string(),
            proxy_id: r.proxy_id,
            instance_uuid: r.instance_uuid.to_string(),
            instance: r.instance_name,
            node: r.node,
            client: r.client,
            console_type: r.console_type.to_string(),
            view_only: r.view_only,
            minted_by: r.minted_by,
            started: rfc3339(r.started),
            bytes_to_server: r.bytes_to_server,
            bytes_to_browser: r.bytes_to_browser,
            ended: history.then(|| r.ended.map(rfc3339)),
            end_reason: history.then_some(r.end_reason),
        }
    }
}

/// `{"sessions": [...]}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionList {
    /// Live sessions, oldest first; with `history=true`, every session kept, newest first.
    pub sessions: Vec<SessionDoc>,
}

/// What to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Also the sessions that ended (newest first).
    #[serde(default)]
    pub history: bool,
    /// At most this many (default 100 with `history`, all live ones without).
    pub limit: Option<u32>,
    /// Only this instance's (a name or a UUID).
    pub instance: Option<String>,
}

/// Which instance's sessions to end.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EndParams {
    /// The instance (a name or a UUID).
    pub instance: Option<String>,
}

/// Lists live sessions on every process (or the history).
#[utoipa::path(get, path = "/v2.1/porthole/sessions", params(ListParams), responses(
    (status = 200, body = SessionList), (status = 400, body = BadRequestBody), (status = 401, body = UnauthorizedBody),
    (status = 503, body = UnavailableBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    p: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let Query(p) = p.map_err(bad_query)?;
    let mut query = if p.history { SessionQuery::history(p.limit.unwrap_or(DEFAULT_HISTORY_LIMIT)) } else { SessionQuery::live(0) };
    if let Some(limit) = p.limit {
        query.limit = limit;
    }
    query.instance = p.instance.as_deref().map(InstanceFilter::parse);
    let mut rows = state.cluster.sessions(query).await.map_err(store_error)?;
    rows.retain(|r| caller.sees(&r.instance_name, r.node.as_deref()));
    Ok(Json(SessionList { sessions: rows.into_iter().map(|r| SessionDoc::of(r, p.history)).collect() }))
}

/// Ends one session wherever it runs; its browser is told "Session ended by an administrator"
/// (1008). The token stays valid.
#[utoipa::path(delete, path = "/v2.1/porthole/sessions/{session_id}", params(("session_id" = String, Path)), responses(
    (status = 204, description = "The session is ended (within a second on another process)"), (status = 401, body = UnauthorizedBody),
    (status = 404, body = NotFoundBody), (status = 503, body = UnavailableBody)))]
pub(crate) async fn end_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::NotFound(format!("No live session {id}."));
    let session = Uuid::parse_str(&id).map_err(|_| not_found())?;
    if !caller.scope.is_unrestricted() {
        let query = SessionQuery { id: Some(session), ..SessionQuery::live(0) };
        let found = state.cluster.sessions(query).await.map_err(store_error)?;
        if !found.first().is_some_and(|r| caller.sees(&r.instance_name, r.node.as_deref())) {
            return Err(not_found());
        }
    }
    if state.live.end_session(session, Policy::Killed) {
        tracing::info!(%session, key = %caller.name, "session ended through the API");
        return Ok(StatusCode::NO_CONTENT);
    }
    let query = SessionQuery { id: Some(session), ..SessionQuery::live(0) };
    let found = state.cluster.sessions(query).await.map_err(store_error)?;
    let Some(row) = found.first() else { return Err(not_found()) };
    state.cluster.publish(ClusterEvent::EndSession { id: session }).await.map_err(store_error)?;
    tracing::info!(%session, proxy = %row.proxy_id, key = %caller.name, "session on another proxy ended through the API");
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every live session of an instance, on every process (tokens stay valid).
#[utoipa::path(delete, path = "/v2.1/porthole/sessions", params(EndParams), responses(
    (status = 204, description = "Its sessions are ended (within a second on other processes)"), (status = 400, body = BadRequestBody),
    (status = 401, body = UnauthorizedBody), (status = 404, body = NotFoundBody), (status = 503, body = UnavailableBody)))]
pub(crate) async fn end_instance(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    p: Result<Query<EndParams>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(p) = p.map_err(bad_query)?;
    let Some(key) = p.instance.filter(|k| !k.is_empty()) else {
        return Err(ApiError::BadRequest("Give the instance whose sessions to end: ?instance=NAME_OR_UUID.".into()));
    };
    let instances = instances_named(&state, &caller, &key).await?;
    if instances.is_empty() {
        return Err(ApiError::NotFound(format!("Instance {key} could not be found and has no live session.")));
    }
    for instance in instances {
        let ended = state.live.end_sessions_of(instance, Policy::Killed);
        state.cluster.publish(ClusterEvent::EndInstanceSessions { instance }).await.map_err(store_error)?;
        tracing::info!(%instance, ended_here = ended, key = %caller.name, "an instance's sessions ended through the API");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The UUIDs `key` names among those the caller sees: the instance the inventory finds, and
/// those of live sessions recorded under that name or UUID (an instance gone from the inventory
/// may still have sessions).
async fn instances_named(state: &AppState, caller: &Caller, key: &str) -> Result<BTreeSet<Uuid>, ApiError> {
    let mut found = BTreeSet::new();
    match state.inventory().find(key).await {
        Ok(i) if caller.sees(&i.name, i.node.as_deref()) => {
            found.insert(i.uuid);
        }
        Ok(_) => {}
        Err(LookupError::NotFound(_)) => {}
        Err(e) => tracing::debug!(cause = %e, "instance lookup failed; looking among the recorded sessions"),
    }
    let query = SessionQuery { instance: Some(InstanceFilter::parse(key)), ..SessionQuery::live(0) };
    let rows = state.cluster.sessions(query).await.map_err(store_error)?;
    found.extend(rows.iter().filter(|r| caller.sees(&r.instance_name, r.node.as_deref())).map(|r| r.instance_uuid));
    Ok(found)
}
