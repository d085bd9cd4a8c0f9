//! Whether a contact's outcome is known: it reached the target stage within the horizon,
//! or it is known not to have (it was lost or disqualified first, or the horizon passed).
//! Contacts still within the horizon are neither: they are scored, not learned from.

use crate::Timestamp;
use crate::lifecycle::Stage;
use crate::lifecycle::{StageChange, StageStep};
use crate::time::MICROS_PER_DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reached the target (or a later stage on the main path) at this moment.
    Reached(Timestamp),
    /// Known not to have reached it, since this moment.
    Missed(Timestamp),
    Unknown,
}

impl Outcome {
    pub fn label(self) -> Option<bool> {
        match self {
            Outcome::Reached(_) => Some(true),
            Outcome::Missed(_) => Some(false),
            Outcome::Unknown => None,
        }
    }

    /// The moment the outcome became known; `now` while it is not.
    pub fn cutoff(self, now: Timestamp) -> Timestamp {
        match self {
            Outcome::Reached(at) | Outcome::Missed(at) => at,
            Outcome::Unknown => now,
        }
    }
}

/// How long after they came the contacts that reached the target did so (µs), which
/// says when a contact known not to have is read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReachedAges(Vec<i64>);

impl ReachedAges {
    pub fn new(mut ages: Vec<i64>) -> Self {
        ages.sort_unstable();
        Self(ages)
    }

    /// The moment a contact with a known outcome is read (its features as of then). One
    /// that reached the target: that moment. One known not to have: when it was as old
    /// as one of those that reached it were then (picked by `key`, the same contact the
    /// same age), or when it was known not to, if sooner. Read at the end of the
    /// horizon instead, contacts would be told apart by the time passed alone: 300 days
    /// since the last activity against 30 for buyers, however alike they were.
    pub fn read_at(&self, outcome: Outcome, created: Timestamp, key: &[u8], now: Timestamp) -> Timestamp {
        match outcome {
            Outcome::Missed(known) if !self.0.is_empty() => {
                let pick = xxhash_rust::xxh3::xxh3_64(key) % self.0.len() as u64;
                Timestamp(created.0.saturating_add(self.0[pick as usize])).min(known)
            }
            _ => outcome.cutoff(now),
        }
    }
}

/// Whether a stage counts as having reached `target`.
pub fn reaches(stage: Stage, target: Stage) -> bool {
    stage == target || stage.is_after(target)
}

/// The outcome of a contact created at `created` with these stage changes (any order).
pub fn outcome(
    created: Timestamp,
    current: Stage,
    changes: &[StageStep],
    target: Stage,
    horizon_days: i64,
    now: Timestamp,
) -> Outcome {
    let deadline = Timestamp(created.0.saturating_add(horizon_days.saturating_mul(MICROS_PER_DAY)));
    let reached = changes.iter().filter(|c| reaches(c.to, target)).map(|c| c.at.max(created)).min();
    match reached {
        Some(at) if at <= deadline => return Outcome::Reached(at),
        Some(_) => return Outcome::Missed(deadline),
        None => {}
    }
    if matches!(current, Stage::Lost | Stage::Disqualified) {
        let closed = changes.iter().filter(|c| c.to == current).map(|c| c.at.max(created)).max();
        return Outcome::Missed(closed.unwrap_or(created).min(deadline));
    }
    if now > deadline { Outcome::Missed(deadline) } else { Outcome::Unknown }
}

