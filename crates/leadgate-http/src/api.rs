//! The authenticated JSON API.

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, Caller, parse_json, require_json};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use leadgate_app::{AppError, ContactQuery, DuplicateQuery, FormInput};
use leadgate_app::{ContactPage, ContactView, Duplicates, EventsReceipt, InquiryReceipt, MergeView};
use leadgate_core::ErrorCode;
use leadgate_core::lifecycle::StageChange;
use leadgate_core::model::{Contact, Form, InboxItem, InboxStatus, Totals};
use leadgate_core::{Actor, Permission};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Who a request acts as: the user whose key it is, or the key.
pub(crate) fn caller_actor(caller: &Caller) -> Actor {
    match &caller.0.user {
        Some(user) => Actor::User(user.email.clone()),
        None => Actor::ApiKey(caller.0.name.clone()),
    }
}

/// An id from the path; anything that is not one (including undecodable bytes) is
/// answered like an unknown id.
pub(crate) fn parse_id(raw: Result<Path<String>, PathRejection>, what: ErrorCode) -> Result<Uuid, ApiError> {
    let not_found = || ApiError(AppError::new(what, "the path does not name a valid id"));
    let Path(raw) = raw.map_err(|_| not_found())?;
    Uuid::parse_str(&raw).map_err(|_| not_found())
}

pub(crate) fn query_error(r: QueryRejection) -> ApiError {
    ApiError(AppError::new(ErrorCode::InvalidQuery, r.body_text()))
}

// Handlers check the caller's role before reading the body, so that a caller without
// the right gets 403 whatever it sent.

#[utoipa::path(post, path = "/v1/forms", tag = "capture", request_body = FormInput, responses((status = 201, description = "The form, with the `form_key` its page posts with.", body = Form), (status = 409, description = "`conflict`: a concurrent change got there first; retry.", body = ErrorBody), (status = 422, description = "`invalid_field`, `missing_field`, `too_long`, `invalid_identifier` (`channel`), `invalid_origin` (`allowed_origins[i]`), `invalid_url` (`thank_you_url`).", body = ErrorBody)))]
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

#[utoipa::path(post, path = "/v1/events", tag = "events", request_body(content = Object, description = "One event (`{\"email\"|\"contact_id\"|\"visitor_id\", \"kind\", \"at\", \"url\", \"props\"}`) or a batch `{\"events\": [...]}` of at most 1,000; the guide (`/v1/api.md`, Activity events) gives each field's rules.", content_type = "application/json"), responses((status = 202, description = "Stored: `{\"accepted\": n, \"rejected\": [{\"index\", \"error\"}]}`.", body = EventsReceipt), (status = 404, description = "`unknown_contact`: a single event names no contact.", body = ErrorBody), (status = 422, description = "A batch: `invalid_type` (`events` not a list), `unknown_field` (a field beside `events`), `empty_batch`, `batch_too_large`, `no_valid_events` (each item's problem in `rejected`, `invalid_event` for an item that is not an object). A single event: `unknown_field`, `missing_identity`, `missing_field`, `invalid_type`, `invalid_email`, `invalid_id`, `invalid_visitor_id`, `invalid_identifier`, `invalid_timestamp`, `future_timestamp`, `too_long`, `invalid_value`.", body = ErrorBody)))]
pub async fn ingest_events(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::WriteEvents)?;
    require_json(&headers)?;
    let value = leadgate_app::capture::body::json_value(&body)?;
    match s.app.ingest_events(value, &caller_actor(&caller)).await {
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

#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path, description = "The contact's id.")), responses((status = 200, description = "The contact: fields, stage and its history, scores and their factors, responses, recent events, qualification.", body = ContactView), (status = 404, description = "`unknown_contact`.", body = ErrorBody)))]
pub async fn get_contact(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    Ok(Json(s.app.contact_view(id).await?))
}

#[utoipa::path(get, path = "/v1/contacts", tag = "contacts", params(ContactQuery), responses((status = 200, description = "A page of contacts: `{\"contacts\": [...], \"next_cursor\"}`.", body = ContactPage), (status = 422, description = "`invalid_query`, `invalid_email`, `invalid_stage`, `invalid_value`, `invalid_identifier`, `invalid_cursor`.", body = ErrorBody)))]
pub async fn list_contacts(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ContactQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.list_contacts(&q).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    /// A stage name (case-insensitive); otherwise `invalid_stage`. The current stage:
    /// `409 no_change`.
    stage: String,
    /// Required: trimmed, 1–1,000 characters. Missing or blank: `reason_required`.
    reason: Option<String>,
    /// The deal's value in minor units (cents), 0 or more, with `opportunity`,
    /// `customer` or `lost` only; otherwise `invalid_value`.
    #[schema(minimum = 0)]
    value: Option<i64>,
}

#[utoipa::path(post, path = "/v1/contacts/{id}/stage", tag = "contacts", params(("id" = Uuid, Path, description = "The contact's id.")), request_body = StageInput, responses((status = 200, description = "The stage change made.", body = StageChange), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 409, description = "`no_change`, `already_merged`, `conflict`.", body = ErrorBody), (status = 422, description = "`invalid_field`, `invalid_stage`, `reason_required`, `too_long`, `invalid_value`.", body = ErrorBody)))]
pub async fn change_stage(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ChangeStage)?;
    let input: StageInput = parse_json(&headers, &body)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    let change =
        s.app.change_stage(id, &input.stage, input.reason.as_deref(), input.value, &caller_actor(&caller)).await?;
    Ok(Json(change))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// `pending`, `processed`, `rejected` or `failed`; otherwise `invalid_value`. Default:
    /// all.
    status: Option<String>,
    /// From 1 to 200, default 100.
    limit: Option<i64>,
    /// The `next_cursor` of the page before; otherwise `invalid_cursor`.
    cursor: Option<String>,
}

