//! `porthole serve`: every role in one process, until SIGTERM (which drains) or Ctrl-C; SIGHUP
//! re-reads the configuration and applies what can change while sessions run (see `commands::reload`).

use super::reload::{changes, Changes};
use super::{base_url, compute, open_auth, serial_base_url};
use crate::config::Config;
use anyhow::Context as _;
use porthole_compute::events::DomainGone;
use porthole_compute::{Compute, Endpoint};
use porthole_demo::DemoServer;
use porthole_gateway::live::Policy;
use porthole_gateway::settings::EndpointCheck;
use porthole_gateway::{AppState, Settings};
use porthole_tokens::auth::{ConsoleTarget, DEFAULT_PURGE_INTERVAL};
use porthole_tokens::{ConsoleType, TokenEndpoint};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// The running server, as a reload sees it.
struct Running {
    /// The configuration file, if one was given.
    path: Option<PathBuf>,
    /// The nova.conf files (`--nova-config`) under it, re-read with it.
    nova: Vec<PathBuf>,
    /// The configuration in force.
    config: Config,
    state: AppState,
    /// Where the listener is bound (for the derived console URL).
    bound: SocketAddr,
    /// The demo target, re-added to every new inventory.
    demo: Option<Endpoint>,
    /// The task ending the consoles of domains that stop; replaced with the inventory, which
    /// stops the old watchers (they end when their channel closes).
    watcher: JoinHandle<()>,
}

/// Runs `porthole serve` until shutdown.
pub async fn serve(path: Option<PathBuf>, nova: Vec<PathBuf>, config: Config, demo: bool) -> anyhow::Result<()> {
    // Before anything else: SIGHUP must never kill the process.
    let mut hangups = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    if demo && config.nova_store() {
        anyhow::bail!("--demo mints a console token, and the token store is Nova's database (read-only): leave out --demo");
    }
    let listen = config.listen()?;
    raise_open_files(config.proxy.max_sessions);
    let auth = open_auth(&config).await?;
    let demo_server = match demo {
        true => Some(DemoServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await.context("starting the demo VNC server")?),
        false => None,
    };
    let demo = demo_server.as_ref().map(|d| Endpoint::tcp("127.0.0.1", d.local_addr().port()));
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on [proxy] listen = {listen}"))?;
    let bound = listener.local_addr()?;
    super::audit::warn_exposed(&config);
    let settings = settings(&config, bound)?;
    let base = settings.console_base_url.clone();
    let inventory = inventory(&config, demo.as_ref());
    let (watcher, inventory) = watch(inventory)?;
    let c = &config.consoleauth;
    let sessions = porthole_tokens::open_cluster(&c.store, &c.store_options()).await.context("[consoleauth] store (sessions)")?;
    let state = AppState::join(settings, auth.clone(), inventory, sessions, config.cluster_settings())
        .await
        .context("joining the store's cluster (subscribing to its events)")?;
    let metrics_listener = match &config.metrics.listen {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("listening on [metrics] listen = {addr}"))?),
        None => None,
    };
    let mut running = Running { path, nova, config, state: state.clone(), bound, demo, watcher: tokio::spawn(async {}) };
    running.watcher = tokio::spawn(end_consoles_of_gone_domains(state.clone(), watcher));
    // The state's store handle: the purges are timed into the metrics too.
    tokio::spawn(state.auth.clone().run_purger(DEFAULT_PURGE_INTERVAL));
    if let Some(listener) = metrics_listener {
        info!(listen = %listener.local_addr()?, "metrics at /metrics (no key: keep this address on the management network)");
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = porthole_gateway::serve_metrics(listener, state).await {
                warn!(cause = %e, "the metrics listener stopped");
            }
        });
    }
    let c = &running.config;
    let scheme = if c.proxy.cert.is_some() { "https" } else { "http" };
    let store = porthole_tokens::store::redact(&c.consoleauth.store);
    let (proxy_id, events) = (state.cluster.proxy_id(), state.cluster.events_mode());
    info!(listen = %bound, scheme, nodes = c.nodes.len(), targets = c.targets.len(), %store, proxy_id, events, "porthole is serving consoles");
    if c.nova_store() {
        say_nova_checks(c);
    }
    if let Some(d) = &demo_server {
        let target = ConsoleTarget {
            instance_uuid: porthole_gateway::inventory::target_uuid("demo"),
            console_type: ConsoleType::Novnc,
            endpoint: TokenEndpoint::Tcp { host: "127.0.0.1".into(), port: d.local_addr().port() },
            view_only: false,
            minted_by: Some("demo".into()),
        };
        let ttl = c.consoleauth.token_ttl;
        let minted = auth.authorize(&target, &base, Duration::from_secs(ttl)).await?;
        eprintln!("Demo console (valid for {ttl} s), open in a browser:");
        println!("{}", minted.url);
    }
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            running.reload();
        }
    });
    porthole_gateway::serve(listener, state, shutdown_signal()).await.context("serving")?;
    drop(demo_server);
    info!("porthole stopped");
    Ok(())
}

