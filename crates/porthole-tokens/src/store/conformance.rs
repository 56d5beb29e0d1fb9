//! The behaviour every [`TokenStore`] backend must show, written once and run per backend with
//! [`store_conformance_tests!`](crate::store_conformance_tests).

#![allow(missing_docs, clippy::unwrap_used)]

use super::{ConnectInfo, ConsoleType, Lookup, TokenEndpoint, TokenStore};
use crate::{Error, Token};
use uuid::Uuid;

fn info(instance: Uuid, expires: i64) -> ConnectInfo {
    ConnectInfo {
        instance_uuid: instance,
        console_type: ConsoleType::Novnc,
        endpoint: TokenEndpoint::Tcp { host: "192.0.2.10".into(), port: 5901 },
        internal_access_path: None,
        access_url_base: "http://127.0.0.1:6080/vnc_lite.html".into(),
        expires,
        view_only: false,
        minted_by: None,
    }
}

pub async fn insert_then_validate(store: &dyn TokenStore) {
    let t = Token::generate();
    let i = info(Uuid::new_v4(), 1_000);
    store.insert(&t.hash(), &i).await.unwrap();
    assert_eq!(store.validate(&t.hash(), 999).await.unwrap(), Some(i));
    assert_eq!(store.validate(&Token::generate().hash(), 999).await.unwrap(), None);
}

pub async fn expiry_is_strict(store: &dyn TokenStore) {
    let t = Token::generate();
    store.insert(&t.hash(), &info(Uuid::new_v4(), 1_000)).await.unwrap();
    assert!(store.validate(&t.hash(), 999).await.unwrap().is_some());
    assert!(store.validate(&t.hash(), 1_000).await.unwrap().is_none());
    assert!(store.validate(&t.hash(), 1_001).await.unwrap().is_none());
}

pub async fn lookup_says_why(store: &dyn TokenStore) {
    let (valid, expired, revoked) = (Token::generate(), Token::generate(), Token::generate());
    let live = info(Uuid::new_v4(), 1_000);
    store.insert(&valid.hash(), &live).await.unwrap();
    store.insert(&expired.hash(), &info(Uuid::new_v4(), 500)).await.unwrap();
    let gone = Uuid::new_v4();
    store.insert(&revoked.hash(), &info(gone, 1_000)).await.unwrap();
    store.revoke_instance(gone, 400).await.unwrap();
    assert_eq!(store.lookup(&valid.hash(), 500).await.unwrap(), Lookup::Valid(live));
    assert_eq!(store.lookup(&expired.hash(), 500).await.unwrap(), Lookup::Expired);
    assert_eq!(store.lookup(&revoked.hash(), 500).await.unwrap(), Lookup::Revoked);
    assert_eq!(store.lookup(&Token::generate().hash(), 500).await.unwrap(), Lookup::Unknown);
    // Revoked wins over expired: the reason a person is shown stays "reset by an administrator".
    assert_eq!(store.lookup(&revoked.hash(), 2_000).await.unwrap(), Lookup::Revoked);
}

pub async fn duplicate_hash_is_refused(store: &dyn TokenStore) {
    let t = Token::generate();
    store.insert(&t.hash(), &info(Uuid::new_v4(), 1_000)).await.unwrap();
    let again = store.insert(&t.hash(), &info(Uuid::new_v4(), 2_000)).await;
    assert!(matches!(again, Err(Error::TokenInUse)), "{again:?}");
}

pub async fn revoke_instance_marks_only_its_tokens(store: &dyn TokenStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let ta: Vec<Token> = (0..3).map(|_| Token::generate()).collect();
    for t in &ta {
        store.insert(&t.hash(), &info(a, 1_000)).await.unwrap();
    }
    let tb = Token::generate();
    store.insert(&tb.hash(), &info(b, 1_000)).await.unwrap();
    assert_eq!(store.revoke_instance(a, 10).await.unwrap(), 3);
    for t in &ta {
        assert_eq!(store.lookup(&t.hash(), 0).await.unwrap(), Lookup::Revoked);
        assert!(store.validate(&t.hash(), 0).await.unwrap().is_none());
    }
    assert!(store.validate(&tb.hash(), 0).await.unwrap().is_some());
    assert_eq!(store.revoke_instance(a, 20).await.unwrap(), 0, "already revoked tokens are not counted again");
    // A token minted after the revoke is valid.
    let later = Token::generate();
    store.insert(&later.hash(), &info(a, 1_000)).await.unwrap();
    assert!(store.validate(&later.hash(), 30).await.unwrap().is_some());
}

