//! Fuzz target: porthole_rfb::fuzzing::messages must never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_rfb::fuzzing::messages(data));
