//! Serial consoles on real libvirtd and QEMU: `porthole list` shows each domain's serial console
//! (SeaBIOS-only domains); on a real guest (Debian's kernel, a busybox shell on ttyS0) through
//! `porthole serve`: `porthole attach` in a pty, a second session taking the console over, a
//! stopped guest ending the session, and a TCP chardev (Nova's set-up) instead of libvirt's stream.

use crate::guest::{read_until, tail, Guest, BOOT_LIMIT, PROMPT};
use crate::harness::{free_port, virsh_ok, Config, Domain, PORTHOLE};
use crate::pty::Pty;
use porthole_testkit::{ws_connect, WsIo};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const VNC: &str = "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>";

fn row<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["instances"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()
}

#[test]
#[ignore = "needs libvirtd"]
fn list_shows_the_serial_console() {
    let pty = Domain::start(
        "ser-pty",
        &format!("<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>{VNC}"),
    );
    let port = free_port();
    let tcp = Domain::start(
        "ser-tcp",
        &format!("<serial type='tcp'><source mode='bind' host='127.0.0.1' service='{port}'/><protocol type='raw'/></serial>{VNC}"),
    );
    let none = Domain::start("ser-none", VNC);
    let cfg = Config::local_node();

    let list: serde_json::Value = serde_json::from_str(&cfg.run_ok(&["list", "--json"])).unwrap();
    let p = &row(&list, &pty.name)["serial"];
    assert_eq!((p["alias"].as_str(), p["target"].as_str(), p["source"]["type"].as_str()), (Some("serial0"), Some("serial"), Some("pty")));
    assert!(p["source"]["path"].as_str().unwrap().starts_with("/dev/pts/"), "{p}");
    let t = &row(&list, &tcp.name)["serial"]["source"];
    assert_eq!((t["type"].as_str(), t["host"].as_str(), t["port"].as_u64()), (Some("tcp"), Some("127.0.0.1"), Some(u64::from(port))));
    assert!(row(&list, &none.name)["serial"].is_null());

    let table = cfg.run_ok(&["list"]);
    assert!(table.lines().next().unwrap().ends_with("SERIAL"), "{table}");
    let line = |name: &str| table.lines().find(|l| l.contains(name)).unwrap().to_owned();
    assert!(line(&pty.name).ends_with(" pty"), "{table}");
    assert!(line(&tcp.name).ends_with(&format!(" tcp 127.0.0.1:{port}")), "{table}");
    assert!(line(&none.name).ends_with(" -"), "{table}");
}

/// `console url --serial NAME`: the WebSocket URL alone on stdout, as Nova's serial proxy gives it.
fn serial_url(cfg: &Config, name: &str) -> String {
    let url = cfg.run_ok(&["console", "url", "--serial", name]);
    assert!(url.starts_with(&format!("ws://127.0.0.1:{}/?token=", cfg.port())), "{url}");
    url
}

/// A serial console through `porthole serve`, as the terminal page opens it.
async fn open(url: &str) -> WsIo {
    let (ws, _) = ws_connect(url, &[("sec-websocket-protocol", "binary")]).await.unwrap();
    WsIo::new(ws)
}

/// Types a command into the guest's shell and returns what came back up to the next prompt.
async fn run(c: &mut WsIo, cmd: &str) -> String {
    c.write_all(format!("{cmd}\r").as_bytes()).await.unwrap();
    c.flush().await.unwrap();
    let mut seen = Vec::new();
    let echo = format!("{cmd}\r\n");
    read_until(c, &mut seen, 0, &echo, Duration::from_secs(30)).await;
    // The output and the prompt may have come in the same read as the echo.
    let echoed = seen.windows(echo.len()).position(|w| w == echo.as_bytes()).unwrap_or(0) + echo.len();
    read_until(c, &mut seen, echoed, PROMPT, Duration::from_secs(30)).await;
    String::from_utf8_lossy(&seen).into_owned()
}

