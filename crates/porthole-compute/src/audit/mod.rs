//! The security audit (`porthole audit`): VNC servers exposed beyond loopback and the management
//! networks, QEMU listeners libvirt does not know, listen addresses that drifted from
//! `server_listen` or from the persistent definition, and listeners without VNC authentication.

pub mod cmdline;
pub mod fix;
pub mod sockets;

use crate::domain_xml::{Listen, VncGraphics};
use crate::instance::InstanceState;
use crate::libvirt::{AuditedDomain, LibvirtNode, NodeConfig};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What the audit compares against.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `[vnc] server_listen`: where VNC servers should listen.
    pub server_listen: String,
    /// `[audit] management_networks`: addresses there are not "exposed".
    pub management_networks: Vec<IpNet>,
}

/// One problem.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Instance name (or `qemu pid N` for an unknown QEMU).
    pub instance: String,
    /// Node name.
    pub node: String,
    /// The listen address concerned.
    pub listen: String,
    /// The port, if there is one.
    pub port: Option<u16>,
    /// What is wrong.
    pub kind: FindingKind,
    /// How bad it is.
    pub severity: Severity,
    /// How to fix it, one line.
    pub fix: String,
}

/// What an audit finding is about; serialized and printed as the words in the README's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FindingKind {
    /// `exposed`: a running domain's VNC server listens beyond loopback and the management networks.
    Exposed,
    /// `no-vnc-auth`: a listener reachable beyond loopback has no VNC password.
    NoVncAuth,
    /// `drift-server-listen`: the live listen address is not `[vnc] server_listen`.
    DriftServerListen,
    /// `drift-persistent`: the persistent definition says another address than the live domain.
    DriftPersistent,
    /// `unmanaged-listener`: a QEMU that libvirt does not manage listens on TCP.
    UnmanagedListener,
}

impl FindingKind {
    /// The word in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Exposed => "exposed",
            FindingKind::NoVncAuth => "no-vnc-auth",
            FindingKind::DriftServerListen => "drift-server-listen",
            FindingKind::DriftPersistent => "drift-persistent",
            FindingKind::UnmanagedListener => "unmanaged-listener",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// How bad a finding is: `high`, `medium` or `low`. Ordered, `Low` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
}

impl Severity {
    /// The word in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether a domain's VNC server can be reached beyond this host and the management networks: it
/// runs, and its live graphics listen on TCP at a wildcard (0.0.0.0, ::) or another outside
/// address. The audit's `exposed` finding and the EXPOSED column of `porthole list` both ask this.
pub fn exposed(state: InstanceState, live: Option<&VncGraphics>, policy: &Policy) -> bool {
    let Some(addr) = live.filter(|_| state.has_console()).and_then(tcp_address) else { return false };
    matches!(exposure(&addr, policy), Exposure::Wildcard | Exposure::Exposed)
}

/// Whether a listen address is reachable beyond this host and the management networks.
pub fn exposure(addr: &str, policy: &Policy) -> Exposure {
    let Ok(ip) = addr.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() else {
        return if addr == "localhost" { Exposure::Loopback } else { Exposure::Exposed };
    };
    if ip.is_unspecified() {
        Exposure::Wildcard
    } else if ip.is_loopback() {
        Exposure::Loopback
    } else if policy.management_networks.iter().any(|n| n.contains(&ip)) {
        Exposure::Management
    } else {
        Exposure::Exposed
    }
}

/// Where a listener can be reached from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// This host only.
    Loopback,
    /// The management networks only.
    Management,
    /// Every network (0.0.0.0, ::).
    Wildcard,
    /// Some other network.
    Exposed,
}

fn tcp_address(g: &VncGraphics) -> Option<String> {
    match &g.listen {
        Listen::Default => Some("127.0.0.1".into()),
        l => l.address().map(str::to_owned),
    }
}

/// The findings for one domain of `node`.
pub fn check_domain(d: &AuditedDomain, node: &str, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let running = d.state.has_console();
    let finding = |listen: &str, port, kind, severity, fix: String| Finding {
        instance: d.name.clone(),
        node: node.to_owned(),
        listen: listen.to_owned(),
        port,
        kind,
        severity,
        fix,
    };
    let fix_cmd = format!("porthole audit --fix {} --yes --hard-reboot", d.name);
    if let Some(live) = d.live.as_ref().filter(|_| running) {
        if let Some(addr) = tcp_address(live) {
            if exposed(d.state, Some(live), policy) {
                let severity = if live.passwd.is_none() { Severity::High } else { Severity::Medium };
                out.push(finding(&addr, live.port, FindingKind::Exposed, severity, fix_cmd.clone()));
            }
            if exposure(&addr, policy) != Exposure::Loopback && live.passwd.is_none() {
                out.push(finding(
                    &addr,
                    live.port,
                    FindingKind::NoVncAuth,
                    Severity::Medium,
                    format!(
                        "listen on {} only, or set a VNC password (domain XML passwd) and auth_schemes = [\"vnc\"]",
                        policy.server_listen
                    ),
                ));
            }
            if addr != policy.server_listen {
                out.push(finding(&addr, live.port, FindingKind::DriftServerListen, Severity::Low, fix_cmd.clone()));
            }
        }
        if let (Some(defined), Some(live_addr)) = (d.defined.as_ref(), tcp_address(live)) {
            if let Some(def_addr) = tcp_address(defined) {
                if def_addr != live_addr {
                    out.push(finding(&live_addr, live.port, FindingKind::DriftPersistent, Severity::Low, format!(
                        "the definition says {def_addr}; it takes effect only after a hard reboot: porthole audit --fix {} --yes --hard-reboot",
                        d.name
                    )));
                }
            }
        }
    }
    out
}

