//! The embedded default: one SQLite file in WAL mode.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one
//! connection (waiting in line in the pool instead of failing with `SQLITE_BUSY`), and
//! reads through a separate pool that WAL lets run beside the writer.

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
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open(path: &Path, opts: SqliteOptions) -> crate::Result<Self> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if opts.full_sync { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        // The writer maintains every index: give it room to keep them in memory. Pages
        // are allocated only as used, so a small database stays small in memory.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.clone().pragma("cache_size", "-262144"))
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(opts.readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true).pragma("cache_size", "-65536"))
            .await?;
        Ok(Self { write, read })
    }
}

mod imp {
    crate::sql_store::impl_sql_store!(super::SqliteStore, SqliteTx, sqlx::Sqlite, "sqlite");
}
