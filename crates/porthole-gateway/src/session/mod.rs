//! A console session's life, from the upgrade to the close: connect to the VNC server, relay,
//! tell a stopped VM from a VNC server that went away, close the browser's WebSocket within a
//! bounded time, and log one line. Every phase races the policies (reset, expiry, kill,
//! shutdown), so none can outlast them whatever either peer does.

mod close;

use crate::admission::Admitted;
use crate::end::{EndKind, SessionEnd, Side};
use crate::live::Policy;
use crate::relay::{Limits, Relay};
use crate::settings::Settings;
use crate::state::AppState;
use crate::upstream;
use porthole_tokens::{ConnectInfo, ConsoleType};
use porthole_ws::{Transport, WsConn};
use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument as _;

/// After a policy ends a session, the browser has this long to take the rest of a frame and the
/// close frame; then the connection is dropped.
const POLICY_GRACE: Duration = Duration::from_millis(500);
/// After a peer ends it, the rest of the last frame and the close frame may take this long.
const FINISH_GRACE: Duration = Duration::from_secs(5);
/// How long to wait, after a VM's VNC server went away, for libvirt to say whether the VM stopped.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The policies a session watches: the live registry's end signal and the token's expiry.
struct Policies {
    ended: oneshot::Receiver<Policy>,
    expiry: Option<Instant>,
}

impl Policies {
    /// The next policy that ends the session (pending for ever if none will).
    async fn next(&mut self) -> Policy {
        let expired = async {
            match self.expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            why = &mut self.ended => match why {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            },
            () = expired => Policy::Expired,
        }
    }
}

/// Runs an admitted session on an upgraded WebSocket until it ends.
pub(crate) async fn run<B: Transport>(ws: WsConn<B>, admitted: Admitted, state: AppState) {
    let span = tracing::info_span!("session", id = %admitted.session.info.id, client = %admitted.session.info.client,
        instance = %admitted.target.name, node = admitted.target.node.as_deref().unwrap_or("-"),
        uuid = %admitted.info.instance_uuid, token_id = %admitted.token_id);
    lifecycle(ws, admitted, state).instrument(span).await;
}

async fn lifecycle<B: Transport>(mut ws: WsConn<B>, admitted: Admitted, state: AppState) {
    let Admitted { info, session, token_id: _, slot: _slot, target, began } = admitted;
    let metrics = state.metrics.clone();
    // The settings this session runs under; a reload applies to sessions admitted after it.
    let settings = state.settings();
    let inventory = state.inventory();
    let mut registered = session.registration;
    let started = Instant::now();
    let counters = session.info.counters.clone();
    let mut policies = Policies { ended: session.ended, expiry: expiry(&state, &settings, &info) };
    let end = tokio::select! {
        biased;
        why = policies.next() => Err(SessionEnd::policy(why)),
        vnc = upstream::connect(&mut ws, &info, inventory.as_ref(), &settings) => vnc,
    };
    let (mut ws, mut end) = match end {
        Err(end) => (ws, end),
        Ok(connected) => {
            tracing::info!(view_only = info.view_only, "session started");
            metrics.session_set_up(began.elapsed());
            let _live = metrics.session_live(target.node.as_deref());
            let limits = Limits {
                idle: settings.idle_timeout,
                stall: settings.stall_timeout,
                // In relay mode nothing has come from the VNC server yet (the security proxy already
                // heard it); a serial console may well be silent.
                first_bytes: (!connected.secured && info.console_type == ConsoleType::Novnc).then_some(settings.security.timeout),
            };
            let mut relay = Relay::new(ws, connected.vnc, limits, counters.clone());
            if !connected.secured && info.console_type == ConsoleType::Novnc {
                relay = relay.sniff_offer();
            }
            if info.view_only {
                relay = relay.view_only();
            }
            let end = match relay.set_early(connected.early) {
                Err(end) => end,
                Ok(()) => tokio::select! {
                    biased;
                    why = policies.next() => SessionEnd::policy(why),
                    end = poll_fn(|cx| relay.poll(cx)) => end,
                },
            };
            let end = match (end, relay.offer().and_then(|o| o.needs_authentication())) {
                // The browser left during a handshake it could not finish (no ServerInit came).
                (end, Some(types)) if end.side == Side::Browser && counters.to_browser.load(Ordering::Relaxed) < 1024 => {
                    SessionEnd::new(Side::VncServer, EndKind::AuthRequired(types.to_vec()))
                }
                (end, _) => end,
            };
            (relay.into_browser(), end)
        }
    };
    if taken_over(&end) {
        end = SessionEnd::policy(Policy::TakenOver);
    } else if end.is_server_gone() {
        end = why_server_gone(&state, &info, &mut policies).await.unwrap_or(end);
    }
    close(&mut ws, &end).await;
    drop(ws);
    registered.finish(end.reason());
    metrics.session_ended(&end);
    let (up, down) = (counters.to_server.load(Ordering::Relaxed), counters.to_browser.load(Ordering::Relaxed));
    let secs = started.elapsed().as_secs_f64();
    macro_rules! ended {
        ($level:expr) => {
            tracing::event!($level, end = %end, duration_s = format_args!("{secs:.1}"), bytes_to_server = up, bytes_to_browser = down, "session ended")
        };
    }
    match close::log_level(&end) {
        tracing::Level::ERROR => ended!(tracing::Level::ERROR),
        tracing::Level::WARN => ended!(tracing::Level::WARN),
        _ => ended!(tracing::Level::INFO),
    }
}

