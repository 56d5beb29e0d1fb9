//! `porthole audit`: the findings as a table or JSON, `--fix` to rewrite listen addresses, and the
//! warnings `serve` logs at start.

use crate::config::Config;
use porthole_compute::audit::{audit, Finding, FindingKind, Severity};
use porthole_compute::libvirt::LibvirtNode;
use porthole_compute::{Compute, Inventory as _, StaticTargets};
use std::process::ExitCode;

/// What `--fix` should do.
pub struct Fix {
    /// Change the definitions (`--yes`); otherwise only show the changes.
    pub apply: bool,
    /// Stop and start each fixed domain.
    pub hard_reboot: bool,
    /// Only these instances; all with findings when empty.
    pub instances: Vec<String>,
}

/// Runs the audit; exit 0 clean, 1 findings, 2 when it could not run.
pub async fn run(config: &Config, json: bool, fix: Option<Fix>) -> ExitCode {
    let policy = config.audit_policy();
    let nodes = config.node_configs();
    let (findings, failed) = match audit(&nodes, &policy).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("porthole: audit could not run: {e}");
            return ExitCode::from(2);
        }
    };
    for (node, e) in &failed {
        eprintln!("porthole: node {node:?} could not be audited: {e}");
    }
    if let Some(fix) = fix {
        return run_fix(config, &findings, fix).await;
    }
    if json {
        match serde_json::to_string_pretty(&serde_json::json!({ "findings": findings })) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("porthole: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print_table(&findings);
    }
    if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_table(findings: &[Finding]) {
    if findings.is_empty() {
        println!("No findings: every VNC listener is where it should be.");
        return;
    }
    println!("{:<28}  {:<8}  {:<16}  {:<5}  {:<19}  {:<6}  FIX", "INSTANCE", "NODE", "LISTEN", "PORT", "FINDING", "SEV");
    for f in findings {
        let port = f.port.map_or("-".to_owned(), |p| p.to_string());
        println!("{:<28}  {:<8}  {:<16}  {port:<5}  {:<19}  {:<6}  {}", f.instance, f.node, f.listen, f.kind, f.severity, f.fix);
    }
}

async fn run_fix(config: &Config, findings: &[Finding], fix: Fix) -> ExitCode {
    let compute = Compute::new(config.node_configs(), StaticTargets::default());
    let mut wanted: Vec<String> = fix.instances.clone();
    if wanted.is_empty() {
        wanted = findings.iter().filter(|f| f.kind != FindingKind::UnmanagedListener).map(|f| f.instance.clone()).collect();
        wanted.dedup();
    }
    if wanted.is_empty() {
        println!("Nothing to fix.");
        return ExitCode::SUCCESS;
    }
    let mut code = ExitCode::SUCCESS;
    for key in wanted {
        let instance = match compute.find(&key).await {
            Ok(i) => i,
            Err(e) => {
                eprintln!("porthole: {e}");
                code = ExitCode::from(2);
                continue;
            }
        };
        let Some(node_cfg) = config.node_configs().into_iter().find(|n| Some(&n.name) == instance.node.as_ref()) else {
            eprintln!("porthole: {:?} is not a libvirt domain; nothing to fix", instance.name);
            continue;
        };
        let node = LibvirtNode::new(node_cfg);
        let server_listen = config.vnc.server_listen.clone();
        match node.rewrite_listen(instance.uuid, server_listen.clone(), fix.apply).await {
            Ok(None) => println!("{}: the definition already listens on {server_listen}", instance.name),
            Ok(Some(old)) if !fix.apply => {
                println!("{}: listen {old} -> {server_listen} in the persistent definition (not changed: add --yes)", instance.name);
            }
            Ok(Some(old)) => println!("{}: listen {old} -> {server_listen} in the persistent definition", instance.name),
            Err(e) => {
                eprintln!("porthole: {}: {e} (a transient domain has no persistent definition to fix)", instance.name);
                code = ExitCode::from(2);
                continue;
            }
        }
        if fix.apply && fix.hard_reboot {
            match node.hard_reboot(instance.uuid).await {
                Ok(()) => println!("{}: hard rebooted (stopped and started)", instance.name),
                Err(e) => {
                    eprintln!("porthole: {}: hard reboot failed: {e}", instance.name);
                    code = ExitCode::from(2);
                }
            }
        } else if fix.apply {
            println!("{}: takes effect at the next hard reboot (or run again with --hard-reboot)", instance.name);
        }
    }
    code
}

/// At `serve` start: one warning per instance whose VNC server is exposed. Runs beside the
/// server (a hung node must not delay serving consoles on the others).
pub fn warn_exposed(config: &Config) {
    if config.nodes.is_empty() {
        return;
    }
    let (nodes, policy) = (config.node_configs(), config.audit_policy());
    tokio::spawn(async move {
        let Ok((findings, _)) = audit(&nodes, &policy).await else { return };
        let loud =
            |f: &&Finding| f.kind == FindingKind::Exposed || (f.kind == FindingKind::UnmanagedListener && f.severity == Severity::High);
        for f in findings.iter().filter(loud) {
            tracing::warn!(instance = %f.instance, node = %f.node, listen = %f.listen, port = ?f.port, severity = %f.severity,
                fix = %f.fix, "VNC server reachable beyond loopback and the management networks");
        }
    });
}
