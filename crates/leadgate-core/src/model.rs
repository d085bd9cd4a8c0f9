//! The records leadgate keeps. Plain data: the store persists them, the use cases
//! build them, the API shows them.

use crate::import::RowError;
use crate::{Direction, Role, Stage, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub domain: String,
    pub name: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    /// Normalised; `None` only for contacts imported without an address.
    pub email: Option<String>,
    /// Like the other personal fields: as first given, or as an import or a caller with a
    /// key last set them (a public inquiry fills only blanks).
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    /// The account of the email domain; `null` for free-mail addresses and for contacts
    /// known only from junk.
    pub account_id: Option<Uuid>,
    /// The direction of the contact's first response: how we came to know them.
    pub direction: Direction,
    /// The channel of the contact's first response.
    pub channel: Option<String>,
    /// The current lifecycle stage.
    pub stage: Stage,
    /// When the contact entered its current stage.
    pub stage_at: Timestamp,
    /// The person responsible for the contact (a name or id from the source system).
    pub owner: Option<String>,
    /// The contact asked not to be emailed / called; never lifted by an import or a merge.
    pub do_not_email: bool,
    pub do_not_call: bool,
    /// Custom fields, merged from all responses.
    pub custom: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when this contact was merged into another: it is then hidden, and its email
    /// leads to that contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<Uuid>,
}

impl Contact {
    /// A contact known only by how it arrived: every other field empty, created,
    /// staged and updated `at`.
    pub fn new(
        id: Uuid,
        email: Option<String>,
        direction: Direction,
        channel: Option<String>,
        stage: Stage,
        at: Timestamp,
    ) -> Self {
        Contact {
            id,
            email,
            first_name: None,
            last_name: None,
            company: None,
            title: None,
            phone: None,
            country: None,
            account_id: None,
            direction,
            channel,
            stage,
            stage_at: at,
            owner: None,
            do_not_email: false,
            do_not_call: false,
            custom: Map::new(),
            created_at: at,
            updated_at: at,
            merged_into: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Response {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub at: Timestamp,
    pub direction: Direction,
    // where
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub placement: Option<String>,
    pub referrer: Option<String>,
    pub vendor: Option<String>,
    // what
    pub action: String,
    pub obtained_via: String,
    // why
    pub offer: Option<String>,
    pub form_id: Option<Uuid>,
    pub message: Option<String>,
    /// The custom fields sent with this response.
    pub fields: Map<String, Value>,
    /// What this response said of the contact's own fields (`first_name`, `company`,
    /// …, `do_not_email`, `consent.<purpose>`), as sent, whether or not it changed them.
    pub contact_fields: Map<String, Value>,
    /// Why it was judged junk, when it was.
    pub junk: Option<String>,
    pub inbox_id: Option<Uuid>,
}

/// An activity event as stored; `contact_id` is `None` until its visitor or email
/// becomes a known contact.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    pub id: i64,
    pub contact_id: Option<Uuid>,
    pub email: Option<String>,
    pub visitor_id: Option<String>,
    pub kind: String,
    pub at: Timestamp,
    pub url: Option<String>,
    pub props: Value,
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Form {
    pub id: Uuid,
    /// The public key a web page posts with; not a secret.
    pub key: String,
    pub name: String,
    pub channel: Option<String>,
    pub offer: Option<String>,
    pub campaign: Option<String>,
    /// Origins allowed to post from a browser; empty means any.
    pub allowed_origins: Vec<String>,
    /// Where a browser that posted the form is sent afterwards (`303 See Other`).
    pub thank_you_url: Option<String>,
    pub created_at: Timestamp,
}

impl Form {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub key_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The user whose key it is (their id and email): their actions are theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<KeyUser>,
}

/// The user an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyUser {
    pub id: Uuid,
    pub email: String,
}

/// Where an inquiry stands in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Stored, not yet processed (or the server stopped while processing).
    Pending,
    /// Became a response.
    Processed,
    /// Refused because the input was invalid; kept for inspection.
    Rejected,
    /// Processing failed for a reason on our side; can be replayed.
    Failed,
}

impl InboxStatus {
    pub const ALL: [InboxStatus; 4] =
        [InboxStatus::Pending, InboxStatus::Processed, InboxStatus::Rejected, InboxStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Pending => "pending",
            InboxStatus::Processed => "processed",
            InboxStatus::Rejected => "rejected",
            InboxStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The raw body of an inquiry, kept exactly as received before anything else happens.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    pub id: Uuid,
    pub received_at: Timestamp,
    pub form_key: Option<String>,
    pub content_type: Option<String>,
    pub query: Option<String>,
    /// The raw body (in a list of items, only its first bytes).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// How long the whole body is, in bytes.
    pub body_bytes: i64,
    /// When the body was removed (retention, or the person's erasure).
    pub body_removed_at: Option<Timestamp>,
    pub remote_ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: InboxStatus,
    pub error: Option<String>,
    pub contact_id: Option<Uuid>,
    pub response_id: Option<Uuid>,
    pub processed_at: Option<Timestamp>,
    pub attempts: i64,
}

impl InboxItem {
    /// A body just received, not yet processed; the caller adds what it knows about the
    /// sender.
    pub fn received(id: Uuid, received_at: Timestamp, body: Vec<u8>) -> Self {
        Self {
            id,
            received_at,
            form_key: None,
            content_type: None,
            query: None,
            body_bytes: body.len() as i64,
            body,
            body_removed_at: None,
            remote_ip: None,
            user_agent: None,
            status: InboxStatus::Pending,
            error: None,
            contact_id: None,
            response_id: None,
            processed_at: None,
            attempts: 0,
        }
    }
}

/// Filters for listing contacts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    pub email: Option<String>,
    /// An id the contact has in another system (in `system`, or in any).
    pub external_id: Option<String>,
    pub system: Option<String>,
    pub stage: Option<Stage>,
    pub direction: Option<Direction>,
    pub channel: Option<String>,
}

/// A contact as another system knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExternalId {
    pub system: String,
    pub external_id: String,
    pub contact_id: Uuid,
}

