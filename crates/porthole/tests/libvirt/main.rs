//! End to end on a real libvirtd and QEMU (TCG): list, vncdisplay, console URLs for domains by
//! name and UUID relaying the domain's VNC server, refused consoles, a second node over qemu+tcp.
//! The tests are `#[ignore = "needs libvirtd"]`: `scripts/libvirt-up.sh`, then
//! `cargo nextest run -p porthole --test libvirt --run-ignored all` (the README's test command does both).

#![allow(clippy::unwrap_used)]

mod audit;
mod guest;
mod harness;
mod listening;
#[path = "../attach/pty.rs"]
mod pty;
mod serial;

use harness::{console, framebuffer, virsh_ok, Config, Domain};
use porthole_testkit::RfbClient;
use std::time::Duration;

const VNC_LOOPBACK: &str = "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>";

/// Reads the framebuffer through Porthole and directly from QEMU until both agree (the SeaBIOS
/// text cursor blinks), and returns it.
async fn same_screen_through_porthole_and_direct(ws_url: &str, port: u16) -> Vec<u8> {
    let mut proxied = console(ws_url).await;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut direct = RfbClient::handshake(tcp).await.unwrap();
    assert_eq!((proxied.server_init.width, proxied.server_init.height), (direct.server_init.width, direct.server_init.height));
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let (a, b) = tokio::join!(framebuffer(&mut proxied), framebuffer(&mut direct));
        if a == b && a.iter().any(|&p| p != 0) {
            return a;
        }
        last = (a, b);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let differ = last.0.iter().zip(&last.1).filter(|(x, y)| x != y).count();
    panic!("framebuffers through Porthole and direct never matched ({differ} bytes differ)");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn running_domain_is_listed_and_its_console_relays() {
    let dom = Domain::start("relay", VNC_LOOPBACK);
    let cfg = Config::local_node();

    let list: serde_json::Value = serde_json::from_str(&cfg.run_ok(&["list", "--json"])).unwrap();
    let row = list["instances"].as_array().unwrap().iter().find(|r| r["name"] == dom.name.as_str()).unwrap().clone();
    assert_eq!(row["uuid"], dom.uuid.as_str());
    assert_eq!(row["state"], "running");
    assert_eq!(row["node"], "local");
    assert_eq!(row["vnc_port"], dom.vnc_port());
    assert_eq!(row["exposed"], false);
    let table = cfg.run_ok(&["list"]);
    assert!(table.lines().any(|l| l.contains(&dom.name) && l.contains("running")), "{table}");

    assert_eq!(cfg.run_ok(&["vncdisplay", &dom.name]), virsh_ok(&["vncdisplay", &dom.name]));
    assert_eq!(cfg.run_ok(&["vncdisplay", &dom.uuid]), virsh_ok(&["vncdisplay", &dom.name]));

    let server = cfg.serve();
    // Give SeaBIOS a moment to draw its screen.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for key in [&dom.name, &dom.uuid] {
        let url = cfg.run_ok(&["console", "url", key]);
        assert!(url.starts_with(&format!("http://127.0.0.1:{}/vnc_lite.html?path=%3Ftoken%3D", cfg.port())), "{url}");
        same_screen_through_porthole_and_direct(&server.ws_url(&url), dom.vnc_port()).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn shut_off_domain_and_domain_without_vnc_get_no_token() {
    let off = Domain::define("off", VNC_LOOPBACK);
    let novnc = Domain::start("novnc", "");
    let cfg = Config::local_node();
    let out = cfg.run(&["console", "url", &off.name]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shut off") && err.lines().count() == 1, "{err}");
    assert!(out.stdout.is_empty());
    let out = cfg.run(&["console", "url", &novnc.name]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no VNC graphics"));
    let out = cfg.run(&["vncdisplay", &off.name]);
    assert!(!out.status.success());
    // Nothing was minted: the store has no token for either.
    let list: serde_json::Value = serde_json::from_str(&cfg.run_ok(&["list", "--json"])).unwrap();
    let state = list["instances"].as_array().unwrap().iter().find(|r| r["name"] == off.name.as_str()).unwrap()["state"].clone();
    assert_eq!(state, "shut off");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn second_node_over_qemu_tcp_and_an_unreachable_node() {
    let dom = Domain::start("tcp", VNC_LOOPBACK);
    let dead = harness::free_port();
    let cfg = Config::new(&format!(
        "[[nodes]]\nname = \"remote\"\nlibvirt_uri = \"qemu+tcp://127.0.0.1/system\"\n\
         [[nodes]]\nname = \"gone\"\nlibvirt_uri = \"qemu+tcp://127.0.0.1:{dead}/system\"\n\
         [[targets]]\nname = \"lab\"\nhost = \"127.0.0.1\"\nport = 5999\n"
    ));
    let out = cfg.run(&["list", "--json"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list["instances"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&dom.name.as_str()) && names.contains(&"lab"), "{names:?}");
    assert_eq!(list["unreachable"][0]["node"], "gone");
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"gone\" unreachable"));

    let server = cfg.serve();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let url = cfg.run_ok(&["console", "url", &dom.name]);
    same_screen_through_porthole_and_direct(&server.ws_url(&url), dom.vnc_port()).await;
    // An instance that only the dead node could have had: a clear error naming the node.
    let out = cfg.run(&["console", "url", "ph-nowhere"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("gone") && err.lines().count() == 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn stopping_a_domain_closes_its_sessions_and_refuses_its_tokens() {
    let dom = Domain::start("stop", VNC_LOOPBACK);
    let cfg = Config::local_node();
    let server = cfg.serve();
    let url = cfg.run_ok(&["console", "url", &dom.name]);
    let ws_url = server.ws_url(&url);
    let mut c = console(&ws_url).await;
    framebuffer(&mut c).await;
    virsh_ok(&["destroy", &dom.name]);
    // The session ends with 1008 (policy), not with the target's plain close.
    let mut io = c.into_inner();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), tokio::io::AsyncReadExt::read_to_end(&mut io, &mut sink)).await;
    assert!(read.is_ok(), "the session was not closed");
    assert_eq!(io.close_frame().map(|c| c.0), Some(1008), "{:?}", io.close_frame());
    // And the token is refused from now on.
    let err = porthole_testkit::ws_connect(&ws_url, &[]).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(r) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn graphics_fd_node_opens_password_and_socket_only_domains() {
    let locked = Domain::start("passwd", "<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='s3cretpw'/>");
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("vnc.sock");
    let socket_only =
        Domain::start("sock", &format!("<graphics type='vnc'><listen type='socket' socket='{}'/></graphics>", sock.display()));
    // The TCP port of the locked domain wants VNC authentication (type 2), not None.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", locked.vnc_port())).await.unwrap();
    let mut greeting = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut greeting).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"RFB 003.008\n").await.unwrap();
    let mut types = [0u8; 2];
    tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut types).await.unwrap();
    assert_eq!(types, [1, 2], "one security type, VNC authentication");

    let cfg = Config::new("[[nodes]]\nname = \"fd\"\nlibvirt_uri = \"qemu:///system\"\nconnect = \"graphics-fd\"\n");
    let list: serde_json::Value = serde_json::from_str(&cfg.run_ok(&["list", "--json"])).unwrap();
    let row = list["instances"].as_array().unwrap().iter().find(|r| r["name"] == socket_only.name.as_str()).unwrap().clone();
    assert_eq!(row["vnc_listen"], format!("unix:{}", sock.display()));
    assert_eq!(row["vnc_password"], false);
    let server = cfg.serve();
    for dom in [&locked, &socket_only] {
        let url = cfg.run_ok(&["console", "url", &dom.name]);
        let mut c = console(&server.ws_url(&url)).await;
        assert!(c.server_init.width >= 640, "{:?}", c.server_init);
        let fb = framebuffer(&mut c).await;
        assert_eq!(fb.len(), usize::from(c.server_init.width) * usize::from(c.server_init.height) * 4);
    }
}

/// Domain A with VNC on a fixed free port, a console URL minted for it, A stopped, then domain B
/// on the same port. A port taken by another process before A or B binds it (libvirt then refuses
/// the domain: QEMU could not bind) is a reason to start over on another port, not a failure.
fn a_then_b_on_one_port(cfg: &Config) -> (String, Domain, u16) {
    let mut why = String::new();
    for _ in 0..5 {
        let port = harness::free_port();
        let graphics = format!("<graphics type='vnc' port='{port}' autoport='no' listen='127.0.0.1'/>");
        let a = match Domain::try_start("cve-a", &graphics) {
            Ok(a) => a,
            Err(e) if e.contains("Address already in use") => {
                why = e;
                continue;
            }
            Err(e) => panic!("domain A on port {port}: {e}"),
        };
        let url = cfg.run_ok(&["console", "url", &a.name]);
        drop(a);
        match Domain::try_start("cve-b", &graphics) {
            Ok(b) => return (url, b, port),
            Err(e) if e.contains("Address already in use") => why = e,
            Err(e) => panic!("domain B on port {port}: {e}"),
        }
    }
    panic!("five free ports were taken before QEMU could bind them; the last: {why}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn a_token_never_reaches_another_vm_that_got_the_port() {
    // CVE-2013-0335: the token is minted while no proxy runs, so nothing revokes it when A stops.
    let cfg = Config::local_node();
    let (url, b, port) = a_then_b_on_one_port(&cfg);
    assert_eq!(b.vnc_port(), port);
    let server = cfg.serve();
    let err = porthole_testkit::ws_connect(&server.ws_url(&url), &[]).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(r) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    // B's own token works.
    let own = cfg.run_ok(&["console", "url", &b.name]);
    same_screen_through_porthole_and_direct(&server.ws_url(&own), port).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn security_proxy_uses_the_domain_xml_password() {
    let dom = Domain::start("secproxy", "<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='xmlpass1'/>");
    let cfg = Config::new("[vnc]\nauth_schemes = [\"vnc\"]\n[[nodes]]\nname = \"local\"\nlibvirt_uri = \"qemu:///system\"\n");
    let server = cfg.serve();
    let url = cfg.run_ok(&["console", "url", &dom.name]);
    // The browser side offers None only; the password never reaches it.
    let mut c = console(&server.ws_url(&url)).await;
    let fb = framebuffer(&mut c).await;
    assert_eq!(fb.len(), usize::from(c.server_init.width) * usize::from(c.server_init.height) * 4);
}
