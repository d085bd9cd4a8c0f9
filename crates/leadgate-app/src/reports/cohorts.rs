//! Cohorts by month of entry.

use super::{ReportQuery, walk_paths};
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
        let _ration = self.ration(crate::HeavyWork::Report)?;
        let mut tally = Cohorts::tally(selection, self.now());
        walk_paths(self.store.as_ref(), selection, &[], |p| tally.add(p)).await?;
        Ok(tally.finish())
    }
}
