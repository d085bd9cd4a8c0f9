//! What the hand-off ports speak beside the core's records: a page of a queue, a
//! queue's counts, a stored version of the routing rules.

use leadgate_core::Timestamp;
use leadgate_core::handoff::people::QueueItem;
use leadgate_core::lifecycle::Stage;
use uuid::Uuid;

/// Where a page of a queue starts: after the item with this key, in the order of the
/// work (due, then pain, score and interest, highest first, then id).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemKey {
    pub sla_due_at: Timestamp,
    pub pain_order: i64,
    pub score_order: f64,
    pub interest_order: i64,
    pub id: Uuid,
}

impl ItemKey {
    pub fn of(item: &QueueItem) -> Self {
        ItemKey {
            sla_due_at: item.sla_due_at,
            pain_order: -item.pain_rank,
            score_order: -item.score,
            interest_order: item.interest_at.map_or(0, |t| -t.0),
            id: item.id,
        }
    }
}

/// Which of a queue's open items to read.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    pub queue: Uuid,
    /// Only those assigned to this person.
    pub assignee: Option<Uuid>,
    /// Only those assigned to nobody.
    pub unassigned: bool,
    /// Only those breached (`true`) or not (`false`).
    pub breached: Option<bool>,
    pub after: Option<ItemKey>,
    pub limit: i64,
}

/// An open item with who the contact is.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    pub item: QueueItem,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub country: Option<String>,
    pub stage: Stage,
}

/// A queue's open items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCount {
    pub queue_id: Uuid,
    pub open: i64,
    pub unassigned: i64,
    pub breached: i64,
    /// Those no routing rule matched (the queue was the fallback).
    pub fallback: i64,
}

/// A version of the routing rules as stored: the spec as written (JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRules {
    pub version: i64,
    pub spec: serde_json::Value,
    pub created_at: Timestamp,
    pub created_by: String,
}
