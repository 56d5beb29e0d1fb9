//! The console pages and their assets: `vnc_lite.html`, `vnc_auto.html` and `console.html` are the
//! project's page (web/console.html), `serial.html` its terminal page; `/novnc/*` is the pinned
//! `@novnc/novnc` package, `/xterm/*` and `/xterm-fit/*` the pinned xterm.js packages. Every answer
//! is `no-cache`, may be framed only by `[proxy] frame_ancestors` (CSP, and `X-Frame-Options` where
//! it can say the same), and sends no Referer (the page's URL holds the token).

use crate::settings::Settings;
use crate::state::AppState;
use axum::Router;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use http::HeaderValue;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// URL names that all show the console page (Nova's and our own).
pub(super) const PAGE_ALIASES: [&str; 4] = ["/", "/vnc_lite.html", "/vnc_auto.html", "/console.html"];

/// The page's own files besides the HTML, each served at `/<name>` (nothing else of `web_dir` is).
const ASSETS: [&str; 9] =
    ["console.js", "console.css", "favicon.svg", "status.js", "keys.js", "clipboard.js", "serial.html", "serial.js", "serial.css"];

/// npm packages the pages load, each at `/<prefix>/*`.
const PACKAGES: [(&str, &str); 3] =
    [("/novnc", "node_modules/@novnc/novnc"), ("/xterm", "node_modules/@xterm/xterm"), ("/xterm-fit", "node_modules/@xterm/addon-fit")];

/// Routes for the pages, every answer marked `Cache-Control: no-cache`.
pub(crate) fn routes(settings: &Settings) -> Router<AppState> {
    let router = match &settings.web_root {
        Some(root) => Router::new().fallback_service(ServeDir::new(root).append_index_html_on_directories(false)),
        None => own_page(settings),
    };
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

fn own_page(settings: &Settings) -> Router<AppState> {
    let dir = &settings.web_dir;
    let page = ServeFile::new(dir.join("console.html"));
    let mut router = Router::new();
    for alias in PAGE_ALIASES {
        router = router.route_service(alias, page.clone());
    }
    for asset in ASSETS {
        router = router.route_service(&format!("/{asset}"), ServeFile::new(dir.join(asset)));
    }
    for (prefix, package) in PACKAGES {
        router = router.nest_service(prefix, ServeDir::new(dir.join(package)).append_index_html_on_directories(false));
    }
    router
}
