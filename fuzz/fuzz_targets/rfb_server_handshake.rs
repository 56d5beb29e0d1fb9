//! Fuzz target: porthole_rfb::fuzzing::server_handshake (a VNC server's handshake, hostile client) must never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_rfb::fuzzing::server_handshake(data));
