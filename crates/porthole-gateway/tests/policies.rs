//! Every policy (reset, idle, expiry, shutdown) ends a session within a second whatever either
//! peer does: a VNC server that stops reading, one that never speaks, a browser that floods, a
//! revoke that races the upgrade, a VM that dies while keys are flowing.

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::raw::{flood, frame, open, read_close, read_frame, try_open, DeafServer};
use common::{api, start, start_with, wait_for};
use porthole_gateway::inventory::{Inventory, StaticTargets, Survey};
use porthole_gateway::{ApiKey, Role, Settings};
use porthole_testkit::FakeVncServer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const KEY: &str = "policy-test-key-0123456789";
const SECOND: Duration = Duration::from_secs(1);

fn settings() -> Settings {
    Settings { api_keys: vec![ApiKey::new("ops", KEY, Role::Admin)], ..Settings::default() }
}

async fn reset(gw: &common::Gateway, name: &str) -> u16 {
    api(gw.addr, "DELETE", &format!("/v2.1/servers/{}/remote-consoles", gw.instance(name)), Some(KEY), None).await.0
}

/// A session whose VNC server greeted and then stopped reading, with the browser's bytes piled up
/// in between (the browser keeps writing until its socket stays full for half a second).
async fn stuck_session(gw: &common::Gateway, name: &str, ttl: Duration) -> (OwnedReadHalf, OwnedWriteHalf) {
    let m = gw.mint_ttl(name, ttl).await;
    let (mut r, mut w) = open(gw.addr, m.token.expose()).await.into_split();
    assert_eq!(read_frame(&mut r).await.map(|f| f.1), Some(b"RFB 003.008\n".to_vec()));
    flood(&mut w, 6 << 20, Duration::from_millis(500)).await;
    (r, w)
}

async fn close_within(r: &mut OwnedReadHalf, limit: Duration) -> Option<(u16, String)> {
    tokio::time::timeout(limit, read_close(r)).await.unwrap_or_else(|_| panic!("no close frame within {limit:?}"))
}

#[tokio::test]
async fn reset_ends_a_session_whose_vnc_server_stopped_reading() {
    let deaf = DeafServer::start(b"RFB 003.008\n").await;
    let gw = start(&[("deaf", deaf.addr)], settings()).await;
    let (mut r, _w) = stuck_session(&gw, "deaf", Duration::from_secs(600)).await;
    assert_eq!(reset(&gw, "deaf").await, 204);
    assert_eq!(close_within(&mut r, SECOND).await, Some((1008, "Console reset by an administrator".into())));
    wait_for(|| gw.live() == 0).await;
    assert!(deaf.all_closed_by_proxy().await, "the VNC server's socket must be closed, not left with bytes queued");
}

#[tokio::test]
async fn idle_timeout_ends_a_session_whose_vnc_server_stopped_reading() {
    let deaf = DeafServer::start(b"RFB 003.008\n").await;
    let gw = start(&[("deaf", deaf.addr)], Settings { idle_timeout: Some(Duration::from_millis(500)), ..settings() }).await;
    let (mut r, _w) = stuck_session(&gw, "deaf", Duration::from_secs(600)).await;
    assert_eq!(close_within(&mut r, SECOND * 2).await, Some((1008, "Idle timeout".into())));
}

#[tokio::test]
async fn expiry_ends_a_session_whose_vnc_server_stopped_reading() {
    let deaf = DeafServer::start(b"RFB 003.008\n").await;
    let gw = start(&[("deaf", deaf.addr)], Settings { enforce_session_timeout: true, ..settings() }).await;
    let minted = Instant::now();
    let (mut r, _w) = stuck_session(&gw, "deaf", Duration::from_secs(3)).await;
    let left = Duration::from_secs(3).saturating_sub(minted.elapsed());
    assert_eq!(close_within(&mut r, left + SECOND).await, Some((1008, "Token expired".into())));
}

