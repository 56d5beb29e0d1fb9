//! The RFB security proxy against real VNC servers, with security None on the browser side:
//! QEMU with a VNC password (libvirt `passwd`, and `password-secret`), with x509 TLS (X509None), with
//! x509 and a password (X509Vnc, client certificate), TigerVNC Xvnc with VncAuth and with X509None.
//! Wrong passwords and CAs, and a silent server, give the browser a failure reason, not a hang.
//! The tests with a real server are `#[ignore = "needs QEMU"]` (Xvnc, openssl): run them with
//! `cargo nextest run -p porthole --test security --run-ignored all`. Each server listens on a port
//! it was seen to own (`listening.rs`), so a test never talks to another test's server.

#![allow(clippy::unwrap_used)]

#[path = "../libvirt/harness.rs"]
mod harness;
#[path = "../libvirt/listening.rs"]
mod listening;
mod servers;

use harness::{framebuffer, Config};
use porthole_testkit::{ws_connect, RfbClient, WsIo};
use servers::{make_pki, qemu, reissue_server_cert_as_v1, vnc_passwd_file, xvnc};
use std::path::Path;
use std::time::Duration;

fn config(port: u16, password: Option<&str>, vnc: &str) -> Config {
    let pw = password.map(|p| format!("password = \"{p}\"\n")).unwrap_or_default();
    let extra = format!("[vnc]\n{vnc}\n[[targets]]\nname = \"vnc\"\nhost = \"127.0.0.1\"\nport = {port}\n{pw}");
    Config::with_proxy("handshake_timeout = 3", &extra)
}

/// The `[vnc]` keys for VeNCrypt with this PKI directory's CA (and client certificate).
fn tls_vnc(schemes: &str, dir: &Path, client_cert: bool) -> String {
    let mut s = format!("auth_schemes = {schemes}\nvencrypt_ca_certs = \"{}\"\n", dir.join("ca-cert.pem").display());
    if client_cert {
        s.push_str(&format!(
            "vencrypt_client_cert = \"{}\"\nvencrypt_client_key = \"{}\"\n",
            dir.join("client-cert.pem").display(),
            dir.join("client-key.pem").display()
        ));
    }
    s
}

/// Opens the target's console through Porthole with security None; returns the client or the
/// handshake error the browser would see.
async fn open(cfg: &Config) -> Result<RfbClient<WsIo>, String> {
    let server = cfg.serve();
    let url = cfg.run_ok(&["console", "url", "vnc"]);
    let (ws, _) = ws_connect(&server.ws_url(&url), &[("sec-websocket-protocol", "binary")]).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), RfbClient::handshake(WsIo::new(ws))).await;
    drop(server);
    match result {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the handshake hung".into()),
    }
}

