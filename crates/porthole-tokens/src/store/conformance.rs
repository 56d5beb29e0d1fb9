//! The behaviour every [`TokenStore`] backend must show, written once and run per backend with
//! [`store_conformance_tests!`](crate::store_conformance_tests).

#![allow(missing_docs, clippy::unwrap_used)]

use super::{ConnectInfo, TokenStore};
use crate::{Error, Token};
use uuid::Uuid;

fn info(instance: Uuid, expires: i64) -> ConnectInfo {
    ConnectInfo {
        instance_uuid: instance,
        console_type: "novnc".into(),
        host: "192.0.2.10".into(),
        port: 5901,
        internal_access_path: None,
        access_url_base: "http://127.0.0.1:6080/vnc_lite.html".into(),
        expires,
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

pub async fn duplicate_hash_is_refused(store: &dyn TokenStore) {
    let t = Token::generate();
    store.insert(&t.hash(), &info(Uuid::new_v4(), 1_000)).await.unwrap();
    let again = store.insert(&t.hash(), &info(Uuid::new_v4(), 2_000)).await;
    assert!(matches!(again, Err(Error::TokenInUse)), "{again:?}");
}

pub async fn revoke_instance_removes_only_its_tokens(store: &dyn TokenStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let ta: Vec<Token> = (0..3).map(|_| Token::generate()).collect();
    for t in &ta {
        store.insert(&t.hash(), &info(a, 1_000)).await.unwrap();
    }
    let tb = Token::generate();
    store.insert(&tb.hash(), &info(b, 1_000)).await.unwrap();
    assert_eq!(store.revoke_instance(a).await.unwrap(), 3);
    for t in &ta {
        assert!(store.validate(&t.hash(), 0).await.unwrap().is_none());
    }
    assert!(store.validate(&tb.hash(), 0).await.unwrap().is_some());
    assert_eq!(store.revoke_instance(a).await.unwrap(), 0);
}

pub async fn purge_removes_expired_only(store: &dyn TokenStore) {
    let (old, edge, live) = (Token::generate(), Token::generate(), Token::generate());
    let inst = Uuid::new_v4();
    store.insert(&old.hash(), &info(inst, 10)).await.unwrap();
    store.insert(&edge.hash(), &info(inst, 20)).await.unwrap();
    store.insert(&live.hash(), &info(inst, 30)).await.unwrap();
    assert_eq!(store.purge_expired(20).await.unwrap(), 2);
    assert!(store.validate(&live.hash(), 20).await.unwrap().is_some());
    assert_eq!(store.purge_expired(20).await.unwrap(), 0);
}

pub async fn fields_round_trip(store: &dyn TokenStore) {
    let t = Token::generate();
    let mut i = info(Uuid::new_v4(), i64::from(u32::MAX) + 5);
    i.host = "2001:db8::7".into();
    i.port = u16::MAX;
    i.internal_access_path = Some("xyz".into());
    i.access_url_base = "https://console.example.com/vnc_auto.html?path=a%2Fb".into();
    store.insert(&t.hash(), &i).await.unwrap();
    assert_eq!(store.validate(&t.hash(), 0).await.unwrap(), Some(i));
}

/// Expands to one `#[tokio::test]` per conformance case; `$make` is an async expression that
/// builds a fresh, empty store.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@cases $make;
            insert_then_validate, expiry_is_strict, duplicate_hash_is_refused,
            revoke_instance_removes_only_its_tokens, purge_removes_expired_only, fields_round_trip);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make;
                $crate::store::conformance::$case(&store).await;
            }
        )*
    };
}
