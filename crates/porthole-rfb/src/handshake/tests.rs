//! Byte-vector tests of the proxy handshake, after Nova's securityproxy, VeNCrypt and auth-scheme
//! suites (reference/nova-console.md §6).

use super::*;
use crate::security::{vnc_auth_response, X509_NONE, X509_VNC};

const V38: &[u8] = b"RFB 003.008\n";

/// Drives a handshake through a script of (side, bytes); returns the steps taken, and how it ended.
fn run(mut hs: ProxyHandshake, script: &[(Side, &[u8])]) -> (Vec<Step>, Result<bool, Failure>) {
    let mut steps = Vec::new();
    for (side, bytes) in script {
        assert_eq!(hs.wants(), *side, "script expects {side:?} next; steps so far {steps:?}");
        let mut buf: &[u8] = bytes;
        loop {
            match hs.handle(buf) {
                Ok(Outcome::NeedMore(next)) => {
                    hs = next;
                    assert!(!buf.is_empty() || bytes.is_empty(), "stuck");
                    break;
                }
                Ok(Outcome::Progress { next, consumed, steps: s }) => {
                    steps.extend(s);
                    buf = &buf[consumed..];
                    hs = next;
                    if buf.is_empty() || hs.wants() != *side {
                        break;
                    }
                }
                Ok(Outcome::Done { steps: s, .. }) => {
                    steps.extend(s);
                    return (steps, Ok(true));
                }
                Err(f) => return (steps, Err(f)),
            }
        }
    }
    (steps, Ok(false))
}

fn none_only() -> ProxyHandshake {
    ProxyHandshake::new(vec![Scheme::None], None)
}

fn to(side: Side, b: &[u8]) -> Step {
    Step::Send(side, b.to_vec())
}

#[test]
fn full_run_with_none() {
    let (steps, end) = run(
        none_only(),
        &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[2, 1, 2]), (Side::Tenant, &[1]), (Side::Server, &[0, 0, 0, 0])],
    );
    assert_eq!(end, Ok(true));
    assert_eq!(
        steps,
        vec![
            to(Side::Server, V38),
            to(Side::Tenant, V38),
            to(Side::Tenant, &[1, 1]),
            to(Side::Server, &[1]),
            to(Side::Tenant, &[0, 0, 0, 0]),
        ]
    );
}

#[test]
fn every_split_of_the_input_works() {
    // Feed the server's whole opening one byte at a time.
    let mut hs = none_only();
    let input = V38;
    for i in 0..input.len() - 1 {
        hs = match hs.handle(&input[..=i]) {
            Ok(Outcome::NeedMore(h)) => h,
            other => panic!("at {i}: {other:?}"),
        };
    }
    assert!(matches!(hs.handle(input), Ok(Outcome::Progress { consumed: 12, .. })));
}

#[test]
fn versions_other_than_3_8_are_refused() {
    for v in [&b"RFB 003.007\n"[..], b"RFB 003.009\n", b"RFB 003.003\n", b"HTTP/1.1 200"] {
        let (_, end) = run(none_only(), &[(Side::Server, v)]);
        let f = end.unwrap_err();
        assert_eq!(f.culprit, Culprit::Server);
        // The browser still gets a version and a reason it can show.
        let t = f.to_tenant.unwrap();
        assert!(t.starts_with(V38) && t[12] == 0, "{t:?}");
    }
    let (_, end) = run(none_only(), &[(Side::Server, V38), (Side::Tenant, b"RFB 003.007\n")]);
    let f = end.unwrap_err();
    assert_eq!(f.culprit, Culprit::Tenant);
    assert_eq!(f.to_tenant.unwrap()[0], 0, "count 0 then a reason");
}

#[test]
fn parse_odd_but_valid_versions() {
    let mut r = crate::Reader::new(b"RFB 012.034\n");
    assert_eq!(crate::ProtocolVersion::read(&mut r).unwrap(), crate::ProtocolVersion { major: 12, minor: 34 });
}

fn refusal(reason: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&(reason.len() as u32).to_be_bytes());
    v.extend_from_slice(reason);
    v
}

#[test]
fn server_refusal_reason_is_forwarded() {
    let (_, end) = run(none_only(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &refusal(b"Too many connections"))]);
    let f = end.unwrap_err();
    assert!(f.log.contains("Too many connections"));
    assert_eq!(f.to_tenant.unwrap(), refusal(b"Too many connections"));
}

#[test]
fn oversized_reason_is_not_read() {
    // Announce 4 GiB: the proxy must not wait for it.
    let (_, end) = run(none_only(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[0, 0xff, 0xff, 0xff, 0xff])]);
    let f = end.unwrap_err();
    assert_eq!(f.to_tenant.unwrap(), refusal(GENERIC.as_bytes()));
}

#[test]
fn tenant_choosing_anything_but_none_fails() {
    let (_, end) = run(none_only(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[1, 1]), (Side::Tenant, &[2])]);
    let f = end.unwrap_err();
    assert_eq!(f.culprit, Culprit::Tenant);
    assert_eq!(f.to_server, Some(vec![0]));
    let t = f.to_tenant.unwrap();
    assert_eq!(&t[..4], &[0, 0, 0, 1], "SecurityResult failed");
}

