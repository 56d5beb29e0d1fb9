//! The [`Inventory`] trait (what the proxy asks about instances) and the static `[[targets]]`.
//!
//! The proxy looks instances up by UUID and re-checks, at connect time, that a token's endpoint
//! still belongs to its instance (CVE-2013-0335).

pub use crate::instance::{Endpoint, Instance, InstanceState};
use crate::serial::ConsoleStream;
use crate::upstream::{connect_tcp, Upstream};
use async_trait::async_trait;
use std::time::Duration;
use uuid::Uuid;

/// Namespace for the stable UUIDs of static targets (UUIDv5 of the target's name).
pub const TARGET_NAMESPACE: Uuid = Uuid::from_u128(0x8d1b_6a50_3c2e_4b8f_9a0e_5f1c_7d2e_4a61);

/// Every instance, and the nodes that could not be asked.
#[derive(Clone, Debug, Default)]
pub struct Survey {
    /// Instances of the reachable nodes and the static targets.
    pub instances: Vec<Instance>,
    /// `(node, error)` for each node that failed.
    pub unreachable: Vec<(String, String)>,
}

/// Why an instance could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No instance has that name or UUID.
    #[error("no instance named {0:?}")]
    NotFound(String),
    /// Not found, and some nodes could not be asked.
    #[error("no instance named {key:?} on the reachable nodes; {unreachable}")]
    NotFoundSomeUnreachable {
        /// What was looked for.
        key: String,
        /// Which nodes failed, and why.
        unreachable: String,
    },
    /// The name matches several instances; use the UUID.
    #[error("{0:?} names several instances; use the UUID")]
    Ambiguous(String),
}

