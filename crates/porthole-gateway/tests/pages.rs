//! The console page and its assets: aliases, content types, `Cache-Control: no-cache`, methods.

#![allow(clippy::unwrap_used)]

mod common;

use common::{http_raw, start};
use porthole_gateway::Settings;

fn web_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("console.html"), "<!doctype html><title>page</title>").unwrap();
    for module in ["console.js", "status.js", "keys.js", "clipboard.js"] {
        std::fs::write(dir.path().join(module), "export {};").unwrap();
    }
    std::fs::write(dir.path().join("console.css"), "body{}").unwrap();
    std::fs::write(dir.path().join("package.json"), "{}").unwrap();
    let core = dir.path().join("node_modules/@novnc/novnc/core");
    std::fs::create_dir_all(&core).unwrap();
    std::fs::write(core.join("rfb.js"), "export default class RFB {}").unwrap();
    dir
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn page_aliases_serve_the_console_page() {
    let dir = web_dir();
    let gw = start(&[], Settings { web_dir: dir.path().to_owned(), ..Settings::default() }).await;
    for path in ["/vnc_lite.html", "/vnc_auto.html", "/console.html", "/vnc_lite.html?path=%3Ftoken%3Dx"] {
        let (code, text) = http_raw(gw.addr, &get(path)).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(header(&text, "content-type"), Some("text/html"), "{path}");
        assert_eq!(header(&text, "cache-control"), Some("no-cache"), "{path}");
        assert!(text.ends_with("<title>page</title>"));
    }
}

#[tokio::test]
async fn assets_have_their_content_types() {
    let dir = web_dir();
    let gw = start(&[], Settings { web_dir: dir.path().to_owned(), ..Settings::default() }).await;
    for (path, ctype) in [
        ("/console.js", "text/javascript"),
        ("/status.js", "text/javascript"),
        ("/keys.js", "text/javascript"),
        ("/clipboard.js", "text/javascript"),
        ("/console.css", "text/css"),
        ("/novnc/core/rfb.js", "text/javascript"),
    ] {
        let (code, text) = http_raw(gw.addr, &get(path)).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(header(&text, "content-type"), Some(ctype), "{path}");
        assert_eq!(header(&text, "cache-control"), Some("no-cache"), "{path}");
    }
}

#[tokio::test]
async fn the_serial_page_and_xterm_are_served_where_the_page_loads_them() {
    let dir = web_dir();
    std::fs::write(dir.path().join("serial.html"), "<!doctype html><title>serial</title>").unwrap();
    std::fs::write(dir.path().join("serial.js"), "export {};").unwrap();
    std::fs::write(dir.path().join("serial.css"), "body{}").unwrap();
    for (package, file) in [("xterm", "lib/xterm.mjs"), ("xterm", "css/xterm.css"), ("addon-fit", "lib/addon-fit.mjs")] {
        let path = dir.path().join("node_modules/@xterm").join(package).join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }
    let gw = start(&[], Settings { web_dir: dir.path().to_owned(), ..Settings::default() }).await;
    for (path, ctype) in [
        ("/serial.html?path=%3Ftoken%3Dx", "text/html"),
        ("/serial.js", "text/javascript"),
        ("/serial.css", "text/css"),
        ("/xterm/lib/xterm.mjs", "javascript"),
        ("/xterm/css/xterm.css", "text/css"),
        ("/xterm-fit/lib/addon-fit.mjs", "javascript"),
    ] {
        let (code, text) = http_raw(gw.addr, &get(path)).await;
        assert_eq!(code, 200, "{path}");
        // Browsers run modules served as text/javascript or application/javascript (.mjs's).
        let served = header(&text, "content-type").unwrap_or("");
        assert!(served == ctype || served == format!("text/{ctype}") || served == format!("application/{ctype}"), "{path}: {served}");
        assert_eq!(header(&text, "cache-control"), Some("no-cache"), "{path}");
    }
}

#[tokio::test]
async fn nothing_else_is_served() {
    let dir = web_dir();
    let gw = start(&[], Settings { web_dir: dir.path().to_owned(), ..Settings::default() }).await;
    for path in ["/package.json", "/node_modules/@novnc/novnc/core/rfb.js", "/novnc/../package.json", "/novnc/", "/novnc/core"] {
        let (code, _) = http_raw(gw.addr, &get(path)).await;
        assert!(code == 404 || code == 400, "{path}: {code}");
    }
}

#[tokio::test]
async fn only_get_and_head_for_pages() {
    let dir = web_dir();
    let gw = start(&[], Settings { web_dir: dir.path().to_owned(), ..Settings::default() }).await;
    let (code, _) = http_raw(gw.addr, "HEAD /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(code, 200);
    for method in ["POST", "PUT", "DELETE"] {
        let req = format!("{method} /vnc_lite.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let (code, _) = http_raw(gw.addr, &req).await;
        assert_eq!(code, 405, "{method}");
    }
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
}
