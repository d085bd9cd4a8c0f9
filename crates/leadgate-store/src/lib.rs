//! Storage for leadgate: the ports ([`Store`], [`Tx`]) and their two adapters,
//! SQLite (embedded, the default) and PostgreSQL.
//!
//! Both adapters run the same SQL text (see `sql_store.rs`): the statements use
//! numbered placeholders (`$1`), which both drivers accept, and portable types
//! (instants as microseconds in a 64-bit integer, UUIDs, JSON). Only the schema
//! (`migrations/sqlite`, `migrations/postgres`) and connection set-up differ.
//! The conformance suite in `tests/conformance.rs` runs every behaviour on both.

mod by_contact;
mod changes;
mod consumers;
mod direct;
mod error;
mod packs;
mod postgres;
mod privacy;
mod responses_brief;
mod rows;
mod sql_store;
mod sqlite;
mod stage_steps;
pub mod testing;

pub use changes::{ChangesPage, FeedInfo};
pub use consumers::{Advance, ConsumerLeases, ConsumerState, ConsumerWrites};

use async_trait::async_trait;
use leadgate_core::dedupe::Candidate;
use leadgate_core::definition::Definition;
use leadgate_core::expr::facts::EventFact;
use leadgate_core::lifecycle::StageStep;
use leadgate_core::likelihood::TrainedModel;
use leadgate_core::merge::{Merge, Moved};
use leadgate_core::model::{
    Account, ApiKey, Contact, ContactChange, ContactFilter, ExternalId, Form, HistoryKeys, ImportJob, InboxItem,
    InboxStatus, Response, StoredEvent, Totals,
};
use leadgate_core::model::{Activation, Qualification};
use leadgate_core::scoring::{ContactScores, ModelVersion};
use leadgate_core::{NewEvent, Stage, StageChange, Timestamp};
use std::sync::Arc;
use uuid::Uuid;

pub use by_contact::ByContact;
pub use direct::reading_in_place;
pub use error::StoreError;
pub use postgres::PgStore;
pub use privacy::{Erased, PersonalRecords, PrivacyReads, PrivacyWrites, Retained};
pub use sqlite::{SqliteOptions, SqliteStore};

/// Contacts few enough to be a request's own: SQLite reads them on the calling thread.
pub const FEW_CONTACTS: usize = 16;

/// The contacts a bulk read is for.
#[derive(Debug, Clone, Copy)]
pub enum Contacts<'a> {
    /// These contacts.
    Ids(&'a [Uuid]),
    /// These contacts, in id order, and every live contact whose id lies between the
    /// first and the last: a batch of [`Store::live_contact_ids`]. Read as one range of
    /// ids (one search of each index instead of one per contact); rows of other
    /// contacts within the range (merged ones) are left out.
    Run(&'a [Uuid]),
}

impl Contacts<'_> {
    /// The contacts' ids.
    pub fn ids(&self) -> &[Uuid] {
        match self {
            Contacts::Ids(ids) | Contacts::Run(ids) => ids,
        }
    }

    /// A request's own few contacts (at most [`FEW_CONTACTS`]), rather than a batch.
    pub fn is_few(&self) -> bool {
        matches!(self, Contacts::Ids(ids) if ids.len() <= FEW_CONTACTS)
    }

    /// Whether rows of contact `id` belong to the read.
    pub fn holds(&self, id: &Uuid) -> bool {
        match self {
            Contacts::Ids(_) => true,
            Contacts::Run(ids) => search_by_id(ids, id, |i| i).is_ok(),
        }
    }
}

/// [`Contacts`] with ids of their own, for what is done with a read's rows on the
/// thread that read them.
#[derive(Debug, Clone)]
pub(crate) struct OwnedContacts {
    ids: Vec<Uuid>,
    run: bool,
}

impl OwnedContacts {
    pub(crate) fn contacts(&self) -> Contacts<'_> {
        match self.run {
            true => Contacts::Run(&self.ids),
            false => Contacts::Ids(&self.ids),
        }
    }
}

