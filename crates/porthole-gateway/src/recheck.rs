//! Whether a token's console still belongs to its instance (CVE-2013-0335), asked at connect time
//! of the live inventory. Porthole's own tokens: the instance's current endpoint must be the
//! token's (`mint::still_serves`). Nova's tokens (a Nova store): Nova's `validate_console_port`,
//! answered from libvirt instead of nova-compute's RPC, on the `[[nodes]]` entry the token's host
//! names (its `proxyclient_address` or name); a host no node is passes on the token alone, or is
//! refused with `[nova] require_node_match` (see [`EndpointCheck`]).

use crate::settings::EndpointCheck;
use porthole_compute::{HostPort, Instance, Inventory, LookupError};
use porthole_tokens::{ConnectInfo, TokenEndpoint};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// What the re-check found.
#[derive(Debug)]
pub(crate) enum Recheck {
    /// The console is still the instance's; the instance as the inventory sees it, or `None` for
    /// a Nova token accepted on the token alone (its host is no node).
    Serves(Option<Box<Instance>>),
    /// The endpoint is no longer the instance's (gone, stopped, another domain has the port).
    Moved,
}

/// Re-checks a token's endpoint; `Err` when the nodes that might hold the instance could not be asked.
pub(crate) async fn recheck(inventory: &dyn Inventory, check: EndpointCheck, info: &ConnectInfo) -> Result<Recheck, LookupError> {
    if let (EndpointCheck::NovaHosts { require_node_match }, TokenEndpoint::Tcp { host, port }) = (check, &info.endpoint) {
        return match inventory.console_port_on_host(info.instance_uuid, host, *port).await? {
            HostPort::Matches(instance) => Ok(Recheck::Serves(Some(instance))),
            HostPort::Moved => Ok(Recheck::Moved),
            HostPort::NoNode if require_node_match => {
                unmatched_host(host, true);
                Ok(Recheck::Moved)
            }
            HostPort::NoNode => {
                unmatched_host(host, false);
                Ok(Recheck::Serves(None))
            }
        };
    }
    match inventory.find_by_uuid(info.instance_uuid).await {
        Ok(instance) if crate::mint::still_serves(&instance, info) => Ok(Recheck::Serves(Some(Box::new(instance)))),
        Ok(_) | Err(LookupError::NotFound(_)) => Ok(Recheck::Moved),
        Err(e) => Err(e),
    }
}

/// Whether the console still belongs to the instance (`Err`: the nodes could not be asked).
pub(crate) async fn endpoint_matches(inventory: &dyn Inventory, check: EndpointCheck, info: &ConnectInfo) -> Result<bool, LookupError> {
    Ok(matches!(recheck(inventory, check, info).await?, Recheck::Serves(_)))
}

/// Says once per host (a process sees few compute hosts) what happens to tokens of a host that is
/// no `[[nodes]]` entry.
fn unmatched_host(host: &str, refused: bool) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN.get_or_init(Mutex::default).lock().map(|mut seen| seen.insert(host.to_owned())).unwrap_or(false);
    if !first {
        return;
    }
    if refused {
        tracing::warn!(
            host,
            "Nova consoles on host {host} are refused: no [[nodes]] entry has that proxyclient_address or name, and [nova] \
             require_node_match is on; add the compute host as a [[nodes]] entry"
        );
    } else {
        tracing::warn!(
            host,
            "Nova consoles on host {host} are accepted on the token alone: no [[nodes]] entry has that proxyclient_address or \
             name, so their VNC port is not re-checked against the live domain (CVE-2013-0335); add the compute host as a \
             [[nodes]] entry, or set [nova] require_node_match = true to refuse them"
        );
    }
}
