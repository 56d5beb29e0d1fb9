//! The token secret and its SHA-256: the only form that ever reaches a store or a log field.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::fmt;

/// Random bytes per token: 256 bits, well above the 122 of Nova's uuid4 tokens.
pub const TOKEN_BYTES: usize = 32;

/// A console token as the user holds it. `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Mints a new token from the operating system's CSPRNG, URL-safe base64 without padding.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a token presented by a client (query string, cookie, API path).
    pub fn from_presented(s: &str) -> Self {
        Token(s.to_owned())
    }

    /// The secret itself, for building the access URL. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the token, hex encoded, as stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The hex SHA-256 of a token: the store's key. Its first 8 characters may appear in logs as a
/// session id; they do not help anyone guess the token.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TokenHash(String);

impl TokenHash {
    /// The full hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short prefix of the hash, for log lines.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TokenHash {
    /// Wraps an arbitrary string as a hash, for tests that probe the store directly.
    #[doc(hidden)]
    pub fn from_hex_for_tests(s: &str) -> Self {
        TokenHash(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        // sha256("abc"), FIPS 180-2 test vector.
        let h = Token::from_presented("abc").hash();
        assert_eq!(h.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(h.short(), "ba7816bf8f01");
    }

    #[test]
    fn generated_tokens_are_url_safe_long_and_distinct() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = Token::from_presented("s3cret");
        assert_eq!(format!("{t:?}"), "Token(***)");
    }
}
