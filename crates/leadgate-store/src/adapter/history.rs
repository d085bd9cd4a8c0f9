//! [`crate::ports::HistoryReads`] and [`crate::ports::ScoreWrites`].

use super::*;

#[async_trait]
impl HistoryReads for SqlStore {
    async fn contact_snapshots(
        &self,
        contacts: crate::Contacts<'_>,
        parts: crate::SnapshotParts,
    ) -> Result<Vec<crate::ContactSnapshot>> {
        let sql = crate::rows::subject_select(parts);
        let lead: Vec<i64> = parts.created_by.iter().map(|t| t.0).collect();
        let batch = contacts.owned();
        let then = move |mut subjects: Vec<crate::ContactSnapshot>| {
            subjects.retain(|s| batch.contacts().holds(&s.contact.id));
            // In id order, whatever order the join gave them in: the same contacts
            // read twice are given alike (a model learns from them in this order).
            subjects.sort_unstable_by_key(|s| s.contact.id.as_u128());
            Ok(subjects)
        };
        let convert: fn(crate::rows::SubjectRow) -> Result<crate::ContactSnapshot> = crate::ContactSnapshot::try_from;
        let subjects = self.rows_in_then(&sql, "c.id", &lead, contacts, "", convert, then);
        // Responses with more than their rows keep of them: from the responses table.
        match parts.responses.filter(|_| !parts.responses_in_brief()) {
            None => subjects.await,
            Some(details) => {
                let (mut subjects, mut responses) =
                    tokio::try_join!(subjects, self.responses_of(contacts, None, details))?;
                for s in &mut subjects {
                    s.responses = responses.take(&s.contact.id);
                }
                Ok(subjects)
            }
        }
    }

