//! The embedded default store: one SQLite file in WAL mode, shared by `serve` and the CLI.

use super::{ConnectInfo, TokenStore};
use crate::{Error, Result, TokenHash};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row as _, SqlitePool};
use std::str::FromStr as _;
use std::time::Duration;
use uuid::Uuid;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS console_auth_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    internal_access_path TEXT,
    access_url_base TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_auth_tokens_instance ON console_auth_tokens (instance_uuid);
CREATE INDEX IF NOT EXISTS console_auth_tokens_expires ON console_auth_tokens (expires);
";

/// A [`TokenStore`] in a SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `sqlite://PATH`, or `sqlite::memory:`.
    pub async fn open(url: &str) -> Result<Self> {
        let memory = url.contains(":memory:");
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::StoreUrl { url: url.to_owned(), reason: e.to_string() })?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5));
        let opts = if memory { opts } else { opts.journal_mode(SqliteJournalMode::Wal) };
        // An in-memory database exists per connection: keep exactly one.
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if memory { None } else { Some(Duration::from_secs(1800)) })
            .connect_with(opts)
            .await
            .map_err(|e| Error::Backend(format!("cannot open {url}: {e} (does its directory exist, and may Porthole write there?)")))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO console_auth_tokens (token_hash, instance_uuid, console_type, host, port, \
             internal_access_path, access_url_base, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(hash.as_str())
        .bind(info.instance_uuid.to_string())
        .bind(&info.console_type)
        .bind(&info.host)
        .bind(i64::from(info.port))
        .bind(&info.internal_access_path)
        .bind(&info.access_url_base)
        .bind(info.expires)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::TokenInUse),
            Err(e) => Err(e.into()),
        }
    }

    async fn validate(&self, hash: &TokenHash, now: i64) -> Result<Option<ConnectInfo>> {
        let row = sqlx::query(
            "SELECT instance_uuid, console_type, host, port, internal_access_path, \
             access_url_base, expires FROM console_auth_tokens WHERE token_hash = ? AND expires > ?",
        )
        .bind(hash.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let uuid: String = row.try_get("instance_uuid")?;
        let port: i64 = row.try_get("port")?;
        Ok(Some(ConnectInfo {
            instance_uuid: Uuid::parse_str(&uuid).map_err(|e| Error::Decode(e.to_string()))?,
            console_type: row.try_get("console_type")?,
            host: row.try_get("host")?,
            port: u16::try_from(port).map_err(|_| Error::Decode(format!("port {port}")))?,
            internal_access_path: row.try_get("internal_access_path")?,
            access_url_base: row.try_get("access_url_base")?,
            expires: row.try_get("expires")?,
        }))
    }

    async fn revoke_instance(&self, instance: Uuid) -> Result<u64> {
        let res =
            sqlx::query("DELETE FROM console_auth_tokens WHERE instance_uuid = ?").bind(instance.to_string()).execute(&self.pool).await?;
        Ok(res.rows_affected())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        let res = sqlx::query("DELETE FROM console_auth_tokens WHERE expires <= ?").bind(now).execute(&self.pool).await?;
        Ok(res.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    crate::store_conformance_tests!(super::SqliteStore::open("sqlite::memory:").await.unwrap());

    mod on_disk {
        // The same suite on a WAL file, as `serve` uses it.
        crate::store_conformance_tests!({
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let store = super::super::SqliteStore::open(&url).await.unwrap();
            std::mem::forget(dir);
            store
        });
    }
}
