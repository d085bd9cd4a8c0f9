//! Storage for leadgate: the ports ([`Store`], [`Tx`]) and their two adapters,
//! SQLite (embedded, the default) and PostgreSQL.
//!
//! Both adapters run the same SQL text (see `adapter/`): the statements use
//! numbered placeholders (`$1`), which both drivers accept, and portable types
//! (instants as microseconds in a 64-bit integer, UUIDs, JSON). Only the schema
//! (`migrations/sqlite`, `migrations/postgres`) and connection set-up differ.
//! The conformance suite in `tests/conformance.rs` runs every behaviour on both.

mod by_contact;
mod changes;
mod consumers;
mod direct;
mod error;
pub mod handoff;
mod packs;
pub mod ports;
mod postgres;
mod privacy;
mod responses_brief;
mod rows;
mod sql;
mod sqlite;
mod stage_steps;
pub mod testing;

pub use changes::{ChangesPage, FeedInfo};
pub use consumers::{Advance, ConsumerState};
pub use ports::*;

use async_trait::async_trait;
use leadgate_core::lifecycle::StageStep;
use leadgate_core::model::Qualification;
use leadgate_core::model::{Account, Contact, ContactChange, ExternalId, Response};
use leadgate_core::{NewEvent, StageChange};
use std::sync::Arc;
use uuid::Uuid;

pub use by_contact::ByContact;
pub use direct::reading_in_place;
pub use error::StoreError;
pub use postgres::PgStore;
pub use privacy::{AuditFilter, Erased, PersonalRecords, Retained};
pub use sqlite::{SqliteOptions, SqliteStore};

/// Contacts few enough to be a request's own: SQLite reads them on the calling thread.
pub const FEW_CONTACTS: usize = 16;

/// The contacts a bulk read is for.
#[derive(Debug, Clone, Copy)]
pub enum Contacts<'a> {
    /// These contacts.
    Ids(&'a [Uuid]),
    /// These contacts, in id order, and every live contact whose id lies between the
    /// first and the last: a batch of [`crate::HistoryReads::live_contact_ids`]. Read as one range of
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

/// What [`crate::HistoryReads::contact_snapshots`] reads with each contact.
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

/// What [`crate::HistoryReads::contact_snapshots`] reads of each contact's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPart {
    /// The account, joined to the contact.
    Joined,
    /// Its id alone (`account` is `None`, for the caller to find): a walk over every
    /// contact reads each account once ([`crate::ExportReads::accounts_by_ids`]) rather than
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
    /// wishes not to be emailed or called). A read of many contacts ([`crate::HistoryReads::contact_snapshots`])
    /// leaves those no expression reads as none (the wishes as not made), so that they
    /// are neither copied out of the database nor checked and kept.
    Details: u16 = [
        "first_name", "last_name", "company", "title", "phone", "country", "owner", "channel", "do_not_email",
        "do_not_call",
    ]
}

column_set! {
    /// A response's columns that a read of many contacts' responses
    /// ([`crate::HistoryReads::responses_of`]) may leave out (as none, `obtained_via` as empty text and
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

/// Which of a contact's stored scores [`crate::HistoryReads::contact_snapshots`] reads.
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
pub trait Store:
    ContactReads
    + EventAppends
    + ImportJobs
    + InboxReads
    + MergeReads
    + HistoryReads
    + ModelReads
    + AccessReads
    + ExportReads
    + ChangeFeed
    + PrivacyReads
    + ConsumerLeases
    + SpendReads
    + HandoffReads
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    async fn ping(&self) -> Result<()>;

    /// Waits for open connections to finish and closes them (at shutdown).
    async fn close(&self);

    async fn begin(&self) -> Result<Box<dyn Tx>>;
}

/// One write transaction. Dropped without [`Tx::commit`], it rolls back.
#[async_trait]
pub trait Tx:
    ContactWrites
    + EventWrites
    + ImportWrites
    + InboxWrites
    + MergeWrites
    + ScoreWrites
    + ModelWrites
    + AccessWrites
    + PrivacyWrites
    + ConsumerWrites
    + SpendWrites
    + HandoffWrites
    + Send
{
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
