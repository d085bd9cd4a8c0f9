//! The embedded default: one SQLite file in WAL mode.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one
//! connection (waiting in line in the pool instead of failing with `SQLITE_BUSY`), and
//! reads through a separate pool that WAL lets run beside the writer.

use crate::direct::{DirectReader, FromSqlite};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct SqliteOptions {
    /// `synchronous=FULL`: a commit is on disk before it is acknowledged, even across a
    /// power cut. `false` uses `NORMAL`, which survives a crash of leadgate but may lose
    /// the last commits if the machine loses power.
    pub full_sync: bool,
    pub readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { full_sync: true, readers: 4 }
    }
}

pub struct SqliteStore {
    pub(crate) write: SqlitePool,
    pub(crate) read: SqlitePool,
    checkpointer: SqlitePool,
    /// Bulk reads, done directly (see `direct`).
    direct: DirectReader,
}

/// Turns off SQLite's memory statistics, once, before its first connection. CachedValue, they
/// take one lock shared by every connection for each allocation and release SQLite
/// makes, and the readers and the writer, on their own threads, queue on it: perf
/// showed 15 % of a rescore in futex waits and wake-ups under SQLite's allocations, and
/// without the statistics a 100,000-contact rescore took 9.2 s instead of 10.4 s and a
/// backtest 4.1 s instead of 5.8 s (docs/benchmarks.md). leadgate never reads them.
fn without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. sqlite3_config must not run
        // beside any other SQLite call in the process: it runs before the store opens
        // its first connection, and leadgate reaches SQLite only through its stores. If
        // SQLite was initialised before (another connection opened first), it refuses
        // with SQLITE_MISUSE and changes nothing, which is safe to ignore.
        let rc = unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0) };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(rc, "SQLite's memory statistics stay on (SQLite was initialised already)");
        }
    });
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open(path: &Path, opts: SqliteOptions) -> crate::Result<Self> {
        without_memory_statistics();
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if opts.full_sync { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            // What is deleted or overwritten is overwritten with zeros in the file too,
            // not left in free space: an erased person is gone from the bytes on disk.
            .pragma("secure_delete", "on");
        use sqlx::{ConnectOptions, Connection};
        let mut migrating = base.clone().disable_statement_logging().connect().await?;
        crate::migrate::<sqlx::Sqlite>(&sqlx::migrate!("migrations/sqlite"), &mut migrating).await?;
        migrating.close().await?;
        // The writer's cache holds the pages its writes touch: 64 MiB. More was not
        // faster: importing 1,000,000 contacts took 54.6 s with 64 MiB, 57-59 s with
        // 256 MiB and 65 s with 1 GiB (a bigger cache costs more to search and fill than
        // the reads it saves from the operating system's cache; at the final code,
        // 44.4 s with 64 MiB and 43.0 s with 128 MiB); batched events did not gain from
        // 256 MiB either (docs/benchmarks.md), and the cache is most of the process's
        // memory. Pages are allocated only as used: a small database stays small.
        // Checkpoints run mostly on a connection of their own; see checkpoint_in_background.
        // A connection to a local file cannot go stale, so the pool need not ping it
        // before handing it out (a round trip to SQLite's worker thread per transaction).
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                base.clone()
                    .pragma("cache_size", "-65536")
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_FRAMES.to_string()),
            )
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(opts.readers.max(1))
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.clone().read_only(true).pragma("cache_size", "-65536"))
            .await?;
        let checkpointer = SqlitePoolOptions::new().max_connections(1).connect_with(base.clone()).await?;
        tokio::spawn(checkpoint_in_background(checkpointer.clone()));
        Ok(Self { write, read, checkpointer, direct: DirectReader::new(path.to_owned()) })
    }

    /// The rows of `select` over `contacts` by `column`, then `tail`, with `lead`
    /// bound first (see [`crate::sql::statements`]), read directly on a blocking
    /// thread ([`DirectReader::rows_in`]).
    pub(crate) async fn rows_in<R: FromSqlite + Send + 'static>(
        &self,
        select: &str,
        column: &str,
        lead: &[i64],
        contacts: crate::Contacts<'_>,
        tail: &str,
    ) -> crate::Result<Vec<R>> {
        self.rows_in_then(select, column, lead, contacts, tail, Ok, Ok).await
    }

    /// [`rows_in`](Self::rows_in), each row converted by `convert` as it is read (a
    /// batch's large records are not first kept as rows and then copied into what
    /// they convert to), and the rows then made into what `then` makes of them, on
    /// the thread that read them ([`DirectReader::rows_in_as`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn rows_in_then<R: FromSqlite + Send + 'static, T: Send + 'static, U: Send + 'static>(
        &self,
        select: &str,
        column: &str,
        lead: &[i64],
        contacts: crate::Contacts<'_>,
        tail: &str,
        convert: fn(R) -> crate::Result<T>,
        then: impl FnOnce(Vec<T>) -> crate::Result<U> + Send + 'static,
    ) -> crate::Result<U> {
        let statements = crate::sql::statements(select, column, lead.len(), contacts, tail);
        let (few, expected) = (contacts.is_few(), contacts.ids().len());
        let decode = move |row: &rusqlite::Row<'_>, columns: &crate::direct::Columns| {
            convert(R::from_sqlite(row, columns)?).map_err(crate::direct::carried)
        };
        self.direct.rows_in_as(statements, lead, few, expected, decode, then).await
    }

    /// Each of `contacts`' events from `since` to `until`, unpacked where its pack
    /// rows are read, from SQLite's memory, and put together there (see
    /// [`crate::packs::by_contact`]), then made into what `then` makes of them.
    pub(crate) async fn packed_events_then<U: Send + 'static>(
        &self,
        contacts: crate::Contacts<'_>,
        since: leadgate_core::Timestamp,
        until: Option<leadgate_core::Timestamp>,
        then: impl FnOnce(Vec<crate::packs::Unpacked>) -> crate::Result<U> + Send + 'static,
    ) -> crate::Result<U> {
        use crate::direct::Column;
        let (select, column, tail) = crate::sql::PACK_ROWS;
        let statements = crate::sql::statements(select, column, 0, contacts, tail);
        let decode = move |row: &rusqlite::Row<'_>, _: &crate::direct::Columns| {
            Ok((uuid::Uuid::column(row, 0)?, crate::packs::unpack(crate::direct::blob(row, 1)?, since, until)))
        };
        let (few, expected) = (contacts.is_few(), contacts.ids().len());
        let then = |windows| then(crate::packs::by_contact(windows)?);
        self.direct.rows_in_as(statements, &[], few, expected, decode, then).await
    }

    /// The rows of one statement, with `lead` bound first, then `ids`, read directly.
    pub(crate) async fn rows<R: FromSqlite + Send + 'static>(
        &self,
        sql: &str,
        lead: &[i64],
        ids: &[uuid::Uuid],
    ) -> crate::Result<Vec<R>> {
        self.direct.rows_in(vec![(sql.to_owned(), ids.to_vec())], lead, false, 0).await
    }

    /// Closes every connection; the last one to close checkpoints and removes the WAL.
    pub(crate) async fn close_pools(&self) {
        self.checkpointer.close().await;
        self.direct.close().await;
        self.read.close().await;
        self.write.close().await;
        // A reader's connection that a query gave back just before is returned by a task
        // of its own, which may not have closed it yet when its pool's `close` returns
        // (a short command on a busy machine); the writer's is then not the last, and
        // leaves the WAL as it was. One more connection checkpoints it into the file
        // and empties it, so that everything written is in the database file.
        let wal = std::path::PathBuf::from(format!("{}-wal", self.direct.path().display()));
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            let path = self.direct.path().to_owned();
            let emptied = tokio::task::spawn_blocking(move || -> rusqlite::Result<()> {
                let c = rusqlite::Connection::open(&path)?;
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                c.close().map_err(|(_, e)| e)
            })
            .await;
            if let Ok(Err(e)) = emptied {
                tracing::warn!(error = %e, "the WAL could not be checkpointed at close; the next start reads it");
            }
        }
    }
}

