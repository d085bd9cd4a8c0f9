//! "Rejected, then won": contacts that were sent to nurture, marked lost or
//! disqualified, and later became opportunities or customers — the evidence for
//! nurturing instead of discarding — and, for each month of rejection, what all the
//! contacts rejected that month became.
//!
//! A contact's **rejection** is its first move to nurture, lost or disqualified; it is
//! **won back** when a later move takes it to opportunity or customer. The report's
//! period selects contacts by the date of their rejection.

use super::{Month, Period};
use crate::Timestamp;
use crate::lifecycle::{Stage, StageStep};
use crate::response::Direction;
use crate::time::MICROS_PER_DAY;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The moves that reject a contact.
pub const REJECTIONS: [Stage; 3] = [Stage::Nurture, Stage::Lost, Stage::Disqualified];

/// Contacts won back the report lists at most (the most recent wins); the counts
/// count them all.
pub const LISTED_MAX: usize = 1_000;

/// A contact's first rejection, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub contact_id: Uuid,
    pub direction: Direction,
    pub at: Timestamp,
    pub to: Stage,
    /// Its stage now.
    pub stage_now: Stage,
    pub won: Option<Won>,
}

/// How a rejected contact came back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Won {
    /// When it first reached opportunity or customer after the rejection.
    pub at: Timestamp,
    /// Customer if it became one after the rejection, else opportunity.
    pub stage: Stage,
    /// Its value won after the rejection ([`crate::lifecycle::value_won`]); or, never
    /// a customer, the value of its last move to opportunity.
    pub value: Option<i64>,
}

impl Rejection {
    /// The first rejection among `steps` (oldest first), if any.
    pub fn of(contact_id: Uuid, direction: Direction, stage_now: Stage, steps: &[StageStep]) -> Option<Rejection> {
        let first = steps.iter().position(|s| REJECTIONS.contains(&s.to))?;
        let (at, to) = (steps[first].at, steps[first].to);
        let after = &steps[first + 1..];
        let won = after.iter().find(|s| matches!(s.to, Stage::Opportunity | Stage::Customer)).map(|back| {
            let customer = after.iter().any(|s| s.to == Stage::Customer);
            let value = if customer {
                crate::lifecycle::value_won(after)
            } else {
                after.iter().rev().find(|s| s.to == Stage::Opportunity).and_then(|s| s.value)
            };
            let stage = if customer { Stage::Customer } else { Stage::Opportunity };
            Won { at: back.at, stage, value }
        });
        Some(Rejection { contact_id, direction, at, to, stage_now, won })
    }

    /// Days from the rejection to the win.
    pub fn days_to_win(&self) -> Option<f64> {
        self.won.map(|w| (w.at.0 - self.at.0) as f64 / MICROS_PER_DAY as f64)
    }
}

/// What the contacts rejected in a month (or the whole period) became.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Outcomes {
    pub rejected: u64,
    /// How they were rejected: `nurture`, `lost`, `disqualified`.
    #[schema(value_type = Object)]
    pub rejected_to: BTreeMap<Stage, u64>,
    /// Won back: became opportunities (or customers) after.
    pub won_back: u64,
    /// Of those, became customers after.
    pub customers: u64,
    /// `won_back` over `rejected`; `null` without rejections.
    pub share_won_back: Option<f64>,
    /// The values of the deals won back, minor units.
    pub value: i64,
    /// Their stages now.
    #[schema(value_type = Object)]
    pub stage_now: BTreeMap<Stage, u64>,
}

