//! Cost and return by what the money was spent on.

use super::ReportQuery;
use crate::error::invalid;
use crate::{App, AppError, ErrorCode};
use leadgate_core::reports::cost::{Cost, check_groupings};

impl App {
    /// What each stage's contacts cost and what the won ones brought back, by group.
    pub async fn cost(&self, query: &ReportQuery) -> Result<Cost, AppError> {
        let (selection, group_by) = query.read()?;
        check_groupings(&group_by).map_err(|m| invalid(ErrorCode::InvalidValue, "group_by", m))?;
        let currency = self.currency().await?;
        let spend = self.spend_within(&selection.period).await?;
        let tally = Cost::tally(selection, &group_by);
        Ok(self.count_summaries(tally, |t, s| t.add(&s.path)).await?.finish(&spend, &currency)?)
    }
}
