//! Runs the real `porthole serve` binary with a configuration file in a temporary directory, and
//! speaks to it as a browser would: plain or TLS, the WebSocket upgrade by hand, frames read one
//! at a time.

#![allow(unreachable_pub)]
#![allow(dead_code)]

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// A running `porthole serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

/// A free loopback port (bound, then released: the server binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Server {
    /// Writes `config` (with `listen` set to a free port and a store in the temp dir, unless the
    /// text sets them) and starts the server; waits until it answers.
    pub fn start(config: &str) -> Server {
        let dir = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        let store = format!("sqlite://{}", dir.path().join("porthole.db").display());
        let text =
            config.replace("@PORT@", &port.to_string()).replace("@STORE@", &store).replace("@DIR@", &dir.path().display().to_string());
        let path = dir.path().join("porthole.toml");
        std::fs::write(&path, text).expect("writing the config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_porthole"))
            .args(["serve", "-c"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting porthole serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Server { child, addr, dir, config: path, log };
        server.wait_until(|s| std::net::TcpStream::connect(s.addr).is_ok(), "the listener");
        server
    }

    /// Polls `cond` for up to 10 s; fails with the server's log.
    pub fn wait_until(&self, cond: impl Fn(&Server) -> bool, what: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if cond(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what} not reached within 10 s; server log:\n{}", self.log().join("\n"));
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Sends a signal (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().expect("kill").success();
        assert!(ok, "kill -{name} failed");
    }

    /// Rewrites the configuration file (placeholders as in [`Server::start`]).
    pub fn rewrite(&self, config: &str) {
        let store = format!("sqlite://{}", self.dir.path().join("porthole.db").display());
        let text = config
            .replace("@PORT@", &self.addr.port().to_string())
            .replace("@STORE@", &store)
            .replace("@DIR@", &self.dir.path().display().to_string());
        std::fs::write(&self.config, text).expect("rewriting the config");
    }

    /// `porthole console url -c CONFIG NAME`: the token of the URL it prints.
    pub fn mint(&self, name: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_porthole"))
            .args(["console", "url", "-c"])
            .arg(&self.config)
            .arg(name)
            .output()
            .expect("porthole console url");
        assert!(out.status.success(), "console url {name}: {}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        url.rsplit("%3Ftoken%3D").next().expect("a token in the URL").to_owned()
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes a CA and a server certificate for 127.0.0.1 with openssl in `dir` (files `NAME-ca.pem`,
/// `NAME-cert.pem`, `NAME-key.pem`).
pub fn certificate(dir: &Path, name: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("the openssl command (Debian: openssl)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let (ca_key, ca, key, csr, cert, ext) = (
        format!("{name}-ca-key.pem"),
        format!("{name}-ca.pem"),
        format!("{name}-key.pem"),
        format!("{name}.csr"),
        format!("{name}-cert.pem"),
        format!("{name}.ext"),
    );
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} test CA"),
    ]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
    std::fs::write(dir.join(&ext), "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&["x509", "-req", "-in", &csr, "-CA", &ca, "-CAkey", &ca_key, "-CAcreateserial", "-days", "2", "-out", &cert, "-extfile", &ext]);
}

/// A TLS client that trusts only `ca` (PEM).
pub fn tls_client(ca: &Path) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Sends the WebSocket upgrade for `token` and reads the answer's status line: 101 or the refusal.
pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, addr: SocketAddr, token: &str) -> u16 {
    let req = format!(
        "GET /?token={token} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if s.read(&mut b).await.unwrap_or(0) == 0 {
            break;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A masked client frame.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 1, 2, 3, 4];
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ [1u8, 2, 3, 4][i % 4]));
    f
}

/// Reads frames until a close: its code and reason; `None` at end of stream. Data frames are
/// collected into `data`.
pub async fn read_close<S: AsyncRead + Unpin>(s: &mut S, data: &mut Vec<u8>) -> Option<(u16, String)> {
    loop {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).await.ok()?;
        let len = match h[1] & 0x7f {
            126 => usize::from(s.read_u16().await.ok()?),
            127 => usize::try_from(s.read_u64().await.ok()?).ok()?,
            n => usize::from(n),
        };
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).await.ok()?;
        if h[0] & 0x0f == 8 {
            let code = u16::from_be_bytes([*p.first()?, *p.get(1)?]);
            return Some((code, String::from_utf8_lossy(&p[2..]).into_owned()));
        }
        data.extend_from_slice(&p);
    }
}
