//! API errors: `{"error": {"code", "message", "field"}}` with a stable code and the one
//! HTTP status that its kind maps to.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadgate_app::{AppError, ErrorKind};
use serde_json::json;

pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Malformed => StatusCode::BAD_REQUEST,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Busy | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A JSON error response outside the use cases (routing, limits, panics).
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    debug_assert!(leadgate_core::error::is_code(code), "the error code {code:?} is not in leadgate_core::error::CODES");
    (status, axum::Json(json!({"error": {"code": code, "message": message, "field": null}}))).into_response()
}

/// The answer to a fault on our side: logged under a new id, which the answer gives.
pub fn internal_error(what: &str) -> Response {
    let id = uuid::Uuid::now_v7();
    tracing::error!(error_id = %id, "{what}");
    let message = format!("an unexpected error occurred; it has been logged with the id {id}");
    let mut body = json!({"error": {"code": "internal", "message": message, "field": null}});
    body["error"]["id"] = json!(id);
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(e.kind);
        if e.kind == ErrorKind::Internal && e.incident.is_none() {
            return internal_error(&format!("{}: {}", e.code, e.message));
        }
        let mut body = json!({"error": {"code": e.code, "message": e.message, "field": e.field}});
        if let Some(id) = e.incident.as_deref() {
            body["error"]["id"] = json!(id);
        }
        if let Some((line, column)) = e.position {
            body["error"]["line"] = json!(line);
            body["error"]["column"] = json!(column);
        }
        if !e.details.is_empty() {
            // The same shape as the `rejected` list of an accepted batch.
            body["rejected"] = serde_json::to_value(&e.details).unwrap_or_default();
        }
        let mut resp = (status, axum::Json(body)).into_response();
        let retry_after = match e.kind {
            ErrorKind::Unavailable | ErrorKind::RateLimited | ErrorKind::Busy => Some(e.retry_after.unwrap_or(1)),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if e.kind == ErrorKind::Unauthenticated {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
