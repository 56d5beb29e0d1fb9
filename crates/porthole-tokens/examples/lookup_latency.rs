//! Token lookup latency of one store: inserts `TOKENS` tokens, then looks up random ones one
//! after another from a single task and prints p50/p99/max. Usage:
//!
//! ```text
//! cargo run --release -p porthole-tokens --example lookup_latency -- sqlite:///tmp/x.db [LOOKUPS]
//! cargo run --release -p porthole-tokens --example lookup_latency -- "$PORTHOLE_TEST_POSTGRES_URL" [LOOKUPS]
//! ```
//! A PostgreSQL URL gets a fresh schema of its own (dropped never: use a throwaway server).

use porthole_tokens::store::{open_store, scratch_schema, StoreOptions};
use porthole_tokens::{ConnectInfo, ConsoleType, Token, TokenEndpoint};
use std::time::{Duration, Instant};

/// Tokens stored before measuring.
const TOKENS: usize = 10_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: lookup_latency STORE_URL [LOOKUPS]")?;
    let lookups: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(20_000);
    let url = if url.starts_with("postgres") { scratch_schema(&url).await? } else { url };
    let store = open_store(&url, &StoreOptions::default()).await?;
    let mut hashes = Vec::with_capacity(TOKENS);
    for n in 0..TOKENS {
        let t = Token::generate();
        let info = ConnectInfo {
            instance_uuid: uuid::Uuid::new_v4(),
            console_type: ConsoleType::Novnc,
            endpoint: TokenEndpoint::Tcp { host: "127.0.0.1".into(), port: 5900 + (n % 100) as u16 },
            internal_access_path: None,
            access_url_base: "http://127.0.0.1:6080/vnc_lite.html".into(),
            expires: i64::MAX,
            view_only: false,
            minted_by: None,
        };
        store.insert(&t.hash(), &info).await?;
        hashes.push(t.hash());
    }
    let mut took: Vec<Duration> = Vec::with_capacity(lookups);
    for n in 0..lookups {
        let hash = &hashes[(n * 7919) % TOKENS];
        let start = Instant::now();
        let found = store.validate(hash, 0).await?;
        took.push(start.elapsed());
        assert!(found.is_some(), "a stored token was not found");
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "{}: {lookups} lookups over {TOKENS} tokens: p50 {:?} p99 {:?} max {:?}",
        url.split(':').next().unwrap_or("?"),
        at(0.50),
        at(0.99),
        took[took.len() - 1]
    );
    Ok(())
}
