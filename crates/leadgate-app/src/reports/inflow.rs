//! Weekly inflow of responses.

use super::{ReportQuery, report_parts, walk};
use crate::error::invalid;
use crate::{App, AppError, ErrorCode};
use leadgate_core::reports::inflow::{Inflow, monday, week_of};
use leadgate_core::reports::{Period, Selection};
use leadgate_core::time::MICROS_PER_DAY;
use leadgate_store::ContactSnapshot;

/// Weeks shown when the period has no start: half a year, whole weeks.
pub const INFLOW_WEEKS: i64 = 26;

impl App {
    /// The responses that came in each week of the period (by default the 26 whole
    /// weeks before this one; from `from` to now, when only `from` is given), by group,
    /// with each group's pace.
    pub async fn inflow(&self, query: &ReportQuery) -> Result<Inflow, AppError> {
        let (selection, group_by) = query.read()?;
        let to = match selection.period {
            Period { to: Some(to), .. } => to,
            Period { from: Some(_), .. } => self.now(),
            // Whole weeks: a week under way would read as a fall in every trend.
            Period { from: None, to: None } => monday(week_of(self.now())),
        };
        let from = selection.period.from.unwrap_or(to.plus_micros(-INFLOW_WEEKS * 7 * MICROS_PER_DAY));
        let period =
            Period::new(Some(from), Some(to)).map_err(|e| invalid(ErrorCode::InvalidValue, "from", e.to_string()))?;
        let selection = Selection { period, ..selection };
        let _ration = self.ration(crate::HeavyWork::Report)?;
        let mut tally = Inflow::tally(selection, &group_by, from, to);
        // Every contact: one created after the period may hold a response dated within it
        // (an import's history).
        walk(self.store.as_ref(), report_parts(), std::convert::identity, |s: ContactSnapshot| {
            s.responses.iter().for_each(|r| tally.add(&s.contact, r))
        })
        .await?;
        Ok(tally.finish()?)
    }
}
