//! Admission: whether a WebSocket request may become a console session, answered before the
//! upgrade with a status. Cheapest first, and nothing reaches the token store or libvirt before
//! the cheap checks pass:
//!
//! 1. headers: one `Host`, at most one `Origin` whose host is ours (CVE-2015-0259), a well-formed
//!    RFC 6455 upgrade, a token in the query or a cookie;
//! 2. the client is not throttled for failed tokens;
//! 3. a session slot (`max_sessions`), and the proxy is not shutting down;
//! 4. the token (hash lookup: unknown, expired, revoked), then the Origin's scheme against the
//!    token's console URL, then the endpoint still belongs to the instance (CVE-2013-0335);
//! 5. registration in the live sessions, refused if the instance was revoked meanwhile.
//!
//! [`check`] runs the same checks for the console page (`POST /console/check`) without taking a
//! slot or registering, so the page can say why a console would be refused.

pub(crate) mod origin;
mod refusal;
mod token_source;

pub(crate) use refusal::Refusal;

use crate::live::{NotRegistered, SessionHandle};
use crate::state::AppState;
use http::header::{HOST, ORIGIN};
use http::HeaderMap;
use origin::{check_origin, OriginRequest};
use porthole_tokens::store::Lookup;
use porthole_tokens::{ConnectInfo, Token};
use std::net::SocketAddr;
use tokio::sync::OwnedSemaphorePermit;

/// What admission reads of a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The query string, where `?token=` is.
    pub query: Option<&'a str>,
    /// The client's address.
    pub peer: SocketAddr,
}

/// A request admitted as a session: everything the session needs, its slot and its registration.
pub(crate) struct Admitted {
    /// What the token opens.
    pub info: ConnectInfo,
    /// The live registration (dropping it unregisters).
    pub session: SessionHandle,
    /// A prefix of the token's hash, for log lines.
    pub token_id: String,
    /// The `max_sessions` slot, held for the session's life.
    pub slot: OwnedSemaphorePermit,
}

/// What the console page learns from [`check`].
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    /// What the token opens.
    pub info: ConnectInfo,
}

/// Admits a WebSocket request, or says why not.
pub(crate) async fn admit(state: &AppState, req: Request<'_>) -> Result<Admitted, Refusal> {
    let token = cheap_checks(state, req)?;
    let slot = state.slots.clone().try_acquire_owned().map_err(|_| Refusal::Busy)?;
    let generation = state.live.generation();
    let info = token_checks(state, req, &token).await?;
    let session = state.live.register(info.instance_uuid, generation, req.peer).map_err(|e| match e {
        NotRegistered::Revoked => Refusal::Revoked,
        NotRegistered::ShuttingDown => Refusal::ShuttingDown,
    })?;
    Ok(Admitted { info, session, token_id: token.hash().short().to_owned(), slot })
}

/// The same checks as [`admit`], without taking a slot or registering; a full proxy says so.
pub(crate) async fn check(state: &AppState, req: Request<'_>) -> Result<Checked, Refusal> {
    let token = cheap_checks(state, req)?;
    if state.slots.available_permits() == 0 {
        return Err(Refusal::Busy);
    }
    let info = token_checks(state, req, &token).await?;
    Ok(Checked { info })
}

/// Headers, throttling: everything that needs neither the store nor libvirt.
fn cheap_checks(state: &AppState, req: Request<'_>) -> Result<Token, Refusal> {
    let single = |name| {
        let mut values = req.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (first, None) => Ok(first.map(http::HeaderValue::as_bytes)),
            (Some(_), Some(_)) | (None, Some(_)) => Err(()),
        }
    };
    let host = single(HOST).map_err(|()| Refusal::Malformed("more than one Host header"))?;
    let origin = single(ORIGIN).map_err(|()| Refusal::Malformed("more than one Origin header"))?;
    let origin_req = OriginRequest { origin, host, forwarded_proto: forwarded_proto(req.headers) };
    origin::check_origin_host(origin_req, &state.settings.allowed_origins).map_err(Refusal::Origin)?;
    if state.throttle.is_throttled(req.peer.ip()) {
        return Err(Refusal::Throttled);
    }
    let token = token_source::token_from_request(req.query, req.headers).ok_or(Refusal::MissingToken)?;
    Ok(Token::from_presented(&token))
}

/// The token, the Origin's scheme against its console URL, the endpoint.
async fn token_checks(state: &AppState, req: Request<'_>, token: &Token) -> Result<ConnectInfo, Refusal> {
    let lookup = state.auth.lookup(token).await.map_err(|e| Refusal::StoreDown(e.to_string()))?;
    let info = match lookup {
        Lookup::Valid(info) => info,
        failed => {
            state.throttle.charge(req.peer.ip());
            return Err(match failed {
                Lookup::Expired => Refusal::Expired,
                Lookup::Revoked => Refusal::Revoked,
                _ => Refusal::Invalid,
            });
        }
    };
    let origin_req = OriginRequest {
        origin: req.headers.get(ORIGIN).map(|v| v.as_bytes()),
        host: req.headers.get(HOST).map(|v| v.as_bytes()),
        forwarded_proto: forwarded_proto(req.headers),
    };
    check_origin(origin_req, &state.settings.allowed_origins, &info.access_url_base).map_err(Refusal::Origin)?;
    match crate::recheck::endpoint_matches(state.inventory.as_ref(), state.settings.endpoint_check, &info).await {
        Ok(true) => {}
        Ok(false) => return Err(Refusal::Moved),
        Err(e) => return Err(Refusal::NodeDown(e.to_string())),
    }
    Ok(info)
}

fn forwarded_proto(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get("x-forwarded-proto").map(|v| v.as_bytes())
}
