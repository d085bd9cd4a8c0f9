//! The one implementation of the storage ports that both databases share: the SQL and
//! the logic around it, written once.
//!
//! `sqlite.rs` and `postgres.rs` each compile this folder as a module of their own
//! (`#[path = "adapter/mod.rs"]`), beside a `dialect` module that says, in one small
//! place, what differs between them: the database type, how a write transaction
//! begins, how rows about to be rewritten are locked, how events and stage steps are
//! packed into bytes. Generics over sqlx's `Database` would do the same at the price of
//! several lines of executor bounds on every function; a module compiled twice keeps
//! the code plain Rust, formatted and checked like any other. Statements use `$N`
//! placeholders, which both drivers bind by number.
//!
//! `reads` implements the `Store` port, `writes` the `Tx` port, `privacy` and
//! `consumers` the ports of those names; this module holds the transaction type and the
//! helpers they share.

mod access;
mod consumers;
mod contacts;
mod events;
mod exports;
mod feed;
mod handoff;
mod history;
mod imports;
mod inbox;
mod merges;
mod models;
mod privacy;
mod spend;

use super::dialect::{
    BACKEND, BEGIN, BYTES, CONTAINS, Db, DbConnection, DbRow, ERRORS_HOLD, ONE_WRITER, PACK_EVENTS, PACK_RESPONSES,
    PACK_STAGE_STEPS, SqlStore, WAITING, feed_sql,
};
use crate::ports::*;
use crate::rows::*;
use crate::{Bulk, Result, Store, StoreError, Tx};
use async_trait::async_trait;
use leadgate_core::dedupe::Candidate;
use leadgate_core::expr::facts::EventFact;
use leadgate_core::merge::{Merge, Moved};
use leadgate_core::model::Qualification;
use leadgate_core::model::{
    Account, ApiKey, Contact, ContactChange, ContactFilter, Form, HistoryKeys, ImportJob, InboxItem, InboxStatus,
    Response, StoredEvent, Totals,
};
use leadgate_core::{NewEvent, StageChange, Timestamp};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

/// Appended to reads of rows the transaction will rewrite. Where several write at once
/// (PostgreSQL's committers and servers), a row read in order to be rewritten is locked,
/// so that concurrent changes (an inquiry and a manual stage change) queue instead of one
/// silently undoing the other; with one writer, nothing.
const LOCK: &str = if ONE_WRITER { "" } else { " FOR UPDATE" };

pub struct SqlTx {
    pub(crate) tx: sqlx::Transaction<'static, Db>,
    /// What this transaction changed, written to the change feed as it commits.
    pub(crate) changes: leadgate_core::changes::Pending,
}

impl SqlTx {
    pub(crate) fn new(tx: sqlx::Transaction<'static, Db>) -> Self {
        Self { tx, changes: Default::default() }
    }

    /// Writes the change feed's entries of this transaction, then commits: the
    /// one way a transaction of this store ends well. Gives the position of its
    /// last entry, when it changed a contact.
    pub(crate) async fn finish(mut self) -> Result<Option<leadgate_core::changes::Position>> {
        let mut last = None;
        if !self.changes.is_empty() {
            let entries = self.changes.take();
            last = Some(feed_sql::write(&mut self.tx, &entries, crate::changes::wall_clock()).await?);
        }
        self.tx.commit().await?;
        Ok(last)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn close(&self) {
        self.close_pools().await;
    }

    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(SqlTx::new(self.write.begin_with(BEGIN).await?)))
    }
}

