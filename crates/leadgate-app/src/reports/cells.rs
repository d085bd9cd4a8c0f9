//! The contacts behind one number of a report, a page at a time.

use super::{ReportQuery, listed_contacts};
use crate::error::invalid;
use crate::{App, AppError, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::lifecycle::Stage;
use leadgate_core::reports::Month;
use leadgate_core::reports::cell::{Cell, funnel_stage};
use leadgate_core::reports::cohorts::MONTHS_AFTER_MAX;
use leadgate_store::Details;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Contacts a page lists by default, and at most.
pub const CELL_PAGE: usize = 100;
pub const CELL_PAGE_MAX: usize = 1_000;

/// A report's selection, as its numbers were asked for, and the cell to open.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CellQuery {
    /// As the report was asked: the groupings, `from`, `to`, `direction`.
    pub group_by: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<String>,
    /// The stage of the number (`mql`, …).
    pub stage: String,
    /// A waterfall's group, as the report shows it: a JSON object with a value (or
    /// `null`) for each grouping, e.g. `{"channel":"organic_search"}`.
    pub group: Option<String>,
    /// A cohort's month (`2026-01`) and the month after entry (0 to 24).
    pub month: Option<String>,
    pub months_after: Option<u32>,
    /// The last contact id of the page before.
    pub after: Option<Uuid>,
    /// 1 to 1,000, default 100.
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CellContact {
    pub id: Uuid,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub entered_at: Timestamp,
    /// When it reached the cell's stage (or passed it).
    pub reached_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CellPage {
    /// The number the report shows in this cell: every contact behind it, over all pages.
    pub count: u64,
    /// In id order.
    pub contacts: Vec<CellContact>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next_after: Option<Uuid>,
}

impl CellQuery {
    fn report(&self) -> ReportQuery {
        ReportQuery {
            group_by: self.group_by.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            direction: self.direction.clone(),
            format: None,
        }
    }

    fn stage(&self) -> Result<usize, AppError> {
        let stage: Stage = self.stage.parse().map_err(|m| invalid(ErrorCode::InvalidStage, "stage", m))?;
        funnel_stage(stage).map_err(|e| invalid(ErrorCode::InvalidStage, "stage", e.to_string()))
    }

    fn limit(&self) -> Result<usize, AppError> {
        match self.limit {
            None => Ok(CELL_PAGE),
            Some(n @ 1..=CELL_PAGE_MAX) => Ok(n),
            Some(n) => {
                Err(invalid(ErrorCode::InvalidValue, "limit", format!("limit must be 1 to {CELL_PAGE_MAX}, not {n}")))
            }
        }
    }
}

/// `{"channel": "organic_search"}` read as a value (or none) for each of `group_by`.
fn group_values(
    group: Option<&str>,
    group_by: &[leadgate_core::reports::Grouping],
) -> Result<Vec<Option<String>>, AppError> {
    let wrong = |m: String| invalid(ErrorCode::InvalidValue, "group", m);
    let names: Vec<&str> = group_by.iter().map(|g| g.as_str()).collect();
    let example = format!(
        "a JSON object with a value or null for each of {}, e.g. {{\"{}\": \"…\"}}",
        names.join(", "),
        names.first().copied().unwrap_or("channel")
    );
    let Some(group) = group else {
        return if group_by.is_empty() { Ok(vec![]) } else { Err(wrong(format!("group is required: {example}"))) };
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(group).map_err(|_| wrong(format!("group must be {example}")))?;
    if let Some(extra) = object.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(wrong(format!("group names {extra:?}, which is not in group_by; give {example}")));
    }
    names
        .iter()
        .map(|name| match object.get(*name) {
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Null) => Ok(None),
            Some(_) => Err(wrong(format!("group's {name} must be text or null"))),
            None => Err(wrong(format!("group has no value for {name}; give {example}"))),
        })
        .collect()
}

/// Which report a cell is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellOf {
    Waterfall,
    Cohorts,
}

impl App {
    /// The contacts behind one number of a report, in id order, a page at a time.
    pub async fn report_cell(&self, of: CellOf, q: &CellQuery) -> Result<CellPage, AppError> {
        let (selection, group_by) = q.report().read()?;
        let stage = q.stage()?;
        let limit = q.limit()?;
        // A parameter of the other report's cells is a mistake, not something to ignore.
        let foreign = match of {
            CellOf::Waterfall => [("month", q.month.is_some()), ("months_after", q.months_after.is_some())],
            CellOf::Cohorts => [("group_by", !group_by.is_empty()), ("group", q.group.is_some())],
        };
        if let Some((name, _)) = foreign.iter().find(|(_, given)| *given) {
            return Err(invalid(
                ErrorCode::InvalidValue,
                name,
                format!("{name} does not apply to this report's cells"),
            ));
        }
        let cell = match of {
            CellOf::Waterfall => {
                Cell::Waterfall { group: group_values(q.group.as_deref(), &group_by)?, group_by, stage }
            }
            CellOf::Cohorts => {
                let month = q
                    .month
                    .as_deref()
                    .ok_or_else(|| invalid(ErrorCode::InvalidValue, "month", "month is required, e.g. 2026-01"))?;
                let month: Month = month.parse().map_err(|m| invalid(ErrorCode::InvalidValue, "month", m))?;
                let months_after = q.months_after.unwrap_or(0);
                if months_after as usize > MONTHS_AFTER_MAX {
                    return Err(invalid(
                        ErrorCode::InvalidValue,
                        "months_after",
                        format!("months_after must be 0 to {MONTHS_AFTER_MAX}"),
                    ));
                }
                Cell::Cohort { month, stage, months_after }
            }
        };
        // The summaries come in id order: the page is the first `limit` after `after`,
        // and one more to tell whether another page follows.
        let after = q.after;
        let (count, mut page) = self
            .count_summaries((0u64, Vec::new()), move |(count, page), s| {
                let p = &s.path;
                if !cell.holds(&selection, p) {
                    return;
                }
                *count += 1;
                if page.len() <= limit && after.is_none_or(|after| p.contact_id > after) {
                    page.push((p.contact_id, p.entered_at, p.reached[stage]));
                }
            })
            .await?;
        let more = page.len() > limit;
        page.truncate(limit);
        let ids: Vec<Uuid> = page.iter().map(|(id, ..)| *id).collect();
        let details = ["first_name", "last_name"].into_iter().fold(Details::NONE, Details::with);
        let people = listed_contacts(self.store.as_ref(), &ids, details).await?;
        let contacts = page
            .into_iter()
            .map(|(id, entered_at, reached_at)| {
                let c = people.get(&id);
                CellContact {
                    id,
                    email: c.and_then(|c| c.email.clone()),
                    first_name: c.and_then(|c| c.first_name.clone()),
                    last_name: c.and_then(|c| c.last_name.clone()),
                    entered_at,
                    reached_at,
                }
            })
            .collect::<Vec<_>>();
        let next_after = if more { contacts.last().map(|c| c.id) } else { None };
        Ok(CellPage { count, contacts, next_after })
    }
}
