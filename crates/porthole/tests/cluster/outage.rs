//! PostgreSQL stopped for 10 s under two processes with live sessions (a private server of this
//! test, stopped and started again with pg_ctl through scripts/postgres-up.sh): live sessions keep
//! relaying; new sessions and mints answer 503 within the pool's acquire timeout, each background
//! task says so in one log line; `/readyz` says so; when the server is back everything recovers by
//! itself: readiness, new sessions, a revoke reaching the other process within a second (LISTEN
//! re-established), and the sessions that ran through the outage in the history with their bytes.

use crate::harness::Server;
use crate::proxies::{self, closed_within, echo, eventually, history, http, mint_api, session, try_session};
use porthole_testkit::FakeVncServer;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `scripts/postgres-up.sh [stop]` for the server in `dir`; the URL it prints.
fn postgres(dir: &Path, stop: bool) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-up.sh");
    let mut cmd = Command::new(script);
    cmd.env("PORTHOLE_PG_DIR", dir);
    if stop {
        cmd.arg("stop");
    }
    let out = cmd.output().expect("running scripts/postgres-up.sh");
    assert!(out.status.success(), "postgres-up.sh: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Stops the private server however the test ends.
struct PrivateServer(tempfile::TempDir);

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| postgres(self.0.path(), true));
    }
}

async fn readyz(server: &Server) -> (u16, serde_json::Value) {
    http(server.addr, "GET", "/readyz", None).await
}

fn lines(server: &Server, text: &str) -> usize {
    server.log().iter().filter(|l| l.contains(text)).count()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL"]
async fn postgres_stopped_for_ten_seconds_under_live_sessions() {
    let pg = PrivateServer(tempfile::tempdir().unwrap());
    let url = postgres(pg.0.path(), false);
    let store = porthole_tokens::store::scratch_schema(&url).await.unwrap();
    let vnc = FakeVncServer::raw_echo().await;
    let ps = proxies::start(2, &store, &vnc);
    let token = mint_api(&ps[0]).await;
    let mut through = session(ps[1].addr, &token).await;
    let mut ends_during = session(ps[0].addr, &token).await;
    echo(&mut ends_during, b"0123456789").await;
    eventually(5, "both sessions recorded", || async { (proxies::live_sessions(&ps[0]).await.len() == 2).then_some(()) }).await;

    postgres(pg.0.path(), true);
    let stopped = Instant::now();
    // New sessions and mints: 503, within the pool's acquire timeout (2 s here), not a hang.
    let t = Instant::now();
    assert_eq!(try_session(ps[0].addr, &token).await, 503);
    assert!(t.elapsed() < Duration::from_secs(4), "the refusal took {:?}", t.elapsed());
    let t = Instant::now();
    let body = r#"{"remote_console": {"protocol": "vnc", "type": "novnc"}}"#;
    let uuid = porthole_gateway::inventory::target_uuid("lab");
    let (code, doc) = http(ps[1].addr, "POST", &format!("/v2.1/servers/{uuid}/remote-consoles"), Some(body)).await;
    assert_eq!(code, 503, "{doc}");
    assert!(t.elapsed() < Duration::from_secs(4), "the mint took {:?}", t.elapsed());
    for p in &ps {
        let (code, ready) = readyz(p).await;
        assert_eq!((code, &ready["store"]["ok"]), (503, &serde_json::json!(false)), "{ready}");
    }
    // A session ends during the outage; the other goes on relaying through it.
    drop(ends_during);
    let mut echoed = 0;
    while stopped.elapsed() < Duration::from_secs(10) {
        echo(&mut through, b"through the outage").await;
        echoed += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    assert_eq!(postgres(pg.0.path(), false), url, "the server comes back on its port");
    let back = Instant::now();
    for p in &ps {
        eventually(15, "ready again", || async { (readyz(p).await.0 == 200).then_some(()) }).await;
    }
    let recovered = back.elapsed();
    let mut after = session(ps[0].addr, &mint_api(&ps[0]).await).await;
    echo(&mut after, b"after").await;
    // The LISTEN connections are back: a revoke on one process closes the other's session at once.
    let (code, _) = http(ps[0].addr, "DELETE", &format!("/v2.1/servers/{uuid}/remote-consoles"), None).await;
    assert_eq!(code, 204);
    let (close, took) = closed_within(&mut through, Duration::from_secs(2)).await;
    assert_eq!(close, (1008, "Console reset by an administrator".into()));
    assert!(took <= Duration::from_secs(1), "{took:?}");
    // Nothing lost: both sessions of before the outage are in the history, with their bytes.
    let h = eventually(10, "the sessions of the outage in the history", || async {
        let h = history(&ps[1]).await;
        let ended: Vec<_> = h.into_iter().filter(|s| !s["ended"].is_null()).collect();
        (ended.len() >= 3).then_some(ended)
    })
    .await;
    let reasons: Vec<_> = h.iter().map(|s| (s["proxy_id"].as_str().unwrap_or(""), s["end_reason"].as_str().unwrap_or(""))).collect();
    assert!(reasons.contains(&("p1", "browser-closed")), "{h:?}");
    let through = h.iter().find(|s| s["proxy_id"] == "p2").unwrap();
    assert_eq!(through["end_reason"], "reset", "{through}");
    assert_eq!(through["bytes_to_server"], 5 + 18 * echoed, "the bytes relayed during the outage: {through}");
    let during = h.iter().find(|s| s["end_reason"] == "browser-closed").unwrap();
    assert_eq!(during["bytes_to_server"], 15, "{during}");
    // One line each when the store went and when it came back; no panic.
    for p in &ps {
        assert_eq!(lines(p, "cluster events: lost touch"), 1, "{}", p.log().join("\n"));
        assert_eq!(lines(p, "cluster events: in touch with the store again"), 1, "{}", p.log().join("\n"));
        assert!(lines(p, "session records cannot be written") <= 1, "{}", p.log().join("\n"));
        assert_eq!(lines(p, "panicked"), 0, "{}", p.log().join("\n"));
    }
    assert_eq!(lines(&ps[0], "session records cannot be written"), 1, "p1 had an end to write during the outage");
    eprintln!("ready again {recovered:?} after PostgreSQL came back; p1 logged:");
    for l in ps[0].log().iter().filter(|l| l.contains("WARN") || l.contains("again")) {
        eprintln!("  {l}");
    }
}
