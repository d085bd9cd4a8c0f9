//! [`crate::ports::ImportJobs`] and [`crate::ports::ImportWrites`].

use super::*;

#[async_trait]
impl ImportJobs for SqlStore {
    async fn bulk_load(&self, bulk: &Bulk) -> Result<()> {
        let mut tx = SqlTx::new(self.write.begin_with(BEGIN).await?);
        tx.insert_bulk(bulk).await?;
        tx.finish().await?;
        Ok(())
    }

    async fn save_import(&self, j: &ImportJob) -> Result<()> {
        sqlx::query(
            "INSERT INTO imports (id, status, dry_run, file_name, mapping, actor, created_at, updated_at, \
             finished_at, counts, errors, error_count, failure) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (id) DO UPDATE SET status = $2, updated_at = $8, finished_at = $9, counts = $10, \
             errors = $11, error_count = $12, failure = $13",
        )
        .bind(j.id)
        .bind(j.status.as_str())
        .bind(j.dry_run)
        .bind(j.file_name.as_deref())
        .bind(j.mapping.as_str())
        .bind(j.actor.as_str())
        .bind(j.created_at.0)
        .bind(j.updated_at.0)
        .bind(j.finished_at.map(|t| t.0))
        .bind(Json(&j.counts))
        .bind(Json(&j.errors))
        .bind(i64::try_from(j.error_count).unwrap_or(i64::MAX))
        .bind(j.failure.as_deref())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn import_job(&self, id: Uuid) -> Result<Option<ImportJob>> {
        let sql = format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1");
        let row: Option<ImportJobRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.read).await?;
        row.map(ImportJob::try_from).transpose()
    }

    async fn imports(&self, limit: i64) -> Result<Vec<ImportJob>> {
        let sql = format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY created_at DESC, id DESC LIMIT $1");
        let rows: Vec<ImportJobRow> = sqlx::query_as(&sql).bind(limit).fetch_all(&self.read).await?;
        rows.into_iter().map(ImportJob::try_from).collect()
    }
}

#[async_trait]
impl ImportWrites for SqlTx {
    async fn insert_bulk(&mut self, bulk: &Bulk) -> Result<()> {
        {
            use leadgate_core::changes::ChangeKind;
            let c = &mut self.changes;
            for contact in &bulk.contacts {
                c.note(contact.id, ChangeKind::Created);
                c.note(contact.id, ChangeKind::Imported);
            }
            for contact in &bulk.updated_contacts {
                c.note(contact.id, ChangeKind::FieldsChanged);
                c.note(contact.id, ChangeKind::Imported);
            }
            for change in &bulk.contact_changes {
                c.note(change.contact_id, ChangeKind::FieldsChanged);
            }
            for r in &bulk.responses {
                c.response(r.contact_id);
            }
            for s in &bulk.stage_changes {
                c.stage(s);
            }
        }
        let tx = &mut self.tx;
        insert_many(tx, INSERT_ACCOUNT, &bulk.accounts, |b, a| {
            b.push_bind(a.id).push_bind(a.domain.as_str()).push_bind(a.name.as_deref()).push_bind(a.created_at.0);
        })
        .await?;
        // New contacts are written with their stage steps and responses packed
        // already: appended to after they were written, each row was written twice.
        let new: std::collections::HashSet<Uuid> = bulk.contacts.iter().map(|c| c.id).collect();
        let packed = crate::sql::Packed::of_new(&new, &bulk.stage_changes, &bulk.responses);
        let nothing = crate::sql::Packed::default();
        insert_many(tx, INSERT_CONTACT, &bulk.contacts, |b, c| {
            push_contact_values(b, c, bulk.fingerprints.get(&c.id).copied(), packed.get(&c.id).unwrap_or(&nothing))
        })
        .await?;
        for c in &bulk.updated_contacts {
            self.update_contact(c).await?;
        }
        let tx = &mut self.tx;
        // Fingerprints of contacts that existed already, in statements of fixed sizes.
        let mut marks: Vec<(Uuid, i64)> = bulk.fingerprints.iter().map(|(id, f)| (*id, *f)).collect();
        if !marks.is_empty() {
            marks.retain(|(id, _)| !new.contains(id));
            marks.sort_unstable();
            for chunk in crate::sql::statement_chunks(&marks) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE contacts SET import_fingerprint = v.column2 FROM (");
                qb.push_values(chunk, |mut b, (id, f)| {
                    b.push_bind(*id).push_bind(*f);
                });
                qb.push(") AS v WHERE contacts.id = v.column1");
                qb.build().persistent(true).execute(&mut **tx).await?;
            }
        }
        insert_many(tx, "INSERT INTO external_ids (system, external_id, contact_id) ", &bulk.external_ids, |b, x| {
            b.push_bind(x.system.as_str()).push_bind(x.external_id.as_str()).push_bind(x.contact_id);
        })
        .await?;
        insert_many(
            tx,
            "INSERT INTO contact_changes (contact_id, at, cause, actor, changes) ",
            &bulk.contact_changes,
            |b, c| {
                b.push_bind(c.contact_id)
                    .push_bind(c.at.0)
                    .push_bind(c.cause.as_str())
                    .push_bind(c.actor.as_str())
                    .push_bind(Json(&c.changes));
            },
        )
        .await?;
        let existed = |c: &Uuid| !new.contains(c);
        insert_responses(tx, &bulk.responses, existed).await?;
        insert_stage_changes(tx, &bulk.stage_changes, existed).await?;
        if let Some(first) = bulk.events.first() {
            insert_events(tx, &mut self.changes, &bulk.events, first.at, false).await?;
        }
        crate::PrivacyWrites::insert_consents(self, &bulk.consents).await?;
        Ok(())
    }

