//! Mistakes in the shape of the file that serde would only call "invalid type": a list of tables
//! written as one table (`[nodes]` for `[[nodes]]`), or the other way round (`[[proxy]]`).

/// The lists of tables, each entry written `[[key]]`, and what one entry is.
const LISTS: [(&str, &str); 3] = [("nodes", "node"), ("targets", "target"), ("api.keys", "key")];

/// The tables written `[key]` once.
const TABLES: [&str; 8] = ["proxy", "vnc", "consoleauth", "api", "audit", "log", "serial_console", "cluster"];

/// The first such mistake, in one line; `None` when there is none or the file is not TOML at all
/// (the typed parse words that).
pub(super) fn problem(text: &str) -> Option<String> {
    let doc: toml::Table = text.parse().ok()?;
    for (key, one) in LISTS {
        if lookup(&doc, key).is_some_and(toml::Value::is_table) {
            return Some(format!("[{key}] is a single table, but {key} is a list: write [[{key}]] above each {one}"));
        }
    }
    for key in TABLES {
        if doc.get(key).is_some_and(toml::Value::is_array) {
            return Some(format!("[[{key}]] makes a list, but {key} is a single table: write [{key}]"));
        }
    }
    None
}

/// The value at a dotted key such as `api.keys`.
fn lookup<'a>(doc: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_written_as_one_table_says_to_use_double_brackets() {
        let p = problem("[nodes]\nname = \"kvm1\"\nlibvirt_uri = \"qemu:///system\"\n").unwrap();
        assert_eq!(p, "[nodes] is a single table, but nodes is a list: write [[nodes]] above each node");
        assert!(problem("[targets]\nname = \"a\"\n").unwrap().contains("write [[targets]]"));
        assert!(problem("[api.keys]\nname = \"ops\"\n").unwrap().contains("write [[api.keys]] above each key"));
        assert!(problem("[api]\n[api.keys]\nname = \"ops\"\n").unwrap().contains("[[api.keys]]"));
    }

    #[test]
    fn a_table_written_as_a_list_says_to_use_single_brackets() {
        assert_eq!(
            problem("[[proxy]]\nlisten = \"127.0.0.1:6080\"\n").unwrap(),
            "[[proxy]] makes a list, but proxy is a single table: write [proxy]"
        );
    }

    #[test]
    fn the_right_shapes_and_broken_toml_are_left_alone() {
        let good = "[proxy]\nlisten = \"127.0.0.1:6080\"\n[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n[[targets]]\nname = \"t\"\n[[api.keys]]\nname = \"k\"\n";
        assert_eq!(problem(good), None);
        assert_eq!(problem("[nodes"), None);
        assert_eq!(problem(""), None);
    }
}
