//! Prometheus metrics (prometheus-client, text format 0.0.4): what the gateway counts as it runs,
//! and what is read at scrape time (bytes relayed, node reachability, audit findings).
//!
//! The relay's hot path gains nothing: bytes come from the per-session counters it already keeps,
//! summed at scrape time with what ended sessions left behind ([`crate::live`] adds those under
//! the same lock that unregisters a session, so a total never goes back). Every name is in the
//! README's table; `porthole_` prefixes them all.

use crate::end::SessionEnd;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    /// The libvirt node; empty for a static target.
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenCheckLabels {
    /// `check` (the console page's `POST /console/check`) or `upgrade` (the WebSocket).
    stage: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabel {
    severity: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 16 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric of the process, registered once; cheap to share (`Arc`).
pub struct Metrics {
    registry: Registry,
    live: Family<NodeLabel, Gauge>,
    ended: Family<ReasonLabel, Counter>,
    setup: Histogram,
    token_checks: Family<TokenCheckLabels, Counter>,
    handshake_failures: Family<CauseLabel, Counter>,
    api_requests: Family<ApiLabels, Counter>,
    api_latency: HistogramFamily<RouteLabels>,
    store_latency: HistogramFamily<OpLabel>,
    store_errors: Family<OpLabel, Counter>,
    relayed: Family<DirectionLabel, Counter>,
    /// Totals already added to `relayed` (to browser, to server), so a scrape adds what is new;
    /// a std lock held only while a scrape adds.
    relayed_seen: Mutex<(u64, u64)>,
    node_up: Family<NodeLabel, Gauge>,
    findings: Family<SeverityLabel, Gauge>,
    audit_ok: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("porthole");
        let m = Metrics {
            live: Family::default(),
            ended: Family::default(),
            setup: latency(),
            token_checks: Family::default(),
            handshake_failures: Family::default(),
            api_requests: Family::default(),
            api_latency: Family::new_with_constructor(latency),
            store_latency: Family::new_with_constructor(latency),
            store_errors: Family::default(),
            relayed: Family::default(),
            relayed_seen: Mutex::new((0, 0)),
            node_up: Family::default(),
            findings: Family::default(),
            audit_ok: Gauge::default(),
            registry: Registry::default(),
        };
        r.register("sessions_live", "Console sessions relaying now, by libvirt node (empty for static targets)", m.live.clone());
        r.register("sessions_ended", "Console sessions ended, by how they ended", m.ended.clone());
        r.register(
            "session_setup_seconds",
            "Time from the WebSocket request to the relay's start (admission, VNC server connection, security handshake)",
            m.setup.clone(),
        );
        r.register(
            "token_checks",
            "Console admissions by outcome (ok, invalid, expired, revoked, origin, moved, …)",
            m.token_checks.clone(),
        );
        r.register(
            "security_handshake_failures",
            "RFB security handshakes with VNC servers that failed, by cause",
            m.handshake_failures.clone(),
        );
        r.register("relayed_bytes", "Bytes relayed by console sessions, by direction (to_server, to_browser)", m.relayed.clone());
        r.register("api_requests", "API requests by route, method and status", m.api_requests.clone());
        r.register("api_request_duration_seconds", "API request latency by route and method", m.api_latency.clone());
        r.register("store_operation_duration_seconds", "Token store operation latency by operation", m.store_latency.clone());
        r.register("store_errors", "Token store operations that failed, by operation", m.store_errors.clone());
        r.register("node_up", "Whether each libvirt node answered at the last scrape (1) or not (0)", m.node_up.clone());
        r.register("audit_findings", "Security audit findings at the last audit, by severity", m.findings.clone());
        r.register(
            "audit_ok",
            "Whether the last security audit could ask at least one node (1, also when there is no node) or none (0)",
            m.audit_ok.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// A session starts relaying on `node`; the guard counts it live until dropped.
    pub(crate) fn session_live(&self, node: Option<&str>) -> LiveGuard {
        let gauge = self.live.get_or_create_owned(&NodeLabel { node: node.unwrap_or_default().to_owned() });
        gauge.inc();
        LiveGuard { gauge }
    }

    /// A session ended.
    pub(crate) fn session_ended(&self, end: &SessionEnd) {
        self.ended.get_or_create(&ReasonLabel { reason: end.reason() }).inc();
        if let crate::end::EndKind::Handshake { cause, .. } = &end.kind {
            self.handshake_failures.get_or_create(&CauseLabel { cause }).inc();
        }
    }

    /// A session's relay started `setup` after its WebSocket request arrived.
    pub(crate) fn session_set_up(&self, setup: Duration) {
        self.setup.observe(setup.as_secs_f64());
    }

    /// Admission's answer to a console request at `stage` (`check` or `upgrade`).
    pub(crate) fn token_checked(&self, stage: &'static str, outcome: &'static str) {
        self.token_checks.get_or_create(&TokenCheckLabels { stage, outcome }).inc();
    }

    /// An API request on `route` (the matched path, e.g. `/v2.1/servers/{server_id}`).
    pub(crate) fn api_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.api_requests.get_or_create(&ApiLabels { route: route.to_owned(), method: method.to_owned(), status }).inc();
        self.api_latency.get_or_create(&RouteLabels { route: route.to_owned(), method: method.to_owned() }).observe(elapsed.as_secs_f64());
    }

    /// Brings the bytes counters up to the totals the live registry reports.
    pub(crate) fn relayed_up_to(&self, to_browser: u64, to_server: u64) {
        let mut seen = self.relayed_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let add = |direction, total: u64, seen: &mut u64| {
            self.relayed.get_or_create(&DirectionLabel { direction }).inc_by(total.saturating_sub(*seen));
            *seen = (*seen).max(total);
        };
        add("to_browser", to_browser, &mut seen.0);
        add("to_server", to_server, &mut seen.1);
    }

    /// Each libvirt node and whether it answered now; nodes no longer configured disappear.
    pub(crate) fn nodes_answered(&self, nodes: impl IntoIterator<Item = (String, bool)>) {
        self.node_up.clear();
        for (node, up) in nodes {
            self.node_up.get_or_create(&NodeLabel { node }).set(i64::from(up));
        }
    }

    /// The findings of the last audit by severity (none without an audit).
    pub(crate) fn audited(&self, report: Option<&porthole_compute::audit::AuditReport>) {
        use porthole_compute::audit::Severity;
        self.findings.clear();
        let Some(report) = report else {
            // Nothing to audit (no libvirt nodes): nothing failed either.
            self.audit_ok.set(1);
            return;
        };
        for severity in [Severity::High, Severity::Medium, Severity::Low] {
            let n = report.findings.iter().filter(|f| f.severity == severity).count();
            self.findings.get_or_create(&SeverityLabel { severity: severity.as_str() }).set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.audit_ok.set(i64::from(report.error.is_none()));
    }

    /// The text of every metric, in the Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

impl porthole_tokens::auth::StoreObserver for Metrics {
    fn observe(&self, op: &'static str, elapsed: Duration, ok: bool) {
        self.store_latency.get_or_create(&OpLabel { op }).observe(elapsed.as_secs_f64());
        if !ok {
            self.store_errors.get_or_create(&OpLabel { op }).inc();
        }
    }
}

/// Counts a session live until dropped, however the session ends.
pub(crate) struct LiveGuard {
    gauge: Gauge,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests;
