//! Log set-up: `tracing` to stderr, filtered by `RUST_LOG` (default: info for Porthole's crates).

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "porthole=info,porthole_gateway=info,porthole_tokens=info,warn";

/// Installs the global subscriber. Logs go to stderr so stdout carries only command output.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
