//! The behaviour every [`ClusterStore`] backend must show, written once and run per backend with
//! [`cluster_conformance_tests!`](crate::cluster_conformance_tests). Each case gets two handles on
//! the same data (`a` and `b`: two processes on one store, or one store twice).

#![allow(missing_docs, clippy::unwrap_used)]

use super::{ClusterEvent, ClusterStore, EventFeed, InstanceFilter, RevokeReason, SessionQuery, SessionRecord, StoredEvent, PROXY_GONE};
use crate::ConsoleType;
use std::time::Duration;
use uuid::Uuid;

fn row(proxy: &str, instance: Uuid, name: &str, started: i64) -> SessionRecord {
    SessionRecord {
        id: Uuid::new_v4(),
        proxy_id: proxy.into(),
        instance_uuid: instance,
        instance_name: name.into(),
        node: Some("kvm1".into()),
        client: "192.0.2.7".into(),
        console_type: ConsoleType::Novnc,
        view_only: false,
        minted_by: Some("ops".into()),
        started,
        heartbeat: started,
        ended: None,
        bytes_to_server: 0,
        bytes_to_browser: 0,
        end_reason: None,
    }
}

fn ids(rows: &[SessionRecord]) -> Vec<Uuid> {
    rows.iter().map(|r| r.id).collect()
}

pub async fn sessions_recorded_by_one_are_listed_by_another(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    let (web, db) = (Uuid::new_v4(), Uuid::new_v4());
    let r1 = row("p1", web, "web01", 100);
    let mut r2 = row("p2", db, "db01", 110);
    r2.node = None;
    r2.minted_by = None;
    r2.console_type = ConsoleType::Serial;
    r2.view_only = true;
    let r3 = row("p1", web, "web01", 120);
    a.record_sessions(&[r1.clone(), r2.clone()]).await.unwrap();
    b.record_sessions(std::slice::from_ref(&r3)).await.unwrap();
    assert_eq!(b.sessions(&SessionQuery::live(0)).await.unwrap(), vec![r1.clone(), r2.clone(), r3.clone()], "oldest first, every field");
    assert_eq!(ids(&a.sessions(&SessionQuery::history(10)).await.unwrap()), vec![r3.id, r2.id, r1.id], "newest first");
    assert_eq!(ids(&a.sessions(&SessionQuery::history(2)).await.unwrap()), vec![r3.id, r2.id], "limit");
    let by = |f: InstanceFilter| SessionQuery { instance: Some(f), ..SessionQuery::live(0) };
    assert_eq!(ids(&a.sessions(&by(InstanceFilter::Uuid(web))).await.unwrap()), vec![r1.id, r3.id]);
    assert_eq!(ids(&a.sessions(&by(InstanceFilter::Name("db01".into()))).await.unwrap()), vec![r2.id]);
    assert!(a.sessions(&by(InstanceFilter::Name("nope".into()))).await.unwrap().is_empty());
    let one = SessionQuery { id: Some(r2.id), ..SessionQuery::history(10) };
    assert_eq!(a.sessions(&one).await.unwrap(), vec![r2]);
}

pub async fn an_ended_session_leaves_the_live_list_and_stays_in_history(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    let mut r = row("p1", Uuid::new_v4(), "web01", 100);
    a.record_sessions(&[r.clone()]).await.unwrap();
    r.heartbeat = 105;
    r.bytes_to_server = 1_000;
    r.bytes_to_browser = u64::from(u32::MAX) * 4;
    a.record_sessions(&[r.clone()]).await.unwrap();
    assert_eq!(b.sessions(&SessionQuery::live(0)).await.unwrap(), vec![r.clone()], "heartbeat and bytes updated");
    r.ended = Some(107);
    r.end_reason = Some("browser-closed".into());
    r.bytes_to_server = 1_500;
    a.record_sessions(&[r.clone()]).await.unwrap();
    assert!(b.sessions(&SessionQuery::live(0)).await.unwrap().is_empty());
    assert_eq!(b.sessions(&SessionQuery::history(10)).await.unwrap(), vec![r]);
}

pub async fn a_process_that_stops_heartbeating_has_its_sessions_ended(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    let alive = row("p1", Uuid::new_v4(), "web01", 100);
    let dead = row("p2", Uuid::new_v4(), "web02", 101);
    a.record_sessions(std::slice::from_ref(&alive)).await.unwrap();
    b.record_sessions(std::slice::from_ref(&dead)).await.unwrap();
    assert_eq!(a.heartbeat("p1", 130).await.unwrap(), 1);
    // Listed live only while their heartbeat is recent.
    assert_eq!(ids(&b.sessions(&SessionQuery::live(120)).await.unwrap()), vec![alive.id]);
    assert_eq!(a.reap_sessions(120, "p1").await.unwrap(), 1);
    assert_eq!(a.reap_sessions(120, "p1").await.unwrap(), 0, "once");
    let history = b.sessions(&SessionQuery::history(10)).await.unwrap();
    let gone = history.iter().find(|r| r.id == dead.id).unwrap();
    assert_eq!((gone.ended, gone.end_reason.as_deref()), (Some(101), Some(PROXY_GONE)), "ended at its last heartbeat");
    assert_eq!(ids(&b.sessions(&SessionQuery::live(0)).await.unwrap()), vec![alive.id]);
    // The process was only cut off: writing its live row again brings it back.
    let mut back = dead.clone();
    back.heartbeat = 140;
    b.record_sessions(&[back.clone()]).await.unwrap();
    assert_eq!(ids(&a.sessions(&SessionQuery::live(120)).await.unwrap()), vec![alive.id, back.id]);
    // A process never reaps its own sessions.
    assert_eq!(a.reap_sessions(1_000, "p1").await.unwrap(), 1, "p2's only");
    assert_eq!(ids(&a.sessions(&SessionQuery::live(0)).await.unwrap()), vec![alive.id]);
}

