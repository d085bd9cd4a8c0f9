//! Bulk reads of the SQLite file done directly (rusqlite), on a blocking thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands every row
//! to the async side through a channel, each value copied out of SQLite first. For
//! the reads that rescores, backtests and training make (thousands of contacts with
//! their responses, events and history, batch after batch) that hand-off cost several
//! times what SQLite itself spends: a batch of 2,000 contacts with their scores took
//! 31 ms through sqlx, of which SQLite's own part is about 7 ms (docs/benchmarks.md).
//! Here read-only connections of their own run the same SQL on a blocking thread (or,
//! for a request's few contacts, on the calling one) and decode the rows into the same
//! row structs ([`rows`](crate::rows)) that sqlx fills, so that both paths give the
//! same records.

use crate::{Result, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{OpenFlags, Row, RowIndex};
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A row struct read from a SQLite row by column name, as `sqlx::FromRow` reads it.
pub(crate) trait FromSqlite: Sized {
    fn from_sqlite(row: &Row<'_>, columns: &Columns) -> rusqlite::Result<Self>;
}

/// One column's value, as sqlx decodes it from SQLite.
pub(crate) trait Column: Sized {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self>;

    /// The value of a column that a statement selects as `NULL` (one a read leaves out),
    /// known without asking SQLite.
    fn null() -> rusqlite::Result<Self> {
        Err(wrong_type("NULL"))
    }
}

/// A statement's column names, and the columns its rows' fields were found in. A row
/// struct reads its fields in the same order for every row, so that only the first row
/// searches the names: each row after it reads the `n`th field from the column the
/// first found for it, once the field's name is seen to be the same text (by address:
/// one field of one row struct always names itself with the same literal).
pub(crate) struct Columns {
    names: Vec<String>,
    /// Those the statement selects as `NULL AS name`: what a read leaves out.
    nulls: Vec<bool>,
    found: std::cell::RefCell<Vec<(&'static str, Option<usize>)>>,
    read: std::cell::Cell<usize>,
}

impl Columns {
    /// The columns of `statement`, whose text is `sql`; each name once (a field is read
    /// from the first column of its name, where sqlx would take the last).
    fn of(statement: &rusqlite::Statement<'_>, sql: &str) -> Self {
        let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
        debug_assert!(
            names.iter().enumerate().all(|(i, n)| !names[..i].contains(n)),
            "a statement read into a row struct names a column twice: {names:?}"
        );
        let left_out = nulls_of(sql);
        let nulls = names.iter().map(|n| left_out.contains(&n.as_str())).collect();
        Self { names, nulls, found: Default::default(), read: Default::default() }
    }

    /// Starts reading a row's fields.
    fn start_row(&self) {
        self.read.set(0);
    }

    /// The index of column `name`, the next field a row struct reads; `None` when the
    /// statement selects it as `NULL`, so that its value is known without asking
    /// SQLite for it (the columns a read leaves out are a good part of its columns).
    #[inline]
    pub(crate) fn index(&self, name: &'static str) -> rusqlite::Result<Option<usize>> {
        let n = self.read.get();
        self.read.set(n + 1);
        let seen = self.found.borrow().get(n).copied();
        match seen {
            Some((seen, at)) if std::ptr::eq(seen, name) => Ok(at),
            _ => self.find(n, name),
        }
    }

    /// Searches the names for the `n`th field, `name`, and keeps where it is.
    #[cold]
    fn find(&self, n: usize, name: &'static str) -> rusqlite::Result<Option<usize>> {
        let at = self
            .names
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        let at = (!self.nulls[at]).then_some(at);
        let mut found = self.found.borrow_mut();
        found.truncate(n);
        found.push((name, at));
        Ok(at)
    }
}

/// The columns `sql` selects as `NULL AS name`, as the reads that leave a column out
/// write them ([`rows`](crate::rows)): found in one pass over the text, which a read of
/// one contact (the event path's) makes for each of its statements. The phrase is
/// kept for that: a statement read through [`Columns`] writes it for nothing else
/// (values are bound, never written into the text).
fn nulls_of(sql: &str) -> Vec<&str> {
    const LEAD: &str = "NULL AS ";
    sql.match_indices(LEAD)
        .map(|(at, _)| {
            let rest = &sql[at + LEAD.len()..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn wrong_type(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Null, format!("not {what}").into())
}

macro_rules! plain_columns {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
                row.get(at)
            }
        }

        impl Column for Option<$t> {
            fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
                row.get(at)
            }

            fn null() -> rusqlite::Result<Self> {
                Ok(None)
            }
        }
    )*};
}
plain_columns!(i64, f64, String, bool, Vec<u8>);

impl Column for Option<Uuid> {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
        match row.get_ref(at)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => Uuid::from_slice(b).map(Some).map_err(|_| wrong_type("a 16-byte id")),
            _ => Err(wrong_type("an id")),
        }
    }

    fn null() -> rusqlite::Result<Self> {
        Ok(None)
    }
}

