//! Sessions and events in PostgreSQL. Events are announced with NOTIFY on the schema's channel as
//! they are stored; a feed LISTENs on a connection of its own. When that connection is lost (the
//! server restarted, the network broke), the feed connects again and reads from `cluster_events`
//! what was published meanwhile; it also reads it every [`CHECK_EVERY`] in case a connection died
//! without a word. Every event is returned once (ids already returned are remembered).

use super::{from_db, to_db, ClusterEvent, ClusterStore, EventFeed, InstanceFilter, SessionQuery, SessionRecord, StoredEvent};
use super::{EVENT_RETENTION, PROXY_GONE};
use crate::store::postgres::postgres_error;
use crate::store::PostgresStore;
use crate::{Error, Result, Unavailable};
use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{Postgres, QueryBuilder, Row as _};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

/// How often a feed reads `cluster_events` besides listening.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How far before its last good contact a feed that reconnects reads back (publishers' clocks may
/// differ from this host's by up to this much).
const LOOK_BACK: i64 = 60;
/// Rows per statement when many sessions are written at once (15 parameters each, PostgreSQL
/// takes 65,535).
const ROWS_PER_STATEMENT: usize = 1000;

const COLUMNS: &str = "id, proxy_id, instance_uuid, instance_name, node, client, console_type, view_only, minted_by, \
                       started, heartbeat, ended, bytes_to_server, bytes_to_browser, end_reason";
const EVENT_COLUMNS: &str = "id, at, origin, kind, instance_uuid, session_id";

