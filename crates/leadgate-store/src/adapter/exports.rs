//! [`crate::ports::ExportReads`].

use super::*;

#[async_trait]
impl ExportReads for SqlStore {
    async fn contacts_page(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<Contact>> {
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE merged_into IS NULL AND id > $1 ORDER BY id LIMIT $2"
        );
        let rows: Vec<ContactRow> =
            sqlx::query_as(&sql).bind(after.unwrap_or(Uuid::nil())).bind(limit).fetch_all(&self.read).await?;
        contacts_of(rows)
    }

    async fn responses_page(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<Response>> {
        let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<ResponseRow> =
            sqlx::query_as(&sql).bind(after.unwrap_or(Uuid::nil())).bind(limit).fetch_all(&self.read).await?;
        rows.into_iter().map(Response::try_from).collect()
    }

    async fn stage_changes_page(&self, after: i64, limit: i64) -> Result<Vec<(i64, StageChange)>> {
        let rows: Vec<NumberedStageChangeRow> = sqlx::query_as(
            "SELECT id, contact_id, from_stage, to_stage, at, cause, detail, actor, value FROM stage_changes \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(|r| Ok((r.id, StageChange::try_from(r.change)?))).collect()
    }

    async fn contact_emails(&self, contacts: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
        let mut conn = self.read.acquire().await?;
        let rows: Vec<(Uuid, Option<String>)> =
            fetch_in(&mut conn, "SELECT id, email FROM contacts WHERE id IN (", contacts).await?;
        Ok(rows.into_iter().filter_map(|(id, e)| e.map(|e| (id, e))).collect())
    }

    async fn accounts_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = self
            .rows_in(
                "SELECT id, domain, name, created_at FROM accounts WHERE ",
                "id",
                &[],
                crate::Contacts::Ids(ids),
                "",
            )
            .await?;
        Ok(rows.into_iter().map(Account::from).collect())
    }

    async fn arrivals(&self, contacts: &[Uuid]) -> Result<Vec<(Uuid, leadgate_core::Stage)>> {
        let mut conn = self.read.acquire().await?;
        // The arrival is the contact's first recorded change (the one written
        // when it was created), whatever the dates of changes imported later.
        let rows: Vec<(Uuid, String, i64)> =
            fetch_in(&mut conn, "SELECT contact_id, to_stage, id FROM stage_changes WHERE contact_id IN (", contacts)
                .await?;
        let mut first: std::collections::HashMap<Uuid, (i64, String)> = std::collections::HashMap::new();
        for (c, to, id) in rows {
            match first.get(&c) {
                Some((seen, _)) if *seen < id => {}
                _ => {
                    first.insert(c, (id, to));
                }
            }
        }
        first.into_iter().map(|(c, (_, to))| Ok((c, stage(&to)?))).collect()
    }

    async fn events_page(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, contact_id, email, visitor_id, kind, at, url, props, received_at FROM events \
             WHERE id > $1 AND contact_id IS NOT NULL ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }
}
