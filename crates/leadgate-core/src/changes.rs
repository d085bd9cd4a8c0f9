//! The change feed: what changed for a contact, one entry per contact per transaction.
//!
//! Every transaction that changes a contact gathers what it did here ([`Pending`]) and
//! the store writes it as entries of one ordered feed in that same transaction, so a
//! reader following the feed by [`Position`] sees every committed change exactly once.
//! Entries name what happened (kinds, counts, stages, field names), never the person's
//! data: the feed may be read by integrators and outlives no erasure.

use crate::lifecycle::{CauseKind, Stage, StageChange};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What a feed entry says happened; an entry holds one or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The contact was created (by an inquiry, a list entry, an import, demo data).
    Created,
    /// Some of the contact's own fields changed.
    FieldsChanged,
    /// The contact responded (an inquiry, a list entry with a response).
    Response,
    /// Activity events arrived for the contact.
    Events,
    /// The contact moved along the lifecycle.
    StageChanged,
    /// The contact's scores were computed anew.
    ScoresChanged,
    /// A qualifier's fields (BANT) were set.
    QualificationChanged,
    /// Another contact was merged into this one, or this one into another.
    Merged,
    /// A merge was undone.
    Unmerged,
    /// An import created or updated the contact.
    Imported,
    /// The contact's consent or do-not-contact choices changed.
    ConsentChanged,
    /// The person was erased: a copy of their data elsewhere should be erased too.
    Erased,
    /// The contact entered a queue, was assigned or reassigned, or left its queue.
    Routed,
    /// The time its queue allows for a first action passed with none.
    SlaBreached,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 14] = [
        ChangeKind::Created,
        ChangeKind::FieldsChanged,
        ChangeKind::Response,
        ChangeKind::Events,
        ChangeKind::StageChanged,
        ChangeKind::ScoresChanged,
        ChangeKind::QualificationChanged,
        ChangeKind::Merged,
        ChangeKind::Unmerged,
        ChangeKind::Imported,
        ChangeKind::ConsentChanged,
        ChangeKind::Erased,
        ChangeKind::Routed,
        ChangeKind::SlaBreached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::FieldsChanged => "fields_changed",
            ChangeKind::Response => "response",
            ChangeKind::Events => "events",
            ChangeKind::StageChanged => "stage_changed",
            ChangeKind::ScoresChanged => "scores_changed",
            ChangeKind::QualificationChanged => "qualification_changed",
            ChangeKind::Merged => "merged",
            ChangeKind::Unmerged => "unmerged",
            ChangeKind::Imported => "imported",
            ChangeKind::ConsentChanged => "consent_changed",
            ChangeKind::Erased => "erased",
            ChangeKind::Routed => "routed",
            ChangeKind::SlaBreached => "sla_breached",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind's bit in a [`Kinds`] set, as the store keeps it.
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of kinds, kept by the store as one integer so that a reader can filter by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kinds(pub u32);

impl Kinds {
    pub fn with(self, kind: ChangeKind) -> Kinds {
        Kinds(self.0 | kind.bit())
    }

    pub fn has(self, kind: ChangeKind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = ChangeKind> {
        ChangeKind::ALL.into_iter().filter(move |k| self.has(*k))
    }

    /// Every kind: what a reader that names none follows.
    pub fn all() -> Kinds {
        ChangeKind::ALL.into_iter().fold(Kinds::default(), Kinds::with)
    }
}

/// A stage change as the feed tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageStepChange {
    pub from: Option<Stage>,
    pub to: Stage,
    pub cause: CauseKind,
}

/// What an entry says beyond its kinds; every part is optional and none holds personal
/// data (field names, not values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeDetail {
    /// Activity events by kind (`page_view: 3`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, u32>,
    /// The stage moves, in the order they were made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageStepChange>,
    /// How many events kept waiting for this person (by visitor id or email) were
    /// attached to the contact.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub events_attached: u64,
    /// How many responses were recorded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub responses: u32,
    /// The contact this one was merged into, or the one merged into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_with: Option<Uuid>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl ChangeDetail {
    pub fn event_count(&self) -> u64 {
        self.events.values().map(|n| u64::from(*n)).sum()
    }
}

