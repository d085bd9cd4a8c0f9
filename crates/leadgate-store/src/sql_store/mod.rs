//! The one implementation of [`Store`] and [`Tx`] that both adapters share.
//!
//! `impl_sql_store!` expands this code once for SQLite and once for PostgreSQL.
//! A macro rather than generics because sqlx's generic executor bounds make every
//! signature several lines of where-clauses; the SQL and the logic are written once
//! either way. Statements use `$N` placeholders, which both drivers bind by number.

/// Splits `n` rows into statement sizes drawn from a fixed set (1,024 and the powers of
/// two below it), so that each size's statement is prepared once and then reused: group
/// commits have every possible size, and re-parsing a large INSERT each time would cost
/// more than executing it. (1,024 rows of up to 17 columns stay under both databases'
/// parameter limits: 32,766 on SQLite, 65,535 on PostgreSQL.)
/// `items` cut into slices of [`statement_sizes`].
pub(crate) fn statement_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    statement_sizes(items.len()).map(move |size| {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        chunk
    })
}

pub(crate) fn statement_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    const MAX: usize = 1_024;
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= MAX { MAX } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
        n -= size;
        Some(size)
    })
}

/// The statements that read `select` (ending in `WHERE ` or `AND `, with `lead`
/// numbered parameters of its own) for `contacts` by `column`, then `tail`: each
/// statement's SQL, numbered parameters after the lead, and the ids it binds. A list
/// of ids takes statements of the sizes of [`statement_chunks`]; a run of ids, one
/// statement over the range from its first to its last.
pub(crate) fn statements(
    select: &str,
    column: &str,
    lead: usize,
    contacts: crate::Contacts<'_>,
    tail: &str,
) -> Vec<(String, Vec<uuid::Uuid>)> {
    let sql = |parameters: &str| format!("{select}{column}{parameters}{tail}");
    match contacts {
        crate::Contacts::Run([]) => Vec::new(),
        crate::Contacts::Run(ids) => {
            let range = format!(" BETWEEN ${} AND ${}", lead + 1, lead + 2);
            vec![(sql(&range), vec![ids[0], ids[ids.len() - 1]])]
        }
        crate::Contacts::Ids(ids) => statement_chunks(ids)
            .map(|chunk| {
                let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", lead + i + 1)).collect();
                (sql(&format!(" IN ({})", list.join(", "))), chunk.to_vec())
            })
            .collect(),
    }
}

/// The pack rows of a batch of contacts (`statements`' `select`, `column` and `tail`),
/// each contact's together and in order.
pub(crate) const PACK_ROWS: (&str, &str, &str) =
    ("SELECT contact_id, events FROM event_packs WHERE ", "contact_id", " ORDER BY contact_id, seq");

/// What new contacts' rows are written with: the stage changes and responses recorded
/// with them, packed (`crate::stage_steps`, `crate::responses_brief`).
#[derive(Debug, Default)]
pub(crate) struct Packed {
    pub(crate) stage_steps: Vec<u8>,
    pub(crate) responses: Vec<u8>,
}

impl Packed {
    /// Of the contacts `new`, what their rows keep of `changes` and `responses`.
    pub(crate) fn of_new(
        new: &std::collections::HashSet<uuid::Uuid>,
        changes: &[leadgate_core::lifecycle::StageChange],
        responses: &[leadgate_core::model::Response],
    ) -> std::collections::HashMap<uuid::Uuid, Packed> {
        let mut packed: std::collections::HashMap<uuid::Uuid, Packed> = std::collections::HashMap::new();
        for c in changes.iter().filter(|c| new.contains(&c.contact_id)) {
            encode_step(&mut packed.entry(c.contact_id).or_default().stage_steps, c);
        }
        for r in responses.iter().filter(|r| new.contains(&r.contact_id) && counts(r)) {
            crate::responses_brief::encode(&mut packed.entry(r.contact_id).or_default().responses, r);
        }
        packed
    }
}

