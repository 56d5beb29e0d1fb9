//! Errors of the compute role.

/// What went wrong while asking a node or reading domain XML.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Domain XML that could not be read.
    #[error("domain XML: {0}")]
    DomainXml(String),
    /// libvirt said no (connection, lookup, XML).
    #[error("libvirt {uri}: {message}")]
    Libvirt {
        /// The node's URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// The node did not answer in time.
    #[error("libvirt {uri}: no answer within {secs} s")]
    Timeout {
        /// The node's URI.
        uri: String,
        /// The limit, in seconds.
        secs: f64,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
