//! The WebSocket protocol (RFC 6455), server side, as a console relay needs it.
//!
//! Browser frames are parsed as a byte stream and their payload handed on as it arrives, never
//! reassembled into messages; frames toward the browser are a header written in front of a payload
//! the caller already holds, in one vectored write. Everything from the network is hostile:
//! lengths are never trusted for allocation and no input panics (fuzzed by
//! `fuzz/fuzz_targets/ws_frames.rs`).
//!
//! The crate knows nothing of VNC, tokens, libvirt or SQL, so it builds and tests in seconds.
//!
//! # Layout
//! - [`handshake`]: the opening handshake's checks and the `101 Switching Protocols` answer.
//! - [`frame`]: [`FrameReader`] (browser frames → [`Event`]s) and the server-side encoders.
//! - [`transport`]: [`Transport`], the byte streams a connection runs on (TCP, TLS, in-memory).
//! - [`conn`]: [`WsConn`], one browser's connection after the upgrade: the relay's small API
//!   (fill, next event, start a frame, write) and async helpers for the phases before it.

#![warn(missing_docs)]

pub mod conn;
pub mod frame;
pub mod handshake;
pub mod transport;

pub use conn::{WsConn, WsError};
pub use frame::{Event, FrameReader, ProtocolError};
pub use handshake::{Accepted, Refusal};
pub use transport::Transport;

/// Close codes (RFC 6455 §7.4.1) the proxy sends.
pub mod close_code {
    /// Normal closure: the VNC server ended the session.
    pub const NORMAL: u16 = 1000;
    /// Going away: the proxy is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The browser broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Ended by policy: revoked, expired, idle, instance stopped.
    pub const POLICY: u16 = 1008;
    /// The VNC server could not be reached, or failed.
    pub const SERVER_ERROR: u16 = 1011;
}
