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
/// (CVE-2013-0335): the same VNC endpoint, or a serial console on the same node.
pub(crate) fn still_serves(instance: &Instance, info: &ConnectInfo) -> bool {
    match &info.endpoint {
        TokenEndpoint::ConsoleStream { node } => {
            instance.node.as_ref() == Some(node) && instance.state.has_console() && instance.serial.is_some()
        }
        other => crate::endpoint::vnc_endpoint(other).is_some_and(|ep| instance.vnc.as_ref() == Some(&ep)),
    }
}
