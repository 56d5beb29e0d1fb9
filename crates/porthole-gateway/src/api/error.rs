//! API errors in Nova's shapes: `{"itemNotFound": {"code": 404, "message": "…"}}` and friends.
//! Internal faults become a 500 without detail; the cause goes to the log.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `badRequest`.
    BadRequest(String),
    /// 401 (keystone's shape): no or a wrong `X-Auth-Token`.
    Unauthorized,
    /// 403 `forbidden`: the key's role may not do this.
    Forbidden(String),
    /// 404 `itemNotFound`.
    NotFound(String),
    /// 406 `notAcceptable`: a microversion outside the supported range.
    NotAcceptable(String),
    /// 409 `conflict`.
    Conflict(String),
    /// 503 `serviceUnavailable`: a node that holds the instance cannot be reached.
    Unavailable(String),
    /// 500 `computeFault`; the detail is logged, never sent.
    Internal(String),
}

/// The body of an error: `{"<kind>": {"code": N, "message": "…"}}`.
#[derive(Serialize, ToSchema)]
pub struct Fault {
    /// The HTTP status again.
    pub code: u16,
    /// What went wrong, for a person.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "badRequest", m),
            ApiError::Unauthorized => {
                let body = serde_json::json!({"error": {"code": 401, "title": "Unauthorized",
                    "message": "The request you have made requires authentication."}});
                return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
            }
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "itemNotFound", m),
            ApiError::NotAcceptable(m) => (StatusCode::NOT_ACCEPTABLE, "notAcceptable", m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "serviceUnavailable", m),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "computeFault", "Unexpected API Error. Check the Porthole log.".to_owned())
            }
        };
        let body = serde_json::json!({ kind: Fault { code: status.as_u16(), message } });
        (status, Json(body)).into_response()
    }
}
