//! [`crate::ports::ChangeFeed`].

use super::*;

#[async_trait]
impl ChangeFeed for SqlStore {
    async fn changes(
        &self,
        after: leadgate_core::changes::Position,
        limit: i64,
        kinds: leadgate_core::changes::Kinds,
    ) -> Result<crate::ChangesPage> {
        feed_sql::read(&self.read, after, limit, kinds).await
    }

    async fn changes_committed(
        &self,
        after: leadgate_core::changes::Position,
        limit: i64,
        kinds: leadgate_core::changes::Kinds,
    ) -> Result<Vec<leadgate_core::changes::Change>> {
        feed_sql::read_committed(&self.read, after, limit, kinds).await
    }

    async fn last_change_position(&self) -> Result<leadgate_core::changes::Position> {
        feed_sql::last(&self.read).await
    }

    async fn last_change_written(&self) -> Result<leadgate_core::changes::Position> {
        feed_sql::last_written(&self.read).await
    }

    async fn feed_info(&self) -> Result<crate::FeedInfo> {
        feed_sql::info(&self.read).await
    }

    async fn prune_changes(&self, before: Timestamp) -> Result<u64> {
        feed_sql::prune(&self.write, before).await
    }
}
