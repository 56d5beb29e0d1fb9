//! Sessions and events in the SQLite file: several processes on one host share them, and each
//! polls `cluster_events` every [`POLL_INTERVAL`] for ids above the last it read (SQLite commits
//! one write at a time, so ids become visible in order and none is skipped).

use super::{from_db, to_db, ClusterEvent, ClusterStore, EventFeed, InstanceFilter, SessionQuery, SessionRecord, StoredEvent};
use super::{POLL_INTERVAL, PROXY_GONE};
use crate::store::sqlite::sqlite_error;
use crate::store::SqliteStore;
use crate::{Error, Result};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row as _, Sqlite};
use uuid::Uuid;

/// The upsert of a session row (the same statement in both backends' placeholders).
pub(super) const RECORD: &str = "INSERT INTO sessions (id, proxy_id, instance_uuid, instance_name, node, client, console_type, view_only, \
     minted_by, started, heartbeat, ended, bytes_to_server, bytes_to_browser, end_reason) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat, ended = excluded.ended, \
     bytes_to_server = excluded.bytes_to_server, bytes_to_browser = excluded.bytes_to_browser, end_reason = excluded.end_reason";

/// The columns a session is read back from.
pub(super) const COLUMNS: &str = "id, proxy_id, instance_uuid, instance_name, node, client, console_type, view_only, minted_by, \
                                  started, heartbeat, ended, bytes_to_server, bytes_to_browser, end_reason";

fn uuid(s: &str, what: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| Error::Decode(format!("{what} {s:?}: {e}")))
}

fn decode_session(row: &SqliteRow) -> Result<SessionRecord> {
    let id: String = row.try_get("id")?;
    let instance: String = row.try_get("instance_uuid")?;
    let console_type: String = row.try_get("console_type")?;
    Ok(SessionRecord {
        id: uuid(&id, "session id")?,
        proxy_id: row.try_get("proxy_id")?,
        instance_uuid: uuid(&instance, "instance_uuid")?,
        instance_name: row.try_get("instance_name")?,
        node: row.try_get("node")?,
        client: row.try_get("client")?,
        console_type: crate::store::console_type_from_column(&console_type)?,
        view_only: row.try_get("view_only")?,
        minted_by: row.try_get("minted_by")?,
        started: row.try_get("started")?,
        heartbeat: row.try_get("heartbeat")?,
        ended: row.try_get("ended")?,
        bytes_to_server: from_db(row.try_get("bytes_to_server")?),
        bytes_to_browser: from_db(row.try_get("bytes_to_browser")?),
        end_reason: row.try_get("end_reason")?,
    })
}

fn decode_event(row: &SqliteRow) -> Result<StoredEvent> {
    let kind: String = row.try_get("kind")?;
    let instance: Option<String> = row.try_get("instance_uuid")?;
    let session: Option<String> = row.try_get("session_id")?;
    let instance = instance.map(|s| uuid(&s, "event instance")).transpose()?;
    let session = session.map(|s| uuid(&s, "event session")).transpose()?;
    Ok(StoredEvent {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        origin: row.try_get("origin")?,
        event: ClusterEvent::from_columns(&kind, instance, session)?,
    })
}

/// The `WHERE … ORDER BY … LIMIT` of a session query.
fn push_query(q: &mut QueryBuilder<'_, Sqlite>, query: &SessionQuery) {
    q.push(" WHERE 1 = 1");
    if !query.history {
        q.push(" AND ended IS NULL AND heartbeat >= ").push_bind(query.stale_before);
    }
    match &query.instance {
        Some(InstanceFilter::Uuid(u)) => {
            q.push(" AND instance_uuid = ").push_bind(u.to_string());
        }
        Some(InstanceFilter::Name(n)) => {
            q.push(" AND instance_name = ").push_bind(n.clone());
        }
        None => {}
    }
    if let Some(id) = query.id {
        q.push(" AND id = ").push_bind(id.to_string());
    }
    q.push(if query.history { " ORDER BY started DESC, id" } else { " ORDER BY started, id" });
    q.push(" LIMIT ").push_bind(i64::from(query.limit));
}

#[async_trait]
impl ClusterStore for SqliteStore {
    async fn record_sessions(&self, rows: &[SessionRecord]) -> Result<()> {
        self.check_file()?;
        let mut tx = self.pool.begin().await.map_err(sqlite_error)?;
        for r in rows {
            sqlx::query(RECORD)
                .bind(r.id.to_string())
                .bind(&r.proxy_id)
                .bind(r.instance_uuid.to_string())
                .bind(&r.instance_name)
                .bind(&r.node)
                .bind(&r.client)
                .bind(r.console_type.as_str())
                .bind(r.view_only)
                .bind(&r.minted_by)
                .bind(r.started)
                .bind(r.heartbeat)
                .bind(r.ended)
                .bind(to_db(r.bytes_to_server))
                .bind(to_db(r.bytes_to_browser))
                .bind(&r.end_reason)
                .execute(&mut *tx)
                .await
                .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)
    }

