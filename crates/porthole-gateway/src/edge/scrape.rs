//! `/metrics`: refreshes what is read at scrape time, then encodes. On the main listener it needs
//! an admin key that sees every instance (`X-Auth-Token`, or `Authorization: Bearer` as
//! Prometheus sends it); on the dedicated `[metrics] listen` it needs none.

use crate::metrics::Metrics;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE as TEXT_FORMAT;

/// The metrics text after refreshing the scrape-time values.
pub async fn render_metrics(state: &AppState) -> String {
    let m: &Metrics = &state.metrics;
    let (to_browser, to_server) = state.live.relayed_bytes();
    m.relayed_up_to(to_browser, to_server);
    let inventory = state.inventory();
    let (nodes, audit) = tokio::join!(inventory.node_health(), state.audit.current(inventory.as_ref()));
    m.nodes_answered(nodes.into_iter().map(|(node, health)| (node, health.is_ok())));
    m.audited(audit.as_deref());
    m.encode()
}

async fn answer(state: &AppState) -> Response {
    ([(CONTENT_TYPE, TEXT_FORMAT)], render_metrics(state).await).into_response()
}

/// The dedicated metrics listener's routes: `GET /metrics`, no key.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(|State(s): State<AppState>| async move { answer(&s).await })).with_state(state)
}

/// Serves [`metrics_router`] on its own listener (`[metrics] listen`) until the process ends.
pub async fn serve_metrics(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state)).await
}

/// `GET /metrics` on the main listener: an admin key that sees every instance.
pub(crate) async fn guarded(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get("x-auth-token")
        .map(|v| v.as_bytes())
        .or_else(|| headers.get(AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer ")));
    let settings = state.settings();
    match presented.and_then(|p| crate::api::auth::find_key(&settings.api_keys, p)) {
        Some(k) if k.role == crate::settings::Role::Admin && k.scope.is_unrestricted() => answer(&state).await,
        Some(_) => (StatusCode::FORBIDDEN, "/metrics needs an admin key that sees every instance\n").into_response(),
        None => (StatusCode::UNAUTHORIZED, [("www-authenticate", "Bearer")], "/metrics needs an admin API key\n").into_response(),
    }
}
