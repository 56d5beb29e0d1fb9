//! The VNC server's side of the handshake, as the demo and the testkit's fake server run it: our
//! ProtocolVersion, the client's, the security type offered (None, or VNC authentication with a
//! challenge checked against a password), SecurityResult, ClientInit, ServerInit. Sans-io like the
//! proxy's: [`ServerHandshake::start`] gives the first bytes to send, [`ServerHandshake::handle`]
//! takes what the client sent and says what to send next.
//!
//! The server offers RFB 3.8; a client may answer 3.7, and any other 3.x is read as 3.3 (RFC 6143
//! §7.1.1). With 3.3 the server names the security type instead of offering a list; before 3.8 a
//! failed SecurityResult carries no reason, and security None has no SecurityResult at all.
//! Everything a client sends here has a fixed size, so nothing it says decides an allocation.

use crate::codec::put_u32;
use crate::messages::{encode_security_result, encode_security_types, ServerInit, MAX_NAME_LEN};
use crate::security::{self, type_name, vnc_auth_response};
use crate::{ProtocolVersion, Reader};
use std::fmt;

/// The reason a 3.8 client reads when its VNC authentication response is wrong.
pub const AUTH_FAILED: &str = "Authentication failed";
/// The reason a 3.8 client reads when it chose a security type that was not offered.
pub const NOT_OFFERED: &str = "Security type not offered";

/// What the server asks of its clients.
#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// Security type 1: no authentication.
    None,
    /// Security type 2: the client must return `challenge` DES-encrypted with `password` (see
    /// [`vnc_auth_response`]). The challenge must be random and new for every connection, or a
    /// recorded response can be replayed.
    VncAuth {
        /// The password; only its first 8 bytes count.
        password: Vec<u8>,
        /// This connection's challenge.
        challenge: [u8; 16],
    },
}

impl Security {
    fn type_number(&self) -> u8 {
        match self {
            Security::None => security::NONE,
            Security::VncAuth { .. } => security::VNC_AUTH,
        }
    }
}

impl fmt::Debug for Security {
    // The password never reaches a log line, not even at debug level.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Security::None => f.write_str("None"),
            Security::VncAuth { .. } => f.write_str("VncAuth { .. }"),
        }
    }
}

/// Why the server ended the handshake: every cause is the client's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientFault {
    /// The client's first 12 bytes are not an RFB ProtocolVersion.
    #[error("the client sent no RFB version: {0:?}")]
    NotRfb(String),
    /// The client asked for a version other than 3.x.
    #[error("the client asked for RFB {major}.{minor}; this server speaks 3.3, 3.7 and 3.8")]
    UnsupportedVersion {
        /// Major version asked for.
        major: u16,
        /// Minor version asked for.
        minor: u16,
    },
    /// The client chose a security type the server did not offer.
    #[error("the client chose security type {chosen} ({}), but only {offered} ({}) was offered", type_name(*chosen), type_name(*offered))]
    SecurityTypeNotOffered {
        /// The type it chose.
        chosen: u8,
        /// The type offered.
        offered: u8,
    },
    /// The VNC authentication response does not match the password.
    #[error("the client's VNC authentication response does not match the password")]
    WrongPassword,
}

/// A handshake the server gave up on: why, and the bytes that tell the client (possibly none)
/// before the connection is closed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{fault}")]
pub struct Refusal {
    /// What the client did wrong.
    pub fault: ClientFault,
    /// Write these to the client, then close.
    pub to_client: Vec<u8>,
}

/// What handling the client's bytes gave.
#[derive(Debug)]
pub enum Outcome {
    /// More bytes from the client are needed; nothing was consumed.
    NeedMore(ServerHandshake),
    /// `consumed` bytes were used; write `send` to the client, then go on with `next`.
    Progress {
        /// The next state.
        next: ServerHandshake,
        /// Bytes of the input used.
        consumed: usize,
        /// What to write to the client (may be empty).
        send: Vec<u8>,
    },
    /// The handshake is over: write `send` (the ServerInit). Input past `consumed` is the
    /// client's first messages.
    Done {
        /// Bytes of the input used.
        consumed: usize,
        /// What to write to the client.
        send: Vec<u8>,
        /// The ClientInit's shared flag: other clients may stay connected.
        shared: bool,
    },
}

/// The RFB version the client chose; it shapes the rest of the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V3_3,
    V3_7,
    V3_8,
}

/// Every state is named for what it waits for (`Expect*`, the rustls convention).
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
enum State {
    /// The client's ProtocolVersion.
    ExpectClientVersion,
    /// The client's choice among the offered types (3.7 and 3.8).
    ExpectSecurityChoice,
    /// The 16-byte response to our challenge, and the one the password gives.
    ExpectVncAuthResponse { expected: [u8; 16] },
    /// ClientInit: the shared flag.
    ExpectClientInit,
}

/// The server's handshake in progress.
#[derive(Debug)]
pub struct ServerHandshake {
    state: State,
    version: Version,
    security: Security,
    server_init: ServerInit,
}

