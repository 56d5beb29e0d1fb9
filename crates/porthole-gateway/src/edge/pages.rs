//! The console pages and their files, served from the binary ([`crate::web`]): `vnc_lite.html`,
//! `vnc_auto.html`, `console.html` and `/` are the project's page (web/console.html), every other
//! file of web/ is at `/<name>`, and the npm packages the pages load are at `/novnc/*`,
//! `/xterm/*` and `/xterm-fit/*`. `[proxy] web_root` serves a directory as is instead. Every answer
//! is `no-cache` (with an `ETag` to revalidate against), may be framed only by `[proxy]
//! frame_ancestors` (CSP, and `X-Frame-Options` where it can say the same), and sends no Referer
//! (the page's URL holds the token).

use crate::settings::Settings;
use crate::state::AppState;
use crate::web;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// URL names that all show the console page (Nova's and our own).
pub(super) const PAGE_ALIASES: [&str; 4] = ["/", "/vnc_lite.html", "/vnc_auto.html", "/console.html"];

/// Routes for the pages, every answer marked `Cache-Control: no-cache`.
pub(crate) fn routes(settings: &Settings) -> Router<AppState> {
    let router = match &settings.web_root {
        Some(root) => Router::new().fallback_service(ServeDir::new(root).append_index_html_on_directories(false)),
        None => Router::new().fallback(embedded),
    };
    // The dashboard is always Porthole's own, whatever web_root serves.
    let mut router = router.route("/dashboard", any(dashboard));
    for file in DASHBOARD_FILES {
        router = router.route(file, any(dashboard));
    }
    let router = router
        .layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(SetResponseHeaderLayer::overriding(REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    let ancestors = settings.frame_ancestors.join(" ");
    let router = match HeaderValue::from_str(&format!("frame-ancestors {ancestors}")) {
        Ok(csp) => router.layer(SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, csp)),
        Err(_) => router,
    };
    // X-Frame-Options can only say "this origin" or "nobody".
    match ancestors.as_str() {
        "'self'" => router.layer(SetResponseHeaderLayer::overriding(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"))),
        "'none'" => router.layer(SetResponseHeaderLayer::overriding(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))),
        _ => router,
    }
}

/// The operator dashboard's files (`/dashboard` is its page).
const DASHBOARD_FILES: [&str; 3] = ["/dashboard.html", "/dashboard.js", "/dashboard.css"];

/// The dashboard (web/dashboard.*), served from the binary even when `web_root` is set; it needs
/// none of the npm packages.
async fn dashboard(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = if uri.path() == "/dashboard" { "/dashboard.html" } else { uri.path() };
    serve_embedded(path, &method, &headers, false)
}

/// One of the embedded files, or 404; 405 for methods other than GET and HEAD (hyper sends no
/// body to HEAD); 304 when `If-None-Match` names its `ETag`.
async fn embedded(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = match uri.path() {
        p if PAGE_ALIASES.contains(&p) => "/console.html",
        p => p,
    };
    serve_embedded(path, &method, &headers, true)
}

/// An embedded file; `needs_packages`: an HTML page that loads the npm packages.
fn serve_embedded(path: &str, method: &Method, headers: &HeaderMap, needs_packages: bool) -> Response {
    let Some(file) = web::file(path) else {
        return (StatusCode::NOT_FOUND, "Not found\n").into_response();
    };
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(ALLOW, "GET, HEAD")], "Only GET and HEAD\n").into_response();
    }
    if needs_packages && path.ends_with(".html") {
        if let Some(answer) = incomplete_build(&web::missing()) {
            return answer;
        }
    }
    let etag = HeaderValue::from_str(&file.etag).unwrap_or(HeaderValue::from_static("\"\""));
    if etag_matches(headers, &file.etag) {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
    }
    ([(CONTENT_TYPE, HeaderValue::from_static(file.content_type)), (ETAG, etag)], file.data).into_response()
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let listed = |v: &HeaderValue| v.to_str().is_ok_and(|v| v.split(',').map(str::trim).any(|t| t == etag || t == "*"));
    headers.get_all(IF_NONE_MATCH).iter().any(listed)
}

/// A page cannot work without the npm packages it loads: when the binary was built without them,
/// every page says so (500) instead of failing in the browser.
fn incomplete_build(missing: &[&str]) -> Option<Response> {
    if missing.is_empty() {
        return None;
    }
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Porthole: console page incomplete</title>\
         <h1>This Porthole binary was built without its console page's JavaScript packages</h1>\
         <p>Missing: {}. Build it again after <code>npm ci --prefix web</code> in the source tree \
         (see the README, \"Build and install\"), or set <code>[proxy] web_root</code> to a noVNC directory.</p>\n",
        missing.join(", ")
    );
    let html = HeaderValue::from_static("text/html; charset=utf-8");
    Some((StatusCode::INTERNAL_SERVER_ERROR, [(CONTENT_TYPE, html)], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_build_without_the_npm_packages_says_how_to_fix_it() {
        assert!(incomplete_build(&[]).is_none());
        let answer = incomplete_build(&["@novnc/novnc"]).expect("an answer");
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(answer.into_body(), 4096).await.expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("Missing: @novnc/novnc.") && body.contains("npm ci --prefix web"), "{body}");
    }
}
