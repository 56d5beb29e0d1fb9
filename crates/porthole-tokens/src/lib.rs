//! Console tokens: the short-lived bearer secrets that open one VM console.
//!
//! A token is minted with at least 256 random bits, handed to the user once inside an access URL,
//! and stored only as its SHA-256 next to the connect info the proxy needs (endpoint, instance,
//! console type, access URL base, expiry). This crate owns that life cycle; the proxy and the API
//! only call [`ConsoleAuth`].
//!
//! # Layout
//! - [`token`]: the secret [`Token`] and its [`TokenHash`].
//! - [`access_url`]: Nova's access URL format (`…?path=%3Ftoken%3D<token>`).
//! - [`clock`]: the time source, pausable in tests.
//! - [`record`]: what is stored with a token ([`ConnectInfo`]: console type, typed endpoint,
//!   expiry) and what a lookup finds ([`Lookup`]).
//! - [`store`]: the [`TokenStore`] trait, its SQLite, PostgreSQL and memory backends, their pool
//!   options, and the conformance suite. Schemas: `migrations/{sqlite,postgres}/`.
//! - [`cluster`]: what processes sharing one store tell each other: sessions (live and history)
//!   and events (revocations, sessions to end), [`ClusterStore`].
//! - [`auth`]: [`ConsoleAuth`], minting, validation, revocation and the purge task.
//! - [`error`]: the crate's error type; [`Error::Unavailable`] is the store being down.

#![warn(missing_docs)]

pub mod access_url;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod record;
pub mod store;
pub mod token;

pub use auth::ConsoleAuth;
pub use clock::Clock;
pub use cluster::{open_cluster, ClusterEvent, ClusterStore, SessionRecord};
pub use error::{Error, Result, Unavailable};
pub use record::{ConnectInfo, ConsoleType, Lookup, TokenEndpoint};
pub use store::{open_store, StoreOptions, TokenStore};
pub use token::{Token, TokenHash};
