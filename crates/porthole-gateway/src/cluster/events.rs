//! The event follower: what other processes publish, acted on here. A revoke ends the instance's
//! sessions and refuses the ones being admitted (the same door as a local revoke, so the
//! revocation generation holds); "end session" and "end an instance's sessions" end them with
//! "Session ended by an administrator". Events this process published were acted on already.

use super::Status;
use crate::live::{LiveSessions, Policy};
use porthole_tokens::cluster::{EventFeed, RevokeReason, StoredEvent};
use porthole_tokens::ClusterEvent;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait before asking a feed that failed again.
const RETRY: Duration = Duration::from_secs(1);

/// Follows the feed for ever (until the runtime stops).
pub(super) async fn follow(mut feed: Box<dyn EventFeed>, live: LiveSessions, me: String, status: Arc<Status>) {
    let mut lost_since: Option<Instant> = None;
    loop {
        match feed.next().await {
            Ok(events) => {
                if let Some(since) = lost_since.take() {
                    tracing::info!(
                        after_s = format_args!("{:.1}", since.elapsed().as_secs_f32()),
                        "cluster events: in touch with the store again; what was published meanwhile is being read back"
                    );
                }
                status.events_ok.store(true, Ordering::Relaxed);
                for e in events.iter().filter(|e| e.origin != me) {
                    apply(&live, e);
                }
            }
            Err(e) => {
                status.events_ok.store(false, Ordering::Relaxed);
                if lost_since.is_none() {
                    tracing::warn!(cause = %e, "cluster events: lost touch with the store; revokes and kills from other proxies reach this one when it is back");
                    lost_since = Some(Instant::now());
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Acts on one event from another process.
pub(super) fn apply(live: &LiveSessions, e: &StoredEvent) {
    match &e.event {
        ClusterEvent::Revoked { instance, reason } => {
            let why = match reason {
                RevokeReason::Reset => Policy::Reset,
                _ => Policy::InstanceStopped,
            };
            let ended = live.end_instance(*instance, why);
            tracing::info!(instance = %instance, from = %e.origin, reason = why.as_str(), ended, "consoles revoked by another proxy");
        }
        ClusterEvent::EndSession { id } => {
            if live.end_session(*id, Policy::Killed) {
                tracing::info!(session = %id, from = %e.origin, "session ended on another proxy's request");
            }
        }
        ClusterEvent::EndInstanceSessions { instance } => {
            let ended = live.end_sessions_of(*instance, Policy::Killed);
            if ended > 0 {
                tracing::info!(instance = %instance, from = %e.origin, ended, "sessions ended on another proxy's request");
            }
        }
        other => tracing::debug!(event = ?other, "cluster event not known to this version"),
    }
}
