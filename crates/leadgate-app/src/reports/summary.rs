//! The reports' summary: every live contact's path through the funnel, held in memory
//! and kept current from the change feed.
//!
//! Walking every contact's history when a report is asked reads every contact (seconds
//! at a million). The summary reads them once, on the first report (or when the server
//! starts), then follows the change feed: before a report is counted, the entries
//! written since, of the kinds that can move a path, name the contacts to read again.
//! So a report counts every change committed before it was asked — exact, not a nightly
//! batch — and costs a pass over memory. Built again from scratch it gives the same
//! reports (tests/reports.rs says so), since an entry only says which contacts to read
//! again, never what to change.

use super::{report_parts, walk};
use crate::AppError;
use leadgate_core::changes::{Change, ChangeKind, Kinds, Position};
use leadgate_core::lifecycle::StageStep;
use leadgate_core::reports::funnel::Path;
use leadgate_core::response::Direction;
use leadgate_store::{ContactSnapshot, Contacts, Store};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock, Semaphore};
use uuid::Uuid;

/// Feed entries read at once while catching up.
const PAGE: i64 = 5_000;

/// What a report reads of one live contact.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub(crate) path: Path,
    pub(crate) direction: Direction,
    /// Its stage steps, oldest first (the forecast and the funnel mix read its moves).
    pub(crate) steps: Box<[StageStep]>,
}

/// Every live contact's summary, in id order.
pub(crate) type Summaries = BTreeMap<Uuid, Summary>;

#[derive(Default)]
struct State {
    /// The feed's position the summaries are current to; none until they are built.
    position: Option<Position>,
    summaries: Summaries,
    /// Each grouping's values, held once and shared by the paths.
    names: HashSet<Arc<str>>,
}

/// The summaries and where they stand in the feed.
pub(crate) struct PathSummaries {
    state: Arc<RwLock<State>>,
    /// One reader of the feed at a time (reports asked together wait for one catch-up).
    catching_up: Mutex<()>,
    /// A count at a time per core; more reports wait their turn rather than being
    /// refused, as the memory they count is already held.
    counting: Arc<Semaphore>,
}

impl Default for PathSummaries {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { state: Default::default(), catching_up: Default::default(), counting: Arc::new(Semaphore::new(cores)) }
    }
}

/// The kinds of entries that can change a path: its creation, its own fields (owner,
/// channel), its responses, its moves, a merge or its undoing, an import, an erasure.
/// Events and scores alone move no path (a move they cause is an entry of its own kind).
fn path_kinds() -> Kinds {
    [
        ChangeKind::Created,
        ChangeKind::FieldsChanged,
        ChangeKind::Response,
        ChangeKind::StageChanged,
        ChangeKind::Merged,
        ChangeKind::Unmerged,
        ChangeKind::Imported,
        ChangeKind::Erased,
    ]
    .into_iter()
    .fold(Kinds::default(), Kinds::with)
}

