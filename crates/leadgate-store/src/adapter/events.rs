//! [`crate::ports::EventAppends`] and [`crate::ports::EventWrites`].

use super::*;

#[async_trait]
impl EventAppends for SqlStore {
    async fn append_events(&self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Uuid>> {
        let mut tx = SqlTx::new(self.write.begin_with(BEGIN).await?);
        let attached = insert_events(&mut tx.tx, &mut tx.changes, events, received_at, true).await?;
        tx.finish().await?;
        // The contacts that now have new events.
        let mut contacts: Vec<Uuid> = attached.into_iter().flatten().collect();
        contacts.sort_unstable();
        contacts.dedup();
        Ok(contacts)
    }
}

#[async_trait]
impl EventWrites for SqlTx {
    async fn append_events(&mut self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Option<Uuid>>> {
        insert_events(&mut self.tx, &mut self.changes, events, received_at, true).await
    }

    async fn identify_visitor(&mut self, visitor_id: &str, contact_id: Uuid, at: Timestamp) -> Result<u64> {
        // A visitor id belongs to the person who first identified with it; a
        // later inquiry from the same browser by someone else does not steal it.
        sqlx::query(
            "INSERT INTO visitors (visitor_id, contact_id, identified_at) VALUES ($1, $2, $3) \
             ON CONFLICT (visitor_id) DO NOTHING",
        )
        .bind(visitor_id)
        .bind(contact_id)
        .bind(at.0)
        .execute(&mut *self.tx)
        .await?;
        let sql = format!(
            "UPDATE events SET contact_id = (SELECT contact_id FROM visitors WHERE visitor_id = $1) \
             WHERE visitor_id = $1 AND contact_id IS NULL{}",
            WAITING
        );
        let done = sqlx::query(&sql).bind(visitor_id).execute(&mut *self.tx).await?;
        if done.rows_affected() > 0 {
            let owner: Uuid = sqlx::query_scalar("SELECT contact_id FROM visitors WHERE visitor_id = $1")
                .bind(visitor_id)
                .fetch_one(&mut *self.tx)
                .await?;
            repack(&mut self.tx, &[owner]).await?;
            self.changes.attached(owner, done.rows_affected());
        }
        Ok(done.rows_affected())
    }

    async fn attach_events_by_email(&mut self, email: &str, contact_id: Uuid) -> Result<u64> {
        let sql = format!("UPDATE events SET contact_id = $1 WHERE email = $2 AND contact_id IS NULL{}", WAITING);
        let done = sqlx::query(&sql).bind(contact_id).bind(email).execute(&mut *self.tx).await?;
        if done.rows_affected() > 0 {
            repack(&mut self.tx, &[contact_id]).await?;
            self.changes.attached(contact_id, done.rows_affected());
        }
        Ok(done.rows_affected())
    }
}