async fn assert_screen(cfg: &Config) {
    let server = cfg.serve();
    let url = cfg.run_ok(&["console", "url", "vnc"]);
    let (ws, _) = ws_connect(&server.ws_url(&url), &[]).await.unwrap();
    let mut c = RfbClient::handshake(WsIo::new(ws)).await.unwrap();
    let fb = framebuffer(&mut c).await;
    assert_eq!(fb.len(), usize::from(c.server_init.width) * usize::from(c.server_init.height) * 4);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs QEMU"]
async fn qemu_password_secret() {
    let q = qemu(&["secret,id=s0,data=s3cretpw".into()], ",password-secret=s0");
    assert_screen(&config(q.port, Some("s3cretpw"), "auth_schemes = [\"vnc\"]")).await;
    let err = open(&config(q.port, Some("wrong-pw"), "auth_schemes = [\"vnc\"]")).await.err().unwrap();
    assert!(err.contains("Authentication to the VNC server failed"), "{err}");
    let err = open(&config(q.port, None, "auth_schemes = [\"vnc\"]")).await.err().unwrap();
    assert!(err.contains("Unable to negotiate security"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs QEMU and openssl"]
async fn qemu_x509_none_and_a_wrong_ca() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path(), "good");
    let q = qemu(&[format!("tls-creds-x509,id=t0,dir={},endpoint=server,verify-peer=off", pki.path().display())], ",tls-creds=t0");
    assert_screen(&config(q.port, None, &tls_vnc("[\"vencrypt\"]", pki.path(), false))).await;
    let other = tempfile::tempdir().unwrap();
    make_pki(other.path(), "other");
    let err = open(&config(q.port, None, &tls_vnc("[\"vencrypt\"]", other.path(), false))).await.err().unwrap();
    assert!(err.contains("Unable to negotiate security"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs QEMU and openssl"]
async fn qemu_x509_vnc_with_a_client_certificate() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path(), "peer");
    let q = qemu(
        &["secret,id=s0,data=x509pw".into(), format!("tls-creds-x509,id=t0,dir={},endpoint=server,verify-peer=on", pki.path().display())],
        ",tls-creds=t0,password-secret=s0",
    );
    assert_screen(&config(q.port, Some("x509pw"), &tls_vnc("[\"vencrypt\"]", pki.path(), true))).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvnc, vncpasswd and openssl"]
async fn xvnc_vncauth_and_x509none() {
    let dir = tempfile::tempdir().unwrap();
    let passwd = vnc_passwd_file(dir.path(), "xvncpw");
    let x = xvnc(&["-SecurityTypes", "VncAuth", "-rfbauth", passwd.to_str().unwrap()]);
    assert_screen(&config(x.port, Some("xvncpw"), "auth_schemes = [\"vnc\"]")).await;
    let err = open(&config(x.port, Some("nope"), "auth_schemes = [\"vnc\"]")).await.err().unwrap();
    assert!(err.contains("Authentication to the VNC server failed"), "{err}");
    drop(x);

    make_pki(dir.path(), "xvnc");
    let (cert, key) = (dir.path().join("server-cert.pem"), dir.path().join("server-key.pem"));
    let x = xvnc(&["-SecurityTypes", "X509None", "-X509Cert", cert.to_str().unwrap(), "-X509Key", key.to_str().unwrap()]);
    assert_screen(&config(x.port, None, &tls_vnc("[\"vencrypt\", \"none\"]", dir.path(), false))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_hits_the_handshake_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let err = open(&config(port, Some("pw"), "auth_schemes = [\"vnc\"]")).await.err().unwrap();
    assert!(err.contains("Unable to negotiate security"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// Issue 12 item 9: a VeNCrypt server whose certificate is X.509 v1 is refused (rustls takes only
/// v3) and the log says so in words, with how to reissue it, instead of `UnsupportedCertVersion`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs QEMU and openssl"]
async fn qemu_with_an_x509_v1_certificate_is_explained_in_the_log() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path(), "v1");
    reissue_server_cert_as_v1(pki.path());
    let q = qemu(&[format!("tls-creds-x509,id=t0,dir={},endpoint=server,verify-peer=off", pki.path().display())], ",tls-creds=t0");
    let cfg = config(q.port, None, &tls_vnc("[\"vencrypt\"]", pki.path(), false));
    let server = cfg.serve();
    let url = cfg.run_ok(&["console", "url", "vnc"]);
    let (ws, _) = ws_connect(&server.ws_url(&url), &[]).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), RfbClient::handshake(WsIo::new(ws))).await.unwrap();
    let err = result.err().unwrap().to_string();
    assert!(err.contains("Unable to negotiate security"), "{err}");
    let mut text = String::new();
    for _ in 0..50 {
        text = server.log();
        if text.contains("security handshake failed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = text.lines().find(|l| l.contains("security handshake failed")).unwrap_or_else(|| panic!("no failure logged: {text}"));
    assert!(line.contains("certificate is X.509 version 1") && line.contains("reissue it as v3"), "{line}");
    assert!(!line.contains("UnsupportedCertVersion"), "{line}");
}
