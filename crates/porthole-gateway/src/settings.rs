//! The gateway's tunables (from `[proxy]`, `[vnc]`, `[consoleauth]` and `[[api.keys]]`), with their
//! defaults as `DEFAULT_*`. Read-only once the gateway runs.

use porthole_rfb::handshake::Scheme;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Default cap on concurrent console sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;
/// Default time allowed to reach a VNC server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time a peer may accept none of the bytes waiting for it before the session ends: a VNC
/// server that stops reading (or a browser that does) must not hold a session and its slot.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time live sessions get, after SIGTERM, before they are told "Going away".
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on a whole API request, body included (a body sent a byte a second is cut off).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time a VNC server has to send its first bytes and, with the security proxy on, to
/// finish the security handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[vnc] auth_schemes` and what VeNCrypt needs.
#[derive(Clone, Debug)]
pub struct SecuritySettings {
    /// Schemes toward VNC servers, in preference order (the server's order decides).
    pub schemes: Vec<Scheme>,
    /// TLS client configuration for VeNCrypt (CA, optional client certificate).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Time a VNC server has for its first bytes, and for the whole security handshake.
    pub timeout: Duration,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings { schemes: vec![Scheme::None], tls: None, timeout: DEFAULT_HANDSHAKE_TIMEOUT }
    }
}

impl SecuritySettings {
    /// Whether the proxy terminates the security handshake. With `auth_schemes = ["none"]` (the
    /// default) the browser and the VNC server negotiate between themselves and every byte is relayed.
    pub fn enabled(&self) -> bool {
        self.schemes != [Scheme::None]
    }
}

/// How a token's endpoint is re-checked at connect time (CVE-2013-0335).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointCheck {
    /// Porthole's own tokens: the instance's current endpoint (node or target) must be the token's.
    #[default]
    Inventory,
    /// Nova's tokens (a Nova store): the `[[nodes]]` entry whose `proxyclient_address` or name is
    /// the token's host must run the instance with its VNC server on the token's port. A host that
    /// no node is passes on the token alone, or is refused when `require_node_match` is set.
    NovaHosts {
        /// `[nova] require_node_match`.
        require_node_match: bool,
    },
}

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including `os-console-auth-tokens`.
    Admin,
    /// Servers and consoles.
    Member,
}

/// One `[[api.keys]]` entry. `Debug` leaves the secret out.
#[derive(Clone)]
pub struct ApiKey {
    /// Who holds it (for the log).
    pub name: String,
    /// Sent by clients as `X-Auth-Token`.
    pub secret: String,
    /// Its role.
    pub role: Role,
    /// Which instances it sees (all by default).
    pub scope: Scope,
}

impl ApiKey {
    /// A key that sees every instance.
    pub fn new(name: impl Into<String>, secret: impl Into<String>, role: Role) -> Self {
        ApiKey { name: name.into(), secret: secret.into(), role, scope: Scope::default() }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey").field("name", &self.name).field("role", &self.role).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// The instances an API key sees (`[[api.keys]] instances`, `nodes`): every instance when both
/// lists are empty; otherwise those whose name matches one of `instances` (`*` any run of
/// characters, `?` one) when it is set, *and* whose node is one of `nodes` when it is set (static
/// targets have no node, so a key limited to nodes does not see them). Everything else is
/// answered as Nova answers for another project's server: 404.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Name patterns, e.g. `web-*`.
    pub instances: Vec<String>,
    /// Node names, exactly.
    pub nodes: Vec<String>,
}

impl Scope {
    /// Whether this scope sees everything.
    pub fn is_unrestricted(&self) -> bool {
        self.instances.is_empty() && self.nodes.is_empty()
    }

