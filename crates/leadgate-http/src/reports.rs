//! `GET /v1/reports/…`: the funnel's numbers as JSON or CSV (docs/reports.md).

use crate::AppState;
use crate::api::query_error;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use leadgate_app::reports::cells::{CellOf, CellPage, CellQuery};
use leadgate_app::reports::forecast::ForecastQuery;
use leadgate_app::reports::{Format, ReportQuery, Table, charts, csv_table};
use leadgate_core::Permission;
use leadgate_core::reports::cohorts::Cohorts;
use leadgate_core::reports::cost::Cost;
use leadgate_core::reports::forecast::Forecast;
use leadgate_core::reports::inflow::Inflow;
use leadgate_core::reports::mix::FunnelMix;
use leadgate_core::reports::rejected::RejectedThenWon;
use leadgate_core::reports::waterfall::Waterfall;

/// A report's request, once its caller may read reports and its query is read.
fn asked(
    s: &AppState,
    caller: &Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<(std::sync::Arc<leadgate_app::App>, ReportQuery, Format), ApiError> {
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    let Query(q) = q.map_err(query_error)?;
    let format = q.format()?;
    Ok((s.app.clone(), q, format))
}

/// A report as asked: its JSON, its table as CSV, or its chart as SVG.
pub(crate) fn answer<T: serde::Serialize>(
    format: Format,
    report: T,
    table: impl FnOnce(&T) -> Table,
    chart: impl FnOnce(&T) -> Result<String, leadgate_app::AppError>,
) -> Result<Response, ApiError> {
    Ok(match format {
        Format::Json => Json(report).into_response(),
        Format::Csv => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv_table(table(&report))).into_response(),
        Format::Svg => ([(header::CONTENT_TYPE, "image/svg+xml")], chart(&report)?).into_response(),
    })
}

/// The demand waterfall: contacts that reached each stage, conversion and days between
/// stages, by group.
#[utoipa::path(get, path = "/v1/reports/waterfall", tag = "reports", params(ReportQuery), responses((status = 200, description = "The waterfall: `groups`, `totals`, `excluded`; or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per group and stage.", content((Waterfall = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (an unknown or third grouping, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn waterfall(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (app, q, format) = asked(&s, &caller, q)?;
    answer(format, app.waterfall(&q).await?, Waterfall::table, charts::waterfall)
}

/// Cohorts by month of entry.
#[utoipa::path(get, path = "/v1/reports/cohorts", tag = "reports", params(ReportQuery), responses((status = 200, description = "`cohorts`, oldest first: each month's contacts and, per stage, how many had reached it by each month after entry; or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per cohort, stage and month.", content((Cohorts = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (`group_by` given, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn cohorts(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (app, q, format) = asked(&s, &caller, q)?;
    answer(format, app.cohorts(&q).await?, Cohorts::table, charts::cohorts)
}

/// Cost per stage and return on spend, by what the money was spent on.
#[utoipa::path(get, path = "/v1/reports/cost", tag = "reports", params(ReportQuery), responses((status = 200, description = "`currency`, and for each group and the totals: `spend`, `value_won`, `return_on_spend` and each stage's `count` and `cost_per`; or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per group and stage.", content((Cost = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (a grouping spend is not recorded against, an unknown or third grouping, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn cost(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (app, q, format) = asked(&s, &caller, q)?;
    answer(format, app.cost(&q).await?, Cost::table, charts::cost)
}

/// Contacts rejected (nurture, lost, disqualified) and later won back, and what each
/// month's rejected contacts became.
#[utoipa::path(get, path = "/v1/reports/rejected-then-won", tag = "reports", params(ReportQuery), responses((status = 200, description = "`months` of rejection with what their contacts became, `totals`, and `contacts` won back (the most recent 1,000 wins) with the reason, the days between, the value and what they did in between; or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per month.", content((RejectedThenWon = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (`group_by` given, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn rejected_then_won(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (app, q, format) = asked(&s, &caller, q)?;
    answer(format, app.rejected_then_won(&q).await?, RejectedThenWon::table, charts::rejected_then_won)
}

