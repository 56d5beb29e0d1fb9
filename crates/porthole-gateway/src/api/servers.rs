//! `GET /v2.1/servers`, `/servers/detail[?name=]` and `/servers/{id}`: instances as Nova servers.

use super::auth::Caller;
use super::error::{ApiError, BadRequestBody, NotFoundBody, UnauthorizedBody, UnavailableBody};
use super::version::{Link, Microversion};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use http::HeaderMap;
use porthole_compute::{Instance, InstanceState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A server in the short listing.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServerRef {
    /// The instance UUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Links.
    pub links: Vec<Link>,
}

/// A server in detail.
#[derive(Serialize, ToSchema)]
pub(crate) struct Server {
    /// The instance UUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// ACTIVE, SHUTOFF, PAUSED, SUSPENDED, ERROR or UNKNOWN.
    pub status: String,
    /// Links.
    pub links: Vec<Link>,
    /// The libvirt node, or null for a static target.
    #[serde(rename = "OS-EXT-SRV-ATTR:host")]
    pub host: Option<String>,
    /// Nova's vm_state: active, stopped, paused, suspended, error.
    #[serde(rename = "OS-EXT-STS:vm_state")]
    pub vm_state: String,
    /// Always empty: Porthole does not manage networks.
    #[schema(value_type = Object)]
    pub addresses: serde_json::Value,
    /// Always empty.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Nova's power_state: 0 no state, 1 running, 3 paused, 4 shut down, 6 crashed, 7 suspended.
    #[serde(rename = "OS-EXT-STS:power_state")]
    pub power_state: u8,
    /// Always null: no task runs through Porthole.
    #[serde(rename = "OS-EXT-STS:task_state")]
    pub task_state: Option<String>,
    /// The libvirt node again (Nova's hypervisor name), or null for a static target.
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname")]
    pub hypervisor_hostname: Option<String>,
    /// Always `""`: Porthole does not know images (Nova's value for a server booted from a volume).
    pub image: String,
    /// Porthole does not know flavors: before microversion 2.47 `{"id": "none", "links": []}`,
    /// from 2.47 on the embedded flavor `{"original_name": "none", "vcpus": 0, "ram": 0, …}`.
    #[schema(value_type = Object)]
    pub flavor: serde_json::Value,
}

/// `{"servers": [...]}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServerList {
    /// The servers.
    pub servers: Vec<ServerRef>,
}

/// `{"servers": [...]}` in detail.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServerDetailList {
    /// The servers.
    pub servers: Vec<Server>,
}

/// `{"server": {...}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServerDoc {
    /// The server.
    pub server: Server,
}

/// Filters of the listings.
#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// Name filter: a substring, or exact with `^name$` (Nova takes a regular expression).
    pub name: Option<String>,
}

fn status(state: InstanceState) -> (&'static str, &'static str) {
    match state {
        InstanceState::Running | InstanceState::Idle | InstanceState::InShutdown => ("ACTIVE", "active"),
        InstanceState::Paused => ("PAUSED", "paused"),
        InstanceState::ShutOff => ("SHUTOFF", "stopped"),
        InstanceState::PmSuspended => ("SUSPENDED", "suspended"),
        InstanceState::Crashed => ("ERROR", "error"),
        _ => ("UNKNOWN", "error"),
    }
}

fn links(base: &str, id: Uuid) -> Vec<Link> {
    vec![
        Link { rel: "self".into(), href: format!("{base}/v2.1/servers/{id}") },
        Link { rel: "bookmark".into(), href: format!("{base}/servers/{id}") },
    ]
}

/// Nova's power_state numbers.
fn power_state(state: InstanceState) -> u8 {
    match state {
        InstanceState::Running | InstanceState::Idle | InstanceState::InShutdown => 1,
        InstanceState::Paused => 3,
        InstanceState::ShutOff => 4,
        InstanceState::Crashed => 6,
        InstanceState::PmSuspended => 7,
        _ => 0,
    }
}

/// The flavor of a server in the microversion asked for (Porthole knows none).
fn flavor(mv: Microversion) -> serde_json::Value {
    if mv.at_least(47) {
        serde_json::json!({"original_name": "none", "vcpus": 0, "ram": 0, "disk": 0, "ephemeral": 0, "swap": 0, "extra_specs": {}})
    } else {
        serde_json::json!({"id": "none", "links": []})
    }
}

