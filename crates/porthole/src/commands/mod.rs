//! What each command does, on top of the library crates.

mod audit;
mod instances;

use crate::cli::{Command, ConfigArg, ConsoleCommand};
use crate::config::Config;
use anyhow::Context as _;
use porthole_compute::{Compute, Endpoint, StaticTargets};
use porthole_demo::DemoServer;
use porthole_gateway::settings::EndpointCheck;
use porthole_gateway::{AppState, Settings};
use porthole_tokens::auth::{ConsoleTarget, DEFAULT_PURGE_INTERVAL};
use porthole_tokens::{open_store, Clock, ConsoleAuth, ConsoleType, TokenEndpoint};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Runs one command.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config, demo, nova_config } => {
            let (config, notes) = match nova_config.is_empty() {
                true => (load(&config)?, Vec::new()),
                false => Config::load_with_nova(config.config.as_deref(), &nova_config)?,
            };
            for note in notes {
                warn!("nova.conf: {note}");
            }
            serve(config, demo).await?
        }
        Command::Console(ConsoleCommand::Url { config, instance, ttl }) => console_url(load(&config)?, &instance, ttl).await?,
        Command::List { config, json } => {
            let config = load(&config)?;
            return instances::list(&compute(&config), &config.audit_policy(), json).await;
        }
        Command::Audit { config, json, fix, yes, hard_reboot, instances } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("porthole: audit could not run: {e:#}");
                    return Ok(ExitCode::from(2));
                }
            };
            return Ok(audit::run(&config, json, fix.then_some(audit::Fix { apply: yes, hard_reboot, instances })).await);
        }
        Command::Vncdisplay { config, instance } => instances::vncdisplay(&compute(&load(&config)?), &instance).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn load(arg: &ConfigArg) -> anyhow::Result<Config> {
    match &arg.config {
        Some(path) => Config::load(path),
        None => Ok(Config::no_file()),
    }
}

/// The libvirt nodes and static targets of the configuration.
fn compute(config: &Config) -> Compute {
    let mut targets = StaticTargets::new(config.targets.iter().map(|t| (t.name.clone(), t.uuid, Endpoint::tcp(t.host.clone(), t.port))));
    for t in &config.targets {
        if let Some(pw) = &t.password {
            targets.set_password(&t.name, pw.clone());
        }
    }
    Compute::new(config.node_configs(), targets)
}

async fn open_auth(config: &Config) -> anyhow::Result<ConsoleAuth> {
    let store = open_store(&config.consoleauth.store, &config.consoleauth.store_options()).await.context("[consoleauth] store")?;
    Ok(ConsoleAuth::new(store, Clock::System))
}

/// The configured `novncproxy_base_url`, or one derived from the listen address.
fn base_url(config: &Config, listen: SocketAddr) -> String {
    if let Some(base) = &config.vnc.novncproxy_base_url {
        return base.clone();
    }
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}/vnc_lite.html", listen.port())
}

