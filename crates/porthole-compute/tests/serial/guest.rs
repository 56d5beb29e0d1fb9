//! The real guest of the serial tests: a transient TCG domain booting Debian's kernel and a busybox
//! initramfs (`scripts/guest-image.sh`) with a shell on ttyS0, removed when dropped; and reading a
//! console stream until some text shows.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _};

pub const URI: &str = "qemu:///system";
/// The prompt the guest's /init sets.
pub const PROMPT: &str = "guest# ";

pub fn virsh(args: &[&str]) -> Output {
    Command::new("virsh").args(["-c", URI]).args(args).output().expect("virsh runs (libvirt-clients installed?)")
}

pub fn virsh_ok(args: &[&str]) -> String {
    let out = virsh(args);
    assert!(out.status.success(), "virsh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running guest.
pub struct Guest {
    pub name: String,
    pub uuid: uuid::Uuid,
    _dir: tempfile::TempDir,
}

impl Guest {
    /// Builds the image if needed and creates the domain paused, so that a console opened before
    /// [`Guest::resume`] sees the boot from its first line (QEMU drops pty output nobody reads).
    pub fn create_paused(tag: &str) -> Guest {
        let name = format!("ph-serial-{tag}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/guest-image.sh");
        let out = Command::new(script).args(["--xml", &name]).output().unwrap();
        assert!(out.status.success(), "guest-image.sh: {}", String::from_utf8_lossy(&out.stderr));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guest.xml");
        std::fs::write(&file, &out.stdout).unwrap();
        virsh_ok(&["create", "--paused", file.to_str().unwrap()]);
        let uuid = virsh_ok(&["domuuid", &name]).parse().unwrap();
        Guest { name, uuid, _dir: dir }
    }

    pub fn resume(&self) {
        virsh_ok(&["resume", &self.name]);
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.name]);
    }
}

/// Reads into `seen` until it contains `needle` (after `from`), failing after `limit` with what
/// was read.
pub async fn read_until<R: AsyncRead + Unpin>(r: &mut R, seen: &mut Vec<u8>, from: usize, needle: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while !contains(&seen[from.min(seen.len())..], needle.as_bytes()) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, r.read(&mut buf)).await {
            Ok(Ok(0)) => panic!("console ended before {needle:?}; read: {}", tail(seen)),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("console failed before {needle:?}: {e}; read: {}", tail(seen)),
            Err(_) => panic!("no {needle:?} within {limit:?}; read: {}", tail(seen)),
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn tail(seen: &[u8]) -> String {
    String::from_utf8_lossy(&seen[seen.len().saturating_sub(600)..]).into_owned()
}

/// This process's resident memory, from /proc/self/status.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// CPU time this process used so far (user + system), from /proc/self/stat.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// p50 and p99 of durations, in milliseconds.
pub fn percentiles(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let at = |p: f64| d[((d.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}
