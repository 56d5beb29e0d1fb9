//! Live sessions: who is connected to which instance, so that a reset, a stopped VM, an operator
//! or the shutdown can end them, and so that nothing admitted before a revoke outlives it.
//!
//! A session is registered at admission, before the upgrade is answered. A revoke bumps a
//! generation and remembers it per instance; admission reads the generation *before* it checks
//! the token and registers with it, so a token checked a moment before a revoke finishes is
//! refused at registration, and one registered before is signalled by the revoke itself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
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

/// Bytes relayed by one session, updated by its relay.
#[derive(Debug, Default)]
pub struct Counters {
    /// From the browser to the VNC server.
    pub to_server: AtomicU64,
    /// From the VNC server to the browser.
    pub to_browser: AtomicU64,
}

/// What is known of a live session.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// This process's id for it.
    pub id: u64,
    /// Its instance.
    pub instance: Uuid,
    /// The browser's address (from `X-Forwarded-For` behind a trusted proxy).
    pub client: IpAddr,
    /// When it was admitted.
    pub started: SystemTime,
    /// Bytes relayed so far.
    pub counters: Arc<Counters>,
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
    next_id: u64,
    sessions: HashMap<u64, Entry>,
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
    id: u64,
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

    /// Registers a session of `instance` whose token was checked after `generation` was read.
    pub fn register(&self, instance: Uuid, generation: u64, client: IpAddr) -> Result<SessionHandle, NotRegistered> {
        let mut st = self.lock();
        if st.closing {
            return Err(NotRegistered::ShuttingDown);
        }
        if st.revoked.get(&instance).is_some_and(|(g, _)| *g > generation) {
            return Err(NotRegistered::Revoked);
        }
        st.next_id += 1;
        let info = SessionInfo { id: st.next_id, instance, client, started: SystemTime::now(), counters: Arc::default() };
        let (tx, rx) = oneshot::channel();
        st.sessions.insert(info.id, Entry { info: info.clone(), end: Some(tx) });
        Ok(SessionHandle { registration: Registration { live: self.clone(), id: info.id }, info, ended: rx })
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

    /// Ends one session; `false` if there is no such session.
    pub fn end_session(&self, id: u64, why: Policy) -> bool {
        signal(self.lock().sessions.get_mut(&id), why) == 1
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
        all.sort_by_key(|i| i.id);
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
