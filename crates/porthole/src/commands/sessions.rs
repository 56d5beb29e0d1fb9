//! `porthole sessions [kill]` and `porthole console reset`: straight on the store the
//! configuration names, so they work on any host that reaches it, with or without an API key.
//! Ends travel as cluster events to whichever `porthole serve` holds the sessions; the command
//! then waits (briefly) for the store to show them ended and says what happened.

use super::compute;
use crate::config::Config;
use anyhow::Context as _;
use porthole_compute::{Inventory as _, LookupError};
use porthole_gateway::cluster::ClusterSettings;
use porthole_gateway::SessionDoc;
use porthole_tokens::cluster::{rfc3339, InstanceFilter, RevokeReason, SessionQuery, DEFAULT_HISTORY_LIMIT};
use porthole_tokens::{open_cluster, open_store, ClusterEvent, ClusterStore, SessionRecord};
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a kill or a reset waits for the holders to confirm in the store.
const CONFIRM_WITHIN: Duration = Duration::from_secs(3);

/// What `porthole sessions` lists.
pub struct Listing {
    pub json: bool,
    pub history: bool,
    pub limit: Option<u32>,
    pub instance: Option<String>,
}

async fn cluster(config: &Config) -> anyhow::Result<Arc<dyn ClusterStore>> {
    if config.nova_store() {
        anyhow::bail!(
            "the store is Nova's database, which holds no Porthole sessions: each `porthole serve` keeps its own; \
             ask one through its API (GET or DELETE /v2.1/porthole/sessions)"
        );
    }
    super::default_store_dir(config)?;
    open_cluster(&config.consoleauth.store, &config.consoleauth.store_options()).await.context("[consoleauth] store")
}

/// Who publishes events from the command line.
fn origin() -> String {
    format!("cli-{}", porthole_gateway::cluster::default_proxy_id())
}

fn live_query(settings: &ClusterSettings) -> SessionQuery {
    SessionQuery::live(settings.stale_before(porthole_tokens::Clock::System.now()))
}

/// `porthole sessions [--json] [--history] [--limit N] [--instance NAME]`.
pub async fn list(config: &Config, l: Listing) -> anyhow::Result<()> {
    let store = cluster(config).await?;
    let mut query = if l.history { SessionQuery::history(DEFAULT_HISTORY_LIMIT) } else { live_query(&config.cluster_settings()) };
    if let Some(limit) = l.limit {
        query.limit = limit;
    }
    query.instance = l.instance.as_deref().map(InstanceFilter::parse);
    let rows = store.sessions(&query).await.context("reading the sessions")?;
    if l.json {
        let docs: Vec<SessionDoc> = rows.into_iter().map(|r| SessionDoc::of(r, l.history)).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "sessions": docs }))?);
        return Ok(());
    }
    print_table(&rows, l.history);
    Ok(())
}

fn print_table(rows: &[SessionRecord], history: bool) {
    let ended = if history { format!("  {:<20}  {:<18}", "ENDED", "REASON") } else { String::new() };
    println!(
        "{:<36}  {:<20}  {:<10}  {:<15}  {:<6}  {:<20}  {:>12}  {:>12}{ended}  PROXY",
        "ID", "INSTANCE", "NODE", "CLIENT", "TYPE", "STARTED", "TO SERVER", "TO BROWSER"
    );
    for r in rows {
        let ended = match history {
            true => format!(
                "  {:<20}  {:<18}",
                r.ended.map_or_else(|| "-".to_owned(), rfc3339),
                r.end_reason.as_deref().unwrap_or(if r.ended.is_none() { "(live)" } else { "-" })
            ),
            false => String::new(),
        };
        println!(
            "{:<36}  {:<20}  {:<10}  {:<15}  {:<6}  {:<20}  {:>12}  {:>12}{ended}  {}",
            r.id,
            r.instance_name,
            r.node.as_deref().unwrap_or("-"),
            r.client,
            r.console_type,
            rfc3339(r.started),
            r.bytes_to_server,
            r.bytes_to_browser,
            r.proxy_id
        );
    }
}

