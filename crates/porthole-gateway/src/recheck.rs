//! Whether a token's VNC endpoint still belongs to its instance (CVE-2013-0335), asked at connect
//! time of the live inventory. Porthole's own tokens: the instance's current endpoint must be the
//! token's. Nova's tokens (a Nova store): Nova's `validate_console_port`, answered from libvirt
//! instead of nova-compute's RPC, on the `[[nodes]]` entry the token's host names (its
//! `proxyclient_address` or name); a host no node is passes on the token alone, or is refused
//! with `[nova] require_node_match` (see [`EndpointCheck`]).

use crate::settings::EndpointCheck;
use porthole_compute::{HostPort, Inventory, LookupError};
use porthole_tokens::{ConnectInfo, TokenEndpoint};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// `Ok(false)` when the endpoint is no longer the instance's; `Err` when the nodes that might
/// hold the instance could not be asked.
pub(crate) async fn endpoint_matches(inventory: &dyn Inventory, check: EndpointCheck, info: &ConnectInfo) -> Result<bool, LookupError> {
    if let (EndpointCheck::NovaHosts { require_node_match }, TokenEndpoint::Tcp { host, port }) = (check, &info.endpoint) {
        return match inventory.console_port_on_host(info.instance_uuid, host, *port).await? {
            HostPort::Matches => Ok(true),
            HostPort::Moved => Ok(false),
            HostPort::NoNode => {
                unmatched_host(host, require_node_match);
                Ok(!require_node_match)
            }
        };
    }
    match crate::endpoint::vnc_endpoint(&info.endpoint) {
        Some(ep) => inventory.endpoint_matches(info.instance_uuid, &ep).await,
        None => Ok(false),
    }
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
