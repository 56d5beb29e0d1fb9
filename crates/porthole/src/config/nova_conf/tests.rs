use super::*;

fn conf(text: &str) -> NovaConf {
    let mut c = NovaConf::default();
    c.parse(text, Path::new("nova.conf")).unwrap();
    c
}

/// A nova.conf excerpt as a deployment tool writes it for a controller running nova-novncproxy.
const CONTROLLER: &str = "\
[DEFAULT]
# comments and blank lines are skipped
my_ip = 10.0.0.5
transport_url = rabbit://openstack:RABBIT_PASS@controller

[database]
connection = mysql+pymysql://nova:NOVA_DBPASS@controller/nova?charset=utf8
max_pool_size = 20

[vnc]
enabled = true
novncproxy_host = $my_ip
novncproxy_port = 6081
novncproxy_base_url = https://cloud.example.com:6080/vnc_lite.html
auth_schemes = vencrypt, none
vencrypt_ca_certs = /etc/pki/nova-novncproxy/ca-cert.pem

[console]
allowed_origins = horizon.example.com,cloud.example.com

[consoleauth]
token_ttl = 900
enforce_session_timeout = True
";

#[test]
fn a_controller_nova_conf_becomes_porthole_keys() {
    let o = conf(CONTROLLER).overlay().unwrap();
    let t = toml::Value::Table(o.table);
    assert_eq!(t["proxy"]["listen"].as_str(), Some("10.0.0.5:6081"));
    assert_eq!(t["proxy"]["allowed_origins"].as_array().unwrap().len(), 2);
    assert_eq!(t["proxy"]["allowed_origins"][1].as_str(), Some("cloud.example.com"));
    assert_eq!(t["vnc"]["novncproxy_base_url"].as_str(), Some("https://cloud.example.com:6080/vnc_lite.html"));
    assert_eq!(t["vnc"]["auth_schemes"].as_array().unwrap(), &vec![toml::Value::from("vencrypt"), toml::Value::from("none")]);
    assert_eq!(t["vnc"]["vencrypt_ca_certs"].as_str(), Some("/etc/pki/nova-novncproxy/ca-cert.pem"));
    assert_eq!(t["consoleauth"]["store"].as_str(), Some("nova+mysql+pymysql://nova:NOVA_DBPASS@controller/nova?charset=utf8"));
    assert_eq!(t["consoleauth"]["pool_max_connections"].as_integer(), Some(20));
    assert_eq!(t["consoleauth"]["token_ttl"].as_integer(), Some(900));
    assert_eq!(t["consoleauth"]["enforce_session_timeout"].as_bool(), Some(true));
    assert!(o.notes.is_empty(), "{:?}", o.notes);
}

#[test]
fn novas_defaults_and_deprecated_names() {
    let o = conf("[DEFAULT]\nnovncproxy_port = 6090\nconsole_allowed_origins = a.example\nconsole_token_ttl = 30\n").overlay().unwrap();
    let t = toml::Value::Table(o.table);
    assert_eq!(t["proxy"]["listen"].as_str(), Some("0.0.0.0:6090"), "Nova binds 0.0.0.0 by default");
    assert_eq!(t["proxy"]["allowed_origins"][0].as_str(), Some("a.example"));
    assert_eq!(t["consoleauth"]["token_ttl"].as_integer(), Some(30));
    assert!(t.get("consoleauth").and_then(|c| c.get("store")).is_none());
    assert!(o.notes.iter().any(|n| n.contains("no [database] connection")), "{:?}", o.notes);
    let v6 = toml::Value::Table(conf("[DEFAULT]\nsource_is_ipv6 = yes\n").overlay().unwrap().table);
    assert_eq!(v6["proxy"]["listen"].as_str(), Some("[::]:6080"));
    let v6host = toml::Value::Table(conf("[vnc]\nnovncproxy_host = 2001:db8::5\n").overlay().unwrap().table);
    assert_eq!(v6host["proxy"]["listen"].as_str(), Some("[2001:db8::5]:6080"));
}

