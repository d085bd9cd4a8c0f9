//! The change feed's SQL (see `leadgate_core::changes`): a transaction's entries written
//! just before it commits, pages read after a position, old entries pruned. Plain
//! functions, one set per database; the only difference that matters is how a position
//! is made (see the PostgreSQL migration `0017_changes.sql`).

use crate::{Result, StoreError};
use leadgate_core::Timestamp;
use leadgate_core::changes::{Change, ChangeDetail, Kinds, NewChange, Position};
use uuid::Uuid;

/// A page of the feed, and the position to read on from: past every entry examined,
/// matching or not, so that a reader of a few kinds does not read the others again.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    pub entries: Vec<Change>,
    pub next: Position,
}

/// What identifies this database's feed, and how far old entries were pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedInfo {
    /// Named by every cursor, so that a cursor of another database is refused.
    pub feed: i64,
    /// Entries at or before this position were pruned.
    pub pruned_through: Position,
}

/// When an entry was written: the machine's clock, not the application's, for it only
/// decides which entries are old enough to prune.
pub(crate) fn wall_clock() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

type Row = (i64, i64, Uuid, i32, String, i64);

fn change_of((major, minor, contact_id, kinds, detail, at): Row) -> Result<Change> {
    let detail: ChangeDetail = serde_json::from_str(&detail)
        .map_err(|e| StoreError::Corrupt(format!("change {major}.{minor} holds unreadable detail: {e}")))?;
    Ok(Change {
        position: Position { major, minor },
        contact_id,
        kinds: Kinds(kinds as u32),
        detail,
        at: Timestamp(at),
    })
}

fn page_of(rows: Vec<Row>, limit: i64, last_visible: Option<(i64, i64)>, after: Position) -> Result<ChangesPage> {
    let full = rows.len() as i64 >= limit;
    let entries = rows.into_iter().map(change_of).collect::<Result<Vec<_>>>()?;
    let next = match (full, entries.last(), last_visible) {
        (true, Some(last), _) => last.position,
        (_, _, Some((major, minor))) => Position { major, minor }.max(after),
        (_, Some(last), None) => last.position,
        (_, None, None) => after,
    };
    Ok(ChangesPage { entries, next })
}

fn details(entries: &[NewChange]) -> Result<Vec<String>> {
    entries.iter().map(|e| serde_json::to_string(&e.detail).map_err(|e| StoreError::Corrupt(e.to_string()))).collect()
}

pub(crate) mod sqlite {
    use super::*;
    use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

    /// Writes the entries of the transaction now ending; the position of the last.
    pub(crate) async fn write(conn: &mut SqliteConnection, entries: &[NewChange], at: Timestamp) -> Result<Position> {
        let details = details(entries)?;
        let rows: Vec<(&NewChange, &String)> = entries.iter().zip(&details).collect();
        for chunk in crate::sql::statement_chunks(&rows) {
            let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO changes (contact_id, kinds, detail, at) ");
            qb.push_values(chunk, |mut b, (e, detail)| {
                b.push_bind(e.contact_id).push_bind(e.kinds.0 as i32).push_bind(detail.as_str()).push_bind(at.0);
            });
            qb.build().persistent(true).execute(&mut *conn).await?;
        }
        let (last,): (i64,) = sqlx::query_as("SELECT last_insert_rowid()").fetch_one(&mut *conn).await?;
        Ok(Position { major: 0, minor: last })
    }

    /// One read transaction, so that the page and the last position agree.
    pub(crate) async fn read(pool: &SqlitePool, after: Position, limit: i64, kinds: Kinds) -> Result<ChangesPage> {
        let mut tx = pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT 0, position, contact_id, kinds, detail, at FROM changes \
             WHERE position > $1 AND (kinds & $2) <> 0 ORDER BY position LIMIT $3",
        )
        .bind(after.minor)
        .bind(kinds.0 as i32)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let last: Option<(i64,)> = if (rows.len() as i64) < limit {
            sqlx::query_as("SELECT position FROM changes ORDER BY position DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?
        } else {
            None
        };
        tx.commit().await?;
        page_of(rows, limit, last.map(|(p,)| (0, p)), after)
    }

