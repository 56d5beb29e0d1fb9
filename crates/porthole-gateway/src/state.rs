//! What every request handler shares: settings, the token authority, the inventory, live sessions.

use crate::inventory::Inventory;
use crate::sessions::Sessions;
use crate::upstream::DEFAULT_CONNECT_TIMEOUT;
use porthole_tokens::ConsoleAuth;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Default cap on concurrent console sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// The proxy's tunables, from the `[proxy]` and `[consoleauth]` sections.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Extra Origin host names accepted besides the Host header's. Never changed at run time.
    pub allowed_origins: Vec<String>,
    /// The project's console page directory (`web/`, with `node_modules/@novnc/novnc`).
    pub web_dir: PathBuf,
    /// Serve this directory as is instead of the project's page (e.g. `/usr/share/novnc`).
    pub web_root: Option<PathBuf>,
    /// Time allowed to reach a VNC server.
    pub connect_timeout: Duration,
    /// Close a session after this long without traffic either way; `None` never.
    pub idle_timeout: Option<Duration>,
    /// Concurrent sessions at most; more are refused with 503 before the upgrade.
    pub max_sessions: usize,
    /// Close live sessions when their token expires (Nova's `enforce_session_timeout`).
    pub enforce_session_timeout: bool,
    /// The API keys (`[[api.keys]]`); none means every API call gets 401.
    pub api_keys: Vec<crate::api::auth::ApiKey>,
    /// `novncproxy_base_url`, for console URLs minted through the API.
    pub console_base_url: String,
    /// Lifetime of tokens minted through the API.
    pub token_ttl: Duration,
    /// The RFB security proxy toward VNC servers.
    pub security: crate::security::SecuritySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_origins: Vec::new(),
            web_dir: PathBuf::from("web"),
            web_root: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            idle_timeout: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            enforce_session_timeout: false,
            api_keys: Vec::new(),
            console_base_url: "http://127.0.0.1:6080/vnc_lite.html".into(),
            token_ttl: Duration::from_secs(600),
            security: crate::security::SecuritySettings::default(),
        }
    }
}

/// Shared state of the gateway. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Settings, read-only.
    pub settings: Arc<Settings>,
    /// Token validation.
    pub auth: ConsoleAuth,
    /// Instances and their current endpoints.
    pub inventory: Arc<dyn Inventory>,
    /// Live sessions by instance.
    pub sessions: Sessions,
    /// One permit per live session: the `max_sessions` limit.
    pub(crate) permits: Arc<Semaphore>,
}

impl AppState {
    /// Assembles the state.
    pub fn new(settings: Settings, auth: ConsoleAuth, inventory: Arc<dyn Inventory>) -> Self {
        let permits = Arc::new(Semaphore::new(settings.max_sessions));
        AppState { settings: Arc::new(settings), auth, inventory, sessions: Sessions::default(), permits }
    }

    /// Ends every console of an instance: revokes its tokens and closes its live sessions with
    /// 1008 and `reason`. Returns (tokens revoked, sessions closed).
    pub async fn end_consoles(&self, instance: uuid::Uuid, reason: &'static str) -> porthole_tokens::Result<(u64, usize)> {
        let revoked = self.auth.revoke_instance(instance).await;
        let closed = self.sessions.close_instance(instance, crate::sessions::PolicyClose { reason });
        Ok((revoked?, closed))
    }
}
