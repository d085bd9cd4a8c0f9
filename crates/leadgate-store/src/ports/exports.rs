//! Everything, in pages, for exports.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Stage;
use leadgate_core::StageChange;
use leadgate_core::model::Account;
use leadgate_core::model::Contact;
use leadgate_core::model::Response;
use leadgate_core::model::StoredEvent;
use uuid::Uuid;

#[async_trait]
pub trait ExportReads: Send + Sync {
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
}