/// Whether a response counts as something the contact did: one judged junk says nothing
/// of the person it names, so it is kept (in the contact's timeline, and its raw body
/// in the inbox) but neither packed in brief on the contact's row nor read with it for
/// an assessment (`Store::responses_of`): what the sender made up cannot qualify them.
pub(crate) fn counts(r: &leadgate_core::model::Response) -> bool {
    r.junk.is_none()
}

/// A stage change's record in its contact's packed stage steps.
pub(crate) fn encode_step(pack: &mut Vec<u8>, c: &leadgate_core::lifecycle::StageChange) {
    let step = leadgate_core::lifecycle::StageStep { to: c.to, at: c.at, value: c.value };
    crate::stage_steps::encode(pack, &step);
}

/// `records` encoded, each contact's together in the order given, the contacts sorted.
pub(crate) fn packs_by_contact<'r, T: 'r>(
    records: impl Iterator<Item = &'r T>,
    contact: impl Fn(&T) -> uuid::Uuid,
    encode: impl Fn(&mut Vec<u8>, &T),
) -> Vec<(uuid::Uuid, Vec<u8>)> {
    let mut by_contact: Vec<&T> = records.collect();
    // Stable: each contact's records in the order they were recorded.
    by_contact.sort_by_key(|r| contact(r));
    let mut packs: Vec<(uuid::Uuid, Vec<u8>)> = Vec::new();
    for r in by_contact {
        let c = contact(r);
        match packs.last_mut() {
            Some((last, bytes)) if *last == c => encode(bytes, r),
            _ => {
                let mut bytes = Vec::new();
                encode(&mut bytes, r);
                packs.push((c, bytes));
            }
        }
    }
    packs
}

/// How many contacts are live (not merged): counted from the index of live contacts.
pub(crate) const COUNT_LIVE_CONTACTS: &str = "SELECT COUNT(*) FROM contacts WHERE merged_into IS NULL";

/// Writes a contact's scores over those it had: the same statement on both backends,
/// one row at a time on SQLite, a chunk of rows at a time on PostgreSQL.
pub(crate) const UPSERT_SCORES: (&str, &str) = (
    "INSERT INTO contact_scores (contact_id, model, fit, engagement, funnel_position, pain, assessment, as_of, \
     likelihood, likelihood_factors) ",
    " ON CONFLICT (contact_id) DO UPDATE SET model = excluded.model, fit = excluded.fit, \
     engagement = excluded.engagement, funnel_position = excluded.funnel_position, \
     pain = excluded.pain, assessment = excluded.assessment, as_of = excluded.as_of, \
     likelihood = excluded.likelihood, likelihood_factors = excluded.likelihood_factors",
);