impl Contacts<'_> {
    /// The same contacts, with their ids copied.
    pub(crate) fn owned(&self) -> OwnedContacts {
        OwnedContacts { ids: self.ids().to_vec(), run: matches!(self, Contacts::Run(_)) }
    }
}

/// Where `id` is, or would be, among `sorted` (in the order of the ids `id_of` gives):
/// ids compared as the integers their bytes spell (the same order) rather than by a
/// comparison of memory at every step, for this is asked of every row of a batch.
pub(crate) fn search_by_id<T>(sorted: &[T], id: &Uuid, id_of: impl Fn(&T) -> &Uuid) -> Result<usize, usize> {
    sorted.binary_search_by_key(&id.as_u128(), |t| id_of(t).as_u128())
}

/// A contact with what assessing it reads beside its history.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactSnapshot {
    pub contact: Contact,
    pub account: Option<Account>,
    pub qualification: Qualification,
    /// Its last scores, once assessed.
    pub stored: Option<StoredScores>,
    /// Where it went, oldest first, when read ([`SnapshotParts::stage_steps`]).
    pub stage_steps: Vec<StageStep>,
    /// Its responses, oldest first, when read ([`SnapshotParts::responses`]).
    pub responses: Vec<Response>,
}

/// What [`Store::contact_snapshots`] reads with each contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotParts {
    /// Its details that are read (see [`Details`]); the others are none.
    pub details: Details,
    /// Its qualification fields. Without them, they are empty.
    pub qualification: bool,
    /// What of its account.
    pub account: AccountPart,
    /// Its custom fields. Without them, `custom` is empty: reading and decoding them
    /// is left out when nothing reads them.
    pub custom: bool,
    /// Its stage, when it reached it, and when it was last changed. Without them, for
    /// a reader that rebuilds its stage from its history (a backtest), it is given at
    /// the first stage (`suspect`), reached and last changed when it was created.
    pub stage: bool,
    /// Where it went: its stage steps, oldest first, packed on its row (a backtest
    /// rebuilds its stage at a date from them and reads what it became after).
    pub stage_steps: bool,
    /// Its responses, with these of their details (the others none). When these are
    /// within what its row keeps of them ([`ResponseDetails::IN_BRIEF`]), they come
    /// with it from its row, with all it keeps (their channel, asked for or not); any
    /// others, from the responses table.
    pub responses: Option<ResponseDetails>,
    pub stored: StoredParts,
    /// Only the contacts created at or before this moment: a backtest's date, before
    /// which the others did not exist. Left out in the query, so that their rows are
    /// not read.
    pub created_by: Option<leadgate_core::Timestamp>,
}

impl SnapshotParts {
    /// Whether the responses read come from the contacts' rows, in brief.
    pub(crate) fn responses_in_brief(&self) -> bool {
        self.responses.is_some_and(|d| d.within(ResponseDetails::IN_BRIEF))
    }
}

/// What [`Store::contact_snapshots`] reads of each contact's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPart {
    /// The account, joined to the contact.
    Joined,
    /// Its id alone (`account` is `None`, for the caller to find): a walk over every
    /// contact reads each account once ([`Store::accounts_by_ids`]) rather than
    /// searching the accounts anew for every contact of it.
    Id,
    /// Neither: the contact's `account_id` is none too, when nothing reads accounts.
    Nothing,
}

