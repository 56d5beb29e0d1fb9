//! The CLI against libvirt nodes without a daemon: libvirt's test driver (`test:///FILE`) as a
//! healthy node, and a hung node (a TCP listener that accepts and never answers).
//! - A hung node costs only its own instances, and the command still exits (issue 11 defect 7:
//!   `porthole list` printed, then never exited, waiting on the hung libvirt call).
//! - `serve` answers at once when a node hangs (the start-up audit no longer holds it up), and a
//!   console on another node opens at once (the endpoint re-check asks nodes concurrently).
//! - `list` and `audit` agree on what "exposed" means (issue 11).

#![allow(clippy::unwrap_used)]

#[path = "libvirt/listening.rs"]
mod listening;

use listening::{free_port, owns_listener, Listening};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
const VM1: &str = "11111111-2222-3333-4444-555555555555";

/// A libvirt URI whose server accepts connections and never says a word.
fn hung_uri() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("qemu+tcp://127.0.0.1:{port}/system")
}

/// A test-driver node file with running domains `(name, uuid, listen address)`, VNC on 5907….
fn test_node(dir: &tempfile::TempDir, domains: &[(&str, &str, &str)]) -> String {
    test_node_on(dir, 5907, domains)
}

/// The same, VNC ports from `first_port` on.
fn test_node_on(dir: &tempfile::TempDir, first_port: u16, domains: &[(&str, &str, &str)]) -> String {
    let mut xml = String::from("<node>");
    for (i, (name, uuid, listen)) in domains.iter().enumerate() {
        xml += &format!(
            "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>\
             <devices><graphics type='vnc' port='{}' autoport='no' listen='{listen}'/></devices></domain>",
            usize::from(first_port) + i
        );
    }
    xml += "</node>";
    let path = dir.path().join("node.xml");
    std::fs::write(&path, xml).unwrap();
    format!("test://{}", path.display())
}

fn config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("porthole.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs porthole; fails the test if it has not exited within `limit`.
fn run(args: &[&str], cfg: &std::path::Path, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(PORTHOLE)
        .args(args)
        .arg("-c")
        .arg(cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("porthole {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

fn hung_and_good(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let good = test_node(dir, &[("vm1", VM1, "127.0.0.1")]);
    let hung = hung_uri();
    config(dir, &format!("[[nodes]]\nname = \"hung\"\nlibvirt_uri = \"{hung}\"\n[[nodes]]\nname = \"good\"\nlibvirt_uri = \"{good}\"\n"))
}

#[test]
fn list_with_a_hung_node_lists_the_others_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = hung_and_good(&dir);
    let (out, took) = run(&["list", "--json"], &cfg, Duration::from_secs(20));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(13), "took {took:?}: the hung node's limit is 10 s");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["instances"][0]["name"], "vm1");
    assert_eq!(list["instances"][0]["proxy_endpoint"], serde_json::json!({"kind": "tcp", "host": "127.0.0.1", "port": 5907}));
    assert_eq!(list["unreachable"][0]["node"], "hung");
    assert!(list["unreachable"][0]["error"].as_str().unwrap().contains("no answer within 10 s"), "{list}");
}

#[test]
fn a_lookup_by_uuid_is_not_delayed_by_a_hung_node() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = hung_and_good(&dir);
    let (out, took) = run(&["vncdisplay", VM1], &cfg, Duration::from_secs(20));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "127.0.0.1:7");
    assert!(took < Duration::from_secs(2), "took {took:?} while another node hung");
}

