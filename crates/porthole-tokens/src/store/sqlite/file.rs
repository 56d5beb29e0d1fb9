//! The SQLite file a store opened, remembered by device and inode, so that the store notices the
//! file being deleted or replaced under it instead of writing tokens nobody else will see.

use crate::{Result, Unavailable};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The identity of the opened file.
#[derive(Debug)]
pub(super) struct OpenedFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Set once the loss has been logged, so that a store hit on every request logs it once.
    reported: AtomicBool,
}

impl OpenedFile {
    /// Remembers the file now at `path` (made absolute, so a later change of directory does not matter).
    pub(super) fn remember(path: &Path) -> std::io::Result<Self> {
        let path = std::path::absolute(path)?;
        let meta = std::fs::metadata(&path)?;
        Ok(OpenedFile { path, dev: meta.dev(), ino: meta.ino(), reported: AtomicBool::new(false) })
    }

    /// The absolute path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// `Ok` while the path still names the opened file.
    pub(super) fn check(&self) -> Result<()> {
        let lost = match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => return Ok(()),
            Ok(_) => Unavailable::FileReplaced { path: self.path.clone() },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Unavailable::FileDeleted { path: self.path.clone() },
            Err(e) => Unavailable::Database(format!("cannot stat the SQLite file {}: {e}", self.path.display())),
        };
        if !self.reported.swap(true, Ordering::Relaxed) {
            tracing::error!(cause = %lost, "the token store's file is gone: minting and token checks fail until Porthole restarts");
        }
        Err(lost.into())
    }
}
