//! A store in process memory: for tests (paused time) and throwaway runs; tokens die with the process.

use super::{ConnectInfo, TokenStore};
use crate::{Error, Result, TokenHash};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// A [`TokenStore`] in a `HashMap`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<HashMap<TokenHash, ConnectInfo>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<TokenHash, ConnectInfo>) -> T) -> Result<T> {
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
            m.insert(hash.clone(), info.clone());
            Ok(())
        })?
    }

    async fn validate(&self, hash: &TokenHash, now: i64) -> Result<Option<ConnectInfo>> {
        self.with(|m| m.get(hash).filter(|i| i.expires > now).cloned())
    }

    async fn revoke_instance(&self, instance: Uuid) -> Result<u64> {
        self.with(|m| retain_count(m, |i| i.instance_uuid != instance))
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.with(|m| retain_count(m, |i| i.expires > now))
    }
}

fn retain_count(m: &mut HashMap<TokenHash, ConnectInfo>, keep: impl Fn(&ConnectInfo) -> bool) -> u64 {
    let before = m.len();
    m.retain(|_, i| keep(i));
    (before - m.len()) as u64
}

#[cfg(test)]
mod tests {
    crate::store_conformance_tests!(super::MemoryStore::new());
}
