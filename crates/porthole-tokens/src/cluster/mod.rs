//! What the `porthole serve` processes sharing one store tell each other: their console sessions
//! (live, and kept as history once ended) and events (an instance's consoles revoked, a session
//! or an instance's sessions to end) that every process must act on within a second.
//!
//! Backends: PostgreSQL delivers events with LISTEN/NOTIFY and reads what it missed from the
//! `cluster_events` table after a reconnection; SQLite (several processes on one host) and memory
//! poll that table. [`open_cluster`] opens a pool of its own next to the token store's, so that
//! session bookkeeping never waits behind token checks, nor the other way round.
//!
//! # Layout
//! - this file: the records ([`SessionRecord`], [`ClusterEvent`]), the [`ClusterStore`] and
//!   [`EventFeed`] traits, [`open_cluster`], [`rfc3339`].
//! - `memory`, `sqlite`, `postgres`: the backends.
//! - [`conformance`]: the behaviour every backend shows, run per backend.

pub mod conformance;
mod memory;
mod postgres;
mod sqlite;

pub use memory::MemoryCluster;

use crate::store::{redact, PostgresStore, SqliteStore, StoreOptions};
use crate::{ConsoleType, Error, Result};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How often SQLite and memory feeds look for new events.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Events older than this are purged (a process that was away longer has no sessions left that
/// they could concern: its heartbeats stopped and its sessions were ended).
pub const EVENT_RETENTION: Duration = Duration::from_secs(3600);
/// Sessions in a history listing when no limit is given.
pub const DEFAULT_HISTORY_LIMIT: u32 = 100;
/// The end reason of the sessions of a process that stopped heartbeating.
pub const PROXY_GONE: &str = "proxy-gone";

/// One console session as the store keeps it: written by the process that holds it, at admission,
/// at each heartbeat and at its end. Times are epoch seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Unique cluster-wide (a UUIDv4).
    pub id: Uuid,
    /// The process that holds it (`[cluster] proxy_id`).
    pub proxy_id: String,
    /// Its instance.
    pub instance_uuid: Uuid,
    /// The instance's name when the session started.
    pub instance_name: String,
    /// The libvirt node, `None` for a static target.
    pub node: Option<String>,
    /// The browser's address.
    pub client: String,
    /// VNC or serial.
    pub console_type: ConsoleType,
    /// The browser's input is dropped.
    pub view_only: bool,
    /// Who minted its token (an API key's name, `cli`).
    pub minted_by: Option<String>,
    /// When it was admitted.
    pub started: i64,
    /// The holding process's last heartbeat for it.
    pub heartbeat: i64,
    /// When it ended; `None` while live.
    pub ended: Option<i64>,
    /// Bytes from the browser to the VNC server (as of the last heartbeat while live).
    pub bytes_to_server: u64,
    /// Bytes from the VNC server to the browser.
    pub bytes_to_browser: u64,
    /// Why it ended (`browser-closed`, `reset`, `killed`, `proxy-gone`, …).
    pub end_reason: Option<String>,
}

/// An instance named by UUID or by name (as users type it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceFilter {
    /// Its UUID.
    Uuid(Uuid),
    /// Its name (exact).
    Name(String),
}

impl InstanceFilter {
    /// A UUID when the text is one, a name otherwise.
    pub fn parse(s: &str) -> Self {
        Uuid::parse_str(s).map_or_else(|_| InstanceFilter::Name(s.to_owned()), InstanceFilter::Uuid)
    }
}

/// Which sessions [`ClusterStore::sessions`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionQuery {
    /// `false`: live ones only (not ended, heartbeat at or after `stale_before`), oldest first;
    /// `true`: every one, ended or not, newest first.
    pub history: bool,
    /// Live sessions whose heartbeat is older than this are not listed (their process is gone).
    pub stale_before: i64,
    /// Only this instance's.
    pub instance: Option<InstanceFilter>,
    /// Only this session.
    pub id: Option<Uuid>,
    /// At most this many.
    pub limit: u32,
}

