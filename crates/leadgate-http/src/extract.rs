//! Extractors that turn every malformed request into a JSON error naming the problem.

use crate::AppState;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use leadgate_app::{AppError, ErrorKind};
use leadgate_core::model::ApiKey;
use serde::de::DeserializeOwned;

/// The API key that made the request, verified.
pub struct Caller(pub ApiKey);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header_value = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let secret = header_value(header::AUTHORIZATION)
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .or_else(|| parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        Ok(Caller(state.app.authenticate(secret).await?))
    }
}

/// The raw body, with the body-size limit reported as JSON.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state).await.map(Body).map_err(body_rejection)
    }
}

pub fn body_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(AppError::new(
            ErrorKind::TooLarge,
            "body_too_large",
            "the request body is larger than this endpoint accepts",
        ))
    } else {
        ApiError(AppError::new(
            ErrorKind::Malformed,
            "invalid_body",
            format!("the request body could not be read: {r}"),
        ))
    }
}

/// Deserializes a JSON request body into `T`; errors name the offending field.
pub fn parse_json<T: DeserializeOwned>(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    require_json(headers)?;
    let value = leadgate_app::body::json_value(body)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut err = AppError::new(ErrorKind::Invalid, "invalid_field", e.inner().to_string());
        err.field = (path != ".").then_some(path);
        ApiError(err)
    })
}

pub fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError(AppError::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            format!(
                "this endpoint takes Content-Type application/json, not {:?}",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        )))
    }
}
