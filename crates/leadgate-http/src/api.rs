//! The authenticated JSON API.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, parse_json, require_json};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use leadgate_app::{AppError, ContactQuery, ErrorKind, FormInput};
use leadgate_core::model::InboxStatus;
use leadgate_core::{Actor, Permission};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

fn actor(caller: &Caller) -> Actor {
    Actor::ApiKey(caller.0.name.clone())
}

/// An id from the path; anything that is not one (including undecodable bytes) is
/// answered like an unknown id.
fn parse_id(raw: Result<Path<String>, PathRejection>, what: &'static str) -> Result<Uuid, ApiError> {
    let not_found = || ApiError(AppError::not_found(what, "the path does not name a valid id"));
    let Path(raw) = raw.map_err(|_| not_found())?;
    Uuid::parse_str(&raw).map_err(|_| not_found())
}

fn query_error(r: QueryRejection) -> ApiError {
    ApiError(AppError::new(ErrorKind::Invalid, "invalid_query", r.body_text()))
}

// Handlers check the caller's role before reading the body, so that a caller without
// the right gets 403 whatever it sent.

pub async fn create_form(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageForms)?;
    let input: FormInput = parse_json(&headers, &body)?;
    let form = s.app.create_form(input).await?;
    Ok((StatusCode::CREATED, Json(form)))
}

pub async fn ingest_events(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::WriteEvents)?;
    require_json(&headers)?;
    let value = leadgate_app::body::json_value(&body)?;
    match s.app.ingest_events(value, &actor(&caller)).await {
        Ok(receipt) => {
            s.metrics.events_accepted.inc_by(receipt.accepted as u64);
            s.metrics.events_rejected.inc_by(receipt.rejected.len() as u64);
            Ok((StatusCode::ACCEPTED, Json(receipt)))
        }
        Err(e) => {
            s.metrics.events_rejected.inc_by(e.details.len().max(1) as u64);
            Err(e.into())
        }
    }
}

pub async fn get_contact(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let id = parse_id(id, "unknown_contact")?;
    Ok(Json(s.app.contact_view(id).await?))
}

pub async fn list_contacts(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ContactQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.list_contacts(&q).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    stage: String,
    reason: Option<String>,
}

pub async fn change_stage(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ChangeStage)?;
    let input: StageInput = parse_json(&headers, &body)?;
    let id = parse_id(id, "unknown_contact")?;
    let change = s.app.change_stage(id, &input.stage, input.reason.as_deref(), &actor(&caller)).await?;
    Ok(Json(change))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    status: Option<String>,
    limit: Option<i64>,
}

pub async fn list_inbox(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageInbox)?;
    let Query(q) = q.map_err(query_error)?;
    let status = q
        .status
        .as_deref()
        .map(|st| {
            InboxStatus::parse(st).ok_or_else(|| {
                AppError::new(
                    ErrorKind::Invalid,
                    "invalid_value",
                    "status must be pending, processed, rejected or failed",
                )
                .field("status")
            })
        })
        .transpose()?;
    let items = s.app.inbox(status, q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn replay_inbox(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageInbox)?;
    let id = parse_id(id, "unknown_inbox_item")?;
    Ok(Json(s.app.replay_inbox(id).await?))
}

pub async fn stats(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let totals = s.app.stats().await?;
    Ok(Json(json!({ "totals": totals, "database": s.app.store().backend() })))
}