/// The import (`import <id>`) that recorded `outcome`, if one did: what it set on the
/// contact in the same row is part of the history it brought, not written after the
/// outcome, although the import ran after it. `history` is the contact's stage changes.
pub fn recorded_by_import(
    outcome: Outcome,
    target: Stage,
    created: Timestamp,
    history: &[StageChange],
) -> Option<&str> {
    // The stage change that made the outcome known: reaching the target, or closing.
    let (at, decides): (Timestamp, &dyn Fn(Stage) -> bool) = match outcome {
        Outcome::Reached(at) => (at, &|to| reaches(to, target)),
        Outcome::Missed(at) => (at, &|to| matches!(to, Stage::Lost | Stage::Disqualified)),
        Outcome::Unknown => return None,
    };
    history.iter().filter(|s| decides(s.to) && s.at.max(created) == at).find_map(StageChange::import_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::CauseKind;

    const DAY: i64 = MICROS_PER_DAY;

    fn change(to: Stage, day: i64) -> StageStep {
        StageStep { to, at: Timestamp(day * DAY), value: None }
    }

    fn of(current: Stage, changes: &[StageStep], now_day: i64) -> Outcome {
        outcome(Timestamp(0), current, changes, Stage::Customer, 180, Timestamp(now_day * DAY))
    }

    #[test]
    fn a_contact_that_bought_within_the_horizon_is_a_positive_as_of_that_day() {
        let changes = [change(Stage::Prospect, 0), change(Stage::Customer, 40)];
        assert_eq!(of(Stage::Customer, &changes, 400), Outcome::Reached(Timestamp(40 * DAY)));
    }

    #[test]
    fn buying_after_the_horizon_counts_as_not_within_it() {
        let changes = [change(Stage::Customer, 200)];
        assert_eq!(of(Stage::Customer, &changes, 400), Outcome::Missed(Timestamp(180 * DAY)));
    }

    #[test]
    fn a_young_open_contact_is_unknown_and_an_old_one_a_negative() {
        let changes = [change(Stage::Mql, 3)];
        assert_eq!(of(Stage::Mql, &changes, 100), Outcome::Unknown);
        assert_eq!(of(Stage::Mql, &changes, 181), Outcome::Missed(Timestamp(180 * DAY)));
    }

    #[test]
    fn a_contact_that_did_not_buy_is_read_at_an_age_buyers_bought_at_or_when_it_was_lost() {
        let ages = ReachedAges::new(vec![30 * DAY, 10 * DAY, 20 * DAY]);
        let now = Timestamp(400 * DAY);
        let created = Timestamp(5 * DAY);
        let read: Vec<i64> = (0u32..60)
            .map(|k| {
                (ages.read_at(Outcome::Missed(Timestamp(185 * DAY)), created, &k.to_le_bytes(), now).0 - created.0)
                    / DAY
            })
            .collect();
        assert!(read.iter().all(|d| [10, 20, 30].contains(d)), "{read:?}");
        assert!([10, 20, 30].iter().all(|d| read.contains(d)), "each age is picked: {read:?}");
        // The same contact, the same age.
        let once = ages.read_at(Outcome::Missed(Timestamp(185 * DAY)), created, b"id", now);
        assert_eq!(once, ages.read_at(Outcome::Missed(Timestamp(185 * DAY)), created, b"id", now));
        // Lost on its 8th day: read then, not later.
        assert_eq!(ages.read_at(Outcome::Missed(Timestamp(13 * DAY)), created, b"id", now), Timestamp(13 * DAY));
        // Buyers at the moment they bought; open contacts now; with no buyer, as known.
        assert_eq!(ages.read_at(Outcome::Reached(Timestamp(9 * DAY)), created, b"id", now), Timestamp(9 * DAY));
        assert_eq!(ages.read_at(Outcome::Unknown, created, b"id", now), now);
        let none = ReachedAges::default();
        assert_eq!(none.read_at(Outcome::Missed(Timestamp(185 * DAY)), created, b"id", now), Timestamp(185 * DAY));
    }

    #[test]
    fn a_lost_contact_is_known_at_once_and_a_later_stage_counts_as_reaching_an_earlier_target() {
        assert_eq!(of(Stage::Lost, &[change(Stage::Lost, 10)], 20), Outcome::Missed(Timestamp(10 * DAY)));
        let bought = [change(Stage::Customer, 5)];
        assert!(matches!(
            outcome(Timestamp(0), Stage::Customer, &bought, Stage::Sql, 30, Timestamp(DAY)),
            Outcome::Reached(_)
        ));
    }

    #[test]
    fn the_import_that_recorded_an_outcome_is_the_one_whose_stage_decided_it() {
        let created = Timestamp(5 * DAY);
        let step = |to: Stage, at: Timestamp, detail: &str| StageChange {
            contact_id: uuid::Uuid::nil(),
            from: None,
            to,
            at,
            cause: CauseKind::Import,
            detail: detail.into(),
            actor: "operator".into(),
            value: None,
        };
        // Bought the day it came: its arrival (another import) shares the moment.
        let history = [
            step(Stage::Prospect, created, "import people"),
            step(Stage::Customer, Timestamp(created.0 - 3), "import deals: closed at the fair"),
        ];
        let reached = Outcome::Reached(created);
        assert_eq!(recorded_by_import(reached, Stage::Customer, created, &history), Some("import deals"));
        let lost = [step(Stage::Mql, created, "import people"), step(Stage::Lost, Timestamp(40 * DAY), "import crm")];
        let missed = Outcome::Missed(Timestamp(40 * DAY));
        assert_eq!(recorded_by_import(missed, Stage::Customer, created, &lost), Some("import crm"));
        // The horizon passing is recorded by no import.
        let open = Outcome::Missed(Timestamp(185 * DAY));
        assert_eq!(recorded_by_import(open, Stage::Customer, created, &lost), None);
    }
}
