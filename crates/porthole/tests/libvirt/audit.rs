//! `porthole audit` on real libvirt and QEMU: a wildcard listener is flagged, a loopback one is
//! not, a definition changed while the domain runs is drift, `--fix --yes --hard-reboot` cleans
//! it, and a QEMU started outside libvirt with VNC on 0.0.0.0 is found by the socket check.

use crate::harness::{virsh_ok, Config, Domain};
use crate::listening::{free_port, Listening};
use std::process::Command;

fn findings_for(cfg: &Config, name: &str) -> (i32, Vec<serde_json::Value>) {
    let out = cfg.run(&["audit", "--json"]);
    let code = out.status.code().unwrap_or(-1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let mine =
        doc["findings"].as_array().unwrap().iter().filter(|f| f["instance"].as_str().unwrap_or("").contains(name)).cloned().collect();
    (code, mine)
}

fn kinds(f: &[serde_json::Value]) -> Vec<String> {
    f.iter().map(|f| f["kind"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn wildcard_flagged_loopback_clean() {
    let open = Domain::start("audit-open", "<graphics type='vnc' autoport='yes' listen='0.0.0.0'/>");
    let closed = Domain::start("audit-closed", "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>");
    let cfg = Config::local_node();
    let (code, f) = findings_for(&cfg, &open.name);
    assert_eq!(code, 1);
    assert!(kinds(&f).contains(&"exposed".to_owned()), "{f:?}");
    let exposed = f.iter().find(|f| f["kind"] == "exposed").unwrap();
    assert_eq!((exposed["severity"].as_str(), exposed["listen"].as_str()), (Some("high"), Some("0.0.0.0")));
    assert_eq!(exposed["port"], open.vnc_port());
    assert!(findings_for(&cfg, &closed.name).1.is_empty());
    let table = cfg.run(&["audit"]);
    assert!(String::from_utf8_lossy(&table.stdout).lines().any(|l| l.contains(&open.name) && l.contains("exposed")));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn persistent_drift_and_the_fix() {
    let dom = Domain::define("audit-drift", "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>");
    virsh_ok(&["start", &dom.name]);
    // Change the definition while it runs: the live domain keeps 127.0.0.1.
    let xml = virsh_ok(&["dumpxml", "--inactive", &dom.name]).replace("127.0.0.1", "0.0.0.0");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.xml"), xml).unwrap();
    virsh_ok(&["define", dir.path().join("d.xml").to_str().unwrap()]);
    let cfg = Config::local_node();
    let (code, f) = findings_for(&cfg, &dom.name);
    assert_eq!((code, kinds(&f)), (1, vec!["drift-persistent".to_owned()]));
    assert!(f[0]["fix"].as_str().unwrap().contains("hard reboot"));

    // Without --yes nothing changes.
    let dry = cfg.run_ok(&["audit", "--fix", &dom.name]);
    assert!(dry.contains("0.0.0.0 -> 127.0.0.1") && dry.contains("not changed"), "{dry}");
    assert_eq!(findings_for(&cfg, &dom.name).1.len(), 1);

    let done = cfg.run_ok(&["audit", "--fix", "--yes", "--hard-reboot", &dom.name]);
    assert!(done.contains("hard rebooted"), "{done}");
    assert!(findings_for(&cfg, &dom.name).1.is_empty());
    assert!(virsh_ok(&["dumpxml", "--inactive", &dom.name]).contains("listen='127.0.0.1'"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn qemu_outside_libvirt_is_found_by_the_socket_check() {
    let name = format!("ph-e2e-byhand-{}", std::process::id());
    let qemu = Listening::start("QEMU with VNC on 0.0.0.0", free_port(), |port| {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-name", &name, "-M", "pc", "-m", "32", "-nodefaults", "-vga", "std", "-display", "none"]);
        cmd.arg("-vnc").arg(format!("0.0.0.0:{}", port - 5900));
        cmd
    });
    let port = qemu.port;
    let cfg = Config::local_node();
    let (code, f) = findings_for(&cfg, &name);
    drop(qemu);
    assert_eq!(code, 1);
    assert_eq!(kinds(&f), vec!["unmanaged-listener".to_owned()], "{f:?}");
    assert_eq!((f[0]["severity"].as_str(), f[0]["port"].as_u64()), (Some("high"), Some(u64::from(port))));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn an_audit_that_cannot_run_exits_2() {
    let dead = crate::harness::free_port();
    let cfg = Config::new(&format!("[[nodes]]\nname = \"gone\"\nlibvirt_uri = \"qemu+tcp://127.0.0.1:{dead}/system\"\n"));
    let out = cfg.run(&["audit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not run"));
}
