//! Test helpers for Porthole (a dev-dependency only): in-process VNC servers, an RFB client that
//! runs over TCP or a WebSocket, and tracing set-up for tests.
//!
//! # Layout
//! - [`server`]: [`FakeVncServer`], an RFB 3.8 server, a raw echo server and a greet-then-close one.
//! - [`client`]: [`RfbClient`], the client side of RFB 3.8 with security None, raw updates only.
//! - [`raw_ws`]: [`raw_ws::RawWs`], a minimal WebSocket client for benchmarks.
//! - [`ws`]: [`WsIo`], a WebSocket client as `AsyncRead + AsyncWrite`, and [`ws_connect`].

#![allow(missing_docs, clippy::unwrap_used)]

pub mod client;
pub mod raw_ws;
pub mod server;
pub mod ws;

pub use client::RfbClient;
pub use server::FakeVncServer;
pub use ws::{ws_connect, WsIo};

/// Installs a test log subscriber once (`RUST_LOG` filters it).
pub fn trace_init() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
}
