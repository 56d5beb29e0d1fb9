//! What a VNC server offers, read off its first bytes in relay mode (they are relayed untouched):
//! its security types. A browser that leaves right after a server that asks for a password the
//! proxy was not told to answer is then logged as that, not as "the browser closed".

use porthole_rfb::security;

/// Bytes kept at most: the version (12) and the security types (1 + up to 255) fit.
const MAX: usize = 12 + 1 + 255;

/// The server's offer, as far as its first bytes tell.
#[derive(Debug, Default)]
pub(crate) struct Offer {
    buf: Vec<u8>,
    types: Option<Vec<u8>>,
}

impl Offer {
    /// Takes the next bytes from the server; `false` once the offer is known (or never will be).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> bool {
        let room = MAX.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.types = parse(&self.buf);
        self.types.is_none() && self.buf.len() < MAX && self.buf.starts_with(&b"RFB 003.0"[..self.buf.len().min(9)])
    }

    /// The security types offered, when every one of them needs something the browser-facing
    /// relay cannot give (no type None): a password, TLS, ….
    pub(crate) fn needs_authentication(&self) -> Option<&[u8]> {
        self.types.as_deref().filter(|t| !t.is_empty() && !t.contains(&security::NONE))
    }
}

/// RFB 3.7/3.8: a count and that many types; 3.3: one 32-bit type chosen by the server.
fn parse(buf: &[u8]) -> Option<Vec<u8>> {
    let version = buf.get(..12)?;
    let minor = std::str::from_utf8(version.get(8..11)?).ok()?.parse::<u16>().ok()?;
    if minor >= 7 {
        let count = usize::from(*buf.get(12)?);
        buf.get(13..13 + count).map(<[u8]>::to_vec)
    } else {
        let t = u32::from_be_bytes(buf.get(12..16)?.try_into().ok()?);
        Some(vec![u8::try_from(t).unwrap_or(u8::MAX)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_only_server_is_seen_in_pieces() {
        let mut o = Offer::default();
        assert!(o.feed(b"RFB 003.008\n"));
        assert!(!o.feed(&[1, 2]));
        assert_eq!(o.needs_authentication(), Some(&[2u8][..]));
    }

    #[test]
    fn none_offered_needs_nothing_and_other_bytes_stop_the_sniff() {
        let mut o = Offer::default();
        assert!(!o.feed(b"RFB 003.008\n\x02\x01\x02"));
        assert_eq!(o.needs_authentication(), None);
        let mut o = Offer::default();
        assert!(!o.feed(b"HTTP/1.1 200 OK\r\n"), "not RFB: nothing to learn");
        let mut o = Offer::default();
        assert!(!o.feed(b"RFB 003.003\n\x00\x00\x00\x02"));
        assert_eq!(o.needs_authentication(), Some(&[2u8][..]));
    }
}
