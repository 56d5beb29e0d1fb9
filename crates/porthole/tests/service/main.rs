//! `porthole serve` as an operator runs it: SIGTERM drains, SIGHUP reloads targets, keys, limits and
//! certificates while sessions go on (a broken file changes nothing), https and wss on one port
//! with the certificate checked against its CA, logs as text without colour codes or as JSON.

#![allow(clippy::unwrap_used)]

mod harness;

use harness::{certificate, frame, read_close, tls_client, upgrade, Server};
use porthole_testkit::FakeVncServer;
use rustls::pki_types::ServerName;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

fn target(name: &str, server: &FakeVncServer) -> String {
    format!("[[targets]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {}\n", server.addr().port())
}

fn base(extra_proxy: &str) -> String {
    format!("[proxy]\nlisten = \"127.0.0.1:@PORT@\"\n{extra_proxy}\n[consoleauth]\nstore = \"@STORE@\"\n")
}

/// Sends `payload` in a frame and reads its echo.
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(s: &mut S, payload: &[u8]) {
    s.write_all(&frame(2, payload)).await.unwrap();
    let mut h = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut h)).await.expect("an echo within 5 s").unwrap();
    let mut p = vec![0u8; usize::from(h[1] & 0x7f)];
    s.read_exact(&mut p).await.unwrap();
    assert_eq!(p, payload);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_then_tells_live_sessions_going_away_and_exits() {
    let a = FakeVncServer::raw_echo().await;
    let mut server = Server::start(&(base("drain_timeout = 1") + &target("a", &a)));
    let token = server.mint("a");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade(&mut s, server.addr, &token).await, 101);
    echo(&mut s, b"before").await;
    let sent = Instant::now();
    server.signal("TERM");
    let close = tokio::time::timeout(Duration::from_secs(5), read_close(&mut s, &mut Vec::new())).await.unwrap();
    assert_eq!(close, Some((1001, "Going away".into())));
    assert!(sent.elapsed() >= Duration::from_millis(900), "told after {:?}, before drain_timeout", sent.elapsed());
    let status = server.wait_exit(Duration::from_secs(5)).expect("the process exits after the drain");
    assert!(status.success(), "{status:?}: {}", server.log().join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_adds_a_target_while_a_session_goes_on() {
    let (a, b) = (FakeVncServer::raw_echo().await, FakeVncServer::raw_echo().await);
    let server = Server::start(&(base("") + &target("a", &a)));
    let token = server.mint("a");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade(&mut s, server.addr, &token).await, 101);
    echo(&mut s, b"one").await;

    server.rewrite(&(base("idle_timeout = 3600") + &target("a", &a) + &target("b", &b)));
    server.signal("HUP");
    server.wait_until(|s| s.log().iter().any(|l| l.contains("configuration reloaded")), "the reload");
    let line = server.log().into_iter().find(|l| l.contains("configuration reloaded")).unwrap();
    assert!(line.contains("targets") && line.contains("[proxy] timeouts"), "{line}");
    echo(&mut s, b"two").await;

    let token_b = server.mint("b");
    let mut s2 = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade(&mut s2, server.addr, &token_b).await, 101, "the new target opens: {}", server.log().join("\n"));
    echo(&mut s2, b"three").await;
    echo(&mut s, b"four").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_with_a_broken_file_keeps_the_running_configuration() {
    let a = FakeVncServer::raw_echo().await;
    let mut server = Server::start(&(base("") + &target("a", &a)));
    let (t1, t2) = (server.mint("a"), server.mint("a"));
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade(&mut s, server.addr, &t1).await, 101);

    server.rewrite("[proxy\nlisten = ");
    server.signal("HUP");
    server.wait_until(|s| s.log().iter().any(|l| l.contains("reload failed")), "the refused reload");
    assert!(server.wait_exit(Duration::from_millis(300)).is_none(), "SIGHUP must not stop the process");
    echo(&mut s, b"still here").await;
    let mut s2 = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade(&mut s2, server.addr, &t2).await, 101, "the running configuration still serves");
    echo(&mut s2, b"new session").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_and_wss_on_one_port_and_sighup_swaps_the_certificate() {
    let a = FakeVncServer::raw_echo().await;
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), "one");
    certificate(dir.path(), "two");
    let tls = |name: &str, ssl_only: bool| {
        let d = dir.path().display();
        format!("cert = \"{d}/{name}-cert.pem\"\nkey = \"{d}/{name}-key.pem\"\nssl_only = {ssl_only}")
    };
    let server = Server::start(&(base(&tls("one", false)) + &target("a", &a)));
    let url_token = server.mint("a");
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut wss = tls_client(&dir.path().join("one-ca.pem")).connect(name.clone(), tcp).await.expect("TLS checked against CA one");
    assert_eq!(upgrade(&mut wss, server.addr, &url_token).await, 101);
    echo(&mut wss, b"over wss").await;
    // Plain HTTP is still served on the same port (ssl_only is off).
    let (code, _) = plain_get(server.addr, "/healthz").await;
    assert_eq!(code, 200);
    // The console URL the CLI prints is https.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_porthole"))
        .args(["console", "url", "-c"])
        .arg(&server.config)
        .arg("a")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("https://"), "{}", String::from_utf8_lossy(&out.stdout));

    server.rewrite(&(base(&tls("two", true)) + &target("a", &a)));
    server.signal("HUP");
    server.wait_until(|s| s.log().iter().any(|l| l.contains("configuration reloaded")), "the reload");
    echo(&mut wss, b"the old connection goes on").await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let refused = tls_client(&dir.path().join("one-ca.pem")).connect(name.clone(), tcp).await;
    assert!(refused.is_err(), "the new certificate is not signed by CA one");
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut wss2 = tls_client(&dir.path().join("two-ca.pem")).connect(name, tcp).await.expect("TLS checked against CA two");
    let token = server.mint("a");
    assert_eq!(upgrade(&mut wss2, server.addr, &token).await, 101);
    echo(&mut wss2, b"new certificate").await;
    let (code, body) = plain_get(server.addr, "/healthz").await;
    assert_eq!(code, 400, "ssl_only refuses plain HTTP: {body}");
    assert!(body.contains("HTTPS only"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_say_which_console_who_how_long_and_how_much() {
    let a = FakeVncServer::raw_echo().await;
    let server = Server::start(&(base("") + &target("lab-switch", &a) + "[log]\nformat = \"json\"\n"));
    let token = server.mint("lab-switch");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade(&mut s, server.addr, &token).await, 101);
    echo(&mut s, b"0123456789").await;
    s.write_all(&frame(8, &[0x03, 0xe8])).await.unwrap();
    server.wait_until(|s| s.log().iter().any(|l| l.contains("session ended")), "the session's end line");
    let lines = server.log();
    for l in &lines {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
    }
    let end: serde_json::Value = lines.iter().find(|l| l.contains("session ended")).map(|l| serde_json::from_str(l).unwrap()).unwrap();
    let span = &end["span"];
    assert_eq!(span["instance"], "lab-switch", "{end}");
    assert_eq!(span["client"], "127.0.0.1", "{end}");
    assert_eq!(end["bytes_to_server"], 10, "{end}");
    assert_eq!(end["bytes_to_browser"], 10, "{end}");
    assert!(end["duration_s"].is_string() && end["end"].as_str().unwrap().contains("browser closed"), "{end}");
    assert!(!lines.iter().any(|l| l.contains(&token)), "no log line holds the token");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_to_a_pipe_have_no_colour_codes() {
    let server = Server::start(&base(""));
    server.wait_until(|s| s.log().iter().any(|l| l.contains("serving consoles")), "the start line");
    assert!(!server.log().iter().any(|l| l.contains('\u{1b}')), "{:?}", server.log());
}

async fn plain_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    (text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), text)
}

