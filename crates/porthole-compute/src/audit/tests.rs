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
    AuditedDomain { name: "vm".into(), uuid: uuid::Uuid::nil(), state: InstanceState::Running, live: Some(live), defined, persistent: true }
}

fn kinds(f: &[Finding]) -> Vec<(&str, &str)> {
    f.iter().map(|f| (f.kind.as_str(), f.severity.as_str())).collect()
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
    d.state = InstanceState::ShutOff;
    assert!(check_domain(&d, "n", &policy()).is_empty());
}

#[test]
fn unmanaged_qemu_severity_follows_its_vnc_authentication() {
    use super::cmdline::{QemuArgs, VncAuth};
    use super::sockets::QemuProcess;
    use std::net::Ipv4Addr;
    let process = |pid, password, addr: Ipv4Addr, port| QemuProcess {
        pid,
        args: QemuArgs { name: Some(format!("vm{pid}")), uuid: None, vnc: Some(VncAuth { password, ..VncAuth::default() }) },
        listeners: vec![(IpAddr::V4(addr), port)],
    };
    let procs = [
        process(10, false, Ipv4Addr::UNSPECIFIED, 5955),
        process(11, true, Ipv4Addr::UNSPECIFIED, 5956),
        process(12, false, Ipv4Addr::LOCALHOST, 5957),
        process(13, false, Ipv4Addr::UNSPECIFIED, 5900),
    ];
    let known = [("managed".to_owned(), 5900)];
    let f = unmanaged_findings("local", &known, &policy(), &procs);
    let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.instance.as_str(), f.severity)).collect();
    assert_eq!(got, [("vm10 (pid 10)", Severity::High), ("vm11 (pid 11)", Severity::Medium), ("vm12 (pid 12)", Severity::Low)]);
    assert!(f.iter().all(|f| f.kind == FindingKind::UnmanagedListener));
}

#[test]
fn kinds_and_severities_serialize_as_before() {
    let f = check_domain(&dom(g("0.0.0.0", false), None), "n", &policy());
    let json = serde_json::to_value(&f[0]).unwrap();
    assert_eq!((json["kind"].as_str(), json["severity"].as_str()), (Some("exposed"), Some("high")));
    let words: Vec<String> = [
        FindingKind::Exposed,
        FindingKind::NoVncAuth,
        FindingKind::DriftServerListen,
        FindingKind::DriftPersistent,
        FindingKind::UnmanagedListener,
    ]
    .iter()
    .map(|k| serde_json::to_value(k).unwrap().as_str().unwrap().to_owned())
    .collect();
    assert_eq!(words, ["exposed", "no-vnc-auth", "drift-server-listen", "drift-persistent", "unmanaged-listener"]);
    assert_eq!(FindingKind::NoVncAuth.to_string(), "no-vnc-auth");
    assert_eq!(serde_json::to_value(Severity::Medium).unwrap(), "medium");
    assert!(Severity::High > Severity::Medium && Severity::Medium > Severity::Low);
}

#[test]
fn exposed_means_running_and_reachable_beyond_loopback_and_management_networks() {
    let p = policy();
    let running = InstanceState::Running;
    assert!(exposed(running, Some(&g("0.0.0.0", false)), &p));
    assert!(exposed(running, Some(&g("::", true)), &p));
    assert!(exposed(running, Some(&g("192.0.2.7", false)), &p));
    assert!(!exposed(running, Some(&g("127.0.0.1", false)), &p));
    assert!(!exposed(running, Some(&g("10.20.3.4", false)), &p), "inside management_networks");
    assert!(!exposed(InstanceState::ShutOff, Some(&g("0.0.0.0", false)), &p), "nothing listens");
    let mut default_listen = g("x", false);
    default_listen.listen = Listen::Default;
    assert!(!exposed(running, Some(&default_listen), &p), "QEMU's default is 127.0.0.1");
    assert!(!exposed(running, None, &p));
}