/// What one audit of every node found (the gateway serves it to metrics and the dashboard).
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditReport {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// `(node, error)` for each node that could not be audited.
    pub failed: Vec<(String, String)>,
    /// Set when no node could be audited at all.
    pub error: Option<String>,
}

impl AuditReport {
    /// Runs [`audit`] and keeps whatever it says.
    pub async fn run(nodes: &[NodeConfig], policy: &Policy) -> Self {
        match audit(nodes, policy).await {
            Ok((findings, failed)) => AuditReport { findings, failed, error: None },
            Err(e) => AuditReport { error: Some(e), ..AuditReport::default() },
        }
    }
}

/// Audits every node, all at once: `Err` only when no node could be asked at all.
pub async fn audit(nodes: &[NodeConfig], policy: &Policy) -> Result<(Vec<Finding>, Vec<(String, String)>), String> {
    let mut asks = tokio::task::JoinSet::new();
    for (i, cfg) in nodes.iter().enumerate() {
        let node = LibvirtNode::new(cfg.clone());
        asks.spawn(async move { (i, node.audit_domains().await) });
    }
    let mut answers: Vec<Option<crate::Result<Vec<AuditedDomain>>>> = vec![None; nodes.len()];
    while let Some(joined) = asks.join_next().await {
        if let Ok((i, answer)) = joined {
            answers[i] = Some(answer);
        }
    }
    let mut findings = Vec::new();
    let mut failed = Vec::new();
    let mut known: Vec<(String, u16)> = Vec::new();
    let mut local_nodes = Vec::new();
    for (cfg, answer) in nodes.iter().zip(answers) {
        match answer {
            Some(Ok(domains)) => {
                for d in &domains {
                    findings.extend(check_domain(d, &cfg.name, policy));
                    if let Some(g) = &d.live {
                        known.extend(g.port.map(|p| (tcp_address(g).unwrap_or_default(), p)));
                        known.extend(g.websocket.map(|p| (tcp_address(g).unwrap_or_default(), p)));
                    }
                }
                if is_local(&cfg.libvirt_uri) {
                    local_nodes.push(cfg.name.clone());
                }
            }
            Some(Err(e)) => failed.push((cfg.name.clone(), e.to_string())),
            None => failed.push((cfg.name.clone(), "the audit task failed".to_owned())),
        }
    }
    if !nodes.is_empty() && failed.len() == nodes.len() {
        let why: Vec<String> = failed.iter().map(|(n, e)| format!("{n}: {e}")).collect();
        return Err(format!("no node could be audited ({})", why.join("; ")));
    }
    if let Some(node) = local_nodes.first() {
        findings.extend(unmanaged(node, &known, policy));
    }
    Ok((findings, failed))
}

fn is_local(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(_, rest)| rest.starts_with('/'))
}

/// QEMU listeners on this host that no known domain accounts for. Severity: high when reachable
/// beyond loopback and the management networks without client authentication (no password, SASL
/// or verified client certificate on its `-vnc`), medium when reachable but authenticated, low when
/// local only.
fn unmanaged(node: &str, known: &[(String, u16)], policy: &Policy) -> Vec<Finding> {
    let Ok(scan) = sockets::scan_qemu_processes() else { return Vec::new() };
    unmanaged_findings(node, known, policy, &scan.processes)
}

fn unmanaged_findings(node: &str, known: &[(String, u16)], policy: &Policy, processes: &[sockets::QemuProcess]) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in processes {
        let authenticated = p.args.vnc.is_some_and(|v| v.authenticates_clients());
        for (addr, port) in p.listeners.iter().filter(|(_, port)| !known.iter().any(|(_, k)| k == port)) {
            let addr = addr.to_string();
            let severity = match exposure(&addr, policy) {
                Exposure::Wildcard | Exposure::Exposed if authenticated => Severity::Medium,
                Exposure::Wildcard | Exposure::Exposed => Severity::High,
                _ => Severity::Low,
            };
            out.push(Finding {
                instance: format!("{} (pid {})", p.label(), p.pid),
                node: node.to_owned(),
                listen: addr,
                port: Some(*port),
                kind: FindingKind::UnmanagedListener,
                severity,
                fix: format!(
                    "a QEMU that libvirt does not manage listens here; stop it (kill {}) or restart it with -vnc {}:N,password=on",
                    p.pid, policy.server_listen
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