fn server(base: &str, mv: Microversion, i: &Instance) -> Server {
    let (status, vm_state) = status(i.state);
    Server {
        id: i.uuid.to_string(),
        name: i.name.clone(),
        status: status.into(),
        links: links(base, i.uuid),
        host: i.node.clone(),
        vm_state: vm_state.into(),
        addresses: serde_json::json!({}),
        metadata: serde_json::json!({}),
        power_state: power_state(i.state),
        task_state: None,
        hypervisor_hostname: i.node.clone(),
        image: String::new(),
        flavor: flavor(mv),
    }
}

/// Nova's `name` filter is a regular expression; anchors are honoured, the rest is a substring.
fn name_matches(filter: &str, name: &str) -> bool {
    match (filter.strip_prefix('^'), filter.strip_suffix('$')) {
        (Some(rest), _) if rest.ends_with('$') => name == &rest[..rest.len() - 1],
        (Some(prefix), None) => name.starts_with(prefix),
        (None, Some(suffix)) => name.ends_with(suffix),
        _ => name.contains(filter),
    }
}

async fn filtered(state: &AppState, caller: &Caller, q: &ListQuery) -> Vec<Instance> {
    let mut all = state.inventory().instances().await;
    all.retain(|i| caller.sees(&i.name, i.node.as_deref()));
    if let Some(f) = &q.name {
        all.retain(|i| name_matches(f, &i.name));
    }
    all
}

/// Lists servers.
#[utoipa::path(get, path = "/v2.1/servers", params(ListQuery), responses(
    (status = 200, body = ServerList), (status = 401, body = UnauthorizedBody), (status = 400, body = BadRequestBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Json<ServerList> {
    let base = super::base_url(&headers);
    let servers = filtered(&state, &caller, &q)
        .await
        .iter()
        .map(|i| ServerRef { id: i.uuid.to_string(), name: i.name.clone(), links: links(&base, i.uuid) })
        .collect();
    Json(ServerList { servers })
}

/// Lists servers in detail.
#[utoipa::path(get, path = "/v2.1/servers/detail", params(ListQuery), responses(
    (status = 200, body = ServerDetailList), (status = 401, body = UnauthorizedBody), (status = 400, body = BadRequestBody)))]
pub(crate) async fn detail(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Microversion>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Json<ServerDetailList> {
    let base = super::base_url(&headers);
    Json(ServerDetailList { servers: filtered(&state, &caller, &q).await.iter().map(|i| server(&base, mv, i)).collect() })
}

/// Finds an instance by UUID, as Nova does (a name is not an id: 404); one the caller's key does
/// not see is not found either, as Nova answers for another project's server.
pub(crate) async fn by_id(state: &AppState, caller: &Caller, id: &str) -> Result<Instance, ApiError> {
    let not_found = || ApiError::NotFound(format!("Instance {id} could not be found."));
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    match state.inventory().find_by_uuid(uuid).await {
        Ok(i) if caller.sees(&i.name, i.node.as_deref()) => Ok(i),
        Ok(_) => Err(not_found()),
        Err(porthole_compute::LookupError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// Shows one server.
#[utoipa::path(get, path = "/v2.1/servers/{server_id}", params(("server_id" = String, Path)), responses(
    (status = 200, body = ServerDoc), (status = 401, body = UnauthorizedBody), (status = 404, body = NotFoundBody), (status = 503, body = UnavailableBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Microversion>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ServerDoc>, ApiError> {
    let i = by_id(&state, &caller, &id).await?;
    Ok(Json(ServerDoc { server: server(&super::base_url(&headers), mv, &i) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filter() {
        assert!(name_matches("web", "web01"));
        assert!(name_matches("^web01$", "web01"));
        assert!(!name_matches("^web$", "web01"));
        assert!(name_matches("^web", "web01"));
        assert!(name_matches("01$", "web01"));
        assert!(!name_matches("db", "web01"));
    }

    #[test]
    fn states_map_to_nova_statuses() {
        assert_eq!(status(InstanceState::Running), ("ACTIVE", "active"));
        assert_eq!(status(InstanceState::ShutOff), ("SHUTOFF", "stopped"));
        assert_eq!(status(InstanceState::Crashed).0, "ERROR");
    }
}
