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
use leadgate_app::reports::{Format, ReportQuery, csv_table};
use leadgate_core::Permission;
use leadgate_core::reports::waterfall::Waterfall;

/// The demand waterfall: contacts that reached each stage, conversion and days between
/// stages, by group.
#[utoipa::path(get, path = "/v1/reports/waterfall", tag = "reports", params(ReportQuery), responses((status = 200, description = "The waterfall: `groups`, `totals`, `excluded`; or, with `format=csv`, a row per group and stage.", content((Waterfall = "application/json"), (String = "text/csv"))), (status = 422, description = "`invalid_value` (an unknown or third grouping, a period ending before it starts or longer than 20 years, an unknown direction or format), `invalid_date`, `invalid_query`.", body = ErrorBody), (status = 503, description = "`busy`: other reports, backtests or exports hold every place for heavy work; try again after `Retry-After`.", body = ErrorBody)))]
pub async fn waterfall(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadReports)?;
    let Query(q) = q.map_err(query_error)?;
    let format = q.format()?;
    let waterfall = s.app.waterfall(&q).await?;
    Ok(match format {
        Format::Json => Json(waterfall).into_response(),
        Format::Csv => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv_table(waterfall.table())).into_response()
        }
    })
}
