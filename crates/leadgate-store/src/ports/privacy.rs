//! Personal data: consent, legal holds and erasure, the audit log, retention, and
//! everything held about a person (subject access).

use crate::Result;
use crate::privacy::{AuditFilter, Erased, PersonalRecords, Retained};
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::consent::ConsentRecord;
use leadgate_core::erasure::{AuditEntry, ContactPrivacy};
use leadgate_core::model::Contact;
use uuid::Uuid;

#[async_trait]
pub trait PrivacyReads: Send + Sync {
    /// A contact's consent records, in the order they were made.
    async fn consents(&self, contacts: &[Uuid]) -> Result<Vec<ConsentRecord>>;
    /// A contact's legal hold and erasure.
    async fn privacy(&self, contact: Uuid) -> Result<ContactPrivacy>;
    /// The audit log, oldest first, after the entry `after`; only what `filter` names.
    async fn audit_log(&self, filter: &AuditFilter, after: i64, limit: i64) -> Result<Vec<(i64, AuditEntry)>>;
    /// The contacts merged into `id` (each merged contact points straight at the
    /// contact it lives on as).
    async fn merged_into(&self, id: Uuid) -> Result<Vec<Uuid>>;
    /// What else is held of these contacts (a person: a contact and those merged into
    /// it), and the inquiries naming one of `emails` that became no contact.
    async fn personal_records(&self, contacts: &[Uuid], emails: &[&str]) -> Result<PersonalRecords>;
    /// Removes `what` from the inbox items processed or refused before `before` (and
    /// after the last sweep of it), in transactions of a few thousand items; returns
    /// how many items it changed. Items pending or failed keep everything: they have
    /// not been made into responses yet.
    async fn sweep_inbox(&self, what: Retained, before: Timestamp, now: Timestamp) -> Result<u64>;
}

#[async_trait]
pub trait PrivacyWrites: Send {
    async fn insert_consents(&mut self, records: &[ConsentRecord]) -> Result<()>;
    async fn insert_audit(&mut self, entry: &AuditEntry) -> Result<()>;
    /// The contacts merged into `id`, locked until the transaction ends.
    async fn merged_into_for_update(&mut self, id: Uuid) -> Result<Vec<Contact>>;
    /// A contact's legal hold and erasure, locked until the transaction ends.
    async fn privacy_for_update(&mut self, contact: Uuid) -> Result<ContactPrivacy>;
    async fn save_privacy(&mut self, privacy: &ContactPrivacy) -> Result<()>;
    /// Removes the personal data of `contacts` (a person: a contact and those merged
    /// into it, as they are now) as `leadgate_core::erasure` says, keeping the
    /// anonymous facts; and clears the inquiries that named one of their emails but
    /// became no contact (refused, failed, pending).
    async fn erase_personal_data(&mut self, contacts: &[Contact], at: Timestamp) -> Result<Erased>;
}
