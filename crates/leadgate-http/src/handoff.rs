//! Hand-off: `/v1/users`, `/v1/teams`, `/v1/queues`, `/v1/routing`, accepting and
//! rejecting contacts handed over, and the SLA report.

use crate::AppState;
use crate::api::{caller_actor, parse_id, query_error};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, Caller, parse_json};
use crate::reports::answer;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use leadgate_app::handoff::{
    AcceptInput, ItemsQuery, PreviewInput, QueuePage, QueueView, RejectInput, RoutingPreview, RoutingView, SlaReport,
    TeamInput, UserInput, UserPatch,
};
use leadgate_app::reports::charts;
use leadgate_core::ErrorCode;
use leadgate_core::Permission;
use leadgate_core::handoff::people::{QueueItem, Team, User};
use leadgate_core::handoff::routing::RuleSetSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Users {
    pub users: Vec<User>,
}

#[derive(Serialize, ToSchema)]
pub struct Teams {
    pub teams: Vec<Team>,
}

#[derive(Serialize, ToSchema)]
pub struct Queues {
    pub queues: Vec<QueueView>,
}

/// Creates a user: a qualifier, SDR, seller, manager or admin, in a team.
#[utoipa::path(post, path = "/v1/users", tag = "hand-off", request_body = UserInput, responses((status = 201, description = "The user.", body = User), (status = 400, description = "`invalid_json`.", body = ErrorBody), (status = 409, description = "`conflict`: the email, or an account, belongs to another user.", body = ErrorBody), (status = 422, description = "`missing_field`, `invalid_email`, `invalid_value` (`capacity` not 1 to 100,000, a territory or account domain), `unknown_team`, `invalid_date` (`away_until`), `too_long`, `invalid_field` (an unknown or mistyped field, an unknown role).", body = ErrorBody)))]
pub async fn create_user(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageTeams)?;
    let input: UserInput = parse_json(&headers, &body)?;
    Ok((StatusCode::CREATED, Json(s.app.create_user(&input).await?)))
}

/// Every user, with the open work they hold.
#[utoipa::path(get, path = "/v1/users", tag = "hand-off", responses((status = 200, description = "`{\"users\": [...]}` by name.", body = Users)))]
pub async fn list_users(State(s): State<AppState>, caller: Caller) -> Result<Json<Users>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(Users { users: s.app.users().await? }))
}

/// Changes a user: away until a date, another capacity, team or territories.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "hand-off", params(("id" = Uuid, Path, description = "The user's id.")), request_body = UserPatch, responses((status = 200, description = "The user as changed.", body = User), (status = 404, description = "`unknown_user`.", body = ErrorBody), (status = 422, description = "`invalid_value`, `unknown_team`, `invalid_date`, `missing_field`, `too_long`, `invalid_field`.", body = ErrorBody)))]
pub async fn update_user(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<User>, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageTeams)?;
    let id = parse_id(id, ErrorCode::UnknownUser)?;
    let patch: UserPatch = parse_json(&headers, &body)?;
    Ok(Json(s.app.update_user(id, &patch).await?))
}

/// Creates a team and its queue, with the queue's SLA, calendar and escalation.
#[utoipa::path(post, path = "/v1/teams", tag = "hand-off", request_body = TeamInput, responses((status = 201, description = "The team's queue.", body = QueueView), (status = 400, description = "`invalid_json`.", body = ErrorBody), (status = 409, description = "`conflict`: a team has the name already.", body = ErrorBody), (status = 422, description = "`missing_field`, `invalid_calendar` (no working hours, a span or holiday in the wrong format, an unknown time zone, an SLA of 0; `field` names it, e.g. `calendar.holidays[2]`), `too_long`, `invalid_field`.", body = ErrorBody)))]
pub async fn create_team(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageTeams)?;
    let input: TeamInput = parse_json(&headers, &body)?;
    Ok((StatusCode::CREATED, Json(s.app.create_team(&input).await?)))
}

/// Every team: Market Response (inbound) and Sales Development (outbound) at first.
#[utoipa::path(get, path = "/v1/teams", tag = "hand-off", responses((status = 200, description = "`{\"teams\": [...]}` by name.", body = Teams)))]
pub async fn list_teams(State(s): State<AppState>, caller: Caller) -> Result<Json<Teams>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(Teams { teams: s.app.teams().await? }))
}

/// Every queue with its SLA and how much work is open, unassigned and breached in it.
#[utoipa::path(get, path = "/v1/queues", tag = "hand-off", responses((status = 200, description = "`{\"queues\": [...]}` by name.", body = Queues)))]
pub async fn list_queues(State(s): State<AppState>, caller: Caller) -> Result<Json<Queues>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(Queues { queues: s.app.queues().await? }))
}

/// A queue's open work in priority order: due first, then the most pain, the highest
/// score, the latest interest.
#[utoipa::path(get, path = "/v1/queues/{id}/items", tag = "hand-off", params(("id" = Uuid, Path, description = "The queue's id."), ItemsQuery), responses((status = 200, description = "`{\"items\": [...], \"next_cursor\"}`.", body = QueuePage), (status = 404, description = "`unknown_queue`, `unknown_user` (`assignee`).", body = ErrorBody), (status = 422, description = "`invalid_limit`, `invalid_cursor`, `invalid_query`.", body = ErrorBody)))]
pub async fn queue_items(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<ItemsQuery>, QueryRejection>,
) -> Result<Json<QueuePage>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let id = parse_id(id, ErrorCode::UnknownQueue)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.queue_items(id, &q).await?))
}

