//! Live console sessions by instance, so that revoking an instance's consoles also closes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Why the proxy ends a session on its own (WebSocket close code 1008).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyClose {
    /// Close reason sent to the browser (short, says nothing about tokens).
    pub reason: &'static str,
}

type Slots = HashMap<Uuid, HashMap<u64, oneshot::Sender<PolicyClose>>>;

/// The registry of live sessions. Cheap to clone.
#[derive(Clone, Default)]
pub struct Sessions {
    /// Senders that end each session; a std mutex because it is never held across an await.
    inner: Arc<Mutex<Slots>>,
    next_id: Arc<AtomicU64>,
}

/// A registered session; dropping it unregisters.
pub struct SessionGuard {
    sessions: Sessions,
    instance: Uuid,
    id: u64,
    /// Fires when the session must end.
    pub closed: oneshot::Receiver<PolicyClose>,
}

impl Sessions {
    /// Registers a session of `instance`.
    pub fn register(&self, instance: Uuid) -> SessionGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().entry(instance).or_default().insert(id, tx);
        SessionGuard { sessions: self.clone(), instance, id, closed: rx }
    }

    /// Ends every live session of an instance; returns how many there were.
    pub fn close_instance(&self, instance: Uuid, why: PolicyClose) -> usize {
        let slots = self.lock().remove(&instance).unwrap_or_default();
        let n = slots.len();
        for (_, tx) in slots {
            let _ = tx.send(why.clone());
        }
        n
    }

    /// How many sessions are live.
    pub fn count(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut map = self.sessions.lock();
        if let Some(slots) = map.get_mut(&self.instance) {
            slots.remove(&self.id);
            if slots.is_empty() {
                map.remove(&self.instance);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_instance_signals_only_its_sessions() {
        let s = Sessions::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut ga1 = s.register(a);
        let mut ga2 = s.register(a);
        let mut gb = s.register(b);
        assert_eq!(s.count(), 3);
        assert_eq!(s.close_instance(a, PolicyClose { reason: "revoked" }), 2);
        assert_eq!((&mut ga1.closed).await.unwrap().reason, "revoked");
        assert_eq!((&mut ga2.closed).await.unwrap().reason, "revoked");
        assert!(gb.closed.try_recv().is_err());
        drop(gb);
        assert_eq!(s.count(), 0);
    }
}