/// One entry to write: a contact, what happened to it, when.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub contact_id: Uuid,
    pub kinds: Kinds,
    pub detail: ChangeDetail,
}

/// What a transaction has changed so far, gathered by contact; written as one entry per
/// contact when the transaction commits.
#[derive(Debug, Default)]
pub struct Pending {
    by_contact: BTreeMap<Uuid, (Kinds, ChangeDetail)>,
}

impl Pending {
    fn entry(&mut self, contact: Uuid, kind: ChangeKind) -> &mut ChangeDetail {
        let (kinds, detail) = self.by_contact.entry(contact).or_default();
        *kinds = kinds.with(kind);
        detail
    }

    pub fn note(&mut self, contact: Uuid, kind: ChangeKind) {
        self.entry(contact, kind);
    }

    pub fn event(&mut self, contact: Uuid, kind: &str) {
        let counts = &mut self.entry(contact, ChangeKind::Events).events;
        match counts.get_mut(kind) {
            Some(n) => *n = n.saturating_add(1),
            None => {
                counts.insert(kind.to_owned(), 1);
            }
        }
    }

    pub fn attached(&mut self, contact: Uuid, events: u64) {
        if events > 0 {
            let detail = self.entry(contact, ChangeKind::Events);
            detail.events_attached = detail.events_attached.saturating_add(events);
        }
    }

    pub fn response(&mut self, contact: Uuid) {
        let detail = self.entry(contact, ChangeKind::Response);
        detail.responses = detail.responses.saturating_add(1);
    }

    pub fn stage(&mut self, change: &StageChange) {
        self.entry(change.contact_id, ChangeKind::StageChanged).stages.push(StageStepChange {
            from: change.from,
            to: change.to,
            cause: change.cause,
        });
    }

    pub fn merged(&mut self, contact: Uuid, with: Uuid, kind: ChangeKind) {
        self.entry(contact, kind).merged_with = Some(with);
    }

    /// Forgets what was gathered of `contact` (erased in this transaction).
    pub fn forget(&mut self, contact: &Uuid) {
        self.by_contact.remove(contact);
    }

    pub fn is_empty(&self) -> bool {
        self.by_contact.is_empty()
    }

    /// The entries, in contact order (the order their rows are locked in).
    pub fn take(&mut self) -> Vec<NewChange> {
        std::mem::take(&mut self.by_contact)
            .into_iter()
            .map(|(contact_id, (kinds, detail))| NewChange { contact_id, kinds, detail })
            .collect()
    }
}

/// Where an entry stands in the feed. On SQLite the first part is always 0 (one writer
/// commits in order); on PostgreSQL it is the writing transaction's id, the second the
/// entry's number within the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub major: i64,
    pub minor: i64,
}

/// An entry as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub position: Position,
    pub contact_id: Uuid,
    pub kinds: Kinds,
    pub detail: ChangeDetail,
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_contact_with_everything_that_happened_to_it() {
        let a = Uuid::from_u128(2);
        let b = Uuid::from_u128(1);
        let mut p = Pending::default();
        p.event(a, "page_view");
        p.event(a, "page_view");
        p.event(a, "email_open");
        p.response(a);
        p.note(b, ChangeKind::Created);
        let entries = p.take();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].contact_id, b, "entries come in contact order");
        let of_a = &entries[1];
        assert!(of_a.kinds.has(ChangeKind::Events) && of_a.kinds.has(ChangeKind::Response));
        assert!(!of_a.kinds.has(ChangeKind::Created));
        assert_eq!(of_a.detail.events["page_view"], 2);
        assert_eq!(of_a.detail.event_count(), 3);
        assert!(p.is_empty(), "taking empties it");
    }

    #[test]
    fn kinds_have_one_name_each_and_parse_back() {
        for k in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.as_str());
        }
        assert_eq!(ChangeKind::parse("page_view"), None);
        assert_eq!(Kinds::all().iter().count(), ChangeKind::ALL.len());
    }
}
