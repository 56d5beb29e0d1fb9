//! The CLI with Nova's database as the token store: minting paths say in one line that Nova mints,
//! and `serve --nova-config` reports nova.conf mistakes in one line. (Tokens minted by the real
//! Nova, served through `porthole serve` to Chromium, are in tests/e2e/nova.test.mjs.)

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::Duration;

const PORTHOLE: &str = env!("CARGO_BIN_EXE_porthole");

fn run(args: &[&str]) -> Output {
    let mut child =
        Command::new(PORTHOLE).args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    for _ in 0..200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("porthole {args:?} did not exit within 10 s");
}

/// Fails unless the command failed with exactly one error line (`porthole: …`; log lines may
/// come before it) containing every `needle`.
fn one_line_error(out: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("porthole: ")).collect();
    assert_eq!(errors.len(), 1, "not one error line: {stderr}");
    let err = errors[0].to_owned();
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
    err
}

#[test]
fn console_url_on_novas_database_says_nova_mints() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("porthole.toml");
    std::fs::write(&config, "[consoleauth]\nstore = \"nova+mysql+pymysql://nova:s3cret@127.0.0.1:1/nova\"\n").unwrap();
    let out = run(&["console", "url", "-c", config.to_str().unwrap(), "web01"]);
    let err = one_line_error(&out, &["Nova mints", "openstack console url show --novnc web01"]);
    assert!(!err.contains("s3cret"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn sessions_on_novas_database_point_to_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("porthole.toml");
    std::fs::write(&config, "[consoleauth]\nstore = \"nova+mysql+pymysql://nova:s3cret@127.0.0.1:1/nova\"\n").unwrap();
    let c = config.to_str().unwrap();
    for args in [vec!["sessions", "-c", c], vec!["sessions", "kill", "-c", c, "--instance", "web01"]] {
        let out = run(&args);
        let err = one_line_error(&out, &["Nova's database", "/v2.1/porthole/sessions"]);
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[test]
fn serve_reports_nova_conf_mistakes_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let nova = dir.path().join("nova.conf");
    std::fs::write(&nova, "[vnc]\nnovncproxy_port = sixty-eighty\n").unwrap();
    one_line_error(&run(&["serve", "--nova-config", nova.to_str().unwrap()]), &["novncproxy_port", "nova.conf"]);
    // Caught at load, among the configuration's problems (listed one a line).
    std::fs::write(&nova, "[database]\nconnection = sqlite:////var/lib/nova/nova.sqlite\n").unwrap();
    let out = run(&["serve", "--nova-config", nova.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.starts_with("porthole: nova.conf "), "{err}");
    assert!(err.contains("[consoleauth] store: unsupported token store URL") && err.contains("MySQL/MariaDB or PostgreSQL"), "{err}");
    one_line_error(&run(&["serve", "--nova-config", "/nonexistent/nova.conf"]), &["/nonexistent/nova.conf"]);
}

#[test]
fn serve_on_an_unreachable_nova_database_fails_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let nova = dir.path().join("nova.conf");
    let text = format!(
        "[DEFAULT]\nmy_ip = 127.0.0.1\n[vnc]\nnovncproxy_host = $my_ip\nnovncproxy_port = 0\n\
         [database]\nconnection = mysql+pymysql://nova:s3cret@127.0.0.1:{port}/nova?charset=utf8\n"
    );
    std::fs::write(&nova, text).unwrap();
    let config = dir.path().join("porthole.toml");
    std::fs::write(&config, "[consoleauth]\nstore_connect_timeout = 2\n").unwrap();
    let out = run(&["serve", "-c", config.to_str().unwrap(), "--nova-config", nova.to_str().unwrap()]);
    let err = one_line_error(&out, &["token store unavailable", &format!("127.0.0.1:{port}")]);
    assert!(!err.contains("s3cret"), "{err}");
}

/// `porthole serve --nova-config` on Nova's database (scripts/nova-up.sh): it says what it checks,
/// and SIGHUP re-reads nova.conf with porthole.toml.
#[test]
#[ignore = "needs MariaDB"]
fn serve_on_novas_database_says_what_it_checks_and_sighup_rereads_nova_conf() {
    use std::io::BufRead as _;
    use std::sync::{Arc, Mutex};
    let url = std::env::var("PORTHOLE_TEST_NOVA_MYSQL_URL")
        .expect("PORTHOLE_TEST_NOVA_MYSQL_URL is not set: `eval \"$(scripts/nova-up.sh)\"` sets it");
    let connection = url.strip_prefix("nova+").unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let nova = dir.path().join("nova.conf");
    let conf = |origins: &str| {
        format!("[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n[console]\nallowed_origins = {origins}\n[database]\nconnection = {connection}\n")
    };
    std::fs::write(&nova, conf("a.example")).unwrap();
    let config = dir.path().join("porthole.toml");
    std::fs::write(&config, "[log]\nformat = \"text\"\n").unwrap();
    let mut child = Command::new(PORTHOLE)
        .args(["serve", "-c", config.to_str().unwrap(), "--nova-config", nova.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (sink, stderr) = (log.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || std::io::BufReader::new(stderr).lines().map_while(Result::ok).for_each(|l| sink.lock().unwrap().push(l)));
    let wait_for = |what: &str| {
        for _ in 0..300 {
            if log.lock().unwrap().iter().any(|l| l.contains(what)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        panic!("{what:?} not logged within 15 s:\n{}", log.lock().unwrap().join("\n"));
    };
    wait_for("serving the console tokens Nova mints");
    wait_for("no [[nodes]]: Nova's tokens are accepted on the token alone");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "listening where nova.conf says");
    std::fs::write(&nova, conf("a.example,b.example")).unwrap();
    assert!(Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
    wait_for("configuration reloaded");
    let reloaded = log.lock().unwrap().iter().find(|l| l.contains("configuration reloaded")).cloned().unwrap();
    assert!(reloaded.contains("allowed_origins"), "{reloaded}");
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}