#[test]
fn no_acceptable_server_type() {
    let (_, end) = run(none_only(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[2, 2, 5]), (Side::Tenant, &[1])]);
    let f = end.unwrap_err();
    assert!(f.log.contains("[\"VNC\", \"RA2\"]"), "{}", f.log);
    let mut want = vec![0, 0, 0, 1];
    want.extend_from_slice(&(GENERIC.len() as u32).to_be_bytes());
    want.extend_from_slice(GENERIC.as_bytes());
    assert_eq!(f.to_tenant.unwrap(), want);
    assert_eq!(f.to_server, Some(vec![0]));
}

#[test]
fn priority_follows_the_servers_list() {
    let both = || ProxyHandshake::new(vec![Scheme::None, Scheme::VeNCrypt], None);
    let (steps, _) = run(both(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[2, 19, 1]), (Side::Tenant, &[1])]);
    assert_eq!(steps.last(), Some(&to(Side::Server, &[19])));
    let (steps, _) = run(both(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[2, 1, 19]), (Side::Tenant, &[1])]);
    assert_eq!(steps.last(), Some(&to(Side::Server, &[1])));
}

#[test]
fn vnc_authentication() {
    let hs = ProxyHandshake::new(vec![Scheme::Vnc], Some(b"password".to_vec()));
    let challenge = *b"0123456789abcdef";
    let (steps, end) = run(
        hs,
        &[
            (Side::Server, V38),
            (Side::Tenant, V38),
            (Side::Server, &[1, 2]),
            (Side::Tenant, &[1]),
            (Side::Server, &challenge),
            (Side::Server, &[0, 0, 0, 0]),
        ],
    );
    assert_eq!(end, Ok(true));
    assert!(steps.contains(&to(Side::Server, &vnc_auth_response(b"password", &challenge))));
}

#[test]
fn vnc_authentication_without_a_password_is_not_chosen() {
    let hs = ProxyHandshake::new(vec![Scheme::Vnc], None);
    let (_, end) = run(hs, &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[1, 2]), (Side::Tenant, &[1])]);
    assert!(end.unwrap_err().log.contains("needs a password"));
}

#[test]
fn wrong_password_gives_the_browser_a_reason() {
    let hs = ProxyHandshake::new(vec![Scheme::Vnc], Some(b"nope".to_vec()));
    let mut fail_result = vec![0, 0, 0, 1];
    fail_result.extend_from_slice(&21u32.to_be_bytes());
    fail_result.extend_from_slice(b"Authentication failed");
    let (_, end) = run(
        hs,
        &[
            (Side::Server, V38),
            (Side::Tenant, V38),
            (Side::Server, &[1, 2]),
            (Side::Tenant, &[1]),
            (Side::Server, &[9; 16]),
            (Side::Server, &fail_result),
        ],
    );
    let f = end.unwrap_err();
    assert!(f.log.contains("Authentication failed"));
    let t = f.to_tenant.unwrap();
    assert_eq!(&t[..4], &[0, 0, 0, 1]);
    assert!(t.ends_with(AUTH_FAILED.as_bytes()));
}

fn vencrypt_until_subtypes(hs: ProxyHandshake, subtypes: &[u32]) -> (Vec<Step>, Result<bool, Failure>) {
    let mut list = vec![subtypes.len() as u8];
    for t in subtypes {
        list.extend_from_slice(&t.to_be_bytes());
    }
    let list: &'static [u8] = Box::leak(list.into_boxed_slice());
    run(
        hs,
        &[
            (Side::Server, V38),
            (Side::Tenant, V38),
            (Side::Server, &[1, 19]),
            (Side::Tenant, &[1]),
            (Side::Server, &[0, 2]),
            (Side::Server, &[0]),
            (Side::Server, list),
        ],
    )
}

#[test]
fn vencrypt_x509none() {
    let hs = ProxyHandshake::new(vec![Scheme::VeNCrypt], None);
    let (steps, end) = vencrypt_until_subtypes(hs, &[257, X509_NONE]);
    assert_eq!(end, Ok(false));
    assert!(steps.contains(&to(Side::Server, &[0, 2])));
    assert_eq!(steps.last(), Some(&to(Side::Server, &X509_NONE.to_be_bytes())));
}

#[test]
fn vencrypt_accept_byte_then_tls_then_result() {
    let mut hs = ProxyHandshake::new(vec![Scheme::VeNCrypt], None);
    for (side, bytes) in [(Side::Server, V38), (Side::Tenant, V38)] {
        assert_eq!(hs.wants(), side);
        hs = match hs.handle(bytes).unwrap() {
            Outcome::Progress { next, .. } => next,
            o => panic!("{o:?}"),
        };
    }
    let feed = |hs: ProxyHandshake, b: &[u8]| match hs.handle(b).unwrap() {
        Outcome::Progress { next, steps, .. } => (next, steps),
        o => panic!("{o:?}"),
    };
    let (hs, _) = feed(hs, &[1, 19]);
    let (hs, _) = feed(hs, &[1]);
    let (hs, _) = feed(hs, &[0, 2]);
    let (hs, _) = feed(hs, &[0]);
    let (hs, _) = feed(hs, &[1, 0, 0, 1, 4]);
    let (hs, steps) = feed(hs, &[1]);
    assert_eq!(steps, vec![Step::StartTls]);
    assert!(matches!(hs.handle(&[0, 0, 0, 0]), Ok(Outcome::Done { .. })));
}

