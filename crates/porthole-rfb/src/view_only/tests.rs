//! The view-only filter on byte vectors, fed whole and one byte at a time.

use super::*;
use crate::messages::ClientMessage;

fn encode(m: &ClientMessage) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out);
    out
}

/// Feeds `input` in pieces of `step` bytes; returns what passed.
fn filter(input: &[u8], step: usize) -> Result<Vec<u8>, InvalidMessage> {
    let mut f = ViewOnlyFilter::new();
    let mut out = Vec::new();
    for piece in input.chunks(step.max(1)) {
        f.feed(piece, &mut out)?;
    }
    Ok(out)
}

fn session() -> (Vec<u8>, Vec<u8>) {
    let request = encode(&ClientMessage::FramebufferUpdateRequest { incremental: true, x: 0, y: 0, width: 800, height: 600 });
    let encodings = encode(&ClientMessage::SetEncodings(vec![0, 7, -223, -258, -312]));
    let key = encode(&ClientMessage::KeyEvent { down: true, key: 0x61 });
    let pointer = encode(&ClientMessage::PointerEvent { buttons: 1, x: 10, y: 10 });
    let cut = encode(&ClientMessage::ClientCutText(vec![b'x'; 5000]));
    let qemu_key = [255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e];
    let xvp_reboot = [250, 0, 1, 3];
    let fence = [248, 0, 0, 0, 0, 0, 0, 1, 4, 1, 2, 3, 4];
    let mut input = vec![0u8]; // ClientInit, shared = 0
    let mut expected = vec![1u8]; // forced to shared
    for (bytes, kept) in [
        (&encodings[..], true),
        (&key[..], false),
        (&request[..], true),
        (&pointer[..], false),
        (&cut[..], false),
        (&qemu_key[..], false),
        (&xvp_reboot[..], false),
        (&fence[..], true),
        (&request[..], true),
    ] {
        input.extend_from_slice(bytes);
        if kept {
            expected.extend_from_slice(bytes);
        }
    }
    (input, expected)
}

#[test]
fn only_what_viewing_needs_passes_whatever_the_pieces() {
    let (input, expected) = session();
    for step in [1, 2, 3, 7, 64, 4096, input.len()] {
        assert_eq!(filter(&input, step).unwrap(), expected, "step {step}");
    }
    let mut f = ViewOnlyFilter::new();
    f.feed(&input, &mut Vec::new()).unwrap();
    assert_eq!(f.dropped(), 5);
}

#[test]
fn a_long_clipboard_text_is_skipped_without_being_kept() {
    let mut f = ViewOnlyFilter::new();
    let mut out = Vec::new();
    f.feed(&[1, 6, 0, 0, 0, 0, 0x10, 0, 0], &mut out).unwrap(); // 1 MiB of text announced
    for _ in 0..16 {
        f.feed(&vec![b'y'; 65536], &mut out).unwrap();
        assert!(f.pending.len() <= 16, "the payload is not buffered");
    }
    f.feed(&[3, 1, 0, 0, 0, 0, 0, 10, 0, 10], &mut out).unwrap();
    assert_eq!(out, [1, 3, 1, 0, 0, 0, 0, 0, 10, 0, 10]);
}

#[test]
fn unknown_or_oversized_messages_are_errors() {
    assert!(matches!(filter(&[1, 99], 1), Err(InvalidMessage::UnknownMessageType(99))));
    assert!(matches!(filter(&[1, 2, 0, 0xff, 0xff], 1), Err(InvalidMessage::MessageTooLarge { .. })));
    assert!(matches!(filter(&[1, 248, 0, 0, 0, 0, 0, 0, 0, 200], 1), Err(InvalidMessage::MessageTooLarge { .. })));
    assert!(matches!(filter(&[1, 255, 9], 1), Err(InvalidMessage::UnknownMessageType(9))));
}
