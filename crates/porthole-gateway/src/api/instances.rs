//! Porthole's API extension for operators (`GET /v2.1/porthole/instances`, the dashboard's list):
//! every instance the key sees, across nodes, with its state, VNC endpoint, exposure and the
//! security audit's findings about it; nodes that could not be asked. A key limited to some
//! instances sees theirs only, and not the findings that name no instance it sees.

use super::auth::Caller;
use super::error::UnauthorizedBody;
use crate::state::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use porthole_compute::audit::{Finding, FindingKind};
use porthole_compute::Instance;
use serde::Serialize;
use utoipa::ToSchema;

/// One instance, as the dashboard shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct InstanceDoc {
    /// The instance UUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its libvirt node; null for a static target.
    pub node: Option<String>,
    /// As `virsh list` says it: running, idle, paused, shut off, …
    pub state: String,
    /// Whether a console can be opened now (running, idle or paused).
    pub has_console: bool,
    /// Where the proxy reaches its VNC server (`host:port`, or `graphics-fd on node N`); null
    /// when it has none now.
    pub vnc: Option<String>,
    /// Whether the domain's VNC server has a password.
    pub vnc_password: bool,
    /// Whether the audit found its VNC server reachable beyond loopback and the management
    /// networks; null when no audit ran (static targets, no nodes).
    pub exposed: Option<bool>,
    /// Whether it has a serial console the proxy can open.
    pub serial: bool,
    /// The audit's findings about it.
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
}

/// A node that could not be asked.
#[derive(Serialize, ToSchema)]
pub(crate) struct Unreachable {
    /// The node's name.
    pub node: String,
    /// Why not.
    pub error: String,
}

/// How the audit went.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditDoc {
    /// Whether an audit ran (it needs libvirt nodes).
    pub ran: bool,
    /// Set when no node could be audited.
    pub error: Option<String>,
    /// Findings about no listed instance (QEMU processes libvirt does not manage); admin keys
    /// that see every instance only.
    #[schema(value_type = Vec<Object>)]
    pub other_findings: Vec<Finding>,
}

/// `{"instances": [...], "unreachable": [...], "audit": {...}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct InstanceList {
    /// The instances, node by node, then the static targets.
    pub instances: Vec<InstanceDoc>,
    /// Nodes that could not be asked.
    pub unreachable: Vec<Unreachable>,
    /// The audit.
    pub audit: AuditDoc,
}

fn doc(i: &Instance, findings: Option<&[Finding]>) -> InstanceDoc {
    let mine: Vec<Finding> = findings
        .unwrap_or_default()
        .iter()
        .filter(|f| Some(f.node.as_str()) == i.node.as_deref() && f.instance == i.name)
        .cloned()
        .collect();
    let audited = findings.is_some() && i.node.is_some();
    InstanceDoc {
        id: i.uuid.to_string(),
        name: i.name.clone(),
        node: i.node.clone(),
        state: i.state.to_string(),
        has_console: i.state.has_console(),
        vnc: i.vnc.as_ref().map(ToString::to_string),
        vnc_password: i.graphics.as_ref().is_some_and(|g| g.passwd.is_some()),
        exposed: audited.then(|| mine.iter().any(|f| f.kind == FindingKind::Exposed)),
        serial: i.serial.is_some(),
        findings: mine,
    }
}

/// Lists the instances the key sees, with the audit's findings.
#[utoipa::path(get, path = "/v2.1/porthole/instances", responses((status = 200, body = InstanceList), (status = 401, body = UnauthorizedBody)))]
pub(crate) async fn list(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Json<InstanceList> {
    let inventory = state.inventory();
    let (survey, report) = tokio::join!(inventory.survey(), state.audit.current(inventory.as_ref()));
    let findings = report.as_ref().map(|r| r.findings.as_slice());
    let seen: Vec<&Instance> = survey.instances.iter().filter(|i| caller.sees(&i.name, i.node.as_deref())).collect();
    let instances = seen.iter().map(|i| doc(i, findings)).collect();
    let everything = caller.scope.is_unrestricted();
    let other_findings = match (&report, everything) {
        (Some(r), true) => {
            let listed = |f: &Finding| survey.instances.iter().any(|i| i.name == f.instance && i.node.as_deref() == Some(f.node.as_str()));
            r.findings.iter().filter(|f| !listed(f)).cloned().collect()
        }
        _ => Vec::new(),
    };
    // A scoped key learns of unreachable nodes only when it may see instances there.
    let unreachable = survey
        .unreachable
        .into_iter()
        .filter(|(node, _)| everything || caller.scope.nodes.is_empty() || caller.scope.nodes.contains(node))
        .map(|(node, error)| Unreachable { node, error })
        .collect();
    let audit = AuditDoc { ran: report.is_some(), error: report.as_ref().and_then(|r| r.error.clone()), other_findings };
    Json(InstanceList { instances, unreachable, audit })
}
