//! A libvirt node: lists its domains with their state and live VNC graphics, and looks one up by
//! UUID. Every call goes through `link.rs`: its own thread, the node's time limit, no call waiting
//! behind another; a node that fails is reported, never fatal to the others.

mod link;

use crate::domain_xml::{parse_vnc_graphics, Listen, VncGraphics};
use crate::graphics_fd::{socket_from_libvirt, SKIP_AUTH};
use crate::instance::{Endpoint, Instance, InstanceState};
use crate::serial::{parse_serial_console, ConsoleStream};
use crate::{Error, Result};
use link::{libvirt_error, CallError, Link};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::enumutil::Enum;

pub use link::MAX_THREADS;

/// Time allowed for one libvirt call on one node, opening the connection included (a remote node
/// that hangs must not hang the proxy). Each node has its own; nodes are asked concurrently.
pub const LIBVIRT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a node is configured (`[[nodes]]`).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Name shown in listings.
    pub name: String,
    /// libvirt URI: `qemu:///system`, `qemu+tcp://host/system`, `qemu+ssh://…`, `qemu+tls://…`.
    pub libvirt_uri: String,
    /// Address the proxy uses to reach this node's VNC servers (Nova's server_proxyclient_address).
    pub proxyclient_address: String,
    /// How the proxy reaches the VNC servers.
    pub connect: ConnectMode,
    /// Time allowed for one call on this node ([`LIBVIRT_TIMEOUT`] unless a test says otherwise).
    pub timeout: Duration,
}

impl NodeConfig {
    /// A node reached over TCP at 127.0.0.1, with the default time limit.
    pub fn new(name: impl Into<String>, libvirt_uri: impl Into<String>) -> Self {
        NodeConfig {
            name: name.into(),
            libvirt_uri: libvirt_uri.into(),
            proxyclient_address: "127.0.0.1".into(),
            connect: ConnectMode::Tcp,
            timeout: LIBVIRT_TIMEOUT,
        }
    }
}

impl NodeConfig {
    /// Whether `host` (the host of a Nova console token, Nova's `server_proxyclient_address`)
    /// names this node: its `proxyclient_address` or its name, ignoring case and IPv6 brackets.
    pub fn is_host(&self, host: &str) -> bool {
        let bare = |h: &str| h.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let host = bare(host);
        !host.is_empty() && (host == bare(&self.proxyclient_address) || host == bare(&self.name))
    }
}

/// How the proxy reaches a node's VNC servers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectMode {
    /// TCP to `proxyclient_address` and the domain's VNC port.
    #[default]
    Tcp,
    /// A socket from libvirt (`virDomainOpenGraphicsFD`, skip-auth): local nodes only; works for
    /// domains with a VNC password or listening only on a unix socket, with no port exposed.
    GraphicsFd,
}

/// A libvirt node with a lazily opened connection, re-opened after a failure or a time-out.
#[derive(Clone)]
pub struct LibvirtNode {
    cfg: Arc<NodeConfig>,
    /// The connection and the threads that wait on libvirt (see [`link`]).
    link: Arc<Link>,
}

/// XML with the VNC password (libvirt's VIR_DOMAIN_XML_SECURE).
const XML_SECURE: u32 = 1;
/// The persistent definition, not the live state (VIR_DOMAIN_XML_INACTIVE).
const XML_INACTIVE: u32 = 2;

/// A domain as the audit sees it.
#[derive(Clone, Debug)]
pub struct AuditedDomain {
    /// Its name.
    pub name: String,
    /// Its UUID.
    pub uuid: Uuid,
    /// Its state.
    pub state: InstanceState,
    /// VNC graphics of the live domain.
    pub live: Option<VncGraphics>,
    /// VNC graphics of the persistent definition (persistent domains only).
    pub defined: Option<VncGraphics>,
    /// Whether it has a persistent definition.
    pub persistent: bool,
}

impl LibvirtNode {
    /// A node; nothing is opened until first used.
    pub fn new(cfg: NodeConfig) -> Self {
        quiet_errors();
        crate::events::ensure_event_loop();
        let link = Arc::new(Link::new(cfg.libvirt_uri.clone(), cfg.timeout));
        LibvirtNode { cfg: Arc::new(cfg), link }
    }

