//! The recorder and the event follower against a store in memory that can be made to fail:
//! records reach the store, survive an outage, come back after this process was taken for gone;
//! a gone process's sessions are ended; events from another process end sessions here.

#![allow(clippy::unwrap_used)]

use crate::cluster::{Cluster, ClusterSettings};
use crate::live::{LiveSessions, NotRegistered, Policy, SessionHandle, SessionMeta};
use async_trait::async_trait;
use porthole_tokens::cluster::{EventFeed, MemoryCluster, RevokeReason, SessionQuery, PROXY_GONE};
use porthole_tokens::{ClusterEvent, ClusterStore, SessionRecord, Unavailable};
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A store in memory that answers "unavailable" while `down` is set.
#[derive(Default)]
struct Flaky {
    inner: MemoryCluster,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> porthole_tokens::Result<()> {
        match self.down.load(Ordering::SeqCst) {
            true => Err(Unavailable::Database("down for the test".into()).into()),
            false => Ok(()),
        }
    }
}

#[async_trait]
impl ClusterStore for Flaky {
    async fn record_sessions(&self, rows: &[SessionRecord]) -> porthole_tokens::Result<()> {
        self.check()?;
        self.inner.record_sessions(rows).await
    }
    async fn heartbeat(&self, proxy_id: &str, now: i64) -> porthole_tokens::Result<u64> {
        self.check()?;
        self.inner.heartbeat(proxy_id, now).await
    }
    async fn reap_sessions(&self, stale_before: i64, except_proxy: &str) -> porthole_tokens::Result<u64> {
        self.check()?;
        self.inner.reap_sessions(stale_before, except_proxy).await
    }
    async fn end_proxy_sessions(&self, proxy_id: &str, reason: &str) -> porthole_tokens::Result<u64> {
        self.check()?;
        self.inner.end_proxy_sessions(proxy_id, reason).await
    }
    async fn sessions(&self, query: &SessionQuery) -> porthole_tokens::Result<Vec<SessionRecord>> {
        self.check()?;
        self.inner.sessions(query).await
    }
    async fn purge_sessions(&self, ended_before: i64) -> porthole_tokens::Result<u64> {
        self.check()?;
        self.inner.purge_sessions(ended_before).await
    }
    async fn publish(&self, origin: &str, event: &ClusterEvent, at: i64) -> porthole_tokens::Result<i64> {
        self.check()?;
        self.inner.publish(origin, event, at).await
    }
    async fn purge_events(&self, before: i64) -> porthole_tokens::Result<u64> {
        self.check()?;
        self.inner.purge_events(before).await
    }
    async fn subscribe(&self) -> porthole_tokens::Result<Box<dyn EventFeed>> {
        self.check()?;
        self.inner.subscribe().await
    }
}

fn settings(proxy: &str) -> ClusterSettings {
    ClusterSettings { proxy_id: proxy.into(), heartbeat_interval: Duration::from_secs(1), ..ClusterSettings::default() }
}

fn meta(instance: Uuid) -> SessionMeta {
    SessionMeta::new(instance, IpAddr::from([192, 0, 2, 7]))
}

async fn process(store: Arc<dyn ClusterStore>, proxy: &str) -> (LiveSessions, Cluster) {
    let live = LiveSessions::default();
    let cluster = Cluster::start(store, settings(proxy), &live).await.unwrap();
    (live, cluster)
}

