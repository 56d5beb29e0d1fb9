//! The TOML configuration: Nova's option names where Nova has one, defaults as `DEFAULT_*`, and
//! `validate()` that reports every problem, one line each.

use anyhow::Context as _;
use porthole_gateway::settings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Where the proxy listens when a configuration file does not say (Nova's novncproxy default).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:6080";
/// Where it listens when no configuration file is given at all: loopback only.
pub const DEFAULT_LISTEN_NO_CONFIG: &str = "127.0.0.1:6080";
/// Token lifetime in seconds (Nova's `[consoleauth] token_ttl`).
pub const DEFAULT_TOKEN_TTL: u64 = 600;

/// The whole configuration file.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub proxy: Proxy,
    pub vnc: Vnc,
    pub consoleauth: ConsoleAuth,
    pub nodes: Vec<Node>,
    pub targets: Vec<Target>,
    pub api: Api,
    pub audit: Audit,
    pub log: Log,
    pub serial_console: SerialConsole,
    pub nova: Nova,
    pub metrics: Metrics,
    pub cluster: Cluster,
}

/// `[metrics]`: Prometheus metrics on a listener of their own.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// Where `GET /metrics` answers without a key (a management address); unset = no such
    /// listener (the main listener's `/metrics` still answers admin keys).
    pub listen: Option<String>,
}

/// `[cluster]`: this process among several `porthole serve` processes on one store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cluster {
    /// This process's name in the session records; `HOST-PID-START` when unset (unique per run).
    pub proxy_id: Option<String>,
    /// Seconds between heartbeats; a process silent for three is gone.
    pub heartbeat_interval: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster { proxy_id: None, heartbeat_interval: porthole_gateway::cluster::DEFAULT_HEARTBEAT_INTERVAL.as_secs() }
    }
}

/// `[serial_console]` (Nova's section name).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SerialConsole {
    /// The WebSocket URL serial console URLs start with (Nova's `base_url`); derived from the
    /// listener when unset.
    pub base_url: Option<String>,
}

/// `[log]`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// `text` (default) or `json` (one object per line).
    pub format: LogFormat,
}

/// `[log] format`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[nova]`: serving the tokens a real Nova mints (`[consoleauth] store = "nova+…"`).
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Nova {
    /// Refuse a Nova token whose host is no `[[nodes]]` entry (by `proxyclient_address` or name),
    /// instead of accepting it on the token alone without re-checking its port.
    pub require_node_match: bool,
}

/// `[audit]`.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// CIDRs where VNC listeners are not "exposed" (the management networks).
    pub management_networks: Vec<String>,
}

/// `[api]`: the Nova-compatible REST API.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Api {
    pub keys: Vec<ApiKey>,
}

/// `[[api.keys]]`. `Debug` leaves the secret out.
#[derive(PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub name: String,
    pub secret: String,
    pub role: ApiRole,
    /// Instance name patterns (`web-*`) this key is limited to; empty = no limit by name.
    #[serde(default)]
    pub instances: Vec<String>,
    /// Nodes this key is limited to; empty = no limit by node.
    #[serde(default)]
    pub nodes: Vec<String>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("instances", &self.instances)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

/// `role` of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiRole {
    Admin,
    Member,
}

/// `[[nodes]]`: a libvirt hypervisor.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub libvirt_uri: String,
    /// Address the proxy uses to reach this node's VNC servers (Nova's server_proxyclient_address).
    #[serde(default = "default_proxyclient_address")]
    pub proxyclient_address: String,
    /// `tcp` (default) or `graphics-fd` (local nodes: a socket from libvirt, no VNC port needed).
    #[serde(default)]
    pub connect: NodeConnect,
}

/// `[[nodes]] connect`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeConnect {
    #[default]
    Tcp,
    GraphicsFd,
}

fn default_proxyclient_address() -> String {
    "127.0.0.1".to_owned()
}

