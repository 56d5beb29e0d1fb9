//! Reads a domain's VNC graphics from libvirt domain XML (`<graphics type='vnc'>`): port, autoport,
//! where it listens (the `listen` attribute or `<listen>` children), `passwd` and `websocket`.
//! Pure parsing; the XML comes from libvirt, a file or a test.

use crate::{Error, Result};

/// Where a VNC server listens, as the domain XML says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address (`listen='…'` or `<listen type='address' address='…'/>`).
    Address(String),
    /// A libvirt network; `address` is filled in the live XML of a running domain.
    Network {
        /// The network's name.
        network: String,
        /// The address it resolved to, if known.
        address: Option<String>,
    },
    /// A unix socket (`<listen type='socket'>`), path if known.
    Socket(Option<String>),
    /// No listener at all (`<listen type='none'/>`): reachable only through libvirt.
    None,
    /// Nothing said: QEMU's default (`vnc_listen` in qemu.conf, 127.0.0.1 by default).
    Default,
}

impl Listen {
    /// The TCP address, if the server listens on TCP at a known address.
    pub fn address(&self) -> Option<&str> {
        match self {
            Listen::Address(a) => Some(a),
            Listen::Network { address, .. } => address.as_deref(),
            _ => None,
        }
    }
}

/// A VNC password; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The first VNC graphics device of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VncGraphics {
    /// TCP port; `None` when not allocated (`-1`, a stopped autoport domain) or not on TCP.
    pub port: Option<u16>,
    /// libvirt picks the port at start.
    pub autoport: bool,
    /// Where it listens.
    pub listen: Listen,
    /// The VNC password (only in XML read with the secure flag).
    pub passwd: Option<Password>,
    /// QEMU's own WebSocket port, if any.
    pub websocket: Option<u16>,
}

impl VncGraphics {
    /// What `virsh vncdisplay` prints: `ADDRESS:DISPLAY`, the address left out for 0.0.0.0
    /// (`:1`), IPv6 addresses as they are (`:::2`). `None` when there is no TCP port.
    pub fn vncdisplay(&self) -> Option<String> {
        let port = self.port?;
        let display = i32::from(port) - 5900;
        let addr = match self.listen.address() {
            Some("0.0.0.0") => "",
            Some(a) => a,
            None if matches!(self.listen, Listen::Default) => "127.0.0.1",
            None => return None,
        };
        Some(format!("{addr}:{display}"))
    }
}

/// Parses domain XML; `Ok(None)` when the domain has no VNC graphics.
pub fn parse_vnc_graphics(xml: &str) -> Result<Option<VncGraphics>> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| Error::DomainXml(e.to_string()))?;
    let Some(g) = doc.descendants().find(|n| n.has_tag_name("graphics") && n.attribute("type") == Some("vnc")) else {
        return Ok(None);
    };
    let port = match g.attribute("port") {
        None => None,
        Some(p) => match p.trim().parse::<i32>() {
            Ok(v) => u16::try_from(v).ok().filter(|v| *v > 0),
            Err(_) => return Err(Error::DomainXml(format!("graphics port {p:?} is not a number"))),
        },
    };
    let websocket = g.attribute("websocket").and_then(|w| w.trim().parse::<i32>().ok()).and_then(|v| u16::try_from(v).ok());
    let child = g.children().find(|n| n.has_tag_name("listen"));
    let listen = match child {
        Some(l) => match l.attribute("type").unwrap_or("address") {
            "address" => l.attribute("address").map_or(Listen::Default, |a| Listen::Address(a.to_owned())),
            "network" => Listen::Network {
                network: l.attribute("network").unwrap_or_default().to_owned(),
                address: l.attribute("address").map(str::to_owned),
            },
            "socket" => Listen::Socket(l.attribute("socket").map(str::to_owned)),
            "none" => Listen::None,
            other => return Err(Error::DomainXml(format!("unknown <listen type={other:?}>"))),
        },
        None => match (g.attribute("listen"), g.attribute("socket")) {
            (Some(a), _) => Listen::Address(a.to_owned()),
            (None, Some(s)) => Listen::Socket(Some(s.to_owned())),
            (None, None) => Listen::Default,
        },
    };
    Ok(Some(VncGraphics {
        port: if matches!(listen, Listen::Socket(_) | Listen::None) { None } else { port },
        autoport: g.attribute("autoport") == Some("yes"),
        listen,
        passwd: g.attribute("passwd").map(|p| Password(p.to_owned())),
        websocket,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Option<VncGraphics> {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        parse_vnc_graphics(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn running_domain_with_password() {
        let g = parse("passwd.xml").unwrap();
        assert_eq!(g.port, Some(5900));
        assert!(g.autoport);
        assert_eq!(g.listen, Listen::Address("127.0.0.1".into()));
        assert_eq!(g.passwd.as_ref().map(|p| p.0.as_str()), Some("s3cret"));
        assert!(!format!("{g:?}").contains("s3cret"));
        assert_eq!(g.vncdisplay().as_deref(), Some("127.0.0.1:0"));
    }

    #[test]
    fn wildcard_listens_print_as_virsh_does() {
        assert_eq!(parse("listen-any.xml").unwrap().vncdisplay().as_deref(), Some(":1"));
        let v6 = parse("listen-any-v6.xml").unwrap();
        assert_eq!(v6.listen, Listen::Address("::".into()));
        assert_eq!(v6.vncdisplay().as_deref(), Some(":::2"));
    }

    #[test]
    fn stopped_autoport_domain_has_no_port() {
        let g = parse("stopped-autoport.xml").unwrap();
        assert_eq!((g.port, g.autoport), (None, true));
        assert_eq!(g.vncdisplay(), None);
    }

    #[test]
    fn unix_socket_and_none_have_no_tcp_endpoint() {
        let s = parse("unix-socket.xml").unwrap();
        assert_eq!(s.listen, Listen::Socket(Some("/tmp/ph-e.sock".into())));
        assert_eq!((s.port, s.vncdisplay()), (None, None));
        let n = parse("listen-none.xml").unwrap();
        assert_eq!((n.listen.clone(), n.port, n.vncdisplay()), (Listen::None, None, None));
    }

    #[test]
    fn network_listen_uses_the_resolved_address() {
        let g = parse("listen-network.xml").unwrap();
        assert_eq!(g.listen, Listen::Network { network: "mgmt".into(), address: Some("192.0.2.15".into()) });
        assert_eq!(g.vncdisplay().as_deref(), Some("192.0.2.15:10"));
    }

    #[test]
    fn websocket_port() {
        assert_eq!(parse("websocket.xml").unwrap().websocket, Some(5700));
    }

    #[test]
    fn no_vnc_graphics() {
        assert_eq!(parse("spice-only.xml"), None);
        assert_eq!(parse("no-graphics.xml"), None);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(parse_vnc_graphics("<domain><graphics type='vnc' port='x'/></domain>").is_err());
        assert!(parse_vnc_graphics("<domain").is_err());
        assert!(parse_vnc_graphics("").is_err());
        let no_listen_attr = parse_vnc_graphics("<domain><graphics type='vnc' port='5901'/></domain>").unwrap().unwrap();
        assert_eq!(no_listen_attr.vncdisplay().as_deref(), Some("127.0.0.1:1"));
        let huge = parse_vnc_graphics("<domain><graphics type='vnc' port='99999'/></domain>").unwrap().unwrap();
        assert_eq!(huge.port, None);
    }
}
