//! The binary on its own (issue 12): copied alone into an empty directory, with the source tree's
//! web/ hidden from it (a tmpfs mounted over it in a mount namespace of its own, when the tests run
//! as root), it serves its console page and noVNC from memory; and without a configured
//! store, `serve` and `console url` run from different directories share one token store (the
//! user's XDG state directory), so a URL the CLI prints is one the server accepts.

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");
/// Who the store test runs as when the tests run as root (root's default store is /var/lib/porthole).
const NOBODY: &str = "65534";

/// A `porthole serve` child, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Starts `command` (a `serve` whose config listens on `addr`) and waits for `/healthz`.
fn serve(mut command: Command, addr: SocketAddr, log: &Path) -> Server {
    let child = command.stdout(Stdio::null()).stderr(std::fs::File::create(log).unwrap()).spawn().unwrap();
    let mut server = Server { child, addr };
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("porthole serve exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        if TcpStream::connect(addr).is_ok() && get(addr, "/healthz").0 == 200 {
            return server;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "porthole serve did not answer: {}", std::fs::read_to_string(log).unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request; the status and the body.
fn request(addr: SocketAddr, head: &str, body: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{head}Host: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let status = String::from_utf8_lossy(&answer[..split]).split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer[split..].to_vec())
}

fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    request(addr, &format!("GET {path} HTTP/1.1\r\n"), "")
}

fn source(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../web/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_copied_binary_serves_its_console_page_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("porthole");
    std::fs::copy(PORTHOLE, &bin).unwrap();
    let run_in = dir.path().join("empty");
    std::fs::create_dir(&run_in).unwrap();
    let addr = free_addr();
    let config = dir.path().join("porthole.toml");
    std::fs::write(&config, format!("[proxy]\nlisten = \"{addr}\"\n[consoleauth]\nstore = \"memory:\"\n")).unwrap();
    let web = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web")).canonicalize().unwrap();
    let mut command = if running_as_root() {
        let mut c = Command::new("unshare");
        c.args(["--mount", "sh", "-c", "mount -t tmpfs none \"$1\" && exec \"$2\" serve -c \"$3\"", "sh"]).arg(&web).arg(&bin).arg(&config);
        c
    } else {
        let mut c = Command::new(&bin);
        c.args(["serve", "-c"]).arg(&config);
        c
    };
    command.current_dir(&run_in).env_remove("RUST_LOG");
    let log = dir.path().join("serve.log");
    let server = serve(command, addr, &log);

    for (path, file) in [
        ("/vnc_lite.html", "console.html"),
        ("/console.js", "console.js"),
        ("/novnc/core/rfb.js", "node_modules/@novnc/novnc/core/rfb.js"),
        ("/xterm/lib/xterm.mjs", "node_modules/@xterm/xterm/lib/xterm.mjs"),
    ] {
        let (status, body) = get(server.addr, path);
        assert_eq!(status, 200, "{path}");
        assert!(body == source(file), "{path} differs from web/{file}");
    }
    assert_eq!(std::fs::read_dir(&run_in).unwrap().count(), 0, "nothing is written where it runs");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("ERROR") && !log.contains("npm ci"), "{log}");
}

#[test]
fn a_web_root_that_does_not_exist_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("porthole.toml");
    std::fs::write(&config, "[proxy]\nlisten = \"127.0.0.1:1\"\nweb_root = \"/nonexistent/novnc\"\n").unwrap();
    let out = Command::new(PORTHOLE).args(["serve", "-c"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[proxy] web_root = \"/nonexistent/novnc\": no such directory"), "{err}");
    assert_eq!(err.trim().lines().count(), 2, "the count and the problem: {err}");
}

/// `porthole ARGS` as the user the store test runs as, in `cwd`, with the XDG state directory `state`.
fn as_user(args: &[&str], cwd: &Path, state: &Path) -> Command {
    let root = running_as_root();
    let mut c = if root { Command::new("setpriv") } else { Command::new(PORTHOLE) };
    if root {
        c.args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups", PORTHOLE]);
    }
    c.args(args).current_dir(cwd).env("XDG_STATE_HOME", state).env("HOME", cwd).env_remove("RUST_LOG");
    c
}

fn running_as_root() -> bool {
    // The tests may not use the binary's code; /proc/self is owned by the effective user.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

#[test]
fn serve_and_the_cli_share_the_default_store_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mkdir = |name: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        p
    };
    let (here, there) = (mkdir("here"), mkdir("there"));
    let state = dir.path().join("state");
    let addr = free_addr();
    let config = dir.path().join("porthole.toml");
    let vnc = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let text = format!(
        "[proxy]\nlisten = \"{addr}\"\n[[targets]]\nname = \"lab\"\nhost = \"127.0.0.1\"\nport = {}\n",
        vnc.local_addr().unwrap().port()
    );
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();

    let server = serve(as_user(&["serve", "-c", config], &here, &state), addr, &dir.path().join("serve.log"));
    let out = as_user(&["console", "url", "-c", config, "lab"], &there, &state).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8(out.stdout).unwrap();
    let token = url.trim().rsplit("%3D").next().unwrap();

    let (status, body) =
        request(server.addr, "POST /console/check HTTP/1.1\r\nContent-Type: application/json\r\n", &format!("{{\"token\":\"{token}\"}}"));
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["ok"], true, "the server knows the token the CLI minted elsewhere: {answer}");

    let db = state.join("porthole/porthole.db");
    assert!(db.is_file(), "{} holds the store", db.display());
    let mode = std::fs::metadata(state.join("porthole")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the state directory is private");
    for cwd in [&here, &there] {
        assert!(!cwd.join("porthole.db").exists(), "no store in {}", cwd.display());
    }
}

#[test]
fn help_says_where_the_default_store_is() {
    for args in [&["serve", "--help"][..], &["console", "url", "--help"]] {
        let out = Command::new(PORTHOLE).args(args).env("XDG_STATE_HOME", "/srv/st").output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("/var/lib/porthole/porthole.db when run as root"), "{args:?}: {help}");
        assert!(help.contains("$XDG_STATE_HOME/porthole/porthole.db (~/.local/state/porthole/porthole.db)"), "{args:?}: {help}");
        let yours = if running_as_root() { "for you: /var/lib/porthole/porthole.db" } else { "for you: /srv/st/porthole/porthole.db" };
        assert!(help.contains(yours), "{args:?}: {help}");
    }
}
