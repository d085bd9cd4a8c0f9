//! [`crate::ports::InboxReads`] and [`crate::ports::InboxWrites`].

use super::*;

#[async_trait]
impl InboxReads for SqlStore {
    async fn inbox_item(&self, id: Uuid) -> Result<Option<InboxItem>> {
        let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox WHERE id = $1");
        let row: Option<InboxRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.read).await?;
        row.map(InboxItem::try_from).transpose()
    }

    async fn inbox(
        &self,
        status: Option<InboxStatus>,
        after: Option<Uuid>,
        limit: i64,
        preview: i64,
    ) -> Result<Vec<InboxItem>> {
        let (head, tail) = INBOX_PREVIEW_COLUMNS;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {head}"));
        // An `integer`, as PostgreSQL's `substr` takes.
        qb.push_bind(i32::try_from(preview).unwrap_or(i32::MAX));
        qb.push(tail).push(" FROM inbox WHERE true");
        if let Some(status) = status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = after {
            qb.push(" AND (received_at, id) > (SELECT received_at, id FROM inbox WHERE id = ")
                .push_bind(after)
                .push(")");
        }
        qb.push(" ORDER BY received_at, id LIMIT ").push_bind(limit);
        let rows: Vec<InboxRow> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(InboxItem::try_from).collect()
    }
}

#[async_trait]
impl InboxWrites for SqlTx {
    async fn insert_inbox(&mut self, i: &InboxItem) -> Result<()> {
        sqlx::query(
            "INSERT INTO inbox (id, received_at, form_key, content_type, query, body, remote_ip, user_agent, \
             status, error, contact_id, response_id, processed_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(i.id)
        .bind(i.received_at.0)
        .bind(i.form_key.as_deref())
        .bind(i.content_type.as_deref())
        .bind(i.query.as_deref())
        .bind(i.body.as_slice())
        .bind(i.remote_ip.as_deref())
        .bind(i.user_agent.as_deref())
        .bind(i.status.as_str())
        .bind(i.error.as_deref())
        .bind(i.contact_id)
        .bind(i.response_id)
        .bind(i.processed_at.map(|t| t.0))
        .bind(i.attempts)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn settle_inbox(
        &mut self,
        id: Uuid,
        status: InboxStatus,
        error: Option<&str>,
        outcome: Option<(Uuid, Uuid)>,
        at: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE inbox SET status = $2, error = $3, contact_id = $4, response_id = $5, processed_at = $6, \
             attempts = attempts + 1 WHERE id = $1 AND status <> 'processed'",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(error)
        .bind(outcome.map(|o| o.0))
        .bind(outcome.map(|o| o.1))
        .bind(at.0)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            // Missing, or processed meanwhile by another worker: this
            // transaction must not add a second response.
            return Err(StoreError::Conflict(format!("inbox item {id} is missing or already processed")));
        }
        Ok(())
    }
}
