//! `/healthz` (the process answers) and `/readyz` (it can serve consoles: the token store is
//! open, writable and still the configured file, the proxy is not shutting down, and its cluster
//! event feed works, so a revoke from another process would reach it; each libvirt node is
//! reported by name, reachable or not), for load balancers and operators.

use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use http::StatusCode;
use serde_json::{json, Value};

pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when ready, 503 when not; the body says why either way.
pub(super) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let inventory = state.inventory();
    let (store, nodes) = tokio::join!(state.auth.health(), inventory.node_health());
    let accepting = !state.live.is_stopping();
    let (events_ok, cluster) = state.cluster.readiness();
    let ready = store.is_ok() && accepting && events_ok;
    let nodes: Vec<Value> = nodes
        .into_iter()
        .map(|(name, health)| match health {
            Ok(()) => json!({"name": name, "reachable": true}),
            Err(e) => json!({"name": name, "reachable": false, "error": e}),
        })
        .collect();
    let store = match store {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    let body = json!({
        "ready": ready,
        "accepting": accepting,
        "store": store,
        "nodes": nodes,
        "live_sessions": state.live.count(),
        "cluster": cluster,
    });
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
