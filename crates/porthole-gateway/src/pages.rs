//! The console page and its assets: `vnc_lite.html`, `vnc_auto.html` and `console.html` are the
//! project's page (web/console.html); `/novnc/*` is the pinned `@novnc/novnc` package.

use crate::state::{AppState, Settings};
use axum::Router;
use http::header::CACHE_CONTROL;
use http::HeaderValue;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// URL names that all show the console page (Nova's and our own).
pub const PAGE_ALIASES: [&str; 4] = ["/", "/vnc_lite.html", "/vnc_auto.html", "/console.html"];

/// Routes for the pages, every answer marked `Cache-Control: no-cache`.
pub(crate) fn routes(settings: &Settings) -> Router<AppState> {
    let router = match &settings.web_root {
        Some(root) => Router::new().fallback_service(ServeDir::new(root).append_index_html_on_directories(false)),
        None => own_page(settings),
    };
    router.layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}

fn own_page(settings: &Settings) -> Router<AppState> {
    let dir = &settings.web_dir;
    let page = ServeFile::new(dir.join("console.html"));
    let mut router = Router::new();
    for alias in PAGE_ALIASES {
        router = router.route_service(alias, page.clone());
    }
    for asset in ["console.js", "console.css", "favicon.svg"] {
        router = router.route_service(&format!("/{asset}"), ServeFile::new(dir.join(asset)));
    }
    let novnc = ServeDir::new(dir.join("node_modules/@novnc/novnc")).append_index_html_on_directories(false);
    router.nest_service("/novnc", novnc)
}
