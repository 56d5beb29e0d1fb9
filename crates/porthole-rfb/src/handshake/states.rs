//! The `Expect*` states of the proxy handshake and what each does with its input.

use super::failure::{fail, Culprit, Failure, AUTH_FAILED, GENERIC};
use super::{Outcome, ProxyHandshake, Scheme, Side, Step, TenantStage};
use crate::messages::{encode_security_result, encode_security_types};
use crate::security::{self, subtype_name, type_name, MAX_REASON_LEN};
use crate::{Error, ProtocolVersion, Reader};

/// Every state is named for what it waits for (`Expect*`, the rustls convention).
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
pub(super) enum State {
    /// The server's ProtocolVersion.
    ExpectServerVersion,
    /// The tenant's ProtocolVersion.
    ExpectTenantVersion,
    /// The server's security types (or its refusal and reason).
    ExpectSecurityTypes,
    /// The tenant's choice among the one type offered (None).
    ExpectTenantChoice { server_types: Vec<u8> },
    /// A 16-byte VNC authentication challenge.
    ExpectVncChallenge,
    /// The server's highest VeNCrypt version.
    ExpectVencryptVersion,
    /// The server's answer to our version (0 = accepted).
    ExpectVencryptAck,
    /// The VeNCrypt subtypes.
    ExpectVencryptSubtypes,
    /// The extra byte QEMU and others send after the subtype is chosen (1 = accepted).
    ExpectVencryptAccept { subtype: u32 },
    /// The server's SecurityResult.
    ExpectSecurityResult,
}

impl State {
    pub(super) fn reads_from(&self) -> Side {
        match self {
            State::ExpectTenantVersion | State::ExpectTenantChoice { .. } => Side::Tenant,
            _ => Side::Server,
        }
    }
}

/// Parses with `f`; `Incomplete` becomes `NeedMore`.
macro_rules! parse {
    ($hs:ident, $input:ident, |$r:ident| $body:expr) => {{
        let mut $r = Reader::new($input);
        #[allow(clippy::redundant_closure_call)]
        let parsed = (|| -> Result<_, Error> { $body })();
        match parsed {
            Ok(v) => (v, $r.position()),
            Err(Error::Incomplete) => return Ok(Outcome::NeedMore($hs)),
            Err(e) => return Err($hs.server_fault(format!("malformed message from the VNC server: {e}"))),
        }
    }};
}

impl ProxyHandshake {
    fn server_fault(&self, log: String) -> Failure {
        fail(self.tenant, Culprit::Server, log, GENERIC)
    }

    fn go(mut self, state: State, consumed: usize, steps: Vec<Step>) -> Result<Outcome, Failure> {
        self.state = state;
        Ok(Outcome::Progress { next: self, consumed, steps })
    }
}

fn version_line(r: &mut Reader<'_>) -> Result<Result<ProtocolVersion, Vec<u8>>, Error> {
    let raw = r.take(12)?.to_vec();
    Ok(ProtocolVersion::read(&mut Reader::new(&raw)).map_err(|_| raw))
}

fn reason_or_generic(r: &mut Reader<'_>) -> Result<String, Error> {
    let len = r.u32()? as usize;
    if len > MAX_REASON_LEN {
        return Ok(format!("(a reason of {len} bytes, not read)"));
    }
    Ok(String::from_utf8_lossy(r.take(len)?).into_owned())
}