/// A VNC client over wss that asks for full 1920×1080 updates one after another and waits for
/// each, as `bench/quick.sh`'s TLS row does, gets every one: TLS records that did not fit in the
/// socket at once are flushed when it can take them. (They used to stay in rustls's buffer when
/// the relay had nothing else to write, and the session hung with every socket queue empty, the
/// client waiting for the rest of an update: 3 of 6 runs of `rfb_throughput … 300 3000`.)
#[tokio::test(flavor = "multi_thread")]
async fn full_updates_over_wss_one_after_another_never_hang() {
    let vnc = FakeVncServer::start_fixed(1920, 1080).await;
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), "one");
    let d = dir.path().display();
    let server = Server::start(&(base(&format!("cert = \"{d}/one-cert.pem\"\nkey = \"{d}/one-key.pem\"")) + &target("a", &vnc)));
    let token = server.mint("a");
    let url = format!("wss://127.0.0.1:{}/?token={token}", server.addr.port());
    let io = porthole_testkit::raw_ws::RawWs::connect_with_ca(&url, Some(&dir.path().join("one-ca.pem"))).await.unwrap();
    let mut c = porthole_testkit::RfbClient::handshake(io).await.unwrap();
    let (w, h) = (c.server_init.width, c.server_init.height);
    for i in 0..150 {
        let (x, y) = if i % 2 == 0 { (w, h) } else { (1, 1) };
        let round = async {
            c.request_update(false, 0, 0, x, y).await.unwrap();
            c.read_update().await.unwrap()
        };
        let update = tokio::time::timeout(Duration::from_secs(20), round).await;
        assert!(update.is_ok(), "update {i} ({x}×{y}) never came whole: the session hung");
    }
}
