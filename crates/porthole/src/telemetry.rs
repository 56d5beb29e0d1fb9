//! Log set-up: `tracing` to stderr, filtered by `RUST_LOG` (default: info for Porthole's crates),
//! as text (colours only on a terminal) or one JSON object per line (`[log] format = "json"`).

use crate::config::LogFormat;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "porthole=info,porthole_gateway=info,porthole_tokens=info,porthole_compute=info,warn";

/// Installs the global subscriber. Logs go to stderr so stdout carries only command output.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
}
