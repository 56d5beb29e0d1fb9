//! Minting a console for an instance: look it up, check it can have one, store a token, build
//! the access URL. The CLI's `console url` and the API's remote-consoles both come here.

use porthole_compute::domain_xml::Listen;
use porthole_compute::{Endpoint, Instance, InstanceState, Inventory, LookupError};
use porthole_tokens::auth::Minted;
use porthole_tokens::{ConsoleAuth, ConsoleType};

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
    let target = crate::endpoint::console_target(instance.uuid, ConsoleType::Novnc, &ep);
    let minted = auth.authorize(&target, base, ttl).await?;
    Ok((instance, minted))
}
