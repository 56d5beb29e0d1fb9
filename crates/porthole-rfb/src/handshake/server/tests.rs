//! Byte-vector tests of the VNC server's handshake, alone and paired in memory with the security
//! proxy's handshake (which plays the client toward it).

use super::*;
use crate::handshake::{self, Culprit, ProxyHandshake, Scheme, Side, Step};
use crate::PixelFormat;

const V38: &[u8] = b"RFB 003.008\n";
const V37: &[u8] = b"RFB 003.007\n";
const V33: &[u8] = b"RFB 003.003\n";
const OK: &[u8] = &[0, 0, 0, 0];
const CHALLENGE: [u8; 16] = *b"0123456789abcdef";

fn init() -> ServerInit {
    ServerInit { width: 640, height: 480, pixel_format: PixelFormat::rgbx8888(), name: b"test".to_vec() }
}

fn init_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    init().encode(&mut out);
    out
}

fn vnc_auth(password: &[u8]) -> Security {
    Security::VncAuth { password: password.to_vec(), challenge: CHALLENGE }
}

/// How a scripted run ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Still waiting for the client.
    Waiting,
    /// Done: the shared flag and the input left over for the session.
    Done { shared: bool, rest: Vec<u8> },
    /// Refused.
    Refused(Refusal),
}