pub(super) fn handle(hs: ProxyHandshake, input: &[u8]) -> Result<Outcome, Failure> {
    match hs.state {
        State::ExpectServerVersion => {
            let (v, used) = parse!(hs, input, |r| version_line(&mut r));
            match v {
                Ok(ProtocolVersion::V3_8) => {}
                Ok(v) => {
                    return Err(hs.server_fault(format!("VNC server speaks RFB {}.{}; the security proxy requires 3.8", v.major, v.minor)))
                }
                Err(raw) => return Err(hs.server_fault(format!("VNC server sent no RFB version: {:?}", String::from_utf8_lossy(&raw)))),
            }
            let mut version = Vec::new();
            ProtocolVersion::V3_8.encode(&mut version);
            let mut hs = hs;
            hs.tenant = TenantStage::VersionSent;
            hs.go(State::ExpectTenantVersion, used, vec![Step::Send(Side::Server, version.clone()), Step::Send(Side::Tenant, version)])
        }
        State::ExpectTenantVersion => {
            let (v, used) = parse!(hs, input, |r| version_line(&mut r));
            if v != Ok(ProtocolVersion::V3_8) {
                let log = match v {
                    Ok(v) => format!("browser asked for RFB {}.{}; the security proxy requires 3.8", v.major, v.minor),
                    Err(raw) => format!("browser sent no RFB version: {:?}", String::from_utf8_lossy(&raw)),
                };
                return Err(fail(hs.tenant, Culprit::Tenant, log, "The console requires RFB protocol 3.8"));
            }
            hs.go(State::ExpectSecurityTypes, used, Vec::new())
        }
        State::ExpectSecurityTypes => {
            let ((types, refusal), used) = parse!(hs, input, |r| {
                let n = r.u8()?;
                if n == 0 {
                    return Ok((Vec::new(), Some(reason_or_generic(&mut r)?)));
                }
                Ok((r.take(usize::from(n))?.to_vec(), None))
            });
            if let Some(reason) = refusal {
                // The server's own reason (at most 256 bytes) helps the user: "too many connections".
                let shown = if reason.starts_with("(a reason of") { GENERIC } else { reason.as_str() };
                return Err(fail(hs.tenant, Culprit::Server, format!("VNC server refused the connection: {reason}"), shown));
            }
            let mut offer = Vec::new();
            encode_security_types(&mut offer, &[security::NONE]);
            let mut hs = hs;
            hs.tenant = TenantStage::TypesSent;
            hs.go(State::ExpectTenantChoice { server_types: types }, used, vec![Step::Send(Side::Tenant, offer)])
        }
        State::ExpectTenantChoice { ref server_types } => {
            let Some(&choice) = input.first() else { return Ok(Outcome::NeedMore(hs)) };
            if choice != security::NONE {
                let mut f = fail(
                    hs.tenant,
                    Culprit::Tenant,
                    format!("browser chose security type {choice}, not None"),
                    "Only the security type 1 (None) is supported",
                );
                f.to_server = Some(vec![0]);
                return Err(f);
            }
            let server_types = server_types.clone();
            choose_scheme(hs, &server_types)
        }
        State::ExpectVncChallenge => {
            let (challenge, used) = parse!(hs, input, |r| Ok(<[u8; 16]>::try_from(r.take(16)?).unwrap_or([0; 16])));
            let password = hs.password.as_deref().unwrap_or_default();
            let response = security::vnc_auth_response(password, &challenge).to_vec();
            hs.go(State::ExpectSecurityResult, used, vec![Step::Send(Side::Server, response)])
        }
        State::ExpectVencryptVersion => {
            let ((major, minor), used) = parse!(hs, input, |r| Ok((r.u8()?, r.u8()?)));
            if (major, minor) < (0, 2) {
                return Err(hs.server_fault(format!("VNC server offers VeNCrypt {major}.{minor}; 0.2 is required")));
            }
            hs.go(State::ExpectVencryptAck, used, vec![Step::Send(Side::Server, vec![0, 2])])
        }
        State::ExpectVencryptAck => {
            let (ack, used) = parse!(hs, input, |r| r.u8());
            if ack != 0 {
                return Err(hs.server_fault("VNC server refused VeNCrypt version 0.2".into()));
            }
            hs.go(State::ExpectVencryptSubtypes, used, Vec::new())
        }
        State::ExpectVencryptSubtypes => {
            let (subtypes, used) = parse!(hs, input, |r| {
                let n = usize::from(r.u8()?);
                (0..n).map(|_| r.u32()).collect::<Result<Vec<u32>, Error>>()
            });
            let pick = subtypes.iter().copied().find(|&t| t == security::X509_NONE || (t == security::X509_VNC && hs.password.is_some()));
            let Some(subtype) = pick else {
                let names: Vec<&str> = subtypes.iter().map(|&t| subtype_name(t)).collect();
                let why = if subtypes.iter().any(|&t| matches!(t, security::TLS_NONE | security::TLS_VNC | security::TLS_PLAIN | 264)) {
                    "anonymous TLS subtypes are refused: they do not authenticate the server"
                } else if subtypes.contains(&security::X509_VNC) {
                    "X509Vnc needs a VNC password and none is configured for this instance"
                } else {
                    "none of them is X509None or X509Vnc"
                };
                return Err(hs.server_fault(format!("VNC server offers VeNCrypt subtypes {names:?}; {why}")));
            };
            hs.go(State::ExpectVencryptAccept { subtype }, used, vec![Step::Send(Side::Server, subtype.to_be_bytes().to_vec())])
        }
        State::ExpectVencryptAccept { subtype } => {
            let (accepted, used) = parse!(hs, input, |r| r.u8());
            if accepted != 1 {
                return Err(hs.server_fault(format!("VNC server did not accept VeNCrypt {}", subtype_name(subtype))));
            }
            let next = if subtype == security::X509_VNC { State::ExpectVncChallenge } else { State::ExpectSecurityResult };
            hs.go(next, used, vec![Step::StartTls])
        }
        State::ExpectSecurityResult => {
            let (result, used) = parse!(hs, input, |r| {
                match r.u32()? {
                    0 => Ok(None),
                    _ => Ok(Some(reason_or_generic(&mut r)?)),
                }
            });
            if let Some(reason) = result {
                return Err(fail(hs.tenant, Culprit::Server, format!("VNC server refused authentication: {reason}"), AUTH_FAILED));
            }
            let mut ok = Vec::new();
            encode_security_result(&mut ok, None);
            Ok(Outcome::Done { consumed: used, steps: vec![Step::Send(Side::Tenant, ok)] })
        }
    }
}

/// Picks the first of the server's types (in its order) that the configuration allows.
fn choose_scheme(hs: ProxyHandshake, server_types: &[u8]) -> Result<Outcome, Failure> {
    let usable = |t: u8| hs.schemes.iter().copied().find(|s| s.security_type() == t).filter(|s| *s != Scheme::Vnc || hs.password.is_some());
    let Some(scheme) = server_types.iter().copied().find_map(usable) else {
        let offered: Vec<&str> = server_types.iter().map(|&t| type_name(t)).collect();
        let hint = if server_types.contains(&security::VNC_AUTH) && hs.password.is_none() && hs.schemes.contains(&Scheme::Vnc) {
            " (VNC authentication needs a password, and none is configured for this instance)"
        } else {
            ""
        };
        let mut f = hs.server_fault(format!("VNC server offers {offered:?}, none of them allowed by [vnc] auth_schemes{hint}"));
        f.to_server = Some(vec![0]);
        return Err(f);
    };
    let send = Step::Send(Side::Server, vec![scheme.security_type()]);
    let next = match scheme {
        Scheme::None => State::ExpectSecurityResult,
        Scheme::Vnc => State::ExpectVncChallenge,
        Scheme::VeNCrypt => State::ExpectVencryptVersion,
    };
    hs.go(next, 0, vec![send]).map(|o| match o {
        Outcome::Progress { next, steps, .. } => Outcome::Progress { next, consumed: 1, steps },
        other => other,
    })
}
