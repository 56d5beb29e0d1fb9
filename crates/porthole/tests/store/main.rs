//! The SQLite store under many processes at once: 400 concurrent `porthole console url` runs
//! against one config (one database file) must all succeed (issue 12: 14–20 of 400 failed with
//! "database is locked"), and every URL they print must be distinct and stored.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::process::{Command, Stdio};

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");

/// How many `console url` processes run at once.
const PROCESSES: usize = 400;

#[test]
fn four_hundred_concurrent_console_urls_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("porthole.toml");
    let text = format!(
        "[consoleauth]\nstore = \"sqlite://{}/p.db\"\n[[targets]]\nname = \"lab\"\nhost = \"127.0.0.1\"\nport = 5901\n",
        dir.path().display()
    );
    std::fs::write(&config, text).unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(PORTHOLE)
                .args(["console", "url", "lab", "-c"])
                .arg(&config)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut urls = HashSet::new();
    let mut failures = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            urls.insert(String::from_utf8(out.stdout).unwrap().trim().to_owned());
        } else {
            failures.push(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
    }
    let distinct: HashSet<&String> = failures.iter().collect();
    assert!(failures.is_empty(), "{} of {PROCESSES} failed; distinct errors: {distinct:#?}", failures.len());
    assert_eq!(urls.len(), PROCESSES, "every run prints its own URL");
}
