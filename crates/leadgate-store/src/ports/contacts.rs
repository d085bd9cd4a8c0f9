//! Contacts and accounts, one at a time: what a person did and how they moved.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::StageChange;
use leadgate_core::model::Account;
use leadgate_core::model::Contact;
use leadgate_core::model::ContactChange;
use leadgate_core::model::ContactFilter;
use leadgate_core::model::Response;
use leadgate_core::model::StoredEvent;
use leadgate_core::model::Totals;
use uuid::Uuid;

#[async_trait]
pub trait ContactReads: Send + Sync {
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
}

#[async_trait]
pub trait ContactWrites: Send {
    async fn contact_by_email(&mut self, email: &str) -> Result<Option<Contact>>;

    async fn contact_by_id(&mut self, id: Uuid) -> Result<Option<Contact>>;

    async fn account_by_domain(&mut self, domain: &str) -> Result<Option<Account>>;

    async fn insert_account(&mut self, account: &Account) -> Result<()>;

    async fn insert_contact(&mut self, contact: &Contact) -> Result<()>;

    async fn update_contact(&mut self, contact: &Contact) -> Result<()>;

    async fn insert_response(&mut self, response: &Response) -> Result<()>;

    async fn insert_stage_change(&mut self, change: &StageChange) -> Result<()>;

    /// Records a change to a contact; returns its row id.
    async fn insert_contact_change(&mut self, change: &ContactChange) -> Result<i64>;

    async fn delete_contact_change(&mut self, id: i64) -> Result<()>;

    /// Moves a contact to the stage a change leads to, if it is still at the stage the
    /// change starts from; records the change. Returns whether it moved.
    async fn move_stage(&mut self, change: &StageChange) -> Result<bool>;
}
