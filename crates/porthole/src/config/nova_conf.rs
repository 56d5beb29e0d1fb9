//! `porthole serve --nova-config /etc/nova/nova.conf`: the options nova-novncproxy reads, taken
//! from Nova's own file (oslo.config's INI: `[section]`, `key = value`, `#`/`;` comments, indented
//! continuation lines, `$name` / `${section.name}` substitution, `$$` for a dollar) and turned into
//! Porthole's TOML keys. A key that porthole.toml sets itself wins over nova.conf.
//!
//! | nova.conf | porthole.toml |
//! |---|---|
//! | `[vnc] novncproxy_host`, `novncproxy_port` (Nova's defaults `0.0.0.0`, `6080`) | `[proxy] listen` |
//! | `[vnc] novncproxy_base_url`, `server_listen`, `auth_schemes`, `vencrypt_*` | `[vnc]` same names |
//! | `[console] allowed_origins` | `[proxy] allowed_origins` |
//! | `[consoleauth] token_ttl`, `enforce_session_timeout` | `[consoleauth]` same names |
//! | `[database] connection` | `[consoleauth] store = "nova+<connection>"` |
//! | `[database] max_pool_size` | `[consoleauth] pool_max_connections` |
//! | `[DEFAULT] ssl_only`, `cert`, `key` (the key from the cert file when unset) | `[proxy] ssl_only`, `cert`, `key` |
//!
//! Nova's deprecated spellings (`[DEFAULT] novncproxy_*`, `console_allowed_origins`,
//! `console_token_ttl`) are read too. Options Porthole does not take are listed in [`Overlay::notes`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The keys that nova.conf gives, as TOML, plus what the operator should know.
#[derive(Debug, Default)]
pub struct Overlay {
    /// `section → key → value`, in Porthole's names.
    pub table: toml::Table,
    /// One line each: options read but not taken, and why.
    pub notes: Vec<String>,
}

/// One or more nova.conf files, read as oslo.config reads them (later files win).
#[derive(Debug, Default)]
pub struct NovaConf {
    /// section (as written, `DEFAULT` included) → option → raw value.
    sections: HashMap<String, HashMap<String, String>>,
}