impl SessionQuery {
    /// Live sessions whose heartbeat is not older than `stale_before`.
    pub fn live(stale_before: i64) -> Self {
        SessionQuery { history: false, stale_before, instance: None, id: None, limit: u32::MAX }
    }

    /// Every session, newest first, at most `limit`.
    pub fn history(limit: u32) -> Self {
        SessionQuery { history: true, stale_before: 0, instance: None, id: None, limit }
    }
}

/// Why an instance's consoles were revoked: decides what its sessions' browsers are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeReason {
    /// An administrator reset them (`DELETE …/remote-consoles`, `porthole console reset`).
    Reset,
    /// The VM stopped, crashed or was undefined.
    InstanceStopped,
}

/// Something every process must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterEvent {
    /// The instance's tokens were revoked: end its live sessions, refuse the ones being admitted.
    Revoked {
        /// The instance.
        instance: Uuid,
        /// Why.
        reason: RevokeReason,
    },
    /// End this session (its token stays valid).
    EndSession {
        /// The session.
        id: Uuid,
    },
    /// End every live session of this instance (their tokens stay valid).
    EndInstanceSessions {
        /// The instance.
        instance: Uuid,
    },
}

impl ClusterEvent {
    /// The stored columns: `kind`, `instance_uuid`, `session_id`.
    pub(crate) fn columns(&self) -> (&'static str, Option<Uuid>, Option<Uuid>) {
        match self {
            ClusterEvent::Revoked { instance, reason: RevokeReason::Reset } => ("revoke-reset", Some(*instance), None),
            ClusterEvent::Revoked { instance, reason: RevokeReason::InstanceStopped } => ("revoke-stopped", Some(*instance), None),
            ClusterEvent::EndSession { id } => ("end-session", None, Some(*id)),
            ClusterEvent::EndInstanceSessions { instance } => ("end-instance", Some(*instance), None),
        }
    }

    /// The event back from its columns.
    pub(crate) fn from_columns(kind: &str, instance: Option<Uuid>, session: Option<Uuid>) -> Result<Self> {
        let need = |v: Option<Uuid>, what: &str| v.ok_or_else(|| Error::Decode(format!("a {kind} event without {what}")));
        Ok(match kind {
            "revoke-reset" => ClusterEvent::Revoked { instance: need(instance, "an instance")?, reason: RevokeReason::Reset },
            "revoke-stopped" => ClusterEvent::Revoked { instance: need(instance, "an instance")?, reason: RevokeReason::InstanceStopped },
            "end-session" => ClusterEvent::EndSession { id: need(session, "a session")? },
            "end-instance" => ClusterEvent::EndInstanceSessions { instance: need(instance, "an instance")? },
            other => return Err(Error::Decode(format!("unknown cluster event {other:?}"))),
        })
    }
}

/// An event as stored: its id (increasing), when and by which process it was published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its id in `cluster_events`.
    pub id: i64,
    /// Epoch seconds, by the publisher's clock.
    pub at: i64,
    /// The publishing process's proxy id (it has acted on the event already).
    pub origin: String,
    /// What to do.
    pub event: ClusterEvent,
}

