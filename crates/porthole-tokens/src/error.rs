//! Errors of token minting and of the token stores.

/// What went wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store URL names a backend this build does not have, or is malformed.
    #[error("unsupported token store URL {url:?}: {reason}")]
    StoreUrl {
        /// The URL with any password removed.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The store's database failed (connection, I/O, SQL).
    #[error("token store: {0}")]
    Backend(String),
    /// A row in the store could not be turned back into connect info.
    #[error("token store holds a malformed row: {0}")]
    Decode(String),
    /// A freshly minted token's hash is already stored (never happens with 256 random bits).
    #[error("token hash already in use")]
    TokenInUse,
    /// The access URL base in the configuration is not a URL.
    #[error("invalid access URL base {base:?}: {reason}")]
    AccessUrlBase {
        /// The configured base.
        base: String,
        /// What the URL parser said.
        reason: String,
    },
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Backend(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
