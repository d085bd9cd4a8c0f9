//! [`crate::Store`] as `impl_sql_store!` implements it: the reads, and the few writes
//! that are transactions of their own (a batch of events, a bulk load). Expanded inside
//! `impl_sql_store!`, whose imports and helper functions it uses.

macro_rules! impl_sql_reads {
    (
        $store:ty,
        $tx:ident,
        $db:ty,
        $backend:literal,
        begin = $begin:literal,
        lock = $lock:literal,
        waiting = $waiting:expr,
        pack = $pack:expr,
        steps = $steps:expr,
        responses = $responses:expr,
        bytes = $bytes:literal,
        feed = $feed:ident
    ) => {
        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            async fn close(&self) {
                self.close_pools().await;
            }

            async fn begin(&self) -> Result<Box<dyn Tx>> {
                Ok(Box::new($tx::new(self.write.begin_with($begin).await?)))
            }

            async fn form_by_key(&self, key: &str) -> Result<Option<Form>> {
                let row: Option<FormRow> = sqlx::query_as(
                    "SELECT id, key, name, channel, offer, campaign, allowed_origins, thank_you_url, created_at \
                     FROM forms WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(&self.read)
                .await?;
                Ok(row.map(Form::from))
            }

            async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKey>> {
                let row: Option<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, name, role, key_hash, created_at, revoked_at FROM api_keys WHERE key_hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.read)
                .await?;
                row.map(ApiKey::try_from).transpose()
            }

            async fn api_keys(&self) -> Result<Vec<ApiKey>> {
                let rows: Vec<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, name, role, key_hash, created_at, revoked_at FROM api_keys ORDER BY created_at",
                )
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(ApiKey::try_from).collect()
            }

            async fn contact(&self, id: Uuid) -> Result<Option<Contact>> {
                let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
                let row: Option<ContactRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.read).await?;
                row.map(Contact::try_from).transpose()
            }

            async fn account(&self, id: Uuid) -> Result<Option<Account>> {
                let row: Option<AccountRow> =
                    sqlx::query_as("SELECT id, domain, name, created_at FROM accounts WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.read)
                        .await?;
                Ok(row.map(Account::from))
            }

            async fn contacts(&self, f: &ContactFilter, after: Option<Uuid>, limit: i64) -> Result<Vec<Contact>> {
                let mut qb =
                    QueryBuilder::<$db>::new(format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE merged_into IS NULL"));
                if let Some(email) = &f.email {
                    // A merged contact's email finds the contact it was merged into.
                    qb.push(" AND id IN (SELECT COALESCE(merged_into, id) FROM contacts WHERE email = ")
                        .push_bind(email.as_str())
                        .push(")");
                }
                if let Some(external_id) = &f.external_id {
                    qb.push(" AND id IN (SELECT contact_id FROM external_ids WHERE external_id = ").push_bind(external_id.as_str());
                    if let Some(system) = &f.system {
                        qb.push(" AND system = ").push_bind(system.as_str());
                    }
                    qb.push(")");
                }
                if let Some(stage) = f.stage {
                    qb.push(" AND stage = ").push_bind(stage.as_str());
                }
                if let Some(direction) = f.direction {
                    qb.push(" AND direction = ").push_bind(direction.as_str());
                }
                if let Some(channel) = &f.channel {
                    qb.push(" AND channel = ").push_bind(channel.as_str());
                }
                if let Some(after) = after {
                    qb.push(" AND id < ").push_bind(after);
                }
                qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
                let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(&self.read).await?;
                contacts_of(rows)
            }

            async fn contact_changes(&self, contact_id: Uuid) -> Result<Vec<ContactChange>> {
                let rows: Vec<ContactChangeRow> = sqlx::query_as(
                    "SELECT contact_id, at, cause, actor, changes FROM contact_changes WHERE contact_id = $1 ORDER BY at, id",
                )
                .bind(contact_id)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(ContactChange::from).collect())
            }

            async fn stage_history(&self, contact_id: Uuid) -> Result<Vec<StageChange>> {
                let rows: Vec<StageChangeRow> = sqlx::query_as(
                    "SELECT contact_id, from_stage, to_stage, at, cause, detail, actor, value FROM stage_changes \
                     WHERE contact_id = $1 ORDER BY at, id",
                )
                .bind(contact_id)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(StageChange::try_from).collect()
            }

            async fn responses(&self, contact_id: Uuid) -> Result<Vec<Response>> {
                let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses WHERE contact_id = $1 ORDER BY at DESC, id DESC");
                let rows: Vec<ResponseRow> = sqlx::query_as(&sql).bind(contact_id).fetch_all(&self.read).await?;
                rows.into_iter().map(Response::try_from).collect()
            }

            async fn recent_events(&self, contact_id: Uuid, limit: i64) -> Result<Vec<StoredEvent>> {
                let rows: Vec<EventRow> = sqlx::query_as(
                    "SELECT id, contact_id, email, visitor_id, kind, at, url, props, received_at FROM events \
                     WHERE contact_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
                )
                .bind(contact_id)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(StoredEvent::from).collect())
            }

            async fn existing_contacts(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
                let mut conn = self.read.acquire().await?;
                fetch_in(&mut conn, "SELECT id, COALESCE(merged_into, id) FROM contacts WHERE id IN (", ids).await
            }

            async fn refresh_statistics(&self) -> Result<()> {
                if $backend == "postgres" {
                    // On a connection that does not log it: it takes seconds, which sqlx
                    // would warn of as a slow statement.
                    use sqlx::{ConnectOptions, Connection};
                    let options = self.write.connect_options().as_ref().clone().disable_statement_logging();
                    let mut conn = options.connect().await?;
                    sqlx::query("ANALYZE").execute(&mut conn).await?;
                    conn.close().await?;
                }
                Ok(())
            }

            async fn live_contact_count(&self) -> Result<i64> {
                Ok(sqlx::query_scalar(crate::sql_store::COUNT_LIVE_CONTACTS).fetch_one(&self.read).await?)
            }

            async fn totals(&self) -> Result<Totals> {
                let sql = format!(
                    "SELECT ({}), (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM responses), \
                     (SELECT COUNT(*) FROM events)",
                    crate::sql_store::COUNT_LIVE_CONTACTS
                );
                let row = sqlx::query(&sql).fetch_one(&self.read).await?;
                Ok(Totals {
                    contacts: row.try_get(0)?,
                    accounts: row.try_get(1)?,
                    responses: row.try_get(2)?,
                    events: row.try_get(3)?,
                })
            }

            async fn append_events(&self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Uuid>> {
                let mut tx = $tx::new(self.write.begin_with($begin).await?);
                let attached = insert_events(&mut tx.tx, &mut tx.changes, events, received_at, true).await?;
                tx.finish().await?;
                // The contacts that now have new events.
                let mut contacts: Vec<Uuid> = attached.into_iter().flatten().collect();
                contacts.sort_unstable();
                contacts.dedup();
                Ok(contacts)
            }

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
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {head}"));
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

            async fn bulk_load(&self, bulk: &Bulk) -> Result<()> {
                let mut tx = $tx::new(self.write.begin_with($begin).await?);
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
                let rows: Vec<AccountRow> =
                    self.rows_in("SELECT id, domain, name, created_at FROM accounts WHERE ", "id", &[], crate::Contacts::Ids(ids), "").await?;
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

            async fn contact_snapshots(&self, contacts: crate::Contacts<'_>, parts: crate::SnapshotParts) -> Result<Vec<crate::ContactSnapshot>> {
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
                    Some(until) => (format!("SELECT {columns} FROM responses WHERE junk IS NULL AND at <= $1 AND "), vec![until.0]),
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
                        Ok(crate::ByContact::of_groups(packed.into_iter().map(|u| (u.contact, u.events)).collect(), batch.contacts()))
                    };
                    return self.packed_events_then(contacts, since, until, then).await;
                }
                let (sql, bounds) = match until {
                    Some(until) => ("SELECT contact_id, kind, at, url, props FROM events WHERE at >= $1 AND at <= $2 AND ", vec![since.0, until.0]),
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
                let rows: Vec<(Uuid, Json<Qualification>)> =
                    self.rows_in("SELECT id, qualification FROM contacts WHERE ", "id", &[], crate::Contacts::Ids(contacts), "").await?;
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

            async fn scores(&self, contacts: &[Uuid]) -> Result<Vec<leadgate_core::scoring::ContactScores>> {
                let mut conn = self.read.acquire().await?;
                let rows: Vec<ScoresRow> = fetch_in(
                    &mut conn,
                    "SELECT contact_id, model, assessment, as_of, likelihood, likelihood_factors FROM contact_scores \
                     WHERE contact_id IN (",
                    contacts,
                )
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn scoring_model(&self, name: &str, version: Option<i64>) -> Result<Option<leadgate_core::scoring::ModelVersion>> {
                let row: Option<ModelRow> = sqlx::query_as(
                    "SELECT name, version, spec, source, author, created_at FROM scoring_models \
                     WHERE name = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
                )
                .bind(name)
                .bind(version)
                .fetch_optional(&self.read)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn likelihood_model(&self, version: Option<i64>) -> Result<Option<(leadgate_core::likelihood::TrainedModel, String)>> {
                let row: Option<LikelihoodModelRow> = sqlx::query_as(
                    "SELECT version, options, evaluation, predictor, author, trained_at FROM likelihood_models \
                     WHERE ($1 IS NULL OR version = $1) ORDER BY version DESC LIMIT 1",
                )
                .bind(version)
                .fetch_optional(&self.read)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn latest_likelihood_version(&self) -> Result<Option<i64>> {
                let (v,): (Option<i64>,) = sqlx::query_as("SELECT max(version) FROM likelihood_models").fetch_one(&self.read).await?;
                Ok(v)
            }

            async fn changes(
                &self,
                after: leadgate_core::changes::Position,
                limit: i64,
                kinds: leadgate_core::changes::Kinds,
            ) -> Result<crate::ChangesPage> {
                crate::changes::$feed::read(&self.read, after, limit, kinds).await
            }

            async fn last_change_position(&self) -> Result<leadgate_core::changes::Position> {
                crate::changes::$feed::last(&self.read).await
            }

            async fn last_change_written(&self) -> Result<leadgate_core::changes::Position> {
                crate::changes::$feed::last_written(&self.read).await
            }

            async fn feed_info(&self) -> Result<crate::FeedInfo> {
                crate::changes::$feed::info(&self.read).await
            }

            async fn prune_changes(&self, before: Timestamp) -> Result<u64> {
                crate::changes::$feed::prune(&self.write, before).await
            }

            async fn scoring_models(&self) -> Result<Vec<leadgate_core::scoring::ModelVersion>> {
                let rows: Vec<ModelRow> = sqlx::query_as(
                    "SELECT m.name, m.version, m.spec, m.source, m.author, m.created_at FROM scoring_models m \
                     WHERE m.version = (SELECT max(version) FROM scoring_models l WHERE l.name = m.name) ORDER BY m.name",
                )
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn definition(&self, name: &str, version: Option<i64>) -> Result<Option<leadgate_core::definition::Definition>> {
                let row: Option<DefinitionRow> = sqlx::query_as(
                    "SELECT name, version, kind, expression, note, author, created_at FROM definitions \
                     WHERE name = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
                )
                .bind(name)
                .bind(version)
                .fetch_optional(&self.read)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn definition_versions(&self, name: &str) -> Result<Vec<leadgate_core::definition::Definition>> {
                let rows: Vec<DefinitionRow> = sqlx::query_as(
                    "SELECT name, version, kind, expression, note, author, created_at FROM definitions \
                     WHERE name = $1 ORDER BY version",
                )
                .bind(name)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn definitions(&self) -> Result<Vec<leadgate_core::definition::Definition>> {
                let rows: Vec<DefinitionRow> = sqlx::query_as(
                    "SELECT d.name, d.version, d.kind, d.expression, d.note, d.author, d.created_at FROM definitions d \
                     WHERE d.version = (SELECT max(version) FROM definitions l WHERE l.name = d.name) ORDER BY d.name",
                )
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn activations(&self, kind: &str) -> Result<Vec<leadgate_core::model::Activation>> {
                let rows: Vec<ActivationRow> = sqlx::query_as(
                    "SELECT kind, name, target, version, at, actor FROM activations WHERE kind = $1 ORDER BY name",
                )
                .bind(kind)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }

    };
}

pub(crate) use impl_sql_reads;