/// An inbox item with its body as text (as much of it as was read), and whether that is
/// all of it.
#[derive(Serialize, ToSchema)]
pub struct InboxItemView {
    #[serde(flatten)]
    item: InboxItem,
    body: String,
    body_truncated: bool,
}

impl From<InboxItem> for InboxItemView {
    fn from(item: InboxItem) -> Self {
        let body = String::from_utf8_lossy(&item.body).into_owned();
        let body_truncated = (item.body.len() as i64) < item.body_bytes;
        Self { item, body, body_truncated }
    }
}

/// A page of the inbox; `next_cursor` is `null` on the last.
#[derive(Serialize, ToSchema)]
pub struct InboxPage {
    items: Vec<InboxItemView>,
    next_cursor: Option<Uuid>,
}

/// What is stored, and in which database.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    totals: Totals,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// A merge made, and the contact that survives it.
#[derive(Serialize, ToSchema)]
pub struct MergeResult {
    merge: MergeView,
    contact: Contact,
}

#[utoipa::path(get, path = "/v1/inbox", tag = "inbox", params(InboxQuery), responses((status = 200, description = "A page of inbox items: `{\"items\": [...], \"next_cursor\"}`.", body = InboxPage), (status = 422, description = "`invalid_value`, `invalid_cursor`, `invalid_query`.", body = ErrorBody)))]
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
                AppError::new(ErrorCode::InvalidValue, "status must be pending, processed, rejected or failed")
                    .field("status")
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=leadgate_app::INBOX_PAGE_MAX).contains(&limit) {
        return Err(ApiError(
            AppError::new(ErrorCode::InvalidValue, format!("limit must be from 1 to {}", leadgate_app::INBOX_PAGE_MAX))
                .field("limit"),
        ));
    }
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
            AppError::new(ErrorCode::InvalidCursor, "cursor is not one this server gave out").field("cursor")
        })?),
        None => None,
    };
    let items = s.app.inbox(status, after, limit).await?;
    let next = (items.len() as i64 == limit).then(|| items.last().map(|i| i.id)).flatten();
    Ok(Json(InboxPage { items: items.into_iter().map(InboxItemView::from).collect(), next_cursor: next }))
}

#[utoipa::path(get, path = "/v1/inbox/{id}", tag = "inbox", params(("id" = Uuid, Path, description = "The inbox item's id.")), responses((status = 200, description = "The item, with its body as text.", body = InboxItemView), (status = 404, description = "`unknown_inbox_item`.", body = ErrorBody)))]
pub async fn get_inbox_item(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageInbox)?;
    let id = parse_id(id, ErrorCode::UnknownInboxItem)?;
    Ok(Json(InboxItemView::from(s.app.inbox_item(id).await?)))
}

#[utoipa::path(post, path = "/v1/inbox/{id}/replay", tag = "inbox", params(("id" = Uuid, Path, description = "The inbox item's id.")), responses((status = 200, description = "What capturing the item again gave.", body = InquiryReceipt), (status = 404, description = "`unknown_inbox_item`.", body = ErrorBody), (status = 400, description = "The stored body cannot be read as an inquiry (as `POST /v1/inquiries` would answer).", body = ErrorBody), (status = 409, description = "`already_processed`, `body_removed`, `conflict`.", body = ErrorBody), (status = 415, description = "The stored body's type is not one an inquiry takes.", body = ErrorBody), (status = 422, description = "Any validation error of `POST /v1/inquiries`: `missing_field`, `invalid_email`, `invalid_type`, `invalid_value`, `too_long`, `invalid_identifier`, `invalid_visitor_id`, `unknown_field`, `invalid_field_name`, `too_many_fields`.", body = ErrorBody)))]
pub async fn replay_inbox(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageInbox)?;
    let id = parse_id(id, ErrorCode::UnknownInboxItem)?;
    Ok(Json(s.app.replay_inbox(id).await?))
}

#[utoipa::path(get, path = "/v1/stats", tag = "operations", responses((status = 200, description = "What is stored: `{\"totals\": {...}, \"database\"}`.", body = Stats)))]
pub async fn stats(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let totals = s.app.stats().await?;
    Ok(Json(Stats { totals, database: s.app.backend() }))
}