impl Running {
    /// Re-reads the configuration file and puts in force what can change live; a file that does
    /// not load leaves the running configuration as it is. Live sessions keep going either way.
    fn reload(&mut self) {
        let Some(loaded) = super::reload_config(self.path.as_deref(), &self.nova) else {
            info!("SIGHUP: started without -c, nothing to reload");
            return;
        };
        let new = match loaded.and_then(|c| Ok((settings(&c, self.bound)?, c))) {
            Ok(loaded) => loaded,
            Err(e) => return warn!(cause = %format!("{e:#}"), "reload failed: the running configuration stays in force"),
        };
        let (settings, config) = new;
        let Changes { live, restart } = changes(&self.config, &config);
        // The audit policy lives in the inventory (the dashboard and /metrics audit through it).
        if live.contains(&"nodes") || live.contains(&"targets") || live.contains(&"[audit]") {
            match watch(inventory(&config, self.demo.as_ref())) {
                Ok((gone, inventory)) => {
                    self.state.replace_inventory(inventory);
                    let old = std::mem::replace(&mut self.watcher, tokio::spawn(end_consoles_of_gone_domains(self.state.clone(), gone)));
                    old.abort();
                }
                Err(e) => return warn!(cause = %e, "reload failed: the running configuration stays in force"),
            }
        }
        self.state.replace_settings(settings);
        if live.is_empty() && restart.is_empty() {
            info!("configuration reloaded: nothing changed");
        } else {
            info!(changed = ?live, "configuration reloaded");
        }
        if !restart.is_empty() {
            warn!(needs_restart = ?restart, "these changes take effect only after a restart");
        }
        self.config = config;
    }
}

/// The libvirt nodes and static targets, plus the demo target when it runs.
fn inventory(config: &Config, demo: Option<&Endpoint>) -> Compute {
    let mut inventory = compute(config);
    if let Some(ep) = demo {
        inventory.targets_mut().push("demo", ep.clone());
    }
    inventory
}

/// Starts the lifecycle watchers of an inventory's nodes.
fn watch(inventory: Compute) -> anyhow::Result<(UnboundedReceiver<DomainGone>, Arc<Compute>)> {
    let (tx, rx) = unbounded_channel();
    inventory.watch_lifecycle(tx).context("starting the libvirt lifecycle watchers")?;
    Ok((rx, Arc::new(inventory)))
}

/// Revokes tokens and closes sessions of domains that stopped, crashed or were undefined.
async fn end_consoles_of_gone_domains(state: AppState, mut gone: UnboundedReceiver<DomainGone>) {
    while let Some(g) = gone.recv().await {
        match state.end_consoles(g.uuid, Policy::InstanceStopped).await {
            Ok((revoked, closed)) => {
                info!(node = %g.node, instance = %g.uuid, why = g.why, revoked, closed, "domain gone: consoles ended");
            }
            // Nova's database: Nova deletes the tokens; the live sessions were ended all the same.
            Err(e) if e.is_read_only() => info!(node = %g.node, instance = %g.uuid, why = g.why, "domain gone: its live consoles ended"),
            Err(e) => warn!(instance = %g.uuid, cause = %e, "revoking the tokens of a stopped domain failed"),
        }
    }
}

