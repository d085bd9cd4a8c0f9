//! Reading contacts in batches: every live contact a batch at a time, and what the
//! per-batch queries return grouped by contact.

use crate::AppError;
use crate::qualify::ASSESS_BATCH;
use leadgate_core::model::{Account, Contact};
use leadgate_store::{Store, StoreError};
use std::collections::HashMap;
use uuid::Uuid;

/// Every live (not merged) contact's id, [`ASSESS_BATCH`] at a time, in id order.
pub(crate) struct LiveContacts<'a> {
    store: &'a dyn Store,
    after: Option<Uuid>,
}

impl<'a> LiveContacts<'a> {
    pub(crate) fn new(store: &'a dyn Store) -> Self {
        Self { store, after: None }
    }

    /// The next batch; `None` once every contact has been given.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<Uuid>>, AppError> {
        let ids = self.store.live_contact_ids(self.after, ASSESS_BATCH as i64).await?;
        self.after = ids.last().copied();
        Ok(self.after.is_some().then_some(ids))
    }
}

/// Items grouped by the contact they belong to, each group in the items' order.
pub(crate) fn by_contact<T>(items: impl IntoIterator<Item = (Uuid, T)>) -> HashMap<Uuid, Vec<T>> {
    let mut grouped: HashMap<Uuid, Vec<T>> = HashMap::new();
    for (contact, item) in items {
        grouped.entry(contact).or_default().push(item);
    }
    grouped
}

/// The accounts of these contacts, by id.
pub(crate) async fn accounts_of(store: &dyn Store, contacts: &[Contact]) -> Result<HashMap<Uuid, Account>, StoreError> {
    let mut ids: Vec<Uuid> = contacts.iter().filter_map(|c| c.account_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(store.accounts_by_ids(&ids).await?.into_iter().map(|a| (a.id, a)).collect())
}
