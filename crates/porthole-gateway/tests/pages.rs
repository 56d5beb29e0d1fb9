//! The console pages, served from the binary: aliases, web/'s files, the npm packages the pages
//! load (noVNC, xterm.js), content types, `Cache-Control: no-cache`, `ETag`, methods; and
//! `web_root` instead of them. The packages are in the binary only when `npm ci --prefix web`
//! ran before the build (scripts/test does it).

#![allow(clippy::unwrap_used)]

mod common;

use common::{http_raw, start};
use porthole_gateway::Settings;

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default()
}

fn web_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../web/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_binary_holds_the_npm_packages() {
    assert_eq!(porthole_gateway::web::missing(), Vec::<&str>::new(), "run `npm ci --prefix web`, then build again");
}

#[tokio::test]
async fn page_aliases_serve_the_console_page() {
    let gw = start(&[], Settings::default()).await;
    let page = web_file("console.html");
    for path in ["/", "/vnc_lite.html", "/vnc_auto.html", "/console.html", "/vnc_lite.html?path=%3Ftoken%3Dx"] {
        let (code, text) = http_raw(gw.addr, &get(path)).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(header(&text, "content-type"), Some("text/html; charset=utf-8"), "{path}");
        assert_eq!(header(&text, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(body(&text), page, "{path}");
    }
}

#[tokio::test]
async fn files_have_their_content_types() {
    let gw = start(&[], Settings::default()).await;
    let js = "text/javascript; charset=utf-8";
    for (path, ctype) in [
        ("/console.js", js),
        ("/console.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/serial.html", "text/html; charset=utf-8"),
        ("/novnc/core/rfb.js", js),
        ("/novnc/vendor/pako/lib/zlib/inflate.js", js),
        ("/xterm/lib/xterm.mjs", js),
        ("/xterm/css/xterm.css", "text/css; charset=utf-8"),
        ("/xterm-fit/lib/addon-fit.mjs", js),
    ] {
        let (code, text) = http_raw(gw.addr, &get(path)).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(header(&text, "content-type"), Some(ctype), "{path}");
        assert_eq!(header(&text, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(header(&text, "x-content-type-options"), Some("nosniff"), "{path}");
    }
}

#[tokio::test]
async fn every_file_of_web_is_served_as_it_is_in_the_source_tree() {
    let gw = start(&[], Settings::default()).await;
    let dir = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web")).unwrap();
    for entry in dir.flatten().filter(|e| e.path().is_file()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("package") || name.starts_with('.') {
            continue;
        }
        let (code, text) = http_raw(gw.addr, &get(&format!("/{name}"))).await;
        assert_eq!(code, 200, "{name}");
        assert_eq!(body(&text).as_bytes(), std::fs::read(entry.path()).unwrap(), "{name}: rebuild after editing web/");
    }
}

#[tokio::test]
async fn nothing_else_is_served() {
    let gw = start(&[], Settings::default()).await;
    for path in [
        "/package.json",
        "/package-lock.json",
        "/node_modules/@novnc/novnc/core/rfb.js",
        "/novnc/../package.json",
        "/novnc/%2e%2e/package.json",
        "/novnc/",
        "/novnc/core",
        "/novnc/package.json",
        "/novnc/docs/API.md",
        "/xterm/lib/xterm.mjs.map",
        "/xterm/package.json",
        "/nope.html",
    ] {
        let (code, _) = http_raw(gw.addr, &get(path)).await;
        assert!(code == 404 || code == 400, "{path}: {code}");
    }
}

#[tokio::test]
async fn only_get_and_head_for_pages() {
    let gw = start(&[], Settings::default()).await;
    let (code, text) = http_raw(gw.addr, "HEAD /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(code, 200);
    assert_eq!(body(&text), "", "HEAD has no body");
    assert_eq!(header(&text, "content-length"), Some(web_file("console.html").len().to_string().as_str()));
    for method in ["POST", "PUT", "DELETE"] {
        let req = format!("{method} /vnc_lite.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let (code, text) = http_raw(gw.addr, &req).await;
        assert_eq!(code, 405, "{method}");
        assert_eq!(header(&text, "allow"), Some("GET, HEAD"));
    }
}

#[tokio::test]
async fn a_page_whose_etag_matches_is_not_sent_again() {
    let gw = start(&[], Settings::default()).await;
    let (_, text) = http_raw(gw.addr, &get("/novnc/core/rfb.js")).await;
    let etag = header(&text, "etag").unwrap().to_owned();
    let req = format!("GET /novnc/core/rfb.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\", {etag}\r\nConnection: close\r\n\r\n");
    let (code, text) = http_raw(gw.addr, &req).await;
    assert_eq!(code, 304, "{text}");
    assert_eq!(body(&text), "");
    let req = "GET /novnc/core/rfb.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\nConnection: close\r\n\r\n";
    assert_eq!(http_raw(gw.addr, req).await.0, 200);
}

#[tokio::test]
async fn web_root_serves_another_directory_as_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vnc_lite.html"), "theirs").unwrap();
    let gw = start(&[], Settings { web_root: Some(dir.path().to_owned()), ..Settings::default() }).await;
    let (code, text) = http_raw(gw.addr, &get("/vnc_lite.html")).await;
    assert_eq!(code, 200);
    assert!(text.ends_with("theirs"));
    assert_eq!(header(&text, "cache-control"), Some("no-cache"));
    assert_eq!(header(&text, "referrer-policy"), Some("no-referrer"));
    let (code, _) = http_raw(gw.addr, &get("/novnc/core/rfb.js")).await;
    assert_eq!(code, 404, "web_root replaces the built-in files");
}
