//! Inflow: the responses (inquiries, list entries) that came in each week, by group,
//! with their pace — steady organic inbound against campaign spikes.

use super::funnel::groups;
use super::{Grouping, Groups, Selection, TooManyGroups, group_cells, group_header};
use crate::Timestamp;
use crate::model::{Contact, Response};
use crate::time::MICROS_PER_DAY;
use serde::Serialize;
use std::collections::BTreeMap;

const WEEK: i64 = 7 * MICROS_PER_DAY;
/// Monday 1970-01-05, 00:00 UTC: weeks are counted from it.
const FIRST_MONDAY: i64 = 4 * MICROS_PER_DAY;

/// The week (Monday to Sunday, UTC) an instant falls in, counted from 1970-01-05.
pub fn week_of(at: Timestamp) -> i64 {
    (at.0 - FIRST_MONDAY).div_euclid(WEEK)
}

/// The instant a week starts: its Monday, 00:00 UTC.
pub fn monday(week: i64) -> Timestamp {
    Timestamp(FIRST_MONDAY.saturating_add(week.saturating_mul(WEEK)))
}

/// The Monday a week starts on, `2026-01-12`.
pub fn week_start(week: i64) -> String {
    monday(week).to_rfc3339()[..10].to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Inflow {
    #[serde(flatten)]
    pub selection: Selection,
    pub group_by: Vec<Grouping>,
    /// The Monday of each week of the period, oldest first.
    pub weeks: Vec<String>,
    /// Most responses first, then by the groupings' values.
    pub groups: Vec<InflowGroup>,
    pub totals: InflowGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InflowGroup {
    #[schema(value_type = Object)]
    pub group: BTreeMap<Grouping, Option<String>>,
    /// Responses in each week of `weeks`.
    pub counts: Vec<u64>,
    pub total: u64,
    /// `null` for a period without a week.
    pub mean_per_week: Option<f64>,
    /// The least-squares slope of the weekly counts: how many more (or fewer) responses
    /// each week brings than the one before; `null` over fewer than two weeks.
    pub trend_per_week: Option<f64>,
    /// The weekly counts' standard deviation over their mean: near 0 for a steady flow,
    /// 1 or more for spikes; `null` when there were none.
    pub variation: Option<f64>,
}

/// Inflow being counted, a response at a time.
pub struct InflowTally {
    selection: Selection,
    group_by: Vec<Grouping>,
    first_week: i64,
    weeks: usize,
    totals: Vec<u64>,
    groups: Groups<Vec<u64>>,
}

impl Inflow {
    /// Counting the responses of the weeks from `from` to `to` (both given).
    pub fn tally(selection: Selection, group_by: &[Grouping], from: Timestamp, to: Timestamp) -> InflowTally {
        let first_week = week_of(from);
        // `to` is exclusive: a period ending on a Monday leaves that week out.
        let weeks = (week_of(Timestamp(to.0 - 1)) - first_week + 1).max(0) as usize;
        InflowTally {
            selection,
            group_by: group_by.to_vec(),
            first_week,
            weeks,
            totals: vec![0; weeks],
            groups: Groups::default(),
        }
    }

    /// A row per group and week: the groupings' values, the week's Monday, the count.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = group_header(&self.group_by);
        header.extend(["week", "count"].map(str::to_owned));
        let rows = self
            .groups
            .iter()
            .map(|g| (g, false))
            .chain(std::iter::once((&self.totals, true)))
            .flat_map(|(g, total)| {
                let values = group_cells(&self.group_by, &g.group, total);
                g.counts.iter().zip(&self.weeks).map(move |(n, week)| {
                    let mut row = values.clone();
                    row.extend([week.clone(), n.to_string()]);
                    row
                })
            })
            .collect();
        (header, rows)
    }
}

impl InflowTally {
    /// `response` of `contact`, counted when it came in the period, in the direction
    /// asked.
    pub fn add(&mut self, contact: &Contact, response: &Response) {
        let Selection { period, direction } = self.selection;
        if !period.holds(response.at) || direction.is_some_and(|d| d != response.direction) {
            return;
        }
        let week = week_of(response.at) - self.first_week;
        let Some(week) = usize::try_from(week).ok().filter(|w| *w < self.weeks) else { return };
        self.totals[week] += 1;
        if !self.group_by.is_empty() {
            let values = groups(response.direction, response.channel.as_deref(), Some(response), contact);
            let key: Vec<Option<&str>> = self.group_by.iter().map(|g| values[g.index()].as_deref()).collect();
            let weeks = self.weeks;
            if let Some(counts) = self.groups.get(&key, || vec![0; weeks]) {
                counts[week] += 1;
            }
        }
    }

    pub fn finish(self) -> Result<Inflow, TooManyGroups> {
        let groups = self.groups.ordered(|counts| counts.iter().sum())?;
        let group_by = self.group_by;
        Ok(Inflow {
            selection: self.selection,
            weeks: (0..self.weeks as i64).map(|w| week_start(self.first_week + w)).collect(),
            groups: groups
                .into_iter()
                .map(|(values, counts)| pace(group_by.iter().copied().zip(values).collect(), counts))
                .collect(),
            group_by,
            totals: pace(BTreeMap::new(), self.totals),
        })
    }
}

/// A group's weekly counts with their mean, trend and variation.
fn pace(group: BTreeMap<Grouping, Option<String>>, counts: Vec<u64>) -> InflowGroup {
    let n = counts.len() as f64;
    let total: u64 = counts.iter().sum();
    let mean = if counts.is_empty() { 0.0 } else { total as f64 / n };
    let trend = (counts.len() >= 2).then(|| {
        let mean_x = (n - 1.0) / 2.0;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (x, y) in counts.iter().enumerate() {
            let dx = x as f64 - mean_x;
            sxy += dx * (*y as f64 - mean);
            sxx += dx * dx;
        }
        sxy / sxx
    });
    let variation = (mean > 0.0).then(|| {
        let var = counts.iter().map(|c| (*c as f64 - mean).powi(2)).sum::<f64>() / n;
        var.sqrt() / mean
    });
    let mean_per_week = (!counts.is_empty()).then_some(mean);
    InflowGroup { group, counts, total, mean_per_week, trend_per_week: trend, variation }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Stage;
    use crate::reports::Period;
    use crate::response::Direction;
    use uuid::Uuid;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(&format!("{s}T10:00:00Z")).unwrap()
    }

    fn response(day: &str, channel: &str, direction: Direction) -> Response {
        Response {
            id: Uuid::nil(),
            contact_id: Uuid::nil(),
            at: at(day),
            direction,
            channel: Some(channel.into()),
            campaign: None,
            placement: None,
            referrer: None,
            vendor: None,
            action: "form_fill".into(),
            obtained_via: "own_form".into(),
            offer: None,
            form_id: None,
            message: None,
            fields: Default::default(),
            contact_fields: Default::default(),
            junk: None,
            inbox_id: None,
        }
    }

    #[test]
    fn weeks_start_on_monday_in_utc() {
        assert_eq!(week_start(week_of(at("2026-01-14"))), "2026-01-12");
        assert_eq!(week_start(week_of(at("2026-01-18"))), "2026-01-12", "Sunday ends the week");
        assert_eq!(week_of(at("2026-01-19")) - week_of(at("2026-01-18")), 1);
    }

    #[test]
    fn a_steady_channel_and_a_spiking_one_read_apart() {
        let c = Contact::new(Uuid::nil(), None, Direction::Inbound, None, Stage::Prospect, at("2026-01-01"));
        let midnight = |s: &str| Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")).unwrap();
        let (from, to) = (midnight("2026-01-05"), midnight("2026-02-02"));
        let selection = Selection { period: Period::new(Some(from), Some(to)).unwrap(), direction: None };
        let mut t = Inflow::tally(selection, &[Grouping::Channel, Grouping::Direction], from, to);
        // Organic: 3 a week, four weeks. A webinar: 12 in its week, none in the others.
        for week in ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"] {
            for _ in 0..3 {
                t.add(&c, &response(week, "organic_search", Direction::Inbound));
            }
        }
        for _ in 0..12 {
            t.add(&c, &response("2026-01-20", "webinar", Direction::Inbound));
        }
        t.add(&c, &response("2026-02-02", "webinar", Direction::Inbound)); // after the period
        t.add(&c, &response("2026-01-06", "purchased_list", Direction::Outbound));
        let inflow = t.finish().unwrap();
        assert_eq!(inflow.weeks, ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]);
        let organic = &inflow.groups[0];
        let webinar = &inflow.groups[1];
        assert_eq!(organic.group[&Grouping::Channel].as_deref(), Some("organic_search"));
        assert_eq!((organic.counts.clone(), organic.total), (vec![3, 3, 3, 3], 12));
        assert_eq!((organic.trend_per_week, organic.variation), (Some(0.0), Some(0.0)));
        assert_eq!(webinar.counts, [0, 0, 12, 0]);
        assert!(webinar.variation.unwrap() > 1.5, "a spike: {:?}", webinar.variation);
        assert_eq!(inflow.totals.counts, [4, 3, 15, 3]);
        assert_eq!(inflow.groups[2].group[&Grouping::Direction].as_deref(), Some("outbound"));
        let (header, rows) = inflow.table();
        assert_eq!(header, ["scope", "channel", "direction", "week", "count"]);
        assert_eq!(rows[0], ["group", "organic_search", "inbound", "2026-01-05", "3"]);
        assert_eq!(rows.len(), 4 * 4);
    }
}
