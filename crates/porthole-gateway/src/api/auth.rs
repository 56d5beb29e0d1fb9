//! API keys: `X-Auth-Token` against `[[api.keys]]`, compared in constant time, never logged.

use super::error::ApiError;
use crate::settings::{ApiKey, Role, Scope};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use subtle::ConstantTimeEq as _;

/// The authenticated caller, put into request extensions.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// The key's name.
    pub name: String,
    /// The key's role.
    pub role: Role,
    /// The instances it sees.
    pub scope: Scope,
}

impl Caller {
    /// Whether the caller sees an instance named `name` on `node` (`None`: a static target).
    /// Everything the API says about instances, consoles, tokens and sessions goes through this.
    pub(crate) fn sees(&self, name: &str, node: Option<&str>) -> bool {
        self.scope.allows(name, node)
    }

    /// Fails with 403 unless the caller is an admin.
    pub(crate) fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::Forbidden(format!("Policy doesn't allow {what} to be performed."))),
        }
    }
}

/// Finds the key whose secret equals `presented`, looking at every key in constant time each.
pub(crate) fn find_key<'a>(keys: &'a [ApiKey], presented: &[u8]) -> Option<&'a ApiKey> {
    let mut found = None;
    for k in keys {
        if bool::from(k.secret.as_bytes().ct_eq(presented)) && found.is_none() {
            found = Some(k);
        }
    }
    found
}

/// Middleware: 401 without a valid `X-Auth-Token`; otherwise the [`Caller`] goes into extensions.
pub(crate) async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let presented = req.headers().get("x-auth-token").map(|v| v.as_bytes().to_vec());
    let settings = state.settings();
    let key = presented.as_deref().and_then(|p| find_key(&settings.api_keys, p));
    match key {
        Some(k) => {
            req.extensions_mut().insert(Caller { name: k.name.clone(), role: k.role, scope: k.scope.clone() });
            next.run(req).await
        }
        None => {
            tracing::info!(path = %crate::redact::loggable_path(req.uri().path()), "API request refused: no valid X-Auth-Token");
            ApiError::Unauthorized.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly() {
        let keys = vec![ApiKey::new("ops", "s3cret", Role::Admin), ApiKey::new("dev", "other", Role::Member)];
        assert_eq!(find_key(&keys, b"s3cret").map(|k| k.role), Some(Role::Admin));
        assert_eq!(find_key(&keys, b"other").map(|k| k.name.as_str()), Some("dev"));
        for bad in [&b""[..], b"s3cre", b"s3cret ", b"S3CRET"] {
            assert!(find_key(&keys, bad).is_none());
        }
        assert!(!format!("{:?}", keys[0]).contains("s3cret"));
    }
}