    async fn live_contact_ids(
        &self,
        after: Option<Uuid>,
        created_by: Option<Timestamp>,
        limit: i64,
    ) -> Result<Vec<Uuid>> {
        // From the index of live contacts alone, read as the batches are (on SQLite,
        // directly: a walk's every id passed through sqlx cost more than the read),
        // which also holds when each was created.
        // The limit is in the text: SQLite numbers `$n` parameters in the order
        // they appear, and the direct reads bind them in that order.
        let (created, lead) = match created_by {
            Some(at) => ("created_at <= $1 AND ", vec![at.0]),
            None => ("", vec![]),
        };
        let after_at = lead.len() + 1;
        let sql = format!(
            "SELECT id FROM contacts WHERE {created}merged_into IS NULL AND id > ${after_at} ORDER BY id LIMIT {limit}"
        );
        let rows: Vec<(Uuid,)> = self.rows(&sql, &lead, &[after.unwrap_or(Uuid::nil())]).await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn responses_of(
        &self,
        contacts: crate::Contacts<'_>,
        until: Option<Timestamp>,
        details: crate::ResponseDetails,
    ) -> Result<crate::ByContact<Response>> {
        let columns = crate::rows::response_columns(details);
        // Up to a moment, the later responses are left out in the index of
        // responses by contact and time, before their rows are looked up.
        // Junk is left out (`counts`).
        let (sql, bounds) = match until {
            Some(until) => {
                (format!("SELECT {columns} FROM responses WHERE junk IS NULL AND at <= $1 AND "), vec![until.0])
            }
            None => (format!("SELECT {columns} FROM responses WHERE junk IS NULL AND "), vec![]),
        };
        let batch = contacts.owned();
        let then = move |rows| Ok(crate::ByContact::oldest_first(rows, batch.contacts(), |r: &Response| r.at));
        let convert: fn(ResponseRow) -> Result<(Uuid, Uuid, Response)> =
            |r| Response::try_from(r).map(|r| (r.contact_id, r.id, r));
        self.rows_in_then(&sql, "contact_id", &bounds, contacts, "", convert, then).await
    }

    async fn events_of(
        &self,
        contacts: crate::Contacts<'_>,
        since: Timestamp,
        until: Option<Timestamp>,
        props: bool,
    ) -> Result<crate::ByContact<EventFact>> {
        if !props {
            let batch = contacts.owned();
            let then = move |packed: Vec<crate::packs::Unpacked>| {
                Ok(crate::ByContact::of_groups(
                    packed.into_iter().map(|u| (u.contact, u.events)).collect(),
                    batch.contacts(),
                ))
            };
            return self.packed_events_then(contacts, since, until, then).await;
        }
        let (sql, bounds) = match until {
            Some(until) => (
                "SELECT contact_id, kind, at, url, props FROM events WHERE at >= $1 AND at <= $2 AND ",
                vec![since.0, until.0],
            ),
            None => ("SELECT contact_id, kind, at, url, props FROM events WHERE at >= $1 AND ", vec![since.0]),
        };
        type Shared = crate::direct::Shared;
        let rows: Vec<(Uuid, Shared, i64, Option<Shared>, Json<serde_json::Value>)> =
            self.rows_in(sql, "contact_id", &bounds, contacts, "").await?;
        let rows: Vec<(Uuid, EventFact)> = rows
            .into_iter()
            .map(|(c, kind, at, url, props)| {
                (c, EventFact { kind: kind.0, at: Timestamp(at), url: url.map(|u| u.0), props: props.0 })
            })
            .collect();
        Ok(crate::ByContact::of(rows, contacts))
    }

    async fn last_events(
        &self,
        contacts: crate::Contacts<'_>,
        until: Option<Timestamp>,
    ) -> Result<Vec<(Uuid, Timestamp)>> {
        // Nothing of the packs but their times is kept: a window that starts at
        // the end keeps no events.
        let since = until.unwrap_or(Timestamp(i64::MAX));
        let batch = contacts.owned();
        let then = move |packed: Vec<crate::packs::Unpacked>| {
            let held = packed.into_iter().filter(|u| batch.contacts().holds(&u.contact));
            Ok(held.filter_map(|u| u.latest.map(|at| (u.contact, at))).collect())
        };
        self.packed_events_then(contacts, since, until, then).await
    }

    async fn qualifications(&self, contacts: &[Uuid]) -> Result<Vec<(Uuid, Qualification)>> {
        let rows: Vec<(Uuid, Json<Qualification>)> = self
            .rows_in("SELECT id, qualification FROM contacts WHERE ", "id", &[], crate::Contacts::Ids(contacts), "")
            .await?;
        Ok(rows.into_iter().map(|(c, q)| (c, q.0)).collect())
    }

    async fn contact_changes_of(&self, contacts: crate::Contacts<'_>) -> Result<crate::ByContact<ContactChange>> {
        let batch = contacts.owned();
        let convert: fn(NumberedContactChangeRow) -> Result<_> = |r| {
            let change = ContactChange::from(r.change);
            Ok((change.contact_id, r.id, change))
        };
        let then = move |rows| Ok(crate::ByContact::oldest_first(rows, batch.contacts(), |c: &ContactChange| c.at));
        let sql = "SELECT id, contact_id, at, cause, actor, changes FROM contact_changes WHERE ";
        self.rows_in_then(sql, "contact_id", &[], contacts, "", convert, then).await
    }

    async fn stage_histories_of(&self, contacts: crate::Contacts<'_>) -> Result<crate::ByContact<StageChange>> {
        let batch = contacts.owned();
        let convert: fn(NumberedStageChangeRow) -> Result<_> = |r| {
            let change = StageChange::try_from(r.change)?;
            Ok((change.contact_id, r.id, change))
        };
        let then = move |rows| Ok(crate::ByContact::oldest_first(rows, batch.contacts(), |c: &StageChange| c.at));
        let sql =
            "SELECT id, contact_id, from_stage, to_stage, at, cause, detail, actor, value FROM stage_changes WHERE ";
        self.rows_in_then(sql, "contact_id", &[], contacts, "", convert, then).await
    }

    async fn scores(&self, contacts: &[Uuid]) -> Result<Vec<leadgate_core::scoring::ContactScores>> {
        let mut conn = self.read.acquire().await?;
        let rows: Vec<ScoresRow> = fetch_in(
            &mut conn,
            "SELECT contact_id, model, assessment, as_of, likelihood, likelihood_factors, likelihood_model \
             FROM contact_scores \
             WHERE contact_id IN (",
            contacts,
        )
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[async_trait]
impl ScoreWrites for SqlTx {
    async fn qualification_of(&mut self, contact_id: Uuid) -> Result<Qualification> {
        let row: Option<(Json<Qualification>,)> = sqlx::query_as("SELECT qualification FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|(q,)| q.0).unwrap_or_default())
    }

    async fn set_qualification(&mut self, contact_id: Uuid, q: &Qualification) -> Result<()> {
        self.changes.note(contact_id, leadgate_core::changes::ChangeKind::QualificationChanged);
        sqlx::query("UPDATE contacts SET qualification = $2 WHERE id = $1")
            .bind(contact_id)
            .bind(Json(q))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn save_scores(&mut self, scores: &[leadgate_core::scoring::ContactScores]) -> Result<u64> {
        // Scores written again as they were, time passing aside, are not a change.
        let changed = self.upsert_scores(scores).await?;
        for &contact in &changed {
            self.changes.note(contact, leadgate_core::changes::ChangeKind::ScoresChanged);
        }
        Ok(changed.len() as u64)
    }
}
