//! Scoring models, lead definitions, qualification fields and rescoring.

use crate::AppState;
use crate::api::{caller_actor, parse_id, query_error};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, Caller, parse_json};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use leadgate_app::AppError;
use leadgate_app::qualification::backtest::BacktestInput;
use leadgate_app::qualification::backtest::BacktestReport;
use leadgate_app::qualification::likelihood::TrainInput;
use leadgate_app::qualification::likelihood::TrainReport;
use leadgate_app::qualification::rules::{
    DefinitionInput, DefinitionSummary, DefinitionVersions, SavedModel, ScoringModels,
};
use leadgate_core::ErrorCode;
use leadgate_core::Permission;
use leadgate_core::definition::Definition;
use leadgate_core::likelihood::TrainedModel;
use leadgate_core::model::Activation;
use leadgate_core::model::Qualification;
use leadgate_core::scoring::ModelVersion;
use serde::Deserialize;

fn name(raw: Result<Path<String>, PathRejection>, what: ErrorCode) -> Result<String, ApiError> {
    raw.map(|Path(n)| n).map_err(|_| ApiError(AppError::new(what, "the path does not name a valid name")))
}

/// Every lead definition, with the version in force.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DefinitionList {
    definitions: Vec<DefinitionSummary>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    version: Option<i64>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
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

#[utoipa::path(put, path = "/v1/scoring/{name}", tag = "qualification", params(("name" = String, Path, description = "The model's name.")), request_body(description = "The model, as TOML or JSON.", content((String = "application/toml"), (String = "text/plain"), (Object = "application/json"))), responses((status = 201, description = "The new version, saved (not yet active).", body = SavedModel), (status = 422, description = "`invalid_model`, `invalid_name`.", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/v1/scoring/{name}", tag = "qualification", params(("name" = String, Path, description = "The model's name."), VersionQuery), responses((status = 200, description = "The model version.", body = ModelVersion), (status = 404, description = "`unknown_model`.", body = ErrorBody), (status = 422, description = "`invalid_query`.", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/v1/scoring", tag = "qualification", responses((status = 200, description = "Every model version and which is active.", body = ScoringModels)))]
pub async fn list_models(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(s.app.scoring_models().await?))
}

#[utoipa::path(post, path = "/v1/scoring/{name}/activate", tag = "qualification", params(("name" = String, Path, description = "The model's name.")), request_body(content = Option<VersionInput>, description = "The version (the latest if none)."), responses((status = 200, description = "The activation; every contact is rescored.", body = Activation), (status = 404, description = "`unknown_model`.", body = ErrorBody), (status = 422, description = "`invalid_field`.", body = ErrorBody)))]
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

#[utoipa::path(put, path = "/v1/definitions/{name}", tag = "qualification", params(("name" = String, Path, description = "The definition's name.")), request_body = DefinitionInput, responses((status = 201, description = "The new version, saved (not yet active).", body = Definition), (status = 422, description = "`invalid_expression`, `invalid_kind`, `invalid_note`, `invalid_name`, `invalid_field`.", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/v1/definitions/{name}", tag = "qualification", params(("name" = String, Path, description = "The definition's name.")), responses((status = 200, description = "Every version of the definition.", body = DefinitionVersions), (status = 404, description = "`unknown_definition`.", body = ErrorBody)))]
pub async fn get_definition(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    Ok(Json(s.app.definition_versions(&n).await?))
}

#[utoipa::path(get, path = "/v1/definitions", tag = "qualification", responses((status = 200, description = "`{\"definitions\": [...]}`.", body = DefinitionList)))]
pub async fn list_definitions(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(DefinitionList { definitions: s.app.definitions().await? }))
}

#[utoipa::path(post, path = "/v1/definitions/{name}/activate", tag = "qualification", params(("name" = String, Path, description = "The definition's name.")), request_body(content = Option<VersionInput>, description = "The version (the latest if none)."), responses((status = 200, description = "The activation.", body = Activation), (status = 404, description = "`unknown_definition`.", body = ErrorBody), (status = 422, description = "`invalid_field`.", body = ErrorBody)))]
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

#[utoipa::path(post, path = "/v1/definitions/{name}/deactivate", tag = "qualification", params(("name" = String, Path, description = "The definition's name.")), responses((status = 204, description = "Deactivated."), (status = 404, description = "`unknown_definition`.", body = ErrorBody), (status = 409, description = "`not_active`.", body = ErrorBody)))]
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

#[utoipa::path(put, path = "/v1/contacts/{id}/qualification", tag = "qualification", params(("id" = Uuid, Path, description = "The contact's id.")), request_body = Qualification, responses((status = 200, description = "The qualification fields as recorded (the stage they led to is on the contact).", body = Qualification), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 422, description = "`invalid_value`, `invalid_field`.", body = ErrorBody)))]
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

#[utoipa::path(post, path = "/v1/definitions/{name}/backtest", tag = "qualification", params(("name" = String, Path, description = "The definition's name.")), request_body = BacktestInput, responses((status = 200, description = "Who the definition would have qualified, and what became of them.", body = BacktestReport), (status = 404, description = "`unknown_definition`.", body = ErrorBody), (status = 422, description = "`invalid_date`, `invalid_expression`, `invalid_value`, `invalid_field`.", body = ErrorBody), (status = 409, description = "`definition_invalid`: a saved version no longer compiles; save it again.", body = ErrorBody)))]
pub async fn backtest(
    State(s): State<AppState>,
    caller: Caller,
    n: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::RunBacktests)?;
    let n = name(n, ErrorCode::UnknownDefinition)?;
    let input: BacktestInput = parse_json(&headers, &body)?;
    Ok(Json(s.app.backtest(&n, input).await?))
}

/// `POST /v1/likelihood/train`: trains the likelihood model (an empty body takes every
/// default) and answers when every contact has been rescored with it.
#[utoipa::path(post, path = "/v1/likelihood/train", tag = "likelihood", request_body(content = Option<TrainInput>, description = "What to train on (defaults if none)."), responses((status = 200, description = "The trained model, its cross-validated quality, and the rescoring.", body = TrainReport), (status = 409, description = "`training`.", body = ErrorBody), (status = 422, description = "`no_outcomes`, `one_outcome`, `too_few_outcomes`, `no_features`, `invalid_value`, `invalid_stage`, `invalid_field`.", body = ErrorBody)))]
pub async fn train_likelihood(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageScoring)?;
    let input: TrainInput = optional_json(&headers, &body)?;
    Ok(Json(s.app.train_likelihood(input, &caller_actor(&caller), &()).await?))
}

/// `GET /v1/likelihood`: the model in force, with its cross-validated figures.
#[utoipa::path(get, path = "/v1/likelihood", tag = "likelihood", responses((status = 200, description = "The likelihood model in force and its quality.", body = TrainedModel), (status = 404, description = "`no_model`.", body = ErrorBody)))]
pub async fn get_likelihood(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(s.app.likelihood_model().await?))
}
