//! What a reload changes: which parts of the configuration differ, and which of those take effect
//! at once and which only after a restart (the listener, the store, the log format, the pages).

use crate::config::Config;

/// The parts of the configuration that differ, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Applied at once: new sessions and requests use them.
    pub live: Vec<&'static str>,
    /// Kept as they are until a restart.
    pub restart: Vec<&'static str>,
}

/// Compares the running configuration with a newly loaded one.
pub fn changes(old: &Config, new: &Config) -> Changes {
    let (o, n) = (&old.proxy, &new.proxy);
    let mut c = Changes::default();
    let mut check = |changed: bool, name: &'static str, live: bool| {
        if changed {
            if live {
                c.live.push(name);
            } else {
                c.restart.push(name);
            }
        }
    };
    check(o.listen != n.listen, "[proxy] listen", false);
    check(o.web_root != n.web_root, "[proxy] web_root", false);
    check(o.frame_ancestors != n.frame_ancestors, "[proxy] frame_ancestors", false);
    check(o.request_timeout != n.request_timeout, "[proxy] request_timeout", false);
    check(old.consoleauth.store != new.consoleauth.store, "[consoleauth] store", false);
    check(old.consoleauth.store_options() != new.consoleauth.store_options(), "[consoleauth] pool options", false);
    check(old.log != new.log, "[log]", false);
    check(old.metrics != new.metrics, "[metrics] listen", false);
    check(old.cluster != new.cluster, "[cluster]", false);
    check(old.consoleauth.history_retention_days != new.consoleauth.history_retention_days, "[consoleauth] history_retention_days", false);
    check(o.allowed_origins != n.allowed_origins, "[proxy] allowed_origins", true);
    check(o.cert != n.cert || o.key != n.key || o.ssl_only != n.ssl_only, "[proxy] TLS", true);
    check(o.trusted_proxies != n.trusted_proxies, "[proxy] trusted_proxies", true);
    check(o.max_sessions != n.max_sessions, "[proxy] max_sessions", true);
    let timeouts = (o.connect_timeout, o.handshake_timeout, o.idle_timeout, o.stall_timeout, o.drain_timeout);
    check(timeouts != (n.connect_timeout, n.handshake_timeout, n.idle_timeout, n.stall_timeout, n.drain_timeout), "[proxy] timeouts", true);
    check(old.vnc != new.vnc, "[vnc]", true);
    check(old.serial_console != new.serial_console, "[serial_console]", true);
    let ttl = (old.consoleauth.token_ttl, old.consoleauth.enforce_session_timeout);
    check(ttl != (new.consoleauth.token_ttl, new.consoleauth.enforce_session_timeout), "[consoleauth] token_ttl", true);
    check(old.nodes != new.nodes, "nodes", true);
    check(old.targets != new.targets, "targets", true);
    check(old.api != new.api, "api keys", true);
    check(old.audit != new.audit, "[audit]", true);
    check(old.nova != new.nova, "[nova]", true);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml_str(text).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn live_and_restart_changes_are_told_apart() {
        let old = config("[proxy]\nlisten = \"127.0.0.1:6080\"\nidle_timeout = 0\n");
        let new = config(
            "[proxy]\nlisten = \"127.0.0.1:7000\"\nidle_timeout = 60\n[[targets]]\nname = \"a\"\nhost = \"127.0.0.1\"\nport = 5901\n",
        );
        let c = changes(&old, &new);
        assert_eq!(c.live, vec!["[proxy] timeouts", "targets"]);
        assert_eq!(c.restart, vec!["[proxy] listen"]);
        assert_eq!(changes(&new, &new), Changes::default());
    }

    #[test]
    fn a_changed_secret_counts() {
        let key = |s: &str| format!("[[api.keys]]\nname = \"ops\"\nsecret = \"{s}\"\nrole = \"admin\"\n");
        let c = changes(&config(&key("0123456789abcdef")), &config(&key("fedcba9876543210")));
        assert_eq!(c.live, vec!["api keys"]);
    }
}