/// A set of a record's columns, by name: those of them a read reads, the others read
/// as none.
macro_rules! column_set {
    ($(#[$doc:meta])* $name:ident: $bits:ty = [$($column:literal),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name($bits);

        impl $name {
            /// Each by its name, which is its column's and its field's in expressions.
            pub const NAMES: &'static [&'static str] = &[$($column),*];
            pub const ALL: $name = $name(<$bits>::MAX);
            pub const NONE: $name = $name(0);

            /// These and the column `name` (these alone when `name` is not one of them).
            pub fn with(self, name: &str) -> $name {
                match Self::NAMES.iter().position(|n| *n == name) {
                    Some(i) => $name(self.0 | 1 << i),
                    None => self,
                }
            }

            /// Whether the column `name` is one of these.
            pub fn has(self, name: &str) -> bool {
                Self::NAMES.iter().position(|n| *n == name).is_some_and(|i| self.0 & 1 << i != 0)
            }

            /// Whether every one of these is one of `others`.
            pub fn within(self, others: $name) -> bool {
                self.0 & !others.0 == 0
            }

            /// Whether a read of these reads the column `name`: those not in the set
            /// are always read.
            pub fn reads(self, name: &str) -> bool {
                !Self::NAMES.contains(&name) || self.has(name)
            }
        }
    };
}

column_set! {
    /// A contact's details: its columns that only expressions read (texts, and its
    /// wishes not to be emailed or called). A read of many contacts ([`Store::contact_snapshots`])
    /// leaves those no expression reads as none (the wishes as not made), so that they
    /// are neither copied out of the database nor checked and kept.
    Details: u16 = [
        "first_name", "last_name", "company", "title", "phone", "country", "owner", "channel", "do_not_email",
        "do_not_call",
    ]
}

column_set! {
    /// A response's columns that a read of many contacts' responses
    /// ([`Store::responses_of`]) may leave out (as none, `obtained_via` as empty text and
    /// `fields` as no fields): its where, what and why, which only expressions read, and
    /// what no assessment reads (its form, message, junk verdict and inbox item). Its id,
    /// contact, time, direction and action are always read.
    ResponseDetails: u16 = [
        "channel", "campaign", "placement", "referrer", "vendor", "obtained_via", "offer", "fields",
        "form_id", "message", "junk", "inbox_id", "contact_fields",
    ]
}

impl ResponseDetails {
    /// What a contact's row keeps of each of its responses besides its id, time,
    /// direction and action (`crate::responses_brief`): its channel, the first of
    /// [`Self::NAMES`].
    pub const IN_BRIEF: ResponseDetails = ResponseDetails(1);
}

/// Which of a contact's stored scores [`Store::contact_snapshots`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredParts {
    None,
    Scores,
    /// The scores and the whole assessment they came from.
    WithAssessment,
}

/// A contact's scores as last written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScores {
    pub fit: i64,
    pub funnel_position: String,
    pub pain: String,
    pub likelihood: Option<f64>,
    /// The whole assessment, which the engagement score at a later moment is computed
    /// from, when asked for: reading it costs more than the rest of the contact.
    pub assessment: Option<leadgate_core::scoring::Assessment>,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything written together by a bulk load (demo data, one chunk of an import).
#[derive(Debug, Default, Clone)]
pub struct Bulk {
    pub accounts: Vec<Account>,
    pub contacts: Vec<Contact>,
    /// Existing contacts to rewrite whole.
    pub updated_contacts: Vec<Contact>,
    pub external_ids: Vec<ExternalId>,
    pub contact_changes: Vec<ContactChange>,
    pub responses: Vec<Response>,
    pub stage_changes: Vec<StageChange>,
    /// Events whose contact is known (`contact_id` set).
    pub events: Vec<NewEvent>,
    /// The fingerprint of the imported row last applied to each contact (written with
    /// a new contact, or on its own).
    pub fingerprints: std::collections::HashMap<Uuid, i64>,
    pub consents: Vec<leadgate_core::consent::ConsentRecord>,
}

/// Where an identity (an email, an id, an external id) leads: the contact, after any
/// merge, and the fingerprint of the imported row last applied to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub contact_id: Uuid,
    pub fingerprint: Option<i64>,
}

impl Bulk {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.contacts.is_empty()
            && self.updated_contacts.is_empty()
            && self.external_ids.is_empty()
            && self.contact_changes.is_empty()
            && self.responses.is_empty()
            && self.stage_changes.is_empty()
            && self.events.is_empty()
            && self.fingerprints.is_empty()
            && self.consents.is_empty()
    }
}

