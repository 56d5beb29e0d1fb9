//! Security type numbers (RFC 6143 and the rfbproto registry), VeNCrypt subtypes, and VNC
//! authentication's DES challenge response.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt as _, KeyInit as _};

/// No authentication.
pub const NONE: u8 = 1;
/// VNC authentication: DES challenge and response.
pub const VNC_AUTH: u8 = 2;
/// VeNCrypt: TLS, then a subtype.
pub const VENCRYPT: u8 = 19;

/// VeNCrypt subtype: anonymous TLS, no authentication (refused: no server authentication).
pub const TLS_NONE: u32 = 257;
/// VeNCrypt subtype: anonymous TLS and VNC authentication (refused).
pub const TLS_VNC: u32 = 258;
/// VeNCrypt subtype: anonymous TLS and plain user/password (refused).
pub const TLS_PLAIN: u32 = 259;
/// VeNCrypt subtype: X.509 TLS, no further authentication.
pub const X509_NONE: u32 = 260;
/// VeNCrypt subtype: X.509 TLS and VNC authentication.
pub const X509_VNC: u32 = 261;

/// The longest reason read from a server (longer ones are replaced, unread; Nova LP#2155052).
pub const MAX_REASON_LEN: usize = 256;

/// A security type's name, for log lines.
pub fn type_name(t: u8) -> &'static str {
    match t {
        0 => "Invalid",
        NONE => "None",
        VNC_AUTH => "VNC",
        5 => "RA2",
        6 => "RA2ne",
        16 => "Tight",
        17 => "Ultra",
        18 => "TLS",
        VENCRYPT => "VeNCrypt",
        20 => "SASL",
        30 => "ARD",
        _ => "unknown",
    }
}

/// A VeNCrypt subtype's name, for log lines.
pub fn subtype_name(t: u32) -> &'static str {
    match t {
        256 => "Plain",
        TLS_NONE => "TLSNone",
        TLS_VNC => "TLSVnc",
        TLS_PLAIN => "TLSPlain",
        X509_NONE => "X509None",
        X509_VNC => "X509Vnc",
        262 => "X509Plain",
        263 => "X509SASL",
        264 => "TLSSASL",
        _ => "unknown",
    }
}

/// The response to a VNC authentication challenge: the challenge DES-encrypted (ECB) with the
/// password as key, truncated or zero-padded to 8 bytes, each byte's bits reversed.
pub fn vnc_auth_response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password) {
        *k = p.reverse_bits();
    }
    let cipher = des::Des::new(GenericArray::from_slice(&key));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn des_response_matches_openssl() {
        // openssl enc -des-ecb -nopad -K 0e86ceceeef64e26 (bit-reversed "password") of "0123456789abcdef"
        let got = vnc_auth_response(b"password", b"0123456789abcdef");
        let want = [0x56, 0x45, 0xab, 0xeb, 0x5f, 0x1e, 0x64, 0x75, 0xe8, 0xfe, 0xb1, 0x1b, 0xeb, 0x66, 0xea, 0x19];
        assert_eq!(got, want);
    }

    #[test]
    fn long_passwords_are_truncated_short_ones_padded() {
        let c = [7u8; 16];
        assert_eq!(vnc_auth_response(b"password-and-more", &c), vnc_auth_response(b"password", &c));
        assert_eq!(vnc_auth_response(b"pw", &c), vnc_auth_response(b"pw\0\0\0\0\0\0", &c));
        assert_ne!(vnc_auth_response(b"pw", &c), vnc_auth_response(b"pX", &c));
    }
}
