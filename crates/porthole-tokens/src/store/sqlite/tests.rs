//! SQLite only: the conformance suite in memory and on a WAL file, upgrading a database made by
//! the first release, a file deleted or replaced under the store, and many writers at once.

#![allow(clippy::unwrap_used)]

use super::SqliteStore;
use crate::store::{ConnectInfo, ConsoleType, Lookup, StoreOptions, TokenEndpoint, TokenStore};
use crate::{Error, Token, TokenHash, Unavailable};
use sqlx::Connection as _;
use std::path::Path;
use uuid::Uuid;

crate::store_conformance_tests!(SqliteStore::open("sqlite::memory:", &StoreOptions::default()).await.unwrap());

mod on_disk {
    // The same suite on a WAL file, as `serve` uses it.
    crate::store_conformance_tests!({
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = super::SqliteStore::open(&url, &super::StoreOptions::default()).await.unwrap();
        std::mem::forget(dir);
        store
    });
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(&url(path), &StoreOptions::default()).await.unwrap()
}

fn info(instance: Uuid) -> ConnectInfo {
    ConnectInfo {
        instance_uuid: instance,
        console_type: ConsoleType::Novnc,
        endpoint: TokenEndpoint::Tcp { host: "127.0.0.1".into(), port: 5901 },
        internal_access_path: None,
        access_url_base: "http://127.0.0.1:6080/vnc_lite.html".into(),
        expires: i64::MAX,
        view_only: false,
        minted_by: None,
    }
}

/// Exactly what the first release ran at every open (store/sqlite.rs before migrations).
const FIRST_RELEASE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS console_auth_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    internal_access_path TEXT,
    access_url_base TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_auth_tokens_instance ON console_auth_tokens (instance_uuid);
CREATE INDEX IF NOT EXISTS console_auth_tokens_expires ON console_auth_tokens (expires);
";

#[tokio::test]
async fn a_first_release_database_upgrades_in_place_with_its_tokens_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("porthole.db");
    let (tcp, fd, gone) = (Token::generate(), Token::generate(), Token::generate());
    let (vm, fd_vm) = (Uuid::new_v4(), Uuid::new_v4());
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::raw_sql(FIRST_RELEASE_SCHEMA).execute(&mut conn).await.unwrap();
        let insert = "INSERT INTO console_auth_tokens (token_hash, instance_uuid, console_type, host, port, \
                      internal_access_path, access_url_base, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        for (t, uuid, host, port, expires) in [
            (&tcp, vm, "192.0.2.10", 5907, 4_000_000_000_i64),
            (&fd, fd_vm, "graphics-fd://local", 0, 4_000_000_000),
            (&gone, vm, "192.0.2.10", 5907, 1_000),
        ] {
            sqlx::query(insert)
                .bind(t.hash().as_str())
                .bind(uuid.to_string())
                .bind("novnc")
                .bind(host)
                .bind(port)
                .bind(None::<String>)
                .bind("http://127.0.0.1:6080/vnc_lite.html")
                .bind(expires)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }

    let store = open(&path).await;
    let now = 2_000_000_000;
    let Lookup::Valid(i) = store.lookup(&tcp.hash(), now).await.unwrap() else { panic!("the TCP token is no longer valid") };
    assert_eq!(i.endpoint, TokenEndpoint::Tcp { host: "192.0.2.10".into(), port: 5907 });
    assert_eq!((i.instance_uuid, i.console_type, i.expires), (vm, ConsoleType::Novnc, 4_000_000_000));
    let Lookup::Valid(i) = store.lookup(&fd.hash(), now).await.unwrap() else { panic!("the graphics-fd token is no longer valid") };
    assert_eq!(i.endpoint, TokenEndpoint::GraphicsFd { node: "local".into() });
    assert_eq!(i.instance_uuid, fd_vm);
    assert_eq!(store.lookup(&gone.hash(), now).await.unwrap(), Lookup::Expired);
    // Soft revocation works on upgraded rows, and opening again changes nothing.
    assert_eq!(store.revoke_instance(vm, now).await.unwrap(), 2);
    drop(store);
    let store = open(&path).await;
    assert_eq!(store.lookup(&tcp.hash(), now).await.unwrap(), Lookup::Revoked);
    assert!(store.validate(&fd.hash(), now).await.unwrap().is_some());
}

