//! What can end a client's connection to a VNC server run here.

use porthole_rfb::handshake::server::ClientFault;
use std::io;
use std::time::Duration;

/// Why a client's connection ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading from or writing to the client failed.
    #[error("connection to the client failed: {0}")]
    Io(#[from] io::Error),
    /// The client did not finish the handshake in time.
    #[error("the client did not finish the handshake within {0:?}")]
    HandshakeTimeout(Duration),
    /// The client closed the connection during the handshake.
    #[error("the client closed the connection during the handshake")]
    ClosedInHandshake,
    /// The client broke the handshake (the server told it, where RFB has a way to).
    #[error(transparent)]
    Handshake(#[from] ClientFault),
    /// The client sent a message that is not valid RFB.
    #[error("the client sent an invalid message: {0}")]
    InvalidMessage(#[from] porthole_rfb::Error),
    /// The client asked for a pixel format the server cannot produce.
    #[error("the client asked for an unsupported pixel format (true colour, 8, 16 or 32 bits per pixel only)")]
    UnsupportedPixelFormat,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
