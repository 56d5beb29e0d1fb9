//! The registry on its own: who is told, and the revocation generation.

use super::*;

fn addr() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

#[tokio::test]
async fn ending_an_instance_tells_only_its_sessions() {
    let live = LiveSessions::default();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let g = live.generation();
    let mut a1 = live.register(a, g, addr()).unwrap();
    let mut a2 = live.register(a, g, addr()).unwrap();
    let mut b1 = live.register(b, g, addr()).unwrap();
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
    assert_eq!(live.register(vm, checked_at, addr()).err(), Some(NotRegistered::Revoked));
    // Another instance, or a token checked after the revoke, is fine.
    assert!(live.register(Uuid::new_v4(), checked_at, addr()).is_ok());
    assert!(live.register(vm, live.generation(), addr()).is_ok());
}

#[tokio::test]
async fn the_first_reason_wins_and_shutdown_refuses_newcomers() {
    let live = LiveSessions::default();
    let vm = Uuid::new_v4();
    let mut s = live.register(vm, live.generation(), addr()).unwrap();
    assert!(live.end_session(s.info.id, Policy::Killed));
    assert_eq!(live.end_all(Policy::Shutdown), 0, "already told");
    assert_eq!((&mut s.ended).await.unwrap(), Policy::Killed);
    live.stop_admitting();
    assert_eq!(live.register(vm, live.generation(), addr()).err(), Some(NotRegistered::ShuttingDown));
}

#[tokio::test]
async fn wait_empty_returns_when_the_last_session_goes() {
    let live = LiveSessions::default();
    let s = live.register(Uuid::new_v4(), 0, addr()).unwrap();
    let waiter = tokio::spawn({
        let live = live.clone();
        async move { live.wait_empty().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    drop(s);
    tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap();
}
