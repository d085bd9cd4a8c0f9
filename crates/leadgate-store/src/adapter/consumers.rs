//! [`crate::ConsumerLeases`] and [`crate::ConsumerWrites`]: the durable cursors of the
//! change feed's consumers.

use super::*;

#[async_trait::async_trait]
impl ConsumerLeases for SqlStore {
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
        let rows: Vec<crate::consumers::Row> = sqlx::query_as(crate::consumers::LIST).fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(crate::consumers::state_of).collect())
    }
}

#[async_trait::async_trait]
impl ConsumerWrites for SqlTx {
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