/// The database, as the use cases see it.
///
/// Reads that need no consistency with a write run directly here; writes that must
/// happen together run in a [`Tx`] from [`Store::begin`].
#[async_trait]
pub trait Store: PrivacyReads + ConsumerLeases + Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> Result<()>;
    /// Waits for open connections to finish and closes them (at shutdown).
    async fn close(&self);
    async fn begin(&self) -> Result<Box<dyn Tx>>;

    async fn form_by_key(&self, key: &str) -> Result<Option<Form>>;
    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKey>>;
    async fn api_keys(&self) -> Result<Vec<ApiKey>>;

    async fn contact(&self, id: Uuid) -> Result<Option<Contact>>;
    async fn account(&self, id: Uuid) -> Result<Option<Account>>;
    /// Contacts matching `filter`, newest first, after the contact `after` (keyset).
    async fn contacts(&self, filter: &ContactFilter, after: Option<Uuid>, limit: i64) -> Result<Vec<Contact>>;
    /// The stage history of a contact, oldest first.
    async fn stage_history(&self, contact_id: Uuid) -> Result<Vec<StageChange>>;
    /// What changed on the contact (besides its stage), oldest first.
    async fn contact_changes(&self, contact_id: Uuid) -> Result<Vec<ContactChange>>;
    /// The responses of a contact, newest first.
    async fn responses(&self, contact_id: Uuid) -> Result<Vec<Response>>;
    /// The most recent events of a contact, newest first.
    async fn recent_events(&self, contact_id: Uuid, limit: i64) -> Result<Vec<StoredEvent>>;
    /// Which of `ids` are contacts, each with the contact it now is (itself, or the
    /// contact it was merged into).
    async fn existing_contacts(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>>;
    async fn totals(&self) -> Result<Totals>;
    /// How many contacts are live (not merged): `totals().contacts`, counted from the
    /// index of live contacts alone, for a walk's progress.
    async fn live_contact_count(&self) -> Result<i64>;
    /// After a bulk load (demo data, an import): lets the database's planner see how
    /// much there is now. PostgreSQL plans from statistics that its autovacuum updates
    /// in the background, which may be off or not yet run: a page of an export then
    /// read and sorted every contact. SQLite plans without them.
    async fn refresh_statistics(&self) -> Result<()>;

    /// Appends events in one transaction, attaching each to the contact its
    /// `contact_id`, `email` or `visitor_id` names when that contact is known.
    /// Stores events; returns the contacts that got events (those already known).
    async fn append_events(&self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Uuid>>;

    async fn inbox_item(&self, id: Uuid) -> Result<Option<InboxItem>>;
    /// Inbox items, oldest first, after the item `after`, optionally only those with
    /// `status`; each with only the first `preview` bytes of its body
    /// ([`InboxItem::body_bytes`] says how long it is).
    async fn inbox(
        &self,
        status: Option<InboxStatus>,
        after: Option<Uuid>,
        limit: i64,
        preview: i64,
    ) -> Result<Vec<InboxItem>>;

    /// Writes a batch of prepared records in one transaction.
    async fn bulk_load(&self, bulk: &Bulk) -> Result<()>;

    /// Records an import job, new or advanced.
    async fn save_import(&self, job: &ImportJob) -> Result<()>;
    async fn import_job(&self, id: Uuid) -> Result<Option<ImportJob>>;
    /// Import jobs, newest first.
    async fn imports(&self, limit: i64) -> Result<Vec<ImportJob>>;

    /// Every contact not merged into another, as the duplicate search needs it.
    async fn duplicate_candidates(&self) -> Result<Vec<Candidate>>;
    async fn merge(&self, id: Uuid) -> Result<Option<Merge>>;

    /// For exports, in pages, oldest first: contacts not merged into another, after
    /// the contact `after`.
    async fn contacts_page(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<Contact>>;
    /// Responses after the response `after`.
    async fn responses_page(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<Response>>;
    /// Stage changes with their row ids, after the row `after`.
    async fn stage_changes_page(&self, after: i64, limit: i64) -> Result<Vec<(i64, StageChange)>>;
    /// The emails of those of `contacts` that have one.
    async fn contact_emails(&self, contacts: &[Uuid]) -> Result<Vec<(Uuid, String)>>;
    /// Accounts by id.
    async fn accounts_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Account>>;
    /// The first stage each of `contacts` was given: how it arrived.
    async fn arrivals(&self, contacts: &[Uuid]) -> Result<Vec<(Uuid, Stage)>>;
    /// Events of known contacts, after the event `after`.
    async fn events_page(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>>;

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
    async fn scores(&self, contacts: &[Uuid]) -> Result<Vec<ContactScores>>;

    // Scoring models and lead definitions.
    /// A version of a model (`None`: its latest).
    async fn scoring_model(&self, name: &str, version: Option<i64>) -> Result<Option<ModelVersion>>;
    /// The latest version of every model.
    async fn scoring_models(&self) -> Result<Vec<ModelVersion>>;
    /// A version of a definition (`None`: its latest).
    async fn definition(&self, name: &str, version: Option<i64>) -> Result<Option<Definition>>;
    /// Every version of a definition, oldest first.
    async fn definition_versions(&self, name: &str) -> Result<Vec<Definition>>;
    /// The latest version of every definition.
    async fn definitions(&self) -> Result<Vec<Definition>>;
    /// What is active of a kind (`scoring`, `definition`).
    async fn activations(&self, kind: &str) -> Result<Vec<Activation>>;
    /// A trained likelihood model (`None`: the latest, the one in force) with its
    /// predictor as JSON.
    async fn likelihood_model(&self, version: Option<i64>) -> Result<Option<(TrainedModel, String)>>;
    /// The version of the latest trained likelihood model, without reading it.
    async fn latest_likelihood_version(&self) -> Result<Option<i64>>;

    /// Entries of the change feed after `after` whose kinds meet `kinds`, at most
    /// `limit`, in order; only entries no later commit can precede.
    async fn changes(
        &self,
        after: leadgate_core::changes::Position,
        limit: i64,
        kinds: leadgate_core::changes::Kinds,
    ) -> Result<ChangesPage>;
    /// The position of the last entry readers can read now (the start when none).
    async fn last_change_position(&self) -> Result<leadgate_core::changes::Position>;
    /// The position of the last entry committed, which readers may not read yet (on
    /// PostgreSQL, until every transaction older than it has ended).
    async fn last_change_written(&self) -> Result<leadgate_core::changes::Position>;
    /// This database's feed and how far it was pruned.
    async fn feed_info(&self) -> Result<FeedInfo>;
    /// Deletes the feed's entries written before `before` (never the history itself);
    /// returns how many.
    async fn prune_changes(&self, before: Timestamp) -> Result<u64>;
}

/// One write transaction. Dropped without [`Tx::commit`], it rolls back.
#[async_trait]
pub trait Tx: PrivacyWrites + ConsumerWrites + Send {
    async fn contact_by_email(&mut self, email: &str) -> Result<Option<Contact>>;
    async fn contact_by_id(&mut self, id: Uuid) -> Result<Option<Contact>>;
    async fn account_by_domain(&mut self, domain: &str) -> Result<Option<Account>>;
    async fn insert_account(&mut self, account: &Account) -> Result<()>;
    async fn insert_contact(&mut self, contact: &Contact) -> Result<()>;
    async fn update_contact(&mut self, contact: &Contact) -> Result<()>;
    async fn insert_response(&mut self, response: &Response) -> Result<()>;
    async fn insert_stage_change(&mut self, change: &StageChange) -> Result<()>;
    /// Writes everything in `bulk` (new rows, and contacts to rewrite).
    async fn insert_bulk(&mut self, bulk: &Bulk) -> Result<()>;
    /// Where `emails` lead (a merged contact's email leads to the contact it was merged
    /// into), by email.
    async fn find_by_emails(&mut self, emails: &[&str]) -> Result<Vec<(String, Found)>>;
    /// Where contact `ids` lead (a merged contact's id leads to the contact it was merged
    /// into), by id.
    async fn find_by_ids(&mut self, ids: &[Uuid]) -> Result<Vec<(Uuid, Found)>>;
    /// Where the ids `system` knows contacts by lead, by those ids.
    async fn find_by_external_ids(&mut self, system: &str, ids: &[&str]) -> Result<Vec<(String, Found)>>;
    /// The contacts with these ids.
    async fn contacts_by_ids(&mut self, ids: &[Uuid]) -> Result<Vec<Contact>>;
    async fn accounts_by_domains(&mut self, domains: &[&str]) -> Result<Vec<Account>>;
    /// The keys of the history of `contacts` (events only when `events`).
    async fn history_keys(&mut self, contacts: &[Uuid], events: bool) -> Result<HistoryKeys>;
    /// Appends events as [`Store::append_events`] does, inside this transaction;
    /// returns the contact each event was attached to, in the order of `events`.
    async fn append_events(&mut self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Option<Uuid>>>;
    /// Records that `visitor_id` is `contact_id` and attaches the visitor's waiting
    /// events to the contact; returns how many were attached.
    async fn identify_visitor(&mut self, visitor_id: &str, contact_id: Uuid, at: Timestamp) -> Result<u64>;
    /// Attaches events that were sent for `email` before it was a contact.
    async fn attach_events_by_email(&mut self, email: &str, contact_id: Uuid) -> Result<u64>;

    /// Records a change to a contact; returns its row id.
    async fn insert_contact_change(&mut self, change: &ContactChange) -> Result<i64>;
    async fn delete_contact_change(&mut self, id: i64) -> Result<()>;
    /// Hides a contact merged into `into`, or shows it again (`None`).
    async fn set_merged_into(&mut self, id: Uuid, into: Option<Uuid>) -> Result<()>;
    /// Moves everything recorded of contact `from` (responses, stage changes, events,
    /// changes, external ids, visitors, contacts merged into it) to contact `to`, and
    /// says what moved.
    async fn move_history(&mut self, from: Uuid, to: Uuid) -> Result<Moved>;
    /// Moves the records listed in `moved` to contact `to`.
    async fn move_back(&mut self, moved: &Moved, to: Uuid) -> Result<()>;
    async fn insert_merge(&mut self, merge: &Merge) -> Result<()>;
    /// The merge, locked until the transaction ends.
    async fn merge_for_update(&mut self, id: Uuid) -> Result<Option<Merge>>;
    async fn mark_merge_undone(&mut self, id: Uuid, at: Timestamp, by: &str) -> Result<()>;

    async fn insert_form(&mut self, form: &Form) -> Result<()>;
    async fn insert_api_key(&mut self, key: &ApiKey) -> Result<()>;
    /// Marks a key revoked; `false` if there is no such key or it was already revoked.
    async fn revoke_api_key(&mut self, id: Uuid, at: Timestamp) -> Result<bool>;
    async fn insert_inbox(&mut self, item: &InboxItem) -> Result<()>;
    /// Records the outcome of processing an inbox item; fails with
    /// [`StoreError::Conflict`] if it is missing or was already processed.
    async fn settle_inbox(
        &mut self,
        id: Uuid,
        status: InboxStatus,
        error: Option<&str>,
        outcome: Option<(Uuid, Uuid)>,
        at: Timestamp,
    ) -> Result<()>;

    async fn set_qualification(&mut self, contact_id: Uuid, q: &Qualification) -> Result<()>;
    /// Writes each contact's scores: its assessment and its likelihood (none without a
    /// trained model).
    async fn save_scores(&mut self, scores: &[ContactScores]) -> Result<()>;
    /// Keeps a trained likelihood model under the next version, which it returns.
    async fn insert_likelihood_model(&mut self, model: &TrainedModel, predictor: &str) -> Result<i64>;
    /// The next version number of a model: one more than its highest. Two transactions
    /// that take the same number cannot both save it (name and version are the key):
    /// the second fails.
    async fn next_model_version(&mut self, name: &str) -> Result<i64>;
    async fn insert_scoring_model(&mut self, model: &ModelVersion) -> Result<()>;
    async fn next_definition_version(&mut self, name: &str) -> Result<i64>;
    async fn insert_definition(&mut self, definition: &Definition) -> Result<()>;
    /// Makes `activation` the active one of its kind and name, or, with no version,
    /// deactivates it; either way the change is logged.
    async fn activate(&mut self, activation: &Activation) -> Result<()>;
    async fn deactivate(&mut self, kind: &str, name: &str, at: Timestamp, actor: &str) -> Result<bool>;
    /// Moves a contact to the stage a change leads to, if it is still at the stage the
    /// change starts from; records the change. Returns whether it moved.
    async fn move_stage(&mut self, change: &StageChange) -> Result<bool>;

    /// Writes the change feed's entries of everything this transaction changed, then
    /// commits; gives the position of its last entry (none when it changed no contact),
    /// for a caller that waits for the feed's consumers to handle it.
    async fn commit(self: Box<Self>) -> Result<Option<leadgate_core::changes::Position>>;
    /// Records a change the store cannot tell from the writes themselves (the feed
    /// entry of `contact` in this transaction will hold `kind`).
    fn note_change(&mut self, contact: Uuid, kind: leadgate_core::changes::ChangeKind);
    /// Ends the transaction without writing, releasing its locks now rather than when
    /// the connection is next used.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Opens the store named by `url`: `postgres://…` or `sqlite://PATH` / a file path.
pub async fn open(url: &str, sqlite: SqliteOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://").or((!url.contains("://")).then_some(url)) {
        Ok(Arc::new(SqliteStore::open(std::path::Path::new(path), sqlite).await?))
    } else {
        let scheme = url.split("://").next().unwrap_or_default();
        Err(StoreError::InvalidUrl(format!(
            "unsupported database URL scheme {scheme:?}: use postgres://… (or sqlite://PATH, or leave it unset for the embedded database)"
        )))
    }
}

/// Applies `migrator`'s migrations that the database `conn` is connected to has not
/// had, saying which and how long they took: some rewrite every contact (0014 and 0015
/// took 10 s on 1,000,000 contacts), and a server that starts silently for minutes on a
/// large database looks stuck. `conn` is one of its own, without statement logging:
/// sqlx would warn of every slow statement with its whole text, as a migration's are.
pub(crate) async fn migrate<DB>(migrator: &sqlx::migrate::Migrator, conn: &mut DB::Connection) -> Result<()>
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: sqlx::Acquire<'c, Database = DB>,
{
    use sqlx::migrate::Migrate;
    // A new database has no table of applied migrations yet (and the run below, which
    // holds the migration lock, makes it): then none were applied.
    let applied: std::collections::HashSet<i64> = match conn.list_applied_migrations().await {
        Ok(applied) => applied.into_iter().map(|m| m.version).collect(),
        Err(_) => Default::default(),
    };
    let pending: Vec<String> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| format!("{:04} {}", m.version, m.description))
        .collect();
    // A new database is made, not migrated: nothing to say about it.
    let upgrading = !applied.is_empty() && !pending.is_empty();
    if upgrading {
        tracing::info!(migrations = %pending.join(", "), "migrating the database; on a large one this takes a while");
    }
    let started = std::time::Instant::now();
    migrator.run(&mut *conn).await?;
    if upgrading {
        tracing::info!(seconds = started.elapsed().as_secs_f64(), "database migrated");
    }
    Ok(())
}