/// Feeds the client's `input` in one piece and returns every byte the server wrote, and the end.
fn run(security: Security, input: &[u8]) -> (Vec<u8>, End) {
    let (mut hs, mut sent) = ServerHandshake::start(security, init());
    let mut buf = input;
    loop {
        match hs.handle(buf) {
            Ok(Outcome::NeedMore(_)) => return (sent, End::Waiting),
            Ok(Outcome::Progress { next, consumed, send }) => {
                assert!(consumed > 0, "progress without input");
                sent.extend(send);
                buf = &buf[consumed..];
                hs = next;
            }
            Ok(Outcome::Done { consumed, send, shared }) => {
                sent.extend(send);
                return (sent, End::Done { shared, rest: buf[consumed..].to_vec() });
            }
            Err(r) => {
                sent.extend(&r.to_client);
                return (sent, End::Refused(r));
            }
        }
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn failed(reason: &str) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1];
    out.extend_from_slice(&(reason.len() as u32).to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
    out
}

#[test]
fn security_none_with_rfb_3_8() {
    let (sent, end) = run(Security::None, &cat(&[V38, &[1], &[1]]));
    assert_eq!(sent, cat(&[V38, &[1, 1], OK, &init_bytes()]));
    assert_eq!(end, End::Done { shared: true, rest: Vec::new() });
}

#[test]
fn nothing_is_consumed_until_a_message_is_whole() {
    let (mut hs, _) = ServerHandshake::start(Security::None, init());
    for i in 0..V38.len() {
        hs = match hs.handle(&V38[..i]) {
            Ok(Outcome::NeedMore(h)) => h,
            other => panic!("at {i}: {other:?}"),
        };
    }
    assert!(matches!(hs.handle(V38), Ok(Outcome::Progress { consumed: 12, .. })));
    let (_, end) = run(vnc_auth(b"pw"), &cat(&[V38, &[2], &[0; 15]]));
    assert_eq!(end, End::Waiting, "15 bytes of a 16-byte response");
}

#[test]
fn vnc_authentication_with_the_right_password() {
    let response = vnc_auth_response(b"password", &CHALLENGE);
    let (sent, end) = run(vnc_auth(b"password"), &cat(&[V38, &[2], &response, &[0]]));
    assert_eq!(sent, cat(&[V38, &[1, 2], &CHALLENGE, OK, &init_bytes()]));
    assert_eq!(end, End::Done { shared: false, rest: Vec::new() });
}

#[test]
fn a_wrong_password_gets_a_reason_with_3_8_and_none_before() {
    let response = vnc_auth_response(b"guess", &CHALLENGE);
    let (sent, end) = run(vnc_auth(b"password"), &cat(&[V38, &[2], &response]));
    assert_eq!(sent, cat(&[V38, &[1, 2], &CHALLENGE, &failed(AUTH_FAILED)]));
    assert_eq!(end, End::Refused(Refusal { fault: ClientFault::WrongPassword, to_client: failed(AUTH_FAILED) }));

    let (sent, end) = run(vnc_auth(b"password"), &cat(&[V37, &[2], &response]));
    assert_eq!(sent, cat(&[V38, &[1, 2], &CHALLENGE, &[0, 0, 0, 1]]));
    assert!(matches!(end, End::Refused(Refusal { fault: ClientFault::WrongPassword, .. })));
}

#[test]
fn rfb_3_7_has_no_security_result_for_none() {
    let (sent, end) = run(Security::None, &cat(&[V37, &[1], &[1]]));
    assert_eq!(sent, cat(&[V38, &[1, 1], &init_bytes()]));
    assert_eq!(end, End::Done { shared: true, rest: Vec::new() });
}

#[test]
fn rfb_3_3_gets_the_type_from_the_server() {
    let (sent, end) = run(Security::None, &cat(&[V33, &[0]]));
    assert_eq!(sent, cat(&[V38, &[0, 0, 0, 1], &init_bytes()]));
    assert_eq!(end, End::Done { shared: false, rest: Vec::new() });

    let response = vnc_auth_response(b"pw", &CHALLENGE);
    let (sent, end) = run(vnc_auth(b"pw"), &cat(&[V33, &response, &[1]]));
    assert_eq!(sent, cat(&[V38, &[0, 0, 0, 2], &CHALLENGE, OK, &init_bytes()]));
    assert_eq!(end, End::Done { shared: true, rest: Vec::new() });
}

#[test]
fn other_3_x_versions_are_read_as_3_3() {
    for v in [b"RFB 003.005\n", b"RFB 003.889\n", b"RFB 003.000\n"] {
        let (sent, _) = run(Security::None, v);
        assert_eq!(sent, cat(&[V38, &[0, 0, 0, 1]]), "{:?}", String::from_utf8_lossy(v));
    }
}

#[test]
fn a_client_that_is_not_rfb_3_is_refused_without_a_word() {
    let (sent, end) = run(Security::None, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(sent, V38);
    assert_eq!(end, End::Refused(Refusal { fault: ClientFault::NotRfb("GET / HTTP/1".into()), to_client: Vec::new() }));
    let (_, end) = run(Security::None, b"RFB 004.001\n");
    assert_eq!(end, End::Refused(Refusal { fault: ClientFault::UnsupportedVersion { major: 4, minor: 1 }, to_client: Vec::new() }));
}

#[test]
fn a_type_that_was_not_offered_is_refused() {
    let (sent, end) = run(vnc_auth(b"pw"), &cat(&[V38, &[1]]));
    assert_eq!(sent, cat(&[V38, &[1, 2], &failed(NOT_OFFERED)]));
    let End::Refused(r) = end else { panic!("{end:?}") };
    assert_eq!(r.fault, ClientFault::SecurityTypeNotOffered { chosen: 1, offered: 2 });
    assert_eq!(r.to_string(), "the client chose security type 1 (None), but only 2 (VNC) was offered");

    let (sent, _) = run(Security::None, &cat(&[V37, &[2]]));
    assert_eq!(sent, cat(&[V38, &[1, 1], &[0, 0, 0, 1]]));
}

#[test]
fn messages_sent_with_the_client_init_are_left_for_the_session() {
    let (_, end) = run(Security::None, &cat(&[V38, &[1], &[1], &[3, 0, 0, 0]]));
    assert_eq!(end, End::Done { shared: true, rest: vec![3, 0, 0, 0] });
}

#[test]
fn a_long_desktop_name_is_cut_and_the_password_never_printed() {
    let long = ServerInit { name: vec![b'x'; MAX_NAME_LEN + 10], ..init() };
    let (hs, _) = ServerHandshake::start(vnc_auth(b"hunter2"), long);
    assert_eq!(hs.server_init.name.len(), MAX_NAME_LEN);
    assert!(!format!("{hs:?}").contains("hunter2"));
}

#[test]
fn fuzz_entry_point_does_not_panic_on_samples() {
    crate::fuzzing::server_handshake(b"");
    crate::fuzzing::server_handshake(&[1, 0xff, 0xff, 0xff]);
    let mut sample = vec![0];
    for chunk in [V38, &[1], &[1], &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0]] {
        sample.push(chunk.len() as u8);
        sample.extend_from_slice(chunk);
    }
    crate::fuzzing::server_handshake(&sample);
}

/// The security proxy's handshake toward our server, its browser side scripted (RFB 3.8, None,
/// then a shared ClientInit, which the relay carries once the proxy is done).
struct Paired {
    proxy: Result<(), handshake::Failure>,
    server: End,
    /// Everything the browser received.
    browser: Vec<u8>,
}

fn through_the_proxy(security: Security, schemes: Vec<Scheme>, password: Option<&[u8]>) -> Paired {
    let (hs, hello) = ServerHandshake::start(security, init());
    let mut server = Some(hs);
    let mut proxy = Some(ProxyHandshake::new(schemes, password.map(<[u8]>::to_vec)));
    let (mut from_server, mut to_server) = (hello, Vec::new());
    let (mut from_browser, mut browser) = (cat(&[V38, &[1], &[1]]), Vec::new());
    let (mut proxy_end, mut server_end) = (None, End::Waiting);
    for _ in 0..100 {
        if let Some(p) = proxy.take() {
            let side = p.wants();
            let buf = if side == Side::Server { &mut from_server } else { &mut from_browser };
            match p.handle(buf) {
                Ok(handshake::Outcome::NeedMore(p)) => proxy = Some(p),
                Ok(handshake::Outcome::Progress { next, consumed, steps }) => {
                    buf.drain(..consumed);
                    carry_out(steps, &mut to_server, &mut browser);
                    proxy = Some(next);
                }
                Ok(handshake::Outcome::Done { consumed, steps }) => {
                    buf.drain(..consumed);
                    carry_out(steps, &mut to_server, &mut browser);
                    proxy_end = Some(Ok(()));
                }
                Err(f) => {
                    to_server.extend(f.to_server.iter().flatten());
                    browser.extend(f.to_tenant.iter().flatten());
                    proxy_end = Some(Err(f));
                }
            }
        }
        if let Some(Ok(())) = proxy_end {
            // The relay: bytes go through untouched.
            to_server.append(&mut from_browser);
            browser.append(&mut from_server);
        }
        if let Some(s) = server.take() {
            match s.handle(&to_server) {
                Ok(Outcome::NeedMore(s)) => server = Some(s),
                Ok(Outcome::Progress { next, consumed, send }) => {
                    to_server.drain(..consumed);
                    from_server.extend(send);
                    server = Some(next);
                }
                Ok(Outcome::Done { consumed, send, shared }) => {
                    to_server.drain(..consumed);
                    from_server.extend(send);
                    server_end = End::Done { shared, rest: std::mem::take(&mut to_server) };
                }
                Err(r) => {
                    from_server.extend(&r.to_client);
                    server_end = End::Refused(r);
                }
            }
        }
    }
    Paired { proxy: proxy_end.expect("the proxy's handshake ended"), server: server_end, browser }
}

fn carry_out(steps: Vec<Step>, to_server: &mut Vec<u8>, browser: &mut Vec<u8>) {
    for step in steps {
        match step {
            Step::Send(Side::Server, b) => to_server.extend(b),
            Step::Send(Side::Tenant, b) => browser.extend(b),
            Step::StartTls => panic!("no TLS here"),
        }
    }
}

#[test]
fn paired_with_the_proxy_security_none() {
    let p = through_the_proxy(Security::None, vec![Scheme::None], None);
    assert_eq!(p.proxy, Ok(()));
    assert_eq!(p.server, End::Done { shared: true, rest: Vec::new() });
    assert_eq!(p.browser, cat(&[V38, &[1, 1], OK, &init_bytes()]));
}

#[test]
fn paired_with_the_proxy_vnc_authentication() {
    let p = through_the_proxy(vnc_auth(b"secret"), vec![Scheme::Vnc, Scheme::None], Some(b"secret"));
    assert_eq!(p.proxy, Ok(()));
    assert_eq!(p.server, End::Done { shared: true, rest: Vec::new() });
    // The browser saw security None only, never the challenge.
    assert_eq!(p.browser, cat(&[V38, &[1, 1], OK, &init_bytes()]));
}

#[test]
fn paired_with_the_proxy_wrong_password() {
    let p = through_the_proxy(vnc_auth(b"secret"), vec![Scheme::Vnc], Some(b"guess"));
    assert!(matches!(p.server, End::Refused(Refusal { fault: ClientFault::WrongPassword, .. })));
    let f = p.proxy.unwrap_err();
    assert_eq!(f.culprit, Culprit::Server);
    assert!(f.log.contains(AUTH_FAILED), "{}", f.log);
    assert_eq!(p.browser, cat(&[V38, &[1, 1], &failed(handshake::AUTH_FAILED)]));
}

#[test]
fn paired_with_a_proxy_that_may_not_authenticate() {
    // auth_schemes = ["none"] against a server that wants a password: the proxy refuses the type.
    let p = through_the_proxy(vnc_auth(b"secret"), vec![Scheme::None], None);
    assert_eq!(p.proxy.unwrap_err().culprit, Culprit::Server);
    assert_eq!(
        p.server,
        End::Refused(Refusal { fault: ClientFault::SecurityTypeNotOffered { chosen: 0, offered: 2 }, to_client: failed(NOT_OFFERED) })
    );
}
