//! A person's data over the API: erasure, subject access, consent, do-not-contact,
//! legal holds and the audit log.

use crate::AppState;
use crate::api::{caller_actor, parse_id, query_error};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, Caller, parse_json};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use leadgate_app::AppError;
use leadgate_app::privacy::{ConsentInput, ConsentView, DoNotContactInput, ErasureReport, PersonalData};
use leadgate_core::ErrorCode;
use leadgate_core::Permission;
use leadgate_core::erasure::{AuditEntry, ContactPrivacy};
use leadgate_core::model::Contact;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Why {
    reason: Option<String>,
}

/// `DELETE /v1/contacts/{id}`: erases the person, with a reason given as `?reason=` or
/// in a JSON body `{"reason": "…"}`.
#[utoipa::path(delete, path = "/v1/contacts/{id}", operation_id = "erase_contact", tag = "privacy", params(("id" = Uuid, Path, description = "The contact's id."), Why), request_body(content = Option<Why>, description = "The reason, if not given as `?reason=`."), responses((status = 200, description = "What was erased.", body = ErasureReport), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 409, description = "`already_erased`, `legal_hold`, `already_merged` (erase the contact it was merged into).", body = ErrorBody), (status = 422, description = "`reason_required`, `too_long`, `invalid_field`.", body = ErrorBody)))]
pub async fn erase(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<Why>, QueryRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManagePersonalData)?;
    let Query(q) = q.map_err(query_error)?;
    let from_body: Why = if body.is_empty() { Why::default() } else { parse_json(&headers, &body)? };
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    let reason = from_body.reason.or(q.reason);
    Ok(Json(s.app.erase_contact(id, reason.as_deref(), &caller_actor(&caller)).await?))
}

/// `GET /v1/contacts/{id}/personal-data`: everything held about the person.
#[utoipa::path(get, path = "/v1/contacts/{id}/personal-data", tag = "privacy", params(("id" = Uuid, Path, description = "The contact's id.")), responses((status = 200, description = "Everything stored about the person.", body = PersonalData), (status = 404, description = "`unknown_contact`.", body = ErrorBody)))]
pub async fn personal_data(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManagePersonalData)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok(Json(s.app.personal_data(id, &caller_actor(&caller)).await?))
}

#[utoipa::path(get, path = "/v1/contacts/{id}/consent", tag = "privacy", params(("id" = Uuid, Path, description = "The contact's id.")), responses((status = 200, description = "`{\"in_force\", \"records\"}`.", body = ConsentView), (status = 404, description = "`unknown_contact`.", body = ErrorBody)))]
pub async fn get_consent(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok(Json(s.app.consent(id).await?))
}

#[utoipa::path(post, path = "/v1/contacts/{id}/consent", tag = "privacy", params(("id" = Uuid, Path, description = "The contact's id.")), request_body = ConsentInput, responses((status = 201, description = "The consent record.", body = ConsentView), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 422, description = "`invalid_identifier`, `invalid_value`, `too_long`, `invalid_field`.", body = ErrorBody), (status = 409, description = "`already_merged`: act on the contact it was merged into.", body = ErrorBody)))]
pub async fn record_consent(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageConsent)?;
    let input: ConsentInput = parse_json(&headers, &body)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok((StatusCode::CREATED, Json(s.app.record_consent(id, input, &caller_actor(&caller)).await?)))
}

#[utoipa::path(put, path = "/v1/contacts/{id}/do-not-contact", tag = "privacy", params(("id" = Uuid, Path, description = "The contact's id.")), request_body = DoNotContactInput, responses((status = 200, description = "The flags now in force.", body = Contact), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 422, description = "`invalid_field`, `missing_field`, `reason_required`, `too_long`, `invalid_value`.", body = ErrorBody), (status = 409, description = "`already_merged`: act on the contact it was merged into.", body = ErrorBody)))]
pub async fn do_not_contact(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageConsent)?;
    let input: DoNotContactInput = parse_json(&headers, &body)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok(Json(s.app.set_do_not_contact(id, input, &caller_actor(&caller)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    hold: bool,
    reason: Option<String>,
}

#[utoipa::path(put, path = "/v1/contacts/{id}/legal-hold", tag = "privacy", params(("id" = Uuid, Path, description = "The contact's id.")), request_body = HoldInput, responses((status = 200, description = "The hold now in force.", body = ContactPrivacy), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 422, description = "`invalid_field`, `reason_required`, `too_long`, `invalid_value`.", body = ErrorBody)))]
pub async fn legal_hold(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManagePersonalData)?;
    let input: HoldInput = parse_json(&headers, &body)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok(Json(s.app.set_legal_hold(id, input.hold, input.reason.as_deref(), &caller_actor(&caller)).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this contact.
    contact: Option<Uuid>,
    /// The same, under the name the hand-off uses.
    contact_id: Option<Uuid>,
    /// Only entries by this actor: `system`, `user:ann@example.com`, `api_key:crm`.
    actor: Option<String>,
    /// Only entries from this date or instant, and before `to`.
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A page of the audit log; `next_cursor` is `null` on the last.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

/// `GET /v1/audit`: what was done to personal data, every routing decision,
/// assignment, escalation, acceptance, rejection and change of the routing rules, with
/// who and when; oldest first, in pages.
#[utoipa::path(get, path = "/v1/audit", operation_id = "audit_log", tag = "privacy", params(AuditQuery), responses((status = 200, description = "`{\"entries\": [...], \"next_cursor\"}`, oldest first.", body = AuditPage), (status = 422, description = "`invalid_value`, `invalid_cursor`, `invalid_date`, `invalid_query`.", body = ErrorBody)))]
pub async fn audit(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadAudit)?;
    let Query(q) = q.map_err(query_error)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError(AppError::new(ErrorCode::InvalidValue, "limit must be from 1 to 1000").field("limit")));
    }
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            AppError::new(ErrorCode::InvalidCursor, "cursor is not one this server gave out").field("cursor")
        })?,
        None => 0,
    };
    let when = |v: &Option<String>, field: &str| -> Result<Option<leadgate_core::Timestamp>, ApiError> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => leadgate_core::Timestamp::parse_rfc3339(v)
                .or_else(|| leadgate_core::Timestamp::parse_rfc3339(&format!("{v}T00:00:00Z")))
                .map(Some)
                .ok_or_else(|| {
                    ApiError(
                        AppError::new(ErrorCode::InvalidDate, format!("{field} must be a date or an RFC 3339 instant"))
                            .field(field),
                    )
                }),
            None => Ok(None),
        }
    };
    let filter = leadgate_app::AuditFilter {
        contact: q.contact.or(q.contact_id),
        actor: q.actor.clone().filter(|a| !a.trim().is_empty()),
        from: when(&q.from, "from")?,
        to: when(&q.to, "to")?,
    };
    let entries = s.app.audit_log(&filter, after, limit).await?;
    let next = (entries.len() as i64 == limit).then(|| entries.last().map(|(id, _)| id.to_string())).flatten();
    let entries: Vec<_> = entries.into_iter().map(|(_, e)| e).collect();
    Ok(Json(AuditPage { entries, next_cursor: next }))
}
