//! The Nova store: Nova's rules on rows (no database), then against Nova's real tables on MariaDB
//! and PostgreSQL (`scripts/nova-up.sh` creates them from Nova's own models and prints the URLs).

#![allow(clippy::unwrap_used)]

use super::*;
use crate::Token;

fn row(expires: i32) -> Row {
    Row {
        instance_uuid: "0b0d3c58-2d5c-4f7a-9d2b-6a8f8f5f3e11".into(),
        console_type: "novnc".into(),
        host: "127.0.0.11".into(),
        port: 5901,
        internal_access_path: None,
        access_url_base: Some("https://cloud.example.com:6080/vnc_lite.html".into()),
        expires,
        live_instance: Some("0b0d3c58-2d5c-4f7a-9d2b-6a8f8f5f3e11".into()),
    }
}

#[test]
fn a_row_maps_onto_connect_info() {
    let Lookup::Valid(info) = row(1_000).lookup(999).unwrap() else { panic!("not valid") };
    assert_eq!(info.instance_uuid, Uuid::parse_str("0b0d3c58-2d5c-4f7a-9d2b-6a8f8f5f3e11").unwrap());
    assert_eq!(info.console_type, ConsoleType::Novnc);
    assert_eq!(info.endpoint, TokenEndpoint::Tcp { host: "127.0.0.11".into(), port: 5901 });
    assert_eq!(info.access_url_base, "https://cloud.example.com:6080/vnc_lite.html");
    assert_eq!((info.internal_access_path, info.expires), (None, 1_000));
}

#[test]
fn nova_rules_expiry_then_instance_then_type() {
    // Valid while expires > now (Nova's query), expired at expires == now.
    assert_eq!(row(1_000).lookup(1_000).unwrap(), Lookup::Expired);
    let deleted_instance = Row { live_instance: None, ..row(1_000) };
    assert_eq!(deleted_instance.lookup(10).unwrap(), Lookup::Revoked);
    assert_eq!(Row { live_instance: None, ..row(1_000) }.lookup(2_000).unwrap(), Lookup::Expired);
    for other in ["spice-html5", "serial", "webmks", "spice-direct"] {
        assert_eq!(Row { console_type: other.into(), ..row(1_000) }.lookup(10).unwrap(), Lookup::Unknown, "{other}");
    }
    let legacy = Row { internal_access_path: Some("/xvp?token=1".into()), access_url_base: None, ..row(1_000) };
    let info = legacy.lookup(10).unwrap().valid().unwrap();
    assert_eq!((info.internal_access_path.as_deref(), info.access_url_base.as_str()), (Some("/xvp?token=1"), ""));
    assert!(matches!(Row { port: 70_000, ..row(1_000) }.lookup(10), Err(Error::Decode(_))));
}

/// Rows in a database whose tables Nova's models created, written with plain SQL.
struct Fixture {
    store: NovaStore,
    url: String,
}

impl Fixture {
    async fn new(var: &str) -> Fixture {
        let url = std::env::var(var)
            .unwrap_or_else(|_| panic!("{var} is not set: `eval $(scripts/nova-up.sh)` creates Nova's tables and sets it"));
        let store = NovaStore::open(&url, &StoreOptions::default()).await.expect("opening Nova's database");
        Fixture { store, url }
    }

    async fn exec(&self, sql: &str) {
        match &self.store.db {
            Db::MySql(pool) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
            Db::Postgres(pool) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
        }
    }

    /// An instance row, as Nova's `Instance.create()` leaves it (`deleted = 0`).
    async fn instance(&self) -> Uuid {
        let uuid = Uuid::new_v4();
        self.exec(&format!("INSERT INTO instances (uuid, deleted, project_id, user_id) VALUES ('{uuid}', 0, 'p', 'u')")).await;
        uuid
    }

    /// A token row as `ConsoleAuthToken.authorize` writes it; returns the token (a uuid4, as Nova's).
    async fn token(&self, instance: Uuid, console_type: &str, port: u16, expires: i64) -> Token {
        let token = Token::from_presented(&Uuid::new_v4().to_string());
        self.exec(&format!(
            "INSERT INTO console_auth_tokens (token_hash, console_type, host, port, instance_uuid, expires, access_url_base) \
             VALUES ('{}', '{console_type}', '127.0.0.7', {port}, '{instance}', {expires}, 'http://127.0.0.1:6080/vnc_lite.html')",
            token.hash().as_str()
        ))
        .await;
        token
    }
}