/// Copies committed WAL frames back into the database every 100 ms, beside the writer
/// and without ever blocking it (`PASSIVE`). Copying and syncing the database file are
/// the expensive part of a checkpoint; done here, the writer's own automatic checkpoint
/// (at [`WRITER_CHECKPOINT_FRAMES`]) finds almost nothing left to copy, completes
/// quickly, and lets the next commit start the WAL over, so that it never grows without
/// bound under constant load.
async fn checkpoint_in_background(pool: SqlitePool) {
    // The first after 100 ms: a command that ends sooner never opens this connection.
    let every = Duration::from_millis(100);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            Ok(_) => {}
            // Closed while the checkpoint waited: the store is shutting down.
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!(error = %e, "background checkpoint failed; the writer's own checkpoint remains"),
        }
    }
}

/// WAL frames (4 KiB pages) after which the writer checkpoints the rest itself.
const WRITER_CHECKPOINT_FRAMES: u32 = 8_192;

/// What SQLite says differently, for the code both databases share (`adapter`).
pub(crate) mod dialect {
    pub(crate) use super::SqliteStore as SqlStore;
    pub(crate) use crate::changes::sqlite as feed_sql;

    pub(crate) type Db = sqlx::Sqlite;
    pub(crate) type DbConnection = sqlx::SqliteConnection;
    pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
    pub(crate) const BACKEND: &str = "sqlite";
    /// IMMEDIATE takes the write lock at BEGIN, where the busy timeout applies; a
    /// deferred transaction that reads first can fail at once (SQLITE_BUSY_SNAPSHOT)
    /// when the checkpointer restarts the WAL between its read and its first write.
    pub(crate) const BEGIN: &str = "BEGIN IMMEDIATE";
    /// One connection writes, so a transaction never waits for another's row locks,
    /// and rows need no locks of their own (`adapter::LOCK`).
    pub(crate) const ONE_WRITER: bool = true;
    /// The type of bytes: SQLite's `||` makes text of bytes, which a pack must not become.
    pub(crate) const BYTES: &str = "BLOB";
    /// Tests whether an inbox item's body, lower-cased, holds the text `$2` or `$3`.
    pub(crate) const CONTAINS: &str =
        "instr(lower(CAST(body AS TEXT)), $2) > 0 OR instr(lower(CAST(body AS TEXT)), $3) > 0";
    /// Tests whether an import job's row errors, lower-cased, hold the text `$1`.
    pub(crate) const ERRORS_HOLD: &str = "instr(lower(errors), $1) > 0";

