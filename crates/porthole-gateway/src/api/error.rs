//! API errors in Nova's shapes: `{"itemNotFound": {"code": 404, "message": "…"}}` and friends.
//! Internal faults become a 500 without detail; the cause goes to the log.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure.
#[derive(Debug)]
pub(crate) enum ApiError {
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
pub(crate) struct Fault {
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

/// A 400 body: `{"badRequest": {"code": 400, "message": "…"}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct BadRequestBody {
    /// The fault.
    #[serde(rename = "badRequest")]
    pub fault: Fault,
}

/// A 403 body: `{"forbidden": {"code": 403, "message": "…"}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ForbiddenBody {
    /// The fault.
    #[serde(rename = "forbidden")]
    pub fault: Fault,
}

/// A 404 body: `{"itemNotFound": {"code": 404, "message": "…"}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct NotFoundBody {
    /// The fault.
    #[serde(rename = "itemNotFound")]
    pub fault: Fault,
}

/// A 409 body: `{"conflict": {"code": 409, "message": "…"}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConflictBody {
    /// The fault.
    #[serde(rename = "conflict")]
    pub fault: Fault,
}

/// A 503 body: `{"serviceUnavailable": {"code": 503, "message": "…"}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct UnavailableBody {
    /// The fault.
    #[serde(rename = "serviceUnavailable")]
    pub fault: Fault,
}

/// The 401 body, keystone's shape.
#[derive(Serialize, ToSchema)]
pub(crate) struct UnauthorizedBody {
    /// The error.
    pub error: UnauthorizedError,
}

/// Keystone's 401 error.
#[derive(Serialize, ToSchema)]
pub(crate) struct UnauthorizedError {
    /// 401.
    pub code: u16,
    /// `Unauthorized`.
    pub title: String,
    /// What to do.
    pub message: String,
}
