//! The change feed, as readers follow it (its entries are written by `Tx::commit`).

use crate::ChangesPage;
use crate::FeedInfo;
use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;

#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Entries of the change feed after `after` whose kinds meet `kinds`, at most
    /// `limit`, in order; only entries no later commit can precede.
    async fn changes(
        &self,
        after: leadgate_core::changes::Position,
        limit: i64,
        kinds: leadgate_core::changes::Kinds,
    ) -> Result<ChangesPage>;

    /// Entries after `after` whose kinds meet `kinds`, at most `limit`, in order, of
    /// every transaction committed so far: also those [`Self::changes`] holds back while
    /// an older transaction runs (on PostgreSQL), which an entry may yet come before.
    /// For a reader that only asks which contacts changed, and reads them again.
    async fn changes_committed(
        &self,
        after: leadgate_core::changes::Position,
        limit: i64,
        kinds: leadgate_core::changes::Kinds,
    ) -> Result<Vec<leadgate_core::changes::Change>>;

    /// The position of the last entry readers can read now (the start when none).
    async fn last_change_position(&self) -> Result<leadgate_core::changes::Position>;

    /// The position of the last entry committed, which readers may not read yet (on
    /// PostgreSQL, until every transaction older than it has ended).
    async fn last_change_written(&self) -> Result<leadgate_core::changes::Position>;

    /// This database's feed and how far it was pruned.
    async fn feed_info(&self) -> Result<FeedInfo>;

    /// Deletes the feed's entries written before `before` (never the history itself);
    /// returns how many.
    async fn prune_changes(&self, before: Timestamp) -> Result<u64>;
}