impl Column for Uuid {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
        Option::<Uuid>::column(row, at)?.ok_or_else(|| wrong_type("a missing id"))
    }
}

impl<T: DeserializeOwned> Column for Option<Json<T>> {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
        let text = match row.get_ref(at)? {
            ValueRef::Null => return Ok(None),
            ValueRef::Text(t) | ValueRef::Blob(t) => t,
            _ => return Err(wrong_type("JSON text")),
        };
        serde_json::from_slice(text)
            .map(|v| Some(Json(v)))
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
    }

    fn null() -> rusqlite::Result<Self> {
        Ok(None)
    }
}

impl<T: DeserializeOwned> Column for Json<T> {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
        Option::<Json<T>>::column(row, at)?.ok_or_else(|| wrong_type("JSON text, but NULL"))
    }
}

/// Text that repeats from row to row (an event's kind and page), read once and then
/// shared: a batch's events hold a handful of distinct kinds and pages, and copying
/// each into memory of its own, then freeing it, was a good part of reading them. Read
/// through sqlx (PostgreSQL), it is copied as any text is.
#[derive(Debug, Clone)]
pub(crate) struct Shared(pub(crate) Arc<str>);

/// Distinct texts a reading thread keeps to share at most: past this many it starts
/// again, so that texts that do not repeat (pages with ids in them) cost it no more.
const MOST_SHARED: usize = 4_096;

thread_local! {
    /// Keyed by the text's bytes, so that a text met before is found without checking
    /// again that it is UTF-8: only a new one is checked, once.
    static SHARED: std::cell::RefCell<HashMap<Box<[u8]>, Arc<str>, foldhash::fast::FixedState>> = std::cell::RefCell::default();
}

/// The text of `bytes`, shared with every other read of the same bytes on this thread
/// (see [`Shared`]); `None` when they are not UTF-8.
pub(crate) fn shared(bytes: &[u8]) -> Option<Arc<str>> {
    SHARED.with_borrow_mut(|shared| {
        if let Some(text) = shared.get(bytes) {
            return Some(text.clone());
        }
        let text: Arc<str> = std::str::from_utf8(bytes).ok()?.into();
        if shared.len() >= MOST_SHARED {
            shared.clear();
        }
        shared.insert(bytes.into(), text.clone());
        Some(text)
    })
}

impl Column for Option<Shared> {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
        match row.get_ref(at)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => shared(t).map(|t| Some(Shared(t))).ok_or_else(|| wrong_type("UTF-8 text")),
            _ => Err(wrong_type("text")),
        }
    }

    fn null() -> rusqlite::Result<Self> {
        Ok(None)
    }
}

/// The bytes of a blob column, borrowed from SQLite's memory for the length of a row.
pub(crate) fn blob<'r, I: RowIndex>(row: &'r Row<'_>, at: I) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(at)? {
        ValueRef::Blob(b) => Ok(b),
        _ => Err(wrong_type("bytes")),
    }
}

impl Column for Shared {
    fn column<I: RowIndex>(row: &Row<'_>, at: I) -> rusqlite::Result<Self> {
        Option::<Shared>::column(row, at)?.ok_or_else(|| wrong_type("text, but NULL"))
    }
}

