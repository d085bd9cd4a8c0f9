//! API errors: `{"error": {"code", "message", "field"}}` with a stable code and the one
//! HTTP status that its kind maps to.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadgate_app::{AppError, ErrorCode, ErrorKind};
use serde_json::json;

pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A JSON error response outside the use cases (routing, limits, panics).
pub fn error_response(code: ErrorCode, message: &str) -> Response {
    (status_of(code), axum::Json(json!({"error": {"code": code, "message": message, "field": null}}))).into_response()
}

/// The answer to a fault on our side: logged under a new id, which the answer gives.
pub fn internal_error(what: &str) -> Response {
    let id = uuid::Uuid::now_v7();
    tracing::error!(error_id = %id, "{what}");
    let message = format!("an unexpected error occurred; it has been logged with the id {id}");
    let mut body = json!({"error": {"code": ErrorCode::Internal, "message": message, "field": null}});
    body["error"]["id"] = json!(id);
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(e.code);
        if e.kind() == ErrorKind::Internal && e.incident.is_none() {
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
        if e.kind().retry_later() {
            let seconds = e.retry_after.unwrap_or(1);
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if e.kind() == ErrorKind::Unauthenticated {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
