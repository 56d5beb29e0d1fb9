//! Live sessions: who is connected to which instance, so that a reset, a stopped VM, an operator
//! or the shutdown can end them, and so that nothing admitted before a revoke outlives it.
//!
//! A session is registered at admission, before the upgrade is answered. A revoke bumps a
//! generation and remembers it per instance; admission reads the generation *before* it checks
//! the token and registers with it, so a token checked a moment before a revoke finishes is
//! refused at registration, and one registered before is signalled by the revoke itself. A revoke
//! made by another process arrives as a cluster event and goes through the same door
//! ([`LiveSessions::end_instance`]).
//!
//! Each session has an id unique cluster-wide (a UUIDv4). Its start and its end are handed to the
//! cluster's recorder (a channel: nothing here waits for the store), which writes them.

use porthole_tokens::ConsoleType;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use uuid::Uuid;

/// How long an instance's revocation is remembered: longer than any admission can take.
const REVOCATION_MEMORY: Duration = Duration::from_secs(300);

/// Why the proxy ends a session on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Policy {
    /// The instance's consoles were reset (`DELETE …/remote-consoles`).
    Reset,
    /// An operator ended this session.
    Killed,
    /// The VM stopped, crashed or was undefined.
    InstanceStopped,
    /// The token expired (`enforce_session_timeout`).
    Expired,
    /// No traffic for `idle_timeout`.
    Idle,
    /// The proxy is shutting down.
    Shutdown,
    /// Another session took the serial console over (libvirt's force).
    TakenOver,
}

impl Policy {
    /// The session history's `end_reason` for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Reset => "reset",
            Policy::Killed => "killed",
            Policy::InstanceStopped => "instance-stopped",
            Policy::Expired => "expired",
            Policy::Idle => "idle",
            Policy::Shutdown => "shutdown",
            Policy::TakenOver => "taken-over",
        }
    }
}

/// The end reason of a session admitted but never started (its upgrade failed).
pub const NOT_STARTED: &str = "not-started";

/// Bytes relayed by one session, updated by its relay.
#[derive(Debug, Default)]
pub struct Counters {
    /// From the browser to the VNC server.
    pub to_server: AtomicU64,
    /// From the VNC server to the browser.
    pub to_browser: AtomicU64,
}

/// What admission knows of a session it registers.
#[derive(Clone, Debug)]
pub struct SessionMeta {
    /// Its instance.
    pub instance: Uuid,
    /// The instance's name.
    pub instance_name: String,
    /// The instance's libvirt node, `None` for a static target.
    pub node: Option<String>,
    /// The browser's address (from `X-Forwarded-For` behind a trusted proxy).
    pub client: IpAddr,
    /// VNC or serial.
    pub console_type: ConsoleType,
    /// The browser's input is dropped.
    pub view_only: bool,
    /// Who minted the token.
    pub minted_by: Option<String>,
}

impl SessionMeta {
    /// A VNC session of `instance` from `client`, with nothing else known (tests).
    pub fn new(instance: Uuid, client: IpAddr) -> Self {
        SessionMeta {
            instance,
            instance_name: instance.to_string(),
            node: None,
            client,
            console_type: ConsoleType::Novnc,
            view_only: false,
            minted_by: None,
        }
    }
}

/// What is known of a live session.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// Its id, unique cluster-wide.
    pub id: Uuid,
    /// Its instance.
    pub instance: Uuid,
    /// The instance's name.
    pub instance_name: String,
    /// The instance's libvirt node, `None` for a static target.
    pub node: Option<String>,
    /// The browser's address (from `X-Forwarded-For` behind a trusted proxy).
    pub client: IpAddr,
    /// VNC or serial.
    pub console_type: ConsoleType,
    /// The browser's input is dropped.
    pub view_only: bool,
    /// Who minted the token.
    pub minted_by: Option<String>,
    /// When it was admitted.
    pub started: SystemTime,
    /// Bytes relayed so far.
    pub counters: Arc<Counters>,
}

