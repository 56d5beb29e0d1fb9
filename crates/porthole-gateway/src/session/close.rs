//! The one place that decides what a session's ending means: the close code and reason the
//! browser gets, and the level of the log line.

use crate::end::{EndKind, SessionEnd, Side};
use crate::live::Policy;
use porthole_ws::close_code;
use std::borrow::Cow;

/// The close frame for the browser: code and reason; `None` when the browser is gone.
pub(crate) fn close_frame(end: &SessionEnd) -> Option<(u16, Cow<'static, str>)> {
    let server = |reason: Cow<'static, str>| Some((close_code::SERVER_ERROR, reason));
    match (&end.side, &end.kind) {
        (_, EndKind::Policy(p)) => Some(policy_frame(*p)),
        (Side::Browser, EndKind::Protocol(e)) => Some((close_code::PROTOCOL_ERROR, e.to_string().into())),
        (Side::Browser, EndKind::Rfb(_)) => Some((close_code::PROTOCOL_ERROR, "Invalid RFB message".into())),
        (Side::Browser, EndKind::Handshake { .. }) => Some((close_code::POLICY, "Security negotiation refused".into())),
        (Side::Browser, _) => None,
        (Side::VncServer, EndKind::Closed) => Some((close_code::NORMAL, "VNC server closed the connection".into())),
        (Side::VncServer, EndKind::Stalled(d)) => server(format!("VNC server stopped reading for {} s", d.as_secs()).into()),
        (Side::VncServer, EndKind::Silent(d)) => server(format!("VNC server sent nothing within {:.1} s", d.as_secs_f32()).into()),
        (Side::VncServer, EndKind::Unreachable(_)) => server("VNC server unreachable".into()),
        (Side::VncServer, EndKind::Handshake { .. }) => server("VNC server failed: security negotiation".into()),
        (Side::VncServer, EndKind::AuthRequired(_)) => server("VNC server requires authentication".into()),
        (Side::VncServer, _) => server("VNC server failed".into()),
        (Side::Proxy, _) => server("Proxy error".into()),
    }
}

/// The level its log line gets: a browser leaving or a policy is ordinary, a VNC server that
/// fails is a warning, the proxy's own fault an error.
pub(crate) fn log_level(end: &SessionEnd) -> tracing::Level {
    match (&end.side, &end.kind) {
        (_, EndKind::Policy(_)) | (Side::Browser, _) | (Side::VncServer, EndKind::Closed) => tracing::Level::INFO,
        (Side::VncServer, _) => tracing::Level::WARN,
        (Side::Proxy, _) => tracing::Level::ERROR,
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
        Policy::TakenOver => "Serial console taken over by another session",
        Policy::Shutdown => return (close_code::GOING_AWAY, "Going away".into()),
    };
    (close_code::POLICY, reason.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use porthole_ws::ProtocolError;
    use std::io;
    use std::time::Duration;

    #[test]
    fn codes_follow_the_side_and_the_kind() {
        let code = |side, kind| close_frame(&SessionEnd::new(side, kind)).map(|f| f.0);
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
        assert_eq!(log_level(&SessionEnd::new(Side::Browser, EndKind::Closed)), tracing::Level::INFO);
        assert_eq!(log_level(&SessionEnd::policy(Policy::Idle)), tracing::Level::INFO);
        assert_eq!(log_level(&SessionEnd::new(Side::VncServer, EndKind::Unreachable("x".into()))), tracing::Level::WARN);
        assert_eq!(log_level(&SessionEnd::new(Side::Proxy, EndKind::Closed)), tracing::Level::ERROR);
    }
}
