//! Funnel mix: the contacts at the top, middle and bottom of the funnel, month by month.

use super::ReportQuery;
use super::summary::Summary;
use crate::error::invalid;
use crate::{App, AppError, ErrorCode};
use leadgate_core::reports::mix::{FunnelMix, MixTally, month_ends};
use leadgate_core::reports::{Month, Period};

/// Months shown when the period has no start: a year, the month under way included.
pub const MIX_MONTHS: i32 = 12;

impl App {
    /// How many contacts stood in each band of the funnel at the end of each month of
    /// the period (by default the last twelve, this one as of now).
    pub async fn funnel_mix(&self, query: &ReportQuery) -> Result<FunnelMix, AppError> {
        let (selection, group_by) = query.read()?;
        if !group_by.is_empty() {
            return Err(invalid(
                ErrorCode::InvalidValue,
                "group_by",
                "the funnel mix is counted by month alone; leave out group_by (select with direction)",
            ));
        }
        let now = self.now();
        // `to` is exclusive: the last month is the one its instant before falls in.
        let last = selection.period.to.map_or(Month::of(now), |to| Month::of(to.plus_micros(-1)));
        let first = selection.period.from.map_or(Month(last.0 - (MIX_MONTHS - 1)), Month::of);
        // Only `from` given ends now: the same limit on the period as any other.
        if let Some(from) = selection.period.from {
            Period::new(Some(from), Some(now.max(from)))
                .map_err(|e| invalid(ErrorCode::InvalidValue, "from", e.to_string()))?;
        }
        let tally = FunnelMix::tally(month_ends(first, last, now), selection.direction);
        let add = |t: &mut MixTally, s: &Summary| t.add(s.path.entered_at, s.direction, &s.steps);
        Ok(self.count_summaries(tally, add).await?.finish())
    }
}