/// The contacts at the top, middle and bottom of the funnel at the end of each month.
#[utoipa::path(get, path = "/v1/reports/funnel-mix", tag = "reports", params(ReportQuery), responses((status = 200, description = "`months`, oldest first: at the end of each (now, for the month under way), the contacts in each band — `top`, `middle`, `bottom`, `customer`, `nurture`, `out` — and all of them; or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per month.", content((FunnelMix = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (`group_by` given, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn funnel_mix(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (app, q, format) = asked(&s, &caller, q)?;
    answer(format, app.funnel_mix(&q).await?, FunnelMix::table, charts::funnel_mix)
}

/// Weekly inflow of responses by group, with each group's pace.
#[utoipa::path(get, path = "/v1/reports/inflow", tag = "reports", params(ReportQuery), responses((status = 200, description = "`weeks` (their Mondays) and, for each group and the totals, the responses of each week with `mean_per_week`, `trend_per_week` and `variation`; or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per group and week.", content((Inflow = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (an unknown or third grouping, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn inflow(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (app, q, format) = asked(&s, &caller, q)?;
    answer(format, app.inflow(&q).await?, Inflow::table, charts::inflow)
}

/// The contacts expected to reach each stage in each month ahead, inbound and outbound
/// apart, with an interval; as of a past date, beside what then happened.
#[utoipa::path(get, path = "/v1/reports/forecast", tag = "reports", params(ForecastQuery), responses((status = 200, description = "`made_at`, `months`, `recent_months`, `confidence`, `currency`, and for inbound and outbound: `entered`, each stage's and the `value`'s `recent` counts and, for each month, `expected`, `low`, `high`, `in_funnel`, `new` and `actual` (once the month is over); or, with `format=csv`, a table; with `format=svg`, its chart. The CSV has a row per direction, measure and month.", content((Forecast = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 422, description = "`invalid_value` (months not 1 to 3, an unknown format), `invalid_date` (an `as_of` that is no date, or in the future), `invalid_query` (an unknown parameter, such as `group_by`).", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn forecast(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ForecastQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    let Query(q) = q.map_err(query_error)?;
    let format = q.format()?;
    answer(format, s.app.forecast(&q).await?, Forecast::table, charts::forecast)
}

/// The contacts behind one number of the waterfall: a group's stage.
#[utoipa::path(get, path = "/v1/reports/waterfall/contacts", tag = "reports", params(CellQuery), responses((status = 200, description = "`count` (the number the report shows) and a page of the contacts behind it, in id order, with `next_after`.", body = CellPage), (status = 422, description = "`invalid_stage` (not a stage of the funnel), `invalid_value` (a `group` that is not the report's, a limit out of range, or the report's own refusals), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn waterfall_contacts(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<CellQuery>, QueryRejection>,
) -> Result<Json<CellPage>, ApiError> {
    // Reports' numbers, opened into people: both permissions.
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.report_cell(CellOf::Waterfall, &q).await?))
}

/// The contacts behind one number of the cohorts: a month's stage, by some month after.
#[utoipa::path(get, path = "/v1/reports/cohorts/contacts", tag = "reports", params(CellQuery), responses((status = 200, description = "`count` (the number the report shows) and a page of the contacts behind it, in id order, with `next_after`.", body = CellPage), (status = 422, description = "`invalid_stage` (not a stage of the funnel), `invalid_value` (no or a wrong `month`, `months_after` over 24, a limit out of range, or the report's own refusals), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn cohorts_contacts(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<CellQuery>, QueryRejection>,
) -> Result<Json<CellPage>, ApiError> {
    // Reports' numbers, opened into people: both permissions.
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.app.report_cell(CellOf::Cohorts, &q).await?))
}
