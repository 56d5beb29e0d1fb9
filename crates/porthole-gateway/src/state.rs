//! What every request handler shares: the settings and the inventory (both replaced whole on a
//! reload: a request or session keeps the snapshot it started with), the token authority, the
//! live sessions, this process's place in the cluster, the failed-token throttle, the metrics
//! and the last audit.

use crate::audit::AuditCache;
use crate::cluster::{Cluster, ClusterSettings};
use crate::live::{LiveSessions, Policy};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::throttle::Throttle;
use porthole_compute::Inventory;
use porthole_tokens::cluster::RevokeReason;
use porthole_tokens::ConsoleAuth;
use porthole_tokens::{ClusterEvent, ClusterStore};
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
    /// This process in the cluster: sessions recorded in the store, events from other processes.
    pub cluster: Cluster,
    /// Failed tokens per client.
    pub(crate) throttle: Arc<Throttle>,
    /// Prometheus metrics (the store's operations are reported to it too).
    pub metrics: Arc<Metrics>,
    /// The last security audit, shared by `/metrics` and the dashboard.
    pub(crate) audit: AuditCache,
}

impl AppState {
    /// Assembles the state of a process on its own: sessions are recorded in memory
    /// ([`Cluster::local`]). Must run inside a tokio runtime.
    pub fn new(settings: Settings, auth: ConsoleAuth, inventory: Arc<dyn Inventory>) -> Self {
        let live = LiveSessions::default();
        let cluster = Cluster::local(&live);
        Self::assemble(settings, auth, inventory, live, cluster)
    }

    /// Assembles the state of a process that shares `store` with others (see [`Cluster::start`]).
    pub async fn join(
        settings: Settings,
        auth: ConsoleAuth,
        inventory: Arc<dyn Inventory>,
        store: Arc<dyn ClusterStore>,
        cluster: ClusterSettings,
    ) -> porthole_tokens::Result<Self> {
        let live = LiveSessions::default();
        let cluster = Cluster::start(store, cluster, &live).await?;
        Ok(Self::assemble(settings, auth, inventory, live, cluster))
    }

    /// The token store's operations are timed into the metrics from here on.
    fn assemble(settings: Settings, auth: ConsoleAuth, inventory: Arc<dyn Inventory>, live: LiveSessions, cluster: Cluster) -> Self {
        let metrics = Arc::new(Metrics::new());
        AppState {
            settings: Arc::new(RwLock::new(Arc::new(settings))),
            inventory: Arc::new(RwLock::new(inventory)),
            auth: auth.with_observer(metrics.clone()),
            live,
            cluster,
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

    /// Ends every console of an instance: revokes its tokens in the store, ends its live
    /// sessions here (and refuses the ones being admitted) with `why`, then tells the other
    /// processes, which do the same within a second. Returns (tokens revoked, sessions ended
    /// here); the sessions here end even when the store fails.
    pub async fn end_consoles(&self, instance: Uuid, why: Policy) -> porthole_tokens::Result<(u64, usize)> {
        // The store first: a session admitted after the generation bump must not find the token.
        let revoked = self.auth.revoke_instance(instance).await;
        let ended = self.live.end_instance(instance, why);
        let revoked = revoked?;
        let reason = if why == Policy::InstanceStopped { RevokeReason::InstanceStopped } else { RevokeReason::Reset };
        self.cluster.publish(ClusterEvent::Revoked { instance, reason }).await?;
        Ok((revoked, ended))
    }
}