pub async fn a_restarted_process_ends_what_its_previous_run_left(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    let mut left = row("p1", Uuid::new_v4(), "web01", 100);
    left.heartbeat = 150;
    let other = row("p2", Uuid::new_v4(), "web01", 100);
    a.record_sessions(&[left.clone(), other.clone()]).await.unwrap();
    assert_eq!(b.end_proxy_sessions("p1", "proxy-restarted").await.unwrap(), 1);
    let history = a.sessions(&SessionQuery::history(10)).await.unwrap();
    let ended = history.iter().find(|r| r.id == left.id).unwrap();
    assert_eq!((ended.ended, ended.end_reason.as_deref()), (Some(150), Some("proxy-restarted")));
    assert_eq!(ids(&a.sessions(&SessionQuery::live(0)).await.unwrap()), vec![other.id]);
}

pub async fn history_is_purged_by_age(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    let mut old = row("p1", Uuid::new_v4(), "web01", 10);
    old.ended = Some(20);
    let mut recent = row("p1", Uuid::new_v4(), "web01", 10);
    recent.ended = Some(50);
    let live = row("p1", Uuid::new_v4(), "web01", 10);
    a.record_sessions(&[old.clone(), recent.clone(), live.clone()]).await.unwrap();
    assert_eq!(b.purge_sessions(30).await.unwrap(), 1);
    let mut left = ids(&a.sessions(&SessionQuery::history(10)).await.unwrap());
    left.sort();
    let mut want = vec![recent.id, live.id];
    want.sort();
    assert_eq!(left, want);
}

/// Collects `n` events from a feed within a few seconds (empty "connected again" answers skipped).
pub async fn collect(feed: &mut dyn EventFeed, n: usize) -> Vec<StoredEvent> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while got.len() < n {
        match tokio::time::timeout_at(deadline, feed.next()).await {
            Ok(Ok(events)) => got.extend(events),
            Ok(Err(e)) => panic!("the feed failed: {e}"),
            Err(_) => panic!("{} of {n} events within 5 s: {got:?}", got.len()),
        }
    }
    got
}

pub async fn events_published_by_one_reach_the_others_in_order(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    let (instance, session) = (Uuid::new_v4(), Uuid::new_v4());
    a.publish("p0", &ClusterEvent::EndSession { id: Uuid::new_v4() }, 90).await.unwrap();
    let mut feed = b.subscribe().await.unwrap();
    let mut own = a.subscribe().await.unwrap();
    let sent = [
        ClusterEvent::Revoked { instance, reason: RevokeReason::Reset },
        ClusterEvent::EndSession { id: session },
        ClusterEvent::EndInstanceSessions { instance },
        ClusterEvent::Revoked { instance, reason: RevokeReason::InstanceStopped },
    ];
    let mut published = Vec::new();
    for (n, e) in sent.iter().enumerate() {
        published.push(a.publish("p1", e, 100 + n as i64).await.unwrap());
    }
    let got = collect(feed.as_mut(), sent.len()).await;
    assert_eq!(got.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), sent, "in order, not the one before subscribing");
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), published);
    assert!(got.iter().all(|e| e.origin == "p1") && got[1].at == 101);
    assert_eq!(collect(own.as_mut(), sent.len()).await, got, "the publisher's own feed gets them too");
    // Nothing more comes.
    let more = tokio::time::timeout(Duration::from_millis(600), feed.next()).await;
    assert!(more.is_err() || matches!(&more, Ok(Ok(e)) if e.is_empty()), "no more events: {more:?}");
}

pub async fn old_events_are_purged(a: &dyn ClusterStore, b: &dyn ClusterStore) {
    a.publish("p1", &ClusterEvent::EndSession { id: Uuid::new_v4() }, 10).await.unwrap();
    a.publish("p1", &ClusterEvent::EndSession { id: Uuid::new_v4() }, 20).await.unwrap();
    assert_eq!(b.purge_events(15).await.unwrap(), 1);
    assert_eq!(b.purge_events(15).await.unwrap(), 0);
}

/// Expands to one `#[tokio::test]` per conformance case. `$make` builds a fresh, empty store that
/// is `Clone` (both handles are the same store), or, after `two:`, a pair of handles on one fresh
/// store. Attributes after it (such as `#[ignore = "needs PostgreSQL"]`) go on every test.
#[macro_export]
macro_rules! cluster_conformance_tests {
    (two: $make:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::cluster_conformance_tests!(@cases [$(#[$attr])*] $make;
            sessions_recorded_by_one_are_listed_by_another, an_ended_session_leaves_the_live_list_and_stays_in_history,
            a_process_that_stops_heartbeating_has_its_sessions_ended, a_restarted_process_ends_what_its_previous_run_left,
            history_is_purged_by_age,
            events_published_by_one_reach_the_others_in_order, old_events_are_purged);
    };
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::cluster_conformance_tests!(two: { let one = $make; (one.clone(), one) } $(, #[$attr])*);
    };
    (@cases $attrs:tt $make:expr; $($case:ident),*) => {
        $( $crate::cluster_conformance_tests!(@case $attrs $make; $case); )*
    };
    (@case [$(#[$attr:meta])*] $make:expr; $case:ident) => {
        #[tokio::test]
        $(#[$attr])*
        async fn $case() {
            let (a, b) = $make;
            $crate::cluster::conformance::$case(&a, &b).await;
        }
    };
}
