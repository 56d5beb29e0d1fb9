//! Entry points for `fuzz/`: drive the parsers and the handshake with arbitrary bytes. They must
//! never panic, whatever the input.

#![doc(hidden)]

use crate::handshake::server::{self, Security, ServerHandshake};
use crate::handshake::{Outcome, ProxyHandshake, Scheme, Side};
use crate::{ClientMessage, PixelFormat, Reader, ServerInit};

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
            if turn {
                tenant_buf.extend_from_slice(chunk)
            } else {
                server_buf.extend_from_slice(chunk)
            }
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

/// The server side is hostile: `data` is everything the VNC server sends, in chunks; the browser
/// behaves.
pub fn server_side(data: &[u8]) {
    let tenant: &[&[u8]] = &[b"RFB 003.008\n", &[1], &[1]];
    drive(data, tenant, Side::Server);
}

/// The browser is hostile: `data` is everything it sends; the VNC server behaves (None).
pub fn tenant_side(data: &[u8]) {
    let server: &[&[u8]] = &[b"RFB 003.008\n", &[1, 1], &[0, 0, 0, 0]];
    drive(data, server, Side::Tenant);
}

fn drive(hostile: &[u8], scripted: &[&[u8]], hostile_side: Side) {
    let mut hs = ProxyHandshake::new(vec![Scheme::VeNCrypt, Scheme::Vnc, Scheme::None], Some(b"secret".to_vec()));
    let (mut hostile_buf, mut scripted_buf) = (Vec::new(), Vec::new());
    let (mut rest, mut script) = (hostile, scripted.iter());
    for _ in 0..10_000 {
        let from_hostile = hs.wants() == hostile_side;
        let buf = if from_hostile { &mut hostile_buf } else { &mut scripted_buf };
        match hs.handle(buf) {
            Ok(Outcome::NeedMore(next)) => {
                hs = next;
                if from_hostile {
                    let Some((&n, tail)) = rest.split_first() else { return };
                    let take = usize::from(n % 31).min(tail.len());
                    hostile_buf.extend_from_slice(&tail[..take]);
                    rest = &tail[take..];
                } else {
                    let Some(chunk) = script.next() else { return };
                    scripted_buf.extend_from_slice(chunk);
                }
            }
            Ok(Outcome::Progress { next, consumed, .. }) => {
                buf.drain(..consumed);
                hs = next;
            }
            Ok(Outcome::Done { .. }) | Err(_) => return,
        }
    }
}

/// A VNC server's handshake ([`ServerHandshake`]) with a hostile client: the first byte of `data`
/// picks the security (even: None, odd: VNC authentication), the rest is what the client sends, in
/// pieces whose sizes it picks too.
pub fn server_handshake(data: &[u8]) {
    let Some((&pick, mut rest)) = data.split_first() else { return };
    let security = match pick % 2 {
        0 => Security::None,
        _ => Security::VncAuth { password: b"secret".to_vec(), challenge: [7; 16] },
    };
    let init = ServerInit { width: 64, height: 48, pixel_format: PixelFormat::rgbx8888(), name: b"fuzz".to_vec() };
    let (mut hs, _) = ServerHandshake::start(security, init);
    let mut buf = Vec::new();
    loop {
        match hs.handle(&buf) {
            Ok(server::Outcome::NeedMore(next)) => {
                hs = next;
                let Some((&n, tail)) = rest.split_first() else { return };
                let take = usize::from(n % 31).min(tail.len());
                buf.extend_from_slice(&tail[..take]);
                rest = &tail[take..];
            }
            Ok(server::Outcome::Progress { next, consumed, .. }) => {
                assert!(consumed > 0 && consumed <= buf.len(), "consumed {consumed} of {}", buf.len());
                buf.drain(..consumed);
                hs = next;
            }
            Ok(server::Outcome::Done { consumed, .. }) => return assert!(consumed <= buf.len()),
            Err(_) => return,
        }
    }
}

/// Decodes client messages and a ServerInit from `data`.
pub fn messages(data: &[u8]) {
    let mut r = Reader::new(data);
    while ClientMessage::read(&mut r).is_ok() {}
    let _ = ServerInit::read(&mut Reader::new(data));
}

/// Feeds a view-only session's browser bytes to the filter, in pieces whose size the first byte
/// picks: no panic, and never more out than in (plus the ClientInit it rewrites).
pub fn view_only(data: &[u8]) {
    let Some((&step, rest)) = data.split_first() else { return };
    let mut filter = crate::view_only::ViewOnlyFilter::new();
    let mut out = Vec::new();
    for piece in rest.chunks(usize::from(step).max(1)) {
        if filter.feed(piece, &mut out).is_err() {
            break;
        }
    }
    assert!(out.len() <= rest.len());
}
