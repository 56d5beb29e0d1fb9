//! Reaching a serial console through the proxy: which WebSocket URL a console URL means, TCP and
//! (for `wss://`) TLS to the proxy, and the upgrade, whose refusal is said in one line with the
//! proxy's HTTP status and reason.

use anyhow::{bail, Context as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::WebSocketStream;
use url::Url;

/// How long reaching the proxy and its answer to the upgrade may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A byte stream to the proxy, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The console's WebSocket.
pub type Console = WebSocketStream<Box<dyn Io>>;

/// The WebSocket URL of a console URL: a `ws://`/`wss://` URL as it is (Nova's serial URL,
/// `console url --serial`), or a console page's `http(s)://…?path=%3Ftoken%3D…` URL turned into
/// the WebSocket the page itself would open.
pub fn websocket_url(console_url: &str) -> anyhow::Result<Url> {
    let url = Url::parse(console_url).with_context(|| format!("{console_url:?} is not a URL"))?;
    let scheme = match url.scheme() {
        "ws" | "wss" => return Ok(url),
        "http" => "ws",
        "https" => "wss",
        other => bail!("{other}:// is not a console URL: give the ws:// or wss:// URL of a serial console"),
    };
    // The page reads `path` from its query, else from its fragment (`#path=…`).
    let from = |pairs: url::form_urlencoded::Parse<'_>| pairs.into_iter().find(|(k, _)| k == "path").map(|(_, v)| v.into_owned());
    let path = from(url.query_pairs()).or_else(|| url.fragment().and_then(|f| from(url::form_urlencoded::parse(f.as_bytes()))));
    let mut ws = url.clone();
    ws.set_fragment(None);
    match path {
        Some(path) => {
            ws.set_query(None);
            ws = ws.join(&format!("/{}", path.trim_start_matches('/'))).context("the console URL's path parameter")?;
        }
        None if url.query_pairs().any(|(k, _)| k == "token") => {}
        None => bail!("{console_url:?} has no console token (no path=… or token=… in it)"),
    }
    ws.set_scheme(scheme).map_err(|()| anyhow::anyhow!("cannot make a WebSocket URL of {console_url:?}"))?;
    Ok(ws)
}

/// Opens the console's WebSocket (subprotocol `binary`, as the terminal page asks) within
/// [`CONNECT_TIMEOUT`]; `ca` is the PEM file of a private CA for `wss://`, else the system's bundle.
pub async fn connect(url: &Url, ca: Option<&Path>) -> anyhow::Result<Console> {
    let host = url.host_str().context("the console URL has no host")?.trim_matches(['[', ']']).to_owned();
    let port = url.port_or_known_default().context("the console URL has no port")?;
    let tls = url.scheme() == "wss";
    let tls_config = if tls { Some(client_config(ca)?) } else { None };
    let mut request = url.as_str().into_client_request().context("the console URL")?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
    let open = async {
        let tcp = TcpStream::connect((host.as_str(), port)).await.with_context(|| format!("cannot reach the proxy at {host}:{port}"))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match tls_config {
            Some(config) => {
                let name = ServerName::try_from(host.clone()).with_context(|| format!("{host:?} is not a TLS server name"))?;
                let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| tls_error(&host, e))?;
                Box::new(stream)
            }
            None => Box::new(tcp),
        };
        tokio_tungstenite::client_async(request, io).await.map_err(refused)
    };
    let (ws, _response) = tokio::time::timeout(CONNECT_TIMEOUT, open)
        .await
        .map_err(|_| anyhow::anyhow!("the proxy at {host}:{port} did not answer within {} s", CONNECT_TIMEOUT.as_secs()))??;
    Ok(ws)
}

/// The TLS client configuration: the private CA of `ca`, or the system's bundle.
fn client_config(ca: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(path).and_then(|it| it.collect()).with_context(|| format!("--ca {}", path.display()))?;
            if certs.is_empty() {
                bail!("--ca {}: no certificate in it (expected PEM)", path.display());
            }
            for cert in certs {
                roots.add(cert).with_context(|| format!("--ca {}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                bail!("no CA certificates found on this system (install ca-certificates, or give the proxy's CA with --ca FILE)");
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_error(host: &str, e: std::io::Error) -> anyhow::Error {
    let hint = if e.to_string().contains("UnknownIssuer") { " (a private CA? give its certificate with --ca FILE)" } else { "" };
    anyhow::anyhow!("TLS with the proxy at {host} failed: {e}{hint}")
}

/// The upgrade's failure in one line: the proxy's status and its reason (the response body).
fn refused(e: tokio_tungstenite::tungstenite::Error) -> anyhow::Error {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => {
            let status = response.status();
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let reason = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            let status = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
            match reason {
                "" => anyhow::anyhow!("the proxy refused the console: {}", status.trim_end()),
                reason => anyhow::anyhow!("the proxy refused the console: {}: {reason}", status.trim_end()),
            }
        }
        other => anyhow::anyhow!("the WebSocket upgrade failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_urls_become_websocket_urls() {
        let ws = |u: &str| websocket_url(u).map(|u| u.to_string()).map_err(|e| e.to_string());
        assert_eq!(ws("ws://127.0.0.1:6080/?token=abc").unwrap(), "ws://127.0.0.1:6080/?token=abc");
        assert_eq!(ws("wss://proxy.example:443/?token=abc").unwrap(), "wss://proxy.example/?token=abc");
        assert_eq!(ws("http://127.0.0.1:6080/serial.html?path=%3Ftoken%3Dabc").unwrap(), "ws://127.0.0.1:6080/?token=abc");
        assert_eq!(
            ws("https://p.example/serial.html?path=websockify%3Ftoken%3Dabc&title=x").unwrap(),
            "wss://p.example/websockify?token=abc"
        );
        assert_eq!(ws("http://[::1]:6080/serial.html#path=%3Ftoken%3Dabc").unwrap(), "ws://[::1]:6080/?token=abc");
        assert_eq!(ws("http://127.0.0.1:6080/?token=abc").unwrap(), "ws://127.0.0.1:6080/?token=abc");
        assert!(ws("http://127.0.0.1:6080/serial.html").unwrap_err().contains("no console token"));
        assert!(ws("ftp://x/").unwrap_err().contains("ftp:// is not a console URL"));
        assert!(ws("web01").unwrap_err().contains("not a URL"));
    }
}
