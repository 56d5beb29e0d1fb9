//! Throttling of failed tokens per client address: a token bucket that only failures draw from, so
//! a client guessing tokens (or hammering the store with bad ones) is refused with 429 before the
//! store is asked, while normal use never meets it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use tokio::time::Instant;

/// Failures a client may have in a burst.
pub(super) const BURST: f64 = 20.0;
/// Failures per second it earns back.
pub(super) const REFILL_PER_SEC: f64 = 1.0;
/// Clients remembered at most; the oldest are forgotten first.
const MAX_CLIENTS: usize = 10_000;

/// Failed tokens by client.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    /// Bucket level and when it was last updated; a std mutex: never held across an await.
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Throttle {
    /// Whether `ip` has used up its failures.
    pub(crate) fn is_throttled(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.get(&ip).is_some_and(|(level, at)| refill(*level, *at, now) < 1.0)
    }

    /// Counts one failure of `ip`.
    pub(crate) fn charge(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&ip) {
            buckets.retain(|_, (level, at)| refill(*level, *at, now) < BURST);
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let (level, at) = buckets.entry(ip).or_insert((BURST, now));
        *level = (refill(*level, *at, now) - 1.0).max(0.0);
        *at = now;
    }
}

fn refill(level: f64, at: Instant, now: Instant) -> f64 {
    (level + now.duration_since(at).as_secs_f64() * REFILL_PER_SEC).min(BURST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn failures_use_up_the_burst_and_time_gives_them_back() {
        let t = Throttle::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..20 {
            assert!(!t.is_throttled(a));
            t.charge(a);
        }
        assert!(t.is_throttled(a));
        assert!(!t.is_throttled(b), "another client is not affected");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!t.is_throttled(a));
    }
}
