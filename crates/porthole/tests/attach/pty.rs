//! A command in a pseudo-terminal, as a person at a terminal runs it: util-linux `script` gives it
//! a pty (so `porthole attach` sees a terminal and goes raw), the test types into `script`'s
//! standard input and reads what the terminal shows.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shell command line running in a pty; killed when dropped.
pub struct Pty {
    child: Child,
    stdin: Option<ChildStdin>,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Runs `sh -c LINE` in a new pty (`script -qfec LINE /dev/null`).
    pub fn spawn(line: &str) -> Pty {
        let mut child = Command::new("script")
            .args(["-q", "-f", "-e", "-c", line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the script command (Debian: bsdutils)");
        let mut out = child.stdout.take().unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let stdin = child.stdin.take();
        Pty { child, stdin, screen }
    }

    /// Types `bytes` on the terminal.
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Everything the terminal showed so far, as text (lossy).
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// How many bytes the terminal showed so far (to look for text only after a point).
    pub fn mark(&self) -> usize {
        self.screen.lock().unwrap().len()
    }

    /// Waits until the terminal shows `text` after byte `from`; fails with the screen after `limit`.
    pub fn wait_for(&self, from: usize, text: &str, limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            let shown = self.screen.lock().unwrap()[from..].windows(text.len()).any(|w| w == text.as_bytes());
            if shown {
                return;
            }
            assert!(Instant::now() < end, "the terminal did not show {text:?} within {limit:?}; it shows:\n{}", self.tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last 2000 characters of the screen, for failure messages.
    pub fn tail(&self) -> String {
        let s = self.screen();
        s.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect()
    }

    /// Waits for the command to exit (its exit status, as `script -e` passes it on).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread may still be taking the last bytes.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < end, "still running after {limit:?}; the terminal shows:\n{}", self.tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process IDs of `name` processes under this one (to signal `porthole attach` itself).
    pub fn descendants_named(&self, name: &str) -> Vec<u32> {
        let mut found = Vec::new();
        let mut parents = vec![self.child.id()];
        while let Some(parent) = parents.pop() {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
                // pid (comm) state ppid …: comm may hold spaces and parentheses; split at the last ')'.
                let Some((head, tail)) = stat.rsplit_once(')') else { continue };
                let ppid: u32 = tail.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
                if ppid == parent {
                    parents.push(pid);
                    if head.ends_with(&format!("({name}")) {
                        found.push(pid);
                    }
                }
            }
        }
        found
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