/// The instances known to this process.
#[async_trait]
pub trait Inventory: Send + Sync + 'static {
    /// Every instance, and which nodes failed.
    async fn survey(&self) -> Survey;

    /// Every instance that could be listed.
    async fn instances(&self) -> Vec<Instance> {
        self.survey().await.instances
    }

    /// The instance with that UUID. An inventory of several nodes asks them all at once; the first
    /// that has it answers, so a hung node delays only lookups of instances it might hold.
    async fn find_by_uuid(&self, uuid: Uuid) -> Result<Instance, LookupError> {
        let Survey { instances, unreachable } = self.survey().await;
        match instances.into_iter().find(|i| i.uuid == uuid) {
            Some(i) => Ok(i),
            None => Err(not_found(&uuid.to_string(), &unreachable)),
        }
    }

    /// The instance with that UUID or name. A UUID is looked up as such; a name needs every node.
    async fn find(&self, key: &str) -> Result<Instance, LookupError> {
        if let Ok(uuid) = Uuid::parse_str(key) {
            match self.find_by_uuid(uuid).await {
                Err(LookupError::NotFound(_)) => {} // a domain may be named like a UUID
                found => return found,
            }
        }
        let Survey { instances: all, unreachable } = self.survey().await;
        let mut named = all.into_iter().filter(|i| i.name == key);
        match (named.next(), named.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(LookupError::Ambiguous(key.to_owned())),
            _ => Err(not_found(key, &unreachable)),
        }
    }

    /// Connects to the VNC server a token names.
    async fn open_console(&self, _instance: Uuid, endpoint: &Endpoint, limit: Duration) -> std::io::Result<Upstream> {
        match endpoint {
            Endpoint::Tcp { host, port } => connect_tcp(host, *port, limit).await,
            Endpoint::GraphicsFd { node } => Err(std::io::Error::other(format!("no libvirt node named {node:?}"))),
        }
    }

    /// The VNC password the proxy uses on the instance's behalf (domain XML `passwd`, or the
    /// target's `password`), if any. Never logged, never sent to a browser.
    async fn vnc_password(&self, instance: Uuid) -> Option<String> {
        let i = self.find_by_uuid(instance).await.ok()?;
        i.graphics.and_then(|g| g.passwd).map(|p| p.0)
    }

    /// Opens the serial console of `instance` on libvirt node `node` (`virDomainOpenConsole`),
    /// taking it over from any other session. Only libvirt nodes have serial consoles.
    async fn open_serial(&self, instance: Uuid, node: &str) -> std::io::Result<ConsoleStream> {
        let _ = instance;
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, format!("no libvirt node named {node:?}")))
    }

    /// Whether the instance is a VM whose life libvirt reports (not a static target).
    async fn managed(&self, _instance: Uuid) -> bool {
        false
    }

    /// Nova's `validate_console_port`, answered from libvirt instead of nova-compute: whether
    /// `instance` is a running domain on the node that `host` names (its `proxyclient_address`, or
    /// its name) and the live domain XML has its VNC server on `port`. `Err` when every node that
    /// `host` names failed to answer.
    async fn console_port_on_host(&self, instance: Uuid, host: &str, port: u16) -> Result<HostPort, LookupError> {
        let _ = (instance, host, port);
        Ok(HostPort::NoNode)
    }

    /// The address the proxy reaches node `node`'s guests at (`proxyclient_address`).
    async fn node_address(&self, _node: &str) -> Option<String> {
        None
    }

    /// Each libvirt node by name, and whether it answers (`Err` says why not); for readiness.
    async fn node_health(&self) -> Vec<(String, Result<(), String>)> {
        Vec::new()
    }

    /// The security audit of the libvirt nodes (`porthole audit`); `None` when there is nothing to
    /// audit (no nodes, or no audit policy was given).
    async fn audit(&self) -> Option<crate::audit::AuditReport> {
        None
    }

    /// Whether `endpoint` is still the current VNC endpoint of `instance` (re-checked at connect
    /// time against the live domain, CVE-2013-0335): `Ok(false)` when the instance is gone, stopped
    /// or listens elsewhere now; `Err` when the nodes that might hold it could not be asked.
    async fn endpoint_matches(&self, instance: Uuid, endpoint: &Endpoint) -> Result<bool, LookupError> {
        match self.find_by_uuid(instance).await {
            Ok(i) => Ok(i.vnc.as_ref() == Some(endpoint)),
            Err(LookupError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// What a node says about a console port Nova's token names ([`Inventory::console_port_on_host`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPort {
    /// No configured node is that host (by `proxyclient_address` or name): nothing to ask.
    NoNode,
    /// The instance runs on that host and its VNC server listens on that port; as the node sees it.
    Matches(Box<Instance>),
    /// The instance is not on that host, not running, or its VNC server listens elsewhere now.
    Moved,
}

/// Not found, saying which nodes could not be asked.
pub(crate) fn not_found(key: &str, unreachable: &[(String, String)]) -> LookupError {
    if unreachable.is_empty() {
        return LookupError::NotFound(key.to_owned());
    }
    let unreachable = unreachable.iter().map(|(n, e)| format!("node {n:?}: {e}")).collect::<Vec<_>>().join("; ");
    LookupError::NotFoundSomeUnreachable { key: key.to_owned(), unreachable }
}

/// The static `[[targets]]` of the configuration (plus the demo server when it runs).
#[derive(Clone, Debug, Default)]
pub struct StaticTargets {
    targets: Vec<Instance>,
    passwords: std::collections::HashMap<Uuid, String>,
}

impl StaticTargets {
    /// Builds the list; `uuid` `None` means the UUIDv5 of the name.
    pub fn new(targets: impl IntoIterator<Item = (String, Option<Uuid>, Endpoint)>) -> Self {
        let targets = targets
            .into_iter()
            .map(|(name, uuid, ep)| Instance {
                uuid: uuid.unwrap_or_else(|| target_uuid(&name)),
                name,
                node: None,
                state: InstanceState::Running,
                vnc: Some(ep),
                graphics: None,
                serial: None,
            })
            .collect();
        StaticTargets { targets, passwords: Default::default() }
    }

    /// Sets the VNC password of a target (its config `password`).
    pub fn set_password(&mut self, name: &str, password: String) {
        if let Some(t) = self.targets.iter().find(|t| t.name == name) {
            self.passwords.insert(t.uuid, password);
        }
    }

    /// Adds one target (the demo server registers itself this way).
    pub fn push(&mut self, name: &str, ep: Endpoint) {
        let (uuid, name, state) = (target_uuid(name), name.to_owned(), InstanceState::Running);
        self.targets.push(Instance { uuid, name, node: None, state, vnc: Some(ep), graphics: None, serial: None });
    }
}

/// The stable UUID of a static target's name.
pub fn target_uuid(name: &str) -> Uuid {
    Uuid::new_v5(&TARGET_NAMESPACE, name.as_bytes())
}

#[async_trait]
impl Inventory for StaticTargets {
    async fn survey(&self) -> Survey {
        Survey { instances: self.targets.clone(), unreachable: Vec::new() }
    }

    async fn vnc_password(&self, instance: Uuid) -> Option<String> {
        self.passwords.get(&instance).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> StaticTargets {
        StaticTargets::new([
            ("a".to_owned(), None, Endpoint::tcp("127.0.0.1", 5901)),
            ("b".to_owned(), Some(Uuid::nil()), Endpoint::tcp("10.0.0.2", 5900)),
        ])
    }

    #[tokio::test]
    async fn find_by_name_and_uuid() {
        let inv = inv();
        let a = inv.find("a").await.unwrap();
        assert_eq!(a.uuid, target_uuid("a"));
        assert_eq!(inv.find(&a.uuid.to_string()).await.unwrap(), a);
        assert_eq!(inv.find(&Uuid::nil().to_string()).await.unwrap().name, "b");
        assert!(matches!(inv.find("zzz").await, Err(LookupError::NotFound(_))));
    }

    #[test]
    fn target_uuid_is_stable() {
        assert_eq!(target_uuid("lab-switch"), target_uuid("lab-switch"));
        assert_ne!(target_uuid("lab-switch"), target_uuid("lab-switch2"));
    }

    #[tokio::test]
    async fn endpoint_recheck() {
        let inv = inv();
        assert!(inv.endpoint_matches(target_uuid("a"), &Endpoint::tcp("127.0.0.1", 5901)).await.unwrap());
        // The port now belongs to another instance.
        assert!(!inv.endpoint_matches(target_uuid("a"), &Endpoint::tcp("127.0.0.1", 5900)).await.unwrap());
        assert!(inv.endpoint_matches(Uuid::nil(), &Endpoint::tcp("10.0.0.2", 5900)).await.unwrap());
        assert!(!inv.endpoint_matches(Uuid::from_u128(7), &Endpoint::tcp("10.0.0.2", 5900)).await.unwrap());
    }
}
