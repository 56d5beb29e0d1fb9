//! Nova's access URL format: the token goes into the `path` query value of the configured base.

use crate::{Error, Result, Token};
use url::Url;

/// Builds the URL a user opens: `<base>?path=%3Ftoken%3D<token>` for noVNC consoles.
///
/// As Nova does: the base's other query parameters are kept in order, and an existing `path`
/// value gets `?token=<token>` appended (`?path=novnc` becomes `?path=novnc%3Ftoken%3D…`).
pub fn novnc_access_url(base: &str, token: &Token) -> Result<String> {
    let mut url = parse_base(base)?;
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let token_path = format!("?token={}", token.expose());
    match pairs.iter().position(|(k, _)| k == "path") {
        Some(i) => {
            pairs[i].1.push_str(&token_path);
            let mut seen = 0;
            pairs.retain(|(k, _)| {
                k != "path" || {
                    seen += 1;
                    seen == 1
                }
            });
        }
        None => pairs.push(("path".to_owned(), token_path)),
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
    Ok(url.into())
}

/// Builds a serial console URL the way Nova's serial proxy does: `<base>?token=<token>` (the base
/// is a `ws://` or `wss://` URL; its other query parameters are kept).
pub fn serial_access_url(base: &str, token: &Token) -> Result<String> {
    let mut url = parse_base(base)?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != "token").collect();
    url.query_pairs_mut().clear().extend_pairs(pairs).append_pair("token", token.expose());
    Ok(url.into())
}

/// The access URL of a console type: noVNC's page URL, or the serial WebSocket URL.
pub fn access_url(console_type: crate::ConsoleType, base: &str, token: &Token) -> Result<String> {
    match console_type {
        crate::ConsoleType::Serial => serial_access_url(base, token),
        _ => novnc_access_url(base, token),
    }
}

/// Checks that a configured base is an absolute http(s) URL.
pub fn parse_base(base: &str) -> Result<Url> {
    let url = Url::parse(base).map_err(|e| Error::AccessUrlBase { base: base.to_owned(), reason: e.to_string() })?;
    match url.scheme() {
        "http" | "https" | "ws" | "wss" => Ok(url),
        other => Err(Error::AccessUrlBase { base: base.to_owned(), reason: format!("scheme {other:?} is not http, https, ws or wss") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_urls_are_novas() {
        let t = Token::from_presented("T0k");
        assert_eq!(serial_access_url("ws://127.0.0.1:6083/", &t).unwrap(), "ws://127.0.0.1:6083/?token=T0k");
        assert_eq!(serial_access_url("wss://c.example/serial?x=1", &t).unwrap(), "wss://c.example/serial?x=1&token=T0k");
    }

    fn url(base: &str) -> String {
        novnc_access_url(base, &Token::from_presented("T0k-en_1")).unwrap()
    }

    #[test]
    fn plain_base() {
        assert_eq!(url("http://127.0.0.1:6080/vnc_lite.html"), "http://127.0.0.1:6080/vnc_lite.html?path=%3Ftoken%3DT0k-en_1");
    }

    #[test]
    fn existing_path_value_is_appended_to() {
        assert_eq!(
            url("https://example.com:6080/vnc_auto.html?path=novnc"),
            "https://example.com:6080/vnc_auto.html?path=novnc%3Ftoken%3DT0k-en_1"
        );
    }

    #[test]
    fn other_query_parameters_are_kept_before_path() {
        assert_eq!(url("http://h:6080/vnc_lite.html?noop=true"), "http://h:6080/vnc_lite.html?noop=true&path=%3Ftoken%3DT0k-en_1");
        assert_eq!(
            url("http://h/vnc_lite.html?path=a%2Fb&title=my+vm"),
            "http://h/vnc_lite.html?path=a%2Fb%3Ftoken%3DT0k-en_1&title=my+vm"
        );
    }

    #[test]
    fn duplicate_path_values_collapse_to_the_first() {
        assert_eq!(url("http://h/x?path=a&path=b"), "http://h/x?path=a%3Ftoken%3DT0k-en_1");
    }

    #[test]
    fn ipv6_base_and_fragment_survive() {
        assert_eq!(
            url("http://[2001:db8::1]:6080/vnc_lite.html#frag"),
            "http://[2001:db8::1]:6080/vnc_lite.html?path=%3Ftoken%3DT0k-en_1#frag"
        );
    }

    #[test]
    fn bad_bases_are_refused() {
        assert!(novnc_access_url("not a url", &Token::generate()).is_err());
        assert!(novnc_access_url("ftp://h/x", &Token::generate()).is_err());
    }
}
