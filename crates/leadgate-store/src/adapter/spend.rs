//! [`crate::ports::SpendReads`] and [`crate::ports::SpendWrites`].

use super::*;
use leadgate_core::spend::Spend;

const SPEND_COLUMNS: &str = "id, amount, currency_given, amount_given, rate, starts_at, ends_at, direction, channel, \
     vendor, campaign, offer, note, recorded_at, recorded_by";

#[async_trait]
impl SpendReads for SqlStore {
    async fn spend_entries(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Spend>> {
        // Entries are few (one per campaign and month): the overlap needs no index.
        let rows: Vec<SpendRow> = sqlx::query_as(&format!(
            "SELECT {SPEND_COLUMNS} FROM spend WHERE ($1 IS NULL OR ends_at > $1) AND ($2 IS NULL OR starts_at < $2) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
        ))
        .bind(from.map(|t| t.0))
        .bind(to.map(|t| t.0))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Spend::try_from).collect()
    }

    async fn setting(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT value FROM settings WHERE name = $1").bind(name).fetch_optional(&self.read).await?;
        Ok(row.map(|(v,)| v))
    }
}

#[async_trait]
impl SpendWrites for SqlTx {
    async fn insert_spend(&mut self, entries: &[Spend]) -> Result<()> {
        insert_many(&mut self.tx, "INSERT INTO spend (id, amount, currency_given, amount_given, rate, starts_at, ends_at, direction, channel, vendor, campaign, offer, note, recorded_at, recorded_by) ", entries, |b, s| {
            b.push_bind(s.id)
                .push_bind(s.amount)
                .push_bind(s.currency_given.as_str())
                .push_bind(s.amount_given)
                .push_bind(s.rate)
                .push_bind(s.from.0)
                .push_bind(s.to.0)
                .push_bind(s.direction.map(|d| d.as_str()))
                .push_bind(s.channel.as_deref())
                .push_bind(s.vendor.as_deref())
                .push_bind(s.campaign.as_deref())
                .push_bind(s.offer.as_deref())
                .push_bind(s.note.as_deref())
                .push_bind(s.recorded_at.0)
                .push_bind(s.recorded_by.as_str());
        })
        .await
    }

    async fn delete_spend(&mut self, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM spend WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn any_spend(&mut self) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM spend LIMIT 1").fetch_optional(&mut *self.tx).await?;
        Ok(row.is_some())
    }

    async fn claim_setting(&mut self, name: &str, default: &str, at: Timestamp, by: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (name, value, set_at, set_by) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(default)
        .bind(at.0)
        .bind(by)
        .execute(&mut *self.tx)
        .await?;
        let (value,): (String,) = sqlx::query_as(&format!("SELECT value FROM settings WHERE name = $1{LOCK}"))
            .bind(name)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(value)
    }

    async fn set_setting(&mut self, name: &str, value: &str, at: Timestamp, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (name, value, set_at, set_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_at = excluded.set_at, set_by = excluded.set_by",
        )
        .bind(name)
        .bind(value)
        .bind(at.0)
        .bind(by)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
