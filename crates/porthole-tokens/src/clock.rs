//! Wall-clock time in epoch seconds, from the system or from tokio's (pausable) clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// The time source for expiry decisions.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    System,
    /// System time at creation plus tokio's elapsed time: follows `tokio::time::pause`/`advance`.
    Tokio {
        /// Epoch seconds when the clock was made.
        base_secs: i64,
        /// tokio's instant at the same moment.
        base: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that follows tokio's time, for tests with paused time.
    pub fn tokio() -> Self {
        Clock::Tokio { base_secs: system_secs(), base: tokio::time::Instant::now() }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => system_secs(),
            Clock::Tokio { base_secs, base } => {
                let elapsed = i64::try_from(base.elapsed().as_secs()).unwrap_or(i64::MAX);
                base_secs.saturating_add(elapsed)
            }
        }
    }
}

fn system_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}