pub async fn purge_removes_expired_only(store: &dyn TokenStore) {
    let (old, edge, live, revoked_live, revoked_old) =
        (Token::generate(), Token::generate(), Token::generate(), Token::generate(), Token::generate());
    let (inst, gone) = (Uuid::new_v4(), Uuid::new_v4());
    store.insert(&old.hash(), &info(inst, 10)).await.unwrap();
    store.insert(&edge.hash(), &info(inst, 20)).await.unwrap();
    store.insert(&live.hash(), &info(inst, 30)).await.unwrap();
    store.insert(&revoked_live.hash(), &info(gone, 30)).await.unwrap();
    store.insert(&revoked_old.hash(), &info(gone, 15)).await.unwrap();
    store.revoke_instance(gone, 5).await.unwrap();
    assert_eq!(store.purge_expired(20).await.unwrap(), 3);
    assert!(store.validate(&live.hash(), 20).await.unwrap().is_some());
    assert_eq!(store.lookup(&revoked_live.hash(), 20).await.unwrap(), Lookup::Revoked, "revoked, not yet expired: kept");
    assert_eq!(store.lookup(&revoked_old.hash(), 20).await.unwrap(), Lookup::Unknown);
    assert_eq!(store.lookup(&old.hash(), 20).await.unwrap(), Lookup::Unknown);
    assert_eq!(store.purge_expired(20).await.unwrap(), 0);
}

pub async fn fields_round_trip(store: &dyn TokenStore) {
    let t = Token::generate();
    let mut i = info(Uuid::new_v4(), i64::from(u32::MAX) + 5);
    i.endpoint = TokenEndpoint::Tcp { host: "2001:db8::7".into(), port: u16::MAX };
    i.internal_access_path = Some("xyz".into());
    i.access_url_base = "https://console.example.com/vnc_auto.html?path=a%2Fb".into();
    i.view_only = true;
    i.minted_by = Some("ops-key".into());
    store.insert(&t.hash(), &i).await.unwrap();
    assert_eq!(store.validate(&t.hash(), 0).await.unwrap(), Some(i));
}

pub async fn endpoints_and_console_types_round_trip(store: &dyn TokenStore) {
    let cases = [
        (ConsoleType::Novnc, TokenEndpoint::Tcp { host: "127.0.0.1".into(), port: 1 }),
        (ConsoleType::Novnc, TokenEndpoint::GraphicsFd { node: "kvm-1".into() }),
        (ConsoleType::Serial, TokenEndpoint::ConsoleStream { node: "kvm-1".into() }),
    ];
    for (console_type, endpoint) in cases {
        let t = Token::generate();
        let i = ConnectInfo { console_type, endpoint, ..info(Uuid::new_v4(), 1_000) };
        store.insert(&t.hash(), &i).await.unwrap();
        assert_eq!(store.lookup(&t.hash(), 0).await.unwrap(), Lookup::Valid(i));
    }
}

pub async fn healthy_when_open(store: &dyn TokenStore) {
    store.health().await.unwrap();
}

/// Expands to one `#[tokio::test]` per conformance case; `$make` is an async expression that
/// builds a fresh, empty store. Attributes after it (such as `#[ignore = "needs PostgreSQL"]`)
/// go on every test.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::store_conformance_tests!(@cases [$(#[$attr])*] $make;
            insert_then_validate, expiry_is_strict, lookup_says_why, duplicate_hash_is_refused,
            revoke_instance_marks_only_its_tokens, purge_removes_expired_only, fields_round_trip,
            endpoints_and_console_types_round_trip, healthy_when_open);
    };
    (@cases $attrs:tt $make:expr; $($case:ident),*) => {
        $( $crate::store_conformance_tests!(@case $attrs $make; $case); )*
    };
    (@case [$(#[$attr:meta])*] $make:expr; $case:ident) => {
        #[tokio::test]
        $(#[$attr])*
        async fn $case() {
            let store = $make;
            $crate::store::conformance::$case(&store).await;
        }
    };
}