/// `$begin` starts a write transaction; `$lock` is appended to reads of rows that the
/// transaction will rewrite; `$waiting` is appended to searches of events waiting for
/// a contact, to match how the backend indexes them; `$pack` aggregates a contact's
/// events into its pack (`crate::packs`); `$steps` aggregates a contact's stage
/// changes into its packed stage steps (`crate::stage_steps`), `$responses` its
/// responses into their brief (`crate::responses_brief`); `$bytes` names the type of bytes (SQLite's
/// `||` makes text of bytes, which a pack must not become).
macro_rules! impl_sql_store {
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
        bytes = $bytes:literal
    ) => {
        use crate::rows::*;
        use crate::{Bulk, Result, Store, StoreError, Tx};
        use async_trait::async_trait;
        use leadgate_core::dedupe::Candidate;
        use leadgate_core::merge::{Merge, Moved};
        use leadgate_core::model::{
            Account, ApiKey, Contact, ContactChange, ContactFilter, Form, HistoryKeys, ImportJob, InboxItem, InboxStatus,
            Response, StoredEvent, Totals,
        };
        use leadgate_core::expr::facts::EventFact;
        use leadgate_core::model::Qualification;
        use leadgate_core::{NewEvent, StageChange, Timestamp};
        use sqlx::types::Json;
        use sqlx::{QueryBuilder, Row};
        use uuid::Uuid;

        pub struct $tx {
            pub(crate) tx: sqlx::Transaction<'static, $db>,
            /// What this transaction changed, written to the change feed as it commits.
            pub(crate) changes: leadgate_core::changes::Pending,
        }

        impl $tx {
            pub(crate) fn new(tx: sqlx::Transaction<'static, $db>) -> Self {
                Self { tx, changes: Default::default() }
            }

            /// Writes the change feed's entries of this transaction, then commits: the
            /// one way a transaction of this store ends well.
            pub(crate) async fn finish(mut self) -> Result<()> {
                if !self.changes.is_empty() {
                    let entries = self.changes.take();
                    self.write_changes(&entries, crate::changes::wall_clock()).await?;
                }
                self.tx.commit().await?;
                Ok(())
            }
        }

        /// A new contact's values, with what its row keeps packed of the stage changes and
        /// responses recorded with it (`Packed`).
        fn push_contact_values<'a>(
            b: &mut sqlx::query_builder::Separated<'_, 'a, $db, &'static str>,
            c: &'a Contact,
            fingerprint: Option<i64>,
            packed: &'a crate::sql_store::Packed,
        ) {
            b.push_bind(c.id)
                .push_bind(c.email.as_deref())
                .push_bind(c.first_name.as_deref())
                .push_bind(c.last_name.as_deref())
                .push_bind(c.company.as_deref())
                .push_bind(c.title.as_deref())
                .push_bind(c.phone.as_deref())
                .push_bind(c.country.as_deref())
                .push_bind(c.account_id)
                .push_bind(c.direction.as_str())
                .push_bind(c.channel.as_deref())
                .push_bind(c.stage.as_str())
                .push_bind(c.stage_at.0)
                .push_bind(c.owner.as_deref())
                .push_bind(c.do_not_email)
                .push_bind(c.do_not_call)
                .push_bind(Json(&c.custom))
                .push_bind(c.created_at.0)
                .push_bind(c.updated_at.0)
                .push_bind(fingerprint)
                .push_bind(packed.stage_steps.as_slice())
                .push_bind(packed.responses.as_slice());
        }

        fn push_response_values<'a>(b: &mut sqlx::query_builder::Separated<'_, 'a, $db, &'static str>, r: &'a Response) {
            b.push_bind(r.id)
                .push_bind(r.contact_id)
                .push_bind(r.at.0)
                .push_bind(r.direction.as_str())
                .push_bind(r.channel.as_deref())
                .push_bind(r.campaign.as_deref())
                .push_bind(r.placement.as_deref())
                .push_bind(r.referrer.as_deref())
                .push_bind(r.vendor.as_deref())
                .push_bind(r.action.as_str())
                .push_bind(r.obtained_via.as_str())
                .push_bind(r.offer.as_deref())
                .push_bind(r.form_id)
                .push_bind(r.message.as_deref())
                .push_bind(Json(&r.fields))
                .push_bind(Json(&r.contact_fields))
                .push_bind(r.junk.as_deref())
                .push_bind(r.inbox_id);
        }

        fn push_stage_change_values<'a>(
            b: &mut sqlx::query_builder::Separated<'_, 'a, $db, &'static str>,
            c: &'a StageChange,
        ) {
            b.push_bind(c.contact_id)
                .push_bind(c.from.map(|s| s.as_str()))
                .push_bind(c.to.as_str())
                .push_bind(c.at.0)
                .push_bind(c.cause.as_str())
                .push_bind(c.detail.as_str())
                .push_bind(c.actor.as_str())
                .push_bind(c.value);
        }

        const INSERT_CONTACT: &str = "INSERT INTO contacts (id, email, first_name, last_name, company, title, \
             phone, country, account_id, direction, channel, stage, stage_at, owner, do_not_email, do_not_call, custom, \
             created_at, updated_at, import_fingerprint, stage_steps, responses_brief) ";
        const INSERT_RESPONSE: &str = "INSERT INTO responses (id, contact_id, at, direction, channel, campaign, \
             placement, referrer, vendor, action, obtained_via, offer, form_id, message, fields, contact_fields, junk, inbox_id) ";
        const INSERT_STAGE_CHANGE: &str =
            "INSERT INTO stage_changes (contact_id, from_stage, to_stage, at, cause, detail, actor, value) ";
        const INSERT_ACCOUNT: &str = "INSERT INTO accounts (id, domain, name, created_at) ";
        const INSERT_EVENT: &str =
            "INSERT INTO events (contact_id, email, visitor_id, kind, at, url, props, received_at) ";

        /// Inserts `rows` in multi-row statements of the sizes of `statement_chunks`.
        async fn insert_many<'a, T>(
            conn: &mut <$db as sqlx::Database>::Connection,
            head: &'static str,
            rows: &'a [T],
            push: impl Fn(&mut sqlx::query_builder::Separated<'_, 'a, $db, &'static str>, &'a T),
        ) -> Result<()> {
            for chunk in crate::sql_store::statement_chunks(rows) {
                let mut qb = QueryBuilder::<$db>::new(head);
                qb.push_values(chunk, |mut b, row| push(&mut b, row));
                qb.build().persistent(true).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Rows whose key is in `keys`: `head` ends with `IN (`; the keys are bound in
        /// statements of fixed sizes so that they stay prepared.
        async fn fetch_in<'k, R, K>(
            conn: &mut <$db as sqlx::Database>::Connection,
            head: &str,
            keys: &'k [K],
        ) -> Result<Vec<R>>
        where
            R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            K: sqlx::Encode<'k, $db> + sqlx::Type<$db> + Sync + 'k,
        {
            fetch_in_grouped(conn, head, ")", keys).await
        }

        /// Runs `head` (`UPDATE … SET contact_id = `) for `to` on the rows whose key is
        /// in `keys` (`tail` is ` WHERE key IN (`), in statements of fixed sizes.
        async fn reassign_in<'k, K>(
            conn: &mut <$db as sqlx::Database>::Connection,
            head: &str,
            to: Uuid,
            tail: &str,
            keys: &'k [K],
        ) -> Result<()>
        where
            K: sqlx::Encode<'k, $db> + sqlx::Type<$db> + Sync + 'k,
        {
            for chunk in crate::sql_store::statement_chunks(keys) {
                let mut qb = QueryBuilder::<$db>::new(head);
                qb.push_bind(to).push(tail);
                let mut sep = qb.separated(", ");
                for k in chunk {
                    sep.push_bind(k);
                }
                qb.push(")");
                qb.build().persistent(true).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Where the rows that `head` selects lead: `head` selects `(key, id, merged_into,
        /// import_fingerprint)` and ends with `IN (`; `keys` are bound after `first`,
        /// when given. A contact merged into another leads to that other, found with
        /// one more query (most contacts were never merged, and a join would cost a
        /// second search for each).
        async fn find_through<'k, K, F>(
            conn: &mut <$db as sqlx::Database>::Connection,
            head: &str,
            first: Option<&'k str>,
            keys: &'k [K],
        ) -> Result<Vec<(F, crate::Found)>>
        where
            K: sqlx::Encode<'k, $db> + sqlx::Type<$db> + Sync + 'k,
            F: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db> + Send + Unpin,
        {
            let mut rows: Vec<(F, Uuid, Option<Uuid>, Option<i64>)> = Vec::new();
            for chunk in crate::sql_store::statement_chunks(keys) {
                let mut qb = QueryBuilder::<$db>::new(head);
                if let Some(first) = first {
                    qb.push_bind(first).push(" AND x.external_id IN (");
                }
                let mut sep = qb.separated(", ");
                for k in chunk {
                    sep.push_bind(k);
                }
                qb.push(")");
                rows.extend(qb.build_query_as().persistent(true).fetch_all(&mut *conn).await?);
            }
            let mut survivors: Vec<Uuid> = rows.iter().filter_map(|r| r.2).collect();
            let survivors: std::collections::HashMap<Uuid, Option<i64>> = if survivors.is_empty() {
                Default::default()
            } else {
                survivors.sort_unstable();
                survivors.dedup();
                let found: Vec<(Uuid, Option<i64>)> =
                    fetch_in(&mut *conn, "SELECT id, import_fingerprint FROM contacts WHERE id IN (", &survivors).await?;
                found.into_iter().collect()
            };
            Ok(rows
                .into_iter()
                .map(|(key, id, merged_into, fingerprint)| {
                    let found = match merged_into {
                        Some(into) => crate::Found { contact_id: into, fingerprint: survivors.get(&into).copied().flatten() },
                        None => crate::Found { contact_id: id, fingerprint },
                    };
                    (key, found)
                })
                .collect())
        }

        /// Looks up `keys` (distinct) with `sql` (`SELECT key, contact_id … IN (`), in
        /// statements of fixed sizes so that they stay prepared.
        async fn lookup(
            conn: &mut <$db as sqlx::Database>::Connection,
            sql: &'static str,
            keys: &[&str],
        ) -> Result<std::collections::HashMap<String, Uuid>> {
            let rows: Vec<(String, Uuid)> = fetch_in(conn, sql, keys).await?;
            Ok(rows.into_iter().collect())
        }

        /// Events arrive naming their contact by id, email or visitor id. Emails and
        /// visitor ids are looked up once per batch (not per row: a subquery per row
        /// keeps a cursor open per row, which SQLite pays for quadratically), and each
        /// event is attached to its contact when that contact is already known.
        async fn insert_events(
            conn: &mut <$db as sqlx::Database>::Connection,
            changes: &mut leadgate_core::changes::Pending,
            events: &[NewEvent],
            received_at: Timestamp,
            resolve: bool,
        ) -> Result<Vec<Option<Uuid>>> {
            let mut contact_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.contact_id).collect();
            if resolve {
                let mut emails: Vec<&str> =
                    events.iter().filter(|e| e.contact_id.is_none()).filter_map(|e| e.email.as_ref().map(|m| m.as_str())).collect();
                emails.sort_unstable();
                emails.dedup();
                let by_email = lookup(&mut *conn, "SELECT email, COALESCE(merged_into, id) FROM contacts WHERE email IN (", &emails).await?;
                let mut visitors: Vec<&str> = events
                    .iter()
                    .filter(|e| e.contact_id.is_none())
                    .filter(|e| e.email.as_ref().is_none_or(|m| !by_email.contains_key(m.as_str())))
                    .filter_map(|e| e.visitor_id.as_deref())
                    .collect();
                visitors.sort_unstable();
                visitors.dedup();
                let by_visitor =
                    lookup(&mut *conn, "SELECT visitor_id, contact_id FROM visitors WHERE visitor_id IN (", &visitors).await?;
                for (id, e) in contact_ids.iter_mut().zip(events) {
                    if id.is_none() {
                        *id = e
                            .email
                            .as_ref()
                            .and_then(|m| by_email.get(m.as_str()))
                            .or_else(|| e.visitor_id.as_ref().and_then(|v| by_visitor.get(v.as_str())))
                            .copied();
                    }
                }
            }
            let rows: Vec<(&NewEvent, Option<Uuid>)> = events.iter().zip(contact_ids).collect();
            for chunk in crate::sql_store::statement_chunks(&rows) {
                let mut qb = QueryBuilder::<$db>::new(INSERT_EVENT);
                qb.push_values(chunk, |mut b, (e, id)| {
                    b.push_bind(*id)
                        .push_bind(e.email.as_ref().map(|m| m.as_str()))
                        .push_bind(e.visitor_id.as_deref())
                        .push_bind(e.kind.as_str())
                        .push_bind(e.at.0)
                        .push_bind(e.url.as_deref())
                        .push_bind(Json(&e.props))
                        .push_bind(received_at.0);
                });
                qb.build().persistent(true).execute(&mut *conn).await?;
            }
            append_packs(&mut *conn, &rows).await?;
            for (e, id) in &rows {
                if let Some(id) = id {
                    changes.event(*id, e.kind.as_str());
                }
            }
            Ok(rows.into_iter().map(|(_, id)| id).collect())
        }

        /// Appends new events to their contacts' packs (`crate::packs`): each contact's
        /// to its last row while that is short, the rest in rows after it.
        async fn append_packs(
            conn: &mut <$db as sqlx::Database>::Connection,
            events: &[(&NewEvent, Option<Uuid>)],
        ) -> Result<()> {
            let mut by_contact: Vec<(Uuid, &NewEvent)> = events.iter().filter_map(|(e, c)| c.map(|c| (c, *e))).collect();
            if by_contact.is_empty() {
                return Ok(());
            }
            // Stable: each contact's events in the order they came.
            by_contact.sort_by_key(|(c, _)| *c);
            let mut records: Vec<(Uuid, Vec<Vec<u8>>)> = Vec::new();
            for (c, e) in by_contact {
                let mut record = Vec::new();
                crate::packs::encode(&mut record, e.kind.as_str(), e.at, e.url.as_deref());
                match records.last_mut() {
                    Some((last, of)) if *last == c => of.push(record),
                    _ => records.push((c, vec![record])),
                }
            }
            let ids: Vec<Uuid> = records.iter().map(|(c, _)| *c).collect();
            let rows: Vec<(Uuid, i32, i32)> = fetch_in_grouped(
                &mut *conn,
                "SELECT contact_id, seq, CAST(length(events) AS INTEGER) FROM event_packs WHERE contact_id IN (",
                ") ORDER BY contact_id, seq",
                &ids,
            )
            .await?;
            let last: std::collections::HashMap<Uuid, (i32, usize)> =
                rows.into_iter().map(|(c, seq, len)| (c, (seq, len.max(0) as usize))).collect();
            // Rows are locked in contact order, updates and inserts alike, so that two
            // transactions appending to the same contacts (PostgreSQL's several
            // committers, or servers) wait for each other instead of deadlocking: the
            // new rows gathered so far, all of contacts before this one, are written
            // before this one's last row is updated.
            let mut new_rows: Vec<(Uuid, i32, Vec<u8>)> = Vec::new();
            for (c, of) in records {
                let (seq, len) = last.get(&c).copied().unwrap_or((-1, crate::packs::ROW_BYTES));
                let (into_last, after) = crate::packs::cut(&of, crate::packs::ROW_BYTES.saturating_sub(len));
                if !into_last.is_empty() {
                    insert_pack_rows(&mut *conn, &std::mem::take(&mut new_rows)).await?;
                    let done = sqlx::query(concat!("UPDATE event_packs SET events = CAST(events || $3 AS ", $bytes, ") WHERE contact_id = $1 AND seq = $2"))
                        .bind(c)
                        .bind(seq)
                        .bind(into_last.as_slice())
                        .persistent(true)
                        .execute(&mut *conn)
                        .await?;
                    // Gone since it was read: another server's transaction packed this
                    // contact anew (PostgreSQL; a merge that committed meanwhile, whose
                    // read of the events table could not see these). The records go
                    // into a row of their own, or into the one it made at that `seq`.
                    if done.rows_affected() == 0 {
                        new_rows.push((c, seq, into_last));
                    }
                }
                new_rows.extend(after.into_iter().zip(seq + 1..).map(|(row, seq)| (c, seq, row)));
            }
            insert_pack_rows(&mut *conn, &new_rows).await
        }

        async fn insert_pack_rows(
            conn: &mut <$db as sqlx::Database>::Connection,
            new_rows: &[(Uuid, i32, Vec<u8>)],
        ) -> Result<()> {
            for chunk in crate::sql_store::statement_chunks(new_rows) {
                let mut qb = QueryBuilder::<$db>::new("INSERT INTO event_packs (contact_id, seq, events) ");
                qb.push_values(chunk, |mut b, (c, seq, row)| {
                    b.push_bind(*c).push_bind(*seq).push_bind(row.as_slice());
                });
                // Another server's transaction may have started the same row meanwhile
                // (PostgreSQL): then both go into it.
                qb.push(concat!(" ON CONFLICT (contact_id, seq) DO UPDATE SET events = CAST(event_packs.events || excluded.events AS ", $bytes, ")"));
                qb.build().persistent(true).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Records stage changes, those of the contacts `append` names appended to their
        /// packed stage steps (`crate::stage_steps`) in the same transaction (the others'
        /// contacts are written with them packed already).
        async fn insert_stage_changes(
            conn: &mut <$db as sqlx::Database>::Connection,
            changes: &[StageChange],
            append: impl Fn(&Uuid) -> bool,
        ) -> Result<()> {
            insert_many(&mut *conn, INSERT_STAGE_CHANGE, changes, push_stage_change_values).await?;
            let packs = crate::sql_store::packs_by_contact(changes.iter().filter(|c| append(&c.contact_id)), |c| c.contact_id, crate::sql_store::encode_step);
            append_to_contacts(conn, "stage_steps", &packs).await
        }

        /// Records responses, those of the contacts `append` names appended to their
        /// responses in brief (`crate::responses_brief`) in the same transaction (the
        /// others' contacts are written with them packed already).
        async fn insert_responses(
            conn: &mut <$db as sqlx::Database>::Connection,
            responses: &[Response],
            append: impl Fn(&Uuid) -> bool,
        ) -> Result<()> {
            insert_many(&mut *conn, INSERT_RESPONSE, responses, push_response_values).await?;
            let packs = crate::sql_store::packs_by_contact(
                responses.iter().filter(|r| append(&r.contact_id) && crate::sql_store::counts(r)),
                |r| r.contact_id,
                crate::responses_brief::encode,
            );
            append_to_contacts(conn, "responses_brief", &packs).await
        }

        /// Appends each contact's bytes of `packs` to its `column`, in statements of
        /// many contacts. Appended, not packed anew: on PostgreSQL a concurrent writer's
        /// append to the same contact waits for this one's, then appends to what it left.
        async fn append_to_contacts(
            conn: &mut <$db as sqlx::Database>::Connection,
            column: &'static str,
            packs: &[(Uuid, Vec<u8>)],
        ) -> Result<()> {
            let head = format!("UPDATE contacts SET {column} = CAST(contacts.{column} || v.column2 AS {}) FROM (", $bytes);
            for chunk in crate::sql_store::statement_chunks(packs) {
                let mut qb = QueryBuilder::<$db>::new(head.as_str());
                qb.push_values(chunk.iter(), |mut b, (id, bytes)| {
                    b.push_bind(*id).push_bind(bytes.as_slice());
                });
                qb.push(") AS v WHERE contacts.id = v.column1");
                qb.build().persistent(true).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Packs `contacts`' stage steps and responses in brief anew from the stage
        /// changes and responses tables, after they moved between contacts (a merge,
        /// its undoing). The contacts are locked first (PostgreSQL), in a statement of
        /// its own: an UPDATE that waits for another transaction's append to the same
        /// contact would then write what its sub-select saw before it waited, without
        /// that append; one that starts after the lock is held sees it.
        async fn repack_on_contacts(conn: &mut <$db as sqlx::Database>::Connection, contacts: &[Uuid]) -> Result<()> {
            if !$lock.is_empty() {
                let mut sorted = contacts.to_vec();
                // In id order, as merges lock their contacts, so that two cannot deadlock.
                sorted.sort_unstable();
                let _: Vec<(Uuid,)> =
                    fetch_in_grouped(&mut *conn, "SELECT id FROM contacts WHERE id IN (", concat!(") ORDER BY id", $lock), &sorted).await?;
            }
            let head = format!(
                "UPDATE contacts SET \
                 stage_steps = COALESCE((SELECT {} FROM stage_changes s WHERE s.contact_id = contacts.id), CAST('' AS {bytes})), \
                 responses_brief = COALESCE((SELECT {} FROM responses r WHERE r.contact_id = contacts.id AND r.junk IS NULL), \
                 CAST('' AS {bytes})) \
                 WHERE id IN (",
                $steps, $responses, bytes = $bytes
            );
            for chunk in crate::sql_store::statement_chunks(contacts) {
                let mut qb = QueryBuilder::<$db>::new(head.as_str());
                let mut list = qb.separated(", ");
                for c in chunk {
                    list.push_bind(*c);
                }
                qb.push(")");
                qb.build().persistent(true).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Packs `contacts`' events anew from the events table, after events moved
        /// between contacts (a merge, its undoing, waiting events attached).
        async fn repack(conn: &mut <$db as sqlx::Database>::Connection, contacts: &[Uuid]) -> Result<()> {
            let insert = format!(
                "INSERT INTO event_packs (contact_id, seq, events) SELECT contact_id, 0, {} FROM events \
                 WHERE contact_id IN (",
                $pack
            );
            for chunk in crate::sql_store::statement_chunks(contacts) {
                for (head, tail) in [("DELETE FROM event_packs WHERE contact_id IN (", ")"), (insert.as_str(), ") GROUP BY contact_id")] {
                    let mut qb = QueryBuilder::<$db>::new(head);
                    let mut list = qb.separated(", ");
                    for c in chunk {
                        list.push_bind(*c);
                    }
                    qb.push(tail);
                    qb.build().persistent(true).execute(&mut *conn).await?;
                }
            }
            Ok(())
        }

        /// Like [`fetch_in`], with `tail` after the key list (`) GROUP BY …`).
        async fn fetch_in_grouped<'k, R, K>(
            conn: &mut <$db as sqlx::Database>::Connection,
            head: &str,
            tail: &str,
            keys: &'k [K],
        ) -> Result<Vec<R>>
        where
            R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            K: sqlx::Encode<'k, $db> + sqlx::Type<$db> + Sync + 'k,
        {
            let mut rows = Vec::new();
            for chunk in crate::sql_store::statement_chunks(keys) {
                let mut qb = QueryBuilder::<$db>::new(head);
                let mut sep = qb.separated(", ");
                for k in chunk {
                    sep.push_bind(k);
                }
                qb.push(tail);
                rows.extend(qb.build_query_as::<R>().persistent(true).fetch_all(&mut *conn).await?);
            }
            Ok(rows)
        }

        fn contacts_of(rows: Vec<ContactRow>) -> Result<Vec<Contact>> {
            rows.into_iter().map(Contact::try_from).collect()
        }

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
                tx.finish().await
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

            async fn subjects(&self, contacts: crate::Contacts<'_>, parts: crate::SubjectParts) -> Result<Vec<crate::Subject>> {
                let sql = crate::rows::subject_select(parts);
                let lead: Vec<i64> = parts.created_by.iter().map(|t| t.0).collect();
                let batch = contacts.owned();
                let then = move |mut subjects: Vec<crate::Subject>| {
                    subjects.retain(|s| batch.contacts().holds(&s.contact.id));
                    // In id order, whatever order the join gave them in: the same contacts
                    // read twice are given alike (a model learns from them in this order).
                    subjects.sort_unstable_by_key(|s| s.contact.id.as_u128());
                    Ok(subjects)
                };
                let convert: fn(crate::rows::SubjectRow) -> Result<crate::Subject> = crate::Subject::try_from;
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
                self.read_changes(after, limit, kinds).await
            }

            async fn last_change_position(&self) -> Result<leadgate_core::changes::Position> {
                self.read_last_change_position().await
            }

            async fn feed_info(&self) -> Result<crate::FeedInfo> {
                self.read_feed_info().await
            }

            async fn prune_changes(&self, before: Timestamp) -> Result<u64> {
                self.delete_changes_before(before).await
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

            async fn commit(self: Box<Self>) -> Result<()> {
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

pub(crate) use impl_sql_store;

#[cfg(test)]
mod tests {
    #[test]
    fn statement_sizes_cover_every_row_once_with_few_shapes() {
        for n in [0, 1, 2, 3, 64, 70, 255, 256, 257, 1_000, 1_025, 20_000] {
            let sizes: Vec<_> = super::statement_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= 1_024), "{sizes:?}");
        }
        assert_eq!(super::statement_sizes(70).collect::<Vec<_>>(), [64, 4, 2]);
        let rows: Vec<u32> = (0..2_500).collect();
        assert_eq!(super::statement_chunks(&rows).flatten().copied().collect::<Vec<_>>(), rows);
    }
}
