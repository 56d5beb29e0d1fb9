//! Instances the proxy can open consoles for: the [`Inventory`] trait and the static `[[targets]]`.
//!
//! The libvirt driver will be another implementation; the proxy only asks for an instance and
//! re-checks, at connect time, that a token's endpoint still belongs to its instance (CVE-2013-0335).

use async_trait::async_trait;
use porthole_tokens::ConnectInfo;
use uuid::Uuid;

/// Namespace for the stable UUIDs of static targets (UUIDv5 of the target's name).
pub const TARGET_NAMESPACE: Uuid = Uuid::from_u128(0x8d1b_6a50_3c2e_4b8f_9a0e_5f1c_7d2e_4a61);

/// A VNC endpoint as the proxy reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// One instance: a VM or a static target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Stable id.
    pub uuid: Uuid,
    /// Name, unique within the inventory.
    pub name: String,
    /// State as `virsh list` shows it; static targets are `running`.
    pub state: String,
    /// Where its VNC server is, if it has one now.
    pub vnc: Option<Endpoint>,
}

/// Why an instance could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No instance has that name or UUID.
    #[error("no instance named {0:?}")]
    NotFound(String),
    /// The name matches several instances; use the UUID.
    #[error("{0:?} names several instances; use the UUID")]
    Ambiguous(String),
}

/// The instances known to this process.
#[async_trait]
pub trait Inventory: Send + Sync + 'static {
    /// Every instance.
    async fn instances(&self) -> Vec<Instance>;

    /// The instance with that UUID or name.
    async fn find(&self, key: &str) -> Result<Instance, LookupError> {
        let all = self.instances().await;
        if let Ok(uuid) = Uuid::parse_str(key) {
            if let Some(i) = all.iter().find(|i| i.uuid == uuid) {
                return Ok(i.clone());
            }
        }
        let mut named = all.into_iter().filter(|i| i.name == key);
        match (named.next(), named.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(LookupError::Ambiguous(key.to_owned())),
            _ => Err(LookupError::NotFound(key.to_owned())),
        }
    }

    /// Whether a token's endpoint is still its instance's current VNC endpoint.
    async fn endpoint_matches(&self, info: &ConnectInfo) -> bool {
        self.instances().await.iter().any(|i| {
            i.uuid == info.instance_uuid
                && i.vnc.as_ref().is_some_and(|e| e.host == info.host && e.port == info.port)
        })
    }
}

/// The static `[[targets]]` of the configuration (plus the demo server when it runs).
#[derive(Clone, Debug, Default)]
pub struct StaticTargets {
    targets: Vec<Instance>,
}

impl StaticTargets {
    /// Builds the list; `uuid` `None` means the UUIDv5 of the name.
    pub fn new(targets: impl IntoIterator<Item = (String, Option<Uuid>, Endpoint)>) -> Self {
        let targets = targets
            .into_iter()
            .map(|(name, uuid, ep)| Instance {
                uuid: uuid.unwrap_or_else(|| target_uuid(&name)),
                name,
                state: "running".to_owned(),
                vnc: Some(ep),
            })
            .collect();
        StaticTargets { targets }
    }

    /// Adds one target (the demo server registers itself this way).
    pub fn push(&mut self, name: &str, ep: Endpoint) {
        self.targets.push(Instance { uuid: target_uuid(name), name: name.to_owned(), state: "running".into(), vnc: Some(ep) });
    }
}

/// The stable UUID of a static target's name.
pub fn target_uuid(name: &str) -> Uuid {
    Uuid::new_v5(&TARGET_NAMESPACE, name.as_bytes())
}

#[async_trait]
impl Inventory for StaticTargets {
    async fn instances(&self) -> Vec<Instance> {
        self.targets.clone()
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
        let mut info = ConnectInfo {
            instance_uuid: target_uuid("a"),
            console_type: "novnc".into(),
            host: "127.0.0.1".into(),
            port: 5901,
            internal_access_path: None,
            access_url_base: String::new(),
            expires: 0,
        };
        assert!(inv.endpoint_matches(&info).await);
        info.port = 5900; // the port now belongs to another instance
        assert!(!inv.endpoint_matches(&info).await);
        info.instance_uuid = Uuid::nil();
        info.host = "10.0.0.2".into();
        assert!(inv.endpoint_matches(&info).await);
    }
}
