//! Why a console is refused: the HTTP status and body of the refused upgrade, the reason the
//! console page shows, and the log line (refusals are logged as refusals, never as errors).

use super::origin::OriginError;
use http::StatusCode;

/// Why admission refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Refusal {
    /// Not a well-formed request (duplicate headers, a bad upgrade).
    Malformed(&'static str),
    /// A WebSocket version other than 13 (answered with `Sec-WebSocket-Version: 13`).
    WrongVersion,
    /// No token in the query or a cookie.
    MissingToken,
    /// The token is not known (or never was).
    Invalid,
    /// The token expired.
    Expired,
    /// The token was revoked (console reset, VM stopped).
    Revoked,
    /// The token's VNC endpoint no longer belongs to its instance (CVE-2013-0335).
    Moved,
    /// The Origin is not allowed (CVE-2015-0259).
    Origin(OriginError),
    /// Too many failed tokens from this client.
    Throttled,
    /// `max_sessions` are live.
    Busy,
    /// The proxy is shutting down.
    ShuttingDown,
    /// The token store failed.
    StoreDown(String),
    /// The node that holds the instance could not be asked whether the endpoint is still its.
    NodeDown(String),
    /// The VNC server does not answer (only `/console/check` finds this out before connecting).
    Unreachable,
}

impl Refusal {
    /// The HTTP status of the refused upgrade.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
            Refusal::WrongVersion => StatusCode::UPGRADE_REQUIRED,
            Refusal::MissingToken | Refusal::Invalid | Refusal::Expired | Refusal::Revoked | Refusal::Moved => StatusCode::UNAUTHORIZED,
            Refusal::Origin(_) => StatusCode::FORBIDDEN,
            Refusal::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Busy | Refusal::ShuttingDown | Refusal::StoreDown(_) | Refusal::NodeDown(_) | Refusal::Unreachable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// A short code for the console page (`POST /console/check`).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) | Refusal::WrongVersion => "malformed",
            Refusal::MissingToken => "missing",
            Refusal::Invalid => "invalid",
            Refusal::Expired => "expired",
            Refusal::Revoked => "revoked",
            Refusal::Moved => "moved",
            Refusal::Origin(_) => "origin",
            Refusal::Throttled => "throttled",
            Refusal::Busy => "busy",
            Refusal::ShuttingDown => "shutting-down",
            Refusal::StoreDown(_) | Refusal::NodeDown(_) => "unavailable",
            Refusal::Unreachable => "unreachable",
        }
    }

    /// Whether only a new console URL can help.
    pub(crate) fn is_final(&self) -> bool {
        matches!(self, Refusal::MissingToken | Refusal::Invalid | Refusal::Expired | Refusal::Revoked | Refusal::Moved)
    }

    /// What a person is told (the body of the refused upgrade, the console page's message).
    /// It says nothing that helps guess a token: only a holder of a once-valid token learns that
    /// it expired or was revoked.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Refusal::Malformed(why) => why,
            Refusal::WrongVersion => "Only WebSocket version 13 is supported",
            Refusal::MissingToken => "This console URL has no token: ask for a new console URL",
            Refusal::Invalid => "Invalid or expired console URL: ask for a new console URL",
            Refusal::Expired => "This console URL has expired: ask for a new console URL",
            Refusal::Revoked => "This console was reset (or its VM stopped): ask for a new console URL",
            Refusal::Moved => "The VM was restarted since this console URL was made: ask for a new console URL",
            Refusal::Origin(_) => "This page's origin may not open consoles here (Origin not allowed)",
            Refusal::Throttled => "Too many invalid console URLs from this address: wait a minute",
            Refusal::Busy => "Too many consoles are open on this proxy: try again later",
            Refusal::ShuttingDown => "The console proxy is restarting: try again in a moment",
            Refusal::StoreDown(_) => "The console service is unavailable: try again in a moment",
            Refusal::NodeDown(_) => "The VM's host cannot be reached right now: try again in a moment",
            Refusal::Unreachable => "The machine's console (its VNC server) does not answer: try again in a moment",
        }
    }

    /// Logs the refusal: INFO for what clients do, WARN where the operator should look.
    pub(crate) fn log(&self, peer: std::net::SocketAddr) {
        match self {
            Refusal::StoreDown(cause) => tracing::warn!(%peer, %cause, "console refused: token store unavailable"),
            Refusal::NodeDown(cause) => tracing::warn!(%peer, %cause, "console refused: the endpoint could not be re-checked"),
            Refusal::Busy => tracing::warn!(%peer, "console refused: max_sessions reached"),
            Refusal::Moved => tracing::warn!(%peer, "console refused: the endpoint no longer belongs to the instance"),
            Refusal::Origin(e) => tracing::info!(%peer, cause = %e, "console refused: Origin"),
            other => tracing::info!(%peer, reason = other.code(), "console refused"),
        }
    }
}
