//! The one error type at the HTTP edge. Every refusal the server makes, from a bad JWT
//! to an unknown route, becomes PROTOCOL §6's envelope
//! `{"success": false, "error": {"code", "message"}}` with the status its variant names.
//! Internal details (database errors) are logged here and never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::service::limits::RateStatus;
use crate::service::ServiceError;

/// Why a request was refused.
#[derive(Debug)]
pub enum ApiError {
    /// 401: no credentials, or credentials that do not hold.
    Unauthorized(AuthError),
    /// 404: the caller has no such resource (another seller's is "no such" too).
    NotFound(&'static str),
    /// 404: no route has this path.
    NoRoute,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 408: the body did not arrive whole within the deadline after its head.
    RequestTimeout(std::time::Duration),
    /// 413: the body is larger than the limit (bytes).
    PayloadTooLarge(usize),
    /// 415: the body is not declared as `application/json`.
    UnsupportedMediaType,
    /// 400: the body is not well-formed JSON.
    InvalidJson(String),
    /// 400: a value is refused; `code` is stable (`invalid_url`, `invalid_event_type`, …).
    BadRequest {
        /// Stable snake_case code.
        code: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// 409: the request conflicts with the resource's state (e.g. retrying on a disabled webhook).
    Conflict {
        /// Stable snake_case code.
        code: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// 422: well-formed JSON whose fields have the wrong type or are missing.
    InvalidField(String),
    /// 429: the seller's publish rate is spent (the response carries `Retry-After` and
    /// the `RateLimit-*` headers).
    RateLimited {
        /// Where the seller stands.
        status: RateStatus,
        /// What to do.
        message: String,
    },
    /// 500: a failure on our side; the detail goes to the log only.
    Internal(String),
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

/// The `error` member of the error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `invalid_event_type`.
    pub code: String,
    /// Human text saying what is wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// The status, stable code and public message.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Unauthorized(e) => (StatusCode::UNAUTHORIZED, e.code(), e.message().into()),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such {what} for this account"),
            ),
            ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                "route_not_found",
                "no such route: see /openapi.json for the API".into(),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept this method: see /openapi.json".into(),
            ),
            ApiError::RequestTimeout(limit) => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {limit:?} of its headers: send it \
                     whole, without pauses"
                ),
            ),
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than the {limit}-byte limit"),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`".into(),
            ),
            ApiError::InvalidJson(detail) => (
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the request body is not valid JSON: {detail}"),
            ),
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, code, message.clone())
            }
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone()),
            ApiError::InvalidField(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                message.clone(),
            ),
            ApiError::RateLimited { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                message.clone(),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the server failed to handle the request; it has been logged".into(),
            ),
        }
    }
}

impl From<ServiceError> for ApiError {
    /// A refused input answers with its first refused field (the resource's field order).
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Invalid(invalid) => {
                let first = invalid.into_first();
                ApiError::BadRequest {
                    code: first.code,
                    message: first.message,
                }
            }
            ServiceError::Conflict { code, message } => ApiError::Conflict { code, message },
            e @ ServiceError::RateLimited(status) => ApiError::RateLimited {
                message: e.to_string(),
                status,
            },
            ServiceError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let (status, code, message) = self.parts();
        let body = ErrorEnvelope {
            success: false,
            error: ErrorBody {
                code: code.into(),
                message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { status, .. } = &self {
            let headers = response.headers_mut();
            rate_limit_headers(headers, status);
            headers.insert(
                axum::http::header::RETRY_AFTER,
                status.retry_after_secs.max(1).into(),
            );
        }
        response
    }
}

/// Writes where a seller stands with its publish rate as `RateLimit-Limit`,
/// `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the bucket is full).
pub fn rate_limit_headers(headers: &mut axum::http::HeaderMap, status: &RateStatus) {
    headers.insert("ratelimit-limit", status.limit.into());
    headers.insert("ratelimit-remaining", status.remaining.into());
    headers.insert("ratelimit-reset", status.reset_secs.into());
}
