//! The embedded default store: one SQLite file in WAL mode, shared by `serve` and the CLI, which
//! may be many processes at once (writes wait up to `busy_timeout` for each other).
//!
//! The store remembers which file it opened (device and inode) and refuses to work once that file
//! was deleted or replaced ([`Unavailable`](crate::Unavailable)): new connections never create a
//! fresh file behind an old one's back.

mod file;
#[cfg(test)]
mod tests;

use super::{console_type_from_column, db_error, endpoint_columns, endpoint_from_columns, ConnectInfo, Lookup, StoreOptions, TokenStore};
use crate::{Error, Result, TokenHash, Unavailable};
use async_trait::async_trait;
use file::OpenedFile;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Connection as _, Row as _, SqlitePool};
use std::str::FromStr as _;
use std::sync::Arc;
use uuid::Uuid;

/// The schema, from `migrations/sqlite/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`TokenStore`] in a SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The file opened; `None` for an in-memory database.
    file: Option<Arc<OpenedFile>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `sqlite://PATH`, or `sqlite::memory:`, and brings
    /// its schema up to date.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Self> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::StoreUrl { url: url.to_owned(), reason: e.to_string() })?
            .busy_timeout(options.busy_timeout);
        // No `connect_timeout` here: a local file's only wait is for other writers' lock, which
        // `busy_timeout` bounds per statement (hundreds of processes opening a new file at once
        // take their turns at creating the schema).
        if url.contains(":memory:") {
            Self::open_memory(base).await
        } else {
            Self::open_file(url, base, options).await
        }
    }

    async fn open_memory(opts: SqliteConnectOptions) -> Result<Self> {
        // An in-memory database exists per connection: keep exactly one, forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await
            .map_err(sqlite_error)?;
        MIGRATOR.run_direct(&mut *pool.acquire().await.map_err(sqlite_error)?).await?;
        Ok(SqliteStore { pool, file: None })
    }

    async fn open_file(url: &str, base: SqliteConnectOptions, options: &StoreOptions) -> Result<Self> {
        // WAL: readers never wait for writers. synchronous = NORMAL is safe from corruption in WAL
        // mode and keeps fsync out of the write lock; a power cut may lose the last tokens minted.
        let opts = base.journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal);
        let mut first = SqliteConnection::connect_with(&opts.clone().create_if_missing(true)).await.map_err(|e| {
            Unavailable::Database(format!("cannot open {url}: {e} (does its directory exist, and may Porthole write there?)"))
        })?;
        let file = OpenedFile::remember(opts.get_filename())
            .map_err(|e| Unavailable::Database(format!("cannot stat {}: {e}", opts.get_filename().display())))?;
        migrate(&mut first).await?;
        first.close().await.map_err(sqlite_error)?;
        // From now on a missing file is an error, never a new empty database.
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime)
            .connect_lazy_with(opts.create_if_missing(false));
        Ok(SqliteStore { pool, file: Some(Arc::new(file)) })
    }

    /// The database file's absolute path; `None` in memory.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.file.as_deref().map(OpenedFile::path)
    }

    /// `Ok` while the configured path still names the file this store opened.
    pub(crate) fn check_file(&self) -> Result<()> {
        self.file.as_deref().map_or(Ok(()), OpenedFile::check)
    }
}

/// Applies the migrations that are missing. Many processes may open one file at once (every CLI
/// run does): when everything is applied, a read suffices; otherwise the migrations run under
/// SQLite's write lock, so that two processes never apply the same one.
async fn migrate(conn: &mut SqliteConnection) -> Result<()> {
    if up_to_date(conn).await {
        return Ok(());
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
    // `run_direct` rather than `run`: the same, but its future is `Send` for any borrow (sqlx's own workaround).
    MIGRATOR.run_direct(&mut *tx).await?;
    tx.commit().await.map_err(sqlite_error)
}

/// Whether every migration is recorded as applied with its checksum, and nothing else is.
async fn up_to_date(conn: &mut SqliteConnection) -> bool {
    let applied: Vec<(i64, Vec<u8>)> =
        match sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(conn).await {
            Ok(rows) => rows,
            Err(_) => return false,
        };
    applied.len() == MIGRATOR.iter().count()
        && applied.iter().zip(MIGRATOR.iter()).all(|((v, sum), m)| *v == m.version && **sum == *m.checksum)
}

/// SQLite result codes (the primary code, the low byte of the extended one) that mean the store
/// cannot serve now: BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB.
fn sqlite_unavailable(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 11 | 13 | 14 | 26))
}

pub(crate) fn sqlite_error(e: sqlx::Error) -> Error {
    db_error(e, sqlite_unavailable)
}

const LOOKUP: &str = "SELECT instance_uuid, console_type, endpoint_kind, host, port, node, internal_access_path, access_url_base, \
                      expires, revoked_at, view_only, minted_by FROM console_auth_tokens WHERE token_hash = ?";

fn decode(row: &SqliteRow, now: i64) -> Result<Lookup> {
    let uuid: String = row.try_get("instance_uuid")?;
    let kind: String = row.try_get("endpoint_kind")?;
    let console_type: String = row.try_get("console_type")?;
    let info = ConnectInfo {
        instance_uuid: Uuid::parse_str(&uuid).map_err(|e| Error::Decode(format!("instance_uuid {uuid:?}: {e}")))?,
        console_type: console_type_from_column(&console_type)?,
        endpoint: endpoint_from_columns(&kind, row.try_get("host")?, row.try_get("port")?, row.try_get("node")?)?,
        internal_access_path: row.try_get("internal_access_path")?,
        access_url_base: row.try_get("access_url_base")?,
        expires: row.try_get("expires")?,
        view_only: row.try_get("view_only")?,
        minted_by: row.try_get("minted_by")?,
    };
    Ok(Lookup::of_row(info, row.try_get("revoked_at")?, now))
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()> {
        self.check_file()?;
        let (kind, host, port, node) = endpoint_columns(&info.endpoint);
        sqlx::query(
            "INSERT INTO console_auth_tokens (token_hash, instance_uuid, console_type, endpoint_kind, host, port, node, \
             internal_access_path, access_url_base, expires, view_only, minted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(hash.as_str())
        .bind(info.instance_uuid.to_string())
        .bind(info.console_type.as_str())
        .bind(kind)
        .bind(host)
        .bind(port.map(i64::from))
        .bind(node)
        .bind(&info.internal_access_path)
        .bind(&info.access_url_base)
        .bind(info.expires)
        .bind(info.view_only)
        .bind(&info.minted_by)
        .execute(&self.pool)
        .await
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn lookup(&self, hash: &TokenHash, now: i64) -> Result<Lookup> {
        self.check_file()?;
        let row = sqlx::query(LOOKUP).bind(hash.as_str()).fetch_optional(&self.pool).await.map_err(sqlite_error)?;
        row.map_or(Ok(Lookup::Unknown), |row| decode(&row, now))
    }

    async fn revoke_instance(&self, instance: Uuid, now: i64) -> Result<u64> {
        self.check_file()?;
        let res = sqlx::query("UPDATE console_auth_tokens SET revoked_at = ? WHERE instance_uuid = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(instance.to_string())
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.check_file()?;
        let res =
            sqlx::query("DELETE FROM console_auth_tokens WHERE expires <= ?").bind(now).execute(&self.pool).await.map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn health(&self) -> Result<()> {
        self.check_file()?;
        // Takes the write lock and gives it back: the file is writable and no one holds it for long.
        let mut conn = self.pool.acquire().await.map_err(sqlite_error)?;
        let tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        tx.rollback().await.map_err(sqlite_error)
    }
}