impl PathSummaries {
    /// `count` over every live contact's summary, current to every change committed
    /// before it was called; counted off the async workers, as it is pure work.
    pub(crate) async fn read<R: Send + 'static>(
        &self,
        store: &dyn Store,
        count: impl FnOnce(&Summaries) -> R + Send + 'static,
    ) -> Result<R, AppError> {
        let turn = self.counting.clone().acquire_owned().await.expect("the semaphore is never closed");
        let state = loop {
            self.catch_up(store).await?;
            let state = self.state.clone().read_owned().await;
            // Forgotten between the two (a rebuild asked for): catch up again.
            if state.position.is_some() {
                break state;
            }
        };
        let counted = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            count(&state.summaries)
        });
        Ok(counted.await.expect("counting does not panic"))
    }

    /// Brings the summaries up to every change committed: builds them the first time
    /// (and when the feed was pruned past them), then reads again the contacts that the
    /// entries since name, in order as far as the feed can be read in order; past that
    /// (on PostgreSQL, entries of transactions that committed while an older one still
    /// runs) those of every entry committed, read again each time until the feed's
    /// order reaches them.
    pub(crate) async fn catch_up(&self, store: &dyn Store) -> Result<(), AppError> {
        let _one = self.catching_up.lock().await;
        let known = self.state.read().await.position;
        let mut at = match known {
            Some(at) => at,
            None => self.build(store).await?,
        };
        loop {
            let page = store.changes(at, PAGE, path_kinds()).await?;
            // Asked after the page: pruned past `at` before or while it was read, the
            // page may lack entries, and the summaries are built anew.
            if store.feed_info().await?.pruned_through > at {
                at = self.build(store).await?;
                continue;
            }
            self.read_again(store, &page.entries, Some(page.next)).await?;
            at = page.next;
            // A page short of full reaches the last entry readable in order, of any
            // kind: its `next` passes over entries no summary reads (events, scores).
            if (page.entries.len() as i64) < PAGE {
                break;
            }
        }
        let mut after = at;
        loop {
            let committed = store.changes_committed(after, PAGE, path_kinds()).await?;
            let Some(last) = committed.last() else { return Ok(()) };
            after = last.position;
            self.read_again(store, &committed, None).await?;
            if (committed.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    /// Reads again the contacts that `entries` name, and moves the summaries to `next`
    /// when given.
    async fn read_again(&self, store: &dyn Store, entries: &[Change], next: Option<Position>) -> Result<(), AppError> {
        let named = entries.iter().flat_map(|c| std::iter::once(c.contact_id).chain(c.detail.merged_with));
        let ids: Vec<Uuid> = named.collect::<BTreeSet<_>>().into_iter().collect();
        let read = match ids.is_empty() {
            true => Vec::new(),
            false => store.contact_snapshots(Contacts::Ids(&ids), report_parts()).await?,
        };
        let mut fresh: BTreeMap<Uuid, Summary> =
            read.into_iter().filter_map(summary_of).map(|s| (s.path.contact_id, s)).collect();
        let mut state = self.state.write().await;
        for id in ids {
            match fresh.remove(&id) {
                Some(s) => state.insert(s),
                // Merged into another, or gone.
                None => _ = state.summaries.remove(&id),
            }
        }
        if next.is_some() {
            state.position = next;
        }
        Ok(())
    }

    /// Reads every live contact anew; the position to follow the feed from. The feed's
    /// position is taken first: a change made while the walk goes on is read again
    /// after it, which it survives unchanged.
    async fn build(&self, store: &dyn Store) -> Result<Position, AppError> {
        // A feed pruned of every entry reads as at its start: the summaries start where
        // it was pruned to, or they would be built again at every catch-up.
        let from = store.last_change_position().await?.max(store.feed_info().await?.pruned_through);
        let (mut names, mut read) = (HashSet::new(), Vec::new());
        walk(store, report_parts(), summary_of, |s| {
            if let Some(mut s) = s {
                intern(&mut names, &mut s);
                read.push((s.path.contact_id, s));
            }
        })
        .await?;
        // Read in id order, built in one go: a map filled one by one from the smallest id
        // up leaves its nodes half full, and takes twice the memory.
        let summaries = read.into_iter().collect();
        *self.state.write().await = State { position: Some(from), summaries, names };
        Ok(from)
    }

    /// Forgets every summary: the next report builds them from scratch.
    pub(crate) async fn forget(&self) {
        let _one = self.catching_up.lock().await;
        *self.state.write().await = State::default();
    }
}

impl State {
    fn insert(&mut self, mut s: Summary) {
        intern(&mut self.names, &mut s);
        self.summaries.insert(s.path.contact_id, s);
    }
}

/// Makes `s` share the names already held (a channel's name once, not a million times).
fn intern(names: &mut HashSet<Arc<str>>, s: &mut Summary) {
    for value in s.path.groups.iter_mut().flatten() {
        match names.get(value) {
            Some(held) => *value = held.clone(),
            None => _ = names.insert(value.clone()),
        }
    }
}

/// A contact's summary; none for a contact merged into another.
fn summary_of(s: ContactSnapshot) -> Option<Summary> {
    if s.contact.merged_into.is_some() {
        return None;
    }
    let path = Path::of(&s.contact, s.responses.first(), &s.stage_steps);
    Some(Summary { path, direction: s.contact.direction, steps: s.stage_steps.into_boxed_slice() })
}
