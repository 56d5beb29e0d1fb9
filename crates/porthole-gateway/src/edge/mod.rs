//! The edge: the listener, the HTTP server, the router and the pages. [`serve`] accepts
//! connections and serves [`router`] on each with hyper's HTTP/1 server, so that a WebSocket
//! upgrade hands the session the plain connection; on shutdown it stops accepting, drains live
//! sessions for `drain_timeout`, tells the rest "Going away" (1001), and returns.

mod check;
mod health;
mod pages;
mod router;
mod scrape;
mod stream;
mod tls;
mod upgrade;

pub use router::router;
pub use scrape::{metrics_router, render_metrics, serve_metrics};
pub use tls::tls_server_config;

use crate::live::Policy;
use crate::state::AppState;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long sessions told "Going away" get to close before `serve` returns anyway.
const GOING_AWAY_GRACE: Duration = Duration::from_secs(2);
/// How long HTTP requests in progress (API calls, pages) get after the shutdown began.
const HTTP_GRACE: Duration = Duration::from_secs(5);
/// How long the session records of the last sessions get to be written.
const RECORDS_GRACE: Duration = Duration::from_secs(5);

/// Serves `router(state)` on `listener` until `shutdown` completes, then drains (see the module
/// documentation).
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let router = router(state.clone());
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
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let mut stop = stop_rx.clone();
        let settings = state.settings();
        connections.spawn(async move {
            let io = match stream::accept(tcp, settings.tls.clone(), settings.ssl_only).await {
                Ok(io) => io,
                Err(e) => return tracing::debug!(%peer, cause = %e, "connection not taken"),
            };
            let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                tower::ServiceExt::oneshot(router.clone(), req.map(axum::body::Body::new))
            });
            // The timer gives hyper its default 30 s limit for reading a request's headers.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(io), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    state.live.stop_admitting();
    let _ = stop_tx.send(true);
    let live = state.live.count();
    let drain = state.settings().drain_timeout;
    tracing::info!(live, drain_s = drain.as_secs_f32(), "shutting down: no new consoles; live ones may go on for the drain time");
    if tokio::time::timeout(drain, state.live.wait_empty()).await.is_err() {
        let told = state.live.end_all(Policy::Shutdown);
        tracing::info!(sessions = told, "drain time over: live consoles told \"Going away\"");
        let _ = tokio::time::timeout(GOING_AWAY_GRACE, state.live.wait_empty()).await;
    }
    let _ = tokio::time::timeout(HTTP_GRACE, async { while connections.join_next().await.is_some() {} }).await;
    if !state.cluster.flush(RECORDS_GRACE).await {
        tracing::warn!("some session records could not be written before exiting (store unavailable): the history misses their end");
    }
    Ok(())
}