/// Polls `check` on the store's history until it holds, for up to `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, store: &dyn ClusterStore, check: F) -> Vec<SessionRecord>
where
    F: Fn(Vec<SessionRecord>) -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let rows = store.sessions(&SessionQuery::history(100)).await.unwrap_or_default();
        if check(rows.clone()).await {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within {secs} s; the store holds {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn end(mut s: SessionHandle, reason: &'static str) {
    s.registration.finish(reason);
}

#[tokio::test]
async fn a_session_is_recorded_with_its_bytes_and_its_end() {
    let store = Arc::new(MemoryCluster::new());
    let (live, _cluster) = process(store.clone(), "p1").await;
    let vm = Uuid::new_v4();
    let s = live.register(meta(vm), 0).unwrap();
    let id = s.info.id;
    eventually(1, "the start", store.as_ref(), |rows| async move { rows.iter().any(|r| r.id == id && r.ended.is_none()) }).await;
    s.info.counters.to_server.store(10, Ordering::Relaxed);
    s.info.counters.to_browser.store(20_000, Ordering::Relaxed);
    eventually(3, "the bytes at a heartbeat", store.as_ref(), |rows| async move {
        rows.iter().any(|r| r.id == id && (r.bytes_to_server, r.bytes_to_browser) == (10, 20_000))
    })
    .await;
    s.info.counters.to_browser.store(30_000, Ordering::Relaxed);
    end(s, "browser-closed");
    let rows = eventually(1, "the end", store.as_ref(), |rows| async move { rows.iter().any(|r| r.ended.is_some()) }).await;
    let r = &rows[0];
    assert_eq!((r.proxy_id.as_str(), r.instance_uuid, r.client.as_str()), ("p1", vm, "192.0.2.7"));
    assert_eq!((r.bytes_to_browser, r.end_reason.as_deref()), (30_000, Some("browser-closed")), "the last bytes, and why");
}

#[tokio::test]
async fn what_an_outage_kept_is_written_when_the_store_is_back() {
    let store = Arc::new(Flaky::default());
    let (live, cluster) = process(store.clone(), "p1").await;
    let s = live.register(meta(Uuid::new_v4()), 0).unwrap();
    let id = s.info.id;
    eventually(1, "the start", store.as_ref(), |rows| async move { rows.len() == 1 }).await;
    store.down.store(true, Ordering::SeqCst);
    s.info.counters.to_server.store(77, Ordering::Relaxed);
    end(s, "server-closed");
    assert!(!cluster.flush(Duration::from_secs(1)).await, "nothing can be written while the store is down");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    store.down.store(false, Ordering::SeqCst);
    let rows =
        eventually(3, "the end, written after the outage", store.as_ref(), |rows| async move { rows.iter().any(|r| r.ended.is_some()) })
            .await;
    assert_eq!((rows[0].id, rows[0].bytes_to_server, rows[0].end_reason.as_deref()), (id, 77, Some("server-closed")));
    assert!(cluster.flush(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_process_taken_for_gone_brings_its_live_sessions_back() {
    let store = Arc::new(Flaky::default());
    let (live, _cluster) = process(store.clone(), "p1").await;
    let s = live.register(meta(Uuid::new_v4()), 0).unwrap();
    eventually(1, "the start", store.as_ref(), |rows| async move { rows.len() == 1 }).await;
    // Cut off for a heartbeat, during which another process ends its sessions as gone.
    store.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(store.inner.reap_sessions(i64::MAX, "p2").await.unwrap(), 1);
    store.down.store(false, Ordering::SeqCst);
    eventually(3, "the session live again", store.as_ref(), |rows| async move { rows[0].ended.is_none() }).await;
    drop(s);
}

#[tokio::test]
async fn the_sessions_of_a_process_that_stopped_heartbeating_are_ended() {
    let store = Arc::new(MemoryCluster::new());
    let now = porthole_tokens::Clock::System.now();
    let dead = SessionRecord {
        id: Uuid::new_v4(),
        proxy_id: "dead".into(),
        instance_uuid: Uuid::new_v4(),
        instance_name: "web01".into(),
        node: None,
        client: "192.0.2.9".into(),
        console_type: porthole_tokens::ConsoleType::Novnc,
        view_only: false,
        minted_by: None,
        started: now - 100,
        heartbeat: now - 100,
        ended: None,
        bytes_to_server: 0,
        bytes_to_browser: 0,
        end_reason: None,
    };
    store.record_sessions(std::slice::from_ref(&dead)).await.unwrap();
    let started = tokio::time::Instant::now();
    let (_live, _cluster) = process(store.clone(), "p1").await;
    let rows = eventually(6, "the dead process's session ended", store.as_ref(), |rows| async move { rows[0].ended.is_some() }).await;
    assert_eq!((rows[0].ended, rows[0].end_reason.as_deref()), (Some(now - 100), Some(PROXY_GONE)));
    assert!(started.elapsed() >= Duration::from_secs(3), "not before this process has heartbeated for a staleness period");
}

#[tokio::test]
async fn events_from_another_process_end_sessions_here() {
    let store = Arc::new(MemoryCluster::new());
    let (here, _c1) = process(store.clone(), "here").await;
    let (_there, other) = process(store.clone(), "there").await;
    let (vm, other_vm) = (Uuid::new_v4(), Uuid::new_v4());
    let mut reset = here.register(meta(vm), here.generation()).unwrap();
    let mut killed = here.register(meta(other_vm), here.generation()).unwrap();
    let mut spared = here.register(meta(other_vm), here.generation()).unwrap();
    let being_admitted = here.generation();

    other.publish(ClusterEvent::Revoked { instance: vm, reason: RevokeReason::Reset }).await.unwrap();
    let within = |rx| tokio::time::timeout(Duration::from_secs(1), rx);
    assert_eq!(within(&mut reset.ended).await.unwrap().unwrap(), Policy::Reset);
    assert_eq!(here.register(meta(vm), being_admitted).err(), Some(NotRegistered::Revoked), "a remote revoke refuses admissions too");

    other.publish(ClusterEvent::EndSession { id: killed.info.id }).await.unwrap();
    assert_eq!(within(&mut killed.ended).await.unwrap().unwrap(), Policy::Killed);
    assert!(spared.ended.try_recv().is_err(), "only that session");

    other.publish(ClusterEvent::EndInstanceSessions { instance: other_vm }).await.unwrap();
    assert_eq!(within(&mut spared.ended).await.unwrap().unwrap(), Policy::Killed);
    assert!(here.register(meta(other_vm), being_admitted).is_ok(), "ending sessions revokes nothing");
}

#[tokio::test]
async fn a_process_ignores_its_own_events() {
    let store = Arc::new(MemoryCluster::new());
    let (live, cluster) = process(store.clone(), "here").await;
    let vm = Uuid::new_v4();
    let mut s = live.register(meta(vm), live.generation()).unwrap();
    cluster.publish(ClusterEvent::EndInstanceSessions { instance: vm }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.ended.try_recv().is_err(), "the publisher acts before publishing, not again when it hears itself");
}
