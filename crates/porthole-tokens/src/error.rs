//! Errors of token minting and of the token stores. [`Error::Unavailable`] is the store being down
//! (answer 503 and retry later); the other variants are bad input or a bug.

use std::path::PathBuf;

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
    /// The store cannot serve now: its database is unreachable or busy, or its file is gone.
    /// (Not a `source`: the message already holds it, and `{:#}` would print it twice.)
    #[error("token store unavailable: {0}")]
    Unavailable(Unavailable),
    /// The database refused a statement for another reason (a schema it does not expect, a bug).
    #[error("token store: {0}")]
    Backend(String),
    /// A row in the store could not be turned back into connect info.
    #[error("token store holds a malformed row: {0}")]
    Decode(String),
    /// A freshly minted token's hash is already stored (never happens with 256 random bits).
    #[error("token hash already in use")]
    TokenInUse,
    /// The store is Nova's database, which only Nova writes: minting, revoking and purging are
    /// Nova's, this store reads.
    #[error("cannot {0}: the token store is Nova's database; Nova mints and purges its console tokens, this store is read-only")]
    ReadOnly(&'static str),
    /// The access URL base in the configuration is not a URL.
    #[error("invalid access URL base {base:?}: {reason}")]
    AccessUrlBase {
        /// The configured base.
        base: String,
        /// What the URL parser said.
        reason: String,
    },
}

/// Why the store cannot serve now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unavailable {
    /// The SQLite file the store opened was deleted: tokens minted now would be lost, and
    /// processes that open the path anew would not see them.
    #[error("the SQLite file {} was deleted while in use; restore it or restart Porthole", path.display())]
    FileDeleted {
        /// The file's path.
        path: PathBuf,
    },
    /// Another file now stands at the SQLite path (a different device and inode than the one opened).
    #[error("the SQLite file {} was replaced by another file while in use; restart Porthole to use the new one", path.display())]
    FileReplaced {
        /// The file's path.
        path: PathBuf,
    },
    /// The database did not answer in time, refused or dropped the connection, or is busy,
    /// read-only or out of space.
    #[error("{0}")]
    Database(String),
    /// No connection could be had from the pool within its acquire timeout (the server is down,
    /// unreachable, or every connection is busy).
    #[error("no connection to the database within pool_acquire_timeout: is it running and reachable?")]
    NoConnection,
}

impl Error {
    /// Whether the store is down (answer 503, try again later) rather than the request being bad.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }

    /// Whether the store refused a write because it only reads (Nova's database).
    pub fn is_read_only(&self) -> bool {
        matches!(self, Error::ReadOnly(_))
    }
}

impl From<Unavailable> for Error {
    fn from(u: Unavailable) -> Self {
        Error::Unavailable(u)
    }
}

/// Driver errors that are not about a particular statement: the connection or the pool.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => Error::Unavailable(Unavailable::NoConnection),
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Error::Unavailable(Unavailable::Database(e.to_string()))
            }
            other => Error::Backend(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
            other => Error::Backend(format!("migrating the schema: {other}")),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
