//! Imports: their jobs, and many contacts found and written at once.

use crate::Bulk;
use crate::Found;
use crate::Result;
use async_trait::async_trait;
use leadgate_core::model::Account;
use leadgate_core::model::Contact;
use leadgate_core::model::HistoryKeys;
use leadgate_core::model::ImportJob;
use uuid::Uuid;

#[async_trait]
pub trait ImportJobs: Send + Sync {
    /// Writes a batch of prepared records in one transaction.
    async fn bulk_load(&self, bulk: &Bulk) -> Result<()>;

    /// Records an import job, new or advanced.
    async fn save_import(&self, job: &ImportJob) -> Result<()>;

    async fn import_job(&self, id: Uuid) -> Result<Option<ImportJob>>;

    /// Import jobs, newest first.
    async fn imports(&self, limit: i64) -> Result<Vec<ImportJob>>;
}

#[async_trait]
pub trait ImportWrites: Send {
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
}
