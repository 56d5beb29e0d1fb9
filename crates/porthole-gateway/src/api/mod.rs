//! The Nova-compatible REST API under `/v2.1`: servers, remote consoles, console auth tokens, the
//! version document and an OpenAPI 3 document generated from these handlers; Porthole's own
//! extension under `/v2.1/porthole/` (sessions).

pub(crate) mod auth;
pub(crate) mod consoles;
pub(crate) mod error;
pub(crate) mod instances;
pub(crate) mod servers;
pub(crate) mod sessions;
pub(crate) mod version;

use crate::state::AppState;
use axum::extract::{MatchedPath, State};
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::HeaderMap;
use utoipa::OpenApi;

/// The OpenAPI document, built from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Porthole compute API (Nova-compatible subset)", version = "2.1"),
    paths(
        version::version_doc,
        servers::list,
        servers::detail,
        servers::show,
        consoles::create,
        consoles::action,
        consoles::reset,
        consoles::token_info,
        instances::list,
        sessions::list,
        sessions::end_one,
        sessions::end_instance,
    ),
    modifiers(&ApiKeyAuth),
    security(("x_auth_token" = []))
)]
pub(crate) struct ApiDoc;

struct ApiKeyAuth;

impl utoipa::Modify for ApiKeyAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("x_auth_token", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Auth-Token"))));
    }
}

/// `http(s)://host` of the request, for links (X-Forwarded-Proto honoured).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|p| p.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The API routes, with key authentication and microversion headers.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let authenticated = Router::new()
        .route("/v2.1/servers", get(servers::list))
        .route("/v2.1/servers/detail", get(servers::detail))
        .route("/v2.1/servers/{server_id}", get(servers::show))
        .route("/v2.1/servers/{server_id}/remote-consoles", post(consoles::create).delete(consoles::reset))
        .route("/v2.1/servers/{server_id}/action", post(consoles::action))
        .route("/v2.1/os-console-auth-tokens/{console_token}", get(consoles::token_info))
        .route("/v2.1/porthole/instances", get(instances::list))
        .route("/v2.1/porthole/sessions", get(sessions::list).delete(sessions::end_instance))
        .route("/v2.1/porthole/sessions/{session_id}", delete(sessions::end_one))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_key));
    Router::new()
        .route("/v2.1", get(version::version_doc))
        .route("/v2.1/", get(version::version_doc))
        .route("/v2.1/openapi.json", get(openapi_json))
        .merge(authenticated)
        .layer(middleware::from_fn(version::microversion))
        // A whole request, body included, is bounded: a body sent a byte a second is cut off.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(http::StatusCode::REQUEST_TIMEOUT, state.settings().request_timeout))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
}

/// Middleware: counts each API request by route (the matched path, never the ids in it), method
/// and status, with its latency.
async fn observe(State(state): State<AppState>, req: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    state.metrics.api_request(&route, &method, resp.status().as_u16(), started.elapsed());
    resp
}
