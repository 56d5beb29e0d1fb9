//! Connection pool sizes and timeouts of a store (`[consoleauth] pool_*` in the configuration).

use std::time::Duration;

/// Most connections one process keeps to the database. SQLite writes one at a time whatever the
/// pool size; readers (token checks) run in parallel in WAL mode.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;
/// Connections kept open even when idle.
pub const DEFAULT_MIN_CONNECTIONS: u32 = 0;
/// How long a request waits for a free connection (or a new one) before the store is
/// [`Unavailable`](crate::error::Unavailable): a mint or token check answers 503 then, not a hang.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection above `min_connections` is closed after this long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// A connection is replaced after this long (PostgreSQL fail-overs, server-side memory).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(1800);
/// PostgreSQL: how long opening the store may take at start, connecting and bringing the schema up
/// to date (SQLite's waits are bounded by [`DEFAULT_BUSY_TIMEOUT`]).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite: how long a write waits for another connection or process to finish its write.
/// 400 concurrent `porthole console url` processes on two cores finish within it.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Pool sizes and timeouts for [`open_store`](super::open_store).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// See [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: u32,
    /// See [`DEFAULT_MIN_CONNECTIONS`].
    pub min_connections: u32,
    /// See [`DEFAULT_ACQUIRE_TIMEOUT`].
    pub acquire_timeout: Duration,
    /// See [`DEFAULT_IDLE_TIMEOUT`]; `None` keeps idle connections.
    pub idle_timeout: Option<Duration>,
    /// See [`DEFAULT_MAX_LIFETIME`]; `None` keeps connections forever.
    pub max_lifetime: Option<Duration>,
    /// See [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// See [`DEFAULT_BUSY_TIMEOUT`] (SQLite only).
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            min_connections: DEFAULT_MIN_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

impl StoreOptions {
    /// What is wrong with these options, one line each (empty when usable), named by their
    /// `[consoleauth]` configuration keys.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.max_connections == 0 {
            p.push("pool_max_connections must be at least 1".to_owned());
        }
        if self.min_connections > self.max_connections {
            p.push(format!(
                "pool_min_connections ({}) must not exceed pool_max_connections ({})",
                self.min_connections, self.max_connections
            ));
        }
        if self.acquire_timeout.is_zero() {
            p.push("pool_acquire_timeout must be more than 0".to_owned());
        }
        if self.connect_timeout.is_zero() {
            p.push("store_connect_timeout must be more than 0".to_owned());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_usable_and_mistakes_are_named() {
        assert!(StoreOptions::default().problems().is_empty());
        let bad = StoreOptions { max_connections: 0, min_connections: 2, acquire_timeout: Duration::ZERO, ..StoreOptions::default() };
        let p = bad.problems();
        assert_eq!(p.len(), 3, "{p:?}");
    }
}
