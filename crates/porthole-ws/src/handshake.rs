//! The WebSocket opening handshake (RFC 6455 §4.2), server side: checks an upgrade request and
//! builds the `101 Switching Protocols` answer with the accept key and the `binary` subprotocol.
//! The HTTP server that received the request hands the connection over; this module does no I/O.

use base64::Engine as _;
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Version};
use sha1::{Digest as _, Sha1};

/// Why an upgrade request is refused, with the status to answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 400, or 426 for a version other than 13 (answer it with `Sec-WebSocket-Version: 13`).
    pub status: StatusCode,
    /// One line for the body.
    pub reason: &'static str,
}

/// A request that can be upgraded: its accept key and whether the browser offered `binary`.
#[derive(Debug)]
pub struct Accepted {
    accept: String,
    binary: bool,
}

/// Whether a request asks for a WebSocket (`Upgrade: websocket`), well-formed or not.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, UPGRADE, "websocket")
}

fn has_token(headers: &HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
}

/// Checks an upgrade request's method, HTTP version and headers.
pub fn check(method: &Method, version: Version, headers: &HeaderMap) -> Result<Accepted, Refusal> {
    let bad = |reason| Refusal { status: StatusCode::BAD_REQUEST, reason };
    if method != Method::GET {
        return Err(bad("WebSocket upgrades use GET"));
    }
    if version < Version::HTTP_11 {
        return Err(bad("WebSocket upgrades need HTTP/1.1"));
    }
    if !has_token(headers, CONNECTION, "upgrade") || !has_token(headers, UPGRADE, "websocket") {
        return Err(bad("Connection: Upgrade and Upgrade: websocket are required"));
    }
    let mut versions = headers.get_all(SEC_WEBSOCKET_VERSION).iter();
    if versions.next().map(HeaderValue::as_bytes) != Some(b"13") || versions.next().is_some() {
        return Err(Refusal { status: StatusCode::UPGRADE_REQUIRED, reason: "Only WebSocket version 13 is supported" });
    }
    let mut keys = headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(bad("exactly one Sec-WebSocket-Key is required"));
    };
    let key = key.as_bytes().trim_ascii();
    if base64::engine::general_purpose::STANDARD.decode(key).map(|k| k.len()) != Ok(16) {
        return Err(bad("Sec-WebSocket-Key must be 16 bytes in base64"));
    }
    let binary = has_token(headers, SEC_WEBSOCKET_PROTOCOL, "binary");
    Ok(Accepted { accept: accept_key(key), binary })
}

/// `Sec-WebSocket-Accept`: base64(SHA-1(key + the RFC's GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

impl Accepted {
    /// The `101 Switching Protocols` answer (with `binary` when the browser offered it).
    pub fn switching_protocols(&self) -> Response<()> {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = res.headers_mut();
        h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&self.accept) {
            h.insert(SEC_WEBSOCKET_ACCEPT, v);
        }
        if self.binary {
            h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("binary"));
        }
        res
    }
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
        let a = check(&Method::GET, Version::HTTP_11, &headers(&GOOD)).unwrap();
        assert_eq!(a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(!a.binary);
        let mut with_proto = GOOD.to_vec();
        with_proto.push(("sec-websocket-protocol", "base64, binary"));
        assert!(check(&Method::GET, Version::HTTP_11, &headers(&with_proto)).unwrap().binary);
    }

    #[test]
    fn bad_requests() {
        let status = |pairs: &[(&'static str, &'static str)], m: Method| check(&m, Version::HTTP_11, &headers(pairs)).unwrap_err().status;
        assert_eq!(status(&GOOD, Method::POST), StatusCode::BAD_REQUEST);
        assert_eq!(status(&GOOD[1..], Method::GET), StatusCode::BAD_REQUEST);
        let mut v8 = GOOD.to_vec();
        v8[2] = ("sec-websocket-version", "8");
        assert_eq!(status(&v8, Method::GET), StatusCode::UPGRADE_REQUIRED);
        let mut short_key = GOOD.to_vec();
        short_key[3] = ("sec-websocket-key", "c2hvcnQ=");
        assert_eq!(status(&short_key, Method::GET), StatusCode::BAD_REQUEST);
        let old = check(&Method::GET, Version::HTTP_10, &headers(&GOOD)).unwrap_err();
        assert_eq!(old.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_answer_carries_the_accept_key_and_binary() {
        let mut with_proto = GOOD.to_vec();
        with_proto.push(("sec-websocket-protocol", "binary"));
        let res = check(&Method::GET, Version::HTTP_11, &headers(&with_proto)).unwrap().switching_protocols();
        assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(res.headers()[SEC_WEBSOCKET_ACCEPT], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(res.headers()[SEC_WEBSOCKET_PROTOCOL], "binary");
    }
}
