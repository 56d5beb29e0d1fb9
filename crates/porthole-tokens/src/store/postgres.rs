//! The shared store: PostgreSQL, for several proxies that must all accept any token and see a
//! revoke at once. Migrations run under sqlx's advisory lock, so processes may start together.

use super::{
    console_type_from_column, db_error, endpoint_columns, endpoint_from_columns, redact, ConnectInfo, Lookup, StoreOptions, TokenStore,
};
use crate::{Error, Result, TokenHash, Unavailable};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, PgPool, Row as _};
use std::str::FromStr as _;
use std::time::Duration;
use uuid::Uuid;

/// The schema, from `migrations/postgres/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`TokenStore`] in a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// Every call gives up after this long (`pool_acquire_timeout`): a server that stopped
    /// answering makes requests fail with [`Unavailable`], never hang.
    pub(crate) bound: Duration,
    /// The NOTIFY channel of this schema's cluster events (see [`events_channel`]).
    pub(crate) channel: String,
}

impl PostgresStore {
    /// Connects to `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?…]` (libpq's URL parameters
    /// such as `sslmode` and `options=-c search_path=SCHEMA`) and brings the schema up to date.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| Error::StoreUrl { url: redact(url), reason: e.to_string() })?
            .application_name("porthole");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime)
            .connect_lazy_with(connect);
        let migrate = async {
            MIGRATOR.run(&pool).await.map_err(Error::from)?;
            let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&pool).await.map_err(postgres_error)?;
            Ok::<_, Error>(events_channel(&schema))
        };
        match tokio::time::timeout(options.connect_timeout, migrate).await {
            Ok(Ok(channel)) => Ok(PostgresStore { pool, bound: options.acquire_timeout, channel }),
            Ok(Err(e)) => Err(in_context(e, url)),
            Err(_) => {
                Err(Unavailable::Database(format!("{} did not answer within {:?} (connect_timeout)", redact(url), options.connect_timeout))
                    .into())
            }
        }
    }
}

impl PostgresStore {
    /// Runs one store call, giving up after [`PostgresStore::bound`].
    pub(crate) async fn bounded<T>(&self, call: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.bound, call).await {
            Ok(result) => result,
            Err(_) => Err(Unavailable::Database(format!(
                "PostgreSQL did not answer within {} s (pool_acquire_timeout)",
                self.bound.as_secs_f32()
            ))
            .into()),
        }
    }
}

/// The NOTIFY channel of the cluster events of the tables in `schema`: processes on other schemas
/// of the same database (other clusters, tests) do not hear them. At most 63 bytes, PostgreSQL's
/// limit on identifiers.
pub(crate) fn events_channel(schema: &str) -> String {
    let mut channel = if schema == "public" { "porthole_events".to_owned() } else { format!("porthole_events:{schema}") };
    while channel.len() > 63 {
        channel.pop();
    }
    channel
}

/// Names the database in errors of opening it.
fn in_context(e: Error, url: &str) -> Error {
    match e {
        Error::Unavailable(Unavailable::Database(m)) => Unavailable::Database(format!("{}: {m}", redact(url))).into(),
        Error::Backend(m) => Error::Backend(format!("{}: {m}", redact(url))),
        other => other,
    }
}

/// SQLSTATE classes and codes that mean the database cannot serve now rather than a bad
/// statement: connection exceptions (08), insufficient resources (53), operator intervention
/// (57P: shutting down, starting up), system errors (58), and a read-only standby (25006).
fn postgres_unavailable(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code.starts_with("58") || code == "25006"
}

pub(crate) fn postgres_error(e: sqlx::Error) -> Error {
    db_error(e, postgres_unavailable)
}

const LOOKUP: &str = "SELECT instance_uuid, console_type, endpoint_kind, host, port, node, internal_access_path, access_url_base, \
                      expires, revoked_at, view_only, minted_by FROM console_auth_tokens WHERE token_hash = $1";

fn decode(row: &PgRow, now: i64) -> Result<Lookup> {
    let kind: String = row.try_get("endpoint_kind")?;
    let console_type: String = row.try_get("console_type")?;
    let port: Option<i32> = row.try_get("port")?;
    let info = ConnectInfo {
        instance_uuid: row.try_get("instance_uuid")?,
        console_type: console_type_from_column(&console_type)?,
        endpoint: endpoint_from_columns(&kind, row.try_get("host")?, port.map(i64::from), row.try_get("node")?)?,
        internal_access_path: row.try_get("internal_access_path")?,
        access_url_base: row.try_get("access_url_base")?,
        expires: row.try_get("expires")?,
        view_only: row.try_get("view_only")?,
        minted_by: row.try_get("minted_by")?,
    };
    Ok(Lookup::of_row(info, row.try_get("revoked_at")?, now))
}