/// What a Nova store means for the endpoint re-check, said once at start.
fn say_nova_checks(config: &Config) {
    let nodes: Vec<String> = config.nodes.iter().map(|n| format!("{} ({})", n.name, n.proxyclient_address)).collect();
    info!("serving the console tokens Nova mints, from Nova's database (read-only)");
    match (nodes.is_empty(), config.nova.require_node_match) {
        (true, false) => warn!(
            "no [[nodes]]: Nova's tokens are accepted on the token alone and their VNC port is not re-checked \
             (CVE-2013-0335); add the compute hosts as [[nodes]] (proxyclient_address = their [vnc] server_proxyclient_address)"
        ),
        (true, true) => warn!("no [[nodes]] and [nova] require_node_match is on: every Nova console will be refused"),
        (false, strict) => info!(
            nodes = %nodes.join(", "),
            other_hosts = if strict { "refused" } else { "token alone" },
            "Nova tokens are re-checked on the node their host names"
        ),
    }
}

/// The gateway's settings from a configuration (and where the listener is bound).
pub(super) fn settings(config: &Config, bound: SocketAddr) -> anyhow::Result<Settings> {
    let p = &config.proxy;
    let v = &config.vnc;
    let vencrypt = match &v.vencrypt_ca_certs {
        Some(ca) => {
            let files = porthole_gateway::TlsSettings {
                ca_certs: ca.clone(),
                client_cert: v.vencrypt_client_cert.clone(),
                client_key: v.vencrypt_client_key.clone(),
            };
            Some(porthole_gateway::tls_config(&files).map_err(|e| anyhow::anyhow!("[vnc] VeNCrypt TLS: {e}"))?)
        }
        None => None,
    };
    let tls = match (&p.cert, &p.key) {
        (Some(cert), Some(key)) => Some(porthole_gateway::tls_server_config(cert, key).map_err(anyhow::Error::msg)?),
        _ => None,
    };
    let security = porthole_gateway::settings::SecuritySettings {
        schemes: v.schemes(),
        tls: vencrypt,
        timeout: Duration::from_secs(p.handshake_timeout),
    };
    let missing = porthole_gateway::web::missing();
    if p.web_root.is_none() && !missing.is_empty() {
        tracing::error!(
            missing = missing.join(", "),
            "this binary was built without the console pages' npm packages: pages answer 500; run `npm ci --prefix web` in the source tree and build again"
        );
    }
    Ok(Settings {
        allowed_origins: p.allowed_origins.clone(),
        web_root: p.web_root.clone(),
        frame_ancestors: p.frame_ancestors.clone(),
        connect_timeout: Duration::from_secs(p.connect_timeout),
        idle_timeout: (p.idle_timeout > 0).then(|| Duration::from_secs(p.idle_timeout)),
        stall_timeout: Duration::from_secs(p.stall_timeout),
        drain_timeout: Duration::from_secs(p.drain_timeout),
        request_timeout: Duration::from_secs(p.request_timeout),
        max_sessions: p.max_sessions,
        enforce_session_timeout: config.consoleauth.enforce_session_timeout,
        api_keys: config.api_keys(),
        console_base_url: base_url(config, bound),
        serial_base_url: serial_base_url(config, bound),
        token_ttl: Duration::from_secs(config.consoleauth.token_ttl),
        security,
        tls,
        ssl_only: p.ssl_only,
        trusted_proxies: config.trusted_proxies(),
        endpoint_check: match config.nova_store() {
            true => EndpointCheck::NovaHosts { require_node_match: config.nova.require_node_match },
            false => EndpointCheck::Inventory,
        },
    })
}

/// Each console holds two sockets (browser and VNC server): raises the soft limit on open files to
/// the hard one, as many servers do, and warns when even that cannot hold `max_sessions`.
fn raise_open_files(max_sessions: usize) {
    let wanted = u64::try_from(max_sessions).unwrap_or(u64::MAX).saturating_mul(2).saturating_add(64);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => warn!(
            open_files = limit,
            max_sessions,
            "the open-files limit holds about {} consoles, fewer than [proxy] max_sessions; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
            limit.saturating_sub(64) / 2
        ),
        Ok(limit) => tracing::debug!(open_files = limit, "open-files limit"),
        Err(e) => warn!(cause = %e, "could not read or raise the open-files limit"),
    }
}

/// Resolves on SIGTERM or Ctrl-C: the gateway then drains (`[proxy] drain_timeout`).
async fn shutdown_signal() {
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
    info!("shutting down");
}
