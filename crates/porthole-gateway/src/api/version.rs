//! The version document and microversions: `OpenStack-API-Version: compute 2.N` and
//! `X-OpenStack-Nova-API-Version: 2.N` are accepted and echoed on every API response.

use super::error::ApiError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use utoipa::ToSchema;

/// Lowest microversion served.
pub(crate) const MIN_VERSION: (u32, u32) = (2, 1);
/// Highest microversion served.
pub(crate) const MAX_VERSION: (u32, u32) = (2, 96);

/// The version a request asked for (the minimum when it asked for none).
fn requested(headers: &HeaderMap) -> Result<(u32, u32), ApiError> {
    let value = headers
        .get("openstack-api-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').map(str::trim).find_map(|p| p.strip_prefix("compute ")).map(str::to_owned))
        .or_else(|| headers.get("x-openstack-nova-api-version").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let Some(v) = value else { return Ok(MIN_VERSION) };
    let v = v.trim();
    if v.eq_ignore_ascii_case("latest") {
        return Ok(MAX_VERSION);
    }
    let parsed = v.split_once('.').and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    let Some(ver) = parsed else {
        return Err(ApiError::BadRequest(format!("Invalid format for API version {v:?}; expected \"2.N\".")));
    };
    if ver < MIN_VERSION || ver > MAX_VERSION {
        return Err(ApiError::NotAcceptable(format!(
            "Version {}.{} is not supported by the API. Minimum is {}.{} and maximum is {}.{}.",
            ver.0, ver.1, MIN_VERSION.0, MIN_VERSION.1, MAX_VERSION.0, MAX_VERSION.1
        )));
    }
    Ok(ver)
}

/// The microversion a request asked for (or the minimum), in its extensions for the handlers
/// whose answers change with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Microversion(pub u32, pub u32);

impl Microversion {
    /// Whether the request asked for `2.minor` or later.
    pub(crate) fn at_least(self, minor: u32) -> bool {
        (self.0, self.1) >= (2, minor)
    }
}

/// Middleware: checks the requested microversion and echoes it on the response.
pub(crate) async fn microversion(mut req: Request, next: Next) -> Response {
    let (mut resp, ver) = match requested(req.headers()) {
        Ok(ver) => {
            req.extensions_mut().insert(Microversion(ver.0, ver.1));
            (next.run(req).await, ver)
        }
        Err(e) => (e.into_response(), MIN_VERSION),
    };
    let text = format!("{}.{}", ver.0, ver.1);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("compute {text}")) {
        h.insert("openstack-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&text) {
        h.insert("x-openstack-nova-api-version", v);
    }
    h.insert(http::header::VARY, HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"));
    resp
}

/// One link.
#[derive(Serialize, ToSchema)]
pub(crate) struct Link {
    /// `self`, `bookmark`, `describedby`.
    pub rel: String,
    /// Where.
    pub href: String,
}

/// The v2.1 version object.
#[derive(Serialize, ToSchema)]
pub(crate) struct Version {
    /// Always `v2.1`.
    pub id: String,
    /// Always `CURRENT`.
    pub status: String,
    /// Highest microversion.
    pub version: String,
    /// Lowest microversion.
    pub min_version: String,
    /// When this document last changed.
    pub updated: String,
    /// Links.
    pub links: Vec<Link>,
}

/// `{"version": {...}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct VersionDoc {
    /// The version.
    pub version: Version,
}

/// The version document (no authentication needed).
#[utoipa::path(get, path = "/v2.1", responses((status = 200, body = VersionDoc)), security(()))]
pub(crate) async fn version_doc(headers: HeaderMap) -> Json<VersionDoc> {
    let base = super::base_url(&headers);
    Json(VersionDoc {
        version: Version {
            id: "v2.1".into(),
            status: "CURRENT".into(),
            version: format!("{}.{}", MAX_VERSION.0, MAX_VERSION.1),
            min_version: format!("{}.{}", MIN_VERSION.0, MIN_VERSION.1),
            updated: "2013-07-23T11:33:21Z".into(),
            links: vec![Link { rel: "self".into(), href: format!("{base}/v2.1/") }],
        },
    })
}

/// Keystone's v3 version, as `/identity/v3` names it (see [`identity_discovery`]).
const IDENTITY_VERSION: &str = "v3.14";

/// Whether a request wants JSON rather than a page (keystoneauth sends `Accept: application/json`,
/// browsers `text/html,…`).
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// `GET /identity/v3` with `Accept: application/json`: Keystone's v3 version document, and
/// nothing more (Porthole has no identity service). With `--os-auth-type admin_token`,
/// openstacksdk takes every service's major version from the one endpoint (`…/v2.1`: 2), and
/// `openstack server list` insists on an identity v3 proxy before it lists anything, though it
/// only calls it for `--project` or `--user`; `OS_IDENTITY_ENDPOINT_OVERRIDE` pointed here gives
/// it one (see the README). Anything else goes on to the pages.
pub(crate) async fn identity_discovery(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let discovery = req.method() == http::Method::GET && (path == "/identity/v3" || path == "/identity/v3/");
    if !discovery || !wants_json(req.headers()) {
        return next.run(req).await;
    }
    let base = super::base_url(req.headers());
    Json(serde_json::json!({ "version": {
        "id": IDENTITY_VERSION, "status": "stable", "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }}))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &'static str, v: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_static(v));
        m
    }

    #[test]
    fn microversion_headers() {
        assert_eq!(requested(&HeaderMap::new()).unwrap(), (2, 1));
        assert_eq!(requested(&h("openstack-api-version", "compute 2.6")).unwrap(), (2, 6));
        assert_eq!(requested(&h("openstack-api-version", "image 2.1, compute 2.53")).unwrap(), (2, 53));
        assert_eq!(requested(&h("x-openstack-nova-api-version", "2.79")).unwrap(), (2, 79));
        assert_eq!(requested(&h("openstack-api-version", "compute latest")).unwrap(), MAX_VERSION);
        assert!(matches!(requested(&h("openstack-api-version", "compute 3.0")), Err(ApiError::NotAcceptable(_))));
        assert!(matches!(requested(&h("x-openstack-nova-api-version", "2.x")), Err(ApiError::BadRequest(_))));
    }
}
