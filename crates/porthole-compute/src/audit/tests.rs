//! Audit checks on domains described by hand.

use super::*;
use crate::domain_xml::{Password, VncGraphics};

fn policy() -> Policy {
    Policy { server_listen: "127.0.0.1".into(), management_networks: vec!["10.20.0.0/16".parse().unwrap()] }
}

fn g(listen: &str, passwd: bool) -> VncGraphics {
    VncGraphics {
        port: Some(5901),
        autoport: true,
        listen: Listen::Address(listen.into()),
        passwd: passwd.then(|| Password("pw".into())),
        websocket: None,
    }
}

fn dom(live: VncGraphics, defined: Option<VncGraphics>) -> AuditedDomain {
    AuditedDomain { name: "vm".into(), uuid: uuid::Uuid::nil(), state: "running".into(), live: Some(live), defined, persistent: true }
}

fn kinds(f: &[Finding]) -> Vec<(&str, &str)> {
    f.iter().map(|f| (f.kind, f.severity)).collect()
}

#[test]
fn loopback_is_clean() {
    assert!(check_domain(&dom(g("127.0.0.1", false), Some(g("127.0.0.1", false))), "n", &policy()).is_empty());
}

#[test]
fn wildcard_without_password_is_high() {
    let f = check_domain(&dom(g("0.0.0.0", false), None), "n", &policy());
    assert_eq!(kinds(&f), [("exposed", "high"), ("no-vnc-auth", "medium"), ("drift-server-listen", "low")]);
    assert!(f[0].fix.contains("--fix vm"));
}

#[test]
fn password_lowers_exposure_and_management_networks_are_not_exposed() {
    let f = check_domain(&dom(g("::", true), None), "n", &policy());
    assert_eq!(kinds(&f), [("exposed", "medium"), ("drift-server-listen", "low")]);
    let f = check_domain(&dom(g("10.20.3.4", false), None), "n", &policy());
    assert_eq!(kinds(&f), [("no-vnc-auth", "medium"), ("drift-server-listen", "low")]);
}

#[test]
fn persistent_definition_drift() {
    let f = check_domain(&dom(g("127.0.0.1", false), Some(g("0.0.0.0", false))), "n", &policy());
    assert_eq!(kinds(&f), [("drift-persistent", "low")]);
    assert!(f[0].fix.contains("hard reboot"));
}

#[test]
fn stopped_domains_have_no_live_findings() {
    let mut d = dom(g("0.0.0.0", false), None);
    d.state = "shut off".into();
    assert!(check_domain(&d, "n", &policy()).is_empty());
}
