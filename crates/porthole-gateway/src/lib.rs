//! The proxy role of Porthole: console pages, the WebSocket endpoint with its token, endpoint and
//! Origin checks, and the relay to VNC servers.
//!
//! # Layout
//! - [`app`]: `router(state)` and `serve`, the HTTP edge.
//! - [`api`]: the Nova-compatible REST API under `/v2.1`.
//! - [`state`]: [`AppState`] and the proxy [`Settings`].
//! - [`pages`]: the console page and noVNC assets.
//! - [`console`]: minting a console for an instance.
//! - `endpoint`: compute's endpoint in the token store's connect info, and back.
//! - [`ws`]: the WebSocket endpoint (checks before the upgrade, then a session), its opening
//!   handshake, framing and connection.
//! - [`token_source`]: the token from the query or the `token` cookie.
//! - [`origin`]: the Origin check.
//! - [`inventory`]: instances and their VNC endpoints (re-exported from `porthole-compute`).
//! - [`sessions`]: live sessions by instance.
//! - [`upstream`]: connecting to VNC servers.
//! - [`relay`]: the WebSocket ⇄ TCP pump.
//! - [`security`]: the RFB security proxy (VNC password, VeNCrypt over rustls).
//! - [`demo`]: the built-in demo VNC server.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod console;
pub mod demo;
mod endpoint;
/// Instances and their VNC endpoints.
pub mod inventory {
    pub use porthole_compute::inventory::*;
}
pub mod origin;
pub mod pages;
pub mod relay;
pub mod security;
pub mod sessions;
pub mod state;
pub mod token_source;
pub mod upstream;
pub mod ws;

pub use app::{router, serve};
pub use state::{AppState, Settings};
