//! The change feed's consumers inside leadgate: scoring first; routing, SLA clocks,
//! alerts and nurture next. Each follows the feed from a durable position and does what
//! its entries ask.
//!
//! Every server runs every consumer's loop, and one server at a time holds each
//! consumer (a lease in the store, see `leadgate_store::ConsumerLeases`). The holder
//! reads a page of entries after its position, does its work, and commits that work
//! together with the step of its position ([`Step::commit`]): after a restart or a
//! `kill -9` the consumer starts again exactly where its last commit left it, nothing
//! done twice and nothing skipped. A holder that stops renewing (it died, or stalled)
//! loses the lease after [`LEASE`] and another server takes over; should the stalled
//! one wake and try to commit, the store refuses its step and its work is rolled back.

mod scoring;

use crate::{App, Clock, SystemClock};
use leadgate_core::Timestamp;
use leadgate_core::changes::{Change, Kinds, Position};
use leadgate_store::{Advance, Store, StoreError, Tx};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use std::future::Future;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::watch;

pub(crate) use crate::handoff::route::Routing;
pub(crate) use scoring::Scoring;

/// How long a server holds a consumer without renewing: another server takes over this
/// long after the holder died.
pub const LEASE: Duration = Duration::from_secs(5);
/// How often an idle holder renews its lease (and records how far it has read).
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(1);
/// Entries read and handled at once.
const PAGE: i64 = 2_000;
/// How long a use case that needs the answer at once (an inquiry's stage) waits for the
/// scoring consumer before answering with what is there (it is behind: a rescore runs,
/// or a large import is being scored).
const SETTLE_AT_MOST: Duration = Duration::from_secs(2);
/// How often a waiter looks at a consumer another server holds.
const LOOK_EVERY: Duration = Duration::from_millis(25);

/// A consumer of the feed: which entries it reads, and what it does with a page of them.
pub(crate) trait Consumer: Send + Sync + 'static {
    /// Its name in the store, in metrics and in `GET /v1/consumers`.
    const NAME: &'static str;
    /// The kinds of entries it reads; the others are skipped.
    fn kinds() -> Kinds;
    /// Does what `entries` ask, its writes in one transaction from `step.begin()`
    /// committed with `step.commit(tx)`; whether the step was taken (`false`: another
    /// server holds the consumer now, and nothing was kept).
    fn handle<'a>(
        &'a self,
        entries: &'a [Change],
        step: &'a Step<'a>,
    ) -> impl Future<Output = Result<bool, crate::AppError>> + Send + 'a;
}

/// One step of a consumer: the transaction of its work, and the move of its position
/// that commits with it.
#[derive(Clone, Copy)]
pub(crate) struct Step<'a> {
    store: &'a dyn Store,
    name: &'a str,
    holder: &'a str,
    from: Position,
    to: Position,
    handled: i64,
}

