//! Byte-vector tests for the RFB messages.

use super::*;

fn all_client_messages() -> Vec<ClientMessage> {
    vec![
        ClientMessage::SetPixelFormat(PixelFormat::rgbx8888()),
        ClientMessage::SetEncodings(vec![0, 1, -223, 7]),
        ClientMessage::FramebufferUpdateRequest { incremental: true, x: 1, y: 2, width: 800, height: 600 },
        ClientMessage::KeyEvent { down: true, key: 0xff0d },
        ClientMessage::PointerEvent { buttons: 1, x: 10, y: 20 },
        ClientMessage::ClientCutText(b"hello".to_vec()),
    ]
}

#[test]
fn client_messages_round_trip() {
    for m in all_client_messages() {
        let mut out = Vec::new();
        m.encode(&mut out);
        let mut r = Reader::new(&out);
        assert_eq!(ClientMessage::read(&mut r).unwrap(), m);
        assert_eq!(r.position(), out.len());
    }
}

#[test]
fn every_prefix_is_incomplete() {
    for m in all_client_messages() {
        let mut out = Vec::new();
        m.encode(&mut out);
        for n in 0..out.len() {
            assert_eq!(ClientMessage::read(&mut Reader::new(&out[..n])), Err(Error::Incomplete), "{m:?} at {n}");
        }
    }
}

#[test]
fn known_bytes() {
    let mut r = Reader::new(&[4, 1, 0, 0, 0, 0, 0, 0x61]);
    assert_eq!(ClientMessage::read(&mut r).unwrap(), ClientMessage::KeyEvent { down: true, key: 0x61 });
    let mut r = Reader::new(&[3, 0, 0, 0, 0, 0, 3, 0x20, 2, 0x58]);
    assert_eq!(
        ClientMessage::read(&mut r).unwrap(),
        ClientMessage::FramebufferUpdateRequest { incremental: false, x: 0, y: 0, width: 800, height: 600 }
    );
}

#[test]
fn unknown_type_and_oversized_fields_are_invalid() {
    assert_eq!(ClientMessage::read(&mut Reader::new(&[99])), Err(Error::InvalidMessage(InvalidMessage::UnknownMessageType(99))));
    let huge_cut = [6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(ClientMessage::read(&mut Reader::new(&huge_cut)), Err(Error::InvalidMessage(InvalidMessage::MessageTooLarge { .. }))));
    let many_encodings = [2, 0, 0xff, 0xff];
    assert!(matches!(
        ClientMessage::read(&mut Reader::new(&many_encodings)),
        Err(Error::InvalidMessage(InvalidMessage::MessageTooLarge { .. }))
    ));
}

#[test]
fn protocol_version() {
    let v = ProtocolVersion::read(&mut Reader::new(b"RFB 003.008\n")).unwrap();
    assert_eq!(v, ProtocolVersion::V3_8);
    assert_eq!(ProtocolVersion::read(&mut Reader::new(b"RFB 012.034\n")).unwrap(), ProtocolVersion { major: 12, minor: 34 });
    let mut out = Vec::new();
    v.encode(&mut out);
    assert_eq!(out, b"RFB 003.008\n");
    for bad in [&b"RFB 003.00x\n"[..], b"XYZ 003.008\n", b"RFB 003,008\n", b"RFB 003.008 "] {
        assert_eq!(ProtocolVersion::read(&mut Reader::new(bad)), Err(InvalidMessage::BadVersion.into()));
    }
    assert_eq!(ProtocolVersion::read(&mut Reader::new(b"RFB 003.0")), Err(Error::Incomplete));
}

#[test]
fn server_init_round_trip_and_name_cap() {
    let si = ServerInit { width: 1024, height: 768, pixel_format: PixelFormat::rgbx8888(), name: b"demo".to_vec() };
    let mut out = Vec::new();
    si.encode(&mut out);
    assert_eq!(out.len(), 24 + 4);
    assert_eq!(ServerInit::read(&mut Reader::new(&out)).unwrap(), si);
    for n in 0..out.len() {
        assert_eq!(ServerInit::read(&mut Reader::new(&out[..n])), Err(Error::Incomplete));
    }
    let mut big = out[..20].to_vec();
    big.extend_from_slice(&(MAX_NAME_LEN as u32 + 1).to_be_bytes());
    assert!(matches!(ServerInit::read(&mut Reader::new(&big)), Err(Error::InvalidMessage(_))));
}

#[test]
fn pixels_in_several_formats() {
    let mut out = Vec::new();
    PixelFormat::rgbx8888().put_pixel(&mut out, (1, 2, 3));
    assert_eq!(out, [1, 2, 3, 0]);
    let rgb565 = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: true,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };
    out.clear();
    rgb565.put_pixel(&mut out, (255, 0, 255));
    assert_eq!(out, [0xf8, 0x1f]);
    assert_eq!(rgb565.bytes_per_pixel(), Some(2));
    let bad = PixelFormat { bits_per_pixel: 24, ..PixelFormat::rgbx8888() };
    assert_eq!(bad.bytes_per_pixel(), None);
    let colour_map = PixelFormat { true_colour: false, ..PixelFormat::rgbx8888() };
    assert_eq!(colour_map.bytes_per_pixel(), None);
}

#[test]
fn server_message_encoders() {
    let mut out = Vec::new();
    encode_security_types(&mut out, &[1, 2]);
    encode_security_result(&mut out, None);
    encode_security_result(&mut out, Some("no"));
    encode_update_header(&mut out, 1);
    encode_raw_rect_header(&mut out, 1, 2, 3, 4);
    assert_eq!(out, [2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, b'n', b'o', 0, 0, 0, 1, 0, 1, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0]);
}
