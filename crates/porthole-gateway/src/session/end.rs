//! How a session ended, as a type: which side ended it ([`Side`]) and how ([`EndKind`]). This is the
//! one place that turns an ending into a WebSocket close code, a reason for the browser, and a log
//! level.

use crate::live::Policy;
use porthole_ws::close_code;
use porthole_ws::ProtocolError;
use std::borrow::Cow;
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
    /// That side accepted none of the bytes waiting for it for this long.
    Stalled(Duration),
    /// The VNC server sent nothing within this time.
    Silent(Duration),
    /// The VNC server could not be reached.
    Unreachable(String),
    /// The RFB security handshake failed (the browser was told in RFB terms).
    Handshake(String),
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

    /// Whether a policy ended it (its teardown is held to a second).
    pub(crate) fn is_policy(&self) -> bool {
        matches!(self.kind, EndKind::Policy(_))
    }

    /// The close frame for the browser: code and reason; `None` when the browser is gone.
    pub(crate) fn close_frame(&self) -> Option<(u16, Cow<'static, str>)> {
        let server = |reason: Cow<'static, str>| Some((close_code::SERVER_ERROR, reason));
        match (&self.side, &self.kind) {
            (_, EndKind::Policy(p)) => Some(policy_frame(*p)),
            (Side::Browser, EndKind::Protocol(e)) => Some((close_code::PROTOCOL_ERROR, e.to_string().into())),
            (Side::Browser, EndKind::Handshake(_)) => Some((close_code::POLICY, "Security negotiation refused".into())),
            (Side::Browser, _) => None,
            (Side::VncServer, EndKind::Closed) => Some((close_code::NORMAL, "VNC server closed the connection".into())),
            (Side::VncServer, EndKind::Stalled(d)) => server(format!("VNC server stopped reading for {} s", d.as_secs()).into()),
            (Side::VncServer, EndKind::Silent(d)) => server(format!("VNC server sent nothing within {:.1} s", d.as_secs_f32()).into()),
            (Side::VncServer, EndKind::Unreachable(_)) => server("VNC server unreachable".into()),
            (Side::VncServer, EndKind::Handshake(_)) => server("VNC server failed: security negotiation".into()),
            (Side::VncServer, _) => server("VNC server failed".into()),
            (Side::Proxy, _) => server("Proxy error".into()),
        }
    }

    /// The level its log line gets: a browser leaving or a policy is ordinary, a VNC server that
    /// fails is a warning, the proxy's own fault an error.
    pub(crate) fn log_level(&self) -> tracing::Level {
        match (&self.side, &self.kind) {
            (_, EndKind::Policy(_)) | (Side::Browser, _) | (Side::VncServer, EndKind::Closed) => tracing::Level::INFO,
            (Side::VncServer, _) => tracing::Level::WARN,
            (Side::Proxy, _) => tracing::Level::ERROR,
        }
    }
}

/// Close code and reason of a policy (the console page shows the reason).
fn policy_frame(p: Policy) -> (u16, Cow<'static, str>) {
    let reason = match p {
        Policy::Reset => "Console reset by an administrator",
        Policy::Killed => "Session ended by an administrator",
        Policy::InstanceStopped => "Instance stopped",
        Policy::Expired => "Token expired",
        Policy::Idle => "Idle timeout",
        Policy::Shutdown => return (close_code::GOING_AWAY, "Going away".into()),
    };
    (close_code::POLICY, reason.into())
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
            EndKind::Stalled(d) => write!(f, "{side} accepted nothing for {} s", d.as_secs()),
            EndKind::Silent(d) => write!(f, "{side} sent nothing within {:.1} s", d.as_secs_f32()),
            EndKind::Unreachable(e) => write!(f, "{side} unreachable: {e}"),
            EndKind::Handshake(e) => write!(f, "security handshake failed ({side}'s fault): {e}"),
            EndKind::Policy(p) => write!(f, "ended by policy: {}", policy_frame(*p).1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_side_and_the_kind() {
        let code = |side, kind| SessionEnd::new(side, kind).close_frame().map(|f| f.0);
        assert_eq!(code(Side::VncServer, EndKind::Closed), Some(1000));
        assert_eq!(code(Side::Proxy, EndKind::Policy(Policy::Shutdown)), Some(1001));
        assert_eq!(code(Side::Browser, EndKind::Protocol(ProtocolError::Unmasked)), Some(1002));
        assert_eq!(code(Side::Proxy, EndKind::Policy(Policy::Reset)), Some(1008));
        assert_eq!(code(Side::VncServer, EndKind::Failed(io::ErrorKind::ConnectionReset.into())), Some(1011));
        assert_eq!(code(Side::VncServer, EndKind::Silent(Duration::from_secs(10))), Some(1011));
        // A browser that left or failed is sent nothing.
        assert_eq!(code(Side::Browser, EndKind::Closed), None);
        assert_eq!(code(Side::Browser, EndKind::Failed(io::ErrorKind::BrokenPipe.into())), None);
    }

    #[test]
    fn levels() {
        assert_eq!(SessionEnd::new(Side::Browser, EndKind::Closed).log_level(), tracing::Level::INFO);
        assert_eq!(SessionEnd::policy(Policy::Idle).log_level(), tracing::Level::INFO);
        assert_eq!(SessionEnd::new(Side::VncServer, EndKind::Unreachable("x".into())).log_level(), tracing::Level::WARN);
        assert_eq!(SessionEnd::new(Side::Proxy, EndKind::Closed).log_level(), tracing::Level::ERROR);
    }
}