/// Reads until the proxy closes; its close code and reason.
async fn close_of(c: &mut WsIo) -> Option<(u16, String)> {
    let mut sink = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(20), c.read_to_end(&mut sink)).await;
    assert!(end.is_ok(), "the session was not closed; read: {}", tail(&sink));
    c.close_frame()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn attach_in_a_pty_is_taken_over_and_a_stopped_guest_ends_the_session() {
    let g = Guest::create_paused("attach");
    let cfg = Config::local_node();
    let _server = cfg.serve();
    // `attach -c CONFIG NAME` mints its own serial URL; it is up before the guest boots.
    let mut term = Pty::spawn(&format!("stty -g; {PORTHOLE} attach -c {} {}; echo exit=$?; stty -g", cfg.path.display(), g.name));
    term.wait_for(0, "Escape character is ^] (Ctrl + ]).", Duration::from_secs(20));
    g.resume();
    term.wait_for(0, "Linux version", BOOT_LIMIT);
    term.wait_for(0, PROMPT, BOOT_LIMIT);
    let at = term.mark();
    term.type_bytes(b"echo porthole-serial-OK\r");
    term.wait_for(at, "\r\nporthole-serial-OK\r\n", Duration::from_secs(30));
    // Ctrl-C reaches the guest's shell (raw mode), which gives a new prompt; attach goes on.
    let at = term.mark();
    term.type_bytes(b"sleep 30\r");
    term.wait_for(at, "sleep 30\r\n", Duration::from_secs(30));
    term.type_bytes(b"\x03");
    term.wait_for(at, PROMPT, Duration::from_secs(30));

    // A second session (the terminal page's way) takes the console over: attach says why and exits 1.
    let mut page = open(&serial_url(&cfg, &g.name)).await;
    term.wait_for(
        0,
        "porthole: the proxy ended the session: Serial console taken over by another session (close code 1008)",
        Duration::from_secs(20),
    );
    term.wait_exit(Duration::from_secs(20));
    let screen = term.screen();
    assert!(screen.contains("exit=1"), "{}", term.tail());
    let settings: Vec<&str> = screen.lines().map(str::trim).filter(|l| l.split(':').count() > 30).collect();
    assert!(settings.len() == 2 && settings[0] == settings[1], "the terminal was not restored: {settings:?}");
    let out = run(&mut page, "echo taken-over-OK").await;
    assert!(out.contains("\r\ntaken-over-OK\r\n"), "{out}");

    // The guest stops: the session ends with "Instance stopped", and its URL is refused from now on.
    let url = serial_url(&cfg, &g.name);
    virsh_ok(&["destroy", &g.name]);
    assert_eq!(close_of(&mut page).await, Some((1008, "Instance stopped".to_owned())));
    match ws_connect(&url, &[]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn a_tcp_chardev_serial_console_through_porthole_serve() {
    // Nova's serial-proxy set-up: QEMU listens on a TCP port for the serial port; the proxy connects.
    let port = free_port();
    let g = Guest::create_paused_with("tcpchr", |xml| {
        let pty = "<serial type='pty'><target port='0'/></serial>";
        assert!(xml.contains(pty), "{xml}");
        let tcp = format!(
            "<serial type='tcp'><source mode='bind' host='127.0.0.1' service='{port}'/><protocol type='raw'/><target port='0'/></serial>"
        );
        xml.replace(pty, &tcp).replace("<console type='pty'><target type='serial' port='0'/></console>", "")
    });
    let cfg = Config::local_node();
    let table = cfg.run_ok(&["list"]);
    assert!(table.lines().any(|l| l.contains(&g.name) && l.ends_with(&format!(" tcp 127.0.0.1:{port}"))), "{table}");
    let _server = cfg.serve();
    let mut c = open(&serial_url(&cfg, &g.name)).await;
    g.resume();
    let mut seen = Vec::new();
    read_until(&mut c, &mut seen, 0, "Linux version", BOOT_LIMIT).await;
    read_until(&mut c, &mut seen, 0, PROMPT, BOOT_LIMIT).await;
    let out = run(&mut c, "echo porthole-tcp-OK").await;
    assert!(out.contains("\r\nporthole-tcp-OK\r\n"), "{out}");
    virsh_ok(&["destroy", &g.name]);
    assert_eq!(close_of(&mut c).await, Some((1008, "Instance stopped".to_owned())));
}
