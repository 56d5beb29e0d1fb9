//! Sans-io RFB (the VNC protocol, RFC 6143): message encoding and decoding.
//!
//! This crate does not take care of network I/O: it reads from byte slices and writes into
//! `Vec<u8>`. Callers own the sockets and feed bytes in; input that is too short to decode gives
//! [`Error::Incomplete`], so a caller reads more and tries again.
//!
//! # Layout
//! - [`codec`]: [`Reader`] over a byte slice and big-endian encoders.
//! - [`messages`]: protocol version, pixel format, ServerInit, client messages, server messages.
//! - [`security`]: security type numbers, VeNCrypt subtypes, the VNC authentication response.
//! - [`handshake`]: the security proxy's handshake, browser and server sides ([`handshake::ProxyHandshake`]),
//!   and a VNC server's own handshake with its clients ([`handshake::ServerHandshake`]).
//! - [`view_only`]: the filter that keeps a view-only session's browser from typing or clicking.
//! - [`fuzzing`]: entry points for the fuzz targets.
//! - [`error`]: [`Error`] and [`InvalidMessage`].

#![warn(missing_docs)]

pub mod codec;
pub mod error;
pub mod fuzzing;
pub mod handshake;
pub mod messages;
pub mod security;
pub mod view_only;

pub use codec::Reader;
pub use error::{Error, InvalidMessage, Result};
pub use messages::{ClientMessage, PixelFormat, ProtocolVersion, ServerInit};