#[async_trait]
impl Tx for SqlTx {
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

impl SqlTx {
    /// Writes `scores` with statements of many rows (a chunk each); returns the contacts
    /// whose scores changed, the others left as they were ([`crate::sql::UPSERT_SCORES`]).
    pub(crate) async fn upsert_scores_in_chunks(
        &mut self,
        scores: &[leadgate_core::scoring::ContactScores],
    ) -> Result<Vec<Uuid>> {
        let (insert, update) = crate::sql::UPSERT_SCORES;
        let mut changed = Vec::new();
        for chunk in crate::sql::statement_chunks(scores) {
            let json = chunk
                .iter()
                .map(|s| s.stored_json().map_err(|e| crate::StoreError::Corrupt(e.to_string())))
                .collect::<Result<Vec<_>>>()?;
            let mut qb = QueryBuilder::<Db>::new(insert);
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
                    .push_bind(s.likelihood_factors.as_ref().map(Json))
                    .push_bind(s.likelihood_model.as_deref())
                    .push_bind(s.digest());
            });
            qb.push(update).push(" RETURNING contact_id");
            let written: Vec<Uuid> = qb.build_query_scalar().persistent(true).fetch_all(&mut *self.tx).await?;
            changed.extend(written);
        }
        Ok(changed)
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

/// A new contact's values, with what its row keeps packed of the stage changes and
/// responses recorded with it (`Packed`).
fn push_contact_values<'a>(
    b: &mut sqlx::query_builder::Separated<'_, 'a, Db, &'static str>,
    c: &'a Contact,
    fingerprint: Option<i64>,
    packed: &'a crate::sql::Packed,
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

fn push_response_values<'a>(b: &mut sqlx::query_builder::Separated<'_, 'a, Db, &'static str>, r: &'a Response) {
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

fn push_stage_change_values<'a>(b: &mut sqlx::query_builder::Separated<'_, 'a, Db, &'static str>, c: &'a StageChange) {
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
const INSERT_EVENT: &str = "INSERT INTO events (contact_id, email, visitor_id, kind, at, url, props, received_at) ";

/// Inserts `rows` in multi-row statements of the sizes of `statement_chunks`.
async fn insert_many<'a, T>(
    conn: &mut DbConnection,
    head: &'static str,
    rows: &'a [T],
    push: impl Fn(&mut sqlx::query_builder::Separated<'_, 'a, Db, &'static str>, &'a T),
) -> Result<()> {
    for chunk in crate::sql::statement_chunks(rows) {
        let mut qb = QueryBuilder::<Db>::new(head);
        qb.push_values(chunk, |mut b, row| push(&mut b, row));
        qb.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rows whose key is in `keys`: `head` ends with `IN (`; the keys are bound in
/// statements of fixed sizes so that they stay prepared.
async fn fetch_in<'k, R, K>(conn: &mut DbConnection, head: &str, keys: &'k [K]) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, DbRow> + Send + Unpin,
    K: sqlx::Encode<'k, Db> + sqlx::Type<Db> + Sync + 'k,
{
    fetch_in_grouped(conn, head, ")", keys).await
}

/// Runs `head` (`UPDATE … SET contact_id = `) for `to` on the rows whose key is
/// in `keys` (`tail` is ` WHERE key IN (`), in statements of fixed sizes.
async fn reassign_in<'k, K>(conn: &mut DbConnection, head: &str, to: Uuid, tail: &str, keys: &'k [K]) -> Result<()>
where
    K: sqlx::Encode<'k, Db> + sqlx::Type<Db> + Sync + 'k,
{
    for chunk in crate::sql::statement_chunks(keys) {
        let mut qb = QueryBuilder::<Db>::new(head);
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
    conn: &mut DbConnection,
    head: &str,
    first: Option<&'k str>,
    keys: &'k [K],
) -> Result<Vec<(F, crate::Found)>>
where
    K: sqlx::Encode<'k, Db> + sqlx::Type<Db> + Sync + 'k,
    F: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db> + Send + Unpin,
{
    let mut rows: Vec<(F, Uuid, Option<Uuid>, Option<i64>)> = Vec::new();
    for chunk in crate::sql::statement_chunks(keys) {
        let mut qb = QueryBuilder::<Db>::new(head);
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
    conn: &mut DbConnection,
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
    conn: &mut DbConnection,
    changes: &mut leadgate_core::changes::Pending,
    events: &[NewEvent],
    received_at: Timestamp,
    resolve: bool,
) -> Result<Vec<Option<Uuid>>> {
    let mut contact_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.contact_id).collect();
    if resolve {
        let mut emails: Vec<&str> = events
            .iter()
            .filter(|e| e.contact_id.is_none())
            .filter_map(|e| e.email.as_ref().map(|m| m.as_str()))
            .collect();
        emails.sort_unstable();
        emails.dedup();
        let by_email =
            lookup(&mut *conn, "SELECT email, COALESCE(merged_into, id) FROM contacts WHERE email IN (", &emails)
                .await?;
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
    for chunk in crate::sql::statement_chunks(&rows) {
        let mut qb = QueryBuilder::<Db>::new(INSERT_EVENT);
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
async fn append_packs(conn: &mut DbConnection, events: &[(&NewEvent, Option<Uuid>)]) -> Result<()> {
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
    // Each contact's last row only, found from the end of its rows in the index:
    // a busy contact (a bot) has thousands of rows, and reading them all made
    // each append cost more the longer its history.
    let mut last: std::collections::HashMap<Uuid, (i32, usize)> = std::collections::HashMap::new();
    for chunk in crate::sql::statement_chunks(&ids) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT v.column1, \
             (SELECT seq FROM event_packs WHERE contact_id = v.column1 ORDER BY seq DESC LIMIT 1), \
             (SELECT CAST(length(events) AS INTEGER) FROM event_packs WHERE contact_id = v.column1 \
              ORDER BY seq DESC LIMIT 1) \
             FROM (",
        );
        qb.push_values(chunk, |mut b, id| {
            b.push_bind(*id);
        });
        qb.push(") AS v");
        let rows: Vec<(Uuid, Option<i32>, Option<i32>)> =
            qb.build_query_as().persistent(true).fetch_all(&mut *conn).await?;
        for (c, seq, len) in rows {
            if let (Some(seq), Some(len)) = (seq, len) {
                last.insert(c, (seq, len.max(0) as usize));
            }
        }
    }
    let cuts: Vec<PackCut> = records.into_iter().map(|(c, of)| PackCut::of(c, &of, &last)).collect();
    if ONE_WRITER {
        return append_packs_at_once(conn, cuts).await;
    }
    // Rows are locked in contact order, updates and inserts alike, so that two
    // transactions appending to the same contacts (PostgreSQL's several
    // committers, or servers) wait for each other instead of deadlocking: the
    // new rows gathered so far, all of contacts before this one, are written
    // before this one's last row is updated.
    let mut new_rows: Vec<(Uuid, i32, Vec<u8>)> = Vec::new();
    let append =
        format!("UPDATE event_packs SET events = CAST(events || $3 AS {BYTES}) WHERE contact_id = $1 AND seq = $2");
    for PackCut { contact: c, seq, into_last, after } in cuts {
        if !into_last.is_empty() {
            insert_pack_rows(&mut *conn, &std::mem::take(&mut new_rows)).await?;
            let done = sqlx::query(&append)
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
        new_rows.extend(after);
    }
    insert_pack_rows(&mut *conn, &new_rows).await
}

/// Where one contact's new records go ([`crate::packs::cut`]): `into_last` appended
/// to its last row `seq` (empty when there is no room, or no row), the rest in
/// rows of their own after it.
struct PackCut {
    contact: Uuid,
    seq: i32,
    into_last: Vec<u8>,
    after: Vec<(Uuid, i32, Vec<u8>)>,
}

impl PackCut {
    /// The cut of `contact`'s `records`, given each contact's last row and its length.
    fn of(contact: Uuid, records: &[Vec<u8>], last: &std::collections::HashMap<Uuid, (i32, usize)>) -> Self {
        // No row yet: none to append to, so the first is row 0.
        let (seq, len) = last.get(&contact).copied().unwrap_or((-1, crate::packs::ROW_BYTES));
        let (into_last, after) = crate::packs::cut(records, crate::packs::ROW_BYTES.saturating_sub(len));
        let after = after.into_iter().zip(seq + 1..).map(|(row, seq)| (contact, seq, row)).collect();
        Self { contact, seq, into_last, after }
    }
}

/// [`append_packs`] where nothing else writes meanwhile (SQLite's one writer): no
/// row can be gone since it was read, and no order of locks to keep, so every
/// contact's last row is appended to by a few statements of many rows, not one
/// statement each (a statement costs a round trip to the connection's thread).
async fn append_packs_at_once(conn: &mut DbConnection, cuts: Vec<PackCut>) -> Result<()> {
    let mut appends: Vec<(Uuid, i32, Vec<u8>)> = Vec::new();
    let mut new_rows: Vec<(Uuid, i32, Vec<u8>)> = Vec::new();
    for cut in cuts {
        if !cut.into_last.is_empty() {
            appends.push((cut.contact, cut.seq, cut.into_last));
        }
        new_rows.extend(cut.after);
    }
    let head = format!("UPDATE event_packs SET events = CAST(event_packs.events || v.column3 AS {BYTES}) FROM (");
    for chunk in crate::sql::statement_chunks(&appends) {
        let mut qb = QueryBuilder::<Db>::new(head.as_str());
        qb.push_values(chunk, |mut b, (c, seq, bytes)| {
            b.push_bind(*c).push_bind(*seq).push_bind(bytes.as_slice());
        });
        qb.push(") AS v WHERE event_packs.contact_id = v.column1 AND event_packs.seq = v.column2");
        let done = qb.build().persistent(true).execute(&mut *conn).await?;
        // Each row was read in this transaction, which nothing else can write beside:
        // one missing would be a fault, and its events must not go unrecorded.
        if done.rows_affected() != chunk.len() as u64 {
            return Err(crate::StoreError::Corrupt(format!(
                "only {} of {} contacts' last rows of packed events were found to append to",
                done.rows_affected(),
                chunk.len()
            )));
        }
    }
    insert_pack_rows(conn, &new_rows).await
}

async fn insert_pack_rows(conn: &mut DbConnection, new_rows: &[(Uuid, i32, Vec<u8>)]) -> Result<()> {
    for chunk in crate::sql::statement_chunks(new_rows) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO event_packs (contact_id, seq, events) ");
        qb.push_values(chunk, |mut b, (c, seq, row)| {
            b.push_bind(*c).push_bind(*seq).push_bind(row.as_slice());
        });
        // Another server's transaction may have started the same row meanwhile
        // (PostgreSQL): then both go into it.
        qb.push(format_args!(
            " ON CONFLICT (contact_id, seq) DO UPDATE SET events = CAST(event_packs.events || excluded.events AS {BYTES})"
        ));
        qb.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records stage changes, those of the contacts `append` names appended to their
/// packed stage steps (`crate::stage_steps`) in the same transaction (the others'
/// contacts are written with them packed already).
async fn insert_stage_changes(
    conn: &mut DbConnection,
    changes: &[StageChange],
    append: impl Fn(&Uuid) -> bool,
) -> Result<()> {
    insert_many(&mut *conn, INSERT_STAGE_CHANGE, changes, push_stage_change_values).await?;
    let packs = crate::sql::packs_by_contact(
        changes.iter().filter(|c| append(&c.contact_id)),
        |c| c.contact_id,
        crate::sql::encode_step,
    );
    append_to_contacts(conn, "stage_steps", &packs).await
}

/// Records responses, those of the contacts `append` names appended to their
/// responses in brief (`crate::responses_brief`) in the same transaction (the
/// others' contacts are written with them packed already).
async fn insert_responses(
    conn: &mut DbConnection,
    responses: &[Response],
    append: impl Fn(&Uuid) -> bool,
) -> Result<()> {
    insert_many(&mut *conn, INSERT_RESPONSE, responses, push_response_values).await?;
    let packs = crate::sql::packs_by_contact(
        responses.iter().filter(|r| append(&r.contact_id) && crate::sql::counts(r)),
        |r| r.contact_id,
        crate::responses_brief::encode,
    );
    append_to_contacts(conn, "responses_brief", &packs).await
}

/// Appends each contact's bytes of `packs` to its `column`, in statements of
/// many contacts. Appended, not packed anew: on PostgreSQL a concurrent writer's
/// append to the same contact waits for this one's, then appends to what it left.
async fn append_to_contacts(conn: &mut DbConnection, column: &'static str, packs: &[(Uuid, Vec<u8>)]) -> Result<()> {
    let head = format!("UPDATE contacts SET {column} = CAST(contacts.{column} || v.column2 AS {}) FROM (", BYTES);
    for chunk in crate::sql::statement_chunks(packs) {
        let mut qb = QueryBuilder::<Db>::new(head.as_str());
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
async fn repack_on_contacts(conn: &mut DbConnection, contacts: &[Uuid]) -> Result<()> {
    if !ONE_WRITER {
        let mut sorted = contacts.to_vec();
        // In id order, as merges lock their contacts, so that two cannot deadlock.
        sorted.sort_unstable();
        let _: Vec<(Uuid,)> = fetch_in_grouped(
            &mut *conn,
            "SELECT id FROM contacts WHERE id IN (",
            &format!(") ORDER BY id{LOCK}"),
            &sorted,
        )
        .await?;
    }
    let head = format!(
        "UPDATE contacts SET \
         stage_steps = COALESCE((SELECT {} FROM stage_changes s WHERE s.contact_id = contacts.id), CAST('' AS {bytes})), \
         responses_brief = COALESCE((SELECT {} FROM responses r WHERE r.contact_id = contacts.id AND r.junk IS NULL), \
         CAST('' AS {bytes})) \
         WHERE id IN (",
        PACK_STAGE_STEPS,
        PACK_RESPONSES,
        bytes = BYTES
    );
    for chunk in crate::sql::statement_chunks(contacts) {
        let mut qb = QueryBuilder::<Db>::new(head.as_str());
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
async fn repack(conn: &mut DbConnection, contacts: &[Uuid]) -> Result<()> {
    let insert = format!(
        "INSERT INTO event_packs (contact_id, seq, events) SELECT contact_id, 0, {} FROM events \
         WHERE contact_id IN (",
        PACK_EVENTS
    );
    for chunk in crate::sql::statement_chunks(contacts) {
        for (head, tail) in
            [("DELETE FROM event_packs WHERE contact_id IN (", ")"), (insert.as_str(), ") GROUP BY contact_id")]
        {
            let mut qb = QueryBuilder::<Db>::new(head);
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
async fn fetch_in_grouped<'k, R, K>(conn: &mut DbConnection, head: &str, tail: &str, keys: &'k [K]) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, DbRow> + Send + Unpin,
    K: sqlx::Encode<'k, Db> + sqlx::Type<Db> + Sync + 'k,
{
    fetch_in_chunks(conn, head, tail, keys, true).await
}

/// Like [`fetch_in_grouped`], planned anew each time: for a table that grows from
/// nothing while the server runs (queue items), whose first plan, kept with a
/// statement prepared while it was empty, would scan it whole once it is large.
async fn fetch_in_planned<'k, R, K>(conn: &mut DbConnection, head: &str, tail: &str, keys: &'k [K]) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, DbRow> + Send + Unpin,
    K: sqlx::Encode<'k, Db> + sqlx::Type<Db> + Sync + 'k,
{
    fetch_in_chunks(conn, head, tail, keys, false).await
}

async fn fetch_in_chunks<'k, R, K>(
    conn: &mut DbConnection,
    head: &str,
    tail: &str,
    keys: &'k [K],
    prepared: bool,
) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, DbRow> + Send + Unpin,
    K: sqlx::Encode<'k, Db> + sqlx::Type<Db> + Sync + 'k,
{
    let mut rows = Vec::new();
    for chunk in crate::sql::statement_chunks(keys) {
        let mut qb = QueryBuilder::<Db>::new(head);
        let mut sep = qb.separated(", ");
        for k in chunk {
            sep.push_bind(k);
        }
        qb.push(tail);
        rows.extend(qb.build_query_as::<R>().persistent(prepared).fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

fn contacts_of(rows: Vec<ContactRow>) -> Result<Vec<Contact>> {
    rows.into_iter().map(Contact::try_from).collect()
}
