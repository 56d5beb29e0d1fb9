//! A store in process memory: for tests (paused time) and throwaway runs; tokens die with the process.

use super::{ConnectInfo, Lookup, TokenStore};
use crate::{Error, Result, TokenHash};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// A stored token: its connect info and when it was revoked, if it was.
#[derive(Debug)]
struct Row {
    info: ConnectInfo,
    revoked_at: Option<i64>,
}

/// A [`TokenStore`] in a `HashMap`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<HashMap<TokenHash, Row>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<TokenHash, Row>) -> T) -> Result<T> {
        let mut map = self.tokens.lock().map_err(|_| Error::Backend("memory store poisoned".into()))?;
        Ok(f(&mut map))
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn insert(&self, hash: &TokenHash, info: &ConnectInfo) -> Result<()> {
        self.with(|m| {
            if m.contains_key(hash) {
                return Err(Error::TokenInUse);
            }
            m.insert(hash.clone(), Row { info: info.clone(), revoked_at: None });
            Ok(())
        })?
    }

    async fn lookup(&self, hash: &TokenHash, now: i64) -> Result<Lookup> {
        self.with(|m| match m.get(hash) {
            Some(row) => Lookup::of_row(row.info.clone(), row.revoked_at, now),
            None => Lookup::Unknown,
        })
    }

    async fn revoke_instance(&self, instance: Uuid, now: i64) -> Result<u64> {
        self.with(|m| {
            let mut n = 0;
            for row in m.values_mut().filter(|r| r.info.instance_uuid == instance && r.revoked_at.is_none()) {
                row.revoked_at = Some(now);
                n += 1;
            }
            n
        })
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.with(|m| {
            let before = m.len();
            m.retain(|_, r| r.info.expires > now);
            (before - m.len()) as u64
        })
    }

    async fn health(&self) -> Result<()> {
        self.with(|_| ())
    }
}

#[cfg(test)]
mod tests {
    crate::store_conformance_tests!(super::MemoryStore::new());
}
