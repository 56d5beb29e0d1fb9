//! Nova's websocketproxy Origin cases (reference/nova-console.md §6), and the bugs it had.

use super::*;

const BASE_HTTPS: &str = "https://example.net:6080/vnc_lite.html";

fn allowed() -> Vec<String> {
    vec!["allowed-origin-example-1.net".into(), "allowed-origin-example-2.net".into()]
}

fn check(origin: Option<&str>, host: &str, xfp: Option<&str>, base: &str) -> Result<(), OriginError> {
    let req = OriginRequest { origin: origin.map(str::as_bytes), host: Some(host.as_bytes()), forwarded_proto: xfp.map(str::as_bytes) };
    check_origin(req, &allowed(), base)
}

#[test]
fn matching_origin_and_host() {
    assert_eq!(check(Some("https://example.net:6080"), "example.net:6080", None, BASE_HTTPS), Ok(()));
}

#[test]
fn ports_and_case_are_ignored() {
    assert_eq!(check(Some("https://EXAMPLE.net:443"), "example.NET:6080", None, BASE_HTTPS), Ok(()));
    assert_eq!(check(Some("https://example.net"), "example.net", None, BASE_HTTPS), Ok(()));
}

#[test]
fn ipv6_host_header() {
    let base = "https://[2001:db8::1]:6080/vnc_lite.html";
    assert_eq!(check(Some("https://[2001:db8::1]:6080"), "[2001:db8::1]:6080", None, base), Ok(()));
    assert_eq!(check(Some("https://[2001:DB8:0::1]"), "[2001:db8::1]", None, base), Ok(()));
    assert_eq!(check(Some("https://[2001:db8::2]:6080"), "[2001:db8::1]:6080", None, base), Err(OriginError::HostMismatch));
}

#[test]
fn foreign_origin_is_refused() {
    assert_eq!(check(Some("https://bad-origin-example.net"), "example.net:6080", None, BASE_HTTPS), Err(OriginError::HostMismatch));
}

#[test]
fn allowed_origin_passes_with_another_host() {
    assert_eq!(check(Some("https://allowed-origin-example-2.net"), "example.net:6080", None, BASE_HTTPS), Ok(()));
}

#[test]
fn blank_and_unparsable_origins_are_refused() {
    for bad in ["", "   ", "null", "example.net", "https://", "://x"] {
        assert_eq!(check(Some(bad), "example.net:6080", None, BASE_HTTPS), Err(OriginError::Invalid), "{bad:?}");
    }
    let req = OriginRequest { origin: Some(b"https://\xff"), host: Some(b"example.net"), forwarded_proto: None };
    assert_eq!(check_origin(req, &[], BASE_HTTPS), Err(OriginError::Invalid));
}

#[test]
fn missing_origin_is_allowed() {
    assert_eq!(check(None, "example.net:6080", None, BASE_HTTPS), Ok(()));
    assert_eq!(check_origin(OriginRequest::default(), &[], BASE_HTTPS), Ok(()));
}

#[test]
fn missing_host_header_needs_an_allowed_origin() {
    let req = OriginRequest { origin: Some(b"https://example.net"), host: None, forwarded_proto: None };
    assert_eq!(check_origin(req, &[], BASE_HTTPS), Err(OriginError::HostMismatch));
}

#[test]
fn scheme_must_match_the_access_url_base() {
    let http_base = "http://example.net:6080/vnc_lite.html";
    assert_eq!(check(Some("https://example.net:6080"), "example.net:6080", None, http_base), Err(OriginError::SchemeMismatch));
    assert_eq!(check(Some("http://example.net:6080"), "example.net:6080", None, BASE_HTTPS), Err(OriginError::SchemeMismatch));
    // ws pairs only with http, wss with https.
    assert_eq!(
        check(Some("https://example.net:6080"), "example.net:6080", None, "ws://example.net:6083/"),
        Err(OriginError::SchemeMismatch)
    );
    assert_eq!(check(Some("http://example.net:6080"), "example.net:6080", None, "ws://example.net:6083/"), Ok(()));
    assert_eq!(check(Some("https://example.net:6080"), "example.net:6080", None, "wss://example.net:6083/"), Ok(()));
}

#[test]
fn forwarded_proto_overrides_the_origin_scheme() {
    assert_eq!(check(Some("http://example.net:6080"), "example.net:6080", Some("https"), "wss://example.net/"), Ok(()));
    assert_eq!(check(Some("http://example.net:6080"), "example.net:6080", Some("HTTPS, http"), BASE_HTTPS), Ok(()));
    assert_eq!(check(Some("https://example.net:6080"), "example.net:6080", Some("http"), BASE_HTTPS), Err(OriginError::SchemeMismatch));
}

#[test]
fn base_without_scheme_cannot_be_checked() {
    assert_eq!(check(Some("https://example.net"), "example.net", None, ""), Err(OriginError::NoBase));
    assert_eq!(check(Some("https://example.net"), "example.net", None, "ftp://example.net/"), Err(OriginError::NoBase));
}

#[test]
fn the_allowed_list_never_grows() {
    let list = allowed();
    let before = list.clone();
    let req = OriginRequest { origin: Some(b"https://evil.com"), host: Some(b"evil.com"), forwarded_proto: None };
    assert_eq!(check_origin(req, &list, BASE_HTTPS), Ok(()));
    assert_eq!(list, before);
}

#[test]
fn a_previous_host_does_not_let_a_later_request_through() {
    let list = allowed();
    let first = OriginRequest { origin: Some(b"https://evil.com"), host: Some(b"evil.com"), forwarded_proto: None };
    assert_eq!(check_origin(first, &list, BASE_HTTPS), Ok(()));
    let second = OriginRequest { origin: Some(b"https://evil.com"), host: Some(b"example.net"), forwarded_proto: None };
    assert_eq!(check_origin(second, &list, BASE_HTTPS), Err(OriginError::HostMismatch));
}

#[test]
fn host_part_forms() {
    assert_eq!(host_part("example.net:6080"), Some("example.net"));
    assert_eq!(host_part("example.net"), Some("example.net"));
    assert_eq!(host_part("[::1]:6080"), Some("::1"));
    assert_eq!(host_part("[::1]"), Some("::1"));
    assert_eq!(host_part("::1"), Some("::1"));
    assert_eq!(host_part("[::1"), None);
}
