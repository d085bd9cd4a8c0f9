//! Extractors that turn every malformed request into a JSON error naming the problem.

use crate::AppState;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use leadgate_app::AppError;
use leadgate_core::ErrorCode;
use leadgate_core::model::ApiKey;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The API key that made the request, verified.
pub struct Caller(pub ApiKey);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller(state.app.authenticate(api_key_secret(&parts.headers)).await?))
    }
}

/// The API key a request presents: `Authorization: Bearer KEY` or `X-Api-Key: KEY`.
pub fn api_key_secret(headers: &HeaderMap) -> Option<&str> {
    let header_value = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    header_value(header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

/// The raw body, read within the endpoint's size limit (`DefaultBodyLimit`) and the
/// time a client has to send a body; either exceeded is reported as JSON.
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let deadline = state.opts.body_timeout;
        match tokio::time::timeout(deadline, Bytes::from_request(req, state)).await {
            Ok(read) => read.map(Body).map_err(body_rejection),
            Err(_) => Err(body_timeout(deadline)),
        }
    }
}

/// Reads a whole body of at most `limit` bytes within `deadline`.
pub async fn read_body(body: axum::body::Body, limit: usize, deadline: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(body_timeout(deadline)),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let e = e.into_inner();
            Err(if e.is::<http_body_util::LengthLimitError>() { body_too_large() } else { unreadable_body(&e) })
        }
    }
}

pub fn body_timeout(deadline: Duration) -> ApiError {
    ApiError(AppError::new(
        ErrorCode::BodyTimeout,
        format!("the request body did not arrive within {} s", deadline.as_secs()),
    ))
}

fn body_too_large() -> ApiError {
    ApiError(AppError::new(ErrorCode::BodyTooLarge, "the request body is larger than this endpoint accepts"))
}

fn unreadable_body(e: &dyn std::fmt::Display) -> ApiError {
    ApiError(AppError::new(ErrorCode::InvalidBody, format!("the request body could not be read: {e}")))
}

pub fn body_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE { body_too_large() } else { unreadable_body(&r) }
}

/// Deserializes a JSON request body into `T`; errors name the offending field.
pub fn parse_json<T: DeserializeOwned>(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    require_json(headers)?;
    from_json_value(leadgate_app::capture::body::json_value(body)?)
}

/// `T` from JSON already read, or an error naming where it is wrong.
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut err = AppError::new(ErrorCode::InvalidField, e.inner().to_string());
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
            ErrorCode::UnsupportedMediaType,
            format!(
                "this endpoint takes Content-Type application/json, not {:?}",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        )))
    }
}
