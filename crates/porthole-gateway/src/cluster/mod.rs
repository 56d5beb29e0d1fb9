//! This process in a cluster of `porthole serve` processes sharing one store: its sessions are
//! written there (so that any process lists and ends any session), and what another process
//! publishes (a revoke, a session to end) is acted on here within a second.
//!
//! Two tasks per process, neither on a session's path: the `recorder` writes session starts and
//! ends (handed over by [`LiveSessions`] on a channel), heartbeats, ends the sessions of processes
//! that stopped heartbeating, and purges old history; `events` follows the store's event feed
//! and ends the sessions it names. Both keep going through a store outage: the recorder keeps
//! what it could not write and writes it when the store is back; the feed reconnects and reads
//! what it missed. Each says so in one log line when the store goes, and one when it is back.

mod events;
mod recorder;

use crate::live::{LiveSessions, Record};
use porthole_tokens::cluster::{MemoryCluster, SessionQuery};
use porthole_tokens::{ClusterEvent, ClusterStore, SessionRecord};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How often a process heartbeats (and writes the bytes its sessions relayed since the last one).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// A process whose heartbeat is this many intervals old is gone: its sessions leave the live
/// list and are ended as `proxy-gone` by the others.
pub const STALE_HEARTBEATS: u32 = 3;
/// How long ended sessions are kept (`[consoleauth] history_retention_days`).
pub const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// How this process takes part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    /// This process's name in the store (`[cluster] proxy_id`).
    pub proxy_id: String,
    /// See [`DEFAULT_HEARTBEAT_INTERVAL`].
    pub heartbeat_interval: Duration,
    /// See [`DEFAULT_HISTORY_RETENTION`].
    pub history_retention: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            proxy_id: default_proxy_id(),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            history_retention: DEFAULT_HISTORY_RETENTION,
        }
    }
}

impl ClusterSettings {
    /// After how long without a heartbeat a process counts as gone.
    pub fn stale_after(&self) -> Duration {
        self.heartbeat_interval * STALE_HEARTBEATS
    }

    /// Live sessions with a heartbeat older than this (epoch seconds) belong to a process that is gone.
    pub fn stale_before(&self, now: i64) -> i64 {
        now - i64::try_from(self.stale_after().as_secs()).unwrap_or(i64::MAX)
    }
}

/// `HOST-PID-START`: unique per run of a process (host name, process id, start in epoch seconds).
pub fn default_proxy_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let host = if host.is_empty() { "localhost".to_owned() } else { host };
    format!("{host}-{}-{}", std::process::id(), porthole_tokens::Clock::System.now())
}

/// How the background tasks are doing, for `/readyz`.
#[derive(Debug, Default)]
pub(crate) struct Status {
    /// The event feed works (`false` while the store is out of reach).
    pub events_ok: AtomicBool,
    /// `notify` or `poll` (or `memory`).
    pub events_mode: OnceLock<&'static str>,
    /// The last write of session records worked.
    pub records_ok: AtomicBool,
    /// Session records waiting to be written.
    pub pending: AtomicUsize,
    /// Epoch seconds of the last heartbeat written.
    pub last_heartbeat: AtomicI64,
}

/// This process's handle on the cluster. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    store: Arc<dyn ClusterStore>,
    settings: Arc<ClusterSettings>,
    status: Arc<Status>,
    /// The recorder's channel (the registry has a clone): flush requests go there.
    recorder: mpsc::UnboundedSender<Record>,
}

impl Cluster {
    /// Joins the cluster of `store`: subscribes to its events (so that nothing published from now
    /// on is missed), then starts the recorder and the event follower on `live`. Must run inside
    /// a tokio runtime.
    pub async fn start(store: Arc<dyn ClusterStore>, settings: ClusterSettings, live: &LiveSessions) -> porthole_tokens::Result<Self> {
        let feed = store.subscribe().await?;
        let cluster = Self::spawn(store, settings, live);
        let _ = cluster.status.events_mode.set(feed.mode());
        cluster.status.events_ok.store(true, Ordering::Relaxed);
        tokio::spawn(events::follow(feed, live.clone(), cluster.settings.proxy_id.clone(), cluster.status.clone()));
        Ok(cluster)
    }

    /// A cluster of this process alone, in memory (tests, and gateways given no store of their
    /// own): sessions are listed and ended through the same calls. Must run inside a tokio runtime.
    pub fn local(live: &LiveSessions) -> Self {
        let store: Arc<dyn ClusterStore> = Arc::new(MemoryCluster::new());
        let cluster = Self::spawn(store, ClusterSettings::default(), live);
        let _ = cluster.status.events_mode.set("memory");
        cluster.status.events_ok.store(true, Ordering::Relaxed);
        cluster
    }

    fn spawn(store: Arc<dyn ClusterStore>, settings: ClusterSettings, live: &LiveSessions) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        live.record_to(tx.clone());
        let settings = Arc::new(settings);
        let status = Arc::new(Status { records_ok: AtomicBool::new(true), ..Status::default() });
        tokio::spawn(recorder::Recorder::new(store.clone(), settings.clone(), status.clone()).run(rx));
        Cluster { store, settings, status, recorder: tx }
    }

    /// This process's proxy id.
    pub fn proxy_id(&self) -> &str {
        &self.settings.proxy_id
    }

    /// How events from other processes arrive: `notify` (PostgreSQL), `poll` (SQLite) or `memory`.
    pub fn events_mode(&self) -> &'static str {
        self.status.events_mode.get().copied().unwrap_or("none")
    }

    /// How this process takes part.
    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// The store of sessions and events.
    pub fn store(&self) -> &Arc<dyn ClusterStore> {
        &self.store
    }

    /// Tells every other process (they act within a second; this one has acted already).
    pub async fn publish(&self, event: ClusterEvent) -> porthole_tokens::Result<()> {
        self.store.publish(&self.settings.proxy_id, &event, porthole_tokens::Clock::System.now()).await.map(|_| ())
    }

    /// Sessions from the store; a live query's `stale_before` is set from the heartbeat interval.
    pub async fn sessions(&self, mut query: SessionQuery) -> porthole_tokens::Result<Vec<SessionRecord>> {
        if !query.history {
            query.stale_before = self.settings.stale_before(porthole_tokens::Clock::System.now());
        }
        self.store.sessions(&query).await
    }

    /// Writes what the recorder holds now (the shutdown calls it once sessions have ended);
    /// `true` when nothing is left unwritten within `limit`.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.recorder.send(Record::Flush(tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(limit, rx).await, Ok(Ok(true)))
    }

    /// What `/readyz` says of the cluster, and whether this process is fit to admit sessions
    /// (its event feed works: a revoke from another process would reach it).
    pub(crate) fn readiness(&self) -> (bool, serde_json::Value) {
        let s = &self.status;
        let events_ok = s.events_ok.load(Ordering::Relaxed);
        let last = s.last_heartbeat.load(Ordering::Relaxed);
        let body = serde_json::json!({
            "proxy_id": self.settings.proxy_id,
            "events": s.events_mode.get().copied().unwrap_or("none"),
            "events_ok": events_ok,
            "records_ok": s.records_ok.load(Ordering::Relaxed),
            "records_pending": s.pending.load(Ordering::Relaxed),
            "last_heartbeat": (last > 0).then(|| porthole_tokens::cluster::rfc3339(last)),
        });
        (events_ok, body)
    }
}
