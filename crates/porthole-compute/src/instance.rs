//! The values that describe an instance to the other crates: [`Instance`], its [`InstanceState`]
//! and the [`Endpoint`] where the proxy reaches its VNC server. Typed, so that no caller compares
//! state strings or finds a scheme smuggled into a host name.

use crate::domain_xml::VncGraphics;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One instance: a VM or a static target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Stable id: the domain UUID, or the target's.
    pub uuid: Uuid,
    /// Name, unique within a node.
    pub name: String,
    /// The libvirt node, `None` for a static target.
    pub node: Option<String>,
    /// State as `virsh list` shows it; static targets are [`InstanceState::Running`].
    pub state: InstanceState,
    /// Where the proxy reaches its VNC server now, if it can.
    pub vnc: Option<Endpoint>,
    /// The domain's VNC graphics as its live XML says (libvirt instances only).
    pub graphics: Option<VncGraphics>,
    /// The domain's console device (`virsh console`), if it has one (libvirt instances only).
    pub serial: Option<crate::serial::SerialConsole>,
}

/// A domain's state, as libvirt reports it (`virDomainState`). `Display` and serde give the words
/// `virsh list` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InstanceState {
    /// `no state`.
    #[serde(rename = "no state")]
    NoState,
    /// `running`.
    #[serde(rename = "running")]
    Running,
    /// `idle`: running, blocked on a resource (libvirt's `BLOCKED`).
    #[serde(rename = "idle")]
    Idle,
    /// `paused`.
    #[serde(rename = "paused")]
    Paused,
    /// `in shutdown`.
    #[serde(rename = "in shutdown")]
    InShutdown,
    /// `shut off`.
    #[serde(rename = "shut off")]
    ShutOff,
    /// `crashed`.
    #[serde(rename = "crashed")]
    Crashed,
    /// `pmsuspended`: suspended by guest power management.
    #[serde(rename = "pmsuspended")]
    PmSuspended,
    /// `unknown`: a state this build of libvirt bindings does not know.
    #[serde(rename = "unknown")]
    Unknown,
}

impl InstanceState {
    /// Whether QEMU runs, so its VNC server can serve a console (running, idle or paused).
    pub fn has_console(self) -> bool {
        matches!(self, InstanceState::Running | InstanceState::Idle | InstanceState::Paused)
    }

    /// The words `virsh list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::NoState => "no state",
            InstanceState::Running => "running",
            InstanceState::Idle => "idle",
            InstanceState::Paused => "paused",
            InstanceState::InShutdown => "in shutdown",
            InstanceState::ShutOff => "shut off",
            InstanceState::Crashed => "crashed",
            InstanceState::PmSuspended => "pmsuspended",
            InstanceState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where the proxy reaches an instance's VNC server.
///
/// Serialized as `{"kind": "tcp", "host": …, "port": …}` or `{"kind": "graphics-fd", "node": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Endpoint {
    /// A TCP connection to `host:port` (the node's `proxyclient_address` and the domain's port).
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A socket handed over by libvirt on `node` (`virDomainOpenGraphicsFD`): no VNC port at all.
    GraphicsFd {
        /// The node's name (`[[nodes]] name`).
        node: String,
    },
}

impl Endpoint {
    /// A TCP endpoint.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Endpoint::Tcp { host: host.into(), port }
    }
}

impl std::fmt::Display for Endpoint {
    /// `host:port` (`[v6]:port`), or `graphics-fd on node NAME`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') && !host.starts_with('[') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::GraphicsFd { node } => write!(f, "graphics-fd on node {node}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_print_and_serialize_as_virsh_does() {
        let all = [
            (InstanceState::NoState, "no state"),
            (InstanceState::Running, "running"),
            (InstanceState::Idle, "idle"),
            (InstanceState::Paused, "paused"),
            (InstanceState::InShutdown, "in shutdown"),
            (InstanceState::ShutOff, "shut off"),
            (InstanceState::Crashed, "crashed"),
            (InstanceState::PmSuspended, "pmsuspended"),
            (InstanceState::Unknown, "unknown"),
        ];
        for (state, words) in all {
            assert_eq!(state.to_string(), words);
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(json, format!("\"{words}\""));
            assert_eq!(serde_json::from_str::<InstanceState>(&json).ok(), Some(state));
        }
        let with_console: Vec<_> = all.iter().filter(|(s, _)| s.has_console()).map(|(_, w)| *w).collect();
        assert_eq!(with_console, ["running", "idle", "paused"]);
    }

    #[test]
    fn endpoints_serialize_with_their_kind() {
        let tcp = serde_json::to_value(Endpoint::tcp("10.0.0.1", 5901)).unwrap_or_default();
        assert_eq!(tcp, serde_json::json!({"kind": "tcp", "host": "10.0.0.1", "port": 5901}));
        let fd = serde_json::to_value(Endpoint::GraphicsFd { node: "kvm1".into() }).unwrap_or_default();
        assert_eq!(fd, serde_json::json!({"kind": "graphics-fd", "node": "kvm1"}));
        assert_eq!(Endpoint::tcp("::1", 5900).to_string(), "[::1]:5900");
        assert_eq!(Endpoint::tcp("vnc.example", 5900).to_string(), "vnc.example:5900");
    }
}
