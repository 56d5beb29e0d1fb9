//! Minting a console for an instance: look it up, check it can have one, store a token, build
//! the access URL. The CLI's `console url` and the API's remote-consoles both come here.

use porthole_compute::domain_xml::Listen;
use porthole_compute::serial::SerialSource;
use porthole_compute::{Endpoint, Instance, InstanceState, Inventory, LookupError};
use porthole_tokens::auth::{ConsoleTarget, Minted};
use porthole_tokens::{ConnectInfo, ConsoleAuth, ConsoleType, TokenEndpoint};

pub use crate::endpoint::token_endpoint;
use std::time::Duration;

/// Why no console could be minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// No such instance (or its node is unreachable).
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The instance is not running (shut off, stopping, crashed…).
    #[error("instance {name:?} is {state}: start it to get a console")]
    NotRunning {
        /// Its name.
        name: String,
        /// Its state.
        state: InstanceState,
    },
    /// No VNC graphics device.
    #[error("instance {0:?} has no VNC graphics device")]
    NoVnc(String),
    /// VNC only on a unix socket or nowhere, and the node does not use graphics-fd.
    #[error("instance {0:?} has no VNC TCP port (it listens on a unix socket or nowhere); its node needs connect = \"graphics-fd\"")]
    NoTcpPort(String),
    /// No serial console the proxy can reach.
    #[error("instance {name:?} has no serial console the proxy can open: {why}")]
    NoSerial {
        /// Its name.
        name: String,
        /// Why not.
        why: String,
    },
    /// The token store failed.
    #[error(transparent)]
    Store(#[from] porthole_tokens::Error),
}

/// Where a console of `i` connects, or why there is none.
pub fn console_endpoint(i: &Instance) -> Result<Endpoint, ConsoleError> {
    if !i.state.has_console() {
        return Err(ConsoleError::NotRunning { name: i.name.clone(), state: i.state });
    }
    if let Some(ep) = &i.vnc {
        return Ok(ep.clone());
    }
    match &i.graphics {
        None => Err(ConsoleError::NoVnc(i.name.clone())),
        Some(g) if matches!(g.listen, Listen::Socket(_) | Listen::None) => Err(ConsoleError::NoTcpPort(i.name.clone())),
        Some(_) => Err(ConsoleError::NoTcpPort(i.name.clone())),
    }
}

/// Where the serial console of `i` is reached: libvirt's console stream for a pty (no port
/// anywhere), or a TCP chardev QEMU listens on (Nova's serial-proxy set-up).
pub fn serial_endpoint(i: &Instance, node_address: Option<&str>) -> Result<TokenEndpoint, ConsoleError> {
    if !i.state.has_console() {
        return Err(ConsoleError::NotRunning { name: i.name.clone(), state: i.state });
    }
    let no = |why: &str| ConsoleError::NoSerial { name: i.name.clone(), why: why.to_owned() };
    let (Some(serial), Some(node)) = (&i.serial, &i.node) else {
        return Err(no(if i.node.is_none() { "static targets are VNC only" } else { "its domain has no <serial> or <console> device" }));
    };
    match &serial.source {
        SerialSource::Pty { .. } => Ok(TokenEndpoint::ConsoleStream { node: node.clone() }),
        SerialSource::Tcp { listen: false, .. } => {
            Err(no("its TCP chardev connects out (mode='connect'); the proxy can only reach one that listens"))
        }
        SerialSource::Tcp { telnet: true, .. } => Err(no("its TCP chardev speaks telnet; give it <protocol type='raw'/>")),
        SerialSource::Tcp { host, port, .. } => {
            let wildcard = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified());
            let host = if wildcard { node_address.unwrap_or("127.0.0.1").to_owned() } else { host.clone() };
            Ok(TokenEndpoint::Tcp { host, port: *port })
        }
        other => Err(no(&format!(
            "its console device is {} (a pty, libvirt's default, or a listening TCP chardev is needed)",
            match other {
                SerialSource::Unix { .. } => "a unix socket",
                _ => "of another kind",
            }
        ))),
    }
}

/// What to mint.
#[derive(Clone, Debug)]
pub struct MintRequest<'a> {
    /// The instance: name or UUID.
    pub key: &'a str,
    /// `novncproxy_base_url` (or the serial page's base).
    pub base: &'a str,
    /// How long the URL stays valid.
    pub ttl: Duration,
    /// VNC (noVNC page) or serial (terminal page).
    pub console_type: ConsoleType,
    /// Watch only: the proxy drops the browser's input.
    pub view_only: bool,
    /// Who asks (an API key's name, or `cli`).
    pub minted_by: Option<String>,
}

