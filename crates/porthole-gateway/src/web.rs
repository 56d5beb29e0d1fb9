//! The console pages' files, embedded in the binary at build time (rust-embed, in debug builds
//! too): everything in `web/` but its npm manifests and `node_modules/`, and the parts of the npm
//! packages the pages load: noVNC's ES modules (`core/`, and `vendor/` that they import), xterm.js
//! and its fit add-on (`lib/`, `css/`, no source maps). `build.rs` rebuilds the crate when `web/`
//! changes, so `npm ci --prefix web` after a first build is picked up by the next one.
//!
//! A build made before `npm ci --prefix web` still compiles, without the packages: [`missing`]
//! names them, the binary says so at start and the pages answer an error that says how to fix it.

use rust_embed::{EmbeddedFile, RustEmbed};
use std::borrow::Cow;

/// `web/` itself: the pages, their scripts, styles and icons (a new file there is embedded and
/// served at `/<its path>` with no list to update).
#[derive(RustEmbed)]
#[folder = "../../web/"]
#[exclude = "node_modules/*"]
#[exclude = "package.json"]
#[exclude = "package-lock.json"]
#[exclude = ".*"]
struct Pages;

/// `@novnc/novnc`: the RFB client (`core/`) and the inflate/deflate code it imports (`vendor/pako`).
#[derive(RustEmbed)]
#[folder = "../../web/node_modules/@novnc/novnc/"]
#[allow_missing = true]
#[include = "core/*"]
#[include = "vendor/*"]
#[include = "LICENSE.txt"]
struct NoVnc;

/// `@xterm/xterm`: the terminal of the serial console page.
#[derive(RustEmbed)]
#[folder = "../../web/node_modules/@xterm/xterm/"]
#[allow_missing = true]
#[include = "lib/*"]
#[include = "css/*"]
#[include = "LICENSE"]
#[exclude = "*.map"]
struct Xterm;

/// `@xterm/addon-fit`: fits the terminal to the window.
#[derive(RustEmbed)]
#[folder = "../../web/node_modules/@xterm/addon-fit/"]
#[allow_missing = true]
#[include = "lib/*"]
#[include = "LICENSE"]
#[exclude = "*.map"]
struct XtermFit;

/// One embedded npm package: where it is served, and a file that proves it was embedded.
struct Package {
    /// Its name in `web/package.json`.
    npm: &'static str,
    /// Served under `/<url_prefix>/`.
    url_prefix: &'static str,
    /// A file every page using the package loads.
    probe: &'static str,
    get: fn(&str) -> Option<EmbeddedFile>,
}

const PACKAGES: [Package; 3] = [
    Package { npm: "@novnc/novnc", url_prefix: "novnc", probe: "core/rfb.js", get: NoVnc::get },
    Package { npm: "@xterm/xterm", url_prefix: "xterm", probe: "lib/xterm.mjs", get: Xterm::get },
    Package { npm: "@xterm/addon-fit", url_prefix: "xterm-fit", probe: "lib/addon-fit.mjs", get: XtermFit::get },
];

/// A file to serve.
#[derive(Debug)]
pub struct File {
    /// Its bytes, in the binary.
    pub data: Cow<'static, [u8]>,
    /// The `Content-Type` its extension calls for.
    pub content_type: &'static str,
    /// A strong `ETag` (quoted, from the content's SHA-256), for `If-None-Match`.
    pub etag: String,
}

/// The embedded file served at URL path `path` (`/console.js`, `/novnc/core/rfb.js`), if any.
/// Paths are matched exactly: no directory listings, no `..`, no percent-decoding.
pub fn file(path: &str) -> Option<File> {
    let rel = path.strip_prefix('/')?;
    let embedded = PACKAGES
        .iter()
        .find_map(|p| rel.strip_prefix(p.url_prefix).and_then(|r| r.strip_prefix('/')).map(|r| (p.get)(r)))
        .unwrap_or_else(|| Pages::get(rel))?;
    let etag = embedded.metadata.sha256_hash()[..16].iter().fold(String::from("\""), |s, b| s + &format!("{b:02x}")) + "\"";
    Some(File { data: embedded.data, content_type: content_type(rel), etag })
}

/// The npm packages this binary was built without (`npm ci --prefix web` was not run before the
/// build); empty when the pages are complete.
pub fn missing() -> Vec<&'static str> {
    PACKAGES.iter().filter(|p| (p.get)(p.probe).is_none()).map(|p| p.npm).collect()
}

/// `Content-Type` by extension, for the kinds of file a page is made of.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "woff2" => "font/woff2",
        "txt" | "md" | "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("console.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("xterm/lib/xterm.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("novnc/core/rfb.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("xterm/LICENSE"), "text/plain; charset=utf-8");
        assert_eq!(content_type("a.bin"), "application/octet-stream");
    }

    #[test]
    fn the_pages_and_every_file_of_web_are_embedded_but_the_npm_manifests() {
        for name in ["console.html", "console.js", "console.css", "favicon.svg"] {
            assert!(file(&format!("/{name}")).is_some(), "{name} is not embedded");
        }
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web")).expect("web/");
        for entry in on_disk.flatten().filter(|e| e.path().is_file()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let served = file(&format!("/{name}")).is_some();
            assert_eq!(served, !name.starts_with("package") && !name.starts_with('.'), "web/{name}");
        }
        assert!(file("/node_modules/@novnc/novnc/core/rfb.js").is_none());
        assert!(file("/package.json").is_none());
        assert!(file("console.html").is_none(), "URL paths start with /");
    }

    #[test]
    fn the_etag_names_the_content() {
        let a = file("/console.html").expect("console.html");
        assert_eq!(a.etag, file("/console.html").expect("again").etag);
        assert_ne!(a.etag, file("/console.js").expect("console.js").etag);
        assert!(a.etag.len() == 34 && a.etag.starts_with('"') && a.etag.ends_with('"'), "{}", a.etag);
    }
}
