//! A domain's serial console as its XML describes it: the device `virsh console` opens (libvirt's
//! first `<console>`, else its first `<serial>`), where its host side is (pty, TCP, unix socket)
//! and what the guest sees (a UART or a virtio console). Pure parsing.

use crate::{Error, Result};
use roxmltree::Node;
use serde::Serialize;

/// The console device of a domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SerialConsole {
    /// libvirt's alias (`serial0`, `console1`), in the live XML only; the name
    /// `virDomainOpenConsole` takes to open exactly this device.
    pub alias: Option<String>,
    /// What the guest has: a UART (`ttyS0`) or a virtio console (`hvc0`).
    pub target: ConsoleTarget,
    /// The host side of the character device.
    pub source: SerialSource,
}

/// The guest side of a console device (`<target type=…>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleTarget {
    /// A serial port: `<console><target type='serial'>` or a `<serial>` (isa-serial, pci-serial…).
    Serial,
    /// A virtio console (`hvc0` in a Linux guest).
    Virtio,
    /// Anything else libvirt knows (`sclp`, `xen`, `lxc`…), as written.
    Other(String),
}

/// The host side of a console device (`<serial type=…>` / `<console type=…>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SerialSource {
    /// A pseudo-terminal on the hypervisor; `path` is known once the domain runs. QEMU's libvirt
    /// driver opens only this kind through `virDomainOpenConsole`: no port anywhere.
    Pty {
        /// `/dev/pts/N` on the node.
        path: Option<String>,
    },
    /// A TCP chardev (Nova's serial-proxy setup): QEMU listens (`bind`) or connects out.
    Tcp {
        /// Host name or address of `<source host=…>`.
        host: String,
        /// `<source service=…>`.
        port: u16,
        /// QEMU listens on it (`mode='bind'`) rather than connecting out.
        listen: bool,
        /// `<protocol type='telnet'>` (or telnets) rather than raw bytes.
        telnet: bool,
    },
    /// A unix-socket chardev on the node.
    Unix {
        /// The socket's path.
        path: String,
        /// QEMU listens on it (`mode='bind'`).
        listen: bool,
    },
    /// Any other backend (`file`, `null`, `stdio`, `spiceport`…): nothing to connect to.
    Other {
        /// libvirt's type name.
        kind: String,
    },
}

impl SerialConsole {
    /// Whether libvirt can hand out a stream to it (`virDomainOpenConsole`, QEMU driver: pty only;
    /// a TCP or unix chardev gets "character device … is not using a PTY").
    pub fn opens_through_libvirt(&self) -> bool {
        matches!(self.source, SerialSource::Pty { .. })
    }

    /// A short description for listings: `pty`, `tcp 127.0.0.1:4555`, `unix /run/x.sock`, `file`.
    pub fn summary(&self) -> String {
        match &self.source {
            SerialSource::Pty { .. } => "pty".to_owned(),
            SerialSource::Tcp { host, port, telnet, .. } => {
                let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                format!("{} {host}:{port}", if *telnet { "telnet" } else { "tcp" })
            }
            SerialSource::Unix { path, .. } => format!("unix {path}"),
            SerialSource::Other { kind } => kind.clone(),
        }
    }
}

/// Parses domain XML; `Ok(None)` when the domain has no console or serial device.
pub fn parse_serial_console(xml: &str) -> Result<Option<SerialConsole>> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| Error::DomainXml(e.to_string()))?;
    let Some(devices) = doc.root_element().children().find(|n| n.has_tag_name("devices")) else { return Ok(None) };
    // What virDomainOpenConsole opens without a name: the first <console>, else the first <serial>.
    let device = devices.children().find(|n| n.has_tag_name("console")).or_else(|| devices.children().find(|n| n.has_tag_name("serial")));
    device.map(device_of).transpose()
}

