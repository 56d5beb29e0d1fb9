//! `porthole list` and `porthole vncdisplay`, and what makes an instance's console reachable.

use porthole_compute::domain_xml::Listen;
use porthole_compute::{Compute, Endpoint, Instance, Inventory as _, SerialConsole};

use serde::Serialize;
use std::net::IpAddr;
use std::process::ExitCode;

/// Whether a VNC listen address is reachable beyond this host.
fn exposed(i: &Instance) -> bool {
    let Some(addr) = i.graphics.as_ref().and_then(|g| g.listen.address()) else {
        return false;
    };
    match addr.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => addr != "localhost",
    }
}

#[derive(Serialize)]
struct Row<'a> {
    uuid: String,
    name: &'a str,
    node: Option<&'a str>,
    state: &'a str,
    vnc_listen: Option<String>,
    vnc_port: Option<u16>,
    vnc_password: bool,
    proxy_endpoint: Option<&'a Endpoint>,
    exposed: bool,
    /// The console device `virsh console` opens, if any (`null` otherwise).
    serial: Option<&'a SerialConsole>,
}

fn row(i: &Instance) -> Row<'_> {
    let g = i.graphics.as_ref();
    let listen = g.map(|g| match &g.listen {
        Listen::Address(a) => a.clone(),
        Listen::Network { network, address } => address.clone().unwrap_or_else(|| format!("network:{network}")),
        Listen::Socket(p) => format!("unix:{}", p.as_deref().unwrap_or("?")),
        Listen::None => "none".to_owned(),
        Listen::Default => "127.0.0.1".to_owned(),
    });
    let listen = listen.or_else(|| i.vnc.as_ref().map(|e| e.host.clone()));
    let port = g.and_then(|g| g.port).or_else(|| i.vnc.as_ref().map(|e| e.port));
    Row {
        uuid: i.uuid.to_string(),
        name: &i.name,
        node: i.node.as_deref(),
        state: &i.state,
        vnc_listen: listen,
        vnc_port: port,
        vnc_password: g.is_some_and(|g| g.passwd.is_some()),
        proxy_endpoint: i.vnc.as_ref(),
        exposed: exposed(i),
        serial: i.serial.as_ref(),
    }
}

/// Prints every instance; nodes that failed are reported on stderr.
pub async fn list(compute: &Compute, json: bool) -> anyhow::Result<ExitCode> {
    let survey = compute.survey().await;
    let rows: Vec<Row<'_>> = survey.instances.iter().map(row).collect();
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
            println!("{:<36}  {:<20}  {:<10}  {:<11}  {vnc:<22}  {exposed:<7}  {serial}", r.uuid, r.name, r.node.unwrap_or("-"), r.state);
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
            if let Some(ep) = &i.vnc {
                println!("{}:{}", ep.host, i32::from(ep.port) - 5900);
                return Ok(());
            }
        }
        anyhow::bail!("instance {:?} has no VNC graphics device", i.name);
    };
    if !matches!(i.state.as_str(), "running" | "idle" | "paused") {
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