/// A column type read from text: of sqlx's type what `str` is (for the reads that go
/// through sqlx, on PostgreSQL); generic over `$g` when named.
macro_rules! typed_as_text {
    ($t:ty $(, $g:ident)?) => {
        impl<$($g,)? DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }
    };
}

pub(crate) use typed_as_text;

typed_as_text!(Shared);

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Shared
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Shared(<&str as sqlx::Decode<DB>>::decode(value)?.into()))
    }
}

/// `FromSqlite` for a row struct, its fields read by their names (the columns' names or
/// aliases); a field marked `flatten` is a row struct read from the same row, as
/// `#[sqlx(flatten)]` does. The struct literal names every field, so a field added to
/// the struct and not here does not compile.
macro_rules! from_sqlite {
    ($t:ident { $($field:ident $(: $flatten:ident)?),* $(,)? }) => {
        impl $crate::direct::FromSqlite for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, columns: &$crate::direct::Columns) -> rusqlite::Result<Self> {
                Ok(Self { $($field: $crate::direct::from_sqlite!(@field row, columns, $field $(, $flatten)?)),* })
            }
        }
    };
    (@field $row:ident, $columns:ident, $field:ident, flatten) => {
        $crate::direct::FromSqlite::from_sqlite($row, $columns)?
    };
    (@field $row:ident, $columns:ident, $field:ident) => {
        match $columns.index(stringify!($field))? {
            Some(at) => $crate::direct::Column::column($row, at)?,
            None => $crate::direct::Column::null()?,
        }
    };
}
pub(crate) use from_sqlite;

macro_rules! tuple_rows {
    ($(($($t:ident $i:tt),*)),*) => {$(
        impl<$($t: Column),*> FromSqlite for ($($t,)*) {
            fn from_sqlite(row: &Row<'_>, _: &Columns) -> rusqlite::Result<Self> {
                Ok(($($t::column(row, $i)?,)*))
            }
        }
    )*};
}
tuple_rows!((A 0), (A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3), (A 0, B 1, C 2, D 3, E 4));

/// A value bound to a statement: the numbers before the keys, then the keys.
enum Param {
    Int(i64),
    Id(Uuid),
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(i) => (*i).into(),
            Param::Id(id) => rusqlite::types::ToSqlOutput::Borrowed(ValueRef::Blob(id.as_bytes())),
        })
    }
}

/// Read-only connections to the database file, opened when first needed and kept.
#[derive(Clone)]
pub(crate) struct DirectReader {
    path: PathBuf,
    /// Idle connections for reads of batches, mapping the file, and for reads of a
    /// request's few contacts, not mapping it ([`Reading`]).
    idle: Arc<[Mutex<Vec<rusqlite::Connection>>; 2]>,
    /// How many rows the last read of each statement gave, by its SQL text: the rows
    /// the next batch's read foresees (see [`read_all`]).
    foreseen: Arc<Mutex<HashMap<String, usize>>>,
    /// Connections handed out and not yet given back, and whether the reader is closed:
    /// closing waits for them (see [`close`](Self::close)).
    lent: Arc<std::sync::atomic::AtomicUsize>,
    closed: Arc<std::sync::atomic::AtomicBool>,
}

/// Connections kept idle: as many as the reads that run at once (a backtest reads
/// seven tables of a batch together), so that none is opened anew for every batch.
const KEPT: usize = 8;

/// Up to 64 GiB of the file mapped. SQLite maps no more than it was built to
/// (`SQLITE_MAX_MMAP_SIZE`, 2 GB unless told otherwise, past which pages are read with
/// a system call and copied): leadgate builds it to map this much
/// (`.cargo/config.toml`).
const MMAP_BYTES: i64 = 1 << 36;

/// What a connection reads: batches of contacts, or a request's few.
#[derive(Clone, Copy, PartialEq)]
enum Reading {
    Batches = 0,
    Few = 1,
}

