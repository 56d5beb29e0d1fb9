//! Several real `porthole serve` processes on one store (issue 13): any process opens any token,
//! whoever minted it; a revoke or a kill sent to one ends sessions held by another within a
//! second; sessions are listed cluster-wide, and a process killed with SIGKILL has its sessions
//! ended as `proxy-gone`. On PostgreSQL (LISTEN/NOTIFY) and on one SQLite file (polled events).
//! `outage.rs`: PostgreSQL stopped for 10 s under live sessions.

#![allow(clippy::unwrap_used)]

#[path = "../service/harness.rs"]
mod harness;
mod outage;
mod proxies;

use porthole_testkit::FakeVncServer;
use proxies::{cli, closed_within, echo, eventually, history, http, live_sessions, mint_api, session, try_session};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// A token minted by any process's API, or by the CLI with any process's configuration, opens
/// on every process.
async fn any_proxy_opens_any_token(store: &str) {
    let vnc = FakeVncServer::raw_echo().await;
    let ps = proxies::start(3, store, &vnc);
    let mut tokens = vec![mint_api(&ps[0]).await, mint_api(&ps[2]).await];
    let out = cli(&ps[1], &["console", "url", "lab"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokens.push(String::from_utf8_lossy(&out.stdout).trim().rsplit("%3Ftoken%3D").next().unwrap().to_owned());
    let mut open = Vec::new();
    for token in &tokens {
        for p in &ps {
            open.push(session(p.addr, token).await);
        }
    }
    for s in &mut open {
        echo(s, b"still there").await;
    }
    // Every process lists all nine, each with the process holding it.
    let listed = eventually(5, "nine live sessions listed", || async {
        let l = live_sessions(&ps[1]).await;
        (l.len() == 9).then_some(l)
    })
    .await;
    for p in ["p1", "p2", "p3"] {
        assert_eq!(listed.iter().filter(|s| s["proxy_id"] == p).count(), 3, "{listed:?}");
    }
}

/// `DELETE …/remote-consoles` on one process closes the instance's sessions on the others within
/// a second, and no process admits its old tokens any more; `porthole console reset` does the same.
async fn a_reset_on_one_closes_sessions_on_the_others_within_a_second(store: &str) {
    let vnc = FakeVncServer::raw_echo().await;
    let ps = proxies::start(3, store, &vnc);
    let token = mint_api(&ps[0]).await;
    let mut on_2 = session(ps[1].addr, &token).await;
    let mut on_3 = session(ps[2].addr, &token).await;
    let uuid = porthole_gateway::inventory::target_uuid("lab");
    let (code, _) = http(ps[0].addr, "DELETE", &format!("/v2.1/servers/{uuid}/remote-consoles"), None).await;
    assert_eq!(code, 204);
    for s in [&mut on_2, &mut on_3] {
        let (close, took) = closed_within(s, 2 * SECOND).await;
        assert_eq!(close, (1008, "Console reset by an administrator".into()));
        assert!(took <= SECOND, "closed {took:?} after the reset returned, more than a second");
    }
    for p in &ps {
        assert_eq!(try_session(p.addr, &token).await, 401, "a revoked token on {}", p.addr);
    }

    // The same from the command line, with another process's configuration.
    let token = mint_api(&ps[1]).await;
    let mut on_1 = session(ps[0].addr, &token).await;
    eventually(5, "only the new session live", || async { (live_sessions(&ps[2]).await.len() == 1).then_some(()) }).await;
    let out = cli(&ps[2], &["console", "reset", "lab"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (close, _) = closed_within(&mut on_1, SECOND).await;
    assert_eq!(close, (1008, "Console reset by an administrator".into()));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("1 console URL(s) of lab revoked") && said.contains("1 session(s) closed"), "{said}");
}

/// Sessions are listed by every process and ended wherever they run, by id or by instance,
/// through any process's API or the CLI; the history keeps them with why they ended.
async fn sessions_are_listed_and_ended_cluster_wide(store: &str) {
    let vnc = FakeVncServer::raw_echo().await;
    let ps = proxies::start(2, store, &vnc);
    let token = mint_api(&ps[0]).await;
    let mut a = session(ps[1].addr, &token).await;
    let listed = eventually(5, "the session listed by the other process", || async {
        let l = live_sessions(&ps[0]).await;
        (l.len() == 1).then_some(l)
    })
    .await;
    assert_eq!(
        (listed[0]["proxy_id"].as_str(), listed[0]["instance"].as_str(), listed[0]["minted_by"].as_str()),
        (Some("p2"), Some("lab"), Some("ops"))
    );
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let (code, _) = http(ps[0].addr, "DELETE", &format!("/v2.1/porthole/sessions/{id}"), None).await;
    assert_eq!(code, 204);
    let (close, took) = closed_within(&mut a, 2 * SECOND).await;
    assert_eq!(close, (1008, "Session ended by an administrator".into()));
    assert!(took <= SECOND, "{took:?}");

    // The token is still good: the same URL opens again, then the CLI ends it by instance.
    let mut b = session(ps[1].addr, &token).await;
    let mut c = session(ps[0].addr, &token).await;
    eventually(5, "two live sessions", || async { (live_sessions(&ps[1]).await.len() == 2).then_some(()) }).await;
    let out = cli(&ps[0], &["sessions", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sessions"].as_array().map(Vec::len), Some(2), "{doc}");
    let out = cli(&ps[0], &["sessions", "kill", "--instance", "lab"]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for s in [&mut b, &mut c] {
        assert_eq!(closed_within(s, SECOND).await.0, (1008, "Session ended by an administrator".into()));
    }
    let h = eventually(5, "three ended sessions in the history", || async {
        let h = history(&ps[1]).await;
        h.iter().all(|s| !s["ended"].is_null()).then_some(h).filter(|h| h.len() == 3)
    })
    .await;
    assert!(h.iter().all(|s| s["end_reason"] == "killed" && s["bytes_to_server"] == 5 && s["bytes_to_browser"] == 5), "{h:?}");
    let out = cli(&ps[1], &["sessions", "--history"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.lines().filter(|l| l.contains("killed")).count(), 3, "{table}");
}

/// A process killed with SIGKILL writes nothing more: the others end its sessions as
/// `proxy-gone` within a few heartbeats, and its clients connect again elsewhere with the same URL.
async fn a_killed_process_has_its_sessions_ended_by_the_others(store: &str) {
    let vnc = FakeVncServer::raw_echo().await;
    let mut ps = proxies::start(2, store, &vnc);
    let token = mint_api(&ps[0]).await;
    let _held = session(ps[1].addr, &token).await;
    eventually(5, "the session listed", || async { (live_sessions(&ps[0]).await.len() == 1).then_some(()) }).await;
    ps[1].child.kill().unwrap();
    let _ = ps[1].child.wait();
    let started = std::time::Instant::now();
    let gone = eventually(10, "the dead process's session ended", || async {
        let h = history(&ps[0]).await;
        h.into_iter().find(|s| s["end_reason"] == "proxy-gone")
    })
    .await;
    assert_eq!(gone["proxy_id"], "p2");
    assert!(live_sessions(&ps[0]).await.is_empty());
    assert!(started.elapsed() <= Duration::from_secs(8), "{:?}: more than a few heartbeats (1 s each)", started.elapsed());
    let mut again = session(ps[0].addr, &token).await;
    echo(&mut again, b"on the survivor").await;
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL"]
    async fn any_proxy_opens_any_token() {
        super::any_proxy_opens_any_token(&proxies::postgres_store().await).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL"]
    async fn a_reset_on_one_closes_sessions_on_the_others_within_a_second() {
        super::a_reset_on_one_closes_sessions_on_the_others_within_a_second(&proxies::postgres_store().await).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL"]
    async fn sessions_are_listed_and_ended_cluster_wide() {
        super::sessions_are_listed_and_ended_cluster_wide(&proxies::postgres_store().await).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL"]
    async fn a_killed_process_has_its_sessions_ended_by_the_others() {
        super::a_killed_process_has_its_sessions_ended_by_the_others(&proxies::postgres_store().await).await;
    }
}

/// Several processes on one host sharing one SQLite file: the same behaviour, events polled.
mod sqlite {
    fn store(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("shared.db").display())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn any_proxy_opens_any_token() {
        let dir = tempfile::tempdir().unwrap();
        super::any_proxy_opens_any_token(&store(&dir)).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_reset_on_one_closes_sessions_on_the_others_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        super::a_reset_on_one_closes_sessions_on_the_others_within_a_second(&store(&dir)).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sessions_are_listed_and_ended_cluster_wide() {
        let dir = tempfile::tempdir().unwrap();
        super::sessions_are_listed_and_ended_cluster_wide(&store(&dir)).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_killed_process_has_its_sessions_ended_by_the_others() {
        let dir = tempfile::tempdir().unwrap();
        super::a_killed_process_has_its_sessions_ended_by_the_others(&store(&dir)).await;
    }
}
