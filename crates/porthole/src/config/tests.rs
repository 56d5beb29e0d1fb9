//! Config parsing and validation.

use super::*;

#[test]
fn empty_file_gives_defaults() {
    let c = Config::from_toml_str("").unwrap();
    assert_eq!(c.proxy.listen, "0.0.0.0:6080");
    assert_eq!(c.consoleauth.token_ttl, 600);
    assert_eq!(c.consoleauth.store, store_path::default_store_url());
    assert!(c.consoleauth.store.starts_with("sqlite:///"), "absolute: {}", c.consoleauth.store);
    assert_eq!(c.vnc.auth_schemes, ["none"]);
    assert!(c.targets.is_empty());
    assert_eq!(Config::no_file().proxy.listen, "127.0.0.1:6080");
}

#[test]
fn design_example_parses() {
    let c = Config::from_toml_str(
        r#"
        [proxy]
        listen = "127.0.0.1:7000"
        allowed_origins = ["console.example.com"]
        [vnc]
        novncproxy_base_url = "https://console.example.com/vnc_lite.html"
        server_listen = "127.0.0.1"
        auth_schemes = ["none"]
        [consoleauth]
        token_ttl = 60
        store = "sqlite:///var/lib/porthole/tokens.db"
        [[targets]]
        name = "lab-switch"
        host = "127.0.0.1"
        port = 5901
        "#,
    )
    .unwrap();
    assert_eq!(c.listen().unwrap().port(), 7000);
    assert_eq!(c.targets[0].name, "lab-switch");
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let e = Config::from_toml_str("[proxy]\nlisten_port = 1\n").unwrap_err().to_string();
    assert!(e.contains("listen_port"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn every_problem_is_reported_one_per_line() {
    let e = Config::from_toml_str(
        r#"
        [proxy]
        listen = "nowhere"
        allowed_origins = ["https://x.example"]
        [vnc]
        novncproxy_base_url = "not a url"
        auth_schemes = ["kerberos"]
        [consoleauth]
        token_ttl = 0
        store = "mysql://x"
        [[targets]]
        name = "a"
        host = ""
        port = 0
        [[targets]]
        name = "a"
        host = "h"
        port = 1
        "#,
    )
    .unwrap_err();
    let msg = format!("{e:#}");
    for needle in
        ["listen", "allowed_origins", "novncproxy_base_url", "kerberos", "token_ttl", "store", "host must", "port must", "same name"]
    {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
    assert!(msg.starts_with("9 problem(s)"), "{msg}");
}

#[test]
fn wrong_types_name_the_key() {
    let e = Config::from_toml_str("[[targets]]\nname = \"a\"\nhost = \"h\"\nport = 70000\n").unwrap_err().to_string();
    assert!(e.contains("port") || e.contains("70000"), "{e}");
}

#[test]
fn target_name_may_not_be_a_uuid() {
    let e = Config::from_toml_str("[[targets]]\nname = \"8d1b6a50-3c2e-4b8f-9a0e-5f1c7d2e4a61\"\nhost = \"h\"\nport = 1\n");
    assert!(e.unwrap_err().to_string().contains("UUID"));
}

#[test]
fn store_pool_keys_reach_the_store_options() {
    let c = Config::from_toml_str(
        r#"
        [consoleauth]
        store = "postgres://porthole@db.example.com/porthole"
        pool_max_connections = 20
        pool_min_connections = 2
        pool_acquire_timeout = 3
        pool_idle_timeout = 0
        pool_max_lifetime = 900
        store_connect_timeout = 4
        sqlite_busy_timeout = 60
        "#,
    )
    .unwrap();
    let o = c.consoleauth.store_options();
    let secs = std::time::Duration::from_secs;
    assert_eq!((o.max_connections, o.min_connections, o.acquire_timeout), (20, 2, secs(3)));
    assert_eq!((o.idle_timeout, o.max_lifetime), (None, Some(secs(900))));
    assert_eq!((o.connect_timeout, o.busy_timeout), (secs(4), secs(60)));
    assert_eq!(Config::from_toml_str("").unwrap().consoleauth.store_options(), porthole_tokens::StoreOptions::default());
}

#[test]
fn impossible_pool_sizes_are_reported() {
    let e =
        Config::from_toml_str("[consoleauth]\npool_max_connections = 0\npool_min_connections = 1\npool_acquire_timeout = 0\n").unwrap_err();
    let msg = format!("{e:#}");
    for needle in ["pool_max_connections must", "pool_min_connections (1)", "pool_acquire_timeout"] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
}

#[test]
fn load_catches_a_misspelt_libvirt_driver() {
    let e = Config::from_toml_str("[[nodes]]\nname = \"kvm1\"\nlibvirt_uri = \"qmeu:///system\"\n").unwrap_err().to_string();
    assert!(e.contains("[[nodes]] #1 (\"kvm1\"): libvirt_uri \"qmeu:///system\": unknown libvirt driver \"qmeu\""), "{e}");
    assert!(e.contains("did you mean \"qemu\""), "{e}");
}

#[test]
fn load_says_to_write_double_brackets() {
    let e = Config::from_toml_str("[nodes]\nname = \"kvm1\"\nlibvirt_uri = \"qemu:///system\"\n").unwrap_err().to_string();
    assert_eq!(e, "[nodes] is a single table, but nodes is a list: write [[nodes]] above each node");
    let e = Config::from_toml_str("[targets]\nname = \"a\"\nhost = \"h\"\nport = 1\n").unwrap_err().to_string();
    assert!(e.contains("write [[targets]]"), "{e}");
    let e = Config::from_toml_str("[api.keys]\nname = \"ops\"\nsecret = \"0123456789abcdef\"\nrole = \"admin\"\n").unwrap_err().to_string();
    assert!(e.contains("write [[api.keys]]"), "{e}");
}

#[test]
fn load_refuses_two_api_keys_with_one_secret() {
    let text = "[[api.keys]]\nname = \"ops\"\nsecret = \"0123456789abcdef\"\nrole = \"admin\"\n\
                [[api.keys]]\nname = \"dev\"\nsecret = \"0123456789abcdef\"\nrole = \"member\"\n";
    let e = Config::from_toml_str(text).unwrap_err().to_string();
    assert!(e.contains("[[api.keys]] #2 (\"dev\"): same secret as #1 (\"ops\")"), "{e}");
    assert!(!e.contains("0123456789abcdef"), "the secret is never printed: {e}");
    assert!(e.starts_with("1 problem(s)"), "{e}");
}
