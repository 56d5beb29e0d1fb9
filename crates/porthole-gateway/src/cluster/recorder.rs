//! The recorder: writes this process's sessions to the store. Starts and ends arrive on a channel
//! (the relay never waits for the store) and are written in batches shortly after; every
//! heartbeat writes the bytes relayed since the last one and marks this process alive; a process
//! connected for a while ends the sessions of processes that stopped heartbeating; once an hour
//! old history and events are purged. What cannot be written (store down) is kept and written
//! when the store is back, so sessions that run through an outage end up in history with their
//! bytes; if this process was cut off long enough for the others to end its sessions as
//! `proxy-gone`, writing its live rows again brings them back.

use super::{ClusterSettings, Status};
use crate::live::{Counters, Record, SessionInfo};
use porthole_tokens::cluster::{EVENT_RETENTION, PROXY_GONE};
use porthole_tokens::{ClusterStore, SessionRecord};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use uuid::Uuid;

/// Starts and ends are written this long after they happen, together with what came meanwhile.
const BATCH_DELAY: Duration = Duration::from_millis(100);
/// After a failed write, the next try comes this much later (or at the next heartbeat).
const RETRY: Duration = Duration::from_secs(1);
/// How often old history and events are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// A session live here.
struct Tracked {
    record: SessionRecord,
    counters: Arc<Counters>,
}

impl Tracked {
    /// Takes the bytes relayed so far into the record; whether they changed.
    fn take_bytes(&mut self) -> bool {
        let up = self.counters.to_server.load(Ordering::Relaxed);
        let down = self.counters.to_browser.load(Ordering::Relaxed);
        let changed = (up, down) != (self.record.bytes_to_server, self.record.bytes_to_browser);
        self.record.bytes_to_server = up;
        self.record.bytes_to_browser = down;
        changed
    }
}

pub(super) struct Recorder {
    store: Arc<dyn ClusterStore>,
    settings: Arc<ClusterSettings>,
    status: Arc<Status>,
    live: HashMap<Uuid, Tracked>,
    /// Rows to write, as they should be stored.
    dirty: HashMap<Uuid, SessionRecord>,
    /// When the store started failing (for one log line at each change).
    failing_since: Option<Instant>,
    /// Since when heartbeats have worked without a gap (`None`: the last one failed).
    beating_since: Option<Instant>,
    last_purge: Option<Instant>,
    /// Leftovers of an earlier run under the same proxy id were ended.
    cleaned_up: bool,
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Recorder {
    pub(super) fn new(store: Arc<dyn ClusterStore>, settings: Arc<ClusterSettings>, status: Arc<Status>) -> Self {
        Recorder {
            store,
            settings,
            status,
            live: HashMap::new(),
            dirty: HashMap::new(),
            failing_since: None,
            beating_since: None,
            last_purge: None,
            cleaned_up: false,
        }
    }

    /// Runs until every sender of `records` is gone.
    pub(super) async fn run(mut self, mut records: UnboundedReceiver<Record>) {
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut write_at: Option<Instant> = None;
        loop {
            tokio::select! {
                record = records.recv() => match record {
                    Some(Record::Flush(done)) => {
                        self.write().await;
                        let _ = done.send(self.dirty.is_empty());
                    }
                    Some(record) => {
                        self.take(record);
                        write_at.get_or_insert_with(|| Instant::now() + BATCH_DELAY);
                    }
                    None => {
                        self.write().await;
                        return;
                    }
                },
                () = tokio::time::sleep_until(write_at.unwrap_or_else(Instant::now)), if write_at.is_some() => {
                    write_at = (!self.write().await).then(|| Instant::now() + RETRY);
                }
                _ = heartbeat.tick() => self.beat().await,
            }
        }
    }

    /// A start or an end, into the rows to write.
    fn take(&mut self, record: Record) {
        match record {
            Record::Started(info) => {
                let row = self.row(&info);
                self.dirty.insert(info.id, row.clone());
                self.live.insert(info.id, Tracked { record: row, counters: info.counters });
            }
            Record::Ended { id, at, reason } => {
                if let Some(mut t) = self.live.remove(&id) {
                    t.take_bytes();
                    let mut row = t.record;
                    row.ended = Some(secs(at));
                    row.heartbeat = secs(at);
                    row.end_reason = Some(reason.to_owned());
                    self.dirty.insert(id, row);
                }
            }
            Record::Flush(_) => {}
        }
        self.status.pending.store(self.dirty.len(), Ordering::Relaxed);
    }

    fn row(&self, s: &SessionInfo) -> SessionRecord {
        SessionRecord {
            id: s.id,
            proxy_id: self.settings.proxy_id.clone(),
            instance_uuid: s.instance,
            instance_name: s.instance_name.clone(),
            node: s.node.clone(),
            client: s.client.to_string(),
            console_type: s.console_type,
            view_only: s.view_only,
            minted_by: s.minted_by.clone(),
            started: secs(s.started),
            heartbeat: secs(s.started),
            ended: None,
            bytes_to_server: 0,
            bytes_to_browser: 0,
            end_reason: None,
        }
    }

    /// Before anything is written: ends what an earlier run under the same proxy id left live
    /// (a process killed with a configured `proxy_id` comes back under it).
    async fn clean_up(&mut self) -> porthole_tokens::Result<()> {
        if !self.cleaned_up {
            let n = self.store.end_proxy_sessions(&self.settings.proxy_id, PROXY_GONE).await?;
            self.cleaned_up = true;
            if n > 0 {
                tracing::info!(sessions = n, "sessions left live by an earlier run under this proxy_id marked ended");
            }
        }
        Ok(())
    }

    /// Writes the rows waiting; whether it worked (or there was nothing to write).
    async fn write(&mut self) -> bool {
        if let Err(e) = self.clean_up().await {
            self.store_failed(&e);
            return false;
        }
        if self.dirty.is_empty() {
            return true;
        }
        let rows: Vec<SessionRecord> = self.dirty.values().cloned().collect();
        match self.store.record_sessions(&rows).await {
            Ok(()) => {
                // Only what was written: nothing arrives meanwhile (this task is busy here).
                self.dirty.clear();
                self.status.pending.store(0, Ordering::Relaxed);
                self.store_ok(rows.len());
                true
            }
            Err(e) => {
                self.store_failed(&e);
                false
            }
        }
    }

    /// The heartbeat: bytes that moved, the live mark, the reaping of gone processes, the purge.
    async fn beat(&mut self) {
        let now = porthole_tokens::Clock::System.now();
        let cut_off = self.beating_since.is_none();
        for (id, t) in &mut self.live {
            // After a gap, every live row is written again (the others may have ended it as gone).
            if t.take_bytes() || cut_off {
                t.record.heartbeat = now;
                self.dirty.insert(*id, t.record.clone());
            }
        }
        if !self.write().await {
            return self.beat_failed(&"session records not written");
        }
        if let Err(e) = self.store.heartbeat(&self.settings.proxy_id, now).await {
            return self.beat_failed(&e);
        }
        self.status.last_heartbeat.store(now, Ordering::Relaxed);
        let beating_since = *self.beating_since.get_or_insert_with(Instant::now);
        // Only once this process has been in touch for a whole staleness period: after an outage
        // every process's heartbeat is old, and the others need that long to write theirs.
        if beating_since.elapsed() >= self.settings.stale_after() {
            self.reap(now).await;
        }
        if self.last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            self.purge(now).await;
        }
    }

