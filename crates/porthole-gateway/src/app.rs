//! The HTTP edge: [`router`] wires every route; [`serve`] runs it on a listener until shutdown.

use crate::pages;
use crate::state::AppState;
use crate::ws::upgrade_or_next;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// All routes: `/healthz`, the console pages, and WebSocket upgrades on any path.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(crate::api::routes(&state))
        .merge(pages::routes(&state.settings))
        .layer(middleware::from_fn_with_state(state.clone(), upgrade_or_next))
        // The span records the path only: the query may hold a token.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::debug_span!("http", method = %req.method(), path = %loggable_path(req.uri().path()))
        }))
        .layer(middleware::from_fn(refuse_double_slash))
        .with_state(state)
}

/// The request path as it may appear in a log line: a console token in the path
/// (`/v2.1/os-console-auth-tokens/<token>`) is replaced by `***`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const TOKENS: &str = "/os-console-auth-tokens/";
    match path.find(TOKENS) {
        Some(i) => format!("{}***", &path[..i + TOKENS.len()]).into(),
        None => path.into(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Paths starting with `//` are refused before anything else (CVE-2021-3654, open redirect).
async fn refuse_double_slash(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("//") {
        return (StatusCode::BAD_REQUEST, "URI must not start with //").into_response();
    }
    next.run(req).await
}

/// Serves `router(state)` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_in_paths_are_masked() {
        assert_eq!(super::loggable_path("/v2.1/os-console-auth-tokens/SeCrEt"), "/v2.1/os-console-auth-tokens/***");
        assert_eq!(super::loggable_path("/v2.1/servers"), "/v2.1/servers");
    }
}
