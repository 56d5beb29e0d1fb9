//! How a session ended, as a type: which side ended it ([`Side`]) and how ([`EndKind`]). The
//! upstream and the relay report their endings this way; `session` alone turns one into a close
//! code, a reason for the browser and a log level.

use crate::live::Policy;
use porthole_ws::ProtocolError;
use std::fmt;
use std::io;
use std::time::Duration;

/// Which side ended a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The browser (its WebSocket).
    Browser,
    /// The VNC server (or the guest's console).
    VncServer,
    /// The proxy itself: a policy, or its own fault.
    Proxy,
}

/// How it ended.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum EndKind {
    /// That side closed its connection.
    Closed,
    /// Reading from or writing to that side failed.
    Failed(io::Error),
    /// The browser broke the WebSocket protocol.
    Protocol(ProtocolError),
    /// The browser sent an RFB message a view-only session does not allow or cannot read.
    Rfb(String),
    /// That side accepted none of the bytes waiting for it for this long.
    Stalled(Duration),
    /// The VNC server sent nothing within this time.
    Silent(Duration),
    /// The VNC server could not be reached.
    Unreachable(String),
    /// The RFB security handshake failed (the browser was told in RFB terms): a short cause for
    /// metrics (`auth_refused`, `no_common_scheme`, …) and what happened, for the log.
    Handshake {
        /// One of a few words (see `upstream::security`).
        cause: &'static str,
        /// What happened.
        log: String,
    },
    /// In relay mode, the VNC server asked for authentication (these security types) that the
    /// proxy was not told to answer, and the browser gave up.
    AuthRequired(Vec<u8>),
    /// The proxy ended it.
    Policy(Policy),
}

/// The end of a session.
#[derive(Debug)]
pub(crate) struct SessionEnd {
    /// Who ended it.
    pub side: Side,
    /// How.
    pub kind: EndKind,
}

impl SessionEnd {
    /// An ending on `side`.
    pub(crate) fn new(side: Side, kind: EndKind) -> Self {
        SessionEnd { side, kind }
    }

    /// An ending by policy.
    pub(crate) fn policy(p: Policy) -> Self {
        SessionEnd { side: Side::Proxy, kind: EndKind::Policy(p) }
    }

    /// Whether the VNC server's side ended it (closed, failed, stalled), so that a stopped VM can
    /// still be told apart from a VNC server that went away.
    pub(crate) fn is_server_gone(&self) -> bool {
        self.side == Side::VncServer && matches!(self.kind, EndKind::Closed | EndKind::Failed(_))
    }

    /// A short stable code for the session history's `end_reason` (and metrics): which side and
    /// how, e.g. `browser-closed`, `server-unreachable`, `reset`, `killed`, `instance-stopped`.
    pub(crate) fn reason(&self) -> &'static str {
        match (&self.side, &self.kind) {
            (_, EndKind::Policy(p)) => p.as_str(),
            (Side::Browser, EndKind::Closed) => "browser-closed",
            (Side::Browser, EndKind::Protocol(_) | EndKind::Rfb(_)) => "browser-protocol-error",
            (Side::Browser, EndKind::Stalled(_)) => "browser-stalled",
            (Side::Browser, EndKind::Handshake { .. }) => "browser-refused-security",
            (Side::Browser, _) => "browser-failed",
            (Side::VncServer, EndKind::Closed) => "server-closed",
            (Side::VncServer, EndKind::Stalled(_)) => "server-stalled",
            (Side::VncServer, EndKind::Silent(_)) => "server-silent",
            (Side::VncServer, EndKind::Unreachable(_)) => "server-unreachable",
            (Side::VncServer, EndKind::Handshake { .. }) => "server-handshake-failed",
            (Side::VncServer, EndKind::AuthRequired(_)) => "server-requires-auth",
            (Side::VncServer, _) => "server-failed",
            (Side::Proxy, _) => "proxy-error",
        }
    }

    /// Whether a policy ended it (its teardown is held to a second).
    pub(crate) fn is_policy(&self) -> bool {
        matches!(self.kind, EndKind::Policy(_))
    }
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Browser => "browser",
            Side::VncServer => "VNC server",
            Side::Proxy => "proxy",
        };
        match &self.kind {
            EndKind::Closed => write!(f, "{side} closed the connection"),
            EndKind::Failed(e) => write!(f, "{side} connection failed: {e}"),
            EndKind::Protocol(e) => write!(f, "{side} broke the WebSocket protocol: {e}"),
            EndKind::Rfb(e) => write!(f, "{side} sent an invalid RFB message in a view-only session: {e}"),
            EndKind::Stalled(d) => write!(f, "{side} accepted nothing for {} s", d.as_secs()),
            EndKind::Silent(d) => write!(f, "{side} sent nothing within {:.1} s", d.as_secs_f32()),
            EndKind::Unreachable(e) => write!(f, "{side} unreachable: {e}"),
            EndKind::Handshake { log, .. } => write!(f, "security handshake failed ({side}'s fault): {log}"),
            EndKind::Policy(p) => write!(f, "ended by policy: {p:?}"),
            EndKind::AuthRequired(types) => {
                let names: Vec<_> = types.iter().map(|t| porthole_rfb::security::type_name(*t)).collect();
                write!(
                    f,
                    "the VNC server asks for authentication ({}) that the proxy was not told to answer: add \"vnc\" (or \"vencrypt\") \
                     to [vnc] auth_schemes and give the password (the domain's passwd, or the target's password)",
                    names.join(", ")
                )
            }
        }
    }
}