#[utoipa::path(get, path = "/v1/duplicates", tag = "identity", params(DuplicateQuery), responses((status = 200, description = "Pairs of contacts that may be one person, with the reason.", body = Duplicates), (status = 422, description = "`invalid_value`, `invalid_query`.", body = ErrorBody)))]
pub async fn duplicates(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<DuplicateQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    // A search walks every contact: for those who merge them, not every reader.
    s.app.authorize(&caller.0, Permission::MergeContacts)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.duplicates(&q).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    other_id: Uuid,
}

#[utoipa::path(post, path = "/v1/contacts/{id}/merge", tag = "identity", params(("id" = Uuid, Path, description = "The surviving contact's id.")), request_body = MergeInput, responses((status = 201, description = "`{\"merge\", \"contact\"}`: the merge, which can be undone, and the survivor.", body = MergeResult), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 409, description = "`already_merged`, `conflict`.", body = ErrorBody), (status = 422, description = "`same_contact`, `invalid_field`.", body = ErrorBody)))]
pub async fn merge(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::MergeContacts)?;
    let input: MergeInput = parse_json(&headers, &body)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    let (merge, contact) = s.app.merge_contacts(id, input.other_id, &caller_actor(&caller)).await?;
    Ok((StatusCode::CREATED, Json(MergeResult { merge, contact })))
}

#[utoipa::path(get, path = "/v1/merges/{id}", tag = "identity", params(("id" = Uuid, Path, description = "The merge's id.")), responses((status = 200, description = "The merge.", body = MergeView), (status = 404, description = "`unknown_merge`.", body = ErrorBody)))]
pub async fn get_merge(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let id = parse_id(id, ErrorCode::UnknownMerge)?;
    Ok(Json(s.app.merge_view(id).await?))
}

#[utoipa::path(post, path = "/v1/merges/{id}/undo", tag = "identity", params(("id" = Uuid, Path, description = "The merge's id.")), responses((status = 200, description = "The merge, undone.", body = MergeView), (status = 404, description = "`unknown_merge`.", body = ErrorBody), (status = 409, description = "`already_undone`, `merged_since`.", body = ErrorBody)))]
pub async fn undo_merge(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::MergeContacts)?;
    let id = parse_id(id, ErrorCode::UnknownMerge)?;
    Ok(Json(s.app.undo_merge(id, &caller_actor(&caller)).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    format: Option<String>,
    /// CSV cells exactly as stored, for programs, rather than safe to open in a
    /// spreadsheet.
    raw: Option<bool>,
}

/// `GET /v1/exports/{kind}[.csv|.jsonl]`: streamed page by page as it is read.
#[utoipa::path(get, path = "/v1/exports/{name}", tag = "operations", params(("name" = String, Path, description = "`contacts`, `responses`, `stage_changes` or `events`, optionally with `.csv` or `.jsonl`."), ExportQuery), responses((status = 200, description = "The export, streamed as it is read.", content((String = "text/csv"), (String = "application/x-ndjson"))), (status = 404, description = "`unknown_export`.", body = ErrorBody), (status = 422, description = "`invalid_value`, `invalid_query`.", body = ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    use leadgate_app::export::{Cells, ExportFormat, ExportKind};
    s.app.authorize(&caller.0, Permission::ExportData)?;
    let Query(q) = q.map_err(query_error)?;
    let Path(name) = name.map_err(|_| ApiError(AppError::new(ErrorCode::UnknownExport, "no such export")))?;
    let (kind, ext) = match name.split_once('.') {
        Some((kind, ext)) => (kind, Some(ext)),
        None => (name.as_str(), None),
    };
    let kind = ExportKind::parse(kind)?;
    let format = match (ext, q.format.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError(
                AppError::new(ErrorCode::InvalidValue, "the file extension and format disagree").field("format"),
            ));
        }
        (Some(f), _) | (None, Some(f)) => ExportFormat::parse(f)?,
        (None, None) => ExportFormat::Csv,
    };
    let cells = if q.raw.unwrap_or(false) { Cells::Raw } else { Cells::SpreadsheetSafe };
    let mut export = s.app.start_export(kind, format, cells)?;
    // The first page is read before answering, so that a failure can still be an error
    // status; later failures end the stream early.
    let first = s.app.export_page(&mut export).await?;
    let app = s.app.clone();
    let rest = futures_util::stream::unfold((app, Some(export)), |(app, export)| async move {
        let mut export = export?;
        match app.export_page(&mut export).await {
            Ok(Some(bytes)) => Some((Ok::<_, std::io::Error>(bytes), (app, Some(export)))),
            Ok(None) => None,
            // The error ends the stream: the client sees the answer cut short.
            Err(e) => Some((Err(std::io::Error::other(e.message)), (app, None))),
        }
    });
    let head = futures_util::stream::iter(first.map(Ok::<_, std::io::Error>));
    let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(head, rest));
    let file_name = format!("attachment; filename=\"{}.{}\"", kind.as_str(), format.extension());
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, format.content_type().to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, file_name),
        ],
        body,
    ))
}
