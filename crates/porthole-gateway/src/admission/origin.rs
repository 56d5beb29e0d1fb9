//! The Origin check against cross-site WebSocket hijacking (CVE-2015-0259), Nova's rules minus its bugs.
//!
//! No `Origin` is allowed (a non-browser client). Otherwise its host must equal the `Host` header's
//! host (ports ignored, IPv6 brackets handled, case-insensitive) or be in the configured list, and its
//! scheme (or `X-Forwarded-Proto`) must pair with the scheme of the token's access URL base. The
//! configured list is only ever read.

use std::net::Ipv6Addr;
use url::Url;

/// Why an Origin was refused. The HTTP answer says only "Origin not allowed".
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OriginError {
    /// The header is empty, `null` or not a URL with a host.
    #[error("Origin header not valid")]
    Invalid,
    /// Its host is neither the Host header's nor an allowed origin.
    #[error("Origin header does not match this host")]
    HostMismatch,
    /// Its scheme does not pair with the access URL's.
    #[error("Origin scheme does not match the console URL's")]
    SchemeMismatch,
    /// The token carries no usable access URL base, so the scheme cannot be checked.
    #[error("no access URL base to check the Origin scheme against")]
    NoBase,
}

/// The request headers the check reads.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OriginRequest<'a> {
    /// `Origin`, if present (as bytes: a non-UTF-8 value is refused).
    pub origin: Option<&'a [u8]>,
    /// `Host`.
    pub host: Option<&'a [u8]>,
    /// `X-Forwarded-Proto`, set by a TLS-terminating load balancer.
    pub forwarded_proto: Option<&'a [u8]>,
}

/// The host half of the check, which needs no token: the Origin's host must be the Host header's
/// or an allowed one. Returns the parsed Origin, `None` when there is none.
pub(crate) fn check_origin_host(req: OriginRequest<'_>, allowed: &[String]) -> Result<Option<Url>, OriginError> {
    let Some(origin) = req.origin else { return Ok(None) };
    let origin = std::str::from_utf8(origin).map_err(|_| OriginError::Invalid)?.trim();
    let url = Url::parse(origin).map_err(|_| OriginError::Invalid)?;
    let origin_host = url.host_str().map(normalize_host).filter(|h| !h.is_empty()).ok_or(OriginError::Invalid)?;
    let host_header = req.host.and_then(|h| std::str::from_utf8(h).ok()).and_then(host_part).map(normalize_host);
    let host_ok = host_header.as_deref() == Some(origin_host.as_str()) || allowed.iter().any(|a| normalize_host(a) == origin_host);
    if !host_ok {
        return Err(OriginError::HostMismatch);
    }
    Ok(Some(url))
}

/// Checks a WebSocket request's Origin. `allowed` is `[proxy] allowed_origins`, host names.
pub(crate) fn check_origin(req: OriginRequest<'_>, allowed: &[String], access_url_base: &str) -> Result<(), OriginError> {
    let Some(url) = check_origin_host(req, allowed)? else { return Ok(()) };
    let proto = match req.forwarded_proto.and_then(|p| std::str::from_utf8(p).ok()) {
        // A chain of proxies appends: the first value is the client's.
        Some(p) => p.split(',').next().unwrap_or("").trim().to_ascii_lowercase(),
        None => url.scheme().to_owned(),
    };
    let base = Url::parse(access_url_base).map_err(|_| OriginError::NoBase)?;
    let ok = match base.scheme() {
        "http" => proto == "http",
        "https" => proto == "https",
        "ws" => proto == "ws" || proto == "http",
        "wss" => proto == "wss" || proto == "https",
        _ => return Err(OriginError::NoBase),
    };
    if ok {
        Ok(())
    } else {
        Err(OriginError::SchemeMismatch)
    }
}

/// The host part of a `Host` header value: `name`, `name:port`, `[v6]` or `[v6]:port`.
fn host_part(value: &str) -> Option<&str> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']').map(|(h, _)| h);
    }
    match value.matches(':').count() {
        0 => Some(value),
        1 => value.split_once(':').map(|(h, _)| h),
        _ => Some(value), // a bare IPv6 address, no port
    }
}

/// Lower-cases, drops IPv6 brackets and a trailing dot, and writes IPv6 addresses canonically.
fn normalize_host(host: &str) -> String {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.');
    match h.parse::<Ipv6Addr>() {
        Ok(v6) => v6.to_string(),
        Err(_) => h.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests;
