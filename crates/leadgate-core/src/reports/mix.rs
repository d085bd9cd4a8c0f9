//! Funnel mix: how many contacts stood at the top, middle and bottom of the funnel at
//! the end of each month — a funnel filling at the top and emptying at the bottom shows
//! here months before it shows in the deals.
//!
//! A contact's stage at an instant is the stage of its last move at or before it; one
//! created by then without a move yet stands at the top. Contacts created later are
//! not yet counted; merged ones count in their survivor.

use super::Month;
use crate::Timestamp;
use crate::lifecycle::{Stage, StageStep};
use crate::response::Direction;
use serde::Serialize;

/// Where a stage stands in the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Suspects and prospects.
    Top,
    /// Marketing and sales accepted leads: mql, sal.
    Middle,
    /// Sql and opportunities.
    Bottom,
    Customer,
    Nurture,
    /// Lost or disqualified.
    Out,
}

impl Band {
    pub const ALL: [Band; 6] = [Band::Top, Band::Middle, Band::Bottom, Band::Customer, Band::Nurture, Band::Out];

    pub fn of(stage: Stage) -> Band {
        match stage {
            Stage::Suspect | Stage::Prospect => Band::Top,
            Stage::Mql | Stage::Sal => Band::Middle,
            Stage::Sql | Stage::Opportunity => Band::Bottom,
            Stage::Customer => Band::Customer,
            Stage::Nurture => Band::Nurture,
            Stage::Lost | Stage::Disqualified => Band::Out,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Top => "top",
            Band::Middle => "middle",
            Band::Bottom => "bottom",
            Band::Customer => "customer",
            Band::Nurture => "nurture",
            Band::Out => "out",
        }
    }

    fn index(self) -> usize {
        Band::ALL.iter().position(|b| *b == self).expect("every band is in ALL")
    }
}

/// The contacts in each band at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MixPoint {
    /// The month, `2026-01`.
    #[schema(value_type = String)]
    pub month: Month,
    /// Its end, or now for the month under way.
    pub at: Timestamp,
    pub top: u64,
    pub middle: u64,
    pub bottom: u64,
    pub customer: u64,
    pub nurture: u64,
    pub out: u64,
    /// All of them: every contact created by `at`.
    pub contacts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelMix {
    pub direction: Option<Direction>,
    /// Oldest first.
    pub months: Vec<MixPoint>,
}

/// The instants a mix is counted at: the end of each month from `first` to `last`, and
/// `now` for a month not over by then; months after `now`'s are left out.
pub fn month_ends(first: Month, last: Month, now: Timestamp) -> Vec<(Month, Timestamp)> {
    let last = last.min(Month::of(now));
    (first.0..=last.0)
        .map(|m| {
            // The last microsecond of the month: a move at midnight belongs to the next.
            let end = Month(m + 1).start().plus_micros(-1);
            (Month(m), end.min(now))
        })
        .collect()
}

/// A mix being counted, a contact at a time.
pub struct MixTally {
    direction: Option<Direction>,
    points: Vec<(Month, Timestamp)>,
    counts: Vec<[u64; Band::ALL.len()]>,
}

impl FunnelMix {
    /// Counting at `points` ([`month_ends`]) the contacts of `direction`, when given.
    pub fn tally(points: Vec<(Month, Timestamp)>, direction: Option<Direction>) -> MixTally {
        let counts = vec![[0; Band::ALL.len()]; points.len()];
        MixTally { direction, points, counts }
    }

    /// The same numbers as a table: a row per month.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = vec!["month".to_owned(), "at".to_owned()];
        header.extend(Band::ALL.iter().map(|b| b.as_str().to_owned()));
        header.push("contacts".to_owned());
        let rows = self
            .months
            .iter()
            .map(|p| {
                let mut row = vec![p.month.to_string(), p.at.to_rfc3339()];
                row.extend(
                    [p.top, p.middle, p.bottom, p.customer, p.nurture, p.out, p.contacts].map(|n| n.to_string()),
                );
                row
            })
            .collect();
        (header, rows)
    }
}

