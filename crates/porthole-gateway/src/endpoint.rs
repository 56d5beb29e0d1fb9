//! Compute's [`Endpoint`] (where the proxy reaches a console now) and the token store's
//! [`TokenEndpoint`] (where a token says it is): the one place that converts between the two.

use porthole_compute::Endpoint;
use porthole_tokens::TokenEndpoint;

/// Compute's endpoint as the token store keeps it.
pub fn token_endpoint(ep: &Endpoint) -> TokenEndpoint {
    match ep {
        Endpoint::Tcp { host, port } => TokenEndpoint::Tcp { host: host.clone(), port: *port },
        Endpoint::GraphicsFd { node } => TokenEndpoint::GraphicsFd { node: node.clone() },
    }
}

/// The VNC endpoint a stored token names; `None` for a serial console stream.
pub(crate) fn vnc_endpoint(ep: &TokenEndpoint) -> Option<Endpoint> {
    match ep {
        TokenEndpoint::Tcp { host, port } => Some(Endpoint::Tcp { host: host.clone(), port: *port }),
        TokenEndpoint::GraphicsFd { node } => Some(Endpoint::GraphicsFd { node: node.clone() }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_survive_the_store() {
        for ep in [Endpoint::tcp("10.0.0.5", 5901), Endpoint::tcp("::1", 5900), Endpoint::GraphicsFd { node: "kvm1".into() }] {
            assert_eq!(vnc_endpoint(&token_endpoint(&ep)), Some(ep));
        }
        assert_eq!(vnc_endpoint(&TokenEndpoint::ConsoleStream { node: "kvm1".into() }), None);
    }
}