impl Step<'_> {
    pub(crate) async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        self.store.begin().await
    }

    /// Renews the lease without moving the position, for a step that waits (for a
    /// rescore to let go of its contacts); whether this server still holds it.
    pub(crate) async fn renew(&self) -> Result<bool, StoreError> {
        Step { to: self.from, handled: 0, ..*self }.commit_alone().await
    }

    /// Takes the step with no work beside it (renewing the lease, moving past entries
    /// of other kinds); whether it was taken.
    async fn commit_alone(&self) -> Result<bool, StoreError> {
        let tx = self.begin().await?;
        self.commit(tx).await
    }

    /// Moves the consumer's position in `tx`, then commits: whether it did (`false`:
    /// the lease was lost meanwhile, and `tx` is rolled back).
    pub(crate) async fn commit(&self, mut tx: Box<dyn Tx>) -> Result<bool, StoreError> {
        let advance = Advance {
            name: self.name,
            holder: self.holder,
            from: self.from,
            to: self.to,
            handled: self.handled,
            until: lease_until(),
        };
        let moved = match tx.advance_consumer(&advance).await {
            Ok(moved) => moved,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        if !moved {
            let _ = tx.rollback().await;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabel {
    pub consumer: &'static str,
}

/// A consumer as `GET /v1/consumers` shows it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, utoipa::ToSchema)]
pub struct ConsumerView {
    pub name: String,
    /// How far it has handled the feed, as a cursor of `GET /v1/changes`.
    pub cursor: String,
    /// Whether it has handled every entry of the kinds it reads committed before this
    /// was asked.
    pub caught_up: bool,
    /// Entries handled since it first ran.
    pub handled: i64,
    /// The server running it (a random name each server takes when it starts), while
    /// its lease runs; `null` when none does.
    pub server: Option<String>,
    /// Until when its lease holds.
    pub lease_until: Option<String>,
}

/// A consumer's position as this server last committed or read it, and whether this
/// server holds it: then that is its position, and waiters need not look in the store.
pub(crate) struct Progress {
    position: watch::Sender<Position>,
    holding: std::sync::atomic::AtomicBool,
}

impl Default for Progress {
    fn default() -> Self {
        Self { position: watch::channel(Position::default()).0, holding: Default::default() }
    }
}

impl Consumers {
    fn progress(&self, name: &str) -> &Progress {
        if name == Routing::NAME { &self.routing } else { &self.scoring }
    }
}

/// This server's side of the consumers.
pub(crate) struct Consumers {
    /// Names this server among the holders: random, so that a restarted server is a new
    /// holder and never mistakes its predecessor's lease for its own.
    holder: String,
    /// Set once this server runs the consumers (a server does; a command does not).
    started: OnceLock<()>,
    running: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// How far scoring, and routing, stand as this server knows.
    scoring: Progress,
    routing: Progress,
    /// Seconds from an entry's commit to its consumer committing what it did.
    pub(crate) lag: Family<ConsumerLabel, Histogram>,
}

impl Default for Consumers {
    fn default() -> Self {
        Self {
            holder: format!("{}", uuid::Uuid::now_v7().simple()),
            started: OnceLock::new(),
            running: Default::default(),
            scoring: Progress::default(),
            routing: Progress::default(),
            lag: Family::new_with_constructor(|| {
                Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
        }
    }
}

/// The machine's clock ([`SystemClock`]), as the store stamps feed entries: leases are
/// compared between servers, never by the application's clock (tests fix that one).
fn wall_clock() -> Timestamp {
    SystemClock.now()
}

fn lease_until() -> Timestamp {
    Timestamp(wall_clock().0 + LEASE.as_micros() as i64)
}

impl App {
    /// Starts this server's consumers of the change feed (scoring, routing) and the SLA
    /// clocks' sweep; they run until the
    /// server stops ([`App::close_streams`]) or the application is dropped.
    pub fn start_consumers(self: &Arc<Self>) {
        if self.consumers.started.set(()).is_err() {
            return;
        }
        let scoring = Arc::new(Scoring::new(self.assessor.clone()));
        let routing = Arc::new(Routing::new(self));
        let mut running = self.consumers.running.lock().unwrap_or_else(|e| e.into_inner());
        running.push(tokio::spawn(supervise(Arc::downgrade(self), scoring)));
        running.push(tokio::spawn(supervise(Arc::downgrade(self), routing)));
        running.push(tokio::spawn(crate::handoff::sla::watch_clocks(Arc::downgrade(self))));
    }

    /// Stops this server's consumers and waits until they have: what they were doing
    /// is committed or rolled back, their leases let go for another server to take at
    /// once, and the store is theirs no more (it can close).
    pub async fn stop_consumers(&self) {
        self.close_streams();
        let running = std::mem::take(&mut *self.consumers.running.lock().unwrap_or_else(|e| e.into_inner()));
        for consumer in running {
            let _ = consumer.await;
        }
    }

    /// Where each consumer stands: how far it has handled the feed, whether anything
    /// it reads is left, which server runs it.
    pub async fn consumers(&self) -> Result<Vec<ConsumerView>, crate::AppError> {
        let written = self.store.last_change_written().await?;
        self.consumers_as_of(written).await
    }

    /// [`App::consumers`], caught up when every entry up to `written` is readable and
    /// each consumer has handled those of its kinds.
    async fn consumers_as_of(&self, written: Position) -> Result<Vec<ConsumerView>, crate::AppError> {
        let feed = self.store.feed_info().await?.feed;
        let kinds_of = |name: &str| match name {
            Scoring::NAME => Some(Scoring::kinds()),
            Routing::NAME => Some(Routing::kinds()),
            _ => None,
        };
        // An entry committed before, and not readable yet (on PostgreSQL, an older
        // transaction still runs), keeps every consumer from being caught up.
        let readable = self.store.last_change_position().await? >= written;
        let mut views = Vec::new();
        for c in self.store.consumers().await? {
            let caught_up = match kinds_of(&c.name) {
                Some(kinds) => readable && self.store.changes(c.position, 1, kinds).await?.entries.is_empty(),
                None => false,
            };
            let held = c.lease_until > wall_clock();
            views.push(ConsumerView {
                cursor: crate::changes::Cursor { feed, position: c.position }.encode(),
                caught_up,
                handled: c.handled,
                server: c.holder.filter(|_| held),
                lease_until: held.then(|| c.lease_until.to_rfc3339()),
                name: c.name,
            });
        }
        Ok(views)
    }

    /// The name this server holds consumers by (see [`ConsumerView::server`]).
    pub fn server_name(&self) -> &str {
        &self.consumers.holder
    }

    /// Waits until every consumer has handled each change of the kinds it reads
    /// committed so far, for at most `within`; whether they had.
    pub async fn wait_until_caught_up(&self, within: Duration) -> Result<bool, crate::AppError> {
        let deadline = tokio::time::Instant::now() + within;
        let written = self.store.last_change_written().await?;
        loop {
            // Those this build runs: a consumer of another version is not waited for.
            let all = self.consumers_as_of(written).await?;
            let ours: Vec<&ConsumerView> =
                all.iter().filter(|c| [Scoring::NAME, Routing::NAME].contains(&c.name.as_str())).collect();
            if ours.len() == 2 && ours.iter().all(|c| c.caught_up) {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    /// The histogram of how long after a change its consumer had handled it.
    pub fn consumer_lag(&self) -> Family<ConsumerLabel, Histogram> {
        self.consumers.lag.clone()
    }

    /// The histograms of how long the scoring consumer took to assess each step's
    /// contacts, by phase.
    pub fn assessing_time(&self) -> Family<crate::qualification::assess::PhaseLabel, Histogram> {
        self.assessor.timings.clone()
    }

    /// Waits until the scoring consumer has handled the entry at `position` (the last
    /// a transaction wrote), so that a use case can answer with the scores and stage
    /// its change led to; at most [`SETTLE_AT_MOST`], and not at all where no consumer
    /// runs in this process (a command).
    pub(crate) async fn wait_until_scored(&self, position: Option<Position>) {
        self.wait_for::<Scoring>(position).await
    }

    /// Waits until the routing consumer has handled the entry at `position`, as
    /// [`App::wait_until_scored`] does for scoring.
    pub async fn wait_until_routed(&self, position: Option<Position>) {
        self.wait_for::<Routing>(position).await
    }

    async fn wait_for<C: Consumer>(&self, position: Option<Position>) {
        let Some(target) = position else { return };
        if self.consumers.started.get().is_none() {
            return;
        }
        let progress = self.consumers.progress(C::NAME);
        let mut local = progress.position.subscribe();
        let mut closing = self.feed_watch.closing.subscribe();
        let deadline = tokio::time::Instant::now() + SETTLE_AT_MOST;
        loop {
            if *local.borrow_and_update() >= target || *closing.borrow_and_update() {
                return;
            }
            // Another server may hold the consumer: its position is in the store.
            if !progress.holding.load(std::sync::atomic::Ordering::Relaxed)
                && let Ok(all) = self.store.consumers().await
                && all.iter().any(|c| c.name == C::NAME && c.position >= target)
            {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::debug!(?target, consumer = C::NAME, "answering before the consumer caught up");
                return;
            }
            tokio::select! {
                _ = tokio::time::timeout(LOOK_EVERY, local.changed()) => {}
                _ = closing.changed() => {}
            }
        }
    }
}

/// Runs a consumer's loop, and runs it again should it panic: a consumer that stopped
/// would leave every change unhandled.
async fn supervise<C: Consumer>(app: Weak<App>, consumer: Arc<C>) {
    loop {
        match tokio::spawn(follow(app.clone(), consumer.clone())).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(consumer = C::NAME, error = %e, "the consumer stopped; starting it again in a second");
                tokio::time::sleep(RENEW_EVERY).await;
            }
        }
    }
}

/// A consumer's loop on this server: takes the lease when free, then reads and handles
/// pages until it loses it or the server stops.
async fn follow<C: Consumer>(app: Weak<App>, consumer: Arc<C>) {
    let Some(started) = app.upgrade() else { return };
    let (store, holder) = (started.store.clone(), started.consumers.holder.clone());
    let mut closing = started.feed_watch.closing.subscribe();
    let lag = started.consumers.lag.get_or_create(&ConsumerLabel { consumer: C::NAME }).clone();
    let published = started.consumers.progress(C::NAME).position.clone();
    let mut latest = loop {
        match started.feed_watch.subscribe(&store).await {
            Ok(latest) => break latest,
            Err(e) => {
                tracing::warn!(consumer = C::NAME, error = %e, "the change feed cannot be watched yet; trying again")
            }
        }
        if *closing.borrow_and_update() {
            return;
        }
        pause(&mut closing, RENEW_EVERY).await;
    };
    let holding = |held: bool| {
        if let Some(app) = app.upgrade() {
            app.consumers.progress(C::NAME).holding.store(held, std::sync::atomic::Ordering::Relaxed);
        }
    };
    drop(started);
    // Where the consumer stands in the store, and how far this server has read past it
    // (entries of other kinds skipped); `None` while another server holds it.
    let mut held: Option<(Position, Position)> = None;
    let mut renewed = tokio::time::Instant::now();
    loop {
        if *closing.borrow_and_update() || app.strong_count() == 0 {
            // Whether or not this server thinks it holds it: a lease taken whose answer
            // was lost is let go too (only the holder's is).
            let _ = store.release_lease(C::NAME, &holder).await;
            holding(false);
            return;
        }
        let Some((durable, read_from)) = held else {
            match store.take_lease(C::NAME, &holder, lease_until(), wall_clock()).await {
                Ok(Some(at)) => {
                    tracing::info!(consumer = C::NAME, "this server now runs the consumer");
                    held = Some((at, at));
                    renewed = tokio::time::Instant::now();
                    published.send_replace(at);
                    holding(true);
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(consumer = C::NAME, error = %e, "taking the consumer's lease failed"),
            }
            pause(&mut closing, RENEW_EVERY).await;
            continue;
        };
        let page = match store.changes(read_from, PAGE, C::kinds()).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(consumer = C::NAME, error = %e, "reading the change feed failed; trying again");
                pause(&mut closing, RENEW_EVERY).await;
                continue;
            }
        };
        if page.entries.is_empty() {
            held = Some((durable, page.next));
            // What it read past needs nothing of it: a waiter for those entries is done.
            published.send_replace(page.next);
            // Idle: renew the lease now and then, recording how far it has read.
            if renewed.elapsed() >= RENEW_EVERY {
                held = renew::<C>(store.as_ref(), &holder, durable, page.next).await;
                renewed = tokio::time::Instant::now();
                holding(held.is_some());
            }
            tokio::select! {
                // A watch that stopped wakes no one: look again each second instead.
                changed = latest.changed() => if changed.is_err() { pause(&mut closing, RENEW_EVERY).await },
                _ = tokio::time::sleep(RENEW_EVERY) => {}
                _ = closing.changed() => {}
            }
            continue;
        }
        let handled = page.entries.len() as i64;
        let step =
            Step { store: store.as_ref(), name: C::NAME, holder: &holder, from: durable, to: page.next, handled };
        match consumer.handle(&page.entries, &step).await {
            Ok(true) => {
                let now = wall_clock();
                for entry in &page.entries {
                    lag.observe((now.0 - entry.at.0).max(0) as f64 / 1e6);
                }
                held = Some((page.next, page.next));
                renewed = tokio::time::Instant::now();
                published.send_replace(page.next);
            }
            Ok(false) => {
                tracing::info!(consumer = C::NAME, "another server took the consumer over");
                held = None;
                holding(false);
            }
            Err(e) => {
                tracing::warn!(consumer = C::NAME, error = %e, "handling changes failed; trying again in a second");
                pause(&mut closing, RENEW_EVERY).await;
            }
        }
    }
}

/// Renews the lease of an idle consumer, moving its position past the entries of other
/// kinds it skipped; where it stands then (`None`: another server took it).
async fn renew<C: Consumer>(
    store: &dyn Store,
    holder: &str,
    from: Position,
    to: Position,
) -> Option<(Position, Position)> {
    let step = Step { store, name: C::NAME, holder, from, to, handled: 0 };
    match step.commit_alone().await {
        Ok(true) => Some((to, to)),
        Ok(false) => None,
        Err(e) => {
            tracing::warn!(consumer = C::NAME, error = %e, "renewing the consumer's lease failed");
            Some((from, to))
        }
    }
}

/// Sleeps `for_`, or less if the server stops meanwhile.
async fn pause(closing: &mut watch::Receiver<bool>, for_: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(for_) => {}
        _ = closing.changed() => {}
    }
}