async fn console_url(config: Config, instance: &str, ttl: Option<u64>) -> anyhow::Result<()> {
    if config.nova_store() {
        anyhow::bail!(
            "the token store is Nova's database, where Nova mints and purges console tokens (read-only here): \
             ask Nova for a console URL (openstack console url show --novnc {instance})"
        );
    }
    let auth = open_auth(&config).await?;
    let ttl = Duration::from_secs(ttl.unwrap_or(config.consoleauth.token_ttl));
    let base = base_url(&config, config.listen()?);
    let (_, minted) = porthole_gateway::mint::mint_console(&compute(&config), &auth, instance, &base, ttl).await?;
    println!("{}", minted.url);
    Ok(())
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

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    if demo && config.nova_store() {
        anyhow::bail!("--demo mints a console token, and the token store is Nova's database (read-only): leave out --demo");
    }
    let listen = config.listen()?;
    raise_open_files(config.proxy.max_sessions);
    let auth = open_auth(&config).await?;
    let mut inventory = compute(&config);
    let demo_server = match demo {
        true => {
            let d = DemoServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await.context("starting the demo VNC server")?;
            inventory.targets_mut().push("demo", Endpoint::tcp("127.0.0.1", d.local_addr().port()));
            Some(d)
        }
        false => None,
    };
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on [proxy] listen = {listen}"))?;
    let bound = listener.local_addr()?;
    let base = base_url(&config, bound);
    audit::warn_exposed(&config);
    let (gone_tx, gone_rx) = tokio::sync::mpsc::unbounded_channel();
    inventory.watch_lifecycle(gone_tx).context("starting the libvirt lifecycle watchers")?;
    let mut settings = settings(&config)?;
    settings.console_base_url = base.clone();
    let state = AppState::new(settings, auth.clone(), Arc::new(inventory));
    tokio::spawn(end_consoles_of_gone_domains(state.clone(), gone_rx));
    tokio::spawn(auth.clone().run_purger(DEFAULT_PURGE_INTERVAL));
    info!(listen = %bound, nodes = config.nodes.len(), targets = config.targets.len(), "porthole is serving consoles");
    if config.nova_store() {
        say_nova_checks(&config);
    }
    if let Some(d) = &demo_server {
        let target = ConsoleTarget {
            instance_uuid: porthole_gateway::inventory::target_uuid("demo"),
            console_type: ConsoleType::Novnc,
            endpoint: TokenEndpoint::Tcp { host: "127.0.0.1".into(), port: d.local_addr().port() },
        };
        let minted = auth.authorize(&target, &base, Duration::from_secs(config.consoleauth.token_ttl)).await?;
        eprintln!("Demo console (valid for {} s), open in a browser:", config.consoleauth.token_ttl);
        println!("{}", minted.url);
    }
    porthole_gateway::serve(listener, state, shutdown_signal()).await.context("serving")?;
    info!("porthole stopped");
    Ok(())
}

/// What a Nova store means for the endpoint re-check, said once at start.
fn say_nova_checks(config: &Config) {
    let store = porthole_tokens::store::redact(&config.consoleauth.store);
    let nodes: Vec<String> = config.nodes.iter().map(|n| format!("{} ({})", n.name, n.proxyclient_address)).collect();
    info!(%store, "serving the console tokens Nova mints, from Nova's database (read-only)");
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

/// Revokes tokens and closes sessions of domains that stopped, crashed or were undefined.
async fn end_consoles_of_gone_domains(
    state: AppState,
    mut gone: tokio::sync::mpsc::UnboundedReceiver<porthole_compute::events::DomainGone>,
) {
    while let Some(g) = gone.recv().await {
        match state.end_consoles(g.uuid, porthole_gateway::live::Policy::InstanceStopped).await {
            Ok((revoked, closed)) => {
                info!(node = %g.node, instance = %g.uuid, why = g.why, revoked, closed, "domain gone: consoles ended");
            }
            // Nova's database: Nova deletes the tokens; the live sessions were ended all the same.
            Err(e) if e.is_read_only() => info!(node = %g.node, instance = %g.uuid, why = g.why, "domain gone: its live consoles ended"),
            Err(e) => warn!(instance = %g.uuid, cause = %e, "revoking the tokens of a stopped domain failed"),
        }
    }
}

fn settings(config: &Config) -> anyhow::Result<Settings> {
    let web_dir = config.proxy.web_dir.clone().unwrap_or_else(default_web_dir);
    if config.proxy.web_root.is_none() && !web_dir.join("node_modules/@novnc/novnc/core/rfb.js").is_file() {
        warn!(dir = %web_dir.display(), "noVNC is not installed for the console page: run `npm ci --prefix web`");
    }
    let p = &config.proxy;
    let v = &config.vnc;
    let tls = match &v.vencrypt_ca_certs {
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
    let security =
        porthole_gateway::settings::SecuritySettings { schemes: v.schemes(), tls, timeout: Duration::from_secs(p.handshake_timeout) };
    Ok(Settings {
        allowed_origins: p.allowed_origins.clone(),
        web_dir,
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
        console_base_url: String::new(),
        token_ttl: Duration::from_secs(config.consoleauth.token_ttl),
        security,
        endpoint_check: match config.nova_store() {
            true => EndpointCheck::NovaHosts { require_node_match: config.nova.require_node_match },
            false => EndpointCheck::Inventory,
        },
    })
}

/// `web/` of the source tree this binary was built from, else `./web`.
fn default_web_dir() -> PathBuf {
    let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web"));
    if built.join("console.html").is_file() {
        return built.canonicalize().unwrap_or(built);
    }
    PathBuf::from("web")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    info!("shutting down");
}