    /// Its configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.cfg
    }

    /// Whether the node answers a trivial call.
    pub async fn ping(&self) -> Result<()> {
        self.call(|conn| conn.lib_version().map(|_| ()).map_err(CallError::from)).await
    }

    /// Every domain of the node, running or not.
    pub async fn instances(&self) -> Result<Vec<Instance>> {
        let cfg = self.cfg.clone();
        self.call(move |conn| {
            let mut out = Vec::new();
            for d in conn.list_all_domains(0)? {
                match describe(&cfg, &d) {
                    Ok(i) => out.push(i),
                    // Undefined between listing and reading it: it is gone, not an error.
                    Err(CallError::Virt(e)) if is_no_domain(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await
    }

    /// The current instance for a UUID, if this node has it.
    pub async fn instance(&self, uuid: Uuid) -> Result<Option<Instance>> {
        let cfg = self.cfg.clone();
        self.call(move |conn| match conn.lookup_domain_by_uuid_string(&uuid.to_string()) {
            Ok(d) => describe(&cfg, &d).map(Some),
            Err(e) if is_no_domain(&e) => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await
    }

    /// A socket connected to the domain's VNC server, from libvirt, skipping VNC authentication.
    pub async fn open_graphics(&self, uuid: Uuid) -> Result<std::os::unix::net::UnixStream> {
        let uri = self.cfg.libvirt_uri.clone();
        self.call(move |conn| {
            let dom = conn.lookup_domain_by_uuid_string(&uuid.to_string())?;
            let fd = dom.open_graphics_fd(0, SKIP_AUTH)?;
            socket_from_libvirt(fd).map_err(|e| CallError::Other(Error::Libvirt { uri, message: e.to_string() }))
        })
        .await
    }

    /// The domain's serial console (the device `virsh console` opens), taken over from any other
    /// session; on a connection of its own (see [`crate::serial`]).
    pub async fn open_serial(&self, uuid: Uuid) -> Result<ConsoleStream> {
        crate::serial::open_console(&self.cfg.libvirt_uri, uuid, None, self.cfg.timeout).await
    }

    /// Every domain with its live VNC graphics and, for persistent domains, the graphics of its
    /// persistent definition (what a hard reboot would start).
    pub async fn audit_domains(&self) -> Result<Vec<AuditedDomain>> {
        self.call(move |conn| {
            let mut out = Vec::new();
            for d in conn.list_all_domains(0)? {
                let (Ok(name), Ok(uuid), Ok((state, _))) = (d.name(), d.uuid(), d.state()) else { continue };
                let live = match d.xml_desc(XML_SECURE) {
                    Ok(xml) => parse_vnc_graphics(&xml)?,
                    Err(e) if is_no_domain(&e) => continue,
                    Err(e) => return Err(e.into()),
                };
                let persistent = d.is_persistent().unwrap_or(false);
                let defined = if persistent { parse_vnc_graphics(&d.xml_desc(XML_SECURE | XML_INACTIVE)?)? } else { None };
                out.push(AuditedDomain { name, uuid, state: state_of(&state), live, defined, persistent });
            }
            Ok(out)
        })
        .await
    }

    /// Rewrites the VNC listen address of a persistent domain's definition. Returns the old
    /// address, or `None` when there was nothing to change; writes only when `apply`.
    pub async fn rewrite_listen(&self, uuid: Uuid, listen: String, apply: bool) -> Result<Option<String>> {
        let uri = self.cfg.libvirt_uri.clone();
        self.call(move |conn| {
            let dom = conn.lookup_domain_by_uuid_string(&uuid.to_string())?;
            let xml = dom.xml_desc(XML_SECURE | XML_INACTIVE)?;
            let Some((old, new_xml)) = crate::audit::fix::rewrite_vnc_listen(&xml, &listen) else { return Ok(None) };
            if apply {
                conn.define_domain_xml(&new_xml).map_err(|e| CallError::Other(libvirt_error(&uri, &e)))?;
            }
            Ok(Some(old))
        })
        .await
    }

    /// Stops and starts a domain, so its persistent definition takes effect (Nova's hard reboot).
    pub async fn hard_reboot(&self, uuid: Uuid) -> Result<()> {
        self.call(move |conn| {
            let dom = conn.lookup_domain_by_uuid_string(&uuid.to_string())?;
            if dom.is_active()? {
                dom.destroy()?;
            }
            dom.create()?;
            Ok(())
        })
        .await
    }

    async fn call<T: Send + 'static>(&self, f: impl FnOnce(&Connect) -> Result<T, CallError> + Send + 'static) -> Result<T> {
        self.link.call(f).await
    }
}

fn is_no_domain(e: &virt::error::Error) -> bool {
    e.code() == Enum::Known(virt::error::ErrorNumber::NoDomain)
}

/// Stops libvirt's default error handler, which prints every error on stderr; ours are reported
/// instead.
pub(crate) fn quiet_errors() {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(virt::error::clear_error_callback);
}

fn describe(cfg: &NodeConfig, d: &Domain) -> Result<Instance, CallError> {
    let name = d.name()?;
    let uuid = d.uuid()?;
    let (state, _) = d.state()?;
    let xml = d.xml_desc(XML_SECURE)?;
    let graphics = parse_vnc_graphics(&xml)?;
    let serial = parse_serial_console(&xml)?;
    let state = state_of(&state);
    let vnc = graphics.as_ref().filter(|_| state.has_console()).and_then(|g| endpoint(cfg, g));
    Ok(Instance { uuid, name, node: Some(cfg.name.clone()), state, vnc, graphics, serial })
}

fn endpoint(cfg: &NodeConfig, g: &VncGraphics) -> Option<Endpoint> {
    if cfg.connect == ConnectMode::GraphicsFd {
        return Some(Endpoint::GraphicsFd { node: cfg.name.clone() });
    }
    let tcp = matches!(g.listen, Listen::Address(_) | Listen::Network { .. } | Listen::Default);
    let port = g.port.filter(|_| tcp)?;
    Some(Endpoint::tcp(cfg.proxyclient_address.clone(), port))
}

/// The state libvirt reports, as the other crates see it.
fn state_of(state: &Enum<DomainState, u32>) -> InstanceState {
    match state {
        Enum::Known(DomainState::NoState) => InstanceState::NoState,
        Enum::Known(DomainState::Running) => InstanceState::Running,
        Enum::Known(DomainState::Blocked) => InstanceState::Idle,
        Enum::Known(DomainState::Paused) => InstanceState::Paused,
        Enum::Known(DomainState::Shutdown) => InstanceState::InShutdown,
        Enum::Known(DomainState::Shutoff) => InstanceState::ShutOff,
        Enum::Known(DomainState::Crashed) => InstanceState::Crashed,
        Enum::Known(DomainState::PMSuspended) => InstanceState::PmSuspended,
        Enum::Unknown(_) => InstanceState::Unknown,
    }
}
