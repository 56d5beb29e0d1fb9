//! The configuration file the Debian package installs (packaging/deb/porthole.toml) against this
//! module's structs, so that the two cannot drift: as shipped it loads and is safe (loopback, no
//! keys, no nodes); with every commented option uncommented it still parses (no option that does
//! not exist, no value of the wrong type); and every key of every table of [`Config`] is in it.

use super::*;
use serde::de::{self, Deserializer, Visitor};

const SHIPPED: &str = include_str!("../../../../packaging/deb/porthole.toml");

/// The file with every option line (`# key = value`, `# [table]`) uncommented; `##` lines are prose.
fn uncommented() -> String {
    SHIPPED.lines().map(|l| l.strip_prefix("# ").unwrap_or(l)).collect::<Vec<_>>().join("\n")
}

/// The field names serde knows for `T` (what `deny_unknown_fields` accepts), read by asking `T` to
/// deserialize itself from a deserializer that only records them.
fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for &mut Fields {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, f: &'static [&'static str], _: V) -> Result<V::Value, Self::Error> {
            self.0 = Some(f);
            Err(de::Error::custom("recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut f = Fields(None);
    let _ = T::deserialize(&mut f);
    f.0.expect("a struct")
}

/// The keys of a table, or of every table of an array of tables, at a dotted path.
fn keys_at(doc: &toml::Table, path: &str) -> Vec<String> {
    let mut value = toml::Value::Table(doc.clone());
    for part in path.split('.') {
        value = value.get(part).cloned().unwrap_or_else(|| panic!("[{path}] is not in packaging/deb/porthole.toml"));
    }
    match value {
        toml::Value::Table(t) => t.keys().cloned().collect(),
        toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).flat_map(|t| t.keys().cloned()).collect(),
        other => panic!("[{path}] is a {}, not a table", other.type_str()),
    }
}

#[test]
fn the_shipped_file_loads_and_is_safe() {
    let c = Config::from_toml_str(SHIPPED).unwrap();
    assert!(c.listen().unwrap().ip().is_loopback(), "listen on loopback: {}", c.proxy.listen);
    assert!(c.api.keys.is_empty() && c.nodes.is_empty() && c.targets.is_empty());
    assert_eq!(c.consoleauth.store, "sqlite:///var/lib/porthole/porthole.db", "the service's StateDirectory, for root's CLI too");
}

#[test]
fn every_option_of_the_shipped_file_exists() {
    let text = uncommented();
    if let Err(e) = toml::from_str::<Config>(&text) {
        panic!("packaging/deb/porthole.toml, every option uncommented: {e}");
    }
}

#[test]
fn every_config_key_is_in_the_shipped_file() {
    let doc: toml::Table = uncommented().parse().unwrap();
    let tables: [(&str, &[&str]); 13] = [
        ("proxy", fields::<Proxy>()),
        ("vnc", fields::<Vnc>()),
        ("consoleauth", fields::<ConsoleAuth>()),
        ("nodes", fields::<Node>()),
        ("targets", fields::<Target>()),
        ("api", fields::<Api>()),
        ("api.keys", fields::<ApiKey>()),
        ("audit", fields::<Audit>()),
        ("log", fields::<Log>()),
        ("serial_console", fields::<SerialConsole>()),
        ("nova", fields::<Nova>()),
        ("metrics", fields::<Metrics>()),
        ("cluster", fields::<Cluster>()),
    ];
    for top in fields::<Config>() {
        assert!(tables.iter().any(|(t, _)| t == top), "[{top}] of config.rs: add it to `tables` here and to packaging/deb/porthole.toml");
    }
    for (table, keys) in tables {
        let shipped = keys_at(&doc, table);
        for key in keys {
            assert!(
                shipped.iter().any(|k| k == key),
                "[{table}] {key} is not in packaging/deb/porthole.toml: add it, commented, at its default"
            );
        }
    }
}