#[test]
fn oslo_syntax_continuations_quotes_and_substitution() {
    let c = conf(
        "[DEFAULT]\nstate_path = /var/lib/nova\nhost = ctl1\n[database]\nconnection: 'mysql+pymysql://nova:pa$$word@${DEFAULT.host}/nova'\n\
         [console]\nallowed_origins = a.example,\n  b.example\n\n[vnc]\n# indented lines after a blank line are no continuation\n\
         vencrypt_ca_certs = $state_path/ca.pem\n",
    );
    let t = toml::Value::Table(c.overlay().unwrap().table);
    assert_eq!(t["consoleauth"]["store"].as_str(), Some("nova+mysql+pymysql://nova:pa$word@ctl1/nova"));
    assert_eq!(t["proxy"]["allowed_origins"].as_array().unwrap().len(), 2);
    assert_eq!(t["vnc"]["vencrypt_ca_certs"].as_str(), Some("/var/lib/nova/ca.pem"));
    let unknown = conf("[database]\nconnection = mysql://nova:$secret@db/nova\n").overlay().unwrap_err().to_string();
    assert!(unknown.contains("$secret is not set") && unknown.contains("[database] connection"), "{unknown}");
    let looped = conf("[DEFAULT]\na = $b\nb = $a\n[vnc]\nserver_listen = $a\n").overlay().unwrap_err().to_string();
    assert!(looped.contains("too deep"), "{looped}");
}

#[test]
fn mistakes_are_one_line_each() {
    let mut c = NovaConf::default();
    let e = c.parse("connection = x\n", Path::new("/etc/nova/nova.conf")).unwrap_err().to_string();
    assert_eq!(e, "/etc/nova/nova.conf:1: an option before any [section]");
    let e = c.parse("[vnc]\nnovncproxy_port\n", Path::new("n.conf")).unwrap_err().to_string();
    assert_eq!(e, "n.conf:2: expected key = value");
    let e = conf("[vnc]\nnovncproxy_port = http\n").overlay().unwrap_err().to_string();
    assert!(e.contains("novncproxy_port"), "{e}");
    let e = conf("[consoleauth]\nenforce_session_timeout = maybe\n").overlay().unwrap_err().to_string();
    assert!(e.contains("not a boolean"), "{e}");
}

#[test]
fn tls_maps_onto_the_listener_by_novas_names() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("console.pem");
    std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let pem = pem.to_str().unwrap();
    // The key in the cert file, as Nova allows: the same file for both.
    let t = toml::Value::Table(conf(&format!("[DEFAULT]\nssl_only = true\ncert = {pem}\n")).overlay().unwrap().table);
    assert_eq!(
        (t["proxy"]["cert"].as_str(), t["proxy"]["key"].as_str(), t["proxy"]["ssl_only"].as_bool()),
        (Some(pem), Some(pem), Some(true))
    );
    let t = toml::Value::Table(conf(&format!("[DEFAULT]\ncert = {pem}\nkey = /etc/nova/key.pem\n")).overlay().unwrap().table);
    assert_eq!((t["proxy"]["key"].as_str(), t["proxy"].get("ssl_only")), (Some("/etc/nova/key.pem"), None));
    // A cert that names no file: plain HTTP, as nova-novncproxy; with ssl_only, mapped, and Porthole's check refuses it.
    let o = conf("[DEFAULT]\ncert = /nonexistent/self.pem\nweb = /usr/share/novnc\n").overlay().unwrap();
    assert!(toml::Value::Table(o.table.clone()).get("proxy").and_then(|p| p.get("cert")).is_none());
    assert!(o.notes.iter().any(|n| n.contains("without TLS")), "{:?}", o.notes);
    assert!(o.notes.iter().any(|n| n.contains("web_root")), "{:?}", o.notes);
    let t = toml::Value::Table(conf("[DEFAULT]\nssl_only = true\ncert = /nonexistent/self.pem\n").overlay().unwrap().table);
    assert_eq!(t["proxy"]["cert"].as_str(), Some("/nonexistent/self.pem"));
}

#[test]
fn porthole_toml_wins_over_nova_conf() {
    let mut doc: toml::Table =
        toml::from_str("[proxy]\nlisten = \"127.0.0.1:7000\"\n[[nodes]]\nname = \"kvm1\"\nlibvirt_uri = \"qemu:///system\"\n").unwrap();
    merge_under(&mut doc, conf(CONTROLLER).overlay().unwrap().table);
    assert_eq!(doc["proxy"]["listen"].as_str(), Some("127.0.0.1:7000"));
    assert_eq!(doc["proxy"]["allowed_origins"].as_array().unwrap().len(), 2);
    assert_eq!(doc["nodes"][0]["name"].as_str(), Some("kvm1"));
    assert!(doc["consoleauth"]["store"].as_str().unwrap().starts_with("nova+mysql"));
}