impl ServerHandshake {
    /// Starts a handshake that will ask for `security` and end with `server_init` (a desktop
    /// name longer than [`MAX_NAME_LEN`] is cut). Write the returned bytes (our ProtocolVersion)
    /// to the client, then feed what it sends to [`handle`](Self::handle).
    pub fn start(security: Security, mut server_init: ServerInit) -> (ServerHandshake, Vec<u8>) {
        server_init.name.truncate(MAX_NAME_LEN);
        let mut hello = Vec::new();
        ProtocolVersion::V3_8.encode(&mut hello);
        (ServerHandshake { state: State::ExpectClientVersion, version: Version::V3_8, security, server_init }, hello)
    }

    /// Handles bytes from the client.
    pub fn handle(self, input: &[u8]) -> Result<Outcome, Refusal> {
        match self.state {
            State::ExpectClientVersion => match take::<12>(input) {
                Some(line) => self.on_version(&line),
                None => Ok(Outcome::NeedMore(self)),
            },
            State::ExpectSecurityChoice => match take::<1>(input) {
                Some([choice]) => self.on_choice(choice),
                None => Ok(Outcome::NeedMore(self)),
            },
            State::ExpectVncAuthResponse { expected } => match take::<16>(input) {
                Some(response) if same(&response, &expected) => {
                    let ok = self.security_ok();
                    self.go(State::ExpectClientInit, 16, ok)
                }
                Some(_) => Err(self.refuse(ClientFault::WrongPassword, AUTH_FAILED)),
                None => Ok(Outcome::NeedMore(self)),
            },
            State::ExpectClientInit => match take::<1>(input) {
                Some([shared]) => {
                    let mut send = Vec::new();
                    self.server_init.encode(&mut send);
                    Ok(Outcome::Done { consumed: 1, send, shared: shared != 0 })
                }
                None => Ok(Outcome::NeedMore(self)),
            },
        }
    }

    fn on_version(mut self, line: &[u8; 12]) -> Result<Outcome, Refusal> {
        let refused = |fault| Refusal { fault, to_client: Vec::new() };
        let asked = ProtocolVersion::read(&mut Reader::new(line))
            .map_err(|_| refused(ClientFault::NotRfb(String::from_utf8_lossy(line).into_owned())))?;
        self.version = match asked {
            ProtocolVersion { major: 3, minor: 8 } => Version::V3_8,
            ProtocolVersion { major: 3, minor: 7 } => Version::V3_7,
            ProtocolVersion { major: 3, .. } => Version::V3_3,
            ProtocolVersion { major, minor } => return Err(refused(ClientFault::UnsupportedVersion { major, minor })),
        };
        let mut send = Vec::new();
        if self.version != Version::V3_3 {
            encode_security_types(&mut send, &[self.security.type_number()]);
            return self.go(State::ExpectSecurityChoice, 12, send);
        }
        // RFB 3.3: the server decides, and a challenge follows at once.
        put_u32(&mut send, u32::from(self.security.type_number()));
        let next = self.after_choice(&mut send);
        self.go(next, 12, send)
    }

    fn on_choice(self, chosen: u8) -> Result<Outcome, Refusal> {
        let offered = self.security.type_number();
        if chosen != offered {
            return Err(self.refuse(ClientFault::SecurityTypeNotOffered { chosen, offered }, NOT_OFFERED));
        }
        let mut send = Vec::new();
        let next = self.after_choice(&mut send);
        self.go(next, 1, send)
    }

    /// Once the type is settled: the challenge, or (None) the SecurityResult where the version has one.
    fn after_choice(&self, send: &mut Vec<u8>) -> State {
        match &self.security {
            Security::None => {
                send.extend_from_slice(&self.security_ok());
                State::ExpectClientInit
            }
            Security::VncAuth { password, challenge } => {
                send.extend_from_slice(challenge);
                State::ExpectVncAuthResponse { expected: vnc_auth_response(password, challenge) }
            }
        }
    }

    /// A successful SecurityResult, or nothing for security None before 3.8.
    fn security_ok(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.version == Version::V3_8 || matches!(self.security, Security::VncAuth { .. }) {
            encode_security_result(&mut out, None);
        }
        out
    }

    /// A failed SecurityResult, with `reason` for 3.8 clients.
    fn refuse(&self, fault: ClientFault, reason: &str) -> Refusal {
        let mut to_client = Vec::new();
        match self.version {
            Version::V3_8 => encode_security_result(&mut to_client, Some(reason)),
            Version::V3_7 | Version::V3_3 => put_u32(&mut to_client, 1),
        }
        Refusal { fault, to_client }
    }

    fn go(mut self, state: State, consumed: usize, send: Vec<u8>) -> Result<Outcome, Refusal> {
        self.state = state;
        Ok(Outcome::Progress { next: self, consumed, send })
    }
}

/// The first `N` bytes of `input`, if it has that many.
fn take<const N: usize>(input: &[u8]) -> Option<[u8; N]> {
    input.get(..N).and_then(|b| b.try_into().ok())
}

/// Compares two responses in time that does not depend on where they differ.
fn same(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
