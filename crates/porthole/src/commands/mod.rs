//! What each command does, on top of the library crates.

mod attach;
mod audit;
mod instances;
mod reload;
mod serve;
mod sessions;

pub use attach::parse_escape;

use crate::cli::{Command, ConfigArg, ConsoleCommand, SessionsCommand};
use crate::config::store_path::DefaultStore;
use crate::config::Config;
use anyhow::Context as _;
use porthole_compute::{Compute, Endpoint, StaticTargets};
use porthole_gateway::mint::MintRequest;
use porthole_tokens::auth::Minted;
use porthole_tokens::{open_store, Clock, ConsoleAuth, ConsoleType};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Runs one command.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config: arg, demo, nova_config } => {
            let config = load_serve(&arg, &nova_config)?;
            serve::serve(arg.config.clone(), nova_config, config, demo).await?
        }
        Command::Console(ConsoleCommand::Url { config, instance, ttl, view_only, serial }) => {
            console_url(load(&config)?, &instance, ttl, view_only, serial).await?
        }
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
        Command::Attach { config, console, ca, escape, ttl } => {
            // A URL is used as it is; anything else names an instance to mint a serial URL for.
            let url = match console.contains("://") {
                true => console,
                false => {
                    let config = load(&config)?;
                    let listen = config.listen()?;
                    mint(&config, &console, ttl, ConsoleType::Serial, false, serial_base_url(&config, listen)).await?.url
                }
            };
            return attach::run(attach::Options { url: &url, ca: ca.as_deref(), escape }).await;
        }
        Command::Vncdisplay { config, instance } => instances::vncdisplay(&compute(&load(&config)?), &instance).await?,
        Command::Console(ConsoleCommand::Reset { config, instance }) => return sessions::reset(&load(&config)?, &instance).await,
        Command::Sessions { action: None, config, json, history, limit, instance } => {
            sessions::list(&load(&config)?, sessions::Listing { json, history, limit, instance }).await?
        }
        Command::Sessions { action: Some(SessionsCommand::Kill { config, id, instance }), .. } => {
            return sessions::kill(&load(&config)?, id.as_deref(), instance.as_deref()).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the configuration (or the defaults without `-c`) and sets up logging as it says; before
/// that, problems go to stderr as one line from `main`.
fn load(arg: &ConfigArg) -> anyhow::Result<Config> {
    let config = match &arg.config {
        Some(path) => Config::load(path)?,
        None => Config::no_file(),
    };
    crate::telemetry::init(config.log.format);
    Ok(config)
}

/// `serve`'s configuration: `-c` over the nova.conf files of `--nova-config` (if any), logging set
/// up, and what nova.conf has that Porthole does not take logged.
fn load_serve(arg: &ConfigArg, nova: &[PathBuf]) -> anyhow::Result<Config> {
    if nova.is_empty() {
        return load(arg);
    }
    let (config, notes) = Config::load_with_nova(arg.config.as_deref(), nova)?;
    crate::telemetry::init(config.log.format);
    for note in notes {
        tracing::warn!("nova.conf: {note}");
    }
    Ok(config)
}

/// The configuration again, for a reload: `-c` over the nova.conf files; `None` when there is no
/// file to read.
fn reload_config(path: Option<&Path>, nova: &[PathBuf]) -> Option<anyhow::Result<Config>> {
    match (path, nova.is_empty()) {
        (_, false) => Some(Config::load_with_nova(path, nova).map(|(config, _)| config)),
        (Some(path), true) => Some(Config::load(path)),
        (None, true) => None,
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
    let mut compute = Compute::new(config.node_configs(), targets);
    compute.set_audit_policy(config.audit_policy());
    compute
}

/// Creates the default store's directory when the configuration uses it (and it is missing).
fn default_store_dir(config: &Config) -> anyhow::Result<()> {
    if let Some(default) = DefaultStore::for_this_user().filter(|d| d.url() == config.consoleauth.store) {
        default.create_dir().with_context(|| format!("creating the token store's directory {}", default.dir.display()))?;
    }
    Ok(())
}

async fn open_auth(config: &Config) -> anyhow::Result<ConsoleAuth> {
    default_store_dir(config)?;
    let store = open_store(&config.consoleauth.store, &config.consoleauth.store_options()).await.context("[consoleauth] store")?;
    Ok(ConsoleAuth::new(store, Clock::System))
}

/// The configured `novncproxy_base_url`, or one derived from the listen address.
fn base_url(config: &Config, listen: SocketAddr) -> String {
    if let Some(base) = &config.vnc.novncproxy_base_url {
        return base.clone();
    }
    let (scheme, host_port) = host_port(config, listen);
    format!("{scheme}://{host_port}/vnc_lite.html")
}

async fn console_url(config: Config, instance: &str, ttl: Option<u64>, view_only: bool, serial: bool) -> anyhow::Result<()> {
    let listen = config.listen()?;
    let (base, console_type) = match serial {
        true => (serial_base_url(&config, listen), ConsoleType::Serial),
        false => (base_url(&config, listen), ConsoleType::Novnc),
    };
    let minted = mint(&config, instance, ttl, console_type, view_only, base).await?;
    println!("{}", minted.url);
    if serial {
        eprintln!("Open in a browser: {}", serial_page_url(&config, listen, minted.token.expose()));
    }
    Ok(())
}

/// Mints a console of `instance` (minted by `cli`).
async fn mint(
    config: &Config,
    instance: &str,
    ttl: Option<u64>,
    console_type: ConsoleType,
    view_only: bool,
    base: String,
) -> anyhow::Result<Minted> {
    if config.nova_store() {
        anyhow::bail!(
            "the token store is Nova's database, where Nova mints and purges console tokens (read-only here): \
             ask Nova for a console URL (openstack console url show --novnc {instance})"
        );
    }
    let auth = open_auth(config).await?;
    let ttl = Duration::from_secs(ttl.unwrap_or(config.consoleauth.token_ttl));
    let req = MintRequest { key: instance, base: &base, ttl, console_type, view_only, minted_by: Some("cli".into()) };
    let (_, minted) = porthole_gateway::mint::mint_console(&compute(config), &auth, &req).await?;
    Ok(minted)
}

/// `[serial_console] base_url` (Nova's name), or the WebSocket URL of the listener.
fn serial_base_url(config: &Config, listen: SocketAddr) -> String {
    if let Some(base) = &config.serial_console.base_url {
        return base.clone();
    }
    let (scheme, host_port) = host_port(config, listen);
    format!("{}://{host_port}/", if scheme == "https" { "wss" } else { "ws" })
}

/// The terminal page for a serial token, on the listener (or where novncproxy_base_url points).
fn serial_page_url(config: &Config, listen: SocketAddr, token: &str) -> String {
    let (scheme, host_port) = host_port(config, listen);
    format!("{scheme}://{host_port}/serial.html?path=%3Ftoken%3D{token}")
}

/// The scheme and `host:port` consoles are reached at: novncproxy_base_url's, else the listener's.
fn host_port(config: &Config, listen: SocketAddr) -> (String, String) {
    if let Some(url) = config.vnc.novncproxy_base_url.as_deref().and_then(|b| url::Url::parse(b).ok()) {
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        return (url.scheme().to_owned(), format!("{host}{port}"));
    }
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    let scheme = if config.proxy.cert.is_some() { "https" } else { "http" };
    (scheme.to_owned(), format!("{host}:{}", listen.port()))
}
