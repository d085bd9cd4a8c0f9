//! leadgate's use cases: what the API and the CLI can ask for.
//!
//! Handlers call these, never the store. Transactions, the clock and id generation
//! live here, so the domain core stays pure and the store stays dumb.

mod access;
mod batch;
pub mod capture;
pub mod changes;
mod contacts;
pub mod demo;
mod error;
mod events;
pub mod export;
pub mod handoff;
pub mod identity;
pub mod import;
pub mod privacy;
pub mod qualification;
mod rations;
pub mod reports;
mod retry;
pub mod spend;

use leadgate_core::Timestamp;
use leadgate_store::{Store, StoreError, Tx};
use std::sync::Arc;

pub use access::NewApiKey;
pub use capture::forms::FormInput;
pub use capture::{INBOX_PAGE_MAX, INBOX_PREVIEW_BYTES, InquiryReceipt, RawInquiry};
pub use changes::consumers::{ConsumerLabel, ConsumerView, LEASE as CONSUMER_LEASE};
pub use contacts::{ContactPage, ContactQuery, ContactView, MAX_PAGE as CONTACTS_PAGE_MAX};
pub use error::{AppError, ErrorCode, ErrorKind};
pub use events::{EventsReceipt, MAX_EVENTS_PER_BATCH, Rejected};
pub use identity::{DuplicateQuery, Duplicates, MergeView};
pub use leadgate_store::AuditFilter;
pub use qualification::assess::PhaseLabel;
pub use rations::{HeavyWork, Ration};

/// Ends a transaction by the outcome of the work done in it: commit on success, roll
/// back on error. Rolling back explicitly releases its locks now (PostgreSQL), rather
/// than when the pool next uses the connection, so that a retry or the next request
/// does not wait on them.
pub(crate) async fn finish<T, E: From<StoreError>>(tx: Box<dyn Tx>, result: Result<T, E>) -> Result<T, E> {
    finish_in_feed(tx, result).await.map(|(value, _)| value)
}

/// [`finish`], giving too the position of the last entry the transaction wrote to the
/// change feed, for a caller that waits for it to be scored ([`App::wait_until_scored`]).
pub(crate) async fn finish_in_feed<T, E: From<StoreError>>(
    tx: Box<dyn Tx>,
    result: Result<T, E>,
) -> Result<(T, Option<leadgate_core::changes::Position>), E> {
    match result {
        Ok(value) => {
            let last = tx.commit().await?;
            Ok((value, last))
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Runs `work` (reads of a batch and what is done with them) whole on a blocking thread
/// of its own, its SQLite reads made there one after the other
/// ([`leadgate_store::reading_in_place`]) rather than each handed to a thread: a walk
/// over every contact keeps several such batches in hand to keep the cores busy.
pub(crate) fn read_on_a_thread_of_its_own<
    R: Send + 'static,
    W: Future<Output = Result<R, AppError>> + Send + 'static,
>(
    what: &str,
    work: W,
) -> impl Future<Output = Result<R, AppError>> + use<R, W> {
    let runtime = tokio::runtime::Handle::current();
    let done = off_runtime(what, move || runtime.block_on(leadgate_store::reading_in_place(work)));
    async { done.await? }
}

/// `N` random bytes for keys and secrets, from `rand`'s thread-local generator (a
/// cryptographically secure one, seeded from the operating system).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Runs CPU work (`what`, for the error should it stop) on a blocking thread, off the
/// async workers that serve requests. The work starts at once; the future gives its
/// result.
pub(crate) fn off_runtime<R: Send + 'static, W: FnOnce() -> R + Send + 'static>(
    what: &str,
    work: W,
) -> impl Future<Output = Result<R, AppError>> + use<R, W> {
    // Started here, not when first awaited: a caller may go on with other work first.
    let running = tokio::task::spawn_blocking(work);
    let what = what.to_owned();
    async move { running.await.map_err(|e| AppError::new(ErrorCode::Internal, format!("{what} stopped: {e}"))) }
}

/// Where "now" comes from; tests use a fixed clock.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
}

#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Most events written in one group commit.
    pub max_commit_events: usize,
    /// How many group commits may run at once (1 for SQLite, which has one writer).
    pub committers: usize,
    /// Backtests, duplicate searches, exports and reports that may run at once.
    pub heavy_reads: usize,
    /// Imports that may run at once.
    pub imports: usize,
}

impl AppOptions {
    pub fn for_backend(backend: &str) -> Self {
        Self {
            max_commit_events: 20_000,
            committers: if backend == "postgres" { 4 } else { 1 },
            heavy_reads: 2,
            imports: 2,
        }
    }
}

/// The application: the store plus the services around it.
pub struct App {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    events: events::Committer,
    keys: access::KeyCache,
    assessor: Arc<qualification::assess::Assessor>,
    /// Held while every contact is rescored: one rescore at a time.
    rescoring: tokio::sync::Mutex<()>,
    training: tokio::sync::Mutex<()>,
    rations: rations::Rations,
    feed_watch: changes::FeedWatch,
    consumers: changes::consumers::Consumers,
    /// Every live contact's path, for the reports; kept current from the change feed.
    summaries: reports::summary::PathSummaries,
    /// The queues and routing rules this server has read.
    handoff: Arc<handoff::Handoff>,
}

impl App {
    /// Builds the application; starts the event committer(s) on the current runtime.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, opts: AppOptions) -> Arc<Self> {
        let assessor = Arc::new(qualification::assess::Assessor::new(store.clone(), clock.clone()));
        let feed_watch = changes::FeedWatch::default();
        let events = events::Committer::start(store.clone(), clock.clone(), feed_watch.committed.clone(), &opts);
        Arc::new(Self {
            store,
            clock,
            events,
            keys: access::KeyCache::default(),
            assessor,
            rescoring: Default::default(),
            training: Default::default(),
            rations: rations::Rations::new(opts.heavy_reads, opts.imports),
            feed_watch,
            consumers: Default::default(),
            summaries: Default::default(),
            handoff: Default::default(),
        })
    }

    /// Opens the database `url` names (`postgres://…`, or a SQLite file as
    /// `sqlite://PATH` or a bare path), brings its tables up to date, and builds the
    /// application on it with the current time. A SQLite file is created if missing
    /// (its folder must exist); a PostgreSQL database must exist. `options` adjusts
    /// the defaults for that database. `sqlite_full_sync`: a SQLite commit is on disk
    /// before it is acknowledged even across a power cut (`false` survives a crash of
    /// leadgate only).
    pub async fn open(
        url: &str,
        sqlite_full_sync: bool,
        options: impl FnOnce(AppOptions) -> AppOptions,
    ) -> Result<Arc<Self>, StoreError> {
        let sqlite = leadgate_store::SqliteOptions { full_sync: sqlite_full_sync, ..Default::default() };
        let store = leadgate_store::open(url, sqlite).await?;
        let opts = options(AppOptions::for_backend(store.backend()));
        Ok(Self::new(store, Arc::new(SystemClock), opts))
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The database in use: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Closes the database's connections: what a command does last, and what a test
    /// does to see the database go away.
    pub async fn close(&self) {
        self.store.close().await;
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub async fn health(&self) -> Result<(), AppError> {
        self.store.ping().await.map_err(AppError::from)
    }

    /// How much is stored.
    pub async fn stats(&self) -> Result<leadgate_core::model::Totals, AppError> {
        Ok(self.store.totals().await?)
    }

    /// How many contacts are live: what a rescore walks.
    pub async fn live_contacts(&self) -> Result<i64, AppError> {
        Ok(self.store.live_contact_count().await?)
    }
}
