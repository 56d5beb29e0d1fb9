//! [`ConsoleAuth`]: mints tokens with connect info, validates them, revokes per instance, purges.

use crate::store::{ConnectInfo, ConsoleType, Lookup, TokenEndpoint, TokenStore};
use crate::{access_url, Clock, Result, Token};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How often expired tokens are deleted by default (Nova: `instance_delete_interval`, 300 s).
pub const DEFAULT_PURGE_INTERVAL: Duration = Duration::from_secs(300);

/// Told how long each store operation took and whether it failed (the gateway's metrics).
pub trait StoreObserver: Send + Sync + 'static {
    /// `op` (`insert`, `lookup`, `revoke`, `health`, `purge`) took `elapsed`; `ok` is false when it failed.
    fn observe(&self, op: &'static str, elapsed: Duration, ok: bool);
}

/// The consoleauth role: a token store with a clock.
#[derive(Clone)]
pub struct ConsoleAuth {
    store: Arc<dyn TokenStore>,
    clock: Clock,
    observer: Option<Arc<dyn StoreObserver>>,
}

/// Where a console lives, before a token is minted for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleTarget {
    /// The instance the console belongs to.
    pub instance_uuid: Uuid,
    /// The kind of console.
    pub console_type: ConsoleType,
    /// Where the proxy reaches it.
    pub endpoint: TokenEndpoint,
    /// Watch only: the proxy drops the browser's input.
    pub view_only: bool,
    /// Who asks for it (an API key's name, or `cli`).
    pub minted_by: Option<String>,
}

/// A freshly minted token and the URL to hand out.
#[derive(Debug)]
pub struct Minted {
    /// The secret, shown once.
    pub token: Token,
    /// The access URL in Nova's format.
    pub url: String,
    /// What was stored with it.
    pub info: ConnectInfo,
}

impl ConsoleAuth {
    /// Wraps a store; `clock` decides what "now" is.
    pub fn new(store: Arc<dyn TokenStore>, clock: Clock) -> Self {
        ConsoleAuth { store, clock, observer: None }
    }

    /// The same store, each operation reported to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn StoreObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs one store operation, timing it for the observer.
    async fn timed<T>(&self, op: &'static str, call: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let Some(observer) = &self.observer else { return call.await };
        let started = std::time::Instant::now();
        let result = call.await;
        observer.observe(op, started.elapsed(), result.is_ok());
        result
    }

    /// Mints a token valid for `ttl` and returns it with its access URL.
    pub async fn authorize(&self, target: &ConsoleTarget, base: &str, ttl: Duration) -> Result<Minted> {
        access_url::parse_base(base)?;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let info = ConnectInfo {
            instance_uuid: target.instance_uuid,
            console_type: target.console_type,
            endpoint: target.endpoint.clone(),
            internal_access_path: None,
            access_url_base: base.to_owned(),
            expires: self.clock.now().saturating_add(ttl),
            view_only: target.view_only,
            minted_by: target.minted_by.clone(),
        };
        let token = Token::generate();
        self.timed("insert", self.store.insert(&token.hash(), &info)).await?;
        let url = access_url::access_url(target.console_type, base, &token)?;
        Ok(Minted { token, url, info })
    }

    /// What the store knows about a presented token now; an empty token is [`Lookup::Unknown`].
    pub async fn lookup(&self, token: &Token) -> Result<Lookup> {
        if token.expose().is_empty() {
            return Ok(Lookup::Unknown);
        }
        self.timed("lookup", self.store.lookup(&token.hash(), self.clock.now())).await
    }

    /// The connect info of a valid token; `None` for an empty, unknown, expired or revoked one.
    pub async fn validate(&self, token: &Token) -> Result<Option<ConnectInfo>> {
        Ok(self.lookup(token).await?.valid())
    }

    /// Revokes every token of an instance; returns how many were still unrevoked.
    pub async fn revoke_instance(&self, instance: Uuid) -> Result<u64> {
        self.timed("revoke", self.store.revoke_instance(instance, self.clock.now())).await
    }

    /// Whether the store can serve (see [`TokenStore::health`]).
    pub async fn health(&self) -> Result<()> {
        self.timed("health", self.store.health()).await
    }

    /// Deletes expired tokens now.
    pub async fn purge_expired(&self) -> Result<u64> {
        self.timed("purge", self.store.purge_expired(self.clock.now())).await
    }

