//! API errors: `{"error": {"code", "message", "field"}}` with a stable code and the one
//! HTTP status that its kind maps to.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadgate_app::{AppError, ErrorCode, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

pub struct ApiError(pub AppError);

/// Every error answer: `{"error": {…}}`, and for a refused batch the problem of each item.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
    /// For a batch refused whole: each item's problem, as in an accepted batch's
    /// `rejected` list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<RejectedItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    code: ErrorCode,
    /// A sentence for a person.
    message: String,
    /// The field the problem is in, as a dotted path (`source.channel`, `events[3].at`);
    /// always present, `null` when the problem is not one field's.
    #[schema(required = true)]
    field: Option<String>,
    /// For `internal`: the id the fault was logged under.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<uuid::Uuid>,
    /// Where in a written expression the problem is (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<u32>,
}

/// One refused item of a batch.
#[derive(Serialize, ToSchema)]
pub struct RejectedItem {
    /// Its place in the batch, from 0.
    index: usize,
    error: RejectedProblem,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedProblem {
    code: ErrorCode,
    message: String,
    #[schema(required = true)]
    field: Option<String>,
}

impl ErrorDetail {
    fn new(code: ErrorCode, message: String) -> Self {
        Self { code, message, field: None, id: None, line: None, column: None }
    }
}

fn json(status: StatusCode, error: ErrorDetail, rejected: Vec<RejectedItem>) -> Response {
    (status, axum::Json(ErrorBody { error, rejected })).into_response()
}

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
    json(status_of(code), ErrorDetail::new(code, message.to_owned()), Vec::new())
}

/// The answer to a fault on our side: logged under a new id, which the answer gives.
pub fn internal_error(what: &str) -> Response {
    let id = uuid::Uuid::now_v7();
    tracing::error!(error_id = %id, "{what}");
    let message = format!("an unexpected error occurred; it has been logged with the id {id}");
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorDetail { id: Some(id), ..ErrorDetail::new(ErrorCode::Internal, message) },
        Vec::new(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(e.code);
        if e.kind() == ErrorKind::Internal && e.incident.is_none() {
            return internal_error(&format!("{}: {}", e.code, e.message));
        }
        let (kind, retry_after) = (e.kind(), e.retry_after);
        let error = ErrorDetail {
            code: e.code,
            message: e.message,
            field: e.field,
            id: e.incident.as_deref().copied(),
            line: e.position.map(|(line, _)| line),
            column: e.position.map(|(_, column)| column),
        };
        let rejected = e
            .details
            .into_iter()
            .map(|r| RejectedItem {
                index: r.index,
                error: RejectedProblem { code: r.error.code, message: r.error.message, field: r.error.field },
            })
            .collect();
        let mut resp = json(status, error, rejected);
        if kind.retry_later() {
            let seconds = retry_after.unwrap_or(1);
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if kind == ErrorKind::Unauthenticated {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
