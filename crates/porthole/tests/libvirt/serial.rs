//! `porthole list` shows each domain's serial console (real libvirtd, SeaBIOS-only domains).

use crate::harness::{free_port, Config, Domain};

const VNC: &str = "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>";

fn row<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["instances"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()
}

#[test]
#[ignore = "needs libvirtd"]
fn list_shows_the_serial_console() {
    let pty = Domain::start(
        "ser-pty",
        &format!("<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>{VNC}"),
    );
    let port = free_port();
    let tcp = Domain::start(
        "ser-tcp",
        &format!("<serial type='tcp'><source mode='bind' host='127.0.0.1' service='{port}'/><protocol type='raw'/></serial>{VNC}"),
    );
    let none = Domain::start("ser-none", VNC);
    let cfg = Config::local_node();

    let list: serde_json::Value = serde_json::from_str(&cfg.run_ok(&["list", "--json"])).unwrap();
    let p = &row(&list, &pty.name)["serial"];
    assert_eq!((p["alias"].as_str(), p["target"].as_str(), p["source"]["type"].as_str()), (Some("serial0"), Some("serial"), Some("pty")));
    assert!(p["source"]["path"].as_str().unwrap().starts_with("/dev/pts/"), "{p}");
    let t = &row(&list, &tcp.name)["serial"]["source"];
    assert_eq!((t["type"].as_str(), t["host"].as_str(), t["port"].as_u64()), (Some("tcp"), Some("127.0.0.1"), Some(u64::from(port))));
    assert!(row(&list, &none.name)["serial"].is_null());

    let table = cfg.run_ok(&["list"]);
    assert!(table.lines().next().unwrap().ends_with("SERIAL"), "{table}");
    let line = |name: &str| table.lines().find(|l| l.contains(name)).unwrap().to_owned();
    assert!(line(&pty.name).ends_with(" pty"), "{table}");
    assert!(line(&tcp.name).ends_with(&format!(" tcp 127.0.0.1:{port}")), "{table}");
    assert!(line(&none.name).ends_with(" -"), "{table}");
}