/// What changed on a contact outside its stage (which has its own history).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContactChange {
    pub contact_id: Uuid,
    pub at: Timestamp,
    /// Why: `import <id>`, `inquiry <response id>`, `merge <id>`, `qualification`,
    /// `do not contact: <reason>`.
    pub cause: String,
    pub actor: String,
    /// `{"field": {"from": …, "to": …}}`.
    pub changes: Map<String, Value>,
}

/// What an import needs to know of existing contacts' history to add nothing twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryKeys {
    /// `(contact, at, action, channel)`.
    pub responses: Vec<(Uuid, Timestamp, String, Option<String>)>,
    /// `(contact, to, at)`.
    pub stages: Vec<(Uuid, Stage, Timestamp)>,
    /// `(contact, kind, at, url)`.
    pub events: Vec<(Uuid, String, Timestamp, Option<String>)>,
}

/// Totals shown on the start page and exported as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub contacts: i64,
    pub accounts: i64,
    pub responses: i64,
    pub events: i64,
}

/// Where an import job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Finished,
    /// Stopped by an error that concerns the whole file or the database, not a row.
    Failed,
    /// Still marked running, but not advanced for a long time: the server that ran it
    /// stopped. Running the import again is safe (re-importing adds nothing twice).
    Interrupted,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Finished => "finished",
            ImportStatus::Failed => "failed",
            ImportStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Finished, Self::Failed, Self::Interrupted].into_iter().find(|x| x.as_str() == s)
    }
}

/// What an import did, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ImportCounts {
    pub rows: u64,
    pub rows_failed: u64,
    pub contacts_created: u64,
    pub contacts_updated: u64,
    pub contacts_unchanged: u64,
    pub accounts_created: u64,
    pub responses_created: u64,
    pub stage_changes_created: u64,
    pub events_created: u64,
}

/// An import of one file: what was asked, how far it got, what went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: Uuid,
    pub status: ImportStatus,
    /// Nothing was written: the counts say what the import would have done.
    pub dry_run: bool,
    pub file_name: Option<String>,
    /// `preset NAME`, or the mapping's TOML text.
    pub mapping: String,
    pub actor: String,
    pub created_at: Timestamp,
    /// When the counts last moved.
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    #[serde(flatten)]
    pub counts: ImportCounts,
    /// The first row errors (the store keeps up to a thousand).
    pub errors: Vec<RowError>,
    pub error_count: u64,
    /// Why a failed import stopped.
    pub failure: Option<String>,
}

/// What a qualifier or a seller recorded about a contact's buying situation (BANT:
/// budget, authority, need, timeline), each as they wrote it; `None` is not yet known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    pub budget: Option<String>,
    pub authority: Option<String>,
    pub need: Option<String>,
    pub timeline: Option<String>,
}

/// What is active: the scoring model (`kind` `scoring`), or a lead definition's version
/// (`kind` `definition`, `name` the definition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Activation {
    pub kind: String,
    pub name: String,
    /// What was activated: the model's or the definition's name.
    pub target: String,
    pub version: i64,
    pub at: Timestamp,
    pub actor: String,
}
