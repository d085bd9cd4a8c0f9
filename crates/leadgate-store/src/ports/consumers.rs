//! Where the consumers inside leadgate stand in the change feed (see `crate::consumers`).

use crate::Result;
use crate::consumers::{Advance, ConsumerState};
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::changes::Position;

/// Where a consumer stands, and who may move it on.
#[async_trait]
pub trait ConsumerLeases: Send + Sync {
    /// Gives `holder` the lease of consumer `name` until `until`, if nobody else holds
    /// it at `now` (a consumer never seen starts at the feed's beginning); the position
    /// to go on from. `None` while another server holds it.
    async fn take_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<Option<Position>>;
    /// Lets the lease go (the server stops), so that another server takes over at once.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Every consumer, by name.
    async fn consumers(&self) -> Result<Vec<ConsumerState>>;
}

/// Moving a consumer on, in the transaction of what it did.
#[async_trait]
pub trait ConsumerWrites: Send {
    /// Moves consumer `name` from `from` to `to`, counting `handled` more entries and
    /// renewing the lease until `until`, if `holder` still holds it and it is still at
    /// `from`; whether it did. When it did not, the transaction must be rolled back.
    async fn advance_consumer(&mut self, advance: &Advance<'_>) -> Result<bool>;
}
