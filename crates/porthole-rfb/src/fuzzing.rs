//! Entry points for `fuzz/`: drive the parsers and the handshake with arbitrary bytes. They must
//! never panic, whatever the input.

#![doc(hidden)]

use crate::handshake::{Outcome, ProxyHandshake, Scheme, Side};
use crate::{ClientMessage, Reader, ServerInit};

/// Feeds `data` to the handshake, server and tenant bytes taken in turns from the input, the way
/// a hostile server and browser could send them.
pub fn proxy_handshake(data: &[u8], tenant_first: bool) {
    let mut hs = ProxyHandshake::new(vec![Scheme::VeNCrypt, Scheme::Vnc, Scheme::None], Some(b"secret".to_vec()));
    let mut rest = data;
    let mut server_buf: Vec<u8> = Vec::new();
    let mut tenant_buf: Vec<u8> = Vec::new();
    let mut turn = tenant_first;
    for _ in 0..10_000 {
        // Move a small chunk of input to one side or the other.
        if let Some((&n, tail)) = rest.split_first() {
            let take = usize::from(n % 17).min(tail.len());
            let (chunk, tail) = tail.split_at(take);
            if turn { tenant_buf.extend_from_slice(chunk) } else { server_buf.extend_from_slice(chunk) }
            rest = tail;
            turn = !turn;
        }
        let buf = match hs.wants() {
            Side::Server => &mut server_buf,
            Side::Tenant => &mut tenant_buf,
        };
        match hs.handle(buf) {
            Ok(Outcome::NeedMore(next)) => {
                if rest.is_empty() {
                    return;
                }
                hs = next;
            }
            Ok(Outcome::Progress { next, consumed, .. }) => {
                buf.drain(..consumed);
                hs = next;
            }
            Ok(Outcome::Done { .. }) | Err(_) => return,
        }
    }
}

/// Decodes client messages and a ServerInit from `data`.
pub fn messages(data: &[u8]) {
    let mut r = Reader::new(data);
    while ClientMessage::read(&mut r).is_ok() {}
    let _ = ServerInit::read(&mut Reader::new(data));
}