/// The routing rules in force.
#[utoipa::path(get, path = "/v1/routing", tag = "hand-off", responses((status = 200, description = "The rules in force, with their `version` (0: the built-in rules).", body = RoutingView)))]
pub async fn get_routing(State(s): State<AppState>, caller: Caller) -> Result<Json<RoutingView>, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(s.app.routing_rules().await?))
}

/// Saves a new version of the routing rules, in force at once.
#[utoipa::path(put, path = "/v1/routing", tag = "hand-off", request_body = RuleSetSpec, responses((status = 200, description = "The rules now in force.", body = RoutingView), (status = 400, description = "`invalid_json`.", body = ErrorBody), (status = 409, description = "`conflict`: saved by someone else at the same moment; try again.", body = ErrorBody), (status = 422, description = "`invalid_routing`: a queue no team has, a person no user is, a condition that does not check, a weight, a stage past the hand-off; `field` names it (`rules[2].when`). `invalid_field`.", body = ErrorBody)))]
pub async fn put_routing(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<RoutingView>, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageTeams)?;
    let spec: RuleSetSpec = parse_json(&headers, &body)?;
    Ok(Json(s.app.save_routing_rules(&spec, &caller_actor(&caller)).await?))
}

/// Where the contacts handed over last would have gone under a draft rule set.
#[utoipa::path(post, path = "/v1/routing/preview", tag = "hand-off", request_body = PreviewInput, responses((status = 200, description = "Each contact's queue, rule and person then and under the draft, and counts by queue.", body = RoutingPreview), (status = 422, description = "`invalid_routing`, `invalid_value` (`last` not 1 to 10,000), `invalid_field`.", body = ErrorBody)))]
pub async fn preview_routing(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<RoutingPreview>, ApiError> {
    s.app.authorize(&caller.0, Permission::ManageTeams)?;
    let input: PreviewInput = parse_json(&headers, &body)?;
    Ok(Json(s.app.preview_routing(&input).await?))
}

/// Accepts a contact handed over: `mql` → `sal`; optionally with what the qualifier
/// learnt (budget, authority, need, timeline).
#[utoipa::path(post, path = "/v1/contacts/{id}/accept", tag = "hand-off", params(("id" = Uuid, Path, description = "The contact's id.")), request_body(content = AcceptInput, description = "Optional: `{\"qualification\": {\"budget\", \"authority\", \"need\", \"timeline\"}}`."), responses((status = 200, description = "The contact's item, closed: `outcome: accepted`, with its first action.", body = QueueItem), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 409, description = "`not_in_queue` (nothing handed over), `already_handled` (accepted or rejected already: of two at once, the second gets this), `already_merged`.", body = ErrorBody), (status = 422, description = "`invalid_stage` (not at mql), `invalid_value`, `invalid_field` (an unknown or mistyped field).", body = ErrorBody)))]
pub async fn accept(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<QueueItem>, ApiError> {
    s.app.authorize(&caller.0, Permission::WorkQueue)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    let input: AcceptInput = if body.is_empty() { AcceptInput::default() } else { parse_json(&headers, &body)? };
    Ok(Json(s.app.accept(id, &input, &caller_actor(&caller)).await?))
}

/// Rejects a contact handed over, with a reason: it goes to nurture (never deleted),
/// the reason in its history.
#[utoipa::path(post, path = "/v1/contacts/{id}/reject", tag = "hand-off", params(("id" = Uuid, Path, description = "The contact's id.")), request_body = RejectInput, responses((status = 200, description = "The contact's item, closed: `outcome: rejected`.", body = QueueItem), (status = 404, description = "`unknown_contact`.", body = ErrorBody), (status = 409, description = "`not_in_queue`, `already_handled`, `already_merged`.", body = ErrorBody), (status = 422, description = "`reason_required`, `invalid_reason` (a code not among the workspace's), `too_long` (`note`), `invalid_value`, `invalid_stage`, `invalid_field` (an unknown or mistyped field).", body = ErrorBody)))]
pub async fn reject(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<QueueItem>, ApiError> {
    s.app.authorize(&caller.0, Permission::WorkQueue)?;
    let id = parse_id(id, ErrorCode::UnknownContact)?;
    let input: RejectInput = parse_json(&headers, &body)?;
    Ok(Json(s.app.reject(id, &input, &caller_actor(&caller)).await?))
}

/// Query parameters of the SLA report.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlaQuery {
    /// Items handed over from this date or instant; 30 days before `to` by default.
    pub from: Option<String>,
    /// Until this date or instant (excluded); now by default.
    pub to: Option<String>,
    /// `json` (the default), `csv` or `svg`.
    pub format: Option<String>,
}

/// SLA compliance, median and p90 time to first action (working hours) and breaches,
/// per queue and per person.
#[utoipa::path(get, path = "/v1/reports/sla", tag = "reports", params(SlaQuery), responses((status = 200, description = "`rows`: a row per queue (`assignee` null) and per person in it; or, with `format=csv`, a table; with `format=svg`, its chart.", content((SlaReport = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_date`, `invalid_value` (an unknown format), `invalid_query`.", body = ErrorBody)))]
pub async fn sla_report(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<SlaQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    let Query(q) = q.map_err(query_error)?;
    let format = leadgate_app::reports::format_of(q.format.as_deref())?;
    let report = s.app.sla_report(q.from.as_deref(), q.to.as_deref()).await?;
    answer(format, report, SlaReport::table, charts::sla)
}
