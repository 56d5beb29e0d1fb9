//! Fuzz target: porthole_rfb::fuzzing::view_only must never panic nor pass more than it got.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_rfb::fuzzing::view_only(data));
