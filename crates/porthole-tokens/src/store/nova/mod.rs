//! Nova's own token table as a read-only store: Porthole validates the console tokens that Nova's
//! `ConsoleAuthToken.authorize` wrote into a Nova cell database (MySQL/MariaDB or PostgreSQL), as
//! nova-novncproxy does. Nova mints and purges; this store only reads, and says so
//! ([`Error::ReadOnly`]) when asked to write.
//!
//! The lookup is Nova's (`console_auth_token_get_valid` in `nova/db/main/api.py`): the row whose
//! `token_hash` is the SHA-256 hex of the token, valid while `expires > now` (epoch seconds). The
//! table has no soft-delete column: Nova deletes rows outright (instance deleted or live-migrated,
//! and its periodic purge of expired rows), so an expired row still there answers
//! [`Lookup::Expired`]. Nova's proxy then looks the instance up (`Instance.get_by_uuid`, rows with
//! `deleted = 0`) and refuses the token of a (soft-)deleted instance; the same join is here, and
//! such a token answers [`Lookup::Revoked`]. Only `novnc` tokens open here: Nova's other console
//! types (`spice-html5`, `serial`, `webmks`) belong to its other proxies and answer
//! [`Lookup::Unknown`]. The database user needs `SELECT` on `console_auth_tokens` and `instances`.

mod url;

pub use url::is_nova_url;
use url::Dialect;

use super::{redact, ConnectInfo, ConsoleType, Lookup, StoreOptions, TokenEndpoint, TokenStore};
use crate::{Error, Result, TokenHash, Unavailable};
use async_trait::async_trait;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{MySqlPool, PgPool, Row as _};
use std::str::FromStr as _;
use uuid::Uuid;

/// A [`TokenStore`] that reads Nova's `console_auth_tokens` table.
#[derive(Clone, Debug)]
pub struct NovaStore {
    db: Db,
    /// The URL with any password removed, for messages.
    shown: String,
}

#[derive(Clone, Debug)]
enum Db {
    MySql(MySqlPool),
    Postgres(PgPool),
}

/// The columns Porthole reads, from the token row and (joined) the live instance row.
const COLUMNS: &str = "t.instance_uuid, t.console_type, t.host, t.port, t.internal_access_path, t.access_url_base, t.expires, \
                       i.uuid AS live_instance FROM console_auth_tokens t \
                       LEFT JOIN instances i ON i.uuid = t.instance_uuid AND i.deleted = 0";

/// One token row, as read.
struct Row {
    instance_uuid: String,
    console_type: String,
    host: String,
    port: i32,
    internal_access_path: Option<String>,
    access_url_base: Option<String>,
    expires: i32,
    live_instance: Option<String>,
}

impl NovaStore {
    /// Whether a `nova+…` URL names a database this store reads (for configuration checks at load).
    pub fn check_url(url: &str) -> Result<()> {
        url::parse(url).map(drop)
    }

    /// Connects to Nova's database named by `nova+mysql[+pymysql]://…` or `nova+postgresql[+psycopg2]://…`
    /// (`[database] connection` from nova.conf with `nova+` in front) and checks, within
    /// `connect_timeout`, that Nova's tables are there and readable.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Self> {
        let (dialect, sqlx_url) = url::parse(url)?;
        let shown = redact(url);
        let bad_url = |e: sqlx::Error| Error::StoreUrl { url: shown.clone(), reason: e.to_string() };
        let db = match dialect {
            Dialect::MySql => {
                let connect = MySqlConnectOptions::from_str(&sqlx_url).map_err(bad_url)?;
                Db::MySql(pool_options::<sqlx::MySql>(MySqlPoolOptions::new(), options).connect_lazy_with(connect))
            }
            Dialect::Postgres => {
                let connect = PgConnectOptions::from_str(&sqlx_url).map_err(bad_url)?.application_name("porthole");
                Db::Postgres(pool_options::<sqlx::Postgres>(PgPoolOptions::new(), options).connect_lazy_with(connect))
            }
        };
        let store = NovaStore { db, shown };
        match tokio::time::timeout(options.connect_timeout, store.probe()).await {
            Ok(Ok(())) => Ok(store),
            Ok(Err(e)) => Err(store.in_context(e)),
            Err(_) => {
                Err(Unavailable::Database(format!("{} did not answer within {:?} (connect_timeout)", store.shown, options.connect_timeout))
                    .into())
            }
        }
    }

    /// Reads nothing, but through the same tables and columns as a lookup: a database that is not
    /// Nova's, or a user without `SELECT`, fails here rather than at the first console.
    async fn probe(&self) -> Result<()> {
        self.fetch("").await.map(drop)
    }

    async fn fetch(&self, hash: &str) -> Result<Option<Row>> {
        match &self.db {
            Db::MySql(pool) => {
                let sql = format!("SELECT {COLUMNS} WHERE t.token_hash = ? LIMIT 1");
                let row = sqlx::query(&sql).bind(hash).fetch_optional(pool).await.map_err(|e| nova_error(e, Dialect::MySql))?;
                row.map(|r| mysql_row(&r)).transpose()
            }
            Db::Postgres(pool) => {
                let sql = format!("SELECT {COLUMNS} WHERE t.token_hash = $1 LIMIT 1");
                let row = sqlx::query(&sql).bind(hash).fetch_optional(pool).await.map_err(|e| nova_error(e, Dialect::Postgres))?;
                row.map(|r| pg_row(&r)).transpose()
            }
        }
    }

    /// Names the database in errors of opening it.
    fn in_context(&self, e: Error) -> Error {
        match e {
            Error::Unavailable(Unavailable::Database(m)) => Unavailable::Database(format!("{}: {m}", self.shown)).into(),
            Error::Backend(m) => Error::Backend(format!("{}: {m}", self.shown)),
            other => other,
        }
    }
}

