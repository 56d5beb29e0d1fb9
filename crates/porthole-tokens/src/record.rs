//! The record stored next to a token's hash ([`ConnectInfo`]), its typed parts (console type and
//! endpoint), and what a lookup finds ([`Lookup`]).

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// What the proxy needs to reach a console, stored next to the token's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectInfo {
    /// The instance (VM or static target) the token opens.
    pub instance_uuid: Uuid,
    /// Which kind of console the token opens.
    pub console_type: ConsoleType,
    /// Where the proxy reaches the console.
    pub endpoint: TokenEndpoint,
    /// Nova's legacy HTTP CONNECT path; unused by libvirt, kept for API compatibility.
    pub internal_access_path: Option<String>,
    /// The `novncproxy_base_url` the access URL was built from; the Origin scheme check uses it.
    pub access_url_base: String,
    /// Expiry in epoch seconds; the token is valid while `expires > now`.
    pub expires: i64,
    /// The proxy drops the browser's input (keys, pointer, clipboard): the console is only watched.
    pub view_only: bool,
    /// Who minted it: an API key's name, or `cli`; kept for the session history.
    pub minted_by: Option<String>,
}

/// The kind of console a token opens; stored as Nova's names, `novnc` and `serial`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsoleType {
    /// A VNC console shown by the noVNC page.
    Novnc,
    /// A serial console (libvirt's console stream) shown by a terminal page.
    Serial,
}

impl ConsoleType {
    /// The stored (and Nova's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleType::Novnc => "novnc",
            ConsoleType::Serial => "serial",
        }
    }
}

impl fmt::Display for ConsoleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A console type name that is neither `novnc` nor `serial`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown console type {0:?} (expected novnc or serial)")]
pub struct UnknownConsoleType(pub String);

impl FromStr for ConsoleType {
    type Err = UnknownConsoleType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "novnc" => Ok(ConsoleType::Novnc),
            "serial" => Ok(ConsoleType::Serial),
            other => Err(UnknownConsoleType(other.to_owned())),
        }
    }
}

/// Where the proxy reaches a console. Stored as `endpoint_kind` plus `host`/`port` or `node`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenEndpoint {
    /// A VNC server over TCP: the node's `proxyclient_address` or a static target's host.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A socket that libvirt on `node` hands over (`virDomainOpenGraphicsFD`): no port anywhere.
    GraphicsFd {
        /// The configured node name.
        node: String,
    },
    /// libvirt's console stream on `node` (`virDomainOpenConsole`), for serial consoles.
    ConsoleStream {
        /// The configured node name.
        node: String,
    },
}

impl TokenEndpoint {
    /// The stored `endpoint_kind`: `tcp`, `graphics-fd` or `console-stream`.
    pub fn kind(&self) -> &'static str {
        match self {
            TokenEndpoint::Tcp { .. } => "tcp",
            TokenEndpoint::GraphicsFd { .. } => "graphics-fd",
            TokenEndpoint::ConsoleStream { .. } => "console-stream",
        }
    }
}

/// For log lines: `host:port` (`[v6]:port`), `graphics-fd@NODE`, `console-stream@NODE`.
impl fmt::Display for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenEndpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            TokenEndpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            TokenEndpoint::GraphicsFd { node } | TokenEndpoint::ConsoleStream { node } => write!(f, "{}@{node}", self.kind()),
        }
    }
}

/// What a store knows about a presented token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Stored, not expired, not revoked.
    Valid(ConnectInfo),
    /// Stored, but `expires <= now` (and not revoked).
    Expired,
    /// Stored and revoked (an administrator reset the instance's consoles, or it stopped). A
    /// revoked token says `Revoked` whether or not it has expired since, until the purge deletes it.
    Revoked,
    /// Not stored: never minted, mistyped, or already purged.
    Unknown,
}

impl Lookup {
    /// The connect info of a valid token.
    pub fn valid(self) -> Option<ConnectInfo> {
        match self {
            Lookup::Valid(info) => Some(info),
            Lookup::Expired | Lookup::Revoked | Lookup::Unknown => None,
        }
    }

    /// Decides from a stored row: revoked first, then expired.
    pub(crate) fn of_row(info: ConnectInfo, revoked_at: Option<i64>, now: i64) -> Lookup {
        if revoked_at.is_some() {
            Lookup::Revoked
        } else if info.expires <= now {
            Lookup::Expired
        } else {
            Lookup::Valid(info)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_type_names_round_trip() {
        for t in [ConsoleType::Novnc, ConsoleType::Serial] {
            assert_eq!(t.as_str().parse::<ConsoleType>(), Ok(t));
        }
        assert!("spice".parse::<ConsoleType>().is_err());
    }

    #[test]
    fn endpoints_print_for_logs() {
        assert_eq!(TokenEndpoint::Tcp { host: "10.0.0.5".into(), port: 5901 }.to_string(), "10.0.0.5:5901");
        assert_eq!(TokenEndpoint::Tcp { host: "2001:db8::7".into(), port: 5901 }.to_string(), "[2001:db8::7]:5901");
        assert_eq!(TokenEndpoint::GraphicsFd { node: "kvm1".into() }.to_string(), "graphics-fd@kvm1");
        assert_eq!(TokenEndpoint::ConsoleStream { node: "kvm1".into() }.to_string(), "console-stream@kvm1");
    }
}
