//! [`crate::Tx`] as `impl_sql_store!` implements it: every write of a transaction,
//! each recording what it changed for the change feed. Expanded inside
//! `impl_sql_store!`, whose imports and helper functions it uses.

macro_rules! impl_sql_writes {
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
        impl $tx {
            /// Writes `scores` with statements of many rows (a chunk each).
            pub(crate) async fn upsert_scores_in_chunks(
                &mut self,
                scores: &[leadgate_core::scoring::ContactScores],
            ) -> Result<()> {
                let (insert, update) = crate::sql_store::UPSERT_SCORES;
                for chunk in crate::sql_store::statement_chunks(scores) {
                    let json = chunk
                        .iter()
                        .map(|s| s.stored_json().map_err(|e| crate::StoreError::Corrupt(e.to_string())))
                        .collect::<Result<Vec<_>>>()?;
                    let mut qb = QueryBuilder::<$db>::new(insert);
                    qb.push_values(chunk.iter().zip(&json), |mut b, (s, json)| {
                        let a = &s.assessment;
                        b.push_bind(s.contact_id)
                            .push_bind(s.model.as_str())
                            .push_bind(a.fit)
                            .push_bind(a.engagement_at(a.as_of))
                            .push_bind(a.funnel.grade.as_str())
                            .push_bind(a.pain.grade.as_str())
                            .push_bind(Json(json.as_ref()))
                            .push_bind(a.as_of.0)
                            .push_bind(s.likelihood)
                            .push_bind(s.likelihood_factors.as_ref().map(Json));
                    });
                    qb.push(update);
                    qb.build().persistent(true).execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            /// One more than the highest version `sql` (`SELECT max(version) …`, with
            /// `$1` bound to `name` when given) finds; 1 for the first.
            async fn next_version(&mut self, sql: &'static str, name: Option<&str>) -> Result<i64> {
                let mut q = sqlx::query_as::<_, (Option<i64>,)>(sql);
                if let Some(name) = name {
                    q = q.bind(name);
                }
                let (n,) = q.fetch_one(&mut *self.tx).await?;
                Ok(n.unwrap_or(0) + 1)
            }
        }

        #[async_trait]
        impl Tx for $tx {
            async fn contact_by_email(&mut self, email: &str) -> Result<Option<Contact>> {
                // A merged contact's email leads to the contact it was merged into.
                let sql = format!(
                    "SELECT {} FROM contacts m JOIN contacts c ON c.id = COALESCE(m.merged_into, m.id) \
                     WHERE m.email = $1{}",
                    crate::rows::contact_columns_of_c(),
                    $lock
                );
                let row: Option<ContactRow> = sqlx::query_as(&sql).bind(email).fetch_optional(&mut *self.tx).await?;
                row.map(Contact::try_from).transpose()
            }

            async fn contact_by_id(&mut self, id: Uuid) -> Result<Option<Contact>> {
                let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1{}", $lock);
                let row: Option<ContactRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&mut *self.tx).await?;
                row.map(Contact::try_from).transpose()
            }

            async fn account_by_domain(&mut self, domain: &str) -> Result<Option<Account>> {
                let row: Option<AccountRow> =
                    sqlx::query_as("SELECT id, domain, name, created_at FROM accounts WHERE domain = $1")
                        .bind(domain)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                Ok(row.map(Account::from))
            }

            async fn insert_account(&mut self, a: &Account) -> Result<()> {
                sqlx::query("INSERT INTO accounts (id, domain, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(a.id)
                    .bind(a.domain.as_str())
                    .bind(a.name.as_deref())
                    .bind(a.created_at.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

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
                let packed = crate::sql_store::Packed::of_new(&new, &bulk.stage_changes, &bulk.responses);
                let nothing = crate::sql_store::Packed::default();
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
                    for chunk in crate::sql_store::statement_chunks(&marks) {
                        let mut qb = QueryBuilder::<$db>::new("UPDATE contacts SET import_fingerprint = v.column2 FROM (");
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
                let rows: Vec<(Uuid, String, i64)> =
                    fetch_in(&mut self.tx, "SELECT contact_id, to_stage, at FROM stage_changes WHERE contact_id IN (", contacts)
                        .await?;
                keys.stages = rows
                    .into_iter()
                    .map(|(c, to, at)| Ok((c, stage(&to)?, Timestamp(at))))
                    .collect::<Result<_>>()?;
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

            async fn insert_contact(&mut self, c: &Contact) -> Result<()> {
                self.changes.note(c.id, leadgate_core::changes::ChangeKind::Created);
                let nothing = crate::sql_store::Packed::default();
                insert_many(&mut self.tx, INSERT_CONTACT, std::slice::from_ref(c), |b, c| {
                    push_contact_values(b, c, None, &nothing)
                })
                .await
            }

            async fn update_contact(&mut self, c: &Contact) -> Result<()> {
                sqlx::query(
                    "UPDATE contacts SET email = $2, first_name = $3, last_name = $4, company = $5, title = $6, \
                     phone = $7, country = $8, account_id = $9, direction = $10, channel = $11, stage = $12, \
                     stage_at = $13, custom = $14, updated_at = $15, owner = $16, do_not_email = $17, \
                     do_not_call = $18 WHERE id = $1",
                )
                .bind(c.id)
                .bind(c.email.as_deref())
                .bind(c.first_name.as_deref())
                .bind(c.last_name.as_deref())
                .bind(c.company.as_deref())
                .bind(c.title.as_deref())
                .bind(c.phone.as_deref())
                .bind(c.country.as_deref())
                .bind(c.account_id)
                .bind(c.direction.as_str())
                .bind(c.channel.as_deref())
                .bind(c.stage.as_str())
                .bind(c.stage_at.0)
                .bind(Json(&c.custom))
                .bind(c.updated_at.0)
                .bind(c.owner.as_deref())
                .bind(c.do_not_email)
                .bind(c.do_not_call)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn insert_response(&mut self, r: &Response) -> Result<()> {
                self.changes.response(r.contact_id);
                insert_responses(&mut self.tx, std::slice::from_ref(r), |_| true).await
            }

            async fn insert_stage_change(&mut self, c: &StageChange) -> Result<()> {
                self.changes.stage(c);
                insert_stage_changes(&mut self.tx, std::slice::from_ref(c), |_| true).await
            }

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
                    $waiting
                );
                let done = sqlx::query(&sql).bind(visitor_id)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() > 0 {
                    let owner: Uuid = sqlx::query_scalar("SELECT contact_id FROM visitors WHERE visitor_id = $1")
                        .bind(visitor_id)
                        .fetch_one(&mut *self.tx)
                        .await?;
                    repack(&mut *self.tx, &[owner]).await?;
                    self.changes.attached(owner, done.rows_affected());
                }
                Ok(done.rows_affected())
            }

            async fn attach_events_by_email(&mut self, email: &str, contact_id: Uuid) -> Result<u64> {
                let sql = format!("UPDATE events SET contact_id = $1 WHERE email = $2 AND contact_id IS NULL{}", $waiting);
                let done = sqlx::query(&sql)
                    .bind(contact_id)
                    .bind(email)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() > 0 {
                    repack(&mut *self.tx, &[contact_id]).await?;
                    self.changes.attached(contact_id, done.rows_affected());
                }
                Ok(done.rows_affected())
            }

            async fn insert_contact_change(&mut self, c: &ContactChange) -> Result<i64> {
                self.changes.note(c.contact_id, leadgate_core::changes::ChangeKind::FieldsChanged);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO contact_changes (contact_id, at, cause, actor, changes) VALUES ($1, $2, $3, $4, $5) \
                     RETURNING id",
                )
                .bind(c.contact_id)
                .bind(c.at.0)
                .bind(c.cause.as_str())
                .bind(c.actor.as_str())
                .bind(Json(&c.changes))
                .fetch_one(&mut *self.tx)
                .await?;
                Ok(id)
            }

            async fn delete_contact_change(&mut self, id: i64) -> Result<()> {
                sqlx::query("DELETE FROM contact_changes WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
                Ok(())
            }

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
                let mut moved = Moved::default();
                moved.responses = sqlx::query_scalar("UPDATE responses SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *tx)
                    .await?;
                moved.stage_changes =
                    sqlx::query_scalar("UPDATE stage_changes SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                        .bind(from)
                        .bind(to)
                        .fetch_all(&mut *tx)
                        .await?;
                if !moved.stage_changes.is_empty() || !moved.responses.is_empty() {
                    repack_on_contacts(&mut *tx, &[from, to]).await?;
                }
                moved.events = sqlx::query_scalar("UPDATE events SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *tx)
                    .await?;
                if !moved.events.is_empty() {
                    repack(&mut *tx, &[from, to]).await?;
                }
                moved.contact_changes =
                    sqlx::query_scalar("UPDATE contact_changes SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                        .bind(from)
                        .bind(to)
                        .fetch_all(&mut *tx)
                        .await?;
                moved.external_ids = sqlx::query_as(
                    "UPDATE external_ids SET contact_id = $2 WHERE contact_id = $1 RETURNING system, external_id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
                moved.visitors =
                    sqlx::query_scalar("UPDATE visitors SET contact_id = $2 WHERE contact_id = $1 RETURNING visitor_id")
                        .bind(from)
                        .bind(to)
                        .fetch_all(&mut *tx)
                        .await?;
                moved.merged = sqlx::query_scalar("UPDATE contacts SET merged_into = $2 WHERE merged_into = $1 RETURNING id")
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *tx)
                    .await?;
                moved.consents = sqlx::query_scalar("UPDATE consents SET contact_id = $2 WHERE contact_id = $1 RETURNING id")
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *tx)
                    .await?;
                // Listed in a stable order, so that a merge reads the same on both databases.
                moved.responses.sort_unstable();
                moved.stage_changes.sort_unstable();
                moved.events.sort_unstable();
                moved.contact_changes.sort_unstable();
                moved.external_ids.sort_unstable();
                moved.visitors.sort_unstable();
                moved.merged.sort_unstable();
                moved.consents.sort_unstable();
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
                were.extend(fetch_in::<(Uuid,), _>(&mut *tx, "SELECT DISTINCT contact_id FROM responses WHERE id IN (", &m.responses).await?);
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
                let sql = format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = $1{}", $lock);
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

            async fn insert_form(&mut self, f: &Form) -> Result<()> {
                sqlx::query(
                    "INSERT INTO forms (id, key, name, channel, offer, campaign, allowed_origins, thank_you_url, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(f.id)
                .bind(f.key.as_str())
                .bind(f.name.as_str())
                .bind(f.channel.as_deref())
                .bind(f.offer.as_deref())
                .bind(f.campaign.as_deref())
                .bind(Json(&f.allowed_origins))
                .bind(f.thank_you_url.as_deref())
                .bind(f.created_at.0)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn insert_api_key(&mut self, k: &ApiKey) -> Result<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, name, role, key_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(k.id)
                .bind(k.name.as_str())
                .bind(k.role.as_str())
                .bind(k.key_hash.as_slice())
                .bind(k.created_at.0)
                .bind(k.revoked_at.map(|t| t.0))
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn revoke_api_key(&mut self, id: Uuid, at: Timestamp) -> Result<bool> {
                let done = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(at.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

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

            async fn set_qualification(&mut self, contact_id: Uuid, q: &Qualification) -> Result<()> {
                self.changes.note(contact_id, leadgate_core::changes::ChangeKind::QualificationChanged);
                sqlx::query("UPDATE contacts SET qualification = $2 WHERE id = $1")
                    .bind(contact_id)
                    .bind(Json(q))
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn save_scores(&mut self, scores: &[leadgate_core::scoring::ContactScores]) -> Result<()> {
                for s in scores {
                    self.changes.note(s.contact_id, leadgate_core::changes::ChangeKind::ScoresChanged);
                }
                self.upsert_scores(scores).await
            }

            async fn insert_likelihood_model(&mut self, m: &leadgate_core::likelihood::TrainedModel, predictor: &str) -> Result<i64> {
                let version = self.next_version("SELECT max(version) FROM likelihood_models", None).await?;
                sqlx::query(
                    "INSERT INTO likelihood_models (version, options, evaluation, predictor, author, trained_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(version)
                .bind(Json(&m.options))
                .bind(Json(&m.evaluation))
                .bind(predictor)
                .bind(m.author.as_str())
                .bind(m.trained_at.0)
                .execute(&mut *self.tx)
                .await?;
                Ok(version)
            }

            async fn next_model_version(&mut self, name: &str) -> Result<i64> {
                self.next_version("SELECT max(version) FROM scoring_models WHERE name = $1", Some(name)).await
            }

            async fn insert_scoring_model(&mut self, m: &leadgate_core::scoring::ModelVersion) -> Result<()> {
                sqlx::query(
                    "INSERT INTO scoring_models (name, version, spec, source, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(m.name.as_str())
                .bind(m.version)
                .bind(Json(&m.spec))
                .bind(m.source.as_str())
                .bind(m.author.as_str())
                .bind(m.created_at.0)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn next_definition_version(&mut self, name: &str) -> Result<i64> {
                self.next_version("SELECT max(version) FROM definitions WHERE name = $1", Some(name)).await
            }

            async fn insert_definition(&mut self, d: &leadgate_core::definition::Definition) -> Result<()> {
                sqlx::query(
                    "INSERT INTO definitions (name, version, kind, expression, note, author, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(d.name.as_str())
                .bind(d.version)
                .bind(d.kind.as_str())
                .bind(d.expression.as_str())
                .bind(d.note.as_deref())
                .bind(d.author.as_str())
                .bind(d.created_at.0)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn activate(&mut self, a: &leadgate_core::model::Activation) -> Result<()> {
                sqlx::query(
                    "INSERT INTO activations (kind, name, target, version, at, actor) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (kind, name) DO UPDATE SET target = excluded.target, version = excluded.version, \
                     at = excluded.at, actor = excluded.actor",
                )
                .bind(a.kind.as_str())
                .bind(a.name.as_str())
                .bind(a.target.as_str())
                .bind(a.version)
                .bind(a.at.0)
                .bind(a.actor.as_str())
                .execute(&mut *self.tx)
                .await?;
                sqlx::query("INSERT INTO activation_log (kind, target, version, at, actor) VALUES ($1, $2, $3, $4, $5)")
                    .bind(a.kind.as_str())
                    .bind(a.target.as_str())
                    .bind(a.version)
                    .bind(a.at.0)
                    .bind(a.actor.as_str())
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn deactivate(&mut self, kind: &str, name: &str, at: Timestamp, actor: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM activations WHERE kind = $1 AND name = $2")
                    .bind(kind)
                    .bind(name)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    sqlx::query("INSERT INTO activation_log (kind, target, version, at, actor) VALUES ($1, $2, NULL, $3, $4)")
                        .bind(kind)
                        .bind(name)
                        .bind(at.0)
                        .bind(actor)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(done > 0)
            }

            async fn move_stage(&mut self, c: &StageChange) -> Result<bool> {
                let Some(from) = c.from else { return Ok(false) };
                let moved = sqlx::query(
                    "UPDATE contacts SET stage = $2, stage_at = $3, updated_at = $3 WHERE id = $1 AND stage = $4",
                )
                .bind(c.contact_id)
                .bind(c.to.as_str())
                .bind(c.at.0)
                .bind(from.as_str())
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
                if moved > 0 {
                    self.changes.stage(c);
                    insert_stage_changes(&mut self.tx, std::slice::from_ref(c), |_| true).await?;
                }
                Ok(moved > 0)
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

            async fn commit(self: Box<Self>) -> Result<Option<leadgate_core::changes::Position>> {
                self.finish().await
            }

            fn note_change(&mut self, contact: Uuid, kind: leadgate_core::changes::ChangeKind) {
                self.changes.note(contact, kind);
            }

            async fn rollback(self: Box<Self>) -> Result<()> {
                self.tx.rollback().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_sql_writes;
