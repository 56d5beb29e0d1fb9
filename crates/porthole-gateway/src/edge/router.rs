//! [`router`]: every route in one place. Requests starting with `//` are refused first
//! (CVE-2021-3654); a request with `Upgrade: websocket`, on any path, is a console connection
//! ([`super::upgrade`]); the rest are `/healthz`, `/console/check`, the API and the pages.

use crate::state::AppState;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use tower_http::trace::TraceLayer;

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .route("/metrics", get(super::scrape::guarded))
        .route("/console/check", post(super::check::console_check))
        .merge(crate::api::routes(&state))
        .merge(super::pages::routes(&state.settings()))
        .layer(middleware::from_fn(crate::api::version::identity_discovery))
        .layer(middleware::from_fn_with_state(state.clone(), super::upgrade::upgrade_or_next))
        // The span records the path only: the query may hold a token. Refusals and failures are
        // logged where they happen, at the level they deserve, not as errors here.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(
                    |req: &Request| tracing::debug_span!("http", method = %req.method(), path = %crate::redact::loggable_path(req.uri().path())),
                )
                .on_failure(()),
        )
        .layer(middleware::from_fn(refuse_double_slash))
        .with_state(state)
}

/// Paths starting with `//` are refused before anything else (CVE-2021-3654, open redirect).
async fn refuse_double_slash(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("//") {
        return (StatusCode::BAD_REQUEST, "URI must not start with //").into_response();
    }
    next.run(req).await
}
