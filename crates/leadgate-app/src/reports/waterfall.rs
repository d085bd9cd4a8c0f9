//! The demand waterfall.

use super::ReportQuery;
use crate::{App, AppError};
use leadgate_core::reports::waterfall::Waterfall;

impl App {
    /// How many contacts reached each stage, the conversion between stages and the days
    /// they took, by group.
    pub async fn waterfall(&self, query: &ReportQuery) -> Result<Waterfall, AppError> {
        let (selection, group_by) = query.read()?;
        let tally = Waterfall::tally(selection, &group_by);
        Ok(self.count_summaries(tally, |t, s| t.add(&s.path)).await?.finish()?)
    }
}