    /// Restricts a search of waiting events to their index's buckets (migration 0002),
    /// one index search per bucket of 65,536 event ids: about 150 for 10 million events.
    /// SQLite evaluates the uncorrelated `max(id)` once, from the end of the table's B-tree.
    pub(crate) const WAITING: &str = " AND (id >> 16) IN (WITH RECURSIVE bucket (n) AS (SELECT 0 UNION ALL \
         SELECT n + 1 FROM bucket WHERE n < (SELECT max(id) >> 16 FROM events)) SELECT n FROM bucket)";

    /// A contact's events (the rows grouped) packed as `crate::packs` reads them; the
    /// migration that created `event_packs` filled it with the same expression.
    pub(crate) const PACK_EVENTS: &str = "unhex(group_concat(printf('%016x%08x', at, length(CAST(kind AS BLOB))) || hex(kind) \
         || CASE WHEN url IS NULL THEN 'FFFFFFFF' ELSE printf('%08x', length(CAST(url AS BLOB))) || hex(url) END, \
         '' ORDER BY at, id))";

    /// A contact's stage steps (its stage changes grouped) packed as `crate::stage_steps`
    /// reads them; the migration that added `contacts.stage_steps` filled it with the same
    /// expression.
    pub(crate) const PACK_STAGE_STEPS: &str = "unhex(group_concat(printf('%016x%08x', at, length(CAST(to_stage AS BLOB))) \
         || hex(to_stage) || CASE WHEN value IS NULL THEN '00' ELSE '01' || printf('%016x', value) END, '' ORDER BY at, id))";

