//! Where the consumers inside leadgate stand in the change feed: ports of their own,
//! [`ConsumerLeases`] on the store and [`ConsumerWrites`] in a transaction (supertraits
//! of `Store` and `Tx`), one SQL text for both databases, implemented by
//! `impl_consumers!` beside `impl_sql_store!` in each adapter's module.
//!
//! A consumer is held by one server at a time through a lease: a holder and a time
//! until which it holds it, taken when free or expired and renewed as it works. The
//! lease only saves work; what makes each entry handled once is that the position
//! advances only from where the holder read it, by the holder, in the transaction of
//! what it did ([`ConsumerWrites::advance_consumer`]). A server that lost its lease
//! while working (it stalled, another took over) finds its transaction refused and
//! rolls back.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::changes::Position;

/// A consumer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerState {
    pub name: String,
    /// Everything up to here is handled.
    pub position: Position,
    /// The server holding it, while its lease runs.
    pub holder: Option<String>,
    pub lease_until: Timestamp,
    /// Entries handled since the consumer first ran.
    pub handled: i64,
}

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

/// One step of a consumer.
#[derive(Debug, Clone, Copy)]
pub struct Advance<'a> {
    pub name: &'a str,
    pub holder: &'a str,
    pub from: Position,
    pub to: Position,
    pub handled: i64,
    pub until: Timestamp,
}

/// The SQL, the same on both databases.
pub(crate) const ADD: &str = "INSERT INTO consumers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
pub(crate) const TAKE: &str = "UPDATE consumers SET holder = $2, lease_until = $3 \
     WHERE name = $1 AND (holder = $2 OR holder IS NULL OR lease_until < $4) \
     RETURNING position_major, position_minor";
pub(crate) const RELEASE: &str = "UPDATE consumers SET holder = NULL, lease_until = 0 WHERE name = $1 AND holder = $2";
pub(crate) const LIST: &str =
    "SELECT name, position_major, position_minor, holder, lease_until, handled FROM consumers ORDER BY name";
pub(crate) const ADVANCE: &str = "UPDATE consumers \
     SET position_major = $5, position_minor = $6, handled = handled + $7, lease_until = $8 \
     WHERE name = $1 AND holder = $2 AND position_major = $3 AND position_minor = $4";

pub(crate) type Row = (String, i64, i64, Option<String>, i64, i64);

pub(crate) fn state_of((name, major, minor, holder, until, handled): Row) -> ConsumerState {
    ConsumerState { name, position: Position { major, minor }, holder, lease_until: Timestamp(until), handled }
}

/// Implements [`ConsumerLeases`] for `$store` (its `write` and `read` pools) and
/// [`ConsumerWrites`] for `$tx` (its `tx`).
macro_rules! impl_consumers {
    ($store:ty, $tx:ident) => {
        #[async_trait::async_trait]
        impl crate::consumers::ConsumerLeases for $store {
            async fn take_lease(
                &self,
                name: &str,
                holder: &str,
                until: leadgate_core::Timestamp,
                now: leadgate_core::Timestamp,
            ) -> crate::Result<Option<leadgate_core::changes::Position>> {
                let mut tx = self.write.begin().await?;
                sqlx::query(crate::consumers::ADD).bind(name).execute(&mut *tx).await?;
                let at: Option<(i64, i64)> = sqlx::query_as(crate::consumers::TAKE)
                    .bind(name)
                    .bind(holder)
                    .bind(until.0)
                    .bind(now.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(at.map(|(major, minor)| leadgate_core::changes::Position { major, minor }))
            }

            async fn release_lease(&self, name: &str, holder: &str) -> crate::Result<()> {
                sqlx::query(crate::consumers::RELEASE).bind(name).bind(holder).execute(&self.write).await?;
                Ok(())
            }

            async fn consumers(&self) -> crate::Result<Vec<crate::consumers::ConsumerState>> {
                let rows: Vec<crate::consumers::Row> =
                    sqlx::query_as(crate::consumers::LIST).fetch_all(&self.read).await?;
                Ok(rows.into_iter().map(crate::consumers::state_of).collect())
            }
        }

        #[async_trait::async_trait]
        impl crate::consumers::ConsumerWrites for $tx {
            async fn advance_consumer(&mut self, a: &crate::consumers::Advance<'_>) -> crate::Result<bool> {
                let done = sqlx::query(crate::consumers::ADVANCE)
                    .bind(a.name)
                    .bind(a.holder)
                    .bind(a.from.major)
                    .bind(a.from.minor)
                    .bind(a.to.major)
                    .bind(a.to.minor)
                    .bind(a.handled)
                    .bind(a.until.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_consumers;
