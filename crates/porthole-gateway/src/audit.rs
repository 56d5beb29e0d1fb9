//! The security audit as the gateway serves it (metrics, the dashboard): run on demand, at most
//! once per [`MAX_AGE`], one run at a time; callers in between share the last report.

use porthole_compute::audit::AuditReport;
use porthole_compute::Inventory;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a report is served before the audit runs again.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(30);

/// A report and when it was made.
type Stamped = (Instant, Arc<AuditReport>);

/// The last report and when it was made. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct AuditCache {
    /// A tokio lock, held across the audit so that only one runs at a time.
    last: Arc<tokio::sync::Mutex<Option<Stamped>>>,
}

impl AuditCache {
    /// The current report; `None` when the inventory has nothing to audit (no libvirt nodes).
    pub(crate) async fn current(&self, inventory: &dyn Inventory) -> Option<Arc<AuditReport>> {
        let mut cached = self.last.lock().await;
        if let Some((at, report)) = cached.as_ref() {
            if at.elapsed() < MAX_AGE {
                return Some(report.clone());
            }
        }
        let report = Arc::new(inventory.audit().await?);
        *cached = Some((Instant::now(), report.clone()));
        Some(report)
    }
}
