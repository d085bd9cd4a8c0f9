//! The inbox: inquiries exactly as received, and what became of each.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::model::InboxItem;
use leadgate_core::model::InboxStatus;
use uuid::Uuid;

#[async_trait]
pub trait InboxReads: Send + Sync {
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
}

#[async_trait]
pub trait InboxWrites: Send {
    async fn insert_inbox(&mut self, item: &InboxItem) -> Result<()>;

    /// Records the outcome of processing an inbox item; fails with
    /// [`crate::StoreError::Conflict`] if it is missing or was already processed.
    async fn settle_inbox(
        &mut self,
        id: Uuid,
        status: InboxStatus,
        error: Option<&str>,
        outcome: Option<(Uuid, Uuid)>,
        at: Timestamp,
    ) -> Result<()>;
}
