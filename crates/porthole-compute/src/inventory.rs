//! Instances the proxy can open consoles for: the [`Inventory`] trait and the static `[[targets]]`.
//!
//! The proxy only asks for an instance and re-checks, at connect time, that a token's endpoint
//! still belongs to its instance (CVE-2013-0335).

use crate::domain_xml::VncGraphics;
use crate::serial::{ConsoleStream, SerialConsole};
use crate::upstream::{connect_tcp, Upstream};
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// Namespace for the stable UUIDs of static targets (UUIDv5 of the target's name).
pub const TARGET_NAMESPACE: Uuid = Uuid::from_u128(0x8d1b_6a50_3c2e_4b8f_9a0e_5f1c_7d2e_4a61);

/// A VNC endpoint as the proxy reaches it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// One instance: a VM or a static target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Stable id: the domain UUID, or the target's.
    pub uuid: Uuid,
    /// Name, unique within a node.
    pub name: String,
    /// The libvirt node, `None` for a static target.
    pub node: Option<String>,
    /// State as `virsh list` shows it; static targets are `running`.
    pub state: String,
    /// Where the proxy reaches its VNC server now, if it can.
    pub vnc: Option<Endpoint>,
    /// The domain's VNC graphics as its live XML says (libvirt instances only).
    pub graphics: Option<VncGraphics>,
    /// The domain's console device (`virsh console`), if it has one (libvirt instances only).
    pub serial: Option<SerialConsole>,
}

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

    /// The instance with that UUID or name.
    async fn find(&self, key: &str) -> Result<Instance, LookupError> {
        let Survey { instances: all, unreachable } = self.survey().await;
        if let Ok(uuid) = Uuid::parse_str(key) {
            if let Some(i) = all.iter().find(|i| i.uuid == uuid) {
                return Ok(i.clone());
            }
        }
        let mut named = all.into_iter().filter(|i| i.name == key);
        match (named.next(), named.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(LookupError::Ambiguous(key.to_owned())),
            _ if unreachable.is_empty() => Err(LookupError::NotFound(key.to_owned())),
            _ => Err(LookupError::NotFoundSomeUnreachable {
                key: key.to_owned(),
                unreachable: unreachable.iter().map(|(n, e)| format!("node {n:?}: {e}")).collect::<Vec<_>>().join("; "),
            }),
        }
    }

    /// Connects to the VNC server a token names (`host`, `port` as minted).
    async fn open_console(&self, _instance: Uuid, host: &str, port: u16, limit: Duration) -> std::io::Result<Upstream> {
        connect_tcp(host, port, limit).await
    }

    /// The VNC password the proxy uses on the instance's behalf (domain XML `passwd`, or the
    /// target's `password`), if any. Never logged, never sent to a browser.
    async fn vnc_password(&self, instance: Uuid) -> Option<String> {
        let all = self.instances().await;
        let i = all.into_iter().find(|i| i.uuid == instance)?;
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

    /// Whether `host:port` is still the current VNC endpoint of `instance` (re-checked at
    /// connect time against the live domain, CVE-2013-0335).
    async fn endpoint_matches(&self, instance: Uuid, host: &str, port: u16) -> bool {
        self.instances().await.iter().any(|i| i.uuid == instance && i.vnc.as_ref().is_some_and(|e| e.host == host && e.port == port))
    }
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
                state: "running".to_owned(),
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
        let (uuid, name, state) = (target_uuid(name), name.to_owned(), "running".to_owned());
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
            ("a".to_owned(), None, Endpoint { host: "127.0.0.1".into(), port: 5901 }),
            ("b".to_owned(), Some(Uuid::nil()), Endpoint { host: "10.0.0.2".into(), port: 5900 }),
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
        assert!(inv.endpoint_matches(target_uuid("a"), "127.0.0.1", 5901).await);
        // The port now belongs to another instance.
        assert!(!inv.endpoint_matches(target_uuid("a"), "127.0.0.1", 5900).await);
        assert!(inv.endpoint_matches(Uuid::nil(), "10.0.0.2", 5900).await);
    }
}
