//! Following the change feed: pages after a cursor, waiting for the next entry, and the
//! cursors integrators hold; and, in `consumers`, the feed's consumers inside leadgate.
//!
//! A cursor is opaque to its holder: it names this database's feed and a position in
//! it, so that a cursor of another database, or a made-up one, is refused rather than
//! read from the wrong place.

pub(crate) mod consumers;

use crate::ErrorCode;
use crate::error::invalid;
use crate::{App, AppError};
use leadgate_core::changes::{Change, ChangeDetail, ChangeKind, Kinds, Position};
use leadgate_store::{ChangesPage, Store};
use serde::Serialize;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{OnceCell, watch};
use uuid::Uuid;

/// Entries in a page when the caller names no `limit`.
pub const DEFAULT_LIMIT: i64 = 100;
/// Most entries in one page.
pub const MAX_LIMIT: i64 = 1_000;
/// Longest a request may wait for the next entry.
pub const MAX_WAIT_SECS: u64 = 60;
/// How often a waiting reader's server looks for new entries: those of other servers
/// sharing the database are seen this late at most.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// An opaque cursor: hex of this feed's number and a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub feed: i64,
    pub position: Position,
}

impl Cursor {
    pub fn encode(self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.feed.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.position.major.to_be_bytes());
        bytes[16..].copy_from_slice(&self.position.minor.to_be_bytes());
        hex::encode(bytes)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes: [u8; 24] = hex::decode(text).ok()?.try_into().ok()?;
        let part = |i: usize| i64::from_be_bytes(bytes[i..i + 8].try_into().expect("eight bytes"));
        Some(Cursor { feed: part(0), position: Position { major: part(8), minor: part(16) } })
    }
}

/// What a reader asks for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct ChangesQuery {
    /// Read after this cursor; none: from the oldest entry kept.
    pub after: Option<String>,
    pub limit: Option<i64>,
    /// Kinds by name, comma-separated; none: every kind.
    pub kinds: Option<String>,
    /// Seconds to wait for an entry when there is none yet.
    pub wait: Option<u64>,
}

/// A reader's request, checked.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// This database's feed, which the cursors given back name.
    pub feed: i64,
    pub after: Position,
    pub limit: i64,
    pub kinds: Kinds,
    pub wait: Duration,
}

/// An entry as integrators read it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChangeView {
    /// Read after this to read what came after this entry.
    pub cursor: String,
    pub contact_id: Uuid,
    pub kinds: Vec<ChangeKind>,
    pub at: String,
    #[serde(flatten)]
    pub detail: ChangeDetail,
}

/// A page, and the cursor to read on from (past entries of kinds not asked for too).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChangesView {
    pub changes: Vec<ChangeView>,
    pub next: String,
}

/// Wakes readers waiting for entries: one task per server looks for a new last position
/// while anyone waits, however many wait.
pub(crate) struct FeedWatch {
    latest: OnceCell<watch::Receiver<Position>>,
    /// Set when the server stops: open streams end, consumers let their leases go.
    pub(crate) closing: watch::Sender<bool>,
    /// Told by this server's writers that they committed: the watch looks at once.
    pub(crate) committed: Poke,
}

impl Default for FeedWatch {
    fn default() -> Self {
        Self { latest: OnceCell::new(), closing: watch::channel(false).0, committed: Poke::default() }
    }
}

/// Tells the feed's watch that this server committed changes, so that the consumers and
/// readers waiting here see them without waiting for the next look.
#[derive(Clone, Default)]
pub(crate) struct Poke(Arc<tokio::sync::Notify>);

impl Poke {
    pub(crate) fn poke(&self) {
        self.0.notify_one();
    }
}

impl FeedWatch {
    pub(crate) async fn subscribe(&self, store: &Arc<dyn Store>) -> Result<watch::Receiver<Position>, AppError> {
        let rx = self
            .latest
            .get_or_try_init(|| async {
                let start = store.last_change_position().await?;
                let (tx, rx) = watch::channel(start);
                tokio::spawn(watch_feed(Arc::downgrade(store), tx, start, self.committed.clone()));
                Ok::<_, AppError>(rx)
            })
            .await?;
        Ok(rx.clone())
    }
}