    /// The clock in use.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs [`purge_expired`](Self::purge_expired) every `every` until the task is dropped; returns at
    /// once on a read-only store (Nova's database, which Nova purges).
    pub async fn run_purger(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.purge_expired().await {
                Err(e) if e.is_read_only() => {
                    tracing::debug!("the token store is Nova's database: Nova purges its own expired tokens");
                    return;
                }
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired console tokens purged"),
                Err(e) => tracing::warn!(cause = %e, "purging expired console tokens failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    async fn auth() -> ConsoleAuth {
        ConsoleAuth::new(Arc::new(MemoryStore::new()), Clock::tokio())
    }

    fn target() -> ConsoleTarget {
        ConsoleTarget {
            instance_uuid: Uuid::new_v4(),
            console_type: ConsoleType::Novnc,
            endpoint: TokenEndpoint::Tcp { host: "127.0.0.1".into(), port: 5900 },
            view_only: false,
            minted_by: None,
        }
    }

    const BASE: &str = "http://127.0.0.1:6080/vnc_lite.html";

    #[tokio::test(start_paused = true)]
    async fn token_expires_after_ttl() {
        let auth = auth().await;
        let m = auth.authorize(&target(), BASE, Duration::from_secs(600)).await.unwrap();
        assert!(m.url.ends_with(&format!("?path=%3Ftoken%3D{}", m.token.expose())));
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(auth.validate(&m.token).await.unwrap(), Some(m.info.clone()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(auth.validate(&m.token).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn purger_deletes_expired_tokens() {
        let auth = auth().await;
        let short = auth.authorize(&target(), BASE, Duration::from_secs(10)).await.unwrap();
        let long = auth.authorize(&target(), BASE, Duration::from_secs(1000)).await.unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(auth.purge_expired().await.unwrap(), 1);
        assert!(auth.validate(&long.token).await.unwrap().is_some());
        assert!(auth.validate(&short.token).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn stored_form_is_the_hash_only() {
        let auth = auth().await;
        let m = auth.authorize(&target(), BASE, Duration::from_secs(60)).await.unwrap();
        let by_hash = auth.store.validate(&m.token.hash(), 0).await.unwrap();
        assert!(by_hash.is_some());
        // The raw token used as if it were a hash finds nothing.
        let raw = Token::from_presented(m.token.expose());
        assert!(auth.store.validate(&crate::TokenHash::from_hex_for_tests(raw.expose()), 0).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn empty_token_is_invalid() {
        let auth = auth().await;
        assert_eq!(auth.validate(&Token::from_presented("")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn revoke_instance_invalidates() {
        let auth = auth().await;
        let t = target();
        let m = auth.authorize(&t, BASE, Duration::from_secs(60)).await.unwrap();
        assert_eq!(auth.revoke_instance(t.instance_uuid).await.unwrap(), 1);
        assert!(auth.validate(&m.token).await.unwrap().is_none());
        assert_eq!(auth.lookup(&m.token).await.unwrap(), Lookup::Revoked);
    }

    #[tokio::test(start_paused = true)]
    async fn lookup_tells_expired_from_unknown() {
        let auth = auth().await;
        let m = auth.authorize(&target(), BASE, Duration::from_secs(10)).await.unwrap();
        assert_eq!(auth.lookup(&m.token).await.unwrap(), Lookup::Valid(m.info.clone()));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(auth.lookup(&m.token).await.unwrap(), Lookup::Expired);
        assert_eq!(auth.lookup(&Token::generate()).await.unwrap(), Lookup::Unknown);
        assert_eq!(auth.lookup(&Token::from_presented("")).await.unwrap(), Lookup::Unknown);
    }

    #[tokio::test]
    async fn serial_targets_mint_serial_tokens() {
        let auth = auth().await;
        let t =
            ConsoleTarget { console_type: ConsoleType::Serial, endpoint: TokenEndpoint::ConsoleStream { node: "kvm1".into() }, ..target() };
        let m = auth.authorize(&t, BASE, Duration::from_secs(60)).await.unwrap();
        assert_eq!(m.info.console_type, ConsoleType::Serial);
        assert_eq!(auth.validate(&m.token).await.unwrap().map(|i| i.endpoint), Some(t.endpoint));
    }
}
