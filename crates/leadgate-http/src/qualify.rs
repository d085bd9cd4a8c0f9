//! Scoring models, lead definitions, qualification fields and rescoring.

use crate::AppState;
use crate::api::{caller_actor, parse_id, query_error};
use crate::error::ApiError;
use crate::extract::{Body, Caller, parse_json};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use leadgate_app::AppError;
use leadgate_app::rules::DefinitionInput;
use leadgate_core::ErrorCode;
use leadgate_core::Permission;
use leadgate_core::model::Qualification;
use serde::Deserialize;

fn name(raw: Result<Path<String>, PathRejection>, what: ErrorCode) -> Result<String, ApiError> {
    raw.map(|Path(n)| n).map_err(|_| ApiError(AppError::new(what, "the path does not name a valid name")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    version: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VersionInput {
    version: Option<i64>,
}

/// A model is TOML (`application/toml`, `text/plain`) or JSON (`application/json`).
fn model_text(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let json = mime == "application/json";
    if !(json || matches!(mime.as_str(), "application/toml" | "text/toml" | "text/x-toml" | "text/plain")) {
        return Err(ApiError(AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "a scoring model is sent as application/toml or application/json, not {:?}",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        )));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError(AppError::new(ErrorCode::InvalidEncoding, "the model is not UTF-8 text")))?;
    if json && !text.trim_start().starts_with('{') {
        return Err(ApiError(AppError::new(ErrorCode::InvalidJson, "a JSON model is an object")));
    }
    Ok(text.to_owned())
}

/// A JSON body that may be empty (`{}` assumed).
fn optional_json<T: serde::de::DeserializeOwned + Default>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { parse_json(headers, body) }
}

pub async fn put_model(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageScoring)?;
    let n = name(n, ErrorCode::UnknownModel)?;
    let text = model_text(&headers, &body)?;
    let saved = s.app.save_scoring_model(&n, &text, &caller_actor(&caller)).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

pub async fn get_model(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    q: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let n = name(n, ErrorCode::UnknownModel)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.scoring_model(&n, q.version).await?))
}

pub async fn list_models(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(s.app.scoring_models().await?))
}

pub async fn activate_model(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageScoring)?;
    let n = name(n, ErrorCode::UnknownModel)?;
    let input: VersionInput = optional_json(&headers, &body)?;
    Ok(Json(s.app.activate_scoring(&n, input.version, &caller_actor(&caller)).await?))
}

pub async fn put_definition(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageDefinitions)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    let input: DefinitionInput = parse_json(&headers, &body)?;
    let saved = s.app.save_definition(&n, input, &caller_actor(&caller)).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

pub async fn get_definition(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    Ok(Json(s.app.definition_versions(&n).await?))
}

pub async fn list_definitions(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(serde_json::json!({"definitions": s.app.definitions().await?})))
}

pub async fn activate_definition(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageDefinitions)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    let input: VersionInput = optional_json(&headers, &body)?;
    Ok(Json(s.app.activate_definition(&n, input.version, &caller_actor(&caller)).await?))
}

pub async fn deactivate_definition(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageDefinitions)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    s.app.deactivate_definition(&n, &caller_actor(&caller)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_qualification(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::Qualify)?;
    let input: Qualification = parse_json(&headers, &body)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok(Json(s.app.set_qualification(id, input, &caller_actor(&caller)).await?))
}

pub async fn backtest(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::RunBacktests)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    let input: leadgate_app::backtest::BacktestInput = parse_json(&headers, &body)?;
    Ok(Json(s.app.backtest(&n, input).await?))
}

/// `POST /v1/likelihood/train`: trains the likelihood model (an empty body takes every
/// default) and answers when every contact has been rescored with it.
pub async fn train_likelihood(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageScoring)?;
    let input: leadgate_app::likelihood::TrainInput = optional_json(&headers, &body)?;
    Ok(Json(s.app.train_likelihood(input, &caller_actor(&caller), &()).await?))
}

/// `GET /v1/likelihood`: the model in force, with its cross-validated figures.
pub async fn get_likelihood(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(s.app.likelihood_model().await?))
}
