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
        .layer(
            TraceLayer::new_for_http().make_span_with(
                |req: &Request| tracing::debug_span!("http", method = %req.method(), path = %loggable_path(req.uri().path())),
            ),
        )
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

/// Serves `router(state)` on `listener` until `shutdown` completes, then lets HTTP requests in
/// progress finish (console sessions, once upgraded, are not waited for).
///
/// Connections are served by hyper's HTTP/1 server directly, not `axum::serve`: a WebSocket
/// upgrade must hand the relay the plain `TcpStream`, which it writes frames to directly.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let router = router(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: log, pause, go on.
                    tracing::warn!(cause = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                tower::ServiceExt::oneshot(router.clone(), req.map(axum::body::Body::new))
            });
            // The timer gives hyper its default 30 s limit for reading a request's headers.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_in_paths_are_masked() {
        assert_eq!(super::loggable_path("/v2.1/os-console-auth-tokens/SeCrEt"), "/v2.1/os-console-auth-tokens/***");
        assert_eq!(super::loggable_path("/v2.1/servers"), "/v2.1/servers");
    }
}
