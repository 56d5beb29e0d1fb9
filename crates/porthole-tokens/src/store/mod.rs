//! The token store: what a backend must do, and how a store URL picks one.

pub mod conformance;
mod memory;
mod sqlite;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use crate::{Error, Result, TokenHash};
use async_trait::async_trait;
use std::sync::Arc;
use uuid::Uuid;

/// What the proxy needs to reach a console, stored next to the token's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectInfo {
    /// The instance (VM or static target) the token opens.
    pub instance_uuid: Uuid,
    /// `novnc` for the consoles this proxy serves.
    pub console_type: String,
    /// Where the proxy connects: the node's `proxyclient_address` or the target's host.
    pub host: String,
    /// The VNC server's TCP port.
    pub port: u16,
    /// Nova's legacy HTTP CONNECT path; unused by libvirt, kept for API compatibility.
    pub internal_access_path: Option<String>,
    /// The `novncproxy_base_url` the access URL was built from; the Origin scheme check uses it.
    pub access_url_base: String,
    /// Expiry in epoch seconds; the token is valid while `expires > now`.
    pub expires: i64,
}

/// What a token lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A valid token and what it opens.
    Valid(ConnectInfo),
    /// The token existed and expired.
    Expired,
    /// The token was revoked.
    Revoked,
    /// No such token.
    Unknown,
}

/// A place to keep token hashes. Every backend passes the suite in [`conformance`].
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a new token. A hash that is already stored gives [`Error::TokenInUse`].
    async fn insert(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()>;
    /// Returns the connect info of a stored token with `expires > now`, if any.
    async fn validate(&self, hash: &TokenHash, now: i64) -> Result<Option<ConnectInfo>>;
    /// Deletes every token of an instance; returns how many there were.
    async fn revoke_instance(&self, instance: Uuid) -> Result<u64>;
    /// Deletes every token with `expires <= now`; returns how many there were.
    async fn purge_expired(&self, now: i64) -> Result<u64>;
}

/// Opens the store named by a `[consoleauth] store` URL (`sqlite://PATH`, `sqlite::memory:`,
/// or `memory:` for a store that lives only as long as the process).
pub async fn open_store(url: &str) -> Result<Arc<dyn TokenStore>> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(url).await?));
    }
    let reason = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "the PostgreSQL backend is not in this build yet; use sqlite://PATH"
    } else {
        "expected sqlite://PATH"
    };
    Err(Error::StoreUrl { url: redact(url), reason: reason.to_owned() })
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
