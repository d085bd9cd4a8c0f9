//! `/v1/spend` and `/v1/settings`: what was paid to bring contacts in, and the
//! currency it is counted in.

use crate::AppState;
use crate::api::{caller_actor, parse_id, query_error};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, Caller, from_json_value, parse_json};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use leadgate_app::App;
use leadgate_app::spend::{Settings, SpendInput, SpendPage, SpendQuery};
use leadgate_core::spend::Spend;
use leadgate_core::{ErrorCode, Permission};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Several entries at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendEntries {
    pub entries: Vec<SpendInput>,
}

#[derive(Serialize, ToSchema)]
pub struct Recorded {
    /// The entries recorded, amounts in the workspace's currency.
    pub entries: Vec<Spend>,
}

/// Whether the body is CSV (`text/csv`), rather than JSON.
fn is_csv(headers: &HeaderMap) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv")
}

/// Records spend: one entry, `{"entries": […]}`, or a CSV file (`Content-Type: text/csv`,
/// a header naming the fields). All or none.
#[utoipa::path(post, path = "/v1/spend", tag = "reports", request_body(content((SpendInput = "application/json"), (String = "text/csv")), description = "An entry, `{\"entries\": [entry, ...]}`, or CSV with a header of the same names."), responses((status = 201, description = "The entries recorded.", body = Recorded), (status = 400, description = "`invalid_json`.", body = ErrorBody), (status = 413, description = "`body_too_large`.", body = ErrorBody), (status = 415, description = "`unsupported_media_type`.", body = ErrorBody), (status = 422, description = "`currency_mismatch` (another currency without `rate`), `invalid_value` (a negative amount, a period that ends before it starts, a wrong rate, currency or direction), `missing_field`, `invalid_date`, `invalid_identifier`, `too_long`, `empty_batch`, `batch_too_large`, `unknown_field`, `invalid_field`, `not_csv`, `not_utf8`; the field names the entry (`entries[2].amount`, `line 3.amount`).", body = ErrorBody)))]
pub async fn record(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::RecordSpend)?;
    let entries = if is_csv(&headers) {
        App::spend_csv(&body)?
    } else {
        let value: serde_json::Value = parse_json(&headers, &body)?;
        if value.get("entries").is_some() {
            let SpendEntries { entries } = from_json_value(value)?;
            entries.into_iter().enumerate().map(|(i, e)| (format!("entries[{i}]"), e)).collect()
        } else {
            vec![(String::new(), from_json_value::<SpendInput>(value)?)]
        }
    };
    let entries = s.app.record_spend(entries, &caller_actor(&caller)).await?;
    Ok((StatusCode::CREATED, Json(Recorded { entries })))
}

/// Spend entries whose period overlaps `from`..`to`, in the order recorded.
#[utoipa::path(get, path = "/v1/spend", tag = "reports", params(SpendQuery), responses((status = 200, description = "A page of entries with the workspace's `currency` and `next_after`.", body = SpendPage), (status = 422, description = "`invalid_date`, `invalid_limit`, `invalid_query`.", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<SpendQuery>, QueryRejection>,
) -> Result<Json<SpendPage>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.spend_page(&q).await?))
}

/// Removes a spend entry recorded by mistake.
#[utoipa::path(delete, path = "/v1/spend/{id}", tag = "reports", params(("id" = Uuid, Path, description = "The entry's id.")), responses((status = 204, description = "Removed."), (status = 404, description = "`unknown_spend`.", body = ErrorBody)))]
pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    s.app.authorize(&caller.0, Permission::RecordSpend)?;
    let id = parse_id(id, ErrorCode::UnknownSpend)?;
    s.app.delete_spend(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/settings", tag = "reports", responses((status = 200, description = "The workspace's settings.", body = Settings)))]
pub async fn settings(State(s): State<AppState>, caller: Caller) -> Result<Json<Settings>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    Ok(Json(s.app.settings().await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Three letters (`EUR`).
    pub currency: Option<String>,
    /// The reason codes Sales may give when rejecting (1 to 100 codes of lower-case
    /// letters, digits and `_`).
    pub rejection_reasons: Option<Vec<String>>,
}

/// Changes the workspace's settings: the fields given.
#[utoipa::path(patch, path = "/v1/settings", tag = "reports", request_body = SettingsInput, responses((status = 200, description = "The settings now.", body = Settings), (status = 409, description = "`currency_in_use`: spend is recorded in the currency before.", body = ErrorBody), (status = 400, description = "`invalid_json`.", body = ErrorBody), (status = 422, description = "`invalid_value` (not a three-letter code; reason codes that are not 1 to 100 distinct codes of lower-case letters, digits and `_`), `invalid_field`.", body = ErrorBody)))]
pub async fn change_settings(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Settings>, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageSettings)?;
    let input: SettingsInput = parse_json(&headers, &body)?;
    let actor = caller_actor(&caller);
    if let Some(codes) = &input.rejection_reasons {
        s.app.set_rejection_reasons(codes, &actor).await?;
    }
    match input.currency {
        Some(c) => Ok(Json(s.app.set_currency(&c, &actor).await?)),
        None => Ok(Json(s.app.settings().await?)),
    }
}
