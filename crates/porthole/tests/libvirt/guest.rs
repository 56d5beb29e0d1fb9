//! The real guest of the serial tests: a transient TCG domain booting Debian's kernel and a busybox
//! initramfs with a shell on ttyS0 (`scripts/guest-image.sh`), created paused so that a console
//! opened first sees the boot from its first line; destroyed when dropped. And reading a console
//! until some text shows.

#![allow(dead_code, unreachable_pub)]

use crate::harness::virsh_ok;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The prompt the guest's /init sets.
pub const PROMPT: &str = "guest# ";
/// Booting under TCG takes 7–13 s on an idle machine; much longer when it is busy.
pub const BOOT_LIMIT: Duration = Duration::from_secs(120);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running (once resumed) guest.
pub struct Guest {
    pub name: String,
    pub uuid: String,
    _dir: tempfile::TempDir,
}

impl Guest {
    /// Creates the guest paused, its serial console a pty (what `guest-image.sh` writes).
    pub fn create_paused(tag: &str) -> Guest {
        Guest::create_paused_with(tag, |xml| xml)
    }

    /// Creates the guest paused, after `edit` changed its domain XML.
    pub fn create_paused_with(tag: &str, edit: impl FnOnce(String) -> String) -> Guest {
        let name = format!("ph-e2e-serial-{tag}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/guest-image.sh");
        let out = std::process::Command::new(script).args(["--xml", &name]).output().unwrap();
        assert!(out.status.success(), "guest-image.sh: {}", String::from_utf8_lossy(&out.stderr));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guest.xml");
        std::fs::write(&file, edit(String::from_utf8(out.stdout).unwrap())).unwrap();
        virsh_ok(&["create", "--paused", file.to_str().unwrap()]);
        let uuid = virsh_ok(&["domuuid", &name]);
        Guest { name, uuid, _dir: dir }
    }

    pub fn resume(&self) {
        virsh_ok(&["resume", &self.name]);
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = crate::harness::virsh(&["destroy", &self.name]);
    }
}

/// Reads into `seen` until it holds `needle` after byte `from`; fails after `limit` with what was read.
pub async fn read_until<R: AsyncRead + Unpin>(r: &mut R, seen: &mut Vec<u8>, from: usize, needle: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while !seen[from.min(seen.len())..].windows(needle.len()).any(|w| w == needle.as_bytes()) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, r.read(&mut buf)).await {
            Ok(Ok(0)) => panic!("console ended before {needle:?}; read: {}", tail(seen)),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("console failed before {needle:?}: {e}; read: {}", tail(seen)),
            Err(_) => panic!("no {needle:?} within {limit:?}; read: {}", tail(seen)),
        }
    }
}

pub fn tail(seen: &[u8]) -> String {
    String::from_utf8_lossy(&seen[seen.len().saturating_sub(600)..]).into_owned()
}