fn pool_options<DB: sqlx::Database>(pool: sqlx::pool::PoolOptions<DB>, o: &StoreOptions) -> sqlx::pool::PoolOptions<DB> {
    pool.max_connections(o.max_connections)
        .min_connections(o.min_connections)
        .acquire_timeout(o.acquire_timeout)
        .idle_timeout(o.idle_timeout)
        .max_lifetime(o.max_lifetime)
}

fn mysql_row(r: &sqlx::mysql::MySqlRow) -> Result<Row> {
    Ok(Row {
        instance_uuid: r.try_get("instance_uuid")?,
        console_type: r.try_get("console_type")?,
        host: r.try_get("host")?,
        port: r.try_get("port")?,
        internal_access_path: r.try_get("internal_access_path")?,
        access_url_base: r.try_get("access_url_base")?,
        expires: r.try_get("expires")?,
        live_instance: r.try_get("live_instance")?,
    })
}

fn pg_row(r: &sqlx::postgres::PgRow) -> Result<Row> {
    Ok(Row {
        instance_uuid: r.try_get("instance_uuid")?,
        console_type: r.try_get("console_type")?,
        host: r.try_get("host")?,
        port: r.try_get("port")?,
        internal_access_path: r.try_get("internal_access_path")?,
        access_url_base: r.try_get("access_url_base")?,
        expires: r.try_get("expires")?,
        live_instance: r.try_get("live_instance")?,
    })
}

impl Row {
    /// Nova's rules, in Nova's order: expiry (the query), then the instance (the proxy's check).
    fn lookup(self, now: i64) -> Result<Lookup> {
        if self.console_type != ConsoleType::Novnc.as_str() {
            tracing::debug!(console_type = %self.console_type, "a Nova token of another console type: not served here");
            return Ok(Lookup::Unknown);
        }
        if i64::from(self.expires) <= now {
            return Ok(Lookup::Expired);
        }
        if self.live_instance.is_none() {
            return Ok(Lookup::Revoked);
        }
        let instance_uuid =
            Uuid::parse_str(&self.instance_uuid).map_err(|_| Error::Decode(format!("instance_uuid {:?}", self.instance_uuid)))?;
        let port = u16::try_from(self.port).map_err(|_| Error::Decode(format!("port {}", self.port)))?;
        Ok(Lookup::Valid(ConnectInfo {
            instance_uuid,
            console_type: ConsoleType::Novnc,
            endpoint: TokenEndpoint::Tcp { host: self.host, port },
            internal_access_path: self.internal_access_path.filter(|p| !p.is_empty()),
            access_url_base: self.access_url_base.unwrap_or_default(),
            expires: i64::from(self.expires),
            // Nova has no view-only consoles; the session history says who minted it.
            view_only: false,
            minted_by: Some("nova".into()),
        }))
    }
}

/// Driver errors: a missing table or column means the URL is not Nova's cell database; no
/// `SELECT` right means a GRANT is missing; connection classes mean the database is down.
fn nova_error(e: sqlx::Error, dialect: Dialect) -> Error {
    let sqlx::Error::Database(d) = &e else {
        return Error::from(e);
    };
    let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
    let (missing, denied) = match dialect {
        // SQLSTATE 42S02 / 42S22 (no such table / column); 42000 with errors 1142/1143 (denied).
        Dialect::MySql => (code == "42S02" || code == "42S22", code == "42000" && d.message().contains("denied")),
        // 42P01 / 42703 (undefined table / column); 42501 insufficient privilege.
        Dialect::Postgres => (code == "42P01" || code == "42703", code == "42501"),
    };
    if missing {
        return Error::Backend(format!(
            "{} (is this Nova's cell database, [database] connection in nova.conf, not [api_database]?)",
            d.message()
        ));
    }
    if denied {
        return Error::Backend(format!("{} (Porthole's database user needs SELECT on console_auth_tokens and instances)", d.message()));
    }
    if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") {
        return Error::Unavailable(Unavailable::Database(d.to_string()));
    }
    Error::from(e)
}

#[async_trait]
impl TokenStore for NovaStore {
    async fn insert(&self, _hash: &TokenHash, _info: &ConnectInfo) -> Result<()> {
        Err(Error::ReadOnly("mint a console token"))
    }

    async fn lookup(&self, hash: &TokenHash, now: i64) -> Result<Lookup> {
        match self.fetch(hash.as_str()).await? {
            Some(row) => row.lookup(now),
            None => Ok(Lookup::Unknown),
        }
    }

    async fn revoke_instance(&self, _instance: Uuid, _now: i64) -> Result<u64> {
        Err(Error::ReadOnly("revoke console tokens"))
    }

    async fn purge_expired(&self, _now: i64) -> Result<u64> {
        Err(Error::ReadOnly("purge console tokens"))
    }

    async fn health(&self) -> Result<()> {
        self.probe().await
    }
}

#[cfg(test)]
mod tests;
