//! What every request handler shares: settings, the token authority, the inventory, the live
//! sessions and the session slots.

use crate::live::{LiveSessions, Policy};
use crate::settings::Settings;
use crate::throttle::Throttle;
use porthole_compute::Inventory;
use porthole_tokens::ConsoleAuth;
use std::sync::Arc;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Shared state of the gateway. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Settings, read-only.
    pub settings: Arc<Settings>,
    /// Token validation.
    pub auth: ConsoleAuth,
    /// Instances and their current endpoints.
    pub inventory: Arc<dyn Inventory>,
    /// Live sessions.
    pub live: LiveSessions,
    /// One permit per session, taken at admission: the `max_sessions` limit.
    pub(crate) slots: Arc<Semaphore>,
    /// Failed tokens per client.
    pub(crate) throttle: Arc<Throttle>,
}

impl AppState {
    /// Assembles the state.
    pub fn new(settings: Settings, auth: ConsoleAuth, inventory: Arc<dyn Inventory>) -> Self {
        let slots = Arc::new(Semaphore::new(settings.max_sessions));
        AppState { settings: Arc::new(settings), auth, inventory, live: LiveSessions::default(), slots, throttle: Arc::default() }
    }

    /// Ends every console of an instance: revokes its tokens in the store, then ends its live
    /// sessions (and the ones being admitted) with `why`. Returns (tokens revoked, sessions ended);
    /// the sessions end even when the store fails.
    pub async fn end_consoles(&self, instance: Uuid, why: Policy) -> porthole_tokens::Result<(u64, usize)> {
        // The store first: a session admitted after the generation bump must not find the token.
        let revoked = self.auth.revoke_instance(instance).await;
        let ended = self.live.end_instance(instance, why);
        Ok((revoked?, ended))
    }
}
