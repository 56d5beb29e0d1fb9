//! Where a WebSocket request carries its token: `?token=` in the query first, then a `token` cookie.

use http::header::COOKIE;
use http::HeaderMap;

/// The token presented with a request, or `None`. Malformed cookie parts are skipped, never logged.
pub(super) fn token_from_request(query: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let from_query =
        query.and_then(|q| url::form_urlencoded::parse(q.as_bytes()).filter(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).last());
    match from_query {
        Some(t) if !t.is_empty() => Some(t),
        _ => token_from_cookies(headers),
    }
}

fn token_from_cookies(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(parse_cookie_part)
        .filter(|(name, _)| *name == "token")
        .map(|(_, value)| value.to_owned())
        .find(|v| !v.is_empty())
}

/// One `name=value` pair of a Cookie header (RFC 6265), or `None` when malformed.
fn parse_cookie_part(part: &str) -> Option<(&str, &str)> {
    let (name, value) = part.trim().split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return None;
    }
    let value = value.trim();
    let value = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    value.bytes().all(is_cookie_octet).then_some((name, value))
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

fn is_cookie_octet(b: u8) -> bool {
    b.is_ascii_graphic() && !b"\",;\\".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cookies(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn query_token_wins_over_cookie() {
        let h = cookies(&["token=from-cookie"]);
        assert_eq!(token_from_request(Some("token=from-query"), &h).as_deref(), Some("from-query"));
    }

    #[test]
    fn query_token_is_url_decoded() {
        assert_eq!(token_from_request(Some("a=1&token=ab%2Dc"), &HeaderMap::new()).as_deref(), Some("ab-c"));
    }

    #[test]
    fn cookie_token_when_query_has_none() {
        let h = cookies(&["token=\"123-456-789\""]);
        assert_eq!(token_from_request(None, &h).as_deref(), Some("123-456-789"));
        assert_eq!(token_from_request(Some("token="), &h).as_deref(), Some("123-456-789"));
        assert_eq!(token_from_request(Some("other=1"), &h).as_deref(), Some("123-456-789"));
    }

    #[test]
    fn malformed_cookie_part_is_skipped() {
        let h = cookies(&["?=!; token=\"123-456-789\""]);
        assert_eq!(token_from_request(None, &h).as_deref(), Some("123-456-789"));
        let h = cookies(&["token=\"unterminated; token=ok"]);
        assert_eq!(token_from_request(None, &h).as_deref(), Some("ok"));
    }

    #[test]
    fn several_cookie_headers_and_other_cookies() {
        let h = cookies(&["session=x; lang=en", "token=abc"]);
        assert_eq!(token_from_request(None, &h).as_deref(), Some("abc"));
    }

    #[test]
    fn no_token_anywhere() {
        assert_eq!(token_from_request(None, &HeaderMap::new()), None);
        assert_eq!(token_from_request(Some("token="), &cookies(&["tok=1"])), None);
    }
}