/// Sessions and events, shared by every process on one store. Every backend passes the suite in
/// [`conformance`]. Any method may fail with [`Error::Unavailable`] when the database is down; a
/// call never waits longer than the pool's `acquire_timeout` for PostgreSQL.
#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    /// Writes these sessions as they are now: inserted, or updated (heartbeat, end, bytes, end
    /// reason) when their id is stored already — including rows another process ended as
    /// `proxy-gone`, which a holder that was only cut off brings back to life.
    async fn record_sessions(&self, rows: &[SessionRecord]) -> Result<()>;
    /// Sets `heartbeat = now` on every live session of `proxy_id`; returns how many.
    async fn heartbeat(&self, proxy_id: &str, now: i64) -> Result<u64>;
    /// Ends (at their last heartbeat, reason [`PROXY_GONE`]) the live sessions of other processes
    /// whose heartbeat is older than `stale_before`; returns how many.
    async fn reap_sessions(&self, stale_before: i64, except_proxy: &str) -> Result<u64>;
    /// Ends (at their last heartbeat, for `reason`) every live session recorded by `proxy_id`: a
    /// process starting again under a configured id ends what its previous run left; returns how many.
    async fn end_proxy_sessions(&self, proxy_id: &str, reason: &str) -> Result<u64>;
    /// Sessions, as [`SessionQuery`] says.
    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>>;
    /// Deletes sessions that ended before `ended_before`; returns how many.
    async fn purge_sessions(&self, ended_before: i64) -> Result<u64>;
    /// Stores an event and announces it to every subscribed process; returns its id.
    async fn publish(&self, origin: &str, event: &ClusterEvent, at: i64) -> Result<i64>;
    /// Deletes events published before `before`.
    async fn purge_events(&self, before: i64) -> Result<u64>;
    /// A feed of the events published from now on, by any process (this one included).
    async fn subscribe(&self) -> Result<Box<dyn EventFeed>>;
}

/// Events as they arrive. Dropping it unsubscribes.
#[async_trait]
pub trait EventFeed: Send {
    /// Waits for events not returned before. `Ok` with none means "connected again": the events
    /// missed meanwhile, if any, come with the next calls. An `Err` (store down, connection lost)
    /// may be retried by calling again; nothing published meanwhile is lost as long as the store
    /// keeps it ([`EVENT_RETENTION`]).
    async fn next(&mut self) -> Result<Vec<StoredEvent>>;
    /// How events arrive: `notify` (PostgreSQL LISTEN/NOTIFY) or `poll` (SQLite, memory).
    fn mode(&self) -> &'static str;
}

/// Opens the sessions and events of the store named by a `[consoleauth] store` URL (see
/// [`open_store`](crate::open_store)), with a connection pool of its own.
pub async fn open_cluster(url: &str, options: &StoreOptions) -> Result<Arc<dyn ClusterStore>> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryCluster::new()));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(url, options).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(url, options).await?));
    }
    Err(Error::StoreUrl { url: redact(url), reason: "expected sqlite://PATH or postgres://USER@HOST/DATABASE".to_owned() })
}

/// Epoch seconds as RFC 3339 in UTC (`2026-11-27T14:07:57Z`), as the API and the CLI show times.
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Bytes as the database stores them (a signed 64-bit integer).
pub(crate) fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Bytes back from the database.
pub(crate) fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_788_477), "2026-11-27T14:07:57Z");
    }

    #[test]
    fn events_round_trip_through_their_columns() {
        let (i, s) = (Uuid::new_v4(), Uuid::new_v4());
        for e in [
            ClusterEvent::Revoked { instance: i, reason: RevokeReason::Reset },
            ClusterEvent::Revoked { instance: i, reason: RevokeReason::InstanceStopped },
            ClusterEvent::EndSession { id: s },
            ClusterEvent::EndInstanceSessions { instance: i },
        ] {
            let (kind, instance, session) = e.columns();
            assert_eq!(ClusterEvent::from_columns(kind, instance, session).unwrap(), e);
        }
        assert!(ClusterEvent::from_columns("end-session", Some(i), None).is_err());
        assert!(ClusterEvent::from_columns("reboot", Some(i), None).is_err());
    }

    #[test]
    fn instances_are_named_by_uuid_or_name() {
        let u = Uuid::new_v4();
        assert_eq!(InstanceFilter::parse(&u.to_string()), InstanceFilter::Uuid(u));
        assert_eq!(InstanceFilter::parse("web01"), InstanceFilter::Name("web01".into()));
    }
}