#[tokio::test]
async fn a_stuck_session_whose_browser_left_gives_its_slot_back() {
    let deaf = DeafServer::start(b"RFB 003.008\n").await;
    let limits = Settings { max_sessions: 3, stall_timeout: Duration::from_secs(1), ..settings() };
    let gw = start(&[("deaf", deaf.addr)], limits).await;
    for _ in 0..3 {
        let (r, w) = stuck_session(&gw, "deaf", Duration::from_secs(600)).await;
        drop((r, w)); // the browser leaves
    }
    let m = gw.mint("deaf").await;
    let started = Instant::now();
    loop {
        match try_open(gw.addr, m.token.expose()).await {
            Ok(_) => break,
            Err(503) if started.elapsed() < Duration::from_secs(3) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(status) => panic!("a fresh session is still refused with {status} after {:?}", started.elapsed()),
        }
    }
    assert!(deaf.all_closed_by_proxy().await, "the stuck sessions' VNC sockets must be closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_admitted_before_a_reset_outlives_it() {
    let echo = FakeVncServer::raw_echo().await;
    let gw = start(&[("echo", echo.addr())], settings()).await;
    let (mut admitted, mut survivors) = (0, 0);
    for trial in 0..25u64 {
        let m = gw.mint("echo").await;
        let clients: Vec<_> = (0..6)
            .map(|_| {
                let (addr, token) = (gw.addr, m.token.expose().to_owned());
                tokio::spawn(async move { try_open(addr, &token).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_micros(300 * (trial % 8))).await;
        assert_eq!(reset(&gw, "echo").await, 204);
        for c in clients {
            let Ok(s) = c.await.unwrap() else { continue };
            admitted += 1;
            let (mut r, mut w) = s.into_split();
            // A survivor would echo this back instead of closing.
            let _ = w.write_all(&frame(2, b"still here?", true)).await;
            match tokio::time::timeout(SECOND, read_close(&mut r)).await {
                Ok(Some((1008, _))) => {}
                _ => survivors += 1,
            }
        }
    }
    assert_eq!(survivors, 0, "{survivors} of {admitted} sessions admitted around a reset survived it");
}

/// A VM whose VNC server is `targets`' target until `stopped`; then libvirt says it is shut off.
struct Vm {
    targets: StaticTargets,
    stopped: Arc<AtomicBool>,
}

#[async_trait]
impl Inventory for Vm {
    async fn survey(&self) -> Survey {
        let mut s = self.targets.survey().await;
        if self.stopped.load(Ordering::SeqCst) {
            for i in &mut s.instances {
                i.vnc = None;
                i.state = porthole_gateway::inventory::InstanceState::ShutOff;
            }
        }
        s
    }

    async fn managed(&self, _instance: uuid::Uuid) -> bool {
        true
    }
}

#[tokio::test]
async fn a_vm_dying_while_keys_flow_closes_with_instance_stopped() {
    for run in 0..4 {
        // QEMU's VNC server: it greets, and when QEMU dies its socket goes with keys still unread
        // (the kernel answers with a reset, so the proxy sees a failed write, not an end of stream).
        let qemu = DeafServer::start(b"RFB 003.008\n").await;
        let targets = common::targets(&[("vm", qemu.addr)]);
        let stopped = Arc::new(AtomicBool::new(false));
        let gw = start_with(targets.clone(), Arc::new(Vm { targets, stopped: stopped.clone() }), settings()).await;
        let m = gw.mint("vm").await;
        let (mut r, mut w) = open(gw.addr, m.token.expose()).await.into_split();
        let keys = tokio::spawn(async move {
            let key = frame(2, &[4, 1, 0, 0, 0, 0, 0, 0x61], true);
            while w.write_all(&key).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        qemu.conns.lock().unwrap().clear();
        // libvirt reports the stop a moment later.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopped.store(true, Ordering::SeqCst);
        let close = tokio::time::timeout(Duration::from_secs(8), read_close(&mut r)).await.unwrap();
        assert_eq!(close, Some((1008, "Instance stopped".into())), "run {run}");
        keys.abort();
    }
}

#[tokio::test]
async fn a_vnc_server_that_never_speaks_hits_the_handshake_timeout_in_relay_mode() {
    let silent = DeafServer::start(b"").await;
    let mut s = settings();
    s.security.timeout = Duration::from_millis(500);
    let gw = start(&[("silent", silent.addr)], s).await;
    let m = gw.mint("silent").await;
    let (mut r, _w) = open(gw.addr, m.token.expose()).await.into_split();
    let (code, reason) = close_within(&mut r, Duration::from_millis(500) + SECOND).await.expect("a close frame");
    assert_eq!(code, 1011);
    assert!(reason.contains("VNC server"), "{reason}");
    wait_for(|| gw.live() == 0).await;
}

#[tokio::test]
async fn shutdown_drains_then_tells_live_sessions_going_away() {
    let echo = FakeVncServer::raw_echo().await;
    let drain = Duration::from_millis(600);
    let mut gw = start(&[("echo", echo.addr())], Settings { drain_timeout: drain, ..settings() }).await;
    let m = gw.mint("echo").await;
    let (mut r, _w) = open(gw.addr, m.token.expose()).await.into_split();
    let stopping = Instant::now();
    let served = gw.stop();
    // New connections are refused at once; the live session is told after the drain time.
    assert!(tokio::time::timeout(SECOND, async { while try_open(gw.addr, m.token.expose()).await.is_ok() {} }).await.is_ok());
    assert_eq!(close_within(&mut r, drain + SECOND).await, Some((1001, "Going away".into())));
    assert!(stopping.elapsed() >= drain, "told after {:?}, before the drain time", stopping.elapsed());
    tokio::time::timeout(SECOND * 2, served).await.expect("serve returns once sessions are gone").unwrap().unwrap();
    wait_for(|| echo.live_connections() == 0).await;
}
