//! Console tokens: the short-lived bearer secrets that open one VM console.
//!
//! A token is minted with at least 256 random bits, handed to the user once inside an access URL,
//! and stored only as its SHA-256 next to the connect info the proxy needs (host, port, instance,
//! console type, access URL base, expiry). This crate owns that life cycle; the proxy and the API
//! only call [`ConsoleAuth`].
//!
//! # Layout
//! - [`token`]: the secret [`Token`] and its [`TokenHash`].
//! - [`access_url`]: Nova's access URL format (`…?path=%3Ftoken%3D<token>`).
//! - [`clock`]: the time source, pausable in tests.
//! - [`store`]: the [`TokenStore`] trait, its SQLite backend and the conformance suite.
//! - [`auth`]: [`ConsoleAuth`], minting, validation, revocation and the purge task.
//! - [`error`]: the crate's error type.

#![warn(missing_docs)]

pub mod access_url;
pub mod auth;
pub mod clock;
pub mod error;
pub mod store;
pub mod token;

pub use auth::ConsoleAuth;
pub use clock::Clock;
pub use error::{Error, Result};
pub use store::{open_store, ConnectInfo, TokenStore};
pub use token::{Token, TokenHash};
