//! Personal data in the store: consent, legal holds and erasure, the audit log,
//! retention, and everything held about a person (subject access): the records the
//! ports in `crate::ports::privacy` read and write, implemented for both databases in
//! `adapter/privacy.rs`. What is personal is decided by the core
//! (`leadgate_core::erasure`); this applies it.

use leadgate_core::Timestamp;
use leadgate_core::consent::ConsentRecord;
use leadgate_core::erasure::{AuditEntry, ContactPrivacy, Erasure, Hold};
use leadgate_core::merge::Merge;
use leadgate_core::model::{ExternalId, InboxItem, StoredEvent};
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

/// What is held of a person beside their contact, responses and history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PersonalRecords {
    /// Every event, oldest first.
    pub events: Vec<StoredEvent>,
    /// Their inquiries as received, raw bodies included (as text).
    #[serde(serialize_with = "with_bodies")]
    pub inbox: Vec<InboxItem>,
    pub external_ids: Vec<ExternalId>,
    pub visitor_ids: Vec<String>,
    /// Merges of their records, with both records as they were before.
    #[serde(serialize_with = "with_before")]
    pub merges: Vec<Merge>,
}

/// Inbox items with their bodies, which their own serialization leaves out.
fn with_bodies<S: serde::Serializer>(items: &[InboxItem], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::{Error, SerializeSeq};
    let mut seq = s.serialize_seq(Some(items.len()))?;
    for item in items {
        let mut value = serde_json::to_value(item).map_err(S::Error::custom)?;
        value["body"] = serde_json::Value::String(String::from_utf8_lossy(&item.body).into_owned());
        seq.serialize_element(&value)?;
    }
    seq.end()
}

/// Merges with both records as they were before, which their own serialization leaves
/// out.
fn with_before<S: serde::Serializer>(merges: &[Merge], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::{Error, SerializeSeq};
    let mut seq = s.serialize_seq(Some(merges.len()))?;
    for merge in merges {
        let mut value = serde_json::to_value(merge).map_err(S::Error::custom)?;
        value["before"] = serde_json::to_value(&merge.before).map_err(S::Error::custom)?;
        seq.serialize_element(&value)?;
    }
    seq.end()
}

/// Which audit entries to read: about a contact, by an actor (`user:ann@…`), in a
/// period `[from, to)`; each left out reads all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub contact: Option<uuid::Uuid>,
    pub actor: Option<String>,
    pub from: Option<leadgate_core::Timestamp>,
    pub to: Option<leadgate_core::Timestamp>,
}

impl AuditFilter {
    pub fn contact(id: uuid::Uuid) -> Self {
        Self { contact: Some(id), ..Self::default() }
    }
}

/// What an erasure removed, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub contacts: u64,
    pub responses: u64,
    pub events: u64,
    pub inbox_items: u64,
    pub field_changes: u64,
    pub external_ids: u64,
    pub visitor_ids: u64,
    pub merges: u64,
}

/// What of an inbox item is kept for a while only (see `retention` in the settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retained {
    /// The raw body.
    Bodies,
    /// The client's IP address.
    Addresses,
    /// The client's user agent.
    Browsers,
}

impl Retained {
    pub const ALL: [Retained; 3] = [Retained::Bodies, Retained::Addresses, Retained::Browsers];

    pub fn as_str(self) -> &'static str {
        match self {
            Retained::Bodies => "inbox_bodies",
            Retained::Addresses => "ip_addresses",
            Retained::Browsers => "user_agents",
        }
    }

    /// The statement's `SET` and the test of an item still holding it.
    pub(crate) fn set_and_held(self) -> (&'static str, &'static str) {
        match self {
            Retained::Bodies => ("body = $3, body_removed_at = $4", "body_removed_at IS NULL"),
            Retained::Addresses => ("remote_ip = NULL", "remote_ip IS NOT NULL"),
            Retained::Browsers => ("user_agent = NULL", "user_agent IS NOT NULL"),
        }
    }
}

/// Inbox items a sweep settles in one transaction, so that the writer is never held
/// long (SQLite has one).
pub(crate) const SWEEP_ITEMS: i64 = 2_000;
#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    pub(crate) id: i64,
    contact_id: Uuid,
    purpose: String,
    granted: bool,
    source: String,
    pub(crate) at: i64,
    actor: String,
    reason: Option<String>,
}

impl From<ConsentRow> for ConsentRecord {
    fn from(r: ConsentRow) -> Self {
        ConsentRecord {
            contact_id: r.contact_id,
            purpose: r.purpose,
            granted: r.granted,
            source: r.source,
            at: Timestamp(r.at),
            actor: r.actor,
            reason: r.reason,
        }
    }
}

/// `{at, actor, reason}`, as a hold and an erasure are stored.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct Stamped {
    at: i64,
    actor: String,
    reason: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PrivacyRow {
    legal_hold: Option<Json<Stamped>>,
    erased: Option<Json<Stamped>>,
}

impl PrivacyRow {
    pub(crate) fn into_privacy(self, contact_id: Uuid) -> ContactPrivacy {
        ContactPrivacy {
            contact_id,
            legal_hold: self.legal_hold.map(|Json(s)| Hold { at: Timestamp(s.at), actor: s.actor, reason: s.reason }),
            erased: self.erased.map(|Json(s)| Erasure { at: Timestamp(s.at), actor: s.actor, reason: s.reason }),
        }
    }
}

pub(crate) fn stamped_hold(h: &Hold) -> Json<Stamped> {
    Json(Stamped { at: h.at.0, actor: h.actor.clone(), reason: h.reason.clone() })
}

pub(crate) fn stamped_erasure(e: &Erasure) -> Json<Stamped> {
    Json(Stamped { at: e.at.0, actor: e.actor.clone(), reason: e.reason.clone() })
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    contact_id: Option<Uuid>,
    detail: String,
}

impl From<AuditRow> for (i64, AuditEntry) {
    fn from(r: AuditRow) -> Self {
        let entry = AuditEntry {
            at: Timestamp(r.at),
            actor: r.actor,
            action: r.action,
            contact_id: r.contact_id,
            detail: r.detail,
        };
        (r.id, entry)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExternalIdRow {
    system: String,
    external_id: String,
    contact_id: Uuid,
}

impl From<ExternalIdRow> for ExternalId {
    fn from(r: ExternalIdRow) -> Self {
        ExternalId { system: r.system, external_id: r.external_id, contact_id: r.contact_id }
    }
}

/// An email as it appears, lower-cased, in the raw body of a plain HTML form post
/// (`application/x-www-form-urlencoded`: letters, digits and `*-._` as they are, every
/// other byte as `%XX`).
pub(crate) fn form_encoded(email: &str) -> String {
    let mut out = String::with_capacity(email.len() + 8);
    for b in email.to_ascii_lowercase().bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            other => out.push_str(&format!("%{other:02x}")),
        }
    }
    out
}