impl MixTally {
    /// A contact created at `created_at`, with its moves oldest first.
    pub fn add(&mut self, created_at: Timestamp, direction: Direction, steps: &[StageStep]) {
        if self.direction.is_some_and(|d| d != direction) {
            return;
        }
        let mut next = 0;
        let mut stage = None;
        for (k, (_, at)) in self.points.iter().enumerate() {
            while next < steps.len() && steps[next].at <= *at {
                stage = Some(steps[next].to);
                next += 1;
            }
            if created_at > *at && stage.is_none() {
                continue;
            }
            let band = stage.map_or(Band::Top, Band::of);
            self.counts[k][band.index()] += 1;
        }
    }

    pub fn finish(self) -> FunnelMix {
        let months = self
            .points
            .into_iter()
            .zip(self.counts)
            .map(|((month, at), c)| MixPoint {
                month,
                at,
                top: c[0],
                middle: c[1],
                bottom: c[2],
                customer: c[3],
                nurture: c[4],
                out: c[5],
                contacts: c.iter().sum(),
            })
            .collect();
        FunnelMix { direction: self.direction, months }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn step(to: Stage, s: &str) -> StageStep {
        StageStep { to, at: at(s), value: None }
    }

    #[test]
    fn each_month_end_counts_every_contact_created_by_then_in_the_band_of_its_stage_then() {
        let now = at("2026-03-15T12:00:00Z");
        let points = month_ends("2026-01".parse().unwrap(), "2026-06".parse().unwrap(), now);
        assert_eq!(points.len(), 3, "months after now's are left out");
        assert_eq!(points[0].1, at("2026-01-31T23:59:59.999999Z"));
        assert_eq!(points[2].1, now, "the month under way is counted as of now");
        let mut tally = FunnelMix::tally(points, None);
        // In January a prospect, an mql from February 1st at midnight, won in March.
        let steps = [
            step(Stage::Prospect, "2026-01-10T00:00:00Z"),
            step(Stage::Mql, "2026-02-01T00:00:00Z"),
            step(Stage::Customer, "2026-03-01T00:00:00Z"),
        ];
        tally.add(at("2026-01-10T00:00:00Z"), Direction::Inbound, &steps);
        // Created in February, no move recorded: at the top from then.
        tally.add(at("2026-02-20T00:00:00Z"), Direction::Outbound, &[]);
        // Imported in March with a history dated in January: counted from its history.
        tally.add(at("2026-03-02T00:00:00Z"), Direction::Inbound, &[step(Stage::Lost, "2026-01-05T00:00:00Z")]);
        let mix = tally.finish();
        let bands = |p: &MixPoint| [p.top, p.middle, p.bottom, p.customer, p.nurture, p.out];
        assert_eq!(bands(&mix.months[0]), [1, 0, 0, 0, 0, 1]);
        assert_eq!(bands(&mix.months[1]), [1, 1, 0, 0, 0, 1]);
        assert_eq!(bands(&mix.months[2]), [1, 0, 0, 1, 0, 1]);
        assert_eq!(mix.months.iter().map(|p| p.contacts).collect::<Vec<_>>(), [2, 3, 3]);
        let (header, rows) = mix.table();
        assert_eq!(header.join(","), "month,at,top,middle,bottom,customer,nurture,out,contacts");
        assert_eq!(rows[1][..3], ["2026-02", "2026-02-28T23:59:59.999999Z", "1"].map(str::to_owned));
    }

    #[test]
    fn a_direction_counts_its_own_contacts() {
        let now = at("2026-01-20T00:00:00Z");
        let mut tally = FunnelMix::tally(month_ends(Month::of(now), Month::of(now), now), Some(Direction::Outbound));
        tally.add(at("2026-01-02T00:00:00Z"), Direction::Inbound, &[]);
        tally.add(at("2026-01-02T00:00:00Z"), Direction::Outbound, &[]);
        assert_eq!(tally.finish().months[0].contacts, 1);
    }
}
