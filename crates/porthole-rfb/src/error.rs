//! What can go wrong while decoding RFB.

/// A decoding outcome other than success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// More bytes are needed; nothing was consumed.
    #[error("incomplete message")]
    Incomplete,
    /// The peer sent something that is not valid RFB.
    #[error(transparent)]
    InvalidMessage(#[from] InvalidMessage),
}

/// Ways a message can be malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidMessage {
    /// The ProtocolVersion line is not `RFB xxx.yyy\n`.
    #[error("malformed protocol version")]
    BadVersion,
    /// A client message type this crate does not know.
    #[error("unknown message type {0}")]
    UnknownMessageType(u8),
    /// A length field exceeds the cap for that field.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Which field.
        what: &'static str,
        /// Its announced length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A pixel format this crate cannot handle.
    #[error("unsupported pixel format")]
    BadPixelFormat,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
