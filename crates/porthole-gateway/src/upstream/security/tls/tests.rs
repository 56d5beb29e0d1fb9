//! The VeNCrypt TLS client against a rustls server on loopback, with certificates made by the
//! openssl command line: a version 1 server certificate (what `openssl x509 -req` makes without
//! `-extfile`) is refused with words saying what to do, a version 3 one is accepted.
//! `#[ignore = "needs openssl"]`: run with `--run-ignored all`.

use super::*;
use std::path::Path;
use std::process::Command;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("the openssl command (Debian: openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA (v3) and a server certificate signed by it: v1 without `ext`, v3 with it.
fn pki(dir: &Path, ext: Option<&str>) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca-cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ph test CA",
        ],
    );
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=vnc-server"]);
    let mut sign =
        vec!["x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-set_serial", "7", "-days", "2"];
    sign.extend(["-out", "server-cert.pem"]);
    if let Some(ext) = ext {
        std::fs::write(dir.join("server.ext"), ext).unwrap();
        sign.extend(["-extfile", "server.ext"]);
    }
    openssl(dir, &sign);
}

fn version(dir: &Path) -> String {
    let out = Command::new("openssl").args(["x509", "-noout", "-text", "-in", "server-cert.pem"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.trim_start().starts_with("Version:")).unwrap_or_default().trim().to_owned()
}

/// Serves the certificate as is: `with_cert_resolver`, because building a server config with
/// `with_single_cert` parses the certificate and would refuse a v1 one before any client could.
#[derive(Debug)]
struct AsIs(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for AsIs {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A TLS server on 127.0.0.1:0 that answers one connection with "ok".
async fn tls_server(dir: &Path) -> std::net::SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("server-cert.pem")).unwrap().map(Result::unwrap).collect();
    let key = provider.key_provider.load_private_key(PrivateKeyDer::from_pem_file(dir.join("server-key.pem")).unwrap()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(AsIs(Arc::new(rustls::sign::CertifiedKey::new(chain, key)))));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        if let Ok(mut tls) = acceptor.accept(tcp).await {
            let _ = tls.write_all(b"ok").await;
            let _ = tls.shutdown().await;
        }
    });
    addr
}

async fn connect_to(dir: &Path) -> std::io::Result<tokio_rustls::client::TlsStream<VncStream>> {
    let addr = tls_server(dir).await;
    let cfg = tls_config(&TlsSettings { ca_certs: dir.join("ca-cert.pem"), ..TlsSettings::default() }).unwrap();
    let plain = VncStream::Tcp(tokio::net::TcpStream::connect(addr).await?);
    connect(cfg, "127.0.0.1", plain).await
}

#[tokio::test]
#[ignore = "needs openssl"]
async fn a_version_1_server_certificate_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path(), None);
    assert_eq!(version(dir.path()), "Version: 1 (0x0)", "openssl x509 -req without -extfile makes v1 here");
    let Err(err) = connect_to(dir.path()).await else { panic!("a v1 certificate was accepted") };
    let text = err.to_string();
    assert!(text.starts_with("the VNC server's certificate is X.509 version 1"), "{text}");
    assert!(text.contains("reissue it as v3") && text.contains("-extfile server.ext"), "{text}");
    assert!(!text.contains('\n') && !text.contains("UnsupportedCertVersion"), "{text}");
}

#[tokio::test]
#[ignore = "needs openssl"]
async fn a_version_3_server_certificate_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path(), Some("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:vnc.test\n"));
    assert_eq!(version(dir.path()), "Version: 3 (0x2)");
    let mut tls = connect_to(dir.path()).await.unwrap();
    let mut got = Vec::new();
    tls.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"ok");
}
