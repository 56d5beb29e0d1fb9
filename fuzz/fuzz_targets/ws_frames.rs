//! Fuzz target: a browser's bytes, fed to the WebSocket frame reader in pieces whose size the
//! first byte picks, must never panic, and data events must never exceed what was fed.
#![no_main]
use porthole_ws::frame::{Event, FrameReader};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let mut reader = FrameReader::default();
    let mut out = 0usize;
    for piece in rest.chunks(step) {
        reader.buf.extend_from_slice(piece);
        loop {
            match reader.next_event() {
                Ok(Some(Event::Data(d))) => out += d.len(),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
    assert!(out <= rest.len());
});