/// Looks for a last position past `seen` every [`WATCH_EVERY`] while someone waits
/// (jumping to it, however many entries came between), and at once when this server
/// commits; ends when the store is gone.
async fn watch_feed(store: Weak<dyn Store>, tx: watch::Sender<Position>, mut seen: Position, committed: Poke) {
    loop {
        // With only the watch's own receiver nobody waits: look again a little later.
        let every = if tx.receiver_count() <= 1 { WATCH_EVERY * 5 } else { WATCH_EVERY };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = committed.0.notified() => {}
        }
        let Some(store) = store.upgrade() else { return };
        match store.last_change_position().await {
            Ok(last) if last > seen => {
                seen = last;
                tx.send_replace(last);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "looking for new changes failed; trying again in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl App {
    /// Checks a reader's request: the cursor is this feed's and not pruned, the limit,
    /// kinds and wait within bounds.
    pub async fn reading(&self, q: &ChangesQuery) -> Result<Reading, AppError> {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(invalid(ErrorCode::InvalidLimit, "limit", format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let wait = q.wait.unwrap_or(0);
        if wait > MAX_WAIT_SECS {
            return Err(invalid(ErrorCode::InvalidWait, "wait", format!("wait is at most {MAX_WAIT_SECS} seconds")));
        }
        let kinds = match q.kinds.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => Kinds::all(),
            Some(names) => names.split(',').map(str::trim).try_fold(Kinds::default(), |kinds, name| {
                ChangeKind::parse(name).map(|k| kinds.with(k)).ok_or_else(|| {
                    let known: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
                    invalid(
                        ErrorCode::UnknownKind,
                        "kinds",
                        format!("no kind of change is called {name:?}; the kinds are {}", known.join(", ")),
                    )
                })
            })?,
        };
        let info = self.store.feed_info().await?;
        let after = match q.after.as_deref() {
            None => info.pruned_through,
            Some(text) => {
                let cursor = Cursor::decode(text.trim()).ok_or_else(|| {
                    invalid(ErrorCode::InvalidCursor, "after", "after is not a cursor this server gave out")
                })?;
                if cursor.feed != info.feed {
                    return Err(invalid(
                        ErrorCode::InvalidCursor,
                        "after",
                        "after is a cursor of another database's feed; start again without after",
                    ));
                }
                if cursor.position < info.pruned_through {
                    return Err(AppError::new(
                        ErrorCode::CursorExpired,
                        "the entries after this cursor were pruned (older than the feed keeps); start again without after",
                    )
                    .field("after"));
                }
                cursor.position
            }
        };
        Ok(Reading { feed: info.feed, after, limit, kinds, wait: Duration::from_secs(wait) })
    }

    /// A page of the feed after `r.after`; when there is none yet and `r.wait` allows,
    /// waits for the first entry.
    pub async fn changes(&self, r: &Reading) -> Result<ChangesView, AppError> {
        let deadline = tokio::time::Instant::now() + r.wait;
        let mut after = r.after;
        let mut latest = None;
        let mut closing = self.feed_watch.closing.subscribe();
        loop {
            let page = self.store.changes(after, r.limit, r.kinds).await?;
            after = page.next;
            let now = tokio::time::Instant::now();
            if !page.entries.is_empty() || now >= deadline {
                return Ok(view(r.feed, page));
            }
            let rx = match &mut latest {
                Some(rx) => rx,
                None => latest.insert(self.feed_watch.subscribe(&self.store).await?),
            };
            // Woken by a new last position, or at the deadline (or when the server stops)
            // to answer empty.
            if *closing.borrow_and_update() {
                return Ok(view(r.feed, ChangesPage { entries: Vec::new(), next: after }));
            }
            tokio::select! {
                _ = tokio::time::timeout_at(deadline, rx.changed()) => {}
                _ = closing.changed() => {}
            }
        }
    }

    /// Ends every open stream of changes ([`App::next_changes`]): the server stops.
    pub fn close_streams(&self) {
        self.feed_watch.closing.send_replace(true);
    }

    /// The next entries after `r.after` for a stream (`r.limit` and `r.wait` aside): waits
    /// (without bound) until there is at least one; an error when the server is stopping.
    /// Gives the position to read on from with them.
    pub async fn next_changes(&self, r: &Reading) -> Result<(ChangesView, Position), AppError> {
        let mut latest = self.feed_watch.subscribe(&self.store).await?;
        let mut closing = self.feed_watch.closing.subscribe();
        let stopping = || AppError::new(ErrorCode::Unavailable, "the server is stopping");
        let mut after = r.after;
        loop {
            if *closing.borrow_and_update() {
                return Err(stopping());
            }
            let page = self.store.changes(after, DEFAULT_LIMIT, r.kinds).await?;
            after = page.next;
            if !page.entries.is_empty() {
                return Ok((view(r.feed, page), after));
            }
            tokio::select! {
                changed = latest.changed() => changed.map_err(|_| stopping())?,
                _ = closing.changed() => return Err(stopping()),
            }
        }
    }
}

fn view(feed: i64, page: ChangesPage) -> ChangesView {
    let cursor = |position| Cursor { feed, position }.encode();
    ChangesView { changes: page.entries.into_iter().map(|c| change_view(feed, c)).collect(), next: cursor(page.next) }
}

fn change_view(feed: i64, c: Change) -> ChangeView {
    ChangeView {
        cursor: Cursor { feed, position: c.position }.encode(),
        contact_id: c.contact_id,
        kinds: c.kinds.iter().collect(),
        at: c.at.to_rfc3339(),
        detail: c.detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_garbage_is_no_cursor() {
        let c = Cursor { feed: 42, position: Position { major: 7_000_000_001, minor: 9 } };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "zz", "0011", &"0".repeat(47), &"g".repeat(48), &"0".repeat(50)] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }
}
