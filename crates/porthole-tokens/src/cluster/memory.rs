//! Sessions and events in process memory: one process is the whole cluster (tests, `memory:`
//! stores, and a gateway that was given no store of its own).

use super::{ClusterEvent, ClusterStore, EventFeed, InstanceFilter, SessionQuery, SessionRecord, StoredEvent, PROXY_GONE};
use crate::{Error, Result};
use async_trait::async_trait;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct State {
    sessions: Vec<SessionRecord>,
    events: Vec<StoredEvent>,
    next_event: i64,
}

/// A [`ClusterStore`] in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryCluster {
    state: Arc<Mutex<State>>,
    /// Wakes feeds when an event is published.
    published: Arc<Notify>,
}

impl MemoryCluster {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| Error::Backend("memory cluster store poisoned".into()))
    }
}

fn matches(r: &SessionRecord, q: &SessionQuery) -> bool {
    let live = r.ended.is_none() && r.heartbeat >= q.stale_before;
    let instance = match &q.instance {
        None => true,
        Some(InstanceFilter::Uuid(u)) => r.instance_uuid == *u,
        Some(InstanceFilter::Name(n)) => r.instance_name == *n,
    };
    (q.history || live) && instance && q.id.is_none_or(|id| r.id == id)
}

#[async_trait]
impl ClusterStore for MemoryCluster {
    async fn record_sessions(&self, rows: &[SessionRecord]) -> Result<()> {
        let mut st = self.lock()?;
        for row in rows {
            match st.sessions.iter_mut().find(|r| r.id == row.id) {
                Some(r) => {
                    r.heartbeat = row.heartbeat;
                    r.ended = row.ended;
                    r.bytes_to_server = row.bytes_to_server;
                    r.bytes_to_browser = row.bytes_to_browser;
                    r.end_reason.clone_from(&row.end_reason);
                }
                None => st.sessions.push(row.clone()),
            }
        }
        Ok(())
    }

    async fn heartbeat(&self, proxy_id: &str, now: i64) -> Result<u64> {
        let mut st = self.lock()?;
        let mut n = 0;
        for r in st.sessions.iter_mut().filter(|r| r.proxy_id == proxy_id && r.ended.is_none()) {
            r.heartbeat = now;
            n += 1;
        }
        Ok(n)
    }

    async fn reap_sessions(&self, stale_before: i64, except_proxy: &str) -> Result<u64> {
        let mut st = self.lock()?;
        let mut n = 0;
        for r in st.sessions.iter_mut().filter(|r| r.ended.is_none() && r.heartbeat < stale_before && r.proxy_id != except_proxy) {
            r.ended = Some(r.heartbeat);
            r.end_reason = Some(PROXY_GONE.into());
            n += 1;
        }
        Ok(n)
    }

    async fn end_proxy_sessions(&self, proxy_id: &str, reason: &str) -> Result<u64> {
        let mut st = self.lock()?;
        let mut n = 0;
        for r in st.sessions.iter_mut().filter(|r| r.ended.is_none() && r.proxy_id == proxy_id) {
            r.ended = Some(r.heartbeat);
            r.end_reason = Some(reason.into());
            n += 1;
        }
        Ok(n)
    }

    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>> {
        let st = self.lock()?;
        let mut found: Vec<SessionRecord> = st.sessions.iter().filter(|r| matches(r, query)).cloned().collect();
        if query.history {
            found.sort_by_key(|r| (std::cmp::Reverse(r.started), r.id));
        } else {
            found.sort_by_key(|r| (r.started, r.id));
        }
        found.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn purge_sessions(&self, ended_before: i64) -> Result<u64> {
        let mut st = self.lock()?;
        let before = st.sessions.len();
        st.sessions.retain(|r| r.ended.is_none_or(|e| e >= ended_before));
        Ok((before - st.sessions.len()) as u64)
    }

    async fn publish(&self, origin: &str, event: &ClusterEvent, at: i64) -> Result<i64> {
        let id = {
            let mut st = self.lock()?;
            st.next_event += 1;
            let id = st.next_event;
            st.events.push(StoredEvent { id, at, origin: origin.to_owned(), event: event.clone() });
            id
        };
        self.published.notify_waiters();
        Ok(id)
    }

    async fn purge_events(&self, before: i64) -> Result<u64> {
        let mut st = self.lock()?;
        let n = st.events.len();
        st.events.retain(|e| e.at >= before);
        Ok((n - st.events.len()) as u64)
    }

    async fn subscribe(&self) -> Result<Box<dyn EventFeed>> {
        let after = self.lock()?.next_event;
        Ok(Box::new(MemoryFeed { cluster: self.clone(), after }))
    }
}

/// Wakes at each publication and returns the events after the last one it returned.
struct MemoryFeed {
    cluster: MemoryCluster,
    after: i64,
}

#[async_trait]
impl EventFeed for MemoryFeed {
    async fn next(&mut self) -> Result<Vec<StoredEvent>> {
        loop {
            let published = self.cluster.published.notified();
            let new: Vec<StoredEvent> = self.cluster.lock()?.events.iter().filter(|e| e.id > self.after).cloned().collect();
            if let Some(last) = new.last() {
                self.after = last.id;
                return Ok(new);
            }
            published.await;
        }
    }

    fn mode(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    crate::cluster_conformance_tests!(super::MemoryCluster::new());
}
