//! What expressions read of many contacts at once, and the scores and qualification written back.

use crate::ByContact;
use crate::ContactSnapshot;
use crate::Contacts;
use crate::ResponseDetails;
use crate::Result;
use crate::SnapshotParts;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::expr::facts::EventFact;
use leadgate_core::lifecycle::StageChange;
use leadgate_core::model::ContactChange;
use leadgate_core::model::Qualification;
use leadgate_core::model::Response;
use leadgate_core::scoring::ContactScores;
use uuid::Uuid;

#[async_trait]
pub trait HistoryReads: Send + Sync {
    // What expressions read of contacts, for many at once.
    /// The contacts with these ids (merged ones included, as they are), each with its
    /// qualification fields and what `parts` names of its account and stored scores,
    /// read together.
    async fn contact_snapshots(&self, contacts: Contacts<'_>, parts: SnapshotParts) -> Result<Vec<ContactSnapshot>>;

    /// The ids of contacts that are not merged into another, after `after`, in id order;
    /// only those created at or before `created_by` when given (a backtest's date).
    async fn live_contact_ids(
        &self,
        after: Option<Uuid>,
        created_by: Option<Timestamp>,
        limit: i64,
    ) -> Result<Vec<Uuid>>;

    /// The responses of these contacts that count (not junk: what a junk inquiry made up
    /// says nothing of the person), by contact, each contact's oldest first; only
    /// those up to `until` when given (a backtest's date); with the columns `details`
    /// names (see [`ResponseDetails`]).
    async fn responses_of(
        &self,
        contacts: Contacts<'_>,
        until: Option<Timestamp>,
        details: ResponseDetails,
    ) -> Result<ByContact<Response>>;

    /// The events of these contacts, by contact, at or after `since`, and at or before `until` when
    /// given; with their properties when `props`, else with `null` for them: all else
    /// an event holds that expressions read is kept packed by contact, and read from
    /// there alone (each contact's oldest first), without stepping over the events
    /// outside the window one by one.
    async fn events_of(
        &self,
        contacts: Contacts<'_>,
        since: Timestamp,
        until: Option<Timestamp>,
        props: bool,
    ) -> Result<ByContact<EventFact>>;

    /// When each of these contacts' latest event (at or before `until`, when given)
    /// happened; contacts without one are left out.
    async fn last_events(&self, contacts: Contacts<'_>, until: Option<Timestamp>) -> Result<Vec<(Uuid, Timestamp)>>;

    async fn qualifications(&self, contacts: &[Uuid]) -> Result<Vec<(Uuid, Qualification)>>;

    /// The recorded field changes of these contacts, by contact, each contact's oldest
    /// first.
    async fn contact_changes_of(&self, contacts: Contacts<'_>) -> Result<ByContact<ContactChange>>;

    /// The stage changes of these contacts, with their causes, by contact, each
    /// contact's oldest first (as [`crate::ports::contacts::ContactReads::stage_history`] for one).
    async fn stage_histories_of(&self, contacts: Contacts<'_>) -> Result<ByContact<StageChange>>;

    async fn scores(&self, contacts: &[Uuid]) -> Result<Vec<ContactScores>>;
}

#[async_trait]
pub trait ScoreWrites: Send {
    /// A contact's qualification as the transaction sees it (empty for no contact).
    async fn qualification_of(&mut self, contact_id: Uuid) -> Result<Qualification>;

    async fn set_qualification(&mut self, contact_id: Uuid, q: &Qualification) -> Result<()>;

    /// Writes each contact's scores: its assessment and its likelihood (none without a
    /// trained model). Scores that say what the stored ones say, time passing aside
    /// ([`ContactScores::digest`]), are left as stored. Returns how many contacts' scores
    /// changed, each of which is a `scores_changed` entry on the change feed.
    async fn save_scores(&mut self, scores: &[ContactScores]) -> Result<u64>;
}