/// `porthole sessions kill ID` or `--instance NAME`.
pub async fn kill(config: &Config, id: Option<&str>, instance: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = cluster(config).await?;
    let settings = config.cluster_settings();
    let now = porthole_tokens::Clock::System.now();
    let (targets, description) = match (id, instance) {
        (Some(id), _) => {
            let session =
                Uuid::parse_str(id).map_err(|_| anyhow::anyhow!("{id:?} is not a session id (a UUID, as `porthole sessions` shows)"))?;
            let query = SessionQuery { id: Some(session), ..live_query(&settings) };
            let Some(row) = store.sessions(&query).await.context("reading the sessions")?.pop() else {
                anyhow::bail!("no live session {session} (see `porthole sessions`)");
            };
            store.publish(&origin(), &ClusterEvent::EndSession { id: session }, now).await.context("telling the proxies")?;
            (vec![row], format!("session {session}"))
        }
        (None, Some(key)) => {
            let uuids = instances_named(config, store.as_ref(), &settings, key).await?;
            let mut rows = Vec::new();
            for instance in &uuids {
                let query = SessionQuery { instance: Some(InstanceFilter::Uuid(*instance)), ..live_query(&settings) };
                rows.extend(store.sessions(&query).await.context("reading the sessions")?);
                store
                    .publish(&origin(), &ClusterEvent::EndInstanceSessions { instance: *instance }, now)
                    .await
                    .context("telling the proxies")?;
            }
            (rows, format!("the sessions of {key}"))
        }
        (None, None) => anyhow::bail!("give a session id or --instance NAME"),
    };
    Ok(confirm(store.as_ref(), &targets, &description, "ended").await)
}

/// `porthole console reset INSTANCE`: revokes its tokens, tells every proxy to close its sessions.
pub async fn reset(config: &Config, key: &str) -> anyhow::Result<ExitCode> {
    let instance = match compute(config).find(key).await {
        Ok(i) => i.uuid,
        // An instance no node knows (or can be asked about) now: its UUID is enough.
        Err(e) => Uuid::parse_str(key).map_err(|_| anyhow::Error::new(e))?,
    };
    let options = config.consoleauth.store_options();
    let tokens = open_store(&config.consoleauth.store, &options).await.context("[consoleauth] store")?;
    let store = cluster(config).await?;
    let settings = config.cluster_settings();
    let now = porthole_tokens::Clock::System.now();
    let revoked = tokens.revoke_instance(instance, now).await.context("revoking the console tokens")?;
    let query = SessionQuery { instance: Some(InstanceFilter::Uuid(instance)), ..live_query(&settings) };
    let live = store.sessions(&query).await.context("reading the sessions")?;
    store.publish(&origin(), &ClusterEvent::Revoked { instance, reason: RevokeReason::Reset }, now).await.context("telling the proxies")?;
    println!("{revoked} console URL(s) of {key} revoked");
    Ok(confirm(store.as_ref(), &live, &format!("the live sessions of {key}"), "closed").await)
}

/// The instances `key` names: the one the nodes and targets find, and those of live sessions
/// recorded under that name or UUID.
async fn instances_named(
    config: &Config,
    store: &dyn ClusterStore,
    settings: &ClusterSettings,
    key: &str,
) -> anyhow::Result<BTreeSet<Uuid>> {
    let mut found = BTreeSet::new();
    match compute(config).find(key).await {
        Ok(i) => {
            found.insert(i.uuid);
        }
        Err(LookupError::NotFound(_)) => {}
        Err(e) => eprintln!("porthole: {e}; looking among the recorded sessions"),
    }
    let query = SessionQuery { instance: Some(InstanceFilter::parse(key)), ..live_query(settings) };
    found.extend(store.sessions(&query).await.context("reading the sessions")?.iter().map(|r| r.instance_uuid));
    if found.is_empty() {
        anyhow::bail!("no instance {key:?} and no live session of one");
    }
    Ok(found)
}

/// Waits until the store shows these sessions ended; says so, or which proxies did not confirm.
async fn confirm(store: &dyn ClusterStore, sessions: &[SessionRecord], what: &str, done: &str) -> ExitCode {
    if sessions.is_empty() {
        println!("{what}: no live session");
        return ExitCode::SUCCESS;
    }
    let deadline = tokio::time::Instant::now() + CONFIRM_WITHIN;
    let mut waiting: Vec<&SessionRecord> = sessions.iter().collect();
    while !waiting.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut still = Vec::new();
        for r in waiting {
            let query = SessionQuery { id: Some(r.id), ..SessionQuery::history(1) };
            match store.sessions(&query).await {
                Ok(rows) if rows.first().is_some_and(|row| row.ended.is_some()) => {}
                _ => still.push(r),
            }
        }
        waiting = still;
    }
    if waiting.is_empty() {
        println!("{what}: {} session(s) {done}", sessions.len());
        return ExitCode::SUCCESS;
    }
    let proxies: BTreeSet<&str> = waiting.iter().map(|r| r.proxy_id.as_str()).collect();
    eprintln!(
        "porthole: {what}: {} of {} session(s) not confirmed {done} within {} s by {} (not running? its sessions are ended as proxy-gone once its heartbeat is old)",
        waiting.len(),
        sessions.len(),
        CONFIRM_WITHIN.as_secs(),
        proxies.into_iter().collect::<Vec<_>>().join(", ")
    );
    ExitCode::FAILURE
}