    /// A contact's responses in brief (its responses grouped) packed as
    /// `crate::responses_brief` reads them; the migration that added
    /// `contacts.responses_brief` filled it with the same expression.
    pub(crate) const PACK_RESPONSES: &str = "unhex(group_concat(printf('%016x', at) || hex(id) \
         || printf('%08x', length(CAST(direction AS BLOB))) || hex(direction) \
         || printf('%08x', length(CAST(action AS BLOB))) || hex(action) \
         || CASE WHEN channel IS NULL THEN 'FFFFFFFF' ELSE printf('%08x', length(CAST(channel AS BLOB))) || hex(channel) END, \
         '' ORDER BY at, id))";
}

// The code both databases share, compiled here for SQLite.
#[path = "adapter/mod.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per database, on purpose: see adapter/mod.rs
mod adapter;
pub(crate) use adapter::SqlTx as SqliteTx;

impl SqliteTx {
    /// [`crate::Tx::save_scores`]: for a batch, on the writer's own SQLite connection,
    /// inside its transaction, with one prepared statement given each row's values as
    /// they are. Through sqlx every value was copied into its arguments and a statement
    /// of many rows built and parsed for every chunk: a rescore's writing cost more
    /// than SQLite's own part of it (docs/benchmarks.md). A request's few rows go
    /// through sqlx, whose statement is prepared once for all requests.
    pub(crate) async fn upsert_scores(
        &mut self,
        scores: &[leadgate_core::scoring::ContactScores],
    ) -> crate::Result<Vec<uuid::Uuid>> {
        if scores.len() <= crate::FEW_CONTACTS {
            return self.upsert_scores_in_chunks(scores).await;
        }
        let mut locked = self.tx.lock_handle().await?;
        // SAFETY: while `locked` lives, sqlx's worker thread makes no call on this
        // connection; the wrapper does not own the connection (dropping it closes
        // nothing) and is dropped, with its statements, before `locked` is.
        let c = unsafe { rusqlite::Connection::from_handle(locked.as_raw_handle().as_ptr()) }
            .map_err(crate::direct::from_rusqlite)?;
        let written = write_scores(&c, scores);
        drop(c);
        drop(locked);
        written
    }
}

/// Writes `scores`; returns the contacts whose scores changed, the others left as they
/// were ([`crate::sql::UPSERT_SCORES`]).
fn write_scores(
    c: &rusqlite::Connection,
    scores: &[leadgate_core::scoring::ContactScores],
) -> crate::Result<Vec<uuid::Uuid>> {
    let (insert, update) = crate::sql::UPSERT_SCORES;
    let sql = format!("{insert}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12){update}");
    let failed = crate::direct::from_rusqlite;
    let mut statement = c.prepare(&sql).map_err(failed)?;
    let mut changed = Vec::new();
    for s in scores {
        let a = &s.assessment;
        let json = s.stored_json().map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
        let factors = s.likelihood_factors.as_ref().map(|f| f.to_string());
        let written = statement
            .execute(rusqlite::params![
                s.contact_id.as_bytes().as_slice(),
                s.model,
                a.fit,
                a.engagement_at(a.as_of),
                a.funnel.grade.as_str(),
                a.pain.grade.as_str(),
                // As text, as sqlx binds JSON.
                json.get(),
                a.as_of.0,
                s.likelihood,
                factors,
                s.likelihood_model,
                s.digest(),
            ])
            .map_err(failed)?;
        if written > 0 {
            changed.push(s.contact_id);
        }
    }
    Ok(changed)
}
