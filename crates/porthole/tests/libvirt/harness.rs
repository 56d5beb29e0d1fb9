//! Harness for the libvirt end-to-end tests: transient QEMU domains with unique names (destroyed
//! when dropped), `porthole` runs with a temp config (`serve` on a port it owns, see
//! `listening.rs`), and framebuffer reads.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub use crate::listening::free_port;
use crate::listening::Listening;
use porthole_testkit::{ws_connect, RfbClient, WsIo};
use std::cell::Cell;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncRead, AsyncWrite};

pub const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");

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

    /// Like [`Domain::start`]; Err with virsh's message when libvirt refused it.
    pub fn try_start(tag: &str, graphics: &str) -> Result<Domain, String> {
        Self::try_virsh_from_xml("create", tag, graphics)
    }

    fn virsh_from_xml(verb: &str, tag: &str, graphics: &str) -> Domain {
        Self::try_virsh_from_xml(verb, tag, graphics).unwrap_or_else(|e| panic!("virsh {verb} ({tag}): {e}"))
    }

    fn try_virsh_from_xml(verb: &str, tag: &str, graphics: &str) -> Result<Domain, String> {
        let name = Self::unique_name(tag);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("domain.xml");
        std::fs::write(&file, Self::xml(&name, graphics)).unwrap();
        let out = virsh(&[verb, file.to_str().unwrap()]);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let uuid = virsh_ok(&["domuuid", &name]);
        Ok(Domain { name, uuid, dir })
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
/// [`Config::serve`] moves it to another port when the first was taken meanwhile.
pub struct Config {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    port: Cell<u16>,
    proxy_keys: String,
    extra: String,
}

impl Config {
    pub fn new(extra: &str) -> Config {
        Config::with_proxy("", extra)
    }

    /// Like [`Config::new`], with more keys for the `[proxy]` table.
    pub fn with_proxy(proxy_keys: &str, extra: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("porthole.toml");
        let cfg = Config { dir, path, port: Cell::new(0), proxy_keys: proxy_keys.to_owned(), extra: extra.to_owned() };
        cfg.listen_on(free_port());
        cfg
    }

    /// The port of `[proxy] listen`.
    pub fn port(&self) -> u16 {
        self.port.get()
    }

    fn listen_on(&self, port: u16) {
        let text = format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\n{}\n[consoleauth]\nstore = \"sqlite://{}/p.db\"\n{}\n",
            self.proxy_keys,
            self.dir.path().display(),
            self.extra
        );
        std::fs::write(&self.path, text).unwrap();
        self.port.set(port);
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

    /// `porthole serve`, killed on drop; returns once the listener on [`Config::port`] is its own.
    pub fn serve(&self) -> Server {
        Server(Listening::start("porthole serve", self.port(), |port| {
            self.listen_on(port);
            let mut cmd = Command::new(PORTHOLE);
            cmd.args(["serve", "-c"]).arg(&self.path).env("NO_COLOR", "1");
            cmd
        }))
    }
}

/// A running `porthole serve`; its log is in [`Server::log`] (and in the test's output).
pub struct Server(pub Listening);

impl Server {
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.0.stderr()
    }

    pub fn ws_url(&self, console_url: &str) -> String {
        let token = console_url.rsplit("%3Ftoken%3D").next().unwrap();
        format!("ws://127.0.0.1:{}/?token={token}", self.port())
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
