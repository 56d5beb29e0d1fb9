//! [`Compute`]: the libvirt nodes and the static targets behind one [`Inventory`]. Nodes are asked
//! concurrently, each within its own time limit: a listing waits for the slowest node, a lookup
//! by UUID for the first node that has the instance. A node that fails is reported (in
//! [`Survey::unreachable`], or in the lookup's error) and the rest keep working.

use crate::instance::{Endpoint, Instance};
use crate::inventory::{not_found, HostPort, Inventory, LookupError, StaticTargets, Survey};
use crate::libvirt::{LibvirtNode, NodeConfig};
use crate::upstream::Upstream;
use async_trait::async_trait;
use std::time::Duration;
use tokio::task::JoinSet;
use uuid::Uuid;

/// How long a readiness check waits for a node.
const NODE_HEALTH_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Every instance this process knows.
#[derive(Clone, Default)]
pub struct Compute {
    nodes: Vec<LibvirtNode>,
    targets: StaticTargets,
    /// What [`Inventory::audit`] compares against; no audit without it.
    audit_policy: Option<crate::audit::Policy>,
}

impl Compute {
    /// Nodes and targets.
    pub fn new(nodes: impl IntoIterator<Item = NodeConfig>, targets: StaticTargets) -> Self {
        Compute { nodes: nodes.into_iter().map(LibvirtNode::new).collect(), targets, audit_policy: None }
    }

    /// Lets [`Inventory::audit`] audit the nodes against `policy`.
    pub fn set_audit_policy(&mut self, policy: crate::audit::Policy) {
        self.audit_policy = Some(policy);
    }

    /// Watches every node's domains; each one that stops, crashes or is undefined is sent to `tx`.
    pub fn watch_lifecycle(&self, tx: tokio::sync::mpsc::UnboundedSender<crate::events::DomainGone>) -> std::io::Result<()> {
        for node in &self.nodes {
            crate::events::spawn_watcher(node.config().clone(), tx.clone())?;
        }
        Ok(())
    }

