//! Frame parsing against frames built by hand as a browser would send them.

use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A browser frame: FIN bit, opcode, masked payload.
fn client_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | op];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

/// Feeds `bytes` in pieces of `step` and collects every event.
fn events(bytes: &[u8], step: usize) -> Result<Vec<Event>, ProtocolError> {
    let mut r = FrameReader::default();
    let mut out = Vec::new();
    for piece in bytes.chunks(step) {
        r.buf.extend_from_slice(piece);
        while let Some(e) = r.next_event()? {
            out.push(e);
        }
    }
    Ok(out)
}

fn data(events: &[Event]) -> Vec<u8> {
    events.iter().filter_map(|e| if let Event::Data(d) = e { Some(d.to_vec()) } else { None }).flatten().collect()
}

#[test]
fn payloads_come_out_unmasked_whatever_the_read_sizes() {
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
    let mut bytes = client_frame(true, opcode::BINARY, &payload[..10]);
    bytes.extend(client_frame(true, opcode::BINARY, &payload[10..300]));
    bytes.extend(client_frame(true, opcode::TEXT, &payload[300..]));
    for step in [1, 3, 4, 7, 1000, bytes.len()] {
        assert_eq!(data(&events(&bytes, step).unwrap()), payload, "step {step}");
    }
}

#[test]
fn fragments_and_interleaved_control_frames() {
    let mut bytes = client_frame(false, opcode::BINARY, b"ab");
    bytes.extend(client_frame(true, opcode::PING, b"hi"));
    bytes.extend(client_frame(false, opcode::CONTINUATION, b"cd"));
    bytes.extend(client_frame(true, opcode::CONTINUATION, b"ef"));
    bytes.extend(client_frame(true, opcode::PONG, b""));
    bytes.extend(client_frame(true, opcode::CLOSE, &[0x03, 0xe8, b'o', b'k']));
    bytes.extend(client_frame(true, opcode::BINARY, b"after close"));
    let ev = events(&bytes, 5).unwrap();
    assert_eq!(data(&ev), b"abcdef");
    assert!(ev.contains(&Event::Ping(Bytes::from_static(b"hi"))));
    assert!(ev.contains(&Event::Pong));
    assert_eq!(ev.last(), Some(&Event::Close(Some((1000, "ok".into())))));
}

#[test]
fn empty_frames_and_empty_close() {
    let mut bytes = client_frame(true, opcode::BINARY, b"");
    bytes.extend(client_frame(true, opcode::CLOSE, b""));
    assert_eq!(events(&bytes, 1).unwrap(), vec![Event::Close(None)]);
}

#[test]
fn hostile_frames_are_refused() {
    let mut unmasked = client_frame(true, opcode::BINARY, b"x");
    unmasked[1] &= 0x7F;
    assert_eq!(events(&unmasked, 64), Err(ProtocolError::Unmasked));
    let mut rsv = client_frame(true, opcode::BINARY, b"x");
    rsv[0] |= 0x40;
    assert_eq!(events(&rsv, 64), Err(ProtocolError::Reserved));
    assert_eq!(events(&client_frame(true, 0x3, b"x"), 64), Err(ProtocolError::Opcode(3)));
    assert_eq!(events(&client_frame(false, opcode::PING, b"x"), 64), Err(ProtocolError::Control));
    assert_eq!(events(&client_frame(true, opcode::PING, &[0; 126]), 64), Err(ProtocolError::Control));
    assert_eq!(events(&client_frame(true, opcode::CONTINUATION, b"x"), 64), Err(ProtocolError::Fragments));
    let mut two_starts = client_frame(false, opcode::BINARY, b"a");
    two_starts.extend(client_frame(true, opcode::BINARY, b"b"));
    assert_eq!(events(&two_starts, 64), Err(ProtocolError::Fragments));
    assert_eq!(events(&client_frame(true, opcode::CLOSE, &[3]), 64), Err(ProtocolError::Close));
    assert_eq!(events(&client_frame(true, opcode::CLOSE, &[0x03, 0xed]), 64), Err(ProtocolError::Close));
    assert_eq!(events(&client_frame(true, opcode::CLOSE, &[0x03, 0xe8, 0xff]), 64), Err(ProtocolError::Close));
    let huge = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    assert_eq!(events(&huge, 64), Err(ProtocolError::Length));
}

#[test]
fn a_huge_declared_length_allocates_nothing_up_front() {
    let header = [0x82, 0xFF, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(&[9; 100]);
    let ev = events(&bytes, 16).unwrap();
    assert_eq!(data(&ev).len(), 100);
}

#[test]
fn server_headers_use_the_shortest_length_form() {
    assert_eq!(server_header(opcode::BINARY, 125), ([0x82, 125, 0, 0, 0, 0, 0, 0, 0, 0], 2));
    assert_eq!(server_header(opcode::BINARY, 126).1, 4);
    assert_eq!(server_header(opcode::BINARY, 65_535).1, 4);
    let (h, used) = server_header(opcode::BINARY, 65_536);
    assert_eq!((used, &h[..4]), (10, &[0x82, 127, 0, 0][..]));
    let mut out = BytesMut::new();
    encode_close(&mut out, 1008, &"é".repeat(100));
    assert_eq!(out.len(), 2 + 2 + 122, "reason cut at a character boundary within 125 bytes");
    assert!(std::str::from_utf8(&out[4..]).is_ok());
}

#[test]
fn unmasking_at_any_offset_matches_bytewise_xor() {
    let plain: Vec<u8> = (0..37u8).collect();
    for offset in 0..8u64 {
        let mut buf: Vec<u8> = plain.iter().enumerate().map(|(i, b)| b ^ MASK[(i + offset as usize) % 4]).collect();
        unmask(&mut buf, MASK, offset);
        assert_eq!(buf, plain, "offset {offset}");
    }
}