fn decode_session(row: &PgRow) -> Result<SessionRecord> {
    let id: String = row.try_get("id")?;
    let console_type: String = row.try_get("console_type")?;
    Ok(SessionRecord {
        id: Uuid::parse_str(&id).map_err(|e| Error::Decode(format!("session id {id:?}: {e}")))?,
        proxy_id: row.try_get("proxy_id")?,
        instance_uuid: row.try_get("instance_uuid")?,
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

fn decode_event(row: &PgRow) -> Result<StoredEvent> {
    let kind: String = row.try_get("kind")?;
    let session: Option<String> = row.try_get("session_id")?;
    let session = session.map(|s| Uuid::parse_str(&s).map_err(|e| Error::Decode(format!("event session {s:?}: {e}")))).transpose()?;
    Ok(StoredEvent {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        origin: row.try_get("origin")?,
        event: ClusterEvent::from_columns(&kind, row.try_get("instance_uuid")?, session)?,
    })
}

/// A NOTIFY payload: `id|at|kind|instance|session|origin` (empty for none; the origin last, as
/// it may hold anything).
fn parse_payload(payload: &str) -> Result<StoredEvent> {
    let bad = || Error::Decode(format!("cluster event notification {payload:?}"));
    let mut parts = payload.splitn(6, '|');
    let mut next = || parts.next().ok_or_else(bad);
    let id = next()?.parse().map_err(|_| bad())?;
    let at = next()?.parse().map_err(|_| bad())?;
    let kind = next()?;
    let uuid = |s: &str| if s.is_empty() { Ok(None) } else { Uuid::parse_str(s).map(Some).map_err(|_| bad()) };
    let instance = uuid(next()?)?;
    let session = uuid(next()?)?;
    let origin = next()?.to_owned();
    Ok(StoredEvent { id, at, origin, event: ClusterEvent::from_columns(kind, instance, session)? })
}

fn push_query(q: &mut QueryBuilder<'_, Postgres>, query: &SessionQuery) {
    q.push(" WHERE true");
    if !query.history {
        q.push(" AND ended IS NULL AND heartbeat >= ").push_bind(query.stale_before);
    }
    match &query.instance {
        Some(InstanceFilter::Uuid(u)) => {
            q.push(" AND instance_uuid = ").push_bind(*u);
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

impl PostgresStore {
    async fn record_now(&self, rows: &[SessionRecord]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(format!("INSERT INTO sessions ({COLUMNS}) "));
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.id.to_string())
                    .push_bind(&r.proxy_id)
                    .push_bind(r.instance_uuid)
                    .push_bind(&r.instance_name)
                    .push_bind(&r.node)
                    .push_bind(&r.client)
                    .push_bind(r.console_type.as_str())
                    .push_bind(r.view_only)
                    .push_bind(&r.minted_by)
                    .push_bind(r.started)
                    .push_bind(r.heartbeat)
                    .push_bind(r.ended)
                    .push_bind(to_db(r.bytes_to_server))
                    .push_bind(to_db(r.bytes_to_browser))
                    .push_bind(&r.end_reason);
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat, ended = excluded.ended, \
                 bytes_to_server = excluded.bytes_to_server, bytes_to_browser = excluded.bytes_to_browser, end_reason = excluded.end_reason",
            );
            q.build().execute(&mut *tx).await.map_err(postgres_error)?;
        }
        tx.commit().await.map_err(postgres_error)
    }

    async fn events_since(&self, at: i64) -> Result<Vec<StoredEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM cluster_events WHERE at >= $1 ORDER BY id");
        let rows = self.bounded(async { sqlx::query(&sql).bind(at).fetch_all(&self.pool).await.map_err(postgres_error) }).await?;
        rows.iter().map(decode_event).collect()
    }
}

#[async_trait]
impl ClusterStore for PostgresStore {
    async fn record_sessions(&self, rows: &[SessionRecord]) -> Result<()> {
        self.bounded(self.record_now(rows)).await
    }

    async fn heartbeat(&self, proxy_id: &str, now: i64) -> Result<u64> {
        self.bounded(async {
            let res = sqlx::query("UPDATE sessions SET heartbeat = $1 WHERE proxy_id = $2 AND ended IS NULL")
                .bind(now)
                .bind(proxy_id)
                .execute(&self.pool)
                .await
                .map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn reap_sessions(&self, stale_before: i64, except_proxy: &str) -> Result<u64> {
        self.bounded(async {
            let res = sqlx::query(
                "UPDATE sessions SET ended = heartbeat, end_reason = $1 WHERE ended IS NULL AND heartbeat < $2 AND proxy_id <> $3",
            )
            .bind(PROXY_GONE)
            .bind(stale_before)
            .bind(except_proxy)
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn end_proxy_sessions(&self, proxy_id: &str, reason: &str) -> Result<u64> {
        self.bounded(async {
            let res = sqlx::query("UPDATE sessions SET ended = heartbeat, end_reason = $1 WHERE ended IS NULL AND proxy_id = $2")
                .bind(reason)
                .bind(proxy_id)
                .execute(&self.pool)
                .await
                .map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>> {
        let rows = self
            .bounded(async {
                let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM sessions"));
                push_query(&mut q, query);
                q.build().fetch_all(&self.pool).await.map_err(postgres_error)
            })
            .await?;
        rows.iter().map(decode_session).collect()
    }

    async fn purge_sessions(&self, ended_before: i64) -> Result<u64> {
        self.bounded(async {
            let res = sqlx::query("DELETE FROM sessions WHERE ended < $1")
                .bind(ended_before)
                .execute(&self.pool)
                .await
                .map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn publish(&self, origin: &str, event: &ClusterEvent, at: i64) -> Result<i64> {
        let (kind, instance, session) = event.columns();
        // One statement: the row and its NOTIFY commit together (and NOTIFY is sent at commit).
        self.bounded(async {
            sqlx::query_scalar(
                "WITH e AS (INSERT INTO cluster_events (at, origin, kind, instance_uuid, session_id) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, at, origin, kind, instance_uuid, session_id) \
                 SELECT e.id, pg_notify($6, concat_ws('|', e.id, e.at, e.kind, coalesce(e.instance_uuid::text, ''), \
                 coalesce(e.session_id, ''), e.origin)) FROM e",
            )
            .bind(at)
            .bind(origin)
            .bind(kind)
            .bind(instance)
            .bind(session.map(|s| s.to_string()))
            .bind(&self.channel)
            .fetch_one(&self.pool)
            .await
            .map_err(postgres_error)
        })
        .await
    }

    async fn purge_events(&self, before: i64) -> Result<u64> {
        self.bounded(async {
            let res =
                sqlx::query("DELETE FROM cluster_events WHERE at < $1").bind(before).execute(&self.pool).await.map_err(postgres_error)?;
            Ok(res.rows_affected())
        })
        .await
    }

    async fn subscribe(&self) -> Result<Box<dyn EventFeed>> {
        let now = crate::Clock::System.now();
        let mut feed = PgFeed::new(self.clone(), now);
        // What is stored already was published before this feed existed: never returned.
        for e in self.events_since(now - LOOK_BACK).await? {
            feed.seen.insert(e.id, e.at);
        }
        feed.start_listening();
        match feed.rx.recv().await {
            Some(Listened::Connected) => Ok(Box::new(feed)),
            Some(Listened::Lost(e)) => Err(e),
            Some(Listened::Notified(_)) | None => Err(Unavailable::Database("the LISTEN connection failed".into()).into()),
        }
    }
}

/// What the listening task reports.
enum Listened {
    /// LISTEN is in force.
    Connected,
    /// A notification's payload.
    Notified(String),
    /// The connection failed or was lost; the task has ended.
    Lost(Error),
}

/// LISTENs on a connection of its own (a task: the feed never cancels a read half-way), and reads
/// `cluster_events` after a reconnection and every [`CHECK_EVERY`].
struct PgFeed {
    store: PostgresStore,
    rx: mpsc::Receiver<Listened>,
    task: Option<JoinHandle<()>>,
    /// Ids returned (or there before the feed started), with their `at`, kept for
    /// [`EVENT_RETENTION`].
    seen: HashMap<i64, i64>,
    /// When the feed last knew it had everything (epoch seconds).
    complete_at: i64,
    /// `cluster_events` must be read before waiting (LISTEN was just re-established).
    catch_up: bool,
    next_check: Instant,
}

impl PgFeed {
    fn new(store: PostgresStore, now: i64) -> Self {
        let (_, rx) = mpsc::channel(1);
        PgFeed { store, rx, task: None, seen: HashMap::new(), complete_at: now, catch_up: false, next_check: Instant::now() + CHECK_EVERY }
    }

    fn start_listening(&mut self) {
        let (tx, rx) = mpsc::channel(256);
        self.rx = rx;
        self.task = Some(tokio::spawn(listen(self.store.clone(), tx)));
    }

    /// The events of `cluster_events` not returned yet.
    async fn read_missed(&mut self) -> Result<Vec<StoredEvent>> {
        let now = crate::Clock::System.now();
        let events = self.store.events_since(self.complete_at - LOOK_BACK).await?;
        self.complete_at = now;
        let retention = i64::try_from(EVENT_RETENTION.as_secs()).unwrap_or(i64::MAX);
        self.seen.retain(|_, at| *at >= now - retention);
        Ok(events.into_iter().filter(|e| self.seen.insert(e.id, e.at).is_none()).collect())
    }
}

impl Drop for PgFeed {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[async_trait]
impl EventFeed for PgFeed {
    async fn next(&mut self) -> Result<Vec<StoredEvent>> {
        if self.task.is_none() {
            self.start_listening();
        }
        if self.catch_up {
            let missed = self.read_missed().await?;
            self.catch_up = false;
            return Ok(missed);
        }
        loop {
            tokio::select! {
                heard = self.rx.recv() => match heard {
                    Some(Listened::Connected) => {
                        self.catch_up = true;
                        return Ok(Vec::new());
                    }
                    Some(Listened::Notified(payload)) => {
                        let e = parse_payload(&payload)?;
                        if self.seen.insert(e.id, e.at).is_none() {
                            return Ok(vec![e]);
                        }
                    }
                    Some(Listened::Lost(e)) => {
                        self.task = None;
                        return Err(e);
                    }
                    None => {
                        self.task = None;
                        return Err(Unavailable::Database("the LISTEN connection ended".into()).into());
                    }
                },
                () = tokio::time::sleep_until(self.next_check) => {
                    self.next_check = Instant::now() + CHECK_EVERY;
                    let missed = self.read_missed().await?;
                    if !missed.is_empty() {
                        return Ok(missed);
                    }
                }
            }
        }
    }

    fn mode(&self) -> &'static str {
        "notify"
    }
}

/// The listening task: connects, LISTENs, forwards notifications until the connection fails.
async fn listen(store: PostgresStore, tx: mpsc::Sender<Listened>) {
    let connected = store
        .bounded(async {
            let mut l = PgListener::connect_with(&store.pool).await.map_err(postgres_error)?;
            l.eager_reconnect(false);
            l.ignore_pool_close_event(true);
            l.listen(&store.channel).await.map_err(postgres_error)?;
            Ok(l)
        })
        .await;
    let mut listener = match connected {
        Ok(l) => l,
        Err(e) => {
            let _ = tx.send(Listened::Lost(e)).await;
            return;
        }
    };
    if tx.send(Listened::Connected).await.is_err() {
        return;
    }
    loop {
        let heard = match listener.try_recv().await {
            Ok(Some(n)) => Listened::Notified(n.payload().to_owned()),
            Ok(None) => Listened::Lost(Unavailable::Database("the LISTEN connection to PostgreSQL was lost".into()).into()),
            Err(e) => Listened::Lost(postgres_error(e)),
        };
        let lost = matches!(heard, Listened::Lost(_));
        if tx.send(heard).await.is_err() || lost {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    /// A store in a scratch schema of the server the PostgreSQL tests use.
    pub(crate) async fn scratch_store() -> PostgresStore {
        let url = std::env::var("PORTHOLE_TEST_POSTGRES_URL")
            .expect("PORTHOLE_TEST_POSTGRES_URL is not set: start one with `export PORTHOLE_TEST_POSTGRES_URL=$(scripts/postgres-up.sh)`");
        let scoped = crate::store::scratch_schema(&url).await.expect("creating a scratch schema");
        PostgresStore::open(&scoped, &StoreOptions::default()).await.expect("opening the PostgreSQL store")
    }

    crate::cluster_conformance_tests!(two: {
        let a = scratch_store().await;
        // A second pool on the same schema, as a second process has.
        let url = std::env::var("PORTHOLE_TEST_POSTGRES_URL").unwrap();
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&a.pool).await.unwrap();
        let mut scoped = url::Url::parse(&url).unwrap();
        scoped.query_pairs_mut().append_pair("options", &format!("-c search_path={schema}"));
        let b = PostgresStore::open(scoped.as_str(), &StoreOptions::default()).await.unwrap();
        (a, b)
    }, #[ignore = "needs PostgreSQL"]);

    #[test]
    fn payloads_parse() {
        let i = Uuid::new_v4();
        let e = parse_payload(&format!("7|100|revoke-reset|{i}||proxy|with|bars")).unwrap();
        assert_eq!((e.id, e.at, e.origin.as_str()), (7, 100, "proxy|with|bars"));
        assert_eq!(e.event, ClusterEvent::Revoked { instance: i, reason: super::super::RevokeReason::Reset });
        assert!(parse_payload("7|x|revoke-reset|||p").is_err());
        assert!(parse_payload("7|1").is_err());
    }

    #[test]
    fn channels_stay_within_postgres_limit() {
        assert_eq!(crate::store::postgres::events_channel("public"), "porthole_events");
        let long = crate::store::postgres::events_channel(&"s".repeat(80));
        assert_eq!(long.len(), 63);
    }

    /// A feed whose LISTEN connection is killed gets, once connected again, what was published
    /// while it was away.
    #[tokio::test]
    #[ignore = "needs PostgreSQL"]
    async fn a_feed_whose_connection_was_killed_catches_up() {
        let store = scratch_store().await;
        let mut feed = store.subscribe().await.unwrap();
        // This feed's connection only: other tests (and other people's) listen on this server too.
        let listen = format!("LISTEN \"{}\"", store.channel);
        let pids: Vec<i32> =
            sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE query = $1").bind(&listen).fetch_all(&store.pool).await.unwrap();
        assert_eq!(pids.len(), 1, "the LISTEN connection was found");
        sqlx::query("SELECT pg_terminate_backend($1)").bind(pids[0]).execute(&store.pool).await.unwrap();
        let gone = async {
            loop {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
                    .bind(pids[0])
                    .fetch_one(&store.pool)
                    .await
                    .unwrap();
                if n == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), gone).await.expect("the LISTEN connection ends");
        // Published while the feed's connection is gone: NOTIFY cannot reach it.
        let now = crate::Clock::System.now();
        let event = ClusterEvent::EndSession { id: Uuid::new_v4() };
        store.publish("elsewhere", &event, now).await.unwrap();
        let mut got = Vec::new();
        let mut lost = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.is_empty() {
            match tokio::time::timeout_at(deadline, feed.next()).await.expect("the event within 10 s") {
                Ok(events) => got.extend(events),
                Err(_) => lost += 1,
            }
        }
        assert!(lost >= 1, "the feed noticed its connection was lost");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event, event);
    }
}
