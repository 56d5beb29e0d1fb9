//! Harness for the libvirt end-to-end tests: transient QEMU domains with unique names (destroyed
//! when dropped), `porthole` runs with a temp config, and framebuffer reads.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use porthole_testkit::{ws_connect, RfbClient, WsIo};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");

/// Whether the libvirt tests run: `PORTHOLE_E2E_LIBVIRT=1` (the README's test command sets it).
pub fn enabled() -> bool {
    let on = std::env::var("PORTHOLE_E2E_LIBVIRT").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set PORTHOLE_E2E_LIBVIRT=1 with libvirtd running (scripts/libvirt-up.sh)");
    }
    on
}

pub fn virsh(args: &[&str]) -> Output {
    Command::new("virsh").args(["-c", "qemu:///system"]).args(args).output().unwrap()
}

pub fn virsh_ok(args: &[&str]) -> String {
    let out = virsh(args);
    assert!(out.status.success(), "virsh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A QEMU domain (TCG, no disk: SeaBIOS shows "No bootable device"), removed on drop.
pub struct Domain {
    pub name: String,
    pub uuid: String,
    dir: tempfile::TempDir,
}

impl Domain {
    fn xml(name: &str, devices: &str) -> String {
        format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{devices}<video><model type='vga'/></video></devices></domain>"
        )
    }

    fn unique_name(tag: &str) -> String {
        format!("ph-e2e-{tag}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst))
    }

    /// Starts a transient domain with these graphics devices.
    pub fn start(tag: &str, graphics: &str) -> Domain {
        Self::virsh_from_xml("create", tag, graphics)
    }

    /// Defines a persistent domain without starting it.
    pub fn define(tag: &str, graphics: &str) -> Domain {
        Self::virsh_from_xml("define", tag, graphics)
    }

    fn virsh_from_xml(verb: &str, tag: &str, graphics: &str) -> Domain {
        let name = Self::unique_name(tag);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("domain.xml");
        std::fs::write(&file, Self::xml(&name, graphics)).unwrap();
        virsh_ok(&[verb, file.to_str().unwrap()]);
        let uuid = virsh_ok(&["domuuid", &name]);
        Domain { name, uuid, dir }
    }

    pub fn vnc_port(&self) -> u16 {
        let display = virsh_ok(&["vncdisplay", &self.name]);
        let n: u16 = display.rsplit(':').next().unwrap().parse().unwrap();
        5900 + n
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.name]);
        let _ = virsh(&["undefine", &self.name]);
    }
}

/// A config file in a temp dir: `[proxy] listen` on a free port, SQLite store, plus `extra`.
pub struct Config {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Config {
    pub fn new(extra: &str) -> Config {
        Config::with_proxy("", extra)
    }

    /// Like [`Config::new`], with more keys for the `[proxy]` table.
    pub fn with_proxy(proxy_keys: &str, extra: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let path = dir.path().join("porthole.toml");
        let text = format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\n{proxy_keys}\n[consoleauth]\nstore = \"sqlite://{}/p.db\"\n{extra}\n",
            dir.path().display()
        );
        std::fs::write(&path, text).unwrap();
        Config { dir, path, port }
    }

    pub fn local_node() -> Config {
        Config::new("[[nodes]]\nname = \"local\"\nlibvirt_uri = \"qemu:///system\"\nproxyclient_address = \"127.0.0.1\"\n")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(PORTHOLE);
        cmd.args(args).arg("-c").arg(&self.path);
        cmd.output().unwrap()
    }

    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "porthole {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `porthole serve`, killed on drop.
    pub fn serve(&self) -> Server {
        let child =
            Command::new(PORTHOLE).args(["serve", "-c"]).arg(&self.path).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
        let server = Server { child, port: self.port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("porthole serve did not listen on {}", self.port);
    }
}

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn ws_url(&self, console_url: &str) -> String {
        let token = console_url.rsplit("%3Ftoken%3D").next().unwrap();
        format!("ws://127.0.0.1:{}/?token={token}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a console through Porthole.
pub async fn console(url: &str) -> RfbClient<WsIo> {
    let (ws, _) = ws_connect(url, &[("sec-websocket-protocol", "binary")]).await.unwrap();
    RfbClient::handshake(WsIo::new(ws)).await.unwrap()
}

/// Reads the whole framebuffer (non-incremental update, raw).
pub async fn framebuffer<S: AsyncRead + AsyncWrite + Unpin>(c: &mut RfbClient<S>) -> Vec<u8> {
    let (w, h) = (c.server_init.width, c.server_init.height);
    c.request_update(false, 0, 0, w, h).await.unwrap();
    let mut fb = vec![0u8; usize::from(w) * usize::from(h) * 4];
    for r in c.read_update().await.unwrap() {
        for row in 0..usize::from(r.height) {
            let src = &r.pixels[row * usize::from(r.width) * 4..][..usize::from(r.width) * 4];
            let at = ((usize::from(r.y) + row) * usize::from(w) + usize::from(r.x)) * 4;
            fb[at..at + src.len()].copy_from_slice(src);
        }
    }
    fb
}