/// `[proxy]`: the listener (nova-novncproxy).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Proxy {
    pub listen: String,
    pub allowed_origins: Vec<String>,
    /// Serve this directory as is instead of the console pages built into the binary (e.g.
    /// `/usr/share/novnc`); it must exist.
    pub web_root: Option<PathBuf>,
    pub connect_timeout: u64,
    /// Seconds a VNC server has to finish the security handshake (security proxy on).
    pub handshake_timeout: u64,
    /// Seconds without traffic before a session is closed; 0 never.
    pub idle_timeout: u64,
    /// Seconds a peer may accept none of the bytes waiting for it before its session ends.
    pub stall_timeout: u64,
    pub max_sessions: usize,
    /// Seconds live sessions may go on after SIGTERM before they are told "Going away"; 0 at once.
    pub drain_timeout: u64,
    /// Seconds a whole API request (body included) may take.
    pub request_timeout: u64,
    /// Who may frame the console page (CSP frame-ancestors sources).
    pub frame_ancestors: Vec<String>,
    /// TLS certificate chain (PEM) for https/wss on the listener (Nova's `cert`).
    pub cert: Option<PathBuf>,
    /// Its private key (PEM) (Nova's `key`).
    pub key: Option<PathBuf>,
    /// Refuse plain HTTP (Nova's `ssl_only`); needs `cert` and `key`.
    pub ssl_only: bool,
    /// Addresses or CIDRs of reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            listen: DEFAULT_LISTEN.to_owned(),
            allowed_origins: Vec::new(),
            web_root: None,
            connect_timeout: settings::DEFAULT_CONNECT_TIMEOUT.as_secs(),
            handshake_timeout: settings::DEFAULT_HANDSHAKE_TIMEOUT.as_secs(),
            idle_timeout: 0,
            stall_timeout: settings::DEFAULT_STALL_TIMEOUT.as_secs(),
            max_sessions: settings::DEFAULT_MAX_SESSIONS,
            drain_timeout: settings::DEFAULT_DRAIN_TIMEOUT.as_secs(),
            request_timeout: settings::DEFAULT_REQUEST_TIMEOUT.as_secs(),
            frame_ancestors: vec!["'self'".into()],
            cert: None,
            key: None,
            ssl_only: false,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[vnc]`: console URLs and the VNC servers.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Vnc {
    /// The public URL of the console page; derived from `[proxy] listen` when unset.
    pub novncproxy_base_url: Option<String>,
    pub server_listen: String,
    pub auth_schemes: Vec<String>,
    /// CA bundle (PEM) for VeNCrypt servers' certificates.
    pub vencrypt_ca_certs: Option<PathBuf>,
    /// Client certificate (PEM) for VeNCrypt servers that verify peers.
    pub vencrypt_client_cert: Option<PathBuf>,
    /// Its key (PEM).
    pub vencrypt_client_key: Option<PathBuf>,
}

impl Default for Vnc {
    fn default() -> Self {
        Vnc {
            novncproxy_base_url: None,
            server_listen: "127.0.0.1".into(),
            auth_schemes: vec!["none".into()],
            vencrypt_ca_certs: None,
            vencrypt_client_cert: None,
            vencrypt_client_key: None,
        }
    }
}

impl Vnc {
    /// The schemes, as the security proxy takes them.
    pub fn schemes(&self) -> Vec<porthole_rfb::handshake::Scheme> {
        use porthole_rfb::handshake::Scheme;
        self.auth_schemes
            .iter()
            .filter_map(|s| match s.as_str() {
                "none" => Some(Scheme::None),
                "vnc" => Some(Scheme::Vnc),
                "vencrypt" => Some(Scheme::VeNCrypt),
                _ => None,
            })
            .collect()
    }
}

/// `[consoleauth]`: tokens, and the store's connection pool (durations in seconds; the defaults
/// are porthole-tokens' `DEFAULT_*`).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleAuth {
    pub token_ttl: u64,
    pub store: String,
    pub enforce_session_timeout: bool,
    pub pool_max_connections: u32,
    pub pool_min_connections: u32,
    pub pool_acquire_timeout: u64,
    /// 0 = idle connections stay open.
    pub pool_idle_timeout: u64,
    /// 0 = connections are never replaced for age.
    pub pool_max_lifetime: u64,
    pub store_connect_timeout: u64,
    pub sqlite_busy_timeout: u64,
    /// Days ended sessions are kept in the store's history.
    pub history_retention_days: u64,
}

impl Default for ConsoleAuth {
    fn default() -> Self {
        use porthole_tokens::store as s;
        ConsoleAuth {
            token_ttl: DEFAULT_TOKEN_TTL,
            store: store_path::default_store_url(),
            enforce_session_timeout: false,
            pool_max_connections: s::DEFAULT_MAX_CONNECTIONS,
            pool_min_connections: s::DEFAULT_MIN_CONNECTIONS,
            pool_acquire_timeout: s::DEFAULT_ACQUIRE_TIMEOUT.as_secs(),
            pool_idle_timeout: s::DEFAULT_IDLE_TIMEOUT.as_secs(),
            pool_max_lifetime: s::DEFAULT_MAX_LIFETIME.as_secs(),
            store_connect_timeout: s::DEFAULT_CONNECT_TIMEOUT.as_secs(),
            sqlite_busy_timeout: s::DEFAULT_BUSY_TIMEOUT.as_secs(),
            history_retention_days: porthole_gateway::cluster::DEFAULT_HISTORY_RETENTION.as_secs() / 86_400,
        }
    }
}

impl ConsoleAuth {
    /// The store's pool sizes and timeouts.
    pub fn store_options(&self) -> porthole_tokens::StoreOptions {
        let secs = std::time::Duration::from_secs;
        let never_if_zero = |n: u64| (n > 0).then(|| secs(n));
        let mut o = porthole_tokens::StoreOptions::default();
        o.max_connections = self.pool_max_connections;
        o.min_connections = self.pool_min_connections;
        o.acquire_timeout = secs(self.pool_acquire_timeout);
        o.idle_timeout = never_if_zero(self.pool_idle_timeout);
        o.max_lifetime = never_if_zero(self.pool_max_lifetime);
        o.connect_timeout = secs(self.store_connect_timeout);
        o.busy_timeout = secs(self.sqlite_busy_timeout);
        o
    }
}

/// `[[targets]]`: a VNC server not managed by libvirt. `Debug` leaves the password out.
#[derive(PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Fixed instance id; by default the UUIDv5 of the name, stable across restarts.
    pub uuid: Option<Uuid>,
    /// VNC password the security proxy uses for this server (`auth_schemes` with "vnc").
    pub password: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("name", &self.name).field("host", &self.host).field("port", &self.port).finish_non_exhaustive()
    }
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Self> {
        if let Some(problem) = shape::problem(text) {
            anyhow::bail!(problem);
        }
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!(one_line(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        Self::from_toml_str(&text).with_context(|| format!("config {}", path.display()))
    }

    /// `-c FILE` (or none) over the options nova-novncproxy reads from nova.conf files
    /// (`serve --nova-config`): a key the TOML sets itself wins. Returns notes on nova.conf options
    /// not taken, for the log.
    pub fn load_with_nova(path: Option<&Path>, nova: &[PathBuf]) -> anyhow::Result<(Self, Vec<String>)> {
        let shown = nova.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let overlay = nova_conf::NovaConf::load(nova)?.overlay().with_context(|| format!("nova.conf {shown}"))?;
        let text = match path {
            Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?,
            None => String::new(),
        };
        let in_context = |e: anyhow::Error| match path {
            Some(p) => e.context(format!("config {} with nova.conf {shown}", p.display())),
            None => e.context(format!("nova.conf {shown}")),
        };
        if let Some(problem) = shape::problem(&text) {
            return Err(in_context(anyhow::anyhow!(problem)));
        }
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| in_context(anyhow::anyhow!(one_line(&e.to_string()))))?;
        nova_conf::merge_under(&mut doc, overlay.table);
        let config: Config =
            toml::Value::Table(doc).try_into().map_err(|e: toml::de::Error| in_context(anyhow::anyhow!(one_line(&e.to_string()))))?;
        config.validate().map_err(in_context)?;
        Ok((config, overlay.notes))
    }

    /// Whether the token store is Nova's database (read-only: Nova mints).
    pub fn nova_store(&self) -> bool {
        porthole_tokens::store::is_nova_url(&self.consoleauth.store)
    }

    /// The configuration used when no file is given: defaults, listening on loopback.
    pub fn no_file() -> Self {
        let mut c = Config::default();
        c.proxy.listen = DEFAULT_LISTEN_NO_CONFIG.into();
        c
    }

    /// The listen address.
    pub fn listen(&self) -> anyhow::Result<SocketAddr> {
        self.proxy.listen.parse().with_context(|| format!("[proxy] listen {:?}", self.proxy.listen))
    }

    /// Every problem of the configuration, one line each; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.proxy.listen.parse::<SocketAddr>().is_err() {
            p.push(format!("[proxy] listen = {:?} is not an address:port such as \"0.0.0.0:6080\"", self.proxy.listen));
        }
        if let Some(root) = &self.proxy.web_root {
            if !root.is_dir() {
                p.push(format!("[proxy] web_root = {:?}: no such directory", root.display().to_string()));
            }
        }
        if let Some(listen) = &self.metrics.listen {
            if listen.parse::<SocketAddr>().is_err() {
                p.push(format!("[metrics] listen = {listen:?} is not an address:port such as \"127.0.0.1:9187\""));
            }
        }
        if self.proxy.connect_timeout == 0 {
            p.push("[proxy] connect_timeout must be at least 1 second".into());
        }
        if self.proxy.max_sessions == 0 {
            p.push("[proxy] max_sessions must be at least 1".into());
        }
        for o in &self.proxy.allowed_origins {
            if o.trim().is_empty() || o.contains("://") || o.contains('/') {
                p.push(format!("[proxy] allowed_origins: {o:?} must be a bare host name, such as \"console.example.com\""));
            }
        }
        if let Some(base) = &self.vnc.novncproxy_base_url {
            if let Err(e) = porthole_tokens::access_url::parse_base(base) {
                p.push(format!("[vnc] novncproxy_base_url: {e}"));
            }
        }
        for s in &self.vnc.auth_schemes {
            if !matches!(s.as_str(), "none" | "vnc" | "vencrypt") {
                p.push(format!("[vnc] auth_schemes: unknown scheme {s:?} (expected none, vnc or vencrypt)"));
            }
        }
        let v = &self.vnc;
        if v.auth_schemes.iter().any(|s| s == "vencrypt") && v.vencrypt_ca_certs.is_none() {
            p.push("[vnc] auth_schemes has \"vencrypt\": set vencrypt_ca_certs to the CA bundle of the VNC servers' certificates".into());
        }
        for (key, path) in [
            ("vencrypt_ca_certs", &v.vencrypt_ca_certs),
            ("vencrypt_client_cert", &v.vencrypt_client_cert),
            ("vencrypt_client_key", &v.vencrypt_client_key),
        ] {
            if let Some(path) = path {
                if !path.is_file() {
                    p.push(format!("[vnc] {key} = {:?}: no such file", path.display().to_string()));
                }
            }
        }
        if v.vencrypt_client_cert.is_some() != v.vencrypt_client_key.is_some() {
            p.push("[vnc] vencrypt_client_cert and vencrypt_client_key go together".into());
        }
        self.tls_problems(&mut p);
        if self.proxy.handshake_timeout == 0 {
            p.push("[proxy] handshake_timeout must be at least 1 second".into());
        }
        if self.vnc.auth_schemes.is_empty() {
            p.push("[vnc] auth_schemes must name at least one scheme".into());
        }
        if self.consoleauth.token_ttl == 0 {
            p.push("[consoleauth] token_ttl must be at least 1 second".into());
        }
        let store = &self.consoleauth.store;
        if store.is_empty() {
            p.push(
                "[consoleauth] store is not set and this user has no default (not root, and neither XDG_STATE_HOME nor HOME is set): \
                 set store = \"sqlite:///PATH/porthole.db\""
                    .into(),
            );
        }
        let known = ["sqlite:", "postgres://", "postgresql://"].iter().any(|s| store.starts_with(s))
            || store == "memory:"
            || porthole_tokens::store::is_nova_url(store);
        if !known && !store.is_empty() {
            p.push(format!(
                "[consoleauth] store = {:?}: expected sqlite://PATH, postgres://USER@HOST/DATABASE or nova+mysql://… (Nova's database)",
                porthole_tokens::store::redact(store)
            ));
        }
        if self.nova_store() {
            if let Err(e) = porthole_tokens::store::NovaStore::check_url(store) {
                p.push(format!("[consoleauth] store: {e}"));
            }
        }
        p.extend(self.consoleauth.store_options().problems().into_iter().map(|line| format!("[consoleauth] {line}")));
        if self.consoleauth.history_retention_days == 0 {
            p.push("[consoleauth] history_retention_days must be at least 1".into());
        }
        self.cluster_problems(&mut p);
        self.target_problems(&mut p);
        self.node_problems(&mut p);
        for n in &self.audit.management_networks {
            if n.parse::<ipnet::IpNet>().is_err() {
                p.push(format!("[audit] management_networks: {n:?} is not a CIDR such as \"10.0.0.0/8\""));
            }
        }
        let mut key_names = std::collections::HashSet::new();
        let mut secrets = std::collections::HashMap::new();
        for (i, k) in self.api.keys.iter().enumerate() {
            let at = format!("[[api.keys]] #{} ({:?})", i + 1, k.name);
            if k.secret.len() < 16 {
                p.push(format!("{at}: secret must be at least 16 characters"));
            }
            for pattern in &k.instances {
                if pattern.trim().is_empty() {
                    p.push(format!("{at}: instances: an empty pattern matches nothing; use \"*\" or leave instances out"));
                }
            }
            for node in &k.nodes {
                if !self.nodes.iter().any(|n| &n.name == node) {
                    p.push(format!("{at}: nodes: no [[nodes]] named {node:?}"));
                }
            }
            if !key_names.insert(k.name.as_str()) {
                p.push(format!("{at}: another key has the same name"));
            }
            match secrets.entry(k.secret.as_str()) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    let (n, name) = first.get();
                    p.push(format!(
                        "{at}: same secret as #{n} ({name:?}); a request would act as whichever key is found first: give each key its own secret"
                    ));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert((i + 1, &k.name));
                }
            }
        }
        p
    }

    /// What the audit compares against.
    pub fn audit_policy(&self) -> porthole_compute::audit::Policy {
        porthole_compute::audit::Policy {
            server_listen: self.vnc.server_listen.clone(),
            management_networks: self.audit.management_networks.iter().filter_map(|n| n.parse().ok()).collect(),
        }
    }

    /// The API keys, as the gateway takes them.
    pub fn api_keys(&self) -> Vec<porthole_gateway::ApiKey> {
        use porthole_gateway::{ApiKey, Role, Scope};
        self.api
            .keys
            .iter()
            .map(|k| ApiKey {
                name: k.name.clone(),
                secret: k.secret.clone(),
                role: match k.role {
                    ApiRole::Admin => Role::Admin,
                    ApiRole::Member => Role::Member,
                },
                scope: Scope { instances: k.instances.clone(), nodes: k.nodes.clone() },
            })
            .collect()
    }

    fn cluster_problems(&self, p: &mut Vec<String>) {
        let c = &self.cluster;
        if !(1..=3600).contains(&c.heartbeat_interval) {
            p.push("[cluster] heartbeat_interval must be 1 to 3600 seconds".into());
        }
        if let Some(id) = &c.proxy_id {
            if id.is_empty() || id.len() > 128 || id.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                p.push(format!("[cluster] proxy_id = {id:?}: 1 to 128 characters, no spaces"));
            }
        }
    }

    /// How this process takes part in the cluster of processes on its store.
    pub fn cluster_settings(&self) -> porthole_gateway::cluster::ClusterSettings {
        porthole_gateway::cluster::ClusterSettings {
            proxy_id: self.cluster.proxy_id.clone().unwrap_or_else(porthole_gateway::cluster::default_proxy_id),
            heartbeat_interval: std::time::Duration::from_secs(self.cluster.heartbeat_interval),
            history_retention: std::time::Duration::from_secs(self.consoleauth.history_retention_days.saturating_mul(86_400)),
        }
    }

    fn node_problems(&self, p: &mut Vec<String>) {
        let mut names = std::collections::HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let at = format!("[[nodes]] #{} ({:?})", i + 1, n.name);
            if n.name.trim().is_empty() {
                p.push(format!("{at}: name must not be empty"));
            } else if !names.insert(n.name.as_str()) {
                p.push(format!("{at}: another node has the same name"));
            }
            if let Some(problem) = libvirt_uri::problem(&n.libvirt_uri) {
                p.push(format!("{at}: {problem}"));
            }
            let local = n.libvirt_uri.split_once("://").is_some_and(|(_, rest)| rest.starts_with('/'));
            if n.connect == NodeConnect::GraphicsFd && !local {
                p.push(format!("{at}: connect = \"graphics-fd\" needs a local libvirt_uri such as \"qemu:///system\""));
            }
            if n.proxyclient_address.trim().is_empty() {
                p.push(format!("{at}: proxyclient_address must not be empty"));
            }
        }
    }

    /// The libvirt nodes, as the compute role takes them.
    pub fn node_configs(&self) -> Vec<porthole_compute::libvirt::NodeConfig> {
        self.nodes
            .iter()
            .map(|n| porthole_compute::libvirt::NodeConfig {
                name: n.name.clone(),
                libvirt_uri: n.libvirt_uri.clone(),
                proxyclient_address: n.proxyclient_address.clone(),
                connect: match n.connect {
                    NodeConnect::Tcp => porthole_compute::libvirt::ConnectMode::Tcp,
                    NodeConnect::GraphicsFd => porthole_compute::libvirt::ConnectMode::GraphicsFd,
                },
                timeout: porthole_compute::libvirt::LIBVIRT_TIMEOUT,
            })
            .collect()
    }

    fn target_problems(&self, p: &mut Vec<String>) {
        let mut names = std::collections::HashSet::new();
        let mut uuids = std::collections::HashSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let at = format!("[[targets]] #{} ({:?})", i + 1, t.name);
            let mut named = false;
            if t.name.trim().is_empty() {
                p.push(format!("{at}: name must not be empty"));
            } else if Uuid::parse_str(&t.name).is_ok() {
                p.push(format!("{at}: name must not be a UUID"));
            } else if !names.insert(t.name.as_str()) {
                p.push(format!("{at}: another target has the same name"));
            } else {
                named = true;
            }
            if t.host.trim().is_empty() {
                p.push(format!("{at}: host must not be empty"));
            }
            if t.port == 0 {
                p.push(format!("{at}: port must be 1-65535"));
            }
            let uuid = t.uuid.unwrap_or_else(|| porthole_gateway::inventory::target_uuid(&t.name));
            if !uuids.insert(uuid) && (named || t.uuid.is_some()) {
                p.push(format!("{at}: uuid {uuid} is used by another target"));
            }
        }
    }

    /// Fails with every problem when there is any.
    fn tls_problems(&self, p: &mut Vec<String>) {
        let x = &self.proxy;
        match (&x.cert, &x.key) {
            (Some(_), None) | (None, Some(_)) => p.push("[proxy] cert and key go together".into()),
            (None, None) if x.ssl_only => p.push("[proxy] ssl_only needs cert and key".into()),
            _ => {}
        }
        for (name, path) in [("cert", &x.cert), ("key", &x.key)] {
            if let Some(path) = path.as_ref().filter(|p| !p.is_file()) {
                p.push(format!("[proxy] {name} = {:?}: no such file", path.display().to_string()));
            }
        }
        for t in &x.trusted_proxies {
            if parse_net(t).is_none() {
                p.push(format!("[proxy] trusted_proxies: {t:?} is not an address or a CIDR such as \"10.0.0.0/8\""));
            }
        }
    }

    /// `[proxy] trusted_proxies` as networks (a bare address is a /32 or /128).
    pub fn trusted_proxies(&self) -> Vec<ipnet::IpNet> {
        self.proxy.trusted_proxies.iter().filter_map(|t| parse_net(t)).collect()
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            return Ok(());
        }
        anyhow::bail!("{} problem(s):\n  {}", problems.len(), problems.join("\n  "))
    }
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>().ok().or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// TOML errors come with a source excerpt over several lines; keep the first line and the message.
fn one_line(msg: &str) -> String {
    let lines: Vec<&str> = msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) if first != last => format!("{first}: {last}"),
        (Some(first), _) => (*first).to_owned(),
        _ => msg.to_owned(),
    }
}

mod libvirt_uri;
mod nova_conf;
mod shape;
#[cfg(test)]
mod shipped_file;
pub mod store_path;
#[cfg(test)]
mod tests;