    /// Whether an instance named `name` on `node` (`None` for a static target) is in scope.
    pub fn allows(&self, name: &str, node: Option<&str>) -> bool {
        let name_ok = self.instances.is_empty() || self.instances.iter().any(|p| glob_matches(p, name));
        let node_ok = self.nodes.is_empty() || node.is_some_and(|n| self.nodes.iter().any(|m| m == n));
        name_ok && node_ok
    }
}

/// Shell-style matching of a whole name: `*` matches any run of characters (none too), `?` one.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matcher with one backtrack point (the last `*`): linear in practice, no recursion.
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The proxy's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Extra Origin host names accepted besides the Host header's. Never changed at run time.
    pub allowed_origins: Vec<String>,
    /// Serve this directory as is instead of the project's page (e.g. `/usr/share/novnc`).
    pub web_root: Option<PathBuf>,
    /// Who may frame the console page: CSP `frame-ancestors` sources (`'self'` by default).
    pub frame_ancestors: Vec<String>,
    /// Time allowed to reach a VNC server.
    pub connect_timeout: Duration,
    /// Close a session after this long without traffic either way; `None` never.
    pub idle_timeout: Option<Duration>,
    /// End a session whose peer accepts none of the bytes waiting for it for this long.
    pub stall_timeout: Duration,
    /// Concurrent sessions at most; more are refused with 503 before the upgrade.
    pub max_sessions: usize,
    /// Close live sessions when their token expires (Nova's `enforce_session_timeout`).
    pub enforce_session_timeout: bool,
    /// After SIGTERM: how long live sessions may go on before they are closed with 1001.
    pub drain_timeout: Duration,
    /// Limit on a whole API request, body included.
    pub request_timeout: Duration,
    /// The API keys (`[[api.keys]]`); none means every API call gets 401.
    pub api_keys: Vec<ApiKey>,
    /// `novncproxy_base_url`, for console URLs minted through the API.
    pub console_base_url: String,
    /// `[serial_console] base_url` (Nova's name), the WebSocket URL serial console URLs start with.
    pub serial_base_url: String,
    /// Lifetime of tokens minted through the API.
    pub token_ttl: Duration,
    /// The RFB security proxy toward VNC servers.
    pub security: SecuritySettings,
    /// TLS on the listener (`[proxy] cert`, `key`); plain HTTP only when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse plain HTTP when TLS is configured (Nova's `ssl_only`).
    pub ssl_only: bool,
    /// Peers whose `X-Forwarded-For` names the client (load balancers, reverse proxies).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How a token's endpoint is re-checked at connect time.
    pub endpoint_check: EndpointCheck,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_origins: Vec::new(),
            web_root: None,
            frame_ancestors: vec!["'self'".into()],
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            idle_timeout: None,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            enforce_session_timeout: false,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            api_keys: Vec::new(),
            console_base_url: "http://127.0.0.1:6080/vnc_lite.html".into(),
            serial_base_url: "ws://127.0.0.1:6080/".into(),
            token_ttl: Duration::from_secs(600),
            security: SecuritySettings::default(),
            tls: None,
            ssl_only: false,
            trusted_proxies: Vec::new(),
            endpoint_check: EndpointCheck::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n) in [("web-*", "web-01"), ("web-*", "web-"), ("*", ""), ("a?c", "abc"), ("*-db-*", "eu-db-1"), ("x", "x"), ("**", "ab")] {
            assert!(glob_matches(p, n), "{p} should match {n}");
        }
        for (p, n) in [("web-*", "db-01"), ("web-*", "aweb-01"), ("a?c", "ac"), ("x", "xy"), ("*-db", "eu-db-1"), ("", "a")] {
            assert!(!glob_matches(p, n), "{p} should not match {n}");
        }
    }

    #[test]
    fn scopes() {
        let all = Scope::default();
        assert!(all.is_unrestricted() && all.allows("anything", None));
        let web = Scope { instances: vec!["web-*".into()], nodes: vec![] };
        assert!(web.allows("web-1", Some("kvm1")) && web.allows("web-1", None) && !web.allows("db-1", Some("kvm1")));
        let kvm1 = Scope { instances: vec![], nodes: vec!["kvm1".into()] };
        assert!(kvm1.allows("db-1", Some("kvm1")) && !kvm1.allows("db-1", Some("kvm2")) && !kvm1.allows("lab-switch", None));
        let both = Scope { instances: vec!["web-*".into()], nodes: vec!["kvm1".into()] };
        assert!(both.allows("web-1", Some("kvm1")) && !both.allows("web-1", Some("kvm2")) && !both.allows("db-1", Some("kvm1")));
    }
}
