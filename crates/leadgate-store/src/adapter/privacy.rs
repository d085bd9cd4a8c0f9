//! [`crate::PrivacyReads`] and [`crate::PrivacyWrites`]: consent, retention, erasure.

use super::*;

use crate::privacy::{AuditRow, ConsentRow, Erased, ExternalIdRow, PersonalRecords, PrivacyRow, Retained};
use leadgate_core::consent::ConsentRecord;
use leadgate_core::erasure::{self, AuditEntry, ContactPrivacy};
use leadgate_core::model::ExternalId;

/// The inbox items that name `email` in their raw body (as sent, or as a plain
/// HTML form encodes it) but became no contact: refused, failed or pending.
async fn unlinked_items_naming(conn: &mut DbConnection, email: &str) -> Result<Vec<Uuid>> {
    let (email, encoded) = (email.to_ascii_lowercase(), crate::privacy::form_encoded(email));
    let sql = format!("SELECT id FROM inbox WHERE status = $1 AND contact_id IS NULL AND ({})", CONTAINS);
    let mut found = Vec::new();
    // Each status through the index of statuses: processed items are left alone.
    for status in ["rejected", "failed", "pending"] {
        let naming: Vec<Uuid> = sqlx::query_scalar(&sql)
            .bind(status)
            .bind(email.as_str())
            .bind(encoded.as_str())
            .fetch_all(&mut *conn)
            .await?;
        found.extend(naming);
    }
    Ok(found)
}

#[async_trait]
impl PrivacyReads for SqlStore {
    async fn consents(&self, contacts: &[Uuid]) -> Result<Vec<ConsentRecord>> {
        let mut conn = self.read.acquire().await?;
        let rows: Vec<ConsentRow> = fetch_in(
            &mut conn,
            "SELECT id, contact_id, purpose, granted, source, at, actor, reason FROM consents WHERE contact_id IN (",
            contacts,
        )
        .await?;
        // In the order they were made, which decides between two of one moment.
        let mut rows = rows;
        rows.sort_by_key(|r| (r.at, r.id));
        Ok(rows.into_iter().map(ConsentRecord::from).collect())
    }

    async fn privacy(&self, contact: Uuid) -> Result<ContactPrivacy> {
        let row: Option<PrivacyRow> =
            sqlx::query_as("SELECT legal_hold, erased FROM contact_privacy WHERE contact_id = $1")
                .bind(contact)
                .fetch_optional(&self.read)
                .await?;
        Ok(row
            .map_or_else(|| ContactPrivacy { contact_id: contact, ..Default::default() }, |r| r.into_privacy(contact)))
    }

