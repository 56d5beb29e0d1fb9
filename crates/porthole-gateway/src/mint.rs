//! Minting a console for an instance: look it up, check it can have one, store a token, build
//! the access URL. The CLI's `console url` and the API's remote-consoles both come here.

use porthole_compute::domain_xml::Listen;
use porthole_compute::upstream::GRAPHICS_FD_SCHEME;
use porthole_compute::{Endpoint, Instance, Inventory, LookupError};
use porthole_tokens::auth::{ConsoleTarget, Minted};
use porthole_tokens::{ConsoleAuth, ConsoleType, TokenEndpoint};
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
        state: String,
    },
    /// No VNC graphics device.
    #[error("instance {0:?} has no VNC graphics device")]
    NoVnc(String),
    /// VNC only on a unix socket or nowhere, and the node does not use graphics-fd.
    #[error("instance {0:?} has no VNC TCP port (it listens on a unix socket or nowhere); its node needs connect = \"graphics-fd\"")]
    NoTcpPort(String),
    /// The token store failed.
    #[error(transparent)]
    Store(#[from] porthole_tokens::Error),
}

/// Where a console of `i` connects, or why there is none.
pub fn console_endpoint(i: &Instance) -> Result<Endpoint, ConsoleError> {
    if !matches!(i.state.as_str(), "running" | "idle" | "paused") {
        return Err(ConsoleError::NotRunning { name: i.name.clone(), state: i.state.clone() });
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

/// Mints a noVNC console for the instance named `key` (name or UUID).
pub async fn mint_console(
    inventory: &dyn Inventory,
    auth: &ConsoleAuth,
    key: &str,
    base: &str,
    ttl: Duration,
) -> Result<(Instance, Minted), ConsoleError> {
    let instance = inventory.find(key).await?;
    let ep = console_endpoint(&instance)?;
    let target = ConsoleTarget { instance_uuid: instance.uuid, console_type: ConsoleType::Novnc, endpoint: token_endpoint(&ep) };
    let minted = auth.authorize(&target, base, ttl).await?;
    Ok((instance, minted))
}

/// Compute's endpoint as the token store keeps it: the one place where a `graphics-fd://NODE` host
/// becomes [`TokenEndpoint::GraphicsFd`].
pub fn token_endpoint(ep: &Endpoint) -> TokenEndpoint {
    match ep.host.strip_prefix(GRAPHICS_FD_SCHEME) {
        Some(node) => TokenEndpoint::GraphicsFd { node: node.to_owned() },
        None => TokenEndpoint::Tcp { host: ep.host.clone(), port: ep.port },
    }
}

/// The way back, for the inventory's calls that still take compute's endpoint (host, port).
/// `None` for a console stream, which compute cannot open yet.
pub(crate) fn compute_endpoint(ep: &TokenEndpoint) -> Option<Endpoint> {
    match ep {
        TokenEndpoint::Tcp { host, port } => Some(Endpoint { host: host.clone(), port: *port }),
        TokenEndpoint::GraphicsFd { node } => Some(Endpoint { host: format!("{GRAPHICS_FD_SCHEME}{node}"), port: 0 }),
        _ => None,
    }
}

/// Whether a token's endpoint is still its instance's (CVE-2013-0335), asked of the live inventory.
pub(crate) async fn endpoint_matches(inventory: &dyn Inventory, info: &porthole_tokens::ConnectInfo) -> bool {
    match compute_endpoint(&info.endpoint) {
        Some(ep) => inventory.endpoint_matches(info.instance_uuid, &ep.host, ep.port).await,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphics_fd_hosts_become_typed_endpoints_and_back() {
        let fd = Endpoint { host: "graphics-fd://kvm1".into(), port: 0 };
        assert_eq!(token_endpoint(&fd), TokenEndpoint::GraphicsFd { node: "kvm1".into() });
        assert_eq!(compute_endpoint(&token_endpoint(&fd)), Some(fd));
        let tcp = Endpoint { host: "10.0.0.5".into(), port: 5907 };
        assert_eq!(token_endpoint(&tcp), TokenEndpoint::Tcp { host: "10.0.0.5".into(), port: 5907 });
        assert_eq!(compute_endpoint(&token_endpoint(&tcp)), Some(tcp));
        assert_eq!(compute_endpoint(&TokenEndpoint::ConsoleStream { node: "kvm1".into() }), None);
    }
}