    /// The static targets (the demo server adds itself there).
    pub fn targets_mut(&mut self) -> &mut StaticTargets {
        &mut self.targets
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&LibvirtNode> {
        self.nodes.iter().find(|n| n.config().name == name)
    }
}

#[async_trait]
impl Inventory for Compute {
    async fn survey(&self) -> Survey {
        let mut survey = self.targets.survey().await;
        let mut tasks = JoinSet::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let node = node.clone();
            tasks.spawn(async move { (i, node.config().name.clone(), node.instances().await) });
        }
        let mut per_node: Vec<(usize, Vec<Instance>)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, _, Ok(list))) => per_node.push((i, list)),
                Ok((_, name, Err(e))) => survey.unreachable.push((name, e.to_string())),
                Err(e) => survey.unreachable.push(("?".into(), e.to_string())),
            }
        }
        per_node.sort_by_key(|(i, _)| *i);
        let nodes: Vec<Instance> = per_node.into_iter().flat_map(|(_, l)| l).collect();
        survey.instances.splice(0..0, nodes);
        survey.unreachable.sort();
        survey
    }

    async fn find_by_uuid(&self, uuid: Uuid) -> Result<Instance, LookupError> {
        if let Ok(target) = self.targets.find_by_uuid(uuid).await {
            return Ok(target);
        }
        let mut asks = JoinSet::new();
        for node in &self.nodes {
            let node = node.clone();
            asks.spawn(async move { (node.config().name.clone(), node.instance(uuid).await) });
        }
        let mut unreachable = Vec::new();
        while let Some(joined) = asks.join_next().await {
            match joined {
                // Dropping `asks` stops waiting for the other nodes.
                Ok((_, Ok(Some(found)))) => return Ok(found),
                Ok((_, Ok(None))) => {}
                Ok((name, Err(e))) => unreachable.push((name, e.to_string())),
                Err(e) => unreachable.push(("?".into(), e.to_string())),
            }
        }
        unreachable.sort();
        Err(not_found(&uuid.to_string(), &unreachable))
    }

    async fn open_console(&self, instance: Uuid, endpoint: &Endpoint, limit: Duration) -> std::io::Result<Upstream> {
        let Endpoint::GraphicsFd { node } = endpoint else {
            return self.targets.open_console(instance, endpoint, limit).await;
        };
        let node = self.node(node).ok_or_else(|| std::io::Error::other(format!("no libvirt node named {node:?}")))?;
        let std_socket = node.open_graphics(instance).await.map_err(std::io::Error::other)?;
        Ok(Upstream::Unix(tokio::net::UnixStream::from_std(std_socket)?))
    }

    async fn open_serial(&self, instance: Uuid, node: &str) -> std::io::Result<crate::ConsoleStream> {
        let found = self.nodes.iter().find(|n| n.config().name == node);
        let found = found.ok_or_else(|| std::io::Error::other(format!("no node named {node:?}")))?;
        found.open_serial(instance).await.map_err(std::io::Error::other)
    }

    async fn vnc_password(&self, instance: Uuid) -> Option<String> {
        if let Some(p) = self.targets.vnc_password(instance).await {
            return Some(p);
        }
        let i = self.find_by_uuid(instance).await.ok()?;
        i.graphics.and_then(|g| g.passwd).map(|p| p.0)
    }

    async fn console_port_on_host(&self, instance: Uuid, host: &str, port: u16) -> Result<HostPort, LookupError> {
        let named: Vec<LibvirtNode> = self.nodes.iter().filter(|n| n.config().is_host(host)).cloned().collect();
        if named.is_empty() {
            return Ok(HostPort::NoNode);
        }
        let mut asks = JoinSet::new();
        for node in named {
            asks.spawn(async move { (node.config().name.clone(), node.instance(instance).await) });
        }
        let mut unreachable = Vec::new();
        while let Some(joined) = asks.join_next().await {
            match joined {
                Ok((_, Ok(Some(found)))) => {
                    let live_port = found.graphics.as_ref().and_then(|g| g.port);
                    let matches = found.state.has_console() && live_port == Some(port);
                    return Ok(if matches { HostPort::Matches(Box::new(found)) } else { HostPort::Moved });
                }
                Ok((_, Ok(None))) => {}
                Ok((name, Err(e))) => unreachable.push((name, e.to_string())),
                Err(e) => unreachable.push(("?".into(), e.to_string())),
            }
        }
        if unreachable.is_empty() {
            return Ok(HostPort::Moved);
        }
        unreachable.sort();
        Err(not_found(&instance.to_string(), &unreachable))
    }

    async fn node_address(&self, node: &str) -> Option<String> {
        self.node(node).map(|n| n.config().proxyclient_address.clone())
    }

    async fn node_health(&self) -> Vec<(String, Result<(), String>)> {
        let mut pings = JoinSet::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let node = node.clone();
            pings.spawn(async move {
                let health = match tokio::time::timeout(NODE_HEALTH_LIMIT, node.ping()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", NODE_HEALTH_LIMIT.as_secs())),
                };
                (i, node.config().name.clone(), health)
            });
        }
        let mut all = Vec::new();
        while let Some(Ok(answer)) = pings.join_next().await {
            all.push(answer);
        }
        all.sort_by_key(|(i, _, _)| *i);
        all.into_iter().map(|(_, name, health)| (name, health)).collect()
    }

    async fn audit(&self) -> Option<crate::audit::AuditReport> {
        let policy = self.audit_policy.as_ref().filter(|_| !self.nodes.is_empty())?;
        let configs: Vec<_> = self.nodes.iter().map(|n| n.config().clone()).collect();
        Some(crate::audit::AuditReport::run(&configs, policy).await)
    }

    async fn managed(&self, instance: Uuid) -> bool {
        !self.nodes.is_empty() && self.targets.find_by_uuid(instance).await.is_err()
    }
}