    fn beat_failed(&mut self, e: &dyn std::fmt::Display) {
        self.beating_since = None;
        tracing::debug!(cause = %e, "heartbeat not written");
    }

    async fn reap(&mut self, now: i64) {
        match self.store.reap_sessions(self.settings.stale_before(now), &self.settings.proxy_id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                sessions = n,
                stale_after_s = self.settings.stale_after().as_secs(),
                "sessions of proxies that stopped heartbeating marked ended (proxy-gone)"
            ),
            Err(e) => tracing::debug!(cause = %e, "reaping the sessions of gone proxies failed"),
        }
    }

    async fn purge(&mut self, now: i64) {
        let retention = i64::try_from(self.settings.history_retention.as_secs()).unwrap_or(i64::MAX);
        let events = i64::try_from(EVENT_RETENTION.as_secs()).unwrap_or(i64::MAX);
        match (self.store.purge_sessions(now.saturating_sub(retention)).await, self.store.purge_events(now - events).await) {
            (Ok(sessions), Ok(events)) => {
                self.last_purge = Some(Instant::now());
                if sessions > 0 {
                    tracing::info!(sessions, events, "session history older than history_retention_days purged");
                }
            }
            (Err(e), _) | (_, Err(e)) => tracing::debug!(cause = %e, "purging old sessions and events failed"),
        }
    }

    fn store_failed(&mut self, e: &porthole_tokens::Error) {
        self.status.records_ok.store(false, Ordering::Relaxed);
        if self.failing_since.is_none() {
            self.failing_since = Some(Instant::now());
            tracing::warn!(
                cause = %e,
                pending = self.dirty.len(),
                "session records cannot be written: the store is unavailable; live sessions go on and are written when it is back"
            );
        }
    }

    fn store_ok(&mut self, written: usize) {
        self.status.records_ok.store(true, Ordering::Relaxed);
        if let Some(since) = self.failing_since.take() {
            tracing::info!(
                after_s = format_args!("{:.1}", since.elapsed().as_secs_f32()),
                written,
                "session records written again: the store is back"
            );
        }
    }
}

#[cfg(test)]
mod tests;
