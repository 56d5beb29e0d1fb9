//! The WebSocket opening handshake (RFC 6455 §4.2), server side: checks the request, answers
//! 101 with the accept key and the `binary` subprotocol, and hands the TCP connection over.

use super::conn::WsConn;
use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sha1::{Digest as _, Sha1};
use std::future::Future;
use tokio::net::TcpStream;

/// Why an upgrade request is refused, with the status to answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 400, or 426 for a version other than 13.
    pub status: StatusCode,
    /// One line for the body.
    pub reason: &'static str,
}

/// A request that can be upgraded: its key and whether the browser offered `binary`.
#[derive(Debug)]
pub struct Accepted {
    accept: String,
    binary: bool,
}

/// Checks an upgrade request's method and headers.
pub fn check(method: &Method, headers: &HeaderMap) -> Result<Accepted, Refusal> {
    let bad = |reason| Refusal { status: StatusCode::BAD_REQUEST, reason };
    if method != Method::GET {
        return Err(bad("WebSocket upgrades use GET"));
    }
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    if !has_token(CONNECTION, "upgrade") || !has_token(UPGRADE, "websocket") {
        return Err(bad("Connection: Upgrade and Upgrade: websocket are required"));
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(Refusal { status: StatusCode::UPGRADE_REQUIRED, reason: "Only WebSocket version 13 is supported" });
    }
    let key = headers.get(SEC_WEBSOCKET_KEY).map(HeaderValue::as_bytes).unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.trim_ascii());
    if decoded.map(|k| k.len()) != Ok(16) {
        return Err(bad("Sec-WebSocket-Key must be 16 bytes in base64"));
    }
    let binary = has_token(SEC_WEBSOCKET_PROTOCOL, "binary");
    Ok(Accepted { accept: accept_key(key.trim_ascii()), binary })
}

/// `Sec-WebSocket-Accept`: base64(SHA-1(key + the RFC's GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Answers 101 and runs `session` on the connection once hyper hands it over. The connection
/// must be the plain TCP one `app::serve` accepted.
pub fn upgrade<F, Fut>(accepted: Accepted, on_upgrade: OnUpgrade, session: F) -> Response
where
    F: FnOnce(WsConn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(cause = %e, "WebSocket upgrade failed");
                return;
            }
        };
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => session(WsConn::new(parts.io.into_inner(), parts.read_buf)).await,
            Err(_) => tracing::error!("WebSocket upgrade on a connection that is not plain TCP; closing it"),
        }
    });
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accepted.accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    if accepted.binary {
        h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("binary"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    const GOOD: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn the_rfc_example_key() {
        let a = check(&Method::GET, &headers(&GOOD)).unwrap();
        assert_eq!(a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(!a.binary);
        let mut with_proto = GOOD.to_vec();
        with_proto.push(("sec-websocket-protocol", "base64, binary"));
        assert!(check(&Method::GET, &headers(&with_proto)).unwrap().binary);
    }

    #[test]
    fn bad_requests() {
        let status = |pairs: &[(&'static str, &'static str)], m: Method| check(&m, &headers(pairs)).unwrap_err().status;
        assert_eq!(status(&GOOD, Method::POST), StatusCode::BAD_REQUEST);
        assert_eq!(status(&GOOD[1..], Method::GET), StatusCode::BAD_REQUEST);
        let mut v8 = GOOD.to_vec();
        v8[2] = ("sec-websocket-version", "8");
        assert_eq!(status(&v8, Method::GET), StatusCode::UPGRADE_REQUIRED);
        let mut short_key = GOOD.to_vec();
        short_key[3] = ("sec-websocket-key", "c2hvcnQ=");
        assert_eq!(status(&short_key, Method::GET), StatusCode::BAD_REQUEST);
    }
}
