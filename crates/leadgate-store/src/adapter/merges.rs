//! [`crate::ports::MergeReads`] and [`crate::ports::MergeWrites`].

use super::*;

#[async_trait]
impl MergeReads for SqlStore {
    async fn duplicate_candidates(&self) -> Result<Vec<Candidate>> {
        // In pages, so that no more than one page of raw rows is held beside the
        // result.
        const PAGE: i64 = 50_000;
        let mut all: Vec<Candidate> = Vec::new();
        let mut after = Uuid::nil();
        loop {
            let rows: Vec<CandidateRow> = sqlx::query_as(
                "SELECT id, email, first_name, last_name, account_id FROM contacts \
                 WHERE merged_into IS NULL AND id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&self.read)
            .await?;
            let n = rows.len();
            all.extend(rows.into_iter().map(Candidate::from));
            match all.last() {
                Some(last) if n as i64 == PAGE => after = last.id,
                _ => return Ok(all),
            }
        }
    }

    async fn merge(&self, id: Uuid) -> Result<Option<Merge>> {
        let sql = format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = $1");
        let row: Option<MergeRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.read).await?;
        Ok(row.map(Merge::from))
    }
}

#[async_trait]
impl MergeWrites for SqlTx {
    async fn set_merged_into(&mut self, id: Uuid, into: Option<Uuid>) -> Result<()> {
        use leadgate_core::changes::ChangeKind;
        match into {
            Some(into) => {
                self.changes.merged(id, into, ChangeKind::Merged);
                self.changes.merged(into, id, ChangeKind::Merged);
            }
            None => self.changes.note(id, ChangeKind::Unmerged),
        }
        sqlx::query("UPDATE contacts SET merged_into = $2 WHERE id = $1")
            .bind(id)
            .bind(into)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn move_history(&mut self, from: Uuid, to: Uuid) -> Result<Moved> {
        let tx = &mut *self.tx;
        let mut responses: Vec<_> =
            sqlx::query_scalar("UPDATE responses SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        let mut stage_changes: Vec<_> =
            sqlx::query_scalar("UPDATE stage_changes SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        if !stage_changes.is_empty() || !responses.is_empty() {
            repack_on_contacts(&mut *tx, &[from, to]).await?;
        }
        let mut events: Vec<_> =
            sqlx::query_scalar("UPDATE events SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        if !events.is_empty() {
            repack(&mut *tx, &[from, to]).await?;
        }
        let mut contact_changes: Vec<_> =
            sqlx::query_scalar("UPDATE contact_changes SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        let mut external_ids: Vec<_> = sqlx::query_as(
            "UPDATE external_ids SET contact_id = $2 WHERE contact_id = $1 RETURNING system, external_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let mut visitors: Vec<_> =
            sqlx::query_scalar("UPDATE visitors SET contact_id = $2 WHERE contact_id = $1 RETURNING visitor_id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        let mut merged: Vec<_> =
            sqlx::query_scalar("UPDATE contacts SET merged_into = $2 WHERE merged_into = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        let mut consents: Vec<_> =
            sqlx::query_scalar("UPDATE consents SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
        // Listed in a stable order, so that a merge reads the same on both databases.
        responses.sort_unstable();
        stage_changes.sort_unstable();
        events.sort_unstable();
        contact_changes.sort_unstable();
        external_ids.sort_unstable();
        visitors.sort_unstable();
        merged.sort_unstable();
        consents.sort_unstable();
        let moved = Moved {
            responses,
            stage_changes,
            events,
            contact_changes,
            external_ids,
            visitors,
            merged,
            consents,
            added_contact_change: None,
        };
        Ok(moved)
    }

    async fn move_back(&mut self, m: &Moved, to: Uuid) -> Result<()> {
        self.changes.note(to, leadgate_core::changes::ChangeKind::Unmerged);
        let tx = &mut *self.tx;
        let set = " WHERE id IN (";
        // Packed again where the stage changes and responses were (the contact
        // merged into) and are now.
        let mut were: Vec<(Uuid,)> =
            fetch_in(&mut *tx, "SELECT DISTINCT contact_id FROM stage_changes WHERE id IN (", &m.stage_changes).await?;
        were.extend(
            fetch_in::<(Uuid,), _>(&mut *tx, "SELECT DISTINCT contact_id FROM responses WHERE id IN (", &m.responses)
                .await?,
        );
        reassign_in(&mut *tx, "UPDATE responses SET contact_id = ", to, set, &m.responses).await?;
        reassign_in(&mut *tx, "UPDATE stage_changes SET contact_id = ", to, set, &m.stage_changes).await?;
        let mut repacked: Vec<Uuid> = were.into_iter().map(|(c,)| c).chain([to]).collect();
        repacked.sort_unstable();
        repacked.dedup();
        repack_on_contacts(&mut *tx, &repacked).await?;
        // Packed again where the events were (the contact merged into) and are now.
        let were: Vec<(Option<Uuid>,)> =
            fetch_in(&mut *tx, "SELECT DISTINCT contact_id FROM events WHERE id IN (", &m.events).await?;
        reassign_in(&mut *tx, "UPDATE events SET contact_id = ", to, set, &m.events).await?;
        let mut repacked: Vec<Uuid> = were.into_iter().filter_map(|(c,)| c).chain([to]).collect();
        repacked.sort_unstable();
        repacked.dedup();
        repack(&mut *tx, &repacked).await?;
        reassign_in(&mut *tx, "UPDATE contact_changes SET contact_id = ", to, set, &m.contact_changes).await?;
        reassign_in(&mut *tx, "UPDATE visitors SET contact_id = ", to, " WHERE visitor_id IN (", &m.visitors).await?;
        reassign_in(&mut *tx, "UPDATE contacts SET merged_into = ", to, set, &m.merged).await?;
        reassign_in(&mut *tx, "UPDATE consents SET contact_id = ", to, set, &m.consents).await?;
        for (system, id) in &m.external_ids {
            sqlx::query("UPDATE external_ids SET contact_id = $1 WHERE system = $2 AND external_id = $3")
                .bind(to)
                .bind(system.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    async fn insert_merge(&mut self, m: &Merge) -> Result<()> {
        sqlx::query(
            "INSERT INTO merges (id, contact_id, other_id, at, actor, before, moved, undone_at, undone_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(m.id)
        .bind(m.contact_id)
        .bind(m.other_id)
        .bind(m.at.0)
        .bind(m.actor.as_str())
        .bind(Json(&m.before))
        .bind(Json(&m.moved))
        .bind(m.undone_at.map(|t| t.0))
        .bind(m.undone_by.as_deref())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn merge_for_update(&mut self, id: Uuid) -> Result<Option<Merge>> {
        let sql = format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = $1{}", LOCK);
        let row: Option<MergeRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&mut *self.tx).await?;
        Ok(row.map(Merge::from))
    }

    async fn mark_merge_undone(&mut self, id: Uuid, at: Timestamp, by: &str) -> Result<()> {
        sqlx::query("UPDATE merges SET undone_at = $2, undone_by = $3 WHERE id = $1")
            .bind(id)
            .bind(at.0)
            .bind(by)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
