//! Store URLs of Nova's database: `nova+` in front of Nova's own `[database] connection` (an
//! SQLAlchemy URL such as `mysql+pymysql://nova:PW@db/nova?charset=utf8`), turned into what sqlx
//! connects to. The driver part (`+pymysql`, `+psycopg2`) is dropped; PyMySQL's `unix_socket`
//! becomes sqlx's `socket`; a missing host (a socket-only URL) becomes `localhost`.

use crate::{Error, Result};

/// The prefix that names Nova's database as the token store.
pub(crate) const PREFIX: &str = "nova+";

/// Which database server Nova's tables are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// MySQL or MariaDB (Nova's usual database).
    MySql,
    /// PostgreSQL.
    Postgres,
}

/// Whether a `[consoleauth] store` URL names Nova's database.
pub fn is_nova_url(url: &str) -> bool {
    url.starts_with(PREFIX)
}

/// The dialect and the URL sqlx takes, from `nova+DIALECT[+DRIVER]://…`.
pub(crate) fn parse(url: &str) -> Result<(Dialect, String)> {
    let refuse = |reason: &str| Error::StoreUrl { url: super::super::redact(url), reason: reason.to_owned() };
    let rest = url.strip_prefix(PREFIX).ok_or_else(|| refuse("a Nova store URL starts with nova+"))?;
    let (scheme, tail) = rest.split_once("://").ok_or_else(|| refuse("expected nova+mysql://… or nova+postgresql://…"))?;
    let dialect_name = scheme.split('+').next().unwrap_or_default().to_ascii_lowercase();
    let dialect = match dialect_name.as_str() {
        "mysql" | "mariadb" => Dialect::MySql,
        "postgresql" | "postgres" => Dialect::Postgres,
        other => return Err(refuse(&format!("Nova's database must be MySQL/MariaDB or PostgreSQL, not {other:?}"))),
    };
    let tail = with_host(tail);
    let converted = match dialect {
        Dialect::MySql => format!("mysql://{}", mysql_query(&tail)),
        Dialect::Postgres => format!("postgres://{tail}"),
    };
    Ok((dialect, converted))
}

/// `user:pw@/db` (SQLAlchemy's socket-only form) has no host; sqlx's URL parser wants one.
fn with_host(tail: &str) -> String {
    let (authority, path) = match tail.find('/') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    if authority.is_empty() || authority.ends_with('@') {
        format!("{authority}localhost{path}")
    } else {
        tail.to_owned()
    }
}

/// PyMySQL's `unix_socket=PATH` is sqlx's `socket=PATH`; every other parameter passes (sqlx ignores
/// the ones it does not know, such as PyMySQL's `read_timeout`).
fn mysql_query(tail: &str) -> String {
    let Some((before, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.strip_prefix("unix_socket=") {
            Some(path) => format!("socket={path}"),
            None => kv.to_owned(),
        })
        .collect();
    format!("{before}?{}", params.join("&"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nova_connection_strings_become_sqlx_urls() {
        let cases = [
            (
                "nova+mysql+pymysql://nova:pw@db.example.com/nova?charset=utf8",
                Dialect::MySql,
                "mysql://nova:pw@db.example.com/nova?charset=utf8",
            ),
            ("nova+mysql://nova:pw@127.0.0.1:3307/nova", Dialect::MySql, "mysql://nova:pw@127.0.0.1:3307/nova"),
            ("nova+mariadb+pymysql://nova@db/nova", Dialect::MySql, "mysql://nova@db/nova"),
            (
                "nova+mysql+pymysql://nova:pw@/nova?unix_socket=/run/mysqld/mysqld.sock&charset=utf8",
                Dialect::MySql,
                "mysql://nova:pw@localhost/nova?socket=/run/mysqld/mysqld.sock&charset=utf8",
            ),
            ("nova+postgresql+psycopg2://nova:pw@db:5433/nova", Dialect::Postgres, "postgres://nova:pw@db:5433/nova"),
            ("nova+postgres://nova@db/nova?sslmode=disable", Dialect::Postgres, "postgres://nova@db/nova?sslmode=disable"),
            ("nova+postgresql:///nova?host=/run/postgresql", Dialect::Postgres, "postgres://localhost/nova?host=/run/postgresql"),
        ];
        for (url, dialect, want) in cases {
            assert_eq!(parse(url).unwrap(), (dialect, want.to_owned()), "{url}");
        }
    }

    #[test]
    fn other_databases_are_refused_without_the_password() {
        for url in ["nova+sqlite:////var/lib/nova/nova.sqlite", "nova+oracle://nova:s3cret@db/nova", "nova+mysql:nova"] {
            let e = parse(url).unwrap_err().to_string();
            assert!(e.contains("unsupported token store URL") && !e.contains("s3cret"), "{e}");
        }
        assert!(is_nova_url("nova+mysql://x@y/z") && !is_nova_url("mysql://x@y/z"));
    }
}