fn assert_unavailable<T: std::fmt::Debug>(r: crate::Result<T>, want: fn(&Unavailable) -> bool) {
    match r {
        Err(Error::Unavailable(u)) if want(&u) => {}
        other => panic!("expected the store to be unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_file_is_noticed_and_never_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("porthole.db");
    let store = open(&path).await;
    let t = Token::generate();
    store.insert(&t.hash(), &info(Uuid::new_v4())).await.unwrap();
    store.health().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("porthole.db{suffix}")));
    }
    let deleted = |u: &Unavailable| matches!(u, Unavailable::FileDeleted { .. });
    assert_unavailable(store.health().await, deleted);
    assert_unavailable(store.insert(&Token::generate().hash(), &info(Uuid::new_v4())).await, deleted);
    assert_unavailable(store.lookup(&t.hash(), 0).await, deleted);
    assert_unavailable(store.revoke_instance(Uuid::new_v4(), 0).await, deleted);
    assert_unavailable(store.purge_expired(0).await, deleted);
    assert!(!path.exists(), "the store must not create a new, empty file behind the deleted one");
    let message = store.health().await.unwrap_err().to_string();
    assert!(message.contains("was deleted") && message.contains("porthole.db"), "{message}");
}

#[tokio::test]
async fn a_replaced_file_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("porthole.db");
    let store = open(&path).await;
    let t = Token::generate();
    store.insert(&t.hash(), &info(Uuid::new_v4())).await.unwrap();
    // Another store file moved over it (as a restore from backup, or a second `serve` elsewhere, would).
    let other = dir.path().join("other.db");
    drop(open(&other).await);
    std::fs::rename(&other, &path).unwrap();
    let replaced = |u: &Unavailable| matches!(u, Unavailable::FileReplaced { .. });
    assert_unavailable(store.health().await, replaced);
    assert_unavailable(store.lookup(&t.hash(), 0).await, replaced);
    assert_unavailable(store.insert(&Token::generate().hash(), &info(Uuid::new_v4())).await, replaced);
    // (What a store opened now sees is up to SQLite: the old file's -wal still lies beside the new
    // file and is read with it. Replacing a live database file is unsafe whatever Porthole does.)
}

#[tokio::test]
async fn stores_open_inside_spawned_tasks() {
    // `open` is called from spawned tasks (reloads, tests): its future must be `Send` for any borrow.
    let memory = tokio::spawn(async { SqliteStore::open("sqlite::memory:", &StoreOptions::default()).await });
    assert!(memory.await.unwrap().unwrap().path().is_none());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let url = url(&path);
    let file = tokio::spawn(async move { SqliteStore::open(&url, &StoreOptions::default()).await });
    assert_eq!(file.await.unwrap().unwrap().path(), Some(path.as_path()));
}

#[tokio::test]
async fn a_store_path_in_a_missing_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(&url(&dir.path().join("no/such/dir/p.db")), &StoreOptions::default()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("does its directory exist"), "{err}");
}

/// Mints spread over this many stores (each its own pool, as separate processes have).
const STORES: usize = 8;
/// Concurrent mints in all.
const MINTS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_concurrent_mints_over_eight_pools_never_see_a_locked_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("porthole.db");
    // Eight stores opened at once on a new file: the schema is created once, without a race.
    let opens = (0..STORES).map(|_| {
        let url = url(&path);
        tokio::spawn(async move { SqliteStore::open(&url, &StoreOptions::default()).await })
    });
    let mut stores = Vec::new();
    for h in opens {
        stores.push(h.await.unwrap().unwrap());
    }
    let mints = (0..MINTS).map(|n| {
        let store = stores[n % STORES].clone();
        tokio::spawn(async move {
            let hash = Token::generate().hash();
            store.insert(&hash, &info(Uuid::new_v4())).await.map(|()| hash)
        })
    });
    let mut hashes: Vec<TokenHash> = Vec::new();
    let mut failures = Vec::new();
    for h in mints {
        match h.await.unwrap() {
            Ok(hash) => hashes.push(hash),
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{} of {MINTS} mints failed, first: {:?}", failures.len(), failures.first());
    for (n, hash) in hashes.iter().enumerate() {
        assert!(stores[(n + 1) % STORES].validate(hash, 0).await.unwrap().is_some());
    }
}