/// Mints a console for an instance.
pub async fn mint_console(
    inventory: &dyn Inventory,
    auth: &ConsoleAuth,
    req: &MintRequest<'_>,
) -> Result<(Instance, Minted), ConsoleError> {
    let instance = inventory.find(req.key).await?;
    let endpoint = match req.console_type {
        ConsoleType::Serial => {
            let address = match &instance.node {
                Some(node) => inventory.node_address(node).await,
                None => None,
            };
            serial_endpoint(&instance, address.as_deref())?
        }
        _ => crate::endpoint::token_endpoint(&console_endpoint(&instance)?),
    };
    let target = ConsoleTarget {
        instance_uuid: instance.uuid,
        console_type: req.console_type,
        endpoint,
        view_only: req.view_only,
        minted_by: req.minted_by.clone(),
    };
    let minted = auth.authorize(&target, req.base, req.ttl).await?;
    Ok((instance, minted))
}

/// Whether `instance`, as the inventory sees it now, still serves the console a token names
/// (CVE-2013-0335): the same VNC endpoint, or the same serial console.
pub(crate) fn still_serves(instance: &Instance, info: &ConnectInfo) -> bool {
    if info.console_type == ConsoleType::Serial {
        return serial_still_serves(instance, &info.endpoint);
    }
    crate::endpoint::vnc_endpoint(&info.endpoint).is_some_and(|ep| instance.vnc.as_ref() == Some(&ep))
}

/// Whether a serial token's endpoint is still its running instance's console: libvirt's stream on
/// the same node for a pty console, or the same port of a raw TCP chardev that QEMU listens on (at
/// the token's host, or on a wildcard, for which the token holds the node's address).
fn serial_still_serves(instance: &Instance, endpoint: &TokenEndpoint) -> bool {
    let Some(serial) = instance.serial.as_ref().filter(|_| instance.state.has_console()) else {
        return false;
    };
    match (endpoint, &serial.source) {
        (TokenEndpoint::ConsoleStream { node }, SerialSource::Pty { .. }) => instance.node.as_ref() == Some(node),
        (TokenEndpoint::Tcp { host, port }, SerialSource::Tcp { host: at, port: listening, listen: true, telnet: false }) => {
            listening == port && (at == host || at.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use porthole_compute::serial::{ConsoleTarget, SerialConsole};

    fn instance(state: InstanceState, source: SerialSource) -> Instance {
        Instance {
            uuid: uuid::Uuid::nil(),
            name: "vm".into(),
            node: Some("kvm1".into()),
            state,
            vnc: None,
            graphics: None,
            serial: Some(SerialConsole { alias: Some("serial0".into()), target: ConsoleTarget::Serial, source }),
        }
    }

    fn serial_token(endpoint: TokenEndpoint) -> ConnectInfo {
        ConnectInfo {
            instance_uuid: uuid::Uuid::nil(),
            console_type: ConsoleType::Serial,
            endpoint,
            internal_access_path: None,
            access_url_base: "ws://127.0.0.1:6080/".into(),
            expires: 0,
            view_only: false,
            minted_by: None,
        }
    }

    fn tcp(host: &str, port: u16) -> SerialSource {
        SerialSource::Tcp { host: host.into(), port, listen: true, telnet: false }
    }

    #[test]
    fn a_serial_token_serves_while_its_console_is_the_same() {
        let pty = SerialSource::Pty { path: Some("/dev/pts/3".into()) };
        let stream = |node: &str| serial_token(TokenEndpoint::ConsoleStream { node: node.into() });
        assert!(still_serves(&instance(InstanceState::Running, pty.clone()), &stream("kvm1")));
        assert!(!still_serves(&instance(InstanceState::Running, pty.clone()), &stream("kvm2")));
        assert!(!still_serves(&instance(InstanceState::ShutOff, pty), &stream("kvm1")));
        assert!(!still_serves(&instance(InstanceState::Running, tcp("127.0.0.1", 4555)), &stream("kvm1")));

        // A TCP chardev (no VNC endpoint involved): the same port, at the token's host or a wildcard.
        let chardev = |host: &str, port| serial_token(TokenEndpoint::Tcp { host: host.into(), port });
        assert!(still_serves(&instance(InstanceState::Running, tcp("127.0.0.1", 4555)), &chardev("127.0.0.1", 4555)));
        assert!(still_serves(&instance(InstanceState::Running, tcp("0.0.0.0", 4555)), &chardev("10.0.0.11", 4555)));
        assert!(!still_serves(&instance(InstanceState::Running, tcp("127.0.0.1", 4556)), &chardev("127.0.0.1", 4555)));
        assert!(!still_serves(&instance(InstanceState::Running, tcp("10.0.0.12", 4555)), &chardev("10.0.0.11", 4555)));
        assert!(!still_serves(&instance(InstanceState::ShutOff, tcp("127.0.0.1", 4555)), &chardev("127.0.0.1", 4555)));
        let telnet = SerialSource::Tcp { host: "127.0.0.1".into(), port: 4555, listen: true, telnet: true };
        assert!(!still_serves(&instance(InstanceState::Running, telnet), &chardev("127.0.0.1", 4555)));
    }
}
