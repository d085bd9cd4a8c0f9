//! The forecast of the months ahead, and its backtest.

use super::summary::{Summaries, Summary};
use super::{Format, format_of};
use crate::batch::split_over_cores;
use crate::error::{date, invalid};
use crate::{App, AppError, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::reports::Month;
use leadgate_core::reports::forecast::{Forecast, MONTHS_MAX};
use leadgate_core::time::MICROS_PER_DAY;
use serde::Deserialize;

/// Contacts a part of the forecast's count holds at least.
const PART: usize = 50_000;

/// What a forecast is asked with.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// Make the forecast as it would have been made then (a backtest): a date
    /// (`2018-02-28`, the whole day) or an RFC 3339 instant. The forecast is made at
    /// the start of the month holding it, from what happened before. Default: now.
    pub as_of: Option<String>,
    /// How many months ahead: 1 to 3, by default 3.
    pub months: Option<u32>,
    /// `json` (the default), `csv`, or `svg` (its chart).
    pub format: Option<String>,
}

impl ForecastQuery {
    pub fn format(&self) -> Result<Format, AppError> {
        format_of(self.format.as_deref())
    }

    /// The first month forecast and how many, or the first thing wrong with them.
    fn read(&self, now: Timestamp) -> Result<(Month, u32), AppError> {
        let months = self.months.unwrap_or(MONTHS_MAX);
        if !(1..=MONTHS_MAX).contains(&months) {
            return Err(invalid(
                ErrorCode::InvalidValue,
                "months",
                format!("months must be 1 to {MONTHS_MAX}, not {months}"),
            ));
        }
        let Some(as_of) = self.as_of.as_deref() else { return Ok((Month::of(now), months)) };
        let given = date(as_of, "as_of")?;
        // A date is the whole day: what happened on it is known as of it, and a
        // month's last day makes the forecast at the start of the next (once that
        // has come: today is known only as far as now).
        let instant =
            if Timestamp::parse_rfc3339(as_of.trim()).is_some() { given } else { given.plus_micros(MICROS_PER_DAY) };
        let first = Month::of(instant.min(now));
        if given > now {
            return Err(invalid(
                ErrorCode::InvalidDate,
                "as_of",
                format!("as_of {as_of:?} is in the future; a forecast is made from what has happened"),
            ));
        }
        Ok((first, months))
    }
}

impl App {
    /// The contacts expected to reach each stage in each month ahead, inbound and
    /// outbound apart, with what happened in the months over (docs/reports.md says the
    /// method).
    pub async fn forecast(&self, query: &ForecastQuery) -> Result<Forecast, AppError> {
        let now = self.now();
        let (first, months) = query.read(now)?;
        let currency = self.currency().await?;
        // Some 150 additions a contact: counted in parts on every core, then merged.
        let count = move |all: &Summaries| {
            let parts = split_over_cores(all.values().collect(), PART, |part: Vec<&Summary>| {
                let mut tally = Forecast::tally(first, months);
                part.iter().for_each(|s| tally.add(s.path.entered_at, s.direction, &s.steps));
                tally
            });
            parts.into_iter().reduce(|mut all, part| {
                all.merge(part);
                all
            })
        };
        let tally = self.summaries.read(self.store.as_ref(), count).await?;
        Ok(tally.unwrap_or_else(|| Forecast::tally(first, months)).finish(now, currency))
    }
}
