//! The security proxy's handshake: RFB 3.8 toward the browser (the tenant) with security None
//! only, and toward the VNC server whatever configured scheme the server offers first (None, VNC
//! authentication, VeNCrypt X509None/X509Vnc). Sans-io: the caller feeds bytes from the side
//! [`ProxyHandshake::wants`] names and carries out the returned [`Step`]s.
//!
//! States are `Expect*` values: each consumes itself and returns the next, so a handshake can only
//! move forward. "Need more bytes" is [`Outcome::NeedMore`], not an error.
//!
//! [`server`] is the other handshake a VNC server runs with its clients (the demo, the testkit's
//! fake server): the same style, one peer.

mod failure;
pub mod server;
mod states;
#[cfg(test)]
mod tests;

pub use failure::{Culprit, Failure, AUTH_FAILED, GENERIC};
pub use server::ServerHandshake;

use crate::security;
use std::fmt;

/// A security scheme the proxy may use toward VNC servers (`[vnc] auth_schemes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Security type 1.
    None,
    /// Security type 2, with the instance's VNC password.
    Vnc,
    /// Security type 19, X509None, or X509Vnc with the password.
    VeNCrypt,
}

impl Scheme {
    fn security_type(self) -> u8 {
        match self {
            Scheme::None => security::NONE,
            Scheme::Vnc => security::VNC_AUTH,
            Scheme::VeNCrypt => security::VENCRYPT,
        }
    }
}

/// One side of the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The VNC server.
    Server,
    /// The browser.
    Tenant,
}

/// Something the caller must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes to that side.
    Send(Side, Vec<u8>),
    /// Wrap the server connection in TLS (VeNCrypt X509*) before reading or writing it again.
    StartTls,
}

/// What handling some input gave.
#[derive(Debug)]
pub enum Outcome {
    /// More bytes from [`ProxyHandshake::wants`] are needed; nothing was consumed.
    NeedMore(ProxyHandshake),
    /// `consumed` bytes were used; carry out `steps`, then go on with `next`.
    Progress {
        /// The next state.
        next: ProxyHandshake,
        /// Bytes of the input used.
        consumed: usize,
        /// What to do now.
        steps: Vec<Step>,
    },
    /// The handshake is over: carry out `steps`, then relay bytes untouched. Input past
    /// `consumed`, and anything the tenant sent early, belongs to the relay.
    Done {
        /// Bytes of the input used.
        consumed: usize,
        /// What to do now.
        steps: Vec<Step>,
    },
}

/// How far the tenant got: decides how a failure is told to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TenantStage {
    /// Nothing sent yet.
    Nothing,
    /// Our ProtocolVersion was sent.
    VersionSent,
    /// The security types were sent; a failure is a SecurityResult.
    TypesSent,
}

/// The handshake in progress.
pub struct ProxyHandshake {
    state: states::State,
    schemes: Vec<Scheme>,
    password: Option<Vec<u8>>,
    tenant: TenantStage,
}

impl fmt::Debug for ProxyHandshake {
    // The VNC password never reaches a log line, not even at debug level.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyHandshake")
            .field("state", &self.state)
            .field("schemes", &self.schemes)
            .field("password", &self.password.as_ref().map(|_| ".."))
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl ProxyHandshake {
    /// Starts a handshake that may use `schemes` (in the order the server lists them) and, where
    /// a scheme needs one, `password`.
    pub fn new(schemes: Vec<Scheme>, password: Option<Vec<u8>>) -> Self {
        ProxyHandshake { state: states::State::ExpectServerVersion, schemes, password, tenant: TenantStage::Nothing }
    }

    /// Which side the next bytes must come from.
    pub fn wants(&self) -> Side {
        self.state.reads_from()
    }

    /// Handles bytes from [`wants`](Self::wants)'s side.
    pub fn handle(self, input: &[u8]) -> Result<Outcome, Failure> {
        states::handle(self, input)
    }

    /// What to tell the tenant (and the server) when the proxy gives up on its own, e.g. on a
    /// time limit.
    pub fn fail(&self, log: impl Into<String>) -> Failure {
        failure::fail(self.tenant, Culprit::Server, log.into(), failure::GENERIC)
    }
}