async fn reads_nova_tokens_by_nova_rules(var: &str) {
    let f = Fixture::new(var).await;
    let now = 1_800_000_000;
    let (a, b) = (f.instance().await, f.instance().await);
    let valid = f.token(a, "novnc", 5907, now + 600).await;
    let expired = f.token(a, "novnc", 5907, now).await;
    let spice = f.token(a, "spice-html5", 5907, now + 600).await;
    let of_b = f.token(b, "novnc", 5908, now + 600).await;
    let Lookup::Valid(info) = f.store.lookup(&valid.hash(), now).await.unwrap() else { panic!("a valid Nova token was refused") };
    assert_eq!((info.instance_uuid, info.endpoint.clone()), (a, TokenEndpoint::Tcp { host: "127.0.0.7".into(), port: 5907 }));
    assert_eq!((info.expires, info.access_url_base.as_str()), (now + 600, "http://127.0.0.1:6080/vnc_lite.html"));
    assert_eq!(f.store.lookup(&expired.hash(), now).await.unwrap(), Lookup::Expired);
    assert!(f.store.lookup(&expired.hash(), now - 1).await.unwrap().valid().is_some(), "valid while expires > now");
    assert_eq!(f.store.lookup(&spice.hash(), now).await.unwrap(), Lookup::Unknown);
    assert_eq!(f.store.lookup(&Token::generate().hash(), now).await.unwrap(), Lookup::Unknown);
    // Nova deletes an instance's tokens (instance deleted, live-migrated): unknown from then on.
    f.exec(&format!("DELETE FROM console_auth_tokens WHERE instance_uuid = '{b}'")).await;
    assert_eq!(f.store.lookup(&of_b.hash(), now).await.unwrap(), Lookup::Unknown);
    // A soft-deleted instance (deleted = id): Nova's proxy refuses its tokens.
    f.exec(&format!("UPDATE instances SET deleted = id WHERE uuid = '{a}'")).await;
    assert_eq!(f.store.lookup(&valid.hash(), now).await.unwrap(), Lookup::Revoked);
}

async fn refuses_every_write(var: &str) {
    let f = Fixture::new(var).await;
    let a = f.instance().await;
    let t = f.token(a, "novnc", 5907, 2_000_000_000).await;
    let info = f.store.lookup(&t.hash(), 0).await.unwrap().valid().unwrap();
    let e = f.store.insert(&Token::generate().hash(), &info).await.unwrap_err();
    assert!(e.is_read_only() && e.to_string().contains("Nova mints and purges"), "{e}");
    assert!(f.store.revoke_instance(a, 0).await.unwrap_err().is_read_only());
    assert!(f.store.purge_expired(i64::MAX).await.unwrap_err().is_read_only());
    assert_eq!(f.store.lookup(&t.hash(), 0).await.unwrap(), Lookup::Valid(info), "nothing was written");
    f.store.health().await.unwrap();
}

async fn a_database_that_is_not_novas_says_so(var: &str, other_db: &str) {
    let f = Fixture::new(var).await;
    let mut url = ::url::Url::parse(&f.url).unwrap();
    url.set_path(other_db);
    let e = NovaStore::open(url.as_str(), &StoreOptions::default()).await.unwrap_err().to_string();
    assert!(e.contains("console_auth_tokens") && e.contains("Nova's cell database"), "{e}");
}

async fn a_wrong_password_is_not_shown(var: &str) {
    let f = Fixture::new(var).await;
    let mut url = ::url::Url::parse(&f.url).unwrap();
    url.set_username("porthole_nobody").unwrap();
    url.set_password(Some("s3cret-wrong")).unwrap();
    let e = NovaStore::open(url.as_str(), &StoreOptions::default()).await.unwrap_err().to_string();
    assert!(!e.contains("s3cret-wrong") && e.contains("***"), "{e}");
}

macro_rules! on_database {
    ($module:ident, $var:literal, $other_db:literal, $needs:literal) => {
        mod $module {
            #[tokio::test]
            #[ignore = $needs]
            async fn reads_nova_tokens_by_nova_rules() {
                super::reads_nova_tokens_by_nova_rules($var).await;
            }
            #[tokio::test]
            #[ignore = $needs]
            async fn refuses_every_write() {
                super::refuses_every_write($var).await;
            }
            #[tokio::test]
            #[ignore = $needs]
            async fn a_database_that_is_not_novas_says_so() {
                super::a_database_that_is_not_novas_says_so($var, $other_db).await;
            }
            #[tokio::test]
            #[ignore = $needs]
            async fn a_wrong_password_is_not_shown() {
                super::a_wrong_password_is_not_shown($var).await;
            }
        }
    };
}

on_database!(mariadb, "PORTHOLE_TEST_NOVA_MYSQL_URL", "/mysql", "needs MariaDB");
on_database!(postgres, "PORTHOLE_TEST_NOVA_POSTGRES_URL", "/postgres", "needs PostgreSQL");
