//! One contact as the reports read it: a [`Path`] through the funnel.
//!
//! The rules, each said once here and in docs/reports.md:
//! - A contact **enters the funnel** when it is created (the date an import gives it,
//!   or its first response's); the period of a report selects contacts by that date.
//! - A contact **reached a stage** of the main path when it first reached that stage or
//!   any after it: one that skipped a stage passed it, at the moment it went beyond.
//! - A contact that was **recycled** (back to nurture, then on again) counts once per
//!   stage, at the first time it reached it.
//! - A **merged** contact is not a path of its own: its history lives in the contact it
//!   was merged into, which counts once.
//! - A contact that is **disqualified** now is left out of every count, and counted.

use super::{Grouping, Month};
use crate::Timestamp;
use crate::lifecycle::{Stage, StageStep};
use crate::model::{Contact, Response};
use crate::response::Direction;
use std::sync::Arc;
use uuid::Uuid;

/// The stages of the main path, in the order a contact passes them.
pub const FUNNEL: [Stage; 7] =
    [Stage::Suspect, Stage::Prospect, Stage::Mql, Stage::Sal, Stage::Sql, Stage::Opportunity, Stage::Customer];

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub contact_id: Uuid,
    pub entered_at: Timestamp,
    /// The contact's value for each grouping, in [`Grouping::ALL`]'s order; none where
    /// it has none (no vendor, no form). Shared: a summary of a million paths holds each
    /// channel's name once.
    pub groups: [Option<Arc<str>>; Grouping::ALL.len()],
    /// When it first reached each stage of [`FUNNEL`] or one after it; the first is
    /// when it entered.
    pub reached: [Option<Timestamp>; FUNNEL.len()],
    pub disqualified: bool,
    /// Its value won ([`crate::lifecycle::value_won`]), minor units; none: no move to
    /// customer carried a value.
    pub value_won: Option<i64>,
}

impl Path {
    /// `contact` with its first response that counts (not junk), if any, and its
    /// stage steps, oldest first.
    pub fn of(contact: &Contact, first_response: Option<&Response>, steps: &[StageStep]) -> Path {
        let reached = reached(contact.created_at, steps);
        let channel = contact.channel.as_deref().or_else(|| first_response.and_then(|r| r.channel.as_deref()));
        let groups = groups(contact.direction, channel, first_response, contact);
        Path {
            contact_id: contact.id,
            entered_at: contact.created_at,
            groups,
            reached,
            disqualified: contact.stage == Stage::Disqualified,
            value_won: crate::lifecycle::value_won(steps),
        }
    }

    /// Calendar months (UTC) from entering to first reaching the stage at `stage` in
    /// [`FUNNEL`]; 0 for a stage dated before entry (imported dates that disagree).
    pub fn months_to_reach(&self, stage: usize) -> Option<u32> {
        let entered = Month::of(self.entered_at);
        self.reached[stage].map(|at| (Month::of(at).0 - entered.0).max(0) as u32)
    }

    pub fn group(&self, g: Grouping) -> Option<&str> {
        self.groups[g.index()].as_deref()
    }
}

/// When a contact created at `created_at`, with `steps` oldest first, first reached each
/// stage of [`FUNNEL`] or one after it; the first is when it entered.
pub fn reached(created_at: Timestamp, steps: &[StageStep]) -> [Option<Timestamp>; FUNNEL.len()] {
    let mut reached = [None; FUNNEL.len()];
    reached[0] = Some(created_at);
    for step in steps {
        let Some(rank) = step.to.rank() else { continue };
        for slot in reached.iter_mut().take(usize::from(rank) + 1) {
            slot.get_or_insert(step.at);
        }
    }
    reached
}

/// Each grouping's value for something that came in `direction` through `channel`, as
/// `response` (its vendor, campaign, …), of `contact` (its owner).
pub(crate) fn groups(
    direction: Direction,
    channel: Option<&str>,
    response: Option<&Response>,
    contact: &Contact,
) -> [Option<Arc<str>>; Grouping::ALL.len()] {
    let r = response;
    Grouping::ALL.map(|g| match g {
        Grouping::Direction => Some(direction.as_str().into()),
        Grouping::Channel => channel.map(Arc::from),
        Grouping::Vendor => r.and_then(|r| r.vendor.as_deref().map(Arc::from)),
        Grouping::Campaign => r.and_then(|r| r.campaign.as_deref().map(Arc::from)),
        Grouping::Placement => r.and_then(|r| r.placement.as_deref().map(Arc::from)),
        Grouping::Action => r.map(|r| r.action.as_str().into()),
        Grouping::ObtainedVia => r.map(|r| r.obtained_via.as_str().into()),
        Grouping::Offer => r.and_then(|r| r.offer.as_deref().map(Arc::from)),
        Grouping::Form => r.and_then(|r| r.form_id).map(|id| id.to_string().into()),
        Grouping::Owner => contact.owner.as_deref().map(Arc::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MICROS_PER_DAY;

    fn day(d: i64) -> Timestamp {
        Timestamp(d * MICROS_PER_DAY)
    }

    fn step(to: Stage, d: i64) -> StageStep {
        StageStep { to, at: day(d), value: None }
    }

    fn contact(stage: Stage) -> Contact {
        Contact::new(
            Uuid::from_u128(1),
            Some("a@b.example".into()),
            Direction::Inbound,
            Some("organic_search".into()),
            stage,
            day(0),
        )
    }

    #[test]
    fn a_skipped_stage_is_passed_when_the_contact_goes_beyond_it_and_a_recycled_one_counts_once() {
        let steps = [
            step(Stage::Suspect, 0),
            step(Stage::Mql, 3),
            step(Stage::Nurture, 5),
            step(Stage::Mql, 40),
            step(Stage::Opportunity, 50),
        ];
        let p = Path::of(&contact(Stage::Opportunity), None, &steps);
        assert_eq!(
            p.reached,
            [Some(day(0)), Some(day(3)), Some(day(3)), Some(day(50)), Some(day(50)), Some(day(50)), None]
        );
        assert!(!p.disqualified);
        assert_eq!(
            (p.group(Grouping::Channel), p.group(Grouping::Direction)),
            (Some("organic_search"), Some("inbound"))
        );
        assert_eq!(p.group(Grouping::Vendor), None);
    }

    #[test]
    fn a_contact_disqualified_now_is_marked_whatever_it_reached_before() {
        let steps = [step(Stage::Prospect, 0), step(Stage::Mql, 1), step(Stage::Disqualified, 2)];
        let p = Path::of(&contact(Stage::Disqualified), None, &steps);
        assert!(p.disqualified);
        assert_eq!(p.reached[2], Some(day(1)));
    }
}