/// What the registry tells the cluster's recorder.
#[derive(Debug)]
pub(crate) enum Record {
    /// A session was registered.
    Started(SessionInfo),
    /// A session ended, at `at`, for this reason (see `SessionEnd::reason`).
    Ended {
        /// Its id.
        id: Uuid,
        /// When.
        at: SystemTime,
        /// Why.
        reason: &'static str,
    },
    /// Write everything now, then answer whether nothing is left unwritten (the shutdown).
    Flush(oneshot::Sender<bool>),
}

/// Why a session could not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRegistered {
    /// Its instance's consoles were revoked after its token was checked.
    Revoked,
    /// The proxy is shutting down.
    ShuttingDown,
}

struct Entry {
    info: SessionInfo,
    end: Option<oneshot::Sender<Policy>>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<Uuid, Entry>,
    /// Instance → (generation of its last revocation, when).
    revoked: HashMap<Uuid, (u64, Instant)>,
    closing: bool,
    /// Bytes relayed by sessions no longer registered (to browser, to server), added as each
    /// unregisters, under this lock, so that [`LiveSessions::relayed_bytes`] never goes back.
    ended_bytes: (u64, u64),
}

#[derive(Default)]
struct Inner {
    /// A std mutex: never held across an await.
    state: Mutex<State>,
    /// Session slots taken (admission takes one before it asks the store; see [`Slot`]).
    slots: AtomicUsize,
    /// Bumped by every revocation; read by admission before the token check.
    generation: AtomicU64,
    /// Wakes whoever waits for the last session to go.
    emptied: Notify,
    /// The cluster's recorder, once one is attached: starts and ends go there.
    recorder: OnceLock<UnboundedSender<Record>>,
}

/// The registry of live sessions. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveSessions {
    inner: Arc<Inner>,
}

