//! The registry on its own: who is told, and the revocation generation.

use super::*;

fn meta(instance: Uuid) -> SessionMeta {
    SessionMeta::new(instance, IpAddr::from([127, 0, 0, 1]))
}

#[tokio::test]
async fn ending_an_instance_tells_only_its_sessions() {
    let live = LiveSessions::default();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let g = live.generation();
    let mut a1 = live.register(meta(a), g).unwrap();
    let mut a2 = live.register(meta(a), g).unwrap();
    let mut b1 = live.register(meta(b), g).unwrap();
    assert_eq!(live.count(), 3);
    assert_eq!(live.end_instance(a, Policy::Reset), 2);
    assert_eq!((&mut a1.ended).await.unwrap(), Policy::Reset);
    assert_eq!((&mut a2.ended).await.unwrap(), Policy::Reset);
    assert!(b1.ended.try_recv().is_err());
    drop((a1, a2, b1));
    assert_eq!(live.count(), 0);
}

#[test]
fn a_token_checked_before_a_revoke_cannot_register_after_it() {
    let live = LiveSessions::default();
    let vm = Uuid::new_v4();
    let checked_at = live.generation();
    live.end_instance(vm, Policy::Reset);
    assert_eq!(live.register(meta(vm), checked_at).err(), Some(NotRegistered::Revoked));
    // Another instance, or a token checked after the revoke, is fine.
    assert!(live.register(meta(Uuid::new_v4()), checked_at).is_ok());
    assert!(live.register(meta(vm), live.generation()).is_ok());
}

#[tokio::test]
async fn the_first_reason_wins_and_shutdown_refuses_newcomers() {
    let live = LiveSessions::default();
    let vm = Uuid::new_v4();
    let mut s = live.register(meta(vm), live.generation()).unwrap();
    assert!(live.end_session(s.info.id, Policy::Killed));
    assert_eq!(live.end_all(Policy::Shutdown), 0, "already told");
    assert_eq!((&mut s.ended).await.unwrap(), Policy::Killed);
    live.stop_admitting();
    assert_eq!(live.register(meta(vm), live.generation()).err(), Some(NotRegistered::ShuttingDown));
}

#[tokio::test]
async fn wait_empty_returns_when_the_last_session_goes() {
    let live = LiveSessions::default();
    let s = live.register(meta(Uuid::new_v4()), 0).unwrap();
    let waiter = tokio::spawn({
        let live = live.clone();
        async move { live.wait_empty().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    drop(s);
    tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap();
}

#[tokio::test]
async fn ending_an_instances_sessions_leaves_admission_open() {
    let live = LiveSessions::default();
    let vm = Uuid::new_v4();
    let checked_at = live.generation();
    let mut s = live.register(meta(vm), checked_at).unwrap();
    assert_eq!(live.end_sessions_of(vm, Policy::Killed), 1);
    assert_eq!((&mut s.ended).await.unwrap(), Policy::Killed);
    assert!(live.register(meta(vm), checked_at).is_ok(), "its tokens were not revoked");
}

#[tokio::test]
async fn the_recorder_hears_of_starts_and_ends_with_their_reason() {
    let live = LiveSessions::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    live.record_to(tx);
    let mut s = live.register(meta(Uuid::new_v4()), 0).unwrap();
    let id = s.info.id;
    assert!(matches!(rx.recv().await, Some(Record::Started(info)) if info.id == id));
    s.registration.finish("browser-closed");
    drop(s);
    assert!(matches!(rx.recv().await, Some(Record::Ended { id: ended, reason: "browser-closed", .. }) if ended == id));
    drop(live.register(meta(Uuid::new_v4()), 0).unwrap());
    let _started = rx.recv().await;
    assert!(matches!(rx.recv().await, Some(Record::Ended { reason: NOT_STARTED, .. })));
}

#[test]
fn relayed_bytes_count_live_sessions_and_keep_ended_ones() {
    use std::sync::atomic::Ordering;
    let live = LiveSessions::default();
    let a = live.register(meta(Uuid::new_v4()), live.generation()).unwrap();
    let b = live.register(meta(Uuid::new_v4()), live.generation()).unwrap();
    a.info.counters.to_browser.fetch_add(100, Ordering::Relaxed);
    a.info.counters.to_server.fetch_add(7, Ordering::Relaxed);
    b.info.counters.to_browser.fetch_add(50, Ordering::Relaxed);
    assert_eq!(live.relayed_bytes(), (150, 7));
    // A session that ends leaves its bytes in the total: it never goes back.
    drop(a);
    assert_eq!(live.relayed_bytes(), (150, 7));
    b.info.counters.to_browser.fetch_add(1, Ordering::Relaxed);
    drop(b);
    assert_eq!(live.relayed_bytes(), (151, 7));
}
