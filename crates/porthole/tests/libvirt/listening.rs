//! Servers the tests start (porthole serve, QEMU, Xvnc) on ports they pick, counted as up only
//! when the listening socket is the child's own: a port free when picked can be taken by another
//! process (another test, another engineer's server) before the child binds it, and a wait that
//! only connects would then talk to that process. Ownership is the LISTEN socket's inode in
//! /proc/net/tcp{,6} among the child's /proc/PID/fd links. A child that exits first is reported
//! with its stderr; one that lost the port ("Address already in use") is started again on another.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to listen (QEMU under TCG on a busy machine, porthole with nodes).
const LISTEN_LIMIT: Duration = Duration::from_secs(30);
/// Attempts on fresh ports when the port was taken before the child bound it.
const ATTEMPTS: usize = 5;

/// A free loopback port from the kernel's ephemeral range (32768 and up by default): above 5900,
/// so it is also a VNC display number (port - 5900), never one that libvirt's autoport hands out.
pub fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port > 5900 {
            return port;
        }
    }
}

/// A child process that listens on `port`, killed on drop; its stderr is kept in a file and shown
/// in the test's output when dropped (nextest prints it when the test fails).
pub struct Listening {
    child: Child,
    pub port: u16,
    what: String,
    dir: tempfile::TempDir,
    /// Set when the stderr was already handed to the caller (a start that failed).
    reported: bool,
}

impl Listening {
    /// Starts `what` with `command(port)`, first on `first_port`, and returns once the child owns
    /// the LISTEN socket of that port. When the child exits because the port was taken meanwhile,
    /// starts it again on a fresh port; any other exit, or no listener in time, fails the test with
    /// the child's stderr.
    pub fn start(what: &str, first_port: u16, mut command: impl FnMut(u16) -> Command) -> Listening {
        let mut port = first_port;
        for attempt in 1..=ATTEMPTS {
            let mut cmd = command(port);
            match Listening::spawn(what, port, &mut cmd) {
                Ok(up) => return up,
                Err(stderr) if stderr.contains("Address already in use") && attempt < ATTEMPTS => {
                    eprintln!("{what}: port {port} was taken before it could bind it; trying another");
                    port = free_port();
                }
                Err(stderr) => panic!("{what} did not start on port {port}: {stderr}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// One attempt: Ok once the child owns the port; Err with why (its stderr) when it exited.
    fn spawn(what: &str, port: u16, cmd: &mut Command) -> Result<Listening, String> {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("stderr")).unwrap();
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{what} could not be started ({cmd:?}): {e}"));
        let mut up = Listening { child, port, what: what.to_owned(), dir, reported: false };
        let started = Instant::now();
        loop {
            if owns_listener(up.child.id(), port) {
                return Ok(up);
            }
            if let Some(status) = up.child.try_wait().unwrap() {
                let why = format!("it exited with {status}:\n{}", up.stderr());
                up.reported = true;
                return Err(why);
            }
            if started.elapsed() > LISTEN_LIMIT {
                up.reported = true;
                panic!("{what} (pid {}) did not listen on port {port} within {LISTEN_LIMIT:?}:\n{}", up.child.id(), up.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr")
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = self.stderr();
        if !self.reported && !text.trim().is_empty() {
            eprintln!("--- stderr of {} (port {}) ---\n{}", self.what, self.port, text.trim_end());
        }
    }
}

/// Whether process `pid` holds a socket listening on TCP `port` (any address, IPv4 or IPv6).
pub fn owns_listener(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).any(|link| {
        let link = link.to_string_lossy();
        link.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')).and_then(|i| i.parse().ok()).is_some_and(|i| inodes.contains(&i))
    })
}

/// Inodes of the LISTEN sockets on `port` in /proc/net/tcp and tcp6 (columns: sl, local
/// address as HEXADDR:HEXPORT, remote address, state (0A = LISTEN), queues, timers, retransmits,
/// uid, timeout, inode).
fn listening_inodes(port: u16) -> Vec<u64> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1).and_then(|a| a.rsplit_once(':')).and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if f.get(3) == Some(&"0A") && local_port == Some(port) {
                inodes.extend(f.get(9).and_then(|i| i.parse::<u64>().ok()));
            }
        }
    }
    inodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_found_as_this_process_own_and_not_as_another_s() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(owns_listener(std::process::id(), port));
        assert!(!owns_listener(1, port));
        drop(l);
        assert!(!owns_listener(std::process::id(), port));
    }

    fn porthole_serve(dir: &Path, extra: &str) -> impl FnMut(u16) -> Command {
        let (dir, extra) = (dir.to_owned(), extra.to_owned());
        move |port| {
            let cfg = dir.join("porthole.toml");
            let text =
                format!("[proxy]\nlisten = \"127.0.0.1:{port}\"\n{extra}[consoleauth]\nstore = \"sqlite://{}/p.db\"\n", dir.display());
            std::fs::write(&cfg, text).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_porthole"));
            cmd.args(["serve", "-c"]).arg(cfg);
            cmd
        }
    }

    /// The port was taken between the pick and the bind: the server is started again elsewhere,
    /// and the test never talks to the process that took it.
    #[test]
    fn a_server_that_lost_its_port_is_started_on_another() {
        let dir = tempfile::tempdir().unwrap();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let up = Listening::start("porthole serve", taken_port, porthole_serve(dir.path(), ""));
        assert_ne!(up.port, taken_port);
        assert!(owns_listener(up.pid(), up.port));
    }

    /// Any other reason the server did not start fails the test with the server's own words.
    #[test]
    #[should_panic(expected = "unknown field `no_such_key`")]
    fn a_server_that_did_not_start_fails_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        Listening::start("porthole serve", free_port(), porthole_serve(dir.path(), "no_such_key = 1\n"));
    }
}