#[async_trait]
impl TokenStore for PostgresStore {
    async fn insert(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()> {
        self.bounded(self.insert_now(hash, info)).await
    }

    async fn lookup(&self, hash: &TokenHash, now: i64) -> Result<Lookup> {
        self.bounded(async {
            let row = sqlx::query(LOOKUP).bind(hash.as_str()).fetch_optional(&self.pool).await.map_err(postgres_error)?;
            row.map_or(Ok(Lookup::Unknown), |row| decode(&row, now))
        })
        .await
    }

    async fn revoke_instance(&self, instance: Uuid, now: i64) -> Result<u64> {
        self.bounded(async {
            let res = sqlx::query("UPDATE console_auth_tokens SET revoked_at = $1 WHERE instance_uuid = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(instance)
                .execute(&self.pool)
                .await
                .map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.bounded(async {
            let res = sqlx::query("DELETE FROM console_auth_tokens WHERE expires <= $1")
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn health(&self) -> Result<()> {
        self.bounded(async {
            let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&self.pool).await.map_err(postgres_error)?;
            if standby {
                return Err(Unavailable::Database("the PostgreSQL server is a read-only standby".into()).into());
            }
            Ok(())
        })
        .await
    }
}

impl PostgresStore {
    async fn insert_now(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()> {
        let (kind, host, port, node) = endpoint_columns(&info.endpoint);
        sqlx::query(
            "INSERT INTO console_auth_tokens (token_hash, instance_uuid, console_type, endpoint_kind, host, port, node, \
             internal_access_path, access_url_base, expires, view_only, minted_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(hash.as_str())
        .bind(info.instance_uuid)
        .bind(info.console_type.as_str())
        .bind(kind)
        .bind(host)
        .bind(port.map(i32::from))
        .bind(node)
        .bind(&info.internal_access_path)
        .bind(&info.access_url_base)
        .bind(info.expires)
        .bind(info.view_only)
        .bind(&info.minted_by)
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(())
    }
}

/// Creates an empty schema in the database at `url` and returns a URL whose connections use it
/// (`options=-c search_path=…`): one isolated store per test on a shared server, for this crate's
/// tests and for end-to-end tests that start several proxies on one store.
#[doc(hidden)]
pub async fn scratch_schema(url: &str) -> Result<String> {
    let name = format!("porthole_test_{}", Uuid::new_v4().simple());
    let connect = PgConnectOptions::from_str(url).map_err(|e| Error::StoreUrl { url: redact(url), reason: e.to_string() })?;
    let mut conn = PgConnection::connect_with(&connect).await.map_err(postgres_error)?;
    sqlx::raw_sql(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.map_err(postgres_error)?;
    conn.close().await.map_err(postgres_error)?;
    let mut scoped = url::Url::parse(url).map_err(|e| Error::StoreUrl { url: redact(url), reason: e.to_string() })?;
    scoped.query_pairs_mut().append_pair("options", &format!("-c search_path={name}"));
    Ok(scoped.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// The server the PostgreSQL tests use: `scripts/postgres-up.sh` starts one and prints its URL.
    async fn scratch_store() -> super::PostgresStore {
        let url = std::env::var("PORTHOLE_TEST_POSTGRES_URL")
            .expect("PORTHOLE_TEST_POSTGRES_URL is not set: start one with `export PORTHOLE_TEST_POSTGRES_URL=$(scripts/postgres-up.sh)`");
        let scoped = super::scratch_schema(&url).await.expect("creating a scratch schema");
        super::PostgresStore::open(&scoped, &super::StoreOptions::default()).await.expect("opening the PostgreSQL store")
    }

    crate::store_conformance_tests!(scratch_store().await, #[ignore = "needs PostgreSQL"]);

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_unavailable_and_the_password_stays_out() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("postgres://porthole:s3cret@127.0.0.1:{port}/porthole");
        let secs = std::time::Duration::from_secs;
        let options = super::StoreOptions { acquire_timeout: secs(1), connect_timeout: secs(2), ..Default::default() };
        let started = std::time::Instant::now();
        // Spawned, as a reload would: the future of `open` must be `Send` for any borrow.
        let open = tokio::spawn(async move { super::PostgresStore::open(&url, &options).await });
        let err = open.await.unwrap().unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
        assert!(err.is_unavailable(), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&format!("127.0.0.1:{port}")) && !message.contains("s3cret"), "{message}");
    }
}
