//! Compute's [`Endpoint`] into the token store's connect info, and back: the one place that
//! knows how the store keeps an endpoint. Until the store keeps a typed endpoint, a graphics-fd
//! endpoint is stored as it always was (host `graphics-fd://NODE`, port 0), so existing tokens
//! stay valid; nothing outside this file sees that spelling.

use porthole_compute::Endpoint;
use porthole_tokens::auth::ConsoleTarget;
use porthole_tokens::ConnectInfo;
use uuid::Uuid;

/// How the token table spells a graphics-fd endpoint's host (before typed endpoints).
const STORED_GRAPHICS_FD: &str = "graphics-fd://";

/// What to store for a console of `instance` reached at `endpoint`.
pub(crate) fn console_target(instance: Uuid, endpoint: &Endpoint) -> ConsoleTarget {
    let (host, port) = match endpoint {
        Endpoint::Tcp { host, port } => (host.clone(), *port),
        Endpoint::GraphicsFd { node } => (format!("{STORED_GRAPHICS_FD}{node}"), 0),
        other => (other.to_string(), 0),
    };
    ConsoleTarget { instance_uuid: instance, host, port }
}

/// The endpoint a stored token names.
pub(crate) fn token_endpoint(info: &ConnectInfo) -> Endpoint {
    match info.host.strip_prefix(STORED_GRAPHICS_FD) {
        Some(node) => Endpoint::GraphicsFd { node: node.to_owned() },
        None => Endpoint::tcp(info.host.clone(), info.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(target: ConsoleTarget) -> ConnectInfo {
        ConnectInfo {
            instance_uuid: target.instance_uuid,
            console_type: "novnc".into(),
            host: target.host,
            port: target.port,
            internal_access_path: None,
            access_url_base: "http://127.0.0.1:6080/vnc_lite.html".into(),
            expires: 0,
        }
    }

    #[test]
    fn endpoints_survive_the_store() {
        for ep in [Endpoint::tcp("10.0.0.5", 5901), Endpoint::tcp("::1", 5900), Endpoint::GraphicsFd { node: "kvm1".into() }] {
            assert_eq!(token_endpoint(&stored(console_target(Uuid::nil(), &ep))), ep);
        }
    }
}