/// A connection of a [`DirectReader`] in use ([`DirectReader::connection`]).
struct Lent<'a> {
    reader: &'a DirectReader,
    reading: Reading,
    c: Option<rusqlite::Connection>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = rusqlite::Connection;

    fn deref(&self) -> &rusqlite::Connection {
        self.c.as_ref().expect("held until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.c.take() {
            self.reader.give_back(c, self.reading);
        }
    }
}

impl DirectReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Default::default(),
            foreseen: Default::default(),
            lent: Default::default(),
            closed: Default::default(),
        }
    }

    /// The database file it reads.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn idle(&self, reading: Reading) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        self.idle[reading as usize].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection lent for one read: given back when the loan is dropped, however
    /// the read ends (a panic too), so that closing never waits for it in vain.
    fn connection(&self, reading: Reading) -> rusqlite::Result<Lent<'_>> {
        let c = self.open_or_idle(reading)?;
        self.lent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Lent { reader: self, reading, c: Some(c) })
    }

    fn open_or_idle(&self, reading: Reading) -> rusqlite::Result<rusqlite::Connection> {
        if let Some(c) = self.idle(reading).pop() {
            return Ok(c);
        }
        let c = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        // Pages are read from the operating system's cache in place, mapped, rather than
        // copied into a page cache of the connection's own that every new connection
        // would first have to fill (the kernel zeroing each page it hands out: 9 % of a
        // rescore). Mapped pages count in the process's resident size, but they are the
        // file cache's, shared and given back under memory pressure (docs/benchmarks.md).
        //
        // Not for a request's few contacts, though: once anything is written, SQLite
        // unmaps the whole file at a connection's next read (its pages may have changed)
        // and maps it again, which costs every thread of the process a flush of its
        // address translations; the event path, which reads after every write, spent
        // about 60 µs an event in it. A connection of its own reads the few pages
        // a contact's rows are on from the file cache instead.
        if reading == Reading::Batches {
            c.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        }
        // One statement per size of `statement_chunks` and per query.
        c.set_prepared_statement_cache_capacity(256);
        Ok(c)
    }

    /// Closes the connections, waiting (at most 10 s) for those in use to be given
    /// back: the writer's connection must close last, since only the last connection
    /// to close puts the WAL back into the file and removes it. A read still under way
    /// when a command ends (one its caller stopped waiting for) would otherwise keep a
    /// connection open past the writer's, and leave the WAL to the next command.
    pub(crate) async fn close(&self) {
        use std::sync::atomic::Ordering;
        self.closed.store(true, Ordering::SeqCst);
        self.idle(Reading::Batches).clear();
        self.idle(Reading::Few).clear();
        let waited = std::time::Instant::now();
        while self.lent.load(Ordering::SeqCst) > 0 && waited.elapsed() < std::time::Duration::from_secs(10) {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    fn give_back(&self, c: rusqlite::Connection, reading: Reading) {
        use std::sync::atomic::Ordering;
        // Kept only while the reader is open; closed (dropped) once it is not.
        if !self.closed.load(Ordering::SeqCst) {
            let mut idle = self.idle(reading);
            if idle.len() < KEPT {
                idle.push(c);
            }
        }
        self.lent.fetch_sub(1, Ordering::SeqCst);
    }

    /// The rows of `statements` (each SQL text with the ids it binds after `lead`),
    /// decoded. A read of a request's `few` contacts runs on the calling thread.
    pub(crate) async fn rows_in<R: FromSqlite + Send + 'static>(
        &self,
        statements: Vec<(String, Vec<Uuid>)>,
        lead: &[i64],
        few: bool,
        expected: usize,
    ) -> Result<Vec<R>> {
        self.rows_in_as(statements, lead, few, expected, R::from_sqlite, Ok).await
    }

    /// Like [`rows_in`](Self::rows_in), each row made into what `decode` makes of it
    /// where it is read (what it makes of a value can borrow the value in SQLite's
    /// memory, rather than a copy of it first), and the rows then made into what
    /// `then` makes of them on the same thread: what a read of a batch does with its
    /// rows (converting them, grouping them by contact) is done beside the other reads
    /// of the batch, on rows still in the core's cache, rather than one after the
    /// other where the reads are awaited.
    pub(crate) async fn rows_in_as<T: Send + 'static, U: Send + 'static>(
        &self,
        statements: Vec<(String, Vec<Uuid>)>,
        lead: &[i64],
        few: bool,
        expected: usize,
        decode: impl Fn(&Row<'_>, &Columns) -> rusqlite::Result<T> + Send + 'static,
        then: impl FnOnce(Vec<T>) -> Result<U> + Send + 'static,
    ) -> Result<U> {
        let reading = if few { Reading::Few } else { Reading::Batches };
        let reader = self.clone();
        let read = move |statements: Vec<(String, Vec<Uuid>)>, lead: &[i64]| {
            let c = reader.connection(reading).map_err(from_rusqlite)?;
            // A batch of contacts has about as many events (say) as the one before; a
            // request's few rows are not worth foreseeing.
            let key = statements.first().map(|(sql, _)| sql.as_str()).unwrap_or_default();
            let foreseen = || reader.foreseen.lock().unwrap_or_else(|e| e.into_inner());
            let before = if few { None } else { foreseen().get(key).copied() };
            let rows = read_all(&c, &statements, lead, expected.max(before.unwrap_or(0)), &decode);
            drop(c);
            let rows = rows.map_err(from_rusqlite)?;
            if !few {
                let mut foreseen = foreseen();
                match foreseen.get_mut(key) {
                    Some(n) => *n = rows.len(),
                    None => {
                        foreseen.insert(key.to_owned(), rows.len());
                    }
                }
            }
            then(rows)
        };
        if few || IN_PLACE.try_with(|_| ()).is_ok() {
            // Read here: a request's few contacts cost less to read than handing the
            // read to a thread and waiting for it (tens of µs), and a caller reading in
            // place is on a thread of its own already (`reading_in_place`).
            return read(statements, lead);
        }
        let lead = lead.to_vec();
        tokio::task::spawn_blocking(move || read(statements, &lead))
            .await
            .map_err(|e| StoreError::Unavailable(format!("a read stopped: {e}")))?
    }
}

tokio::task_local! {
    /// Set while the reads of `reading_in_place` are made.
    static IN_PLACE: ();
}

/// Runs `reads` with the SQLite store's reads of many contacts made on the thread
/// that polls them rather than each handed to a blocking thread of its own: for a
/// caller on a blocking thread already (`spawn_blocking`), which reads a batch of
/// contacts and works on what it read there. The rows are then made, used and freed
/// on one thread (memory freed by the thread that took it costs the allocator least),
/// and the batch's reads cost no hand-overs between threads. PostgreSQL's reads are
/// not blocking and run as they always do.
pub async fn reading_in_place<F: std::future::Future>(reads: F) -> F::Output {
    IN_PLACE.scope((), reads).await
}

/// The rows of `statements`, at least `expected` of them foreseen (one a contact, for
/// a batch of contacts, or as many as the same statement's last read gave): a batch's
/// rows are large, and growing their vector from nothing took each size in turn from
/// fresh memory, which the kernel zeroes.
fn read_all<T>(
    c: &rusqlite::Connection,
    statements: &[(String, Vec<Uuid>)],
    lead: &[i64],
    expected: usize,
    decode: impl Fn(&Row<'_>, &Columns) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut rows = Vec::with_capacity(expected);
    // One read transaction, so that every statement sees the same committed state.
    let tx = c.unchecked_transaction()?;
    for (sql, ids) in statements {
        let mut statement = tx.prepare_cached(sql)?;
        let columns = Columns::of(&statement, sql);
        let params = lead.iter().map(|i| Param::Int(*i)).chain(ids.iter().map(|k| Param::Id(*k)));
        let mut found = statement.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = found.next()? {
            columns.start_row();
            rows.push(decode(row, &columns)?);
        }
    }
    tx.finish()?;
    Ok(rows)
}

/// A store error met while decoding a row, carried through rusqlite's error to the
/// read's caller ([`from_rusqlite`] gives it back as it was).
pub(crate) fn carried(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Null, Box::new(e))
}

pub(crate) fn from_rusqlite(e: rusqlite::Error) -> StoreError {
    let e = match e {
        rusqlite::Error::FromSqlConversionFailure(at, t, carried) => match carried.downcast::<StoreError>() {
            Ok(e) => return *e,
            Err(other) => rusqlite::Error::FromSqlConversionFailure(at, t, other),
        },
        e => e,
    };
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            StoreError::Corrupt(e.to_string())
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Sqlite(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Column, FromSqlite, MOST_SHARED, Shared, read_all};
    use std::sync::Arc;

    #[derive(Debug, PartialEq)]
    struct Inner {
        b: i64,
        c: Option<String>,
    }
    from_sqlite!(Inner { b, c });

    #[derive(Debug, PartialEq)]
    struct Outer {
        a: String,
        inner: Inner,
        d: i64,
    }
    from_sqlite!(Outer { a, inner: flatten, d });

    #[test]
    fn every_row_s_fields_come_from_their_own_columns_in_whatever_order_a_statement_selects_them() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        // The columns in another order than the fields, and two statements of one
        // read each in its own order.
        let statements = [
            "SELECT 1 AS d, column1 AS c, 'x' || column2 AS a, column2 AS b FROM (VALUES ('one', 1), (NULL, 2))",
            "SELECT 'y' AS a, 7 AS b, 'seven' AS c, 8 AS d",
        ]
        .map(|sql| (sql.to_owned(), Vec::new()));
        let rows: Vec<Outer> = read_all(&c, &statements, &[], 0, Outer::from_sqlite).unwrap();
        let outer = |a: &str, b, c: Option<&str>, d| Outer { a: a.into(), inner: Inner { b, c: c.map(Into::into) }, d };
        assert_eq!(rows, [outer("x1", 1, Some("one"), 1), outer("x2", 2, None, 1), outer("y", 7, Some("seven"), 8)]);
        // Two row structs reading one row's fields in other orders, through the same
        // columns: each field from its own column, not from where the other struct's
        // field of that rank was found.
        #[derive(Debug, PartialEq)]
        struct Reversed {
            d: i64,
            b: i64,
        }
        from_sqlite!(Reversed { d, b });
        let sql = "SELECT 'a' AS a, 2 AS b, 'c' AS c, 4 AS d";
        let mut statement = c.prepare(sql).unwrap();
        let columns = super::Columns::of(&statement, sql);
        let mut found = statement.query([]).unwrap();
        let row = found.next().unwrap().unwrap();
        for _ in 0..2 {
            columns.start_row();
            assert_eq!(Outer::from_sqlite(row, &columns).unwrap(), outer("a", 2, Some("c"), 4));
            columns.start_row();
            assert_eq!(Reversed::from_sqlite(row, &columns).unwrap(), Reversed { d: 4, b: 2 });
        }
        // A statement without a field's column is refused, naming it.
        let missing = [("SELECT 'z' AS a, 1 AS b, NULL AS c".to_owned(), Vec::new())];
        let e = read_all(&c, &missing, &[], 0, Outer::from_sqlite).unwrap_err();
        assert!(matches!(&e, rusqlite::Error::InvalidColumnName(name) if name == "d"), "{e}");
    }

    #[test]
    fn a_column_selected_as_null_reads_as_none_and_one_that_cannot_be_none_is_refused() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let read = |sql: &str| read_all(&c, &[(sql.to_owned(), Vec::new())], &[], 0, Outer::from_sqlite);
        // `c` left out; a column whose name begins with another's is not taken for it.
        let rows = read("SELECT 'x' AS a, 1 AS b, NULL AS c, 2 AS d, NULL AS c_more").unwrap();
        assert_eq!(rows, [Outer { a: "x".into(), inner: Inner { b: 1, c: None }, d: 2 }]);
        let rows = read("SELECT 'x' AS a, 1 AS b, 'kept' AS c, 2 AS d, NULL AS cc").unwrap();
        assert_eq!(rows[0].inner.c.as_deref(), Some("kept"));
        // A field that is never none, selected as NULL: an error, not a value made up.
        assert!(read("SELECT 'x' AS a, NULL AS b, NULL AS c, 2 AS d").is_err());
        assert_eq!(super::nulls_of("SELECT NULL AS junk, x, NULL AS junk_kind FROM t"), ["junk", "junk_kind"]);
        assert_eq!(super::nulls_of("SELECT x, NULL AS y"), ["y"]);
    }

    /// The texts of `sql`'s one column, read as shared texts.
    fn shared(c: &rusqlite::Connection, sql: &str) -> Vec<Option<Arc<str>>> {
        let mut statement = c.prepare(sql).unwrap();
        let rows = statement.query_map([], |row| Option::<Shared>::column(row, 0)).unwrap();
        rows.map(|r| r.unwrap().map(|s| s.0)).collect()
    }

    #[test]
    fn repeated_texts_are_read_once_and_every_text_reads_back_as_it_was() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let read = shared(&c, "SELECT column1 FROM (VALUES ('page_view'), (NULL), ('download'), ('page_view'))");
        assert_eq!(
            read.iter().map(|t| t.as_deref()).collect::<Vec<_>>(),
            [Some("page_view"), None, Some("download"), Some("page_view")]
        );
        let (first, again) = (read[0].as_deref().unwrap(), read[3].as_deref().unwrap());
        assert!(std::ptr::eq(first, again), "one text, shared");
        // More distinct texts than are kept: each still reads as itself.
        let many = format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             SELECT 'https://x.example/' || (i % {}) FROM n",
            3 * MOST_SHARED,
            2 * MOST_SHARED
        );
        let read = shared(&c, &many);
        assert_eq!(read.len(), 3 * MOST_SHARED + 1);
        for (i, text) in read.iter().enumerate() {
            assert_eq!(text.as_deref(), Some(format!("https://x.example/{}", i % (2 * MOST_SHARED)).as_str()));
        }
        // Bytes that are not UTF-8 are refused, not read as text.
        let mut statement = c.prepare("SELECT CAST(x'ff' AS TEXT)").unwrap();
        assert!(statement.query_row([], |row| Shared::column(row, 0)).is_err());
    }

    #[test]
    fn batches_are_read_through_a_mapping_of_up_to_64_gib_and_a_request_s_few_contacts_through_none() {
        // SQLite clamps what it is asked to map to what it was built to map: the
        // pragma gives back what it will map.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapped.db");
        rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        let reader = super::DirectReader::new(path);
        let c = reader.connection(super::Reading::Batches).unwrap();
        let mapped: i64 = c.pragma_query_value(None, "mmap_size", |row| row.get(0)).unwrap();
        assert_eq!(mapped, super::MMAP_BYTES, "SQLite built to map at most {mapped} bytes");
        // A request's few contacts are read without the mapping, which every write
        // would make the next read undo.
        let few = reader.connection(super::Reading::Few).unwrap();
        let mapped: i64 = few.pragma_query_value(None, "mmap_size", |row| row.get(0)).unwrap();
        assert_eq!(mapped, 0);
    }

    #[tokio::test]
    async fn closing_waits_for_a_connection_in_use_and_keeps_none_given_back_after() {
        // A read under way when the reader closes: its connection must be closed too,
        // not kept, or it would outlive the writer's and leave the WAL behind.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lent.db");
        rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        let reader = super::DirectReader::new(path);
        let (lent, taken) = std::sync::mpsc::channel();
        let reading = {
            let reader = reader.clone();
            std::thread::spawn(move || {
                let c = reader.connection(super::Reading::Batches).unwrap();
                lent.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                drop(c);
            })
        };
        taken.recv().unwrap();
        reader.close().await;
        assert_eq!(reader.lent.load(std::sync::atomic::Ordering::SeqCst), 0, "closing waited for it");
        reading.join().unwrap();
        assert!(reader.idle(super::Reading::Batches).is_empty(), "given back after closing, it is not kept");
    }
}