    async fn find_by_emails(&mut self, emails: &[&str]) -> Result<Vec<(String, crate::Found)>> {
        let head = "SELECT email, id, merged_into, import_fingerprint FROM contacts WHERE email IN (";
        find_through(&mut self.tx, head, None, emails).await
    }

    async fn find_by_ids(&mut self, ids: &[Uuid]) -> Result<Vec<(Uuid, crate::Found)>> {
        let head = "SELECT id AS found_by, id, merged_into, import_fingerprint FROM contacts WHERE id IN (";
        find_through(&mut self.tx, head, None, ids).await
    }

    async fn find_by_external_ids(&mut self, system: &str, ids: &[&str]) -> Result<Vec<(String, crate::Found)>> {
        // The system is bound once per statement, before the id list.
        let head = "SELECT x.external_id, c.id, c.merged_into, c.import_fingerprint FROM external_ids x \
             JOIN contacts c ON c.id = x.contact_id WHERE x.system = ";
        find_through(&mut self.tx, head, Some(system), ids).await
    }

    async fn contacts_by_ids(&mut self, ids: &[Uuid]) -> Result<Vec<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id IN (");
        contacts_of(fetch_in(&mut self.tx, &sql, ids).await?)
    }

    async fn accounts_by_domains(&mut self, domains: &[&str]) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> =
            fetch_in(&mut self.tx, "SELECT id, domain, name, created_at FROM accounts WHERE domain IN (", domains)
                .await?;
        Ok(rows.into_iter().map(Account::from).collect())
    }

    async fn history_keys(&mut self, contacts: &[Uuid], events: bool) -> Result<HistoryKeys> {
        let mut keys = HistoryKeys::default();
        let rows: Vec<(Uuid, i64, String, Option<String>)> = fetch_in(
            &mut self.tx,
            "SELECT contact_id, at, action, channel FROM responses WHERE contact_id IN (",
            contacts,
        )
        .await?;
        keys.responses = rows.into_iter().map(|(c, at, a, ch)| (c, Timestamp(at), a, ch)).collect();
        let rows: Vec<(Uuid, String, i64)> = fetch_in(
            &mut self.tx,
            "SELECT contact_id, to_stage, at FROM stage_changes WHERE contact_id IN (",
            contacts,
        )
        .await?;
        keys.stages = rows.into_iter().map(|(c, to, at)| Ok((c, stage(&to)?, Timestamp(at)))).collect::<Result<_>>()?;
        if events {
            let rows: Vec<(Uuid, Vec<u8>)> = fetch_in_grouped(
                &mut self.tx,
                "SELECT contact_id, events FROM event_packs WHERE contact_id IN (",
                ") ORDER BY contact_id, seq",
                contacts,
            )
            .await?;
            let packed = crate::packs::unpack_by_contact(&rows, Timestamp(i64::MIN), None)?;
            keys.events = packed
                .into_iter()
                .flat_map(|u| {
                    let c = u.contact;
                    u.events.into_iter().map(move |e| (c, e.kind.to_string(), e.at, e.url.map(|u| u.to_string())))
                })
                .collect();
        }
        Ok(keys)
    }
}
