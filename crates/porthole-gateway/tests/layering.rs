//! The gateway's modules depend on each other one way only: this reads every source file, takes
//! the top-level modules each one names through `crate::…`, and fails on any cycle.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module → the top-level modules it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.iter().next().unwrap().to_str().unwrap().trim_end_matches(".rs").to_owned();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let uses = graph.entry(top.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != top {
                uses.insert(name);
            }
        }
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(n: &str, g: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn gateway_modules_have_no_import_cycle() {
    let g = graph();
    assert!(g.len() > 5, "the source tree was not found: {g:?}");
    if let Some(cycle) = find_cycle(&g) {
        panic!("import cycle: {}\nfull graph: {g:#?}", cycle.join(" -> "));
    }
}

#[test]
fn the_data_path_points_one_way() {
    let g = graph();
    let uses = |a: &str, b: &str| g.get(a).is_some_and(|s| s.contains(b));
    // The session path: the edge admits, then runs the session; the session drives upstream and relay.
    for (from, to) in [("admission", "session"), ("admission", "edge"), ("upstream", "relay"), ("relay", "upstream"), ("relay", "session")]
    {
        assert!(!uses(from, to), "{from} must not use {to}: {g:#?}");
    }
    for leaf in ["live", "settings", "end", "throttle", "redact"] {
        let deps: Vec<_> = g.get(leaf).into_iter().flatten().filter(|d| !matches!(d.as_str(), "live" | "settings")).collect();
        assert!(deps.is_empty(), "{leaf} should be a leaf, uses {deps:?}");
    }
}