/// Whether a serial console ended because another session took it over.
fn taken_over(end: &SessionEnd) -> bool {
    matches!(&end.kind, EndKind::Failed(e) if matches!(porthole_compute::ConsoleError::from_io(e), Some(porthole_compute::ConsoleError::TakenOver)))
}

/// When the token expires, if the session must end then.
fn expiry(state: &AppState, settings: &Settings, info: &ConnectInfo) -> Option<Instant> {
    settings.enforce_session_timeout.then(|| {
        let left = info.expires.saturating_sub(state.auth.clock().now());
        Instant::now() + Duration::from_secs(u64::try_from(left).unwrap_or(0))
    })
}

/// A VM's VNC server goes away a moment before libvirt reports the VM stopped: wait (briefly, and
/// still watching the policies) to tell the two apart, so that a stopped VM's sessions end with
/// "Instance stopped" as its revoked tokens do, whichever of the read or the write failed first.
async fn why_server_gone(state: &AppState, info: &ConnectInfo, policies: &mut Policies) -> Option<SessionEnd> {
    if !state.inventory().managed(info.instance_uuid).await {
        return None;
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if let Ok(false) = crate::recheck::endpoint_matches(state.inventory().as_ref(), state.settings().endpoint_check, info).await {
            return Some(SessionEnd::policy(Policy::InstanceStopped));
        }
        tokio::select! {
            why = policies.next() => return Some(SessionEnd::policy(why)),
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    None
}

/// Sends the close frame (after the rest of a frame in progress) and shuts the WebSocket down,
/// within [`POLICY_GRACE`] for a policy and [`FINISH_GRACE`] otherwise; a browser that does not
/// take them in time loses the connection without them.
async fn close<B: Transport>(ws: &mut WsConn<B>, end: &SessionEnd) {
    let grace = if end.is_policy() || end.side == Side::Browser { POLICY_GRACE } else { FINISH_GRACE };
    if let Some((code, reason)) = close::close_frame(end) {
        ws.queue_close(code, &reason);
    }
    let _ = tokio::time::timeout(grace, async {
        poll_fn(|cx| ws.poll_write(cx)).await?;
        poll_fn(|cx| ws.poll_shutdown(cx)).await
    })
    .await;
}
