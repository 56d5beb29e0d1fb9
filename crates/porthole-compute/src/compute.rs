//! [`Compute`]: the libvirt nodes and the static targets behind one [`Inventory`]. Nodes are asked
//! concurrently; a node that fails is listed in [`Survey::unreachable`] and the rest keep working.

use crate::inventory::{Instance, Inventory, StaticTargets, Survey};
use crate::libvirt::{LibvirtNode, NodeConfig};
use crate::upstream::{connect_tcp, Upstream, GRAPHICS_FD_SCHEME};
use async_trait::async_trait;
use std::time::Duration;
use uuid::Uuid;

/// Every instance this process knows.
#[derive(Clone, Default)]
pub struct Compute {
    nodes: Vec<LibvirtNode>,
    targets: StaticTargets,
}

impl Compute {
    /// Nodes and targets.
    pub fn new(nodes: impl IntoIterator<Item = NodeConfig>, targets: StaticTargets) -> Self {
        Compute { nodes: nodes.into_iter().map(LibvirtNode::new).collect(), targets }
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
}

#[async_trait]
impl Inventory for Compute {
    async fn survey(&self) -> Survey {
        let mut survey = self.targets.survey().await;
        let mut tasks = tokio::task::JoinSet::new();
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

    async fn open_console(&self, instance: Uuid, host: &str, port: u16, limit: Duration) -> std::io::Result<Upstream> {
        let Some(node_name) = host.strip_prefix(GRAPHICS_FD_SCHEME) else {
            return connect_tcp(host, port, limit).await;
        };
        let node = self.nodes.iter().find(|n| n.config().name == node_name);
        let node = node.ok_or_else(|| std::io::Error::other(format!("no node named {node_name:?}")))?;
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
        for node in &self.nodes {
            if let Ok(Some(i)) = node.instance(instance).await {
                return i.graphics.and_then(|g| g.passwd).map(|p| p.0);
            }
        }
        None
    }

    async fn managed(&self, instance: Uuid) -> bool {
        !self.nodes.is_empty() && !self.targets.instances().await.iter().any(|t| t.uuid == instance)
    }

    async fn endpoint_matches(&self, instance: Uuid, host: &str, port: u16) -> bool {
        if self.targets.endpoint_matches(instance, host, port).await {
            return true;
        }
        for node in &self.nodes {
            match node.instance(instance).await {
                Ok(Some(i)) => return i.vnc.is_some_and(|e| e.host == host && e.port == port),
                Ok(None) => {}
                Err(e) => tracing::warn!(node = %node.config().name, cause = %e, "endpoint re-check failed"),
            }
        }
        false
    }
}
