//! The SLA report: per queue, and per person in it, how many items were handed over,
//! how many had their first action in time, how long it took in working time, how many
//! were breached.

use super::people::QueueItem;
use crate::Timestamp;
use crate::reports::waterfall::{median, quantile};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One queue's figures, or one person's in a queue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlaRow {
    pub queue_id: Uuid,
    /// `null` for the queue's own row (everyone's items, unassigned ones too).
    pub assignee_id: Option<Uuid>,
    /// Items handed over in the period.
    pub items: i64,
    /// Items with a first action at or before their due time.
    pub met: i64,
    /// Items breached: no first action by their due time.
    pub breached: i64,
    /// Items still waiting for a first action, not yet due.
    pub waiting: i64,
    /// `met / (met + breached)`; `null` when nothing is decided yet.
    pub compliance: Option<f64>,
    /// Working time to the first action, in hours: median and 90th percentile.
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

#[derive(Default)]
struct Tally {
    items: i64,
    met: i64,
    breached: i64,
    waiting: i64,
    hours: Vec<f64>,
}

impl Tally {
    fn add(&mut self, item: &QueueItem, now: Timestamp) {
        self.items += 1;
        match item.first_action_at {
            Some(at) if at <= item.sla_due_at && item.breached_at.is_none() => self.met += 1,
            Some(_) => self.breached += 1,
            None if item.breached_at.is_some() || now > item.sla_due_at => self.breached += 1,
            // Closed with no one acting (it moved on by itself): not the team's to meet.
            None if item.closed_at.is_some() => {}
            None => self.waiting += 1,
        }
        if let Some(seconds) = item.first_action_seconds {
            self.hours.push(seconds as f64 / 3_600.0);
        }
    }

    fn row(mut self, queue_id: Uuid, assignee_id: Option<Uuid>) -> SlaRow {
        let decided = self.met + self.breached;
        let round = |v: f64| (v * 100.0).round() / 100.0;
        SlaRow {
            queue_id,
            assignee_id,
            items: self.items,
            met: self.met,
            breached: self.breached,
            waiting: self.waiting,
            compliance: (decided > 0).then(|| round(self.met as f64 / decided as f64)),
            median_hours: median(&mut self.hours).map(round),
            p90_hours: quantile(&mut self.hours, 0.9).map(round),
        }
    }
}

/// The SLA rows of `items` as of `now`: each queue's row, then a row per person who
/// held items in it (by whom they are assigned to now), queues in id order.
pub fn sla_rows(items: &[QueueItem], now: Timestamp) -> Vec<SlaRow> {
    let mut tallies: BTreeMap<(Uuid, Option<Uuid>), Tally> = BTreeMap::new();
    for item in items {
        tallies.entry((item.queue_id, None)).or_default().add(item, now);
        if let Some(person) = item.assignee_id {
            tallies.entry((item.queue_id, Some(person))).or_default().add(item, now);
        }
    }
    tallies.into_iter().map(|((queue, person), tally)| tally.row(queue, person)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(
        queue: u128,
        person: Option<u128>,
        due: i64,
        acted: Option<(i64, i64)>,
        breached: Option<i64>,
    ) -> QueueItem {
        QueueItem {
            id: Uuid::now_v7(),
            contact_id: Uuid::now_v7(),
            queue_id: Uuid::from_u128(queue),
            assignee_id: person.map(Uuid::from_u128),
            rule: None,
            rules_version: 0,
            reason: String::new(),
            weight: 1,
            queued_at: Timestamp(0),
            sla_due_at: Timestamp(due),
            first_action_at: acted.map(|(at, _)| Timestamp(at)),
            first_action_by: None,
            first_action_seconds: acted.map(|(_, s)| s),
            breached_at: breached.map(Timestamp),
            escalations: 0,
            closed_at: None,
            outcome: None,
            pain_rank: 0,
            score: 0.0,
            interest_at: None,
        }
    }

    #[test]
    fn compliance_counts_first_actions_in_time_against_breaches() {
        let items = [
            item(1, Some(7), 100, Some((50, 3_600)), None),
            item(1, Some(7), 100, Some((150, 7_200)), Some(101)),
            item(1, Some(8), 100, None, Some(101)),
            item(1, None, 1_000, None, None),
            item(2, Some(8), 100, Some((10, 1_800)), None),
        ];
        let rows = sla_rows(&items, Timestamp(500));
        let queue1 = &rows[0];
        assert_eq!((queue1.assignee_id, queue1.items, queue1.met, queue1.breached, queue1.waiting), (None, 4, 1, 2, 1));
        assert_eq!(queue1.compliance, Some(0.33));
        assert_eq!((queue1.median_hours, queue1.p90_hours), (Some(1.5), Some(2.0)));
        let ann = rows
            .iter()
            .find(|r| r.queue_id == Uuid::from_u128(1) && r.assignee_id == Some(Uuid::from_u128(7)))
            .unwrap();
        assert_eq!((ann.items, ann.met, ann.breached, ann.compliance), (2, 1, 1, Some(0.5)));
        let queue2 = rows.iter().find(|r| r.queue_id == Uuid::from_u128(2) && r.assignee_id.is_none()).unwrap();
        assert_eq!((queue2.compliance, queue2.median_hours), (Some(1.0), Some(0.5)));
        assert_eq!(rows.len(), 5, "two queues, three people's rows");
        // Nothing decided: no compliance to speak of.
        assert_eq!(sla_rows(&[item(3, None, 1_000, None, None)], Timestamp(0))[0].compliance, None);
    }
}
