//! `porthole attach` in a real pseudo-terminal against the real `porthole serve` (a byte-echoing
//! console behind it, no libvirt): raw mode and its restoring (escape key, SIGTERM, the proxy
//! going away), wss:// with a private CA, and refusals said in one line. The same on a real
//! guest's serial console is in tests/libvirt/serial.rs.

#![allow(clippy::unwrap_used)]

#[path = "../service/harness.rs"]
mod harness;
mod pty;

use harness::{certificate, Server};
use porthole_testkit::FakeVncServer;
use pty::Pty;
use std::process::{Command, Stdio};
use std::time::Duration;

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
const BANNER: &str = "Escape character is ^] (Ctrl + ]).";
const LIMIT: Duration = Duration::from_secs(15);

fn config(proxy: &str, target: &FakeVncServer) -> String {
    format!(
        "[proxy]\nlisten = \"127.0.0.1:@PORT@\"\n{proxy}\n[consoleauth]\nstore = \"@STORE@\"\n\
         [[targets]]\nname = \"echo\"\nhost = \"127.0.0.1\"\nport = {}\n",
        target.addr().port()
    )
}

/// `porthole attach ARGS` in a pty between two `stty -g` (the terminal's settings before and after),
/// then its exit code.
fn attach_in_pty(args: &str) -> Pty {
    Pty::spawn(&format!("stty -g; {PORTHOLE} attach {args}; echo exit=$?; stty -g"))
}

/// The exit code `attach` had, and whether the terminal's settings after it equal those before.
fn finished(p: &mut Pty) -> (String, bool) {
    p.wait_exit(LIMIT);
    let screen = p.screen();
    let code = screen.split("exit=").nth(1).and_then(|s| s.lines().next()).unwrap_or("?").trim().to_owned();
    let settings: Vec<&str> = screen.lines().map(str::trim).filter(|l| l.split(':').count() > 30).collect();
    (code, settings.len() == 2 && settings[0] == settings[1])
}

#[tokio::test(flavor = "multi_thread")]
async fn attach_over_wss_with_a_private_ca_is_raw_and_leaves_on_the_escape_key() {
    let echo = FakeVncServer::raw_echo().await;
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), "p");
    let d = dir.path().display();
    let server = Server::start(&config(&format!("cert = \"{d}/p-cert.pem\"\nkey = \"{d}/p-key.pem\""), &echo));
    let url = format!("wss://127.0.0.1:{}/?token={}", server.addr.port(), server.mint("echo"));

    let mut p = attach_in_pty(&format!("--ca {d}/p-ca.pem '{url}'"));
    p.wait_for(0, BANNER, LIMIT);
    p.wait_for(0, "The window size is not sent (a serial line has none)", LIMIT);
    // Raw mode: nothing is echoed locally, so this comes back through the proxy; Ctrl-C is a byte
    // for the console, not a signal for attach.
    let at = p.mark();
    p.type_bytes(b"hello-through-wss\x03");
    p.wait_for(at, "hello-through-wss\x03", LIMIT);
    p.type_bytes(b"\x1d");
    let (code, restored) = finished(&mut p);
    assert_eq!(code, "0", "{}", p.tail());
    assert!(restored, "the terminal's settings changed:\n{}", p.tail());

    // The system's bundle does not know the private CA: one line that says what to do.
    let out = Command::new(PORTHOLE).args(["attach", &url]).stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("TLS with the proxy at 127.0.0.1 failed") && err.contains("--ca FILE"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_url_is_one_line_with_the_status_and_the_reason() {
    let echo = FakeVncServer::raw_echo().await;
    let server = Server::start(&config("", &echo));
    let out = Command::new(PORTHOLE)
        .args(["attach", &format!("ws://127.0.0.1:{}/?token=not-a-token", server.addr.port())])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        "porthole: the proxy refused the console: 401 Unauthorized: Invalid or expired console URL: ask for a new console URL"
    );
    // The terminal page's URL is taken too (the same WebSocket the page would open).
    let page = format!("http://127.0.0.1:{}/serial.html?path=%3Ftoken%3Dnot-a-token", server.addr.port());
    let out = Command::new(PORTHOLE).args(["attach", &page]).stdin(Stdio::null()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("401 Unauthorized"), "{}", String::from_utf8_lossy(&out.stderr));
    // Nothing listening.
    drop(server);
    let out = Command::new(PORTHOLE).args(["attach", "ws://127.0.0.1:1/?token=x"]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "porthole: cannot reach the proxy at 127.0.0.1:1: Connection refused (os error 111)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vnc_console_url_is_told_apart() {
    let vnc = FakeVncServer::start(64, 48).await;
    let server = Server::start(&config("", &vnc));
    let url = format!("ws://127.0.0.1:{}/?token={}", server.addr.port(), server.mint("echo"));
    let mut child = Command::new(PORTHOLE).args(["attach", &url]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let _stdin = child.stdin.take(); // kept open: the end of input would end the session first
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("this console URL is for a VNC console (a screen), not a serial console"), "{err}");
    assert!(out.stdout.is_empty(), "the VNC greeting must not reach the terminal");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_close_reason_is_said_and_the_terminal_restored_on_every_way_out() {
    let echo = FakeVncServer::raw_echo().await;
    // The proxy goes away (SIGTERM drains it): attach says why, exits 1.
    let server = Server::start(&config("drain_timeout = 0", &echo));
    let url = format!("ws://127.0.0.1:{}/?token={}", server.addr.port(), server.mint("echo"));
    let mut p = attach_in_pty(&format!("'{url}'"));
    p.wait_for(0, BANNER, LIMIT);
    server.signal("TERM");
    p.wait_for(0, "porthole: the proxy ended the session: Going away (close code 1001)", LIMIT);
    let (code, restored) = finished(&mut p);
    assert_eq!(code, "1", "{}", p.tail());
    assert!(restored, "the terminal's settings changed:\n{}", p.tail());

    // attach itself is told to stop (SIGTERM): it leaves the same way, 128 + 15.
    let server = Server::start(&config("", &echo));
    let url = format!("ws://127.0.0.1:{}/?token={}", server.addr.port(), server.mint("echo"));
    let mut p = attach_in_pty(&format!("'{url}'"));
    p.wait_for(0, BANNER, LIMIT);
    let pids = p.descendants_named("porthole");
    assert_eq!(pids.len(), 1, "{pids:?}");
    assert!(Command::new("kill").args(["-TERM", &pids[0].to_string()]).status().unwrap().success());
    p.wait_for(0, "porthole: SIGTERM: left the serial console", LIMIT);
    let (code, restored) = finished(&mut p);
    assert_eq!(code, "143", "{}", p.tail());
    assert!(restored, "the terminal's settings changed:\n{}", p.tail());
}
