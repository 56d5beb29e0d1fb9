//! The token store: what a backend must do, and how a store URL picks one.
//!
//! Backends: [`SqliteStore`] (embedded, the default), [`PostgresStore`] (shared by several
//! proxies), [`MemoryStore`] (tests, throwaway runs). SQLite and PostgreSQL get their schema from
//! the migrations in `migrations/<backend>/`, applied by `sqlx::migrate!` when the store opens.

pub mod conformance;
mod memory;
mod options;
pub(crate) mod postgres;
pub(crate) mod sqlite;

pub use memory::MemoryStore;
pub use options::*;
#[doc(hidden)]
pub use postgres::scratch_schema;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

pub use crate::record::{ConnectInfo, ConsoleType, Lookup, TokenEndpoint};
use crate::{Error, Result, TokenHash, Unavailable};
use async_trait::async_trait;
use std::sync::Arc;
use uuid::Uuid;

/// A place to keep token hashes. Every backend passes the suite in [`conformance`].
///
/// Any method may fail with [`Error::Unavailable`] when the database is down or (SQLite) its file
/// was deleted or replaced; nothing is written or read then.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a new token. A hash that is already stored gives [`Error::TokenInUse`].
    async fn insert(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()>;
    /// What the store knows about a token at `now` (epoch seconds): valid while `expires > now`
    /// and not revoked.
    async fn lookup(&self, hash: &TokenHash, now: i64) -> Result<Lookup>;
    /// The connect info of a [`Lookup::Valid`] token.
    async fn validate(&self, hash: &TokenHash, now: i64) -> Result<Option<ConnectInfo>> {
        Ok(self.lookup(hash, now).await?.valid())
    }
    /// Marks every not yet revoked token of an instance as revoked at `now`; returns how many.
    /// The rows stay (lookups answer [`Lookup::Revoked`]) until the purge deletes them.
    async fn revoke_instance(&self, instance: Uuid, now: i64) -> Result<u64>;
    /// Deletes every token with `expires <= now`, revoked or not; returns how many there were.
    async fn purge_expired(&self, now: i64) -> Result<u64>;
    /// Whether the store can serve: the database answers and takes writes, and (SQLite) the file
    /// at the configured path is still the one opened. For readiness checks.
    async fn health(&self) -> Result<()>;
}

/// Opens the store named by a `[consoleauth] store` URL: `sqlite://PATH`, `sqlite::memory:`,
/// `postgres://…` (or `postgresql://…`), or `memory:` for a store that lives as long as the process.
pub async fn open_store(url: &str, options: &StoreOptions) -> Result<Arc<dyn TokenStore>> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(url, options).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(url, options).await?));
    }
    Err(Error::StoreUrl { url: redact(url), reason: "expected sqlite://PATH or postgres://USER@HOST/DATABASE".to_owned() })
}

/// Removes a password from a URL before it goes into a message.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.into()
        }
        _ => url.to_owned(),
    }
}

/// Maps a driver error: `unavailable(code)` says which database error codes mean the store is
/// down rather than the statement wrong; a unique violation is [`Error::TokenInUse`].
fn db_error(e: sqlx::Error, unavailable: fn(&str) -> bool) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::TokenInUse,
        sqlx::Error::Database(d) if d.code().is_some_and(|c| unavailable(&c)) => Error::Unavailable(Unavailable::Database(d.to_string())),
        _ => Error::from(e),
    }
}

/// The columns an endpoint is stored in: `endpoint_kind`, `host`, `port`, `node`.
fn endpoint_columns(e: &TokenEndpoint) -> (&'static str, Option<&str>, Option<u16>, Option<&str>) {
    match e {
        TokenEndpoint::Tcp { host, port } => (e.kind(), Some(host), Some(*port), None),
        TokenEndpoint::GraphicsFd { node } | TokenEndpoint::ConsoleStream { node } => (e.kind(), None, None, Some(node)),
    }
}

/// The endpoint back from its columns.
fn endpoint_from_columns(kind: &str, host: Option<String>, port: Option<i64>, node: Option<String>) -> Result<TokenEndpoint> {
    let missing = |what: &str| Error::Decode(format!("a {kind} endpoint without {what}"));
    match kind {
        "tcp" => {
            let port = port.ok_or_else(|| missing("a port"))?;
            let port = u16::try_from(port).map_err(|_| Error::Decode(format!("port {port}")))?;
            Ok(TokenEndpoint::Tcp { host: host.ok_or_else(|| missing("a host"))?, port })
        }
        "graphics-fd" => Ok(TokenEndpoint::GraphicsFd { node: node.ok_or_else(|| missing("a node"))? }),
        "console-stream" => Ok(TokenEndpoint::ConsoleStream { node: node.ok_or_else(|| missing("a node"))? }),
        other => Err(Error::Decode(format!("unknown endpoint kind {other:?}"))),
    }
}

pub(crate) fn console_type_from_column(s: &str) -> Result<ConsoleType> {
    s.parse().map_err(|e: crate::record::UnknownConsoleType| Error::Decode(e.to_string()))
}