    async fn audit_log(&self, f: &crate::AuditFilter, after: i64, limit: i64) -> Result<Vec<(i64, AuditEntry)>> {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT id, at, actor, action, contact_id, detail FROM audit_log WHERE id > ");
        qb.push_bind(after);
        if let Some(contact) = f.contact {
            qb.push(" AND contact_id = ").push_bind(contact);
        }
        if let Some(actor) = &f.actor {
            qb.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(from) = f.from {
            qb.push(" AND at >= ").push_bind(from.0);
        }
        if let Some(to) = f.to {
            qb.push(" AND at < ").push_bind(to.0);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(limit);
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(<(i64, AuditEntry)>::from).collect())
    }

    async fn merged_into(&self, id: Uuid) -> Result<Vec<Uuid>> {
        Ok(sqlx::query_scalar("SELECT id FROM contacts WHERE merged_into = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.read)
            .await?)
    }

    async fn personal_records(&self, contacts: &[Uuid], emails: &[&str]) -> Result<PersonalRecords> {
        let mut conn = self.read.acquire().await?;
        let conn = &mut *conn;
        let events: Vec<EventRow> = fetch_in(
            conn,
            "SELECT id, contact_id, email, visitor_id, kind, at, url, props, received_at FROM events \
             WHERE contact_id IN (",
            contacts,
        )
        .await?;
        let inbox_ids: Vec<(Uuid,)> =
            fetch_in(conn, "SELECT inbox_id FROM responses WHERE inbox_id IS NOT NULL AND contact_id IN (", contacts)
                .await?;
        let mut inbox_ids: Vec<Uuid> = inbox_ids.into_iter().map(|(id,)| id).collect();
        for email in emails {
            inbox_ids.extend(unlinked_items_naming(conn, email).await?);
        }
        let inbox: Vec<InboxRow> =
            fetch_in(conn, &format!("SELECT {INBOX_COLUMNS} FROM inbox WHERE id IN ("), &inbox_ids).await?;
        let mut inbox = inbox.into_iter().map(InboxItem::try_from).collect::<Result<Vec<_>>>()?;
        inbox.sort_by_key(|i| (i.received_at, i.id));
        let external_ids: Vec<ExternalIdRow> =
            fetch_in(conn, "SELECT system, external_id, contact_id FROM external_ids WHERE contact_id IN (", contacts)
                .await?;
        let visitors: Vec<(String,)> =
            fetch_in(conn, "SELECT visitor_id FROM visitors WHERE contact_id IN (", contacts).await?;
        let mut merges: Vec<MergeRow> =
            fetch_in(conn, &format!("SELECT {MERGE_COLUMNS} FROM merges WHERE contact_id IN ("), contacts).await?;
        merges.extend(
            fetch_in::<MergeRow, _>(conn, &format!("SELECT {MERGE_COLUMNS} FROM merges WHERE other_id IN ("), contacts)
                .await?,
        );
        let mut merges: Vec<Merge> = merges.into_iter().map(Merge::from).collect();
        merges.sort_by_key(|m| (m.at, m.id));
        merges.dedup_by_key(|m| m.id);
        let mut visitor_ids: Vec<String> = visitors.into_iter().map(|(v,)| v).collect();
        visitor_ids.sort_unstable();
        let mut events: Vec<StoredEvent> = events.into_iter().map(StoredEvent::from).collect();
        events.sort_by_key(|e| (e.at, e.id));
        Ok(PersonalRecords {
            events,
            inbox,
            external_ids: external_ids.into_iter().map(ExternalId::from).collect(),
            visitor_ids,
            merges,
        })
    }

    async fn sweep_inbox(&self, what: Retained, before: Timestamp, now: Timestamp) -> Result<u64> {
        let (set, held) = what.set_and_held();
        let update = format!(
            "UPDATE inbox SET {set} WHERE processed_at >= $1 AND processed_at < $2 \
             AND status IN ('processed', 'rejected') AND {held}"
        );
        let mut changed = 0;
        loop {
            let mut tx = self.write.begin_with(BEGIN).await?;
            let from: i64 = sqlx::query_scalar("SELECT up_to FROM retention_sweeps WHERE what = $1")
                .bind(what.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or(i64::MIN);
            if from >= before.0 {
                return Ok(changed);
            }
            // Up to the next few thousand items at most, whole instants at a time.
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT processed_at FROM inbox WHERE processed_at >= $1 AND processed_at < $2 \
                 ORDER BY processed_at LIMIT 1 OFFSET $3",
            )
            .bind(from)
            .bind(before.0)
            .bind(crate::privacy::SWEEP_ITEMS)
            .fetch_optional(&mut *tx)
            .await?;
            let until = next.unwrap_or(before.0).max(from.saturating_add(1));
            let mut statement = sqlx::query(&update).bind(from).bind(until);
            if what == Retained::Bodies {
                statement = statement.bind(&[] as &[u8]).bind(now.0);
            }
            let done = statement.execute(&mut *tx).await?;
            changed += done.rows_affected();
            sqlx::query(
                "INSERT INTO retention_sweeps (what, up_to) VALUES ($1, $2) ON CONFLICT (what) DO UPDATE \
                 SET up_to = CASE WHEN excluded.up_to > retention_sweeps.up_to THEN excluded.up_to \
                 ELSE retention_sweeps.up_to END",
            )
            .bind(what.as_str())
            .bind(until)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
    }
}

#[async_trait]
impl PrivacyWrites for SqlTx {
    async fn insert_consents(&mut self, records: &[ConsentRecord]) -> Result<()> {
        for r in records {
            self.changes.note(r.contact_id, leadgate_core::changes::ChangeKind::ConsentChanged);
        }
        insert_many(
            &mut self.tx,
            "INSERT INTO consents (contact_id, purpose, granted, source, at, actor, reason) ",
            records,
            |b, r| {
                b.push_bind(r.contact_id)
                    .push_bind(r.purpose.as_str())
                    .push_bind(r.granted)
                    .push_bind(r.source.as_str())
                    .push_bind(r.at.0)
                    .push_bind(r.actor.as_str())
                    .push_bind(r.reason.as_deref());
            },
        )
        .await
    }

    async fn insert_audit(&mut self, e: &AuditEntry) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (at, actor, action, contact_id, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(e.at.0)
            .bind(e.actor.as_str())
            .bind(e.action.as_str())
            .bind(e.contact_id)
            .bind(e.detail.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn merged_into_for_update(&mut self, id: Uuid) -> Result<Vec<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE merged_into = $1 ORDER BY id{}", LOCK);
        let rows: Vec<ContactRow> = sqlx::query_as(&sql).bind(id).fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(Contact::try_from).collect()
    }

    async fn privacy_for_update(&mut self, contact: Uuid) -> Result<ContactPrivacy> {
        let sql = format!("SELECT legal_hold, erased FROM contact_privacy WHERE contact_id = $1{}", LOCK);
        let row: Option<PrivacyRow> = sqlx::query_as(&sql).bind(contact).fetch_optional(&mut *self.tx).await?;
        Ok(row
            .map_or_else(|| ContactPrivacy { contact_id: contact, ..Default::default() }, |r| r.into_privacy(contact)))
    }

    async fn save_privacy(&mut self, p: &ContactPrivacy) -> Result<()> {
        sqlx::query(
            "INSERT INTO contact_privacy (contact_id, legal_hold, erased) VALUES ($1, $2, $3) \
             ON CONFLICT (contact_id) DO UPDATE SET legal_hold = excluded.legal_hold, erased = excluded.erased",
        )
        .bind(p.contact_id)
        .bind(p.legal_hold.as_ref().map(crate::privacy::stamped_hold))
        .bind(p.erased.as_ref().map(crate::privacy::stamped_erasure))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn erase_personal_data(&mut self, contacts: &[Contact], at: Timestamp) -> Result<Erased> {
        let nothing = Json(serde_json::Map::new());
        let mut erased = Erased::default();
        let mut merges_seen = std::collections::HashSet::new();
        for original in contacts {
            let id = original.id;
            // What this transaction gathered of the person goes; the entry says
            // only that they were erased (earlier entries hold no personal data).
            self.changes.forget(&id);
            self.changes.note(id, leadgate_core::changes::ChangeKind::Erased);
            let mut contact = original.clone();
            erasure::erase_contact(&mut contact, at);
            ContactWrites::update_contact(self, &contact).await?;
            let tx = &mut *self.tx;
            sqlx::query("UPDATE contacts SET qualification = $2, import_fingerprint = NULL WHERE id = $1")
                .bind(id)
                .bind(&nothing)
                .execute(&mut *tx)
                .await?;
            erased.contacts += 1;

            // What its responses said, and the verdicts' evidence.
            let done = sqlx::query(
                "UPDATE responses SET message = NULL, fields = $2, contact_fields = $2, referrer = NULL \
                 WHERE contact_id = $1",
            )
            .bind(id)
            .bind(&nothing)
            .execute(&mut *tx)
            .await?;
            erased.responses += done.rows_affected();
            let judged: Vec<(Uuid, String)> =
                sqlx::query_as("SELECT id, junk FROM responses WHERE contact_id = $1 AND junk IS NOT NULL")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (response, junk) in judged {
                sqlx::query("UPDATE responses SET junk = $2 WHERE id = $1")
                    .bind(response)
                    .bind(erasure::verdict_only(&junk))
                    .execute(&mut *tx)
                    .await?;
            }
            let judged: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, detail FROM stage_changes WHERE contact_id = $1 AND cause = 'junk'")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (change, detail) in judged {
                sqlx::query("UPDATE stage_changes SET detail = $2 WHERE id = $1")
                    .bind(change)
                    .bind(erasure::verdict_only(&detail))
                    .execute(&mut *tx)
                    .await?;
            }

            // Its events, and those sent for its email and never attached to it:
            // what they carried, whose they were, and the queries of their pages.
            let mut events: Vec<(i64, Option<String>)> =
                sqlx::query_as("SELECT id, url FROM events WHERE contact_id = $1").bind(id).fetch_all(&mut *tx).await?;
            let attached = events.len();
            if let Some(email) = &original.email {
                let sql = format!("SELECT id, url FROM events WHERE email = $1 AND contact_id IS NULL{}", WAITING);
                events.extend(
                    sqlx::query_as::<_, (i64, Option<String>)>(&sql).bind(email.as_str()).fetch_all(&mut *tx).await?,
                );
            }
            let pages: Vec<(i64, &str)> = events
                .iter()
                .filter_map(|(event, url)| {
                    let url = url.as_deref()?;
                    let page = erasure::page_only(url);
                    (page != url).then_some((*event, page))
                })
                .collect();
            // Many at a time: a contact may have tens of thousands.
            for chunk in crate::sql::statement_chunks(&pages) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE events SET url = v.column2 FROM (");
                qb.push_values(chunk, |mut b, (event, page)| {
                    b.push_bind(*event).push_bind(*page);
                });
                qb.push(") AS v WHERE events.id = v.column1");
                qb.build().execute(&mut *tx).await?;
            }
            // Its packed events hold their pages too.
            let moved_pages =
                events[..attached].iter().any(|(_, url)| url.as_deref().is_some_and(|u| erasure::page_only(u) != u));
            if moved_pages {
                repack(&mut *tx, &[id]).await?;
            }
            sqlx::query("UPDATE events SET email = NULL, visitor_id = NULL, props = $2 WHERE contact_id = $1")
                .bind(id)
                .bind(&nothing)
                .execute(&mut *tx)
                .await?;
            let waiting: Vec<i64> = events[attached..].iter().map(|(e, _)| *e).collect();
            for chunk in crate::sql::statement_chunks(&waiting) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE events SET email = NULL, visitor_id = NULL, props = ");
                qb.push_bind(&nothing).push(" WHERE id IN (");
                let mut ids = qb.separated(", ");
                for event in chunk {
                    ids.push_bind(*event);
                }
                qb.push(")");
                qb.build().execute(&mut *tx).await?;
            }
            erased.events += events.len() as u64;

            let done = sqlx::query("DELETE FROM visitors WHERE contact_id = $1").bind(id).execute(&mut *tx).await?;
            erased.visitor_ids += done.rows_affected();
            let done = sqlx::query("DELETE FROM external_ids WHERE contact_id = $1").bind(id).execute(&mut *tx).await?;
            erased.external_ids += done.rows_affected();
            // Without its digest, so that the next scores, factors and all, are written.
            sqlx::query("UPDATE contact_scores SET likelihood_factors = NULL, digest = NULL WHERE contact_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;

            // Recorded field changes keep only what is not personal.
            let changes: Vec<(i64, Json<serde_json::Map<String, serde_json::Value>>)> =
                sqlx::query_as("SELECT id, changes FROM contact_changes WHERE contact_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (change, Json(fields)) in changes {
                let kept = erasure::anonymous_change(&fields);
                if kept.as_ref() == Some(&fields) {
                    continue;
                }
                erased.field_changes += 1;
                match kept {
                    Some(kept) => {
                        sqlx::query("UPDATE contact_changes SET changes = $2 WHERE id = $1")
                            .bind(change)
                            .bind(Json(kept))
                            .execute(&mut *tx)
                            .await?
                    }
                    None => {
                        sqlx::query("DELETE FROM contact_changes WHERE id = $1").bind(change).execute(&mut *tx).await?
                    }
                };
            }

            // Merges keep both records as they were before: both are this person,
            // unless the merge was undone (then the other is someone else).
            let merges: Vec<(Uuid, Uuid, Json<leadgate_core::merge::Before>, Option<i64>)> = sqlx::query_as(
                "SELECT id, contact_id, before, undone_at FROM merges WHERE contact_id = $1 OR other_id = $1",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            for (merge, survivor, Json(mut before), undone_at) in merges {
                let both = undone_at.is_none();
                if both || survivor == id {
                    erasure::erase_contact(&mut before.contact, at);
                }
                if both || survivor != id {
                    erasure::erase_contact(&mut before.other, at);
                }
                sqlx::query("UPDATE merges SET before = $2 WHERE id = $1")
                    .bind(merge)
                    .bind(Json(&before))
                    .execute(&mut *tx)
                    .await?;
                if merges_seen.insert(merge) {
                    erased.merges += 1;
                }
            }

            // Its inquiries as received, and those naming its email that became
            // no contact.
            let mut items: Vec<Uuid> =
                sqlx::query_scalar("SELECT inbox_id FROM responses WHERE contact_id = $1 AND inbox_id IS NOT NULL")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            if let Some(email) = &original.email {
                items.extend(unlinked_items_naming(&mut *tx, email).await?);
            }
            items.sort_unstable();
            items.dedup();
            for chunk in crate::sql::statement_chunks(&items) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE inbox SET body = ");
                qb.push_bind(&[] as &[u8]).push(", body_removed_at = ").push_bind(at.0).push(
                    ", query = NULL, remote_ip = NULL, user_agent = NULL, \
                           error = CASE WHEN error IS NULL THEN NULL ELSE 'erased' END WHERE id IN (",
                );
                let mut ids = qb.separated(", ");
                for item in chunk {
                    ids.push_bind(*item);
                }
                qb.push(")");
                erased.inbox_items += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            // Row errors of imports that quote its email.
            if let Some(email) = &original.email {
                let email = email.to_ascii_lowercase();
                let sql = format!("SELECT id, errors FROM imports WHERE {}", ERRORS_HOLD);
                let jobs: Vec<(Uuid, Json<Vec<leadgate_core::import::RowError>>)> =
                    sqlx::query_as(&sql).bind(email.as_str()).fetch_all(&mut *tx).await?;
                for (job, Json(mut errors)) in jobs {
                    for e in errors.iter_mut().filter(|e| e.message.to_ascii_lowercase().contains(&email)) {
                        e.message = "(erased)".into();
                    }
                    sqlx::query("UPDATE imports SET errors = $2 WHERE id = $1")
                        .bind(job)
                        .bind(Json(&errors))
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        Ok(erased)
    }
}