    /// One writer commits in order: every entry committed is readable in order.
    pub(crate) async fn read_committed(
        pool: &SqlitePool,
        after: Position,
        limit: i64,
        kinds: Kinds,
    ) -> Result<Vec<Change>> {
        Ok(read(pool, after, limit, kinds).await?.entries)
    }

    pub(crate) async fn last(pool: &SqlitePool) -> Result<Position> {
        let last: Option<(i64,)> =
            sqlx::query_as("SELECT position FROM changes ORDER BY position DESC LIMIT 1").fetch_optional(pool).await?;
        Ok(last.map_or(Position::default(), |(minor,)| Position { major: 0, minor }))
    }

    /// One writer commits in order: every entry committed is readable.
    pub(crate) async fn last_written(pool: &SqlitePool) -> Result<Position> {
        last(pool).await
    }

    pub(crate) async fn info(pool: &SqlitePool) -> Result<FeedInfo> {
        let (feed, major, minor): (i64, i64, i64) =
            sqlx::query_as("SELECT feed, pruned_major, pruned_minor FROM change_feed WHERE id = 1")
                .fetch_one(pool)
                .await?;
        Ok(FeedInfo { feed, pruned_through: Position { major, minor } })
    }

    /// Deletes the entries written before `before`, oldest first, and remembers how far.
    pub(crate) async fn prune(pool: &SqlitePool, before: Timestamp) -> Result<u64> {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        // Entries are written in time order (one writer), so the first young entry
        // bounds the old ones; only the old part of the table is walked.
        let last_old: Option<(i64,)> = sqlx::query_as(
            "SELECT position FROM changes WHERE position < \
             COALESCE((SELECT position FROM changes WHERE at >= $1 ORDER BY position LIMIT 1), 9223372036854775807) \
             ORDER BY position DESC LIMIT 1",
        )
        .bind(before.0)
        .fetch_optional(&mut *tx)
        .await?;
        // Never past what a consumer inside leadgate has yet to handle.
        let (slowest,): (Option<i64>,) =
            sqlx::query_as("SELECT min(position_minor) FROM consumers").fetch_one(&mut *tx).await?;
        let Some(through) = last_old.map(|(old,)| slowest.map_or(old, |s| old.min(s))) else {
            tx.commit().await?;
            return Ok(0);
        };
        let done = sqlx::query("DELETE FROM changes WHERE position <= $1").bind(through).execute(&mut *tx).await?;
        sqlx::query("UPDATE change_feed SET pruned_major = 0, pruned_minor = $1 WHERE id = 1")
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

pub(crate) mod postgres {
    use super::*;
    use sqlx::{PgConnection, PgPool};

    /// Rows per statement when a bulk load writes a million entries.
    const CHUNK: usize = 20_000;

    // Each names the number it makes of the transaction id `major`: an output column
    // named like a table's column is what `ORDER BY` takes, and ordered by the number
    // rather than by the column, a read sorted the whole feed instead of walking its
    // index from the cursor (see the test below).
    /// A page after a position: entries of transactions older than any still running.
    pub(crate) const PAGE: &str = "SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq, contact_id, kinds, detail, at \
         FROM changes WHERE (xid, seq) > (CAST(CAST($1 AS TEXT) AS xid8), $2) \
         AND xid < pg_snapshot_xmin(pg_current_snapshot()) AND (kinds & $3) <> 0 \
         ORDER BY xid, seq LIMIT $4";
    /// A page after a position of every entry committed, whatever transactions still run.
    pub(crate) const PAGE_COMMITTED: &str = "SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq, contact_id, kinds, detail, at \
         FROM changes WHERE (xid, seq) > (CAST(CAST($1 AS TEXT) AS xid8), $2) AND (kinds & $3) <> 0 \
         ORDER BY xid, seq LIMIT $4";
    /// The last entry readers can read.
    pub(crate) const LAST_READABLE: &str = "SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq FROM changes \
         WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, seq DESC LIMIT 1";
    /// The last entry committed.
    pub(crate) const LAST_WRITTEN: &str =
        "SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq FROM changes ORDER BY xid DESC, seq DESC LIMIT 1";

    /// Writes the entries (in contact order) of the transaction now ending. Each
    /// contact's entry sorts after the last one written of that contact: its first part
    /// is this transaction's id, or that entry's first part when it is larger (a
    /// transaction that got its id later committed a change of the contact first). The
    /// contact's head row, locked until this transaction ends, keeps that part, and the
    /// second part comes from a sequence taken under the lock. Either way the first part
    /// is an id given no later than this transaction's own, so no reader can have read
    /// past it while this transaction runs. Gives the position of the last entry.
    pub(crate) async fn write(conn: &mut PgConnection, entries: &[NewChange], at: Timestamp) -> Result<Position> {
        let mut last = Position::default();
        for chunk in entries.chunks(CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|e| e.contact_id).collect();
            let heads: Vec<(Uuid, i64)> = sqlx::query_as(
                "INSERT INTO change_heads (contact_id, xid) \
                 SELECT id, pg_current_xact_id() FROM unnest($1::uuid[]) AS t (id) \
                 ON CONFLICT (contact_id) DO UPDATE SET xid = GREATEST(change_heads.xid, excluded.xid) \
                 RETURNING contact_id, CAST(CAST(xid AS TEXT) AS BIGINT)",
            )
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?;
            let heads: std::collections::HashMap<Uuid, i64> = heads.into_iter().collect();
            let majors = ids
                .iter()
                .map(|id| heads.get(id).copied().ok_or_else(|| StoreError::Corrupt(format!("no feed head for {id}"))))
                .collect::<Result<Vec<i64>>>()?;
            let kinds: Vec<i32> = chunk.iter().map(|e| e.kinds.0 as i32).collect();
            let details = details(chunk)?;
            let (major, minor): (i64, i64) = sqlx::query_as(
                "WITH written AS (INSERT INTO changes (xid, contact_id, kinds, detail, at) \
                 SELECT CAST(CAST(major AS TEXT) AS xid8), id, kinds, detail, $5 \
                 FROM unnest($1::int8[], $2::uuid[], $3::int4[], $4::text[]) WITH ORDINALITY AS t (major, id, kinds, detail, n) \
                 ORDER BY n RETURNING xid, seq) \
                 SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq FROM written ORDER BY xid DESC, seq DESC LIMIT 1",
            )
            .bind(&majors)
            .bind(&ids)
            .bind(&kinds)
            .bind(&details)
            .bind(at.0)
            .fetch_one(&mut *conn)
            .await?;
            last = last.max(Position { major, minor });
        }
        Ok(last)
    }

    pub(crate) async fn read_committed(
        pool: &PgPool,
        after: Position,
        limit: i64,
        kinds: Kinds,
    ) -> Result<Vec<Change>> {
        let rows: Vec<Row> = sqlx::query_as(PAGE_COMMITTED)
            .bind(after.major)
            .bind(after.minor)
            .bind(kinds.0 as i32)
            .bind(limit)
            .fetch_all(pool)
            .await?;
        rows.into_iter().map(change_of).collect()
    }

    /// Reads only entries of transactions older than every one still running (the
    /// snapshot's `xmin`): those have all ended, so no entry can later commit before the
    /// page's last. One snapshot for both statements.
    pub(crate) async fn read(pool: &PgPool, after: Position, limit: i64, kinds: Kinds) -> Result<ChangesPage> {
        let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        let rows: Vec<Row> = sqlx::query_as(PAGE)
            .bind(after.major)
            .bind(after.minor)
            .bind(kinds.0 as i32)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let last: Option<(i64, i64)> = if (rows.len() as i64) < limit {
            sqlx::query_as(LAST_READABLE).fetch_optional(&mut *tx).await?
        } else {
            None
        };
        tx.commit().await?;
        page_of(rows, limit, last, after)
    }

    pub(crate) async fn last(pool: &PgPool) -> Result<Position> {
        let last: Option<(i64, i64)> = sqlx::query_as(LAST_READABLE).fetch_optional(pool).await?;
        Ok(last.map_or(Position::default(), |(major, minor)| Position { major, minor }))
    }

    /// The last entry committed, readable or not yet (a transaction older than it runs).
    pub(crate) async fn last_written(pool: &PgPool) -> Result<Position> {
        let last: Option<(i64, i64)> = sqlx::query_as(LAST_WRITTEN).fetch_optional(pool).await?;
        Ok(last.map_or(Position::default(), |(major, minor)| Position { major, minor }))
    }

    pub(crate) async fn info(pool: &PgPool) -> Result<FeedInfo> {
        let (feed, major, minor): (i64, i64, i64) =
            sqlx::query_as("SELECT feed, pruned_major, pruned_minor FROM change_feed WHERE id = 1")
                .fetch_one(pool)
                .await?;
        Ok(FeedInfo { feed, pruned_through: Position { major, minor } })
    }

    /// Deletes the entries written before `before` among those every reader can see,
    /// oldest first, and remembers how far.
    pub(crate) async fn prune(pool: &PgPool, before: Timestamp) -> Result<u64> {
        let mut tx = pool.begin().await?;
        // Serialises pruners (several servers): the bound only moves forward.
        sqlx::query("SELECT 1 FROM change_feed WHERE id = 1 FOR UPDATE").execute(&mut *tx).await?;
        // The first young entry bounds the old ones (entries are written nearly in time
        // order): only the old part is walked, then the bound is a plain range.
        let young: Option<(i64, i64)> = sqlx::query_as(
            "SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq FROM changes WHERE at >= $1 ORDER BY xid, seq LIMIT 1",
        )
        .bind(before.0)
        .fetch_optional(&mut *tx)
        .await?;
        let (young_major, young_minor) = young.unwrap_or((i64::MAX, i64::MAX));
        let last_old: Option<(i64, i64)> = sqlx::query_as(
            "SELECT CAST(CAST(xid AS TEXT) AS BIGINT) AS major, seq FROM changes \
             WHERE (xid, seq) < (CAST(CAST($1 AS TEXT) AS xid8), $2) \
             AND xid < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY xid DESC, seq DESC LIMIT 1",
        )
        .bind(young_major)
        .bind(young_minor)
        .fetch_optional(&mut *tx)
        .await?;
        // Never past what a consumer inside leadgate has yet to handle.
        let slowest: Option<(i64, i64)> = sqlx::query_as(
            "SELECT position_major, position_minor FROM consumers ORDER BY position_major, position_minor LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((major, minor)) = last_old.map(|old| slowest.map_or(old, |s| old.min(s))) else {
            tx.commit().await?;
            return Ok(0);
        };
        let done = sqlx::query("DELETE FROM changes WHERE (xid, seq) <= (CAST(CAST($1 AS TEXT) AS xid8), $2)")
            .bind(major)
            .bind(minor)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE change_feed SET pruned_major = $1, pruned_minor = $2 WHERE id = 1")
            .bind(major)
            .bind(minor)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    /// On PostgreSQL every read of the feed walks its index from a position, never
    /// sorting the whole feed, however many entries it holds: asked for a plan with
    /// whole-table scans ruled out, none needs a sort.
    #[tokio::test]
    async fn postgres_feed_reads_walk_the_index_instead_of_sorting_the_feed() {
        let Some(url) = crate::testing::pg_url() else { return };
        let schema = crate::testing::PgSchema::create(&url).await;
        let _migrated = schema.store().await;
        let mut conn = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
        // A small table is read best whole: plans as for a large one.
        sqlx::raw_sql("SET enable_seqscan = off; SET enable_bitmapscan = off").execute(&mut conn).await.unwrap();
        for (name, sql, args) in [
            ("page", super::postgres::PAGE, "('0', 0, 1, 100)"),
            ("page of all committed", super::postgres::PAGE_COMMITTED, "('0', 0, 1, 100)"),
            ("last readable", super::postgres::LAST_READABLE, ""),
            ("last written", super::postgres::LAST_WRITTEN, ""),
        ] {
            // The simple protocol: the statement's own `$1…` are not parameters of this one.
            sqlx::raw_sql(&format!("PREPARE feed_read AS {sql}")).execute(&mut conn).await.unwrap();
            let plan: Vec<(String,)> =
                sqlx::query_as(&format!("EXPLAIN EXECUTE feed_read{args}")).fetch_all(&mut conn).await.unwrap();
            sqlx::raw_sql("DEALLOCATE feed_read").execute(&mut conn).await.unwrap();
            let plan: String = plan.into_iter().map(|(line,)| line + "\n").collect();
            assert!(plan.contains("changes_pkey") && !plan.contains("Sort"), "{name}: {plan}");
        }
    }
}
