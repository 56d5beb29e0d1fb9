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

use crate::live::{NotRegistered, SessionHandle, SessionMeta, Slot};
use crate::recheck::Recheck;
use crate::state::AppState;
use http::header::{HOST, ORIGIN};
use http::HeaderMap;
use origin::{check_origin, OriginRequest};
use porthole_tokens::store::Lookup;
use porthole_tokens::{ConnectInfo, Token};
use std::net::{IpAddr, SocketAddr};

/// What admission reads of a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The query string, where `?token=` is.
    pub query: Option<&'a str>,
    /// The address the connection came from (a reverse proxy, perhaps).
    pub peer: SocketAddr,
}

/// What a session is for, as its log lines and the live list name it.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The instance's name.
    pub name: String,
    /// Its libvirt node, `None` for a static target.
    pub node: Option<String>,
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
    pub slot: Slot,
    /// The instance, by name and node.
    pub target: Target,
    /// When the request arrived (set-up latency).
    pub began: tokio::time::Instant,
}

/// What the console page learns from [`check`].
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    /// What the token opens.
    pub info: ConnectInfo,
}

/// Admits a WebSocket request, or says why not (counted in `porthole_token_checks_total`).
pub(crate) async fn admit(state: &AppState, req: Request<'_>) -> Result<Admitted, Refusal> {
    let began = tokio::time::Instant::now();
    let admitted = admit_at(state, req, began).await;
    state.metrics.token_checked("upgrade", outcome(&admitted));
    admitted
}

/// The `outcome` label of a console admission.
fn outcome<T>(result: &Result<T, Refusal>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Refusal::ShuttingDown) => "shutting_down",
        Err(r) => r.code(),
    }
}

async fn admit_at(state: &AppState, req: Request<'_>, began: tokio::time::Instant) -> Result<Admitted, Refusal> {
    let client = client_ip(state, req);
    let token = cheap_checks(state, req, client)?;
    let slot = state.live.try_slot(state.settings().max_sessions).ok_or(Refusal::Busy)?;
    let generation = state.live.generation();
    let (info, target) = token_checks(state, req, client, &token).await?;
    let meta = SessionMeta {
        instance: info.instance_uuid,
        instance_name: target.name.clone(),
        node: target.node.clone(),
        client,
        console_type: info.console_type,
        view_only: info.view_only,
        minted_by: info.minted_by.clone(),
    };
    let session = state.live.register(meta, generation).map_err(|e| match e {
        NotRegistered::Revoked => Refusal::Revoked,
        NotRegistered::ShuttingDown => Refusal::ShuttingDown,
    })?;
    Ok(Admitted { info, session, token_id: token.hash().short().to_owned(), slot, target, began })
}

/// The same checks as [`admit`], without taking a slot or registering; a full proxy says so.
pub(crate) async fn check(state: &AppState, req: Request<'_>) -> Result<Checked, Refusal> {
    let checked = check_only(state, req).await;
    state.metrics.token_checked("check", outcome(&checked));
    checked
}

async fn check_only(state: &AppState, req: Request<'_>) -> Result<Checked, Refusal> {
    let client = client_ip(state, req);
    let token = cheap_checks(state, req, client)?;
    if !state.live.has_slot(state.settings().max_sessions) {
        return Err(Refusal::Busy);
    }
    let (info, _) = token_checks(state, req, client, &token).await?;
    Ok(Checked { info })
}

/// The client: the peer, or, when the peer is a trusted proxy, the nearest address in
/// `X-Forwarded-For` that is not one (a client cannot forge its way past a trusted proxy).
pub(crate) fn client_ip(state: &AppState, req: Request<'_>) -> IpAddr {
    let trusted = &state.settings().trusted_proxies;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = req.peer.ip();
    if !is_trusted(&client) {
        return client;
    }
    let hops = req.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    let hops: Vec<IpAddr> = hops.filter_map(|h| h.trim().parse().ok()).collect();
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// Headers, throttling: everything that needs neither the store nor libvirt.
fn cheap_checks(state: &AppState, req: Request<'_>, client: IpAddr) -> Result<Token, Refusal> {
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
    origin::check_origin_host(origin_req, &state.settings().allowed_origins).map_err(Refusal::Origin)?;
    if state.throttle.is_throttled(client) {
        return Err(Refusal::Throttled);
    }
    let token = token_source::token_from_request(req.query, req.headers).ok_or(Refusal::MissingToken)?;
    Ok(Token::from_presented(&token))
}

/// The token, the Origin's scheme against its console URL, the endpoint.
async fn token_checks(state: &AppState, req: Request<'_>, client: IpAddr, token: &Token) -> Result<(ConnectInfo, Target), Refusal> {
    let lookup = state.auth.lookup(token).await.map_err(|e| Refusal::StoreDown(e.to_string()))?;
    let info = match lookup {
        Lookup::Valid(info) => info,
        failed => {
            state.throttle.charge(client);
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
    check_origin(origin_req, &state.settings().allowed_origins, &info.access_url_base).map_err(Refusal::Origin)?;
    let target = match crate::recheck::recheck(state.inventory().as_ref(), state.settings().endpoint_check, &info).await {
        Ok(Recheck::Serves(Some(instance))) => Target { name: instance.name, node: instance.node },
        // A Nova token on a host that no node is: the instance is known by its UUID only.
        Ok(Recheck::Serves(None)) => Target { name: info.instance_uuid.to_string(), node: None },
        Ok(Recheck::Moved) => return Err(Refusal::Moved),
        Err(e) => return Err(Refusal::NodeDown(e.to_string())),
    };
    Ok((info, target))
}

fn forwarded_proto(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get("x-forwarded-proto").map(|v| v.as_bytes())
}
