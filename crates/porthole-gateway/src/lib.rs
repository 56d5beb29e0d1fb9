//! The proxy role of Porthole: console pages, the Nova-compatible API, and console sessions from a
//! browser's WebSocket to a VM's VNC server.
//!
//! # A session, from accept to close
//! 1. `edge` accepts the TCP connection and serves HTTP/1 on it with hyper. A request with
//!    `Upgrade: websocket`, on any path, is a console connection; RFC 6455 checks come first
//!    (`porthole-ws`).
//! 2. `admission` decides, cheapest first: headers (one Host, an Origin of ours), throttling of
//!    failed tokens, a session slot (`max_sessions`), then the token (store), the Origin's scheme,
//!    the endpoint (libvirt, CVE-2013-0335), and registration in [`live`] — refused if the
//!    instance was revoked meanwhile. A refusal is an HTTP status, logged as a refusal.
//! 3. `edge` answers `101` and, once hyper hands over the connection, starts the `session`.
//! 4. `upstream` connects to the VNC server (TCP, or a socket from libvirt) and, with the
//!    security proxy on, authenticates to it on the browser's behalf (VNC password, VeNCrypt).
//! 5. `relay` moves bytes both ways with backpressure, in one poll loop that never waits on one
//!    peer while the other or a policy needs it; its clock watches idleness, stalled peers and a
//!    silent VNC server.
//! 6. `session` races every phase against the policies (reset, VM stopped, expiry, kill,
//!    shutdown), tells a stopped VM from a VNC server that went away, and turns the typed ending
//!    (`end::SessionEnd`: which side, how) into a close code and a log line, in one
//!    place. The close is bounded in time; then the sockets are dropped and the slot returned.
//!
//! # Layout
//! - `edge`: listener, router, pages, the upgrade, `/console/check`, shutdown drain.
//! - `admission`: the checks before the upgrade (`admission::origin` among them).
//! - `upstream`: the VNC server's connection and the RFB security proxy.
//! - `relay`: the byte pump.
//! - `session`: a session's lifecycle and how it ended.
//! - [`live`]: live sessions, revocation, ending them.
//! - [`cluster`]: this process among others on one store: sessions recorded there with
//!   heartbeats, revokes and kills from other processes acted on here.
//! - `api`: the Nova-compatible REST API under `/v2.1`.
//! - [`mint`]: minting a console for an instance (API and CLI); `endpoint` converts endpoints;
//!   `recheck` asks whether a token's endpoint is still its instance's (Porthole's or Nova's tokens).
//! - [`metrics`]: Prometheus metrics (`/metrics`); `audit`: the security audit, cached.
//! - [`state`], [`settings`]: what handlers share, and the tunables.
//! - [`web`]: the console pages' files, embedded at build time.
//!
//! Dependencies point one way: edge → admission → live; edge → session → upstream, relay → live;
//! api → mint, live, cluster; cluster → live; everything reads state and settings.

#![warn(missing_docs)]

mod admission;
mod api;
mod audit;
pub mod cluster;
mod edge;
mod end;
mod endpoint;
pub mod live;
pub mod metrics;
pub mod mint;
mod recheck;
mod redact;
mod relay;
mod session;
pub mod settings;
pub mod state;
mod throttle;
mod upstream;
pub mod web;

/// Instances and their VNC endpoints.
pub mod inventory {
    pub use porthole_compute::inventory::*;
}

pub use api::sessions::SessionDoc;
pub use edge::{metrics_router, render_metrics, router, serve, serve_metrics, tls_server_config};
pub use redact::loggable_path;
pub use settings::{ApiKey, Role, Scope, Settings};
pub use state::AppState;
pub use upstream::security::{tls_config, TlsSettings};