fn device_of(dev: Node<'_, '_>) -> Result<SerialConsole> {
    let child = |name: &str| dev.children().find(|n| n.has_tag_name(name));
    let source = child("source");
    let attr = |name: &str| source.and_then(|s| s.attribute(name)).map(str::to_owned);
    let listen = attr("mode").as_deref() != Some("connect");
    let kind = dev.attribute("type").unwrap_or("pty");
    let source = match kind {
        "pty" => SerialSource::Pty { path: attr("path").or_else(|| dev.attribute("tty").map(str::to_owned)) },
        "tcp" => {
            let service =
                attr("service").ok_or_else(|| Error::DomainXml(format!("<{} type='tcp'> has no service", dev.tag_name().name())))?;
            let port =
                service.trim().parse::<u16>().map_err(|_| Error::DomainXml(format!("serial TCP service {service:?} is not a port")))?;
            let protocol = child("protocol").and_then(|p| p.attribute("type")).unwrap_or("raw");
            let host = attr("host").unwrap_or_else(|| "127.0.0.1".to_owned());
            SerialSource::Tcp { host, port, listen, telnet: protocol.starts_with("telnet") }
        }
        "unix" => match attr("path") {
            Some(path) => SerialSource::Unix { path, listen },
            None => return Err(Error::DomainXml("<serial type='unix'> has no source path".into())),
        },
        other => SerialSource::Other { kind: other.to_owned() },
    };
    let target = match child("target").and_then(|t| t.attribute("type")) {
        None => ConsoleTarget::Serial,
        Some(t) if t == "serial" || t.ends_with("-serial") => ConsoleTarget::Serial,
        Some("virtio") => ConsoleTarget::Virtio,
        Some(other) => ConsoleTarget::Other(other.to_owned()),
    };
    let alias = child("alias").and_then(|a| a.attribute("name")).map(str::to_owned);
    Ok(SerialConsole { alias, target, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Domain XML captured from libvirt 9.0 (Debian 12): `virsh dumpxml` of running domains, and
    /// `--inactive` of a defined one.
    fn parse(name: &str) -> Option<SerialConsole> {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        parse_serial_console(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn running_guest_with_a_pty() {
        let c = parse("serial-pty.xml").unwrap();
        assert_eq!(c.alias.as_deref(), Some("serial0"));
        assert_eq!(c.target, ConsoleTarget::Serial);
        assert_eq!(c.source, SerialSource::Pty { path: Some("/dev/pts/0".into()) });
        assert!(c.opens_through_libvirt());
        assert_eq!(c.summary(), "pty");
    }

    #[test]
    fn defined_domain_has_a_pty_without_path_or_alias() {
        let c = parse("serial-pty-inactive.xml").unwrap();
        assert_eq!((c.alias, c.source), (None, SerialSource::Pty { path: None }));
    }

    #[test]
    fn tcp_chardevs() {
        let c = parse("serial-tcp.xml").unwrap();
        assert_eq!(c.source, SerialSource::Tcp { host: "127.0.0.1".into(), port: 47311, listen: true, telnet: false });
        assert!(!c.opens_through_libvirt());
        assert_eq!(c.summary(), "tcp 127.0.0.1:47311");
        let t = parse("serial-telnet-any.xml").unwrap();
        assert_eq!(t.source, SerialSource::Tcp { host: "0.0.0.0".into(), port: 47312, listen: true, telnet: true });
        assert_eq!(t.summary(), "telnet 0.0.0.0:47312");
    }

    #[test]
    fn unix_chardev() {
        let c = parse("serial-unix.xml").unwrap();
        assert_eq!(c.source, SerialSource::Unix { path: "/tmp/sbx/ser.sock".into(), listen: true });
        assert_eq!(c.summary(), "unix /tmp/sbx/ser.sock");
    }

    #[test]
    fn the_first_console_wins_as_in_virsh_console() {
        // libvirt adds a serial console in front of the virtio one; the virtio one is console1.
        let c = parse("serial-virtio-console.xml").unwrap();
        assert_eq!((c.alias.as_deref(), c.target), (Some("serial0"), ConsoleTarget::Serial));
        let virtio = "<domain><devices><console type='pty'><target type='virtio' port='0'/><alias name='console0'/></console>\
                      <serial type='pty'><target port='0'/></serial></devices></domain>";
        let c = parse_serial_console(virtio).unwrap().unwrap();
        assert_eq!((c.alias.as_deref(), c.target), (Some("console0"), ConsoleTarget::Virtio));
        let serial_only = "<domain><devices><serial type='file'><source path='/var/log/x'/></serial></devices></domain>";
        let c = parse_serial_console(serial_only).unwrap().unwrap();
        assert_eq!(c.source, SerialSource::Other { kind: "file".into() });
        assert!(!c.opens_through_libvirt());
    }

    #[test]
    fn no_serial_device() {
        assert_eq!(parse("serial-none.xml"), None);
        assert_eq!(parse("no-graphics.xml"), None);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(parse_serial_console("<domain").is_err());
        assert!(parse_serial_console("<domain><devices><serial type='tcp'><source host='h'/></serial></devices></domain>").is_err());
        assert!(parse_serial_console("<domain><devices><serial type='tcp'><source service='99999'/></serial></devices></domain>").is_err());
        assert!(parse_serial_console("<domain><devices><serial type='unix'/></devices></domain>").is_err());
    }

    #[test]
    fn serializes_for_list_json() {
        let c = parse("serial-tcp.xml").unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["source"]["type"], "tcp");
        assert_eq!(v["source"]["port"], 47311);
        assert_eq!(v["target"], "serial");
    }
}