#[test]
fn vencrypt_x509vnc_needs_the_password() {
    let (_, end) = vencrypt_until_subtypes(ProxyHandshake::new(vec![Scheme::VeNCrypt], None), &[X509_VNC]);
    assert!(end.unwrap_err().log.contains("needs a VNC password"));
    let (steps, end) = vencrypt_until_subtypes(ProxyHandshake::new(vec![Scheme::VeNCrypt], Some(b"pw".to_vec())), &[X509_VNC]);
    assert_eq!(end, Ok(false));
    assert_eq!(steps.last(), Some(&to(Side::Server, &X509_VNC.to_be_bytes())));
}

#[test]
fn vencrypt_refusals() {
    let hs = || ProxyHandshake::new(vec![Scheme::VeNCrypt], None);
    // Version 0.1.
    let (_, end) =
        run(hs(), &[(Side::Server, V38), (Side::Tenant, V38), (Side::Server, &[1, 19]), (Side::Tenant, &[1]), (Side::Server, &[0, 1])]);
    assert!(end.unwrap_err().log.contains("0.2 is required"));
    // A nonzero "cannot use that version" byte.
    let (_, end) = run(
        hs(),
        &[
            (Side::Server, V38),
            (Side::Tenant, V38),
            (Side::Server, &[1, 19]),
            (Side::Tenant, &[1]),
            (Side::Server, &[0, 2]),
            (Side::Server, &[1]),
        ],
    );
    assert!(end.unwrap_err().log.contains("refused VeNCrypt version"));
    // Only anonymous TLS.
    let (_, end) = vencrypt_until_subtypes(hs(), &[257, 258]);
    let f = end.unwrap_err();
    assert!(f.log.contains("anonymous TLS"), "{}", f.log);
    assert!(f.log.contains("TLSNone"), "{}", f.log);
    // Subtype not accepted.
    let (_, end) = run(
        hs(),
        &[
            (Side::Server, V38),
            (Side::Tenant, V38),
            (Side::Server, &[1, 19]),
            (Side::Tenant, &[1]),
            (Side::Server, &[0, 2]),
            (Side::Server, &[0]),
            (Side::Server, &[1, 0, 0, 1, 4]),
            (Side::Server, &[0]),
        ],
    );
    assert!(end.unwrap_err().log.contains("did not accept"));
}

#[test]
fn early_tenant_bytes_are_left_for_the_relay() {
    let hs = none_only();
    let (hs, _) = match hs.handle(V38).unwrap() {
        Outcome::Progress { next, steps, .. } => (next, steps),
        o => panic!("{o:?}"),
    };
    let hs = match hs.handle(V38).unwrap() {
        Outcome::Progress { next, .. } => next,
        o => panic!("{o:?}"),
    };
    let hs = match hs.handle(&[1, 1]).unwrap() {
        Outcome::Progress { next, .. } => next,
        o => panic!("{o:?}"),
    };
    // The choice and ClientInit arrive together: only the choice is consumed.
    match hs.handle(&[1, 1]).unwrap() {
        Outcome::Progress { consumed, .. } => assert_eq!(consumed, 1),
        o => panic!("{o:?}"),
    }
}

#[test]
fn fuzz_entry_points_do_not_panic_on_samples() {
    crate::fuzzing::proxy_handshake(b"", false);
    crate::fuzzing::proxy_handshake(&[0xff; 300], true);
    let mut sample = Vec::new();
    for chunk in [V38, V38, &[2, 19, 2][..], &[1], &[0, 2], &[0], &[1, 0, 0, 1, 5], &[1]] {
        sample.push(chunk.len() as u8);
        sample.extend_from_slice(chunk);
    }
    crate::fuzzing::proxy_handshake(&sample, false);
    crate::fuzzing::messages(&[2, 0, 0xff, 0xff, 3, 1]);
    crate::fuzzing::server_side(&[12, b'R', b'F', b'B', b' ', b'0', b'0', b'3', b'.', b'0', b'0', b'8', b'\n', 2, 1, 19]);
    crate::fuzzing::tenant_side(&[12, b'R', b'F', b'B', b' ', b'0', b'0', b'3', b'.', b'0', b'0', b'8', b'\n', 1, 2]);
}

#[test]
fn debug_output_never_shows_the_password() {
    let hs = ProxyHandshake::new(vec![Scheme::Vnc], Some(b"hunter2".to_vec()));
    let shown = format!("{hs:?}");
    assert!(!shown.contains(&format!("{:?}", b"hunter2".to_vec())), "{shown}");
    assert!(shown.contains("ExpectServerVersion"), "{shown}");
}
