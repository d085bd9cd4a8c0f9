//! PostgreSQL, for large installations and several leadgate servers sharing one
//! database.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pub(crate) write: PgPool,
    /// The same pool as `write`: PostgreSQL needs no separate readers.
    pub(crate) read: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let opts = PgConnectOptions::from_str(url)?;
        Self::connect_with(opts).await
    }

    /// Connects and applies migrations. Several servers may start at once: sqlx takes
    /// an advisory lock so that only one of them migrates.
    pub async fn connect_with(opts: PgConnectOptions) -> crate::Result<Self> {
        use sqlx::{ConnectOptions, Connection};
        let mut migrating = opts.clone().disable_statement_logging().connect().await?;
        crate::migrate::<sqlx::Postgres>(&sqlx::migrate!("migrations/postgres"), &mut migrating).await?;
        migrating.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        Ok(Self { write: pool.clone(), read: pool })
    }

    pub(crate) async fn close_pools(&self) {
        self.write.close().await;
    }

    /// The rows of `select` over `contacts` by `column`, then `tail`, with `lead`
    /// bound first (`$1` … in `select`): see [`crate::sql::statements`]. SQLite's
    /// store reads the same SQL directly (`DirectReader::rows_in`).
    pub(crate) async fn rows_in<R>(
        &self,
        select: &str,
        column: &str,
        lead: &[i64],
        contacts: crate::Contacts<'_>,
        tail: &str,
    ) -> crate::Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        let mut rows = Vec::new();
        for (sql, ids) in crate::sql::statements(select, column, lead.len(), contacts, tail) {
            rows.extend(self.rows(&sql, lead, &ids).await?);
        }
        Ok(rows)
    }

    /// [`rows_in`](Self::rows_in), each row converted by `convert`, and the rows then
    /// made into what `then` makes of them (as SQLite's store does on the thread that
    /// read them).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn rows_in_then<R, T, U>(
        &self,
        select: &str,
        column: &str,
        lead: &[i64],
        contacts: crate::Contacts<'_>,
        tail: &str,
        convert: fn(R) -> crate::Result<T>,
        then: impl FnOnce(Vec<T>) -> crate::Result<U> + Send + 'static,
    ) -> crate::Result<U>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        then(crate::rows::convert_all(self.rows_in(select, column, lead, contacts, tail).await?, convert)?)
    }

    /// Each of `contacts`' events from `since` to `until`, unpacked from their pack
    /// rows and put together (see [`crate::packs::by_contact`]), then made into what
    /// `then` makes of them.
    pub(crate) async fn packed_events_then<U>(
        &self,
        contacts: crate::Contacts<'_>,
        since: leadgate_core::Timestamp,
        until: Option<leadgate_core::Timestamp>,
        then: impl FnOnce(Vec<crate::packs::Unpacked>) -> crate::Result<U> + Send + 'static,
    ) -> crate::Result<U> {
        let (select, column, tail) = crate::sql::PACK_ROWS;
        let rows: Vec<(uuid::Uuid, Vec<u8>)> = self.rows_in(select, column, &[], contacts, tail).await?;
        then(crate::packs::unpack_by_contact(&rows, since, until)?)
    }

    /// The rows of one statement, with `lead` bound first, then `ids`.
    pub(crate) async fn rows<R>(&self, sql: &str, lead: &[i64], ids: &[uuid::Uuid]) -> crate::Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        let mut query = sqlx::query_as::<_, R>(sql);
        for l in lead {
            query = query.bind(*l);
        }
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.persistent(true).fetch_all(&self.read).await?)
    }
}

impl PgTx {
    /// [`crate::Tx::save_scores`]: a statement of many rows a chunk.
    pub(crate) async fn upsert_scores(
        &mut self,
        scores: &[leadgate_core::scoring::ContactScores],
    ) -> crate::Result<Vec<uuid::Uuid>> {
        self.upsert_scores_in_chunks(scores).await
    }
}

/// What PostgreSQL says differently, for the code both databases share (`adapter`).
pub(crate) mod dialect {
    pub(crate) use super::PgStore as SqlStore;
    pub(crate) use crate::changes::postgres as feed_sql;

    pub(crate) type Db = sqlx::Postgres;
    pub(crate) type DbConnection = sqlx::PgConnection;
    pub(crate) type DbRow = sqlx::postgres::PgRow;
    pub(crate) const BACKEND: &str = "postgres";
    pub(crate) const BEGIN: &str = "BEGIN";
    /// Several committers and servers write at once: rows read in order to be
    /// rewritten are locked (`adapter::LOCK`), in one order.
    pub(crate) const ONE_WRITER: bool = false;
    /// Appended to searches of events waiting for a contact: nothing, as PostgreSQL's
    /// partial index serves them as they are.
    pub(crate) const WAITING: &str = "";
    pub(crate) const BYTES: &str = "BYTEA";
    /// Tests whether an inbox item's body, lower-cased, holds the text `$2` or `$3`.
    pub(crate) const CONTAINS: &str =
        "position($2 in lower(encode(body, 'escape'))) > 0 OR position($3 in lower(encode(body, 'escape'))) > 0";
    /// Tests whether an import job's row errors, lower-cased, hold the text `$1`.
    pub(crate) const ERRORS_HOLD: &str = "position($1 in lower(errors::text)) > 0";

    /// A contact's events (the rows grouped) packed as `crate::packs` reads them; the
    /// migration that created `event_packs` filled it with the same expression.
    pub(crate) const PACK_EVENTS: &str = "string_agg(int8send(at) || int4send(octet_length(kind)) || convert_to(kind, 'UTF8') \
         || CASE WHEN url IS NULL THEN decode('ffffffff', 'hex') \
         ELSE int4send(octet_length(url)) || convert_to(url, 'UTF8') END, ''::bytea ORDER BY at, id)";

    /// A contact's stage steps (its stage changes grouped) packed as `crate::stage_steps`
    /// reads them; the migration that added `contacts.stage_steps` filled it with the same
    /// expression.
    pub(crate) const PACK_STAGE_STEPS: &str = "string_agg(int8send(at) || int4send(octet_length(to_stage)) \
         || convert_to(to_stage, 'UTF8') || CASE WHEN value IS NULL THEN decode('00', 'hex') \
         ELSE decode('01', 'hex') || int8send(value) END, ''::bytea ORDER BY at, id)";

    /// A contact's responses in brief (its responses grouped) packed as
    /// `crate::responses_brief` reads them; the migration that added
    /// `contacts.responses_brief` filled it with the same expression.
    pub(crate) const PACK_RESPONSES: &str = "string_agg(int8send(at) || uuid_send(id) \
         || int4send(octet_length(direction)) || convert_to(direction, 'UTF8') \
         || int4send(octet_length(action)) || convert_to(action, 'UTF8') \
         || CASE WHEN channel IS NULL THEN decode('ffffffff', 'hex') ELSE int4send(octet_length(channel)) || convert_to(channel, 'UTF8') END, \
         ''::bytea ORDER BY at, id)";
}

// The code both databases share, compiled here for PostgreSQL.
#[path = "adapter/mod.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per database, on purpose: see adapter/mod.rs
mod adapter;
pub(crate) use adapter::SqlTx as PgTx;