impl NovaConf {
    /// Reads the files in order.
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut conf = NovaConf::default();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            conf.parse(&text, path)?;
        }
        Ok(conf)
    }

    /// Parses one file's text into the sections read so far.
    pub fn parse(&mut self, text: &str, path: &Path) -> anyhow::Result<()> {
        let mut section: Option<String> = None;
        let mut last: Option<(String, String)> = None;
        for (n, raw) in text.lines().enumerate() {
            let at = || format!("{}:{}", path.display(), n + 1);
            let line = raw.trim_end();
            if line.is_empty() {
                last = None; // a blank line ends a multi-line value
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                // A continuation of the previous value (oslo joins them with a newline).
                let (s, k) = last.clone().ok_or_else(|| anyhow::anyhow!("{}: an indented line outside any option", at()))?;
                if let Some(v) = self.sections.get_mut(&s).and_then(|sec| sec.get_mut(&k)) {
                    v.push('\n');
                    v.push_str(line.trim());
                }
                continue;
            }
            if line.starts_with(['#', ';']) {
                last = None;
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim().to_owned());
                last = None;
                continue;
            }
            let (key, value) = line.split_once(['=', ':']).ok_or_else(|| anyhow::anyhow!("{}: expected key = value", at()))?;
            let s = section.clone().ok_or_else(|| anyhow::anyhow!("{}: an option before any [section]", at()))?;
            let key = key.trim().to_owned();
            self.sections.entry(s.clone()).or_default().insert(key.clone(), unquote(value.trim()).to_owned());
            last = Some((s, key));
        }
        Ok(())
    }

    fn raw(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section).and_then(|s| s.get(key)).map(String::as_str)
    }

    /// The value of `[section] key` (or its deprecated `[DEFAULT] old` name), substituted.
    fn get(&self, section: &str, key: &str, deprecated: Option<&str>) -> anyhow::Result<Option<String>> {
        let found = match self.raw(section, key) {
            Some(v) => Some(v),
            None => deprecated.and_then(|old| self.raw("DEFAULT", old)),
        };
        found.map(|v| self.substitute(section, key, v, 0)).transpose()
    }

    /// oslo.config's `$name`, `${name}`, `${section.name}`; `$$` is a dollar.
    fn substitute(&self, section: &str, key: &str, value: &str, depth: usize) -> anyhow::Result<String> {
        anyhow::ensure!(depth < 8, "[{section}] {key}: substitutions nest too deep (a loop?)");
        let mut out = String::new();
        let mut rest = value;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                out.push('$');
                rest = after;
                continue;
            }
            let (name, after) = match rest.strip_prefix('{') {
                Some(braced) => braced.split_once('}').ok_or_else(|| anyhow::anyhow!("[{section}] {key}: an unclosed ${{"))?,
                None => rest.split_at(rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())),
            };
            let (in_section, name) = name.split_once('.').unwrap_or((section, name));
            let found = self.raw(in_section, name).or_else(|| self.raw("DEFAULT", name)).ok_or_else(|| {
                anyhow::anyhow!(
                    "[{section}] {key}: ${name} is not set in the nova.conf given; write the value out (or $$ for a dollar sign)"
                )
            })?;
            out.push_str(&self.substitute(in_section, name, found, depth + 1)?);
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Porthole's keys from Nova's options.
    pub fn overlay(&self) -> anyhow::Result<Overlay> {
        let mut o = Overlay::default();
        let mut set = |section: &str, key: &str, value: toml::Value| put(&mut o.table, section, key, value);
        // The listener: Nova's defaults when nova.conf does not say, as nova-novncproxy would bind.
        let ipv6 = self.get("DEFAULT", "source_is_ipv6", None)?.map(|v| oslo_bool("source_is_ipv6", &v)).transpose()?.unwrap_or(false);
        let host =
            self.get("vnc", "novncproxy_host", Some("novncproxy_host"))?.unwrap_or_else(|| if ipv6 { "::" } else { "0.0.0.0" }.into());
        let port = self.get("vnc", "novncproxy_port", Some("novncproxy_port"))?.unwrap_or_else(|| "6080".into());
        let port: u16 = port.parse().map_err(|_| anyhow::anyhow!("[vnc] novncproxy_port = {port:?} is not a port"))?;
        let listen = if host.contains(':') { format!("[{}]:{port}", host.trim_matches(['[', ']'])) } else { format!("{host}:{port}") };
        set("proxy", "listen", listen.into());
        let strings = [
            ("vnc", "novncproxy_base_url", Some("novncproxy_base_url"), "vnc", "novncproxy_base_url"),
            ("vnc", "server_listen", None, "vnc", "server_listen"),
            ("vnc", "vencrypt_client_key", None, "vnc", "vencrypt_client_key"),
            ("vnc", "vencrypt_client_cert", None, "vnc", "vencrypt_client_cert"),
            ("vnc", "vencrypt_ca_certs", None, "vnc", "vencrypt_ca_certs"),
        ];
        for (section, key, old, to_section, to_key) in strings {
            if let Some(v) = self.get(section, key, old)? {
                set(to_section, to_key, v.into());
            }
        }
        for (section, key, old, to_section, to_key) in [
            ("vnc", "auth_schemes", None, "vnc", "auth_schemes"),
            ("console", "allowed_origins", Some("console_allowed_origins"), "proxy", "allowed_origins"),
        ] {
            if let Some(v) = self.get(section, key, old)? {
                set(to_section, to_key, toml::Value::Array(oslo_list(&v).into_iter().map(toml::Value::from).collect()));
            }
        }
        if let Some(v) = self.get("consoleauth", "token_ttl", Some("console_token_ttl"))? {
            set("consoleauth", "token_ttl", oslo_int("[consoleauth] token_ttl", &v)?.into());
        }
        if let Some(v) = self.get("consoleauth", "enforce_session_timeout", None)? {
            set("consoleauth", "enforce_session_timeout", oslo_bool("[consoleauth] enforce_session_timeout", &v)?.into());
        }
        match self.get("database", "connection", None)? {
            Some(c) => set("consoleauth", "store", format!("nova+{c}").into()),
            None => o.notes.push("no [database] connection in nova.conf: the token store stays Porthole's own".into()),
        }
        if let Some(v) = self.get("database", "max_pool_size", None)? {
            set("consoleauth", "pool_max_connections", oslo_int("[database] max_pool_size", &v)?.into());
        }
        self.tls(&mut o)?;
        self.not_taken(&mut o)?;
        Ok(o)
    }

    /// `[DEFAULT] ssl_only, cert, key` → `[proxy] ssl_only, cert, key` (Nova's names). Nova serves
    /// TLS when its cert file exists (default `self.pem` in its working directory, not taken here)
    /// and reads the key from the cert file when `key` is unset; a cert that names no file means
    /// plain HTTP unless `ssl_only`, where both refuse to start.
    fn tls(&self, o: &mut Overlay) -> anyhow::Result<()> {
        let ssl_only = self.get("DEFAULT", "ssl_only", None)?.map(|v| oslo_bool("[DEFAULT] ssl_only", &v)).transpose()?.unwrap_or(false);
        let cert = self.get("DEFAULT", "cert", None)?;
        let key = self.get("DEFAULT", "key", None)?;
        if ssl_only {
            put(&mut o.table, "proxy", "ssl_only", true.into());
        }
        match cert {
            Some(cert) if ssl_only || Path::new(&cert).is_file() => {
                put(&mut o.table, "proxy", "key", key.unwrap_or_else(|| cert.clone()).into());
                put(&mut o.table, "proxy", "cert", cert.into());
            }
            Some(_) => o.notes.push("[DEFAULT] cert names no file: served without TLS, as nova-novncproxy would".into()),
            None => {}
        }
        Ok(())
    }

    /// Options nova-novncproxy reads that Porthole does not take.
    fn not_taken(&self, o: &mut Overlay) -> anyhow::Result<()> {
        let notes = [
            ("DEFAULT", "web", "Porthole serves its own console page at the same URLs (vnc_lite.html, vnc_auto.html); set [proxy] web_root to serve this directory instead"),
            ("console", "ssl_ciphers", "not taken: rustls offers only modern cipher suites"),
            ("console", "ssl_minimum_version", "not taken: rustls speaks TLS 1.2 and 1.3 only"),
            ("DEFAULT", "record", "not taken: Porthole does not record sessions"),
            ("DEFAULT", "daemon", "not taken: run Porthole under systemd (porthole.service)"),
        ];
        for (section, key, why) in notes {
            if self.get(section, key, None)?.is_some() {
                o.notes.push(format!("[{section}] {key}: {why}"));
            }
        }
        Ok(())
    }
}

/// `[section] key = value` in a TOML table.
fn put(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    if let toml::Value::Table(t) = table.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new())) {
        t.insert(key.into(), value);
    }
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// oslo.config's ListOpt: comma-separated, spaces trimmed, empty items dropped.
fn oslo_list(v: &str) -> Vec<String> {
    v.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(unquote).map(str::to_owned).collect()
}

/// oslo.config's BoolOpt words.
fn oslo_bool(what: &str, v: &str) -> anyhow::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => anyhow::bail!("{what} = {v:?} is not a boolean (true/false)"),
    }
}

fn oslo_int(what: &str, v: &str) -> anyhow::Result<i64> {
    v.trim().parse().map_err(|_| anyhow::anyhow!("{what} = {v:?} is not a whole number"))
}

/// Puts the nova.conf keys under the TOML document's own: a key the document sets wins.
pub fn merge_under(doc: &mut toml::Table, overlay: toml::Table) {
    for (section, values) in overlay {
        let toml::Value::Table(values) = values else { continue };
        let target = doc.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(target) = target {
            for (k, v) in values {
                target.entry(k).or_insert(v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
