//! Spend entries and the workspace's settings (its currency).

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::spend::Spend;
use uuid::Uuid;

#[async_trait]
pub trait SpendReads: Send + Sync {
    /// The entries whose period overlaps `from`..`to` (either end open), in the order
    /// they were recorded; at most `limit`, those after the entry `after`.
    async fn spend_entries(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Spend>>;

    /// A setting's value, if it was ever set.
    async fn setting(&self, name: &str) -> Result<Option<String>>;
}

#[async_trait]
pub trait SpendWrites: Send {
    async fn insert_spend(&mut self, entries: &[Spend]) -> Result<()>;

    /// Removes an entry; whether there was one.
    async fn delete_spend(&mut self, id: Uuid) -> Result<bool>;

    /// Whether any spend is recorded.
    async fn any_spend(&mut self) -> Result<bool>;

    /// A setting's value, set to `default` first if it was never set, and held for this
    /// transaction: another that claims or sets it waits until this one ends (so a
    /// change of currency and an entry in the old one cannot pass each other).
    async fn claim_setting(&mut self, name: &str, default: &str, at: Timestamp, by: &str) -> Result<String>;

    /// Sets a setting, noting who and when.
    async fn set_setting(&mut self, name: &str, value: &str, at: Timestamp, by: &str) -> Result<()>;
}
