//! `porthole list` and `porthole vncdisplay`, and what makes an instance's console reachable.

use porthole_compute::audit::{exposed, Policy};
use porthole_compute::domain_xml::Listen;
use porthole_compute::{Compute, Endpoint, Instance, InstanceState, Inventory as _, SerialConsole};

use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct Row<'a> {
    uuid: String,
    name: &'a str,
    node: Option<&'a str>,
    state: InstanceState,
    vnc_listen: Option<String>,
    vnc_port: Option<u16>,
    vnc_password: bool,
    proxy_endpoint: Option<&'a Endpoint>,
    exposed: bool,
    /// The console device `virsh console` opens, if any (`null` otherwise).
    serial: Option<&'a SerialConsole>,
}

fn row<'a>(i: &'a Instance, policy: &Policy) -> Row<'a> {
    let g = i.graphics.as_ref();
    let listen = g.map(|g| match &g.listen {
        Listen::Address(a) => a.clone(),
        Listen::Network { network, address } => address.clone().unwrap_or_else(|| format!("network:{network}")),
        Listen::Socket(p) => format!("unix:{}", p.as_deref().unwrap_or("?")),
        Listen::None => "none".to_owned(),
        Listen::Default => "127.0.0.1".to_owned(),
    });
    let (vnc_host, vnc_port) = match &i.vnc {
        Some(Endpoint::Tcp { host, port }) => (Some(host.clone()), Some(*port)),
        _ => (None, None),
    };
    let listen = listen.or(vnc_host);
    let port = g.and_then(|g| g.port).or(vnc_port);
    Row {
        uuid: i.uuid.to_string(),
        name: &i.name,
        node: i.node.as_deref(),
        state: i.state,
        vnc_listen: listen,
        vnc_port: port,
        vnc_password: g.is_some_and(|g| g.passwd.is_some()),
        proxy_endpoint: i.vnc.as_ref(),
        exposed: exposed(i.state, g, policy),
        serial: i.serial.as_ref(),
    }
}

/// Prints every instance; nodes that failed are reported on stderr. EXPOSED is what the audit
/// calls `exposed` (running, listening beyond loopback and `[audit] management_networks`).
pub async fn list(compute: &Compute, policy: &Policy, json: bool) -> anyhow::Result<ExitCode> {
    let survey = compute.survey().await;
    let rows: Vec<Row<'_>> = survey.instances.iter().map(|i| row(i, policy)).collect();
    if json {
        let unreachable: Vec<_> = survey.unreachable.iter().map(|(n, e)| serde_json::json!({"node": n, "error": e})).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"instances": rows, "unreachable": unreachable}))?);
    } else {
        println!("{:<36}  {:<20}  {:<10}  {:<11}  {:<22}  {:<7}  SERIAL", "UUID", "NAME", "NODE", "STATE", "VNC", "EXPOSED");
        for r in &rows {
            let vnc = match (&r.vnc_listen, r.vnc_port) {
                (Some(l), Some(p)) if l.contains(':') && !l.starts_with("unix:") => format!("[{l}]:{p}"),
                (Some(l), Some(p)) => format!("{l}:{p}"),
                (Some(l), None) => l.clone(),
                (None, _) => "-".to_owned(),
            };
            let exposed = if r.exposed { "yes" } else { "no" };
            let serial = r.serial.map_or_else(|| "-".to_owned(), SerialConsole::summary);
            println!(
                "{:<36}  {:<20}  {:<10}  {:<11}  {vnc:<22}  {exposed:<7}  {serial}",
                r.uuid,
                r.name,
                r.node.unwrap_or("-"),
                r.state.as_str()
            );
        }
    }
    for (node, e) in &survey.unreachable {
        eprintln!("porthole: node {node:?} unreachable, its instances are not listed: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what `virsh vncdisplay` prints for the instance.
pub async fn vncdisplay(compute: &Compute, key: &str) -> anyhow::Result<()> {
    let i = compute.find(key).await?;
    let Some(g) = &i.graphics else {
        if i.node.is_none() {
            if let Some(Endpoint::Tcp { host, port }) = &i.vnc {
                println!("{host}:{}", i32::from(*port) - 5900);
                return Ok(());
            }
        }
        anyhow::bail!("instance {:?} has no VNC graphics device", i.name);
    };
    if !i.state.has_console() {
        anyhow::bail!("instance {:?} is not running ({})", i.name, i.state);
    }
    match g.vncdisplay() {
        Some(d) => {
            println!("{d}");
            Ok(())
        }
        None => anyhow::bail!("instance {:?} has no VNC TCP port (unix socket or no listener)", i.name),
    }
}
