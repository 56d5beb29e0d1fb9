//! Where the token store is when `[consoleauth] store` is not set: one absolute SQLite file per
//! user, the same for `serve` and every CLI command wherever they run, so that a console URL minted
//! by the CLI is one the server knows. Root's is `/var/lib/porthole/porthole.db`; anyone else's is
//! in the XDG state directory, `$XDG_STATE_HOME/porthole/porthole.db`, by default
//! `~/.local/state/porthole/porthole.db`. Its directory is created when the store opens.

use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

/// The store's directory when Porthole runs as root (the Debian package's `StateDirectory`).
pub const ROOT_STATE_DIR: &str = "/var/lib/porthole";
/// The store's file name in that directory.
pub const STORE_FILE: &str = "porthole.db";

/// The default store of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultStore {
    /// The directory holding the file.
    pub dir: PathBuf,
    /// The mode its missing parts are created with (0700 for the XDG one, as the XDG spec asks).
    pub mode: u32,
}

impl DefaultStore {
    /// This process's: by effective user id and environment.
    pub fn for_this_user() -> Option<Self> {
        Self::for_user(rustix::process::geteuid().as_raw(), |name| std::env::var_os(name))
    }

    /// For effective user id `euid`, reading variables through `env`; `None` when a non-root user
    /// has neither `XDG_STATE_HOME` nor `HOME` set to an absolute path.
    pub fn for_user(euid: u32, env: impl Fn(&str) -> Option<OsString>) -> Option<Self> {
        if euid == 0 {
            return Some(DefaultStore { dir: PathBuf::from(ROOT_STATE_DIR), mode: 0o755 });
        }
        // The XDG spec: a relative path in these variables is invalid and ignored.
        let absolute = |name: &str| env(name).map(PathBuf::from).filter(|p| p.is_absolute());
        let state = absolute("XDG_STATE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".local/state")))?;
        Some(DefaultStore { dir: state.join("porthole"), mode: 0o700 })
    }

    /// The file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    /// The `[consoleauth] store` URL naming the file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    /// Creates the directory (and missing parents) if it is not there.
    pub fn create_dir(&self) -> std::io::Result<()> {
        if self.dir.is_dir() {
            return Ok(());
        }
        std::fs::DirBuilder::new().recursive(true).mode(self.mode).create(&self.dir)
    }
}

/// The default store URL of this process's user; empty when there is none (validation says why).
pub fn default_store_url() -> String {
    DefaultStore::for_this_user().map(|d| d.url()).unwrap_or_default()
}

/// One line for `--help`: the rule, and what it gives for the user asking.
pub fn help() -> String {
    let here = match DefaultStore::for_this_user() {
        Some(d) => format!("for you: {}", d.path().display()),
        None => "for you: none, as neither XDG_STATE_HOME nor HOME is set".to_owned(),
    };
    format!(
        "Token store: [consoleauth] store, by default {}/{STORE_FILE} when run as root, else \
         $XDG_STATE_HOME/porthole/{STORE_FILE} (~/.local/state/porthole/{STORE_FILE}); {here}.",
        Path::new(ROOT_STATE_DIR).display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn root_uses_var_lib_whatever_its_environment() {
        let d = DefaultStore::for_user(0, env(&[("HOME", "/root"), ("XDG_STATE_HOME", "/tmp/x")])).unwrap();
        assert_eq!(d.url(), "sqlite:///var/lib/porthole/porthole.db");
    }

    #[test]
    fn others_use_the_xdg_state_directory() {
        let d = DefaultStore::for_user(1000, env(&[("HOME", "/home/ann")])).unwrap();
        assert_eq!(d.path(), Path::new("/home/ann/.local/state/porthole/porthole.db"));
        assert_eq!(d.mode, 0o700);
        let d = DefaultStore::for_user(1000, env(&[("HOME", "/home/ann"), ("XDG_STATE_HOME", "/srv/state")])).unwrap();
        assert_eq!(d.url(), "sqlite:///srv/state/porthole/porthole.db");
    }

    #[test]
    fn relative_or_missing_variables_are_ignored() {
        let d = DefaultStore::for_user(1000, env(&[("HOME", "/home/ann"), ("XDG_STATE_HOME", "state")])).unwrap();
        assert_eq!(d.dir, Path::new("/home/ann/.local/state/porthole"));
        assert_eq!(DefaultStore::for_user(1000, env(&[("HOME", "ann")])), None);
        assert_eq!(DefaultStore::for_user(1000, env(&[])), None);
    }

    #[test]
    fn the_directory_is_created_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let d = DefaultStore::for_user(1000, env(&[("XDG_STATE_HOME", tmp.path().join("st").to_str().unwrap())])).unwrap();
        d.create_dir().unwrap();
        d.create_dir().unwrap();
        for dir in [tmp.path().join("st"), d.dir.clone()] {
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700, "{}", dir.display());
        }
    }
}