#[test]
fn list_and_audit_agree_on_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let domains = [
        ("loopback", "00000000-0000-4000-8000-000000000001", "127.0.0.1"),
        ("wildcard", "00000000-0000-4000-8000-000000000002", "0.0.0.0"),
        ("management", "00000000-0000-4000-8000-000000000003", "10.20.3.4"),
        ("public", "00000000-0000-4000-8000-000000000004", "192.0.2.9"),
    ];
    let node = test_node(&dir, &domains);
    let cfg =
        config(&dir, &format!("[audit]\nmanagement_networks = [\"10.20.0.0/16\"]\n[[nodes]]\nname = \"t\"\nlibvirt_uri = \"{node}\"\n"));
    let (out, _) = run(&["list", "--json"], &cfg, Duration::from_secs(20));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut listed: Vec<String> = list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["exposed"] == true)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    let (out, _) = run(&["audit", "--json"], &cfg, Duration::from_secs(20));
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut audited: Vec<String> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "exposed" && f["node"] == "t")
        .map(|f| f["instance"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    audited.sort();
    assert_eq!(listed, ["public", "wildcard"]);
    assert_eq!(audited, listed);
}

/// `GET /healthz` on 127.0.0.1:`port`; true on a 200.
fn healthz(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
    if tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

/// `porthole serve` with the config `text(port)` on a port it owns (killed on drop).
fn serve(dir: &tempfile::TempDir, text: impl Fn(u16) -> String) -> Listening {
    Listening::start("porthole serve", free_port(), |port| {
        let cfg = config(dir, &text(port));
        let mut cmd = Command::new(PORTHOLE);
        cmd.args(["serve", "-c"]).arg(cfg);
        cmd
    })
}

/// Waits until the server answers `GET /healthz`; panics after `limit` or when it died.
fn wait_healthz(serve: &Listening, limit: Duration) {
    let started = Instant::now();
    while !healthz(serve.port) {
        assert!(owns_listener(serve.pid(), serve.port), "porthole serve exited: {}", serve.stderr());
        assert!(started.elapsed() < limit, "porthole serve did not answer /healthz within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_answers_at_once_while_a_node_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let hung = hung_uri();
    let started = Instant::now();
    let serve = serve(&dir, |port| {
        format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\n[consoleauth]\nstore = \"sqlite://{}/p.db\"\n[[nodes]]\nname = \"hung\"\nlibvirt_uri = \"{hung}\"\n",
            dir.path().display()
        )
    });
    wait_healthz(&serve, Duration::from_secs(15));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "serve answered /healthz after {took:?} (the hung node's limit is 10 s)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_on_a_good_node_opens_at_once_while_another_node_hangs() {
    // The domain's VNC port is a fake VNC server's: the test driver has no QEMU behind it.
    let vnc = porthole_testkit::FakeVncServer::start(64, 48).await;
    let dir = tempfile::tempdir().unwrap();
    let good = test_node_on(&dir, vnc.addr().port(), &[("vm1", VM1, "127.0.0.1")]);
    let hung = hung_uri();
    let serve = serve(&dir, |port| {
        format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\n[consoleauth]\nstore = \"sqlite://{}/p.db\"\n\
             [[nodes]]\nname = \"hung\"\nlibvirt_uri = \"{hung}\"\n[[nodes]]\nname = \"good\"\nlibvirt_uri = \"{good}\"\n",
            dir.path().display()
        )
    });
    wait_healthz(&serve, Duration::from_secs(10));
    let (port, cfg) = (serve.port, dir.path().join("porthole.toml"));
    let (out, _) = run(&["console", "url", VM1], &cfg, Duration::from_secs(20));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8(out.stdout).unwrap();
    let token = url.trim().rsplit("%3Ftoken%3D").next().unwrap().to_owned();
    let started = Instant::now();
    let (ws, _) = porthole_testkit::ws_connect(&format!("ws://127.0.0.1:{port}/?token={token}"), &[]).await.unwrap();
    let client = porthole_testkit::RfbClient::handshake(porthole_testkit::WsIo::new(ws)).await.unwrap();
    assert_eq!((client.server_init.width, client.server_init.height), (64, 48));
    assert!(started.elapsed() < Duration::from_secs(1), "the console took {:?} while another node hung", started.elapsed());
}