/// A session slot (`max_sessions`), held from admission to the end of the session.
pub struct Slot {
    live: LiveSessions,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.inner.slots.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A registered session.
pub struct SessionHandle {
    /// Its id and what is known of it.
    pub info: SessionInfo,
    /// Fires when the proxy ends the session.
    pub ended: oneshot::Receiver<Policy>,
    /// Keeps it registered; dropping it unregisters the session.
    pub registration: Registration,
}

/// A session's place in the registry, removed when this is dropped.
pub struct Registration {
    live: LiveSessions,
    id: Uuid,
    /// The `end_reason` recorded when it is dropped.
    reason: &'static str,
}

impl Registration {
    /// Says why the session ended (recorded when this is dropped); [`NOT_STARTED`] otherwise.
    pub fn finish(&mut self, reason: &'static str) {
        self.reason = reason;
    }
}

impl LiveSessions {
    /// The revocation generation; read it before checking a token, and register with it.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Takes a session slot if fewer than `max` are taken (`max` may change on a reload: sessions
    /// above a lowered limit go on, new ones wait until enough have ended).
    pub fn try_slot(&self, max: usize) -> Option<Slot> {
        let taken = self.inner.slots.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1));
        taken.ok().map(|_| Slot { live: self.clone() })
    }

    /// Whether a slot is free under `max`.
    pub fn has_slot(&self, max: usize) -> bool {
        self.inner.slots.load(Ordering::Acquire) < max
    }

    /// Sends starts and ends of sessions to the cluster's recorder from now on (once).
    pub(crate) fn record_to(&self, recorder: UnboundedSender<Record>) {
        let _ = self.inner.recorder.set(recorder);
    }

    /// Registers a session whose token was checked after `generation` was read.
    pub fn register(&self, meta: SessionMeta, generation: u64) -> Result<SessionHandle, NotRegistered> {
        let mut st = self.lock();
        if st.closing {
            return Err(NotRegistered::ShuttingDown);
        }
        if st.revoked.get(&meta.instance).is_some_and(|(g, _)| *g > generation) {
            return Err(NotRegistered::Revoked);
        }
        let info = SessionInfo {
            id: Uuid::new_v4(),
            instance: meta.instance,
            instance_name: meta.instance_name,
            node: meta.node,
            client: meta.client,
            console_type: meta.console_type,
            view_only: meta.view_only,
            minted_by: meta.minted_by,
            started: SystemTime::now(),
            counters: Arc::default(),
        };
        let (tx, rx) = oneshot::channel();
        st.sessions.insert(info.id, Entry { info: info.clone(), end: Some(tx) });
        drop(st);
        if let Some(recorder) = self.inner.recorder.get() {
            let _ = recorder.send(Record::Started(info.clone()));
        }
        Ok(SessionHandle { registration: Registration { live: self.clone(), id: info.id, reason: NOT_STARTED }, info, ended: rx })
    }

    /// Ends every live session of an instance and refuses its sessions still being admitted;
    /// call it after the instance's tokens were revoked in the store. Returns how many it ended.
    pub fn end_instance(&self, instance: Uuid, why: Policy) -> usize {
        let mut st = self.lock();
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let now = Instant::now();
        st.revoked.retain(|_, (_, at)| now.duration_since(*at) < REVOCATION_MEMORY);
        st.revoked.insert(instance, (generation, now));
        signal(st.sessions.values_mut().filter(|e| e.info.instance == instance), why)
    }

    /// Ends every live session of an instance, without revoking anything (its tokens stay
    /// valid: sessions being admitted go on). Returns how many it ended.
    pub fn end_sessions_of(&self, instance: Uuid, why: Policy) -> usize {
        signal(self.lock().sessions.values_mut().filter(|e| e.info.instance == instance), why)
    }

    /// Ends one session; `false` if there is no such session here (or it was told already).
    pub fn end_session(&self, id: Uuid, why: Policy) -> bool {
        signal(self.lock().sessions.get_mut(&id), why) == 1
    }

    /// Whether this session is live here.
    pub fn holds(&self, id: Uuid) -> bool {
        self.lock().sessions.contains_key(&id)
    }

    /// Refuses new sessions from now on (the shutdown has begun).
    pub fn stop_admitting(&self) {
        self.lock().closing = true;
    }

    /// Whether the shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.lock().closing
    }

    /// Ends every live session; returns how many.
    pub fn end_all(&self, why: Policy) -> usize {
        signal(self.lock().sessions.values_mut(), why)
    }

    /// How many sessions are live.
    pub fn count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Every live session.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut all: Vec<_> = self.lock().sessions.values().map(|e| e.info.clone()).collect();
        all.sort_by_key(|i| (i.started, i.id));
        all
    }

    /// Bytes relayed so far by every session of this process, ended or live: (to the browser,
    /// to the server). Read at scrape time; the relay only keeps its per-session counters.
    pub fn relayed_bytes(&self) -> (u64, u64) {
        let st = self.lock();
        let (mut down, mut up) = st.ended_bytes;
        for e in st.sessions.values() {
            down += e.info.counters.to_browser.load(Ordering::Relaxed);
            up += e.info.counters.to_server.load(Ordering::Relaxed);
        }
        (down, up)
    }

    /// Waits until no session is live.
    pub async fn wait_empty(&self) {
        loop {
            let emptied = self.inner.emptied.notified();
            if self.count() == 0 {
                return;
            }
            emptied.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Tells each entry why it ends (the first reason wins); returns how many were told.
fn signal<'a>(entries: impl IntoIterator<Item = &'a mut Entry>, why: Policy) -> usize {
    let mut n = 0;
    for e in entries {
        if let Some(tx) = e.end.take() {
            let _ = tx.send(why);
            n += 1;
        }
    }
    n
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The recorder hears of the end before `wait_empty` returns, so that a shutdown flushing
        // it after the drain finds every end.
        if let Some(recorder) = self.live.inner.recorder.get() {
            let _ = recorder.send(Record::Ended { id: self.id, at: SystemTime::now(), reason: self.reason });
        }
        let mut st = self.live.lock();
        if let Some(e) = st.sessions.remove(&self.id) {
            st.ended_bytes.0 += e.info.counters.to_browser.load(Ordering::Relaxed);
            st.ended_bytes.1 += e.info.counters.to_server.load(Ordering::Relaxed);
        }
        if st.sessions.is_empty() {
            self.live.inner.emptied.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests;
