//! What every request handler shares: the settings and the inventory (both replaced whole on a
//! reload: a request or session keeps the snapshot it started with), the token authority, the
//! live sessions, the failed-token throttle, the metrics and the last audit.

use crate::audit::AuditCache;
use crate::live::{LiveSessions, Policy};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::throttle::Throttle;
use porthole_compute::Inventory;
use porthole_tokens::ConsoleAuth;
use std::sync::{Arc, PoisonError, RwLock};
use uuid::Uuid;

/// Shared state of the gateway. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The settings in force; a std lock, held only to clone the `Arc`.
    settings: Arc<RwLock<Arc<Settings>>>,
    /// The inventory in force (nodes and targets).
    inventory: Arc<RwLock<Arc<dyn Inventory>>>,
    /// Token validation.
    pub auth: ConsoleAuth,
    /// Live sessions.
    pub live: LiveSessions,
    /// Failed tokens per client.
    pub(crate) throttle: Arc<Throttle>,
    /// Prometheus metrics (the store's operations are reported to it too).
    pub metrics: Arc<Metrics>,
    /// The last security audit, shared by `/metrics` and the dashboard.
    pub(crate) audit: AuditCache,
}

impl AppState {
    /// Assembles the state.
    /// The token store's operations are timed into the metrics from here on.
    pub fn new(settings: Settings, auth: ConsoleAuth, inventory: Arc<dyn Inventory>) -> Self {
        let metrics = Arc::new(Metrics::new());
        AppState {
            settings: Arc::new(RwLock::new(Arc::new(settings))),
            inventory: Arc::new(RwLock::new(inventory)),
            auth: auth.with_observer(metrics.clone()),
            live: LiveSessions::default(),
            throttle: Arc::default(),
            metrics,
            audit: AuditCache::default(),
        }
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The inventory in force now.
    pub fn inventory(&self) -> Arc<dyn Inventory> {
        self.inventory.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts new settings in force (a reload); live sessions keep theirs.
    pub fn replace_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    /// Puts a new inventory in force (a reload).
    pub fn replace_inventory(&self, inventory: Arc<dyn Inventory>) {
        *self.inventory.write().unwrap_or_else(PoisonError::into_inner) = inventory;
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