impl Outcomes {
    fn add(&mut self, r: &Rejection) {
        self.rejected += 1;
        *self.rejected_to.entry(r.to).or_default() += 1;
        *self.stage_now.entry(r.stage_now).or_default() += 1;
        if let Some(w) = r.won {
            self.won_back += 1;
            self.customers += u64::from(w.stage == Stage::Customer);
            self.value = self.value.saturating_add(w.value.unwrap_or(0));
        }
        self.share_won_back = Some(self.won_back as f64 / self.rejected as f64);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonthOutcomes {
    /// The month of rejection, `2026-01`.
    #[schema(value_type = String)]
    pub month: Month,
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// A contact won back, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WonBack {
    pub contact_id: Uuid,
    pub email: Option<String>,
    pub rejected_at: Timestamp,
    pub rejected_to: Stage,
    /// The reason recorded with the rejection.
    pub reason: Option<String>,
    pub won_at: Timestamp,
    pub won_stage: Stage,
    pub days_between: f64,
    pub value: Option<i64>,
    /// What it did in between: responses and activity events after the rejection, up
    /// to the win.
    pub responses_between: u64,
    pub events_between: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RejectedThenWon {
    /// Contacts rejected from `from` to `to`.
    #[serde(flatten)]
    pub period: Period,
    pub direction: Option<Direction>,
    /// By month of rejection, oldest first.
    pub months: Vec<MonthOutcomes>,
    pub totals: Outcomes,
    /// The contacts won back, the most recent win first; at most [`LISTED_MAX`] of the
    /// `totals.won_back`.
    pub contacts: Vec<WonBack>,
}

/// The report being counted, a contact at a time.
pub struct RejectedTally {
    period: Period,
    direction: Option<Direction>,
    months: BTreeMap<Month, Outcomes>,
    totals: Outcomes,
    /// The most recent wins, at most [`LISTED_MAX`] kept while counting.
    won: Vec<Rejection>,
}

impl RejectedThenWon {
    pub fn tally(period: Period, direction: Option<Direction>) -> RejectedTally {
        RejectedTally { period, direction, months: BTreeMap::new(), totals: Outcomes::default(), won: Vec::new() }
    }
}

impl RejectedTally {
    pub fn add(&mut self, r: &Rejection) {
        if !self.period.holds(r.at) || self.direction.is_some_and(|d| d != r.direction) {
            return;
        }
        self.totals.add(r);
        self.months.entry(Month::of(r.at)).or_default().add(r);
        if r.won.is_some() {
            self.won.push(r.clone());
            if self.won.len() >= 2 * LISTED_MAX {
                self.keep_latest();
            }
        }
    }

    fn keep_latest(&mut self) {
        let at = |r: &Rejection| r.won.map(|w| w.at);
        self.won.sort_by(|a, b| at(b).cmp(&at(a)).then(a.contact_id.cmp(&b.contact_id)));
        self.won.truncate(LISTED_MAX);
    }

    /// The contacts to list, the most recent win first: their details (reason, email,
    /// what happened in between) are read for these alone.
    pub fn listed(&mut self) -> &[Rejection] {
        self.keep_latest();
        &self.won
    }

    /// The report, with each listed contact's details made by `detail`.
    pub fn finish(mut self, detail: impl Fn(&Rejection) -> WonBack) -> RejectedThenWon {
        self.keep_latest();
        RejectedThenWon {
            period: self.period,
            direction: self.direction,
            months: self.months.into_iter().map(|(month, outcomes)| MonthOutcomes { month, outcomes }).collect(),
            totals: self.totals,
            contacts: self.won.iter().map(detail).collect(),
        }
    }
}

impl RejectedThenWon {
    /// One row per month of rejection (the totals last).
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let header = [
            "scope",
            "month",
            "rejected",
            "to_nurture",
            "to_lost",
            "to_disqualified",
            "won_back",
            "customers",
            "share_won_back",
            "value",
        ]
        .map(str::to_owned)
        .to_vec();
        let row = |scope: &str, month: String, o: &Outcomes| {
            let to = |s: Stage| o.rejected_to.get(&s).copied().unwrap_or(0).to_string();
            vec![
                scope.to_owned(),
                month,
                o.rejected.to_string(),
                to(Stage::Nurture),
                to(Stage::Lost),
                to(Stage::Disqualified),
                o.won_back.to_string(),
                o.customers.to_string(),
                o.share_won_back.map(|s| s.to_string()).unwrap_or_default(),
                o.value.to_string(),
            ]
        };
        let rows = self
            .months
            .iter()
            .map(|m| row("month", m.month.to_string(), &m.outcomes))
            .chain(std::iter::once(row("total", String::new(), &self.totals)))
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> Timestamp {
        Timestamp(d * MICROS_PER_DAY)
    }

    fn step(to: Stage, d: i64, value: Option<i64>) -> StageStep {
        StageStep { to, at: day(d), value }
    }

    fn of(id: u128, steps: &[StageStep], now: Stage) -> Option<Rejection> {
        Rejection::of(Uuid::from_u128(id), Direction::Inbound, now, steps)
    }

    #[test]
    fn the_first_rejection_counts_and_a_later_opportunity_or_customer_wins_it_back() {
        let steps = [
            step(Stage::Mql, 0, None),
            step(Stage::Nurture, 10, None),
            step(Stage::Mql, 40, None),
            step(Stage::Lost, 45, None),
            step(Stage::Opportunity, 70, Some(5_000)),
            step(Stage::Customer, 90, Some(8_000)),
        ];
        let r = of(1, &steps, Stage::Customer).unwrap();
        assert_eq!((r.at, r.to), (day(10), Stage::Nurture), "the first rejection, not the loss after it");
        assert_eq!(r.won, Some(Won { at: day(70), stage: Stage::Customer, value: Some(8_000) }));
        assert_eq!(r.days_to_win(), Some(60.0));
        let opportunity_only = [step(Stage::Disqualified, 1, None), step(Stage::Opportunity, 5, Some(3_000))];
        let r = of(2, &opportunity_only, Stage::Opportunity).unwrap();
        assert_eq!(r.won.map(|w| (w.stage, w.value)), Some((Stage::Opportunity, Some(3_000))));
        // A customer before the rejection is not a win after it.
        let before = [step(Stage::Customer, 1, Some(9)), step(Stage::Lost, 5, None)];
        assert_eq!(of(3, &before, Stage::Lost).unwrap().won, None);
        assert_eq!(of(4, &[step(Stage::Mql, 1, None)], Stage::Mql), None, "never rejected");
    }

    #[test]
    fn each_month_of_rejection_says_what_its_contacts_became_and_the_wins_are_listed_latest_first() {
        let rejected = [
            of(1, &[step(Stage::Nurture, 0, None), step(Stage::Customer, 50, Some(100))], Stage::Customer),
            of(2, &[step(Stage::Lost, 1, None), step(Stage::Opportunity, 20, None)], Stage::Opportunity),
            of(3, &[step(Stage::Nurture, 2, None)], Stage::Nurture),
            of(4, &[step(Stage::Disqualified, 40, None)], Stage::Disqualified),
        ];
        let mut tally = RejectedThenWon::tally(Period::default(), None);
        rejected.iter().flatten().for_each(|r| tally.add(r));
        assert_eq!(tally.listed().iter().map(|r| r.contact_id.as_u128()).collect::<Vec<_>>(), [1, 2]);
        let report = tally.finish(|r| WonBack {
            contact_id: r.contact_id,
            email: None,
            rejected_at: r.at,
            rejected_to: r.to,
            reason: None,
            won_at: r.won.unwrap().at,
            won_stage: r.won.unwrap().stage,
            days_between: r.days_to_win().unwrap(),
            value: r.won.unwrap().value,
            responses_between: 0,
            events_between: 0,
        });
        assert_eq!(report.months.len(), 2);
        let january = &report.months[0].outcomes;
        assert_eq!((january.rejected, january.won_back, january.customers, january.value), (3, 2, 1, 100));
        assert_eq!(january.share_won_back, Some(2.0 / 3.0));
        assert_eq!(january.stage_now.get(&Stage::Nurture), Some(&1));
        assert_eq!(report.totals.rejected_to.get(&Stage::Disqualified), Some(&1));
        assert_eq!(report.totals.rejected, 4);
        let (_, rows) = report.table();
        assert_eq!(rows.last().unwrap()[..7], ["total", "", "4", "2", "1", "1", "2"].map(str::to_owned));
        let since_day_30 = Period::new(Some(day(30)), None).unwrap();
        let mut later = RejectedThenWon::tally(since_day_30, None);
        rejected.iter().flatten().for_each(|r| later.add(r));
        assert_eq!(later.finish(|_| unreachable!("nothing won back")).totals.rejected, 1);
    }
}
