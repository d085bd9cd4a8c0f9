//! Duplicates and merges, and their undoing.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::dedupe::Candidate;
use leadgate_core::merge::Merge;
use leadgate_core::merge::Moved;
use uuid::Uuid;

#[async_trait]
pub trait MergeReads: Send + Sync {
    /// Every contact not merged into another, as the duplicate search needs it.
    async fn duplicate_candidates(&self) -> Result<Vec<Candidate>>;

    async fn merge(&self, id: Uuid) -> Result<Option<Merge>>;
}

#[async_trait]
pub trait MergeWrites: Send {
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
}