    async fn heartbeat(&self, proxy_id: &str, now: i64) -> Result<u64> {
        self.check_file()?;
        let res = sqlx::query("UPDATE sessions SET heartbeat = ? WHERE proxy_id = ? AND ended IS NULL")
            .bind(now)
            .bind(proxy_id)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn reap_sessions(&self, stale_before: i64, except_proxy: &str) -> Result<u64> {
        self.check_file()?;
        let res =
            sqlx::query("UPDATE sessions SET ended = heartbeat, end_reason = ? WHERE ended IS NULL AND heartbeat < ? AND proxy_id <> ?")
                .bind(PROXY_GONE)
                .bind(stale_before)
                .bind(except_proxy)
                .execute(&self.pool)
                .await
                .map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn end_proxy_sessions(&self, proxy_id: &str, reason: &str) -> Result<u64> {
        self.check_file()?;
        let res = sqlx::query("UPDATE sessions SET ended = heartbeat, end_reason = ? WHERE ended IS NULL AND proxy_id = ?")
            .bind(reason)
            .bind(proxy_id)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>> {
        self.check_file()?;
        let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM sessions"));
        push_query(&mut q, query);
        let rows = q.build().fetch_all(&self.pool).await.map_err(sqlite_error)?;
        rows.iter().map(decode_session).collect()
    }

    async fn purge_sessions(&self, ended_before: i64) -> Result<u64> {
        self.check_file()?;
        let res = sqlx::query("DELETE FROM sessions WHERE ended < ?").bind(ended_before).execute(&self.pool).await.map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn publish(&self, origin: &str, event: &ClusterEvent, at: i64) -> Result<i64> {
        self.check_file()?;
        let (kind, instance, session) = event.columns();
        sqlx::query_scalar("INSERT INTO cluster_events (at, origin, kind, instance_uuid, session_id) VALUES (?, ?, ?, ?, ?) RETURNING id")
            .bind(at)
            .bind(origin)
            .bind(kind)
            .bind(instance.map(|u| u.to_string()))
            .bind(session.map(|u| u.to_string()))
            .fetch_one(&self.pool)
            .await
            .map_err(sqlite_error)
    }

    async fn purge_events(&self, before: i64) -> Result<u64> {
        self.check_file()?;
        let res = sqlx::query("DELETE FROM cluster_events WHERE at < ?").bind(before).execute(&self.pool).await.map_err(sqlite_error)?;
        Ok(res.rows_affected())
    }

    async fn subscribe(&self) -> Result<Box<dyn EventFeed>> {
        self.check_file()?;
        let after: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM cluster_events").fetch_one(&self.pool).await.map_err(sqlite_error)?;
        Ok(Box::new(SqliteFeed { store: self.clone(), after, failed: false }))
    }
}

/// Polls for events above the last id it returned.
struct SqliteFeed {
    store: SqliteStore,
    after: i64,
    /// The last poll failed: the next one that works says so with an empty `Ok`.
    failed: bool,
}

impl SqliteFeed {
    async fn poll(&self) -> Result<Vec<StoredEvent>> {
        self.store.check_file()?;
        let rows = sqlx::query("SELECT id, at, origin, kind, instance_uuid, session_id FROM cluster_events WHERE id > ? ORDER BY id")
            .bind(self.after)
            .fetch_all(&self.store.pool)
            .await
            .map_err(sqlite_error)?;
        rows.iter().map(decode_event).collect()
    }
}

#[async_trait]
impl EventFeed for SqliteFeed {
    async fn next(&mut self) -> Result<Vec<StoredEvent>> {
        loop {
            tokio::time::sleep(POLL_INTERVAL).await;
            let events = match self.poll().await {
                Ok(events) => events,
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            };
            if let Some(last) = events.last() {
                self.after = last.id;
            }
            if !events.is_empty() || std::mem::take(&mut self.failed) {
                return Ok(events);
            }
        }
    }

    fn mode(&self) -> &'static str {
        "poll"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::store::{SqliteStore, StoreOptions};

    crate::cluster_conformance_tests!(SqliteStore::open("sqlite::memory:", &StoreOptions::default()).await.unwrap());

    mod on_disk {
        // Two stores on one file, as two processes on one host have them.
        crate::cluster_conformance_tests!(two: {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let a = crate::store::SqliteStore::open(&url, &crate::store::StoreOptions::default()).await.unwrap();
            let b = crate::store::SqliteStore::open(&url, &crate::store::StoreOptions::default()).await.unwrap();
            std::mem::forget(dir);
            (a, b)
        });
    }
}
