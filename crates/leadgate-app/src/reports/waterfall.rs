//! The demand waterfall.

use super::{ReportQuery, walk_paths};
use crate::{App, AppError};
use leadgate_core::reports::waterfall::Waterfall;

impl App {
    /// How many contacts reached each stage, the conversion between stages and the days
    /// they took, by group.
    pub async fn waterfall(&self, query: &ReportQuery) -> Result<Waterfall, AppError> {
        let (selection, group_by) = query.read()?;
        let _ration = self.ration(crate::HeavyWork::Report)?;
        let mut tally = Waterfall::tally(selection, &group_by);
        walk_paths(self.store.as_ref(), selection, &group_by, |p| tally.add(p)).await?;
        Ok(tally.finish()?)
    }
}
