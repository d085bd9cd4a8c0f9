//! Cohorts by month of entry.

use super::ReportQuery;
use crate::error::invalid;
use crate::{App, AppError, ErrorCode};
use leadgate_core::reports::cohorts::Cohorts;

impl App {
    /// Contacts by month of entry, and the share of each that had reached each stage by
    /// each month after.
    pub async fn cohorts(&self, query: &ReportQuery) -> Result<Cohorts, AppError> {
        let (selection, group_by) = query.read()?;
        if !group_by.is_empty() {
            return Err(invalid(
                ErrorCode::InvalidValue,
                "group_by",
                "cohorts are grouped by month of entry alone; leave out group_by (select with direction)",
            ));
        }
        let tally = Cohorts::tally(selection, self.now());
        Ok(self.count_summaries(tally, |t, s| t.add(&s.path)).await?.finish())
    }
}
