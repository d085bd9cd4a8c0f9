//! Reading contacts in batches: every live contact a batch at a time, what the
//! per-batch queries return grouped by contact, and a batch's pure work spread over
//! the cores.

use crate::AppError;
use crate::qualification::assess::ASSESS_BATCH;
use leadgate_core::Timestamp;
use leadgate_core::model::Account;
use leadgate_store::{ContactSnapshot, Store};
use std::collections::HashMap;
use uuid::Uuid;

/// Every live (not merged) contact's id, [`ASSESS_BATCH`] at a time, in id order.
pub(crate) struct LiveContacts<'a> {
    store: &'a dyn Store,
    /// Only the contacts created by then, when given.
    created_by: Option<Timestamp>,
    /// Where the walk is: at the start, after a contact, or past the last.
    at: Walk,
}

#[derive(Clone, Copy)]
enum Walk {
    Start,
    After(Uuid),
    Done,
}

impl<'a> LiveContacts<'a> {
    pub(crate) fn new(store: &'a dyn Store) -> Self {
        Self { store, created_by: None, at: Walk::Start }
    }

    /// A walk over the live contacts that had been created by `at` (a backtest's date):
    /// those created later are passed over in the index of live contacts, rather than
    /// read in batches to be found to have been created too late.
    pub(crate) fn created_by(store: &'a dyn Store, at: Timestamp) -> Self {
        Self { created_by: Some(at), ..Self::new(store) }
    }

    /// The next batch; `None` once every contact has been given, and from then on (the
    /// walk does not start over).
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<Uuid>>, AppError> {
        let after = match self.at {
            Walk::Start => None,
            Walk::After(id) => Some(id),
            Walk::Done => return Ok(None),
        };
        let ids = self.store.live_contact_ids(after, self.created_by, ASSESS_BATCH as i64).await?;
        let Some(&last) = ids.last() else {
            self.at = Walk::Done;
            return Ok(None);
        };
        self.at = Walk::After(last);
        Ok(Some(ids))
    }
}

/// Batches whose work a walk keeps in hand at once, each read and worked on a thread of
/// its own, so that both cores have work while the walk finds the next batch and the
/// batches done are finished: in a backtest with two in hand the cores were busy 1.7 of
/// 2, with four 1.85, with six no sooner done (docs/benchmarks.md).
const IN_HAND: usize = 4;

/// A walk over the live contacts with the work of up to [`IN_HAND`] batches in hand at
/// once, finished in the walk's order (a backtest's, a rescore's):
///
/// ```text
/// loop {
///     while let Some(ids) = in_hand.next_batch().await? { in_hand.start(work(ids)) }
///     let Some(done) = in_hand.next_done().await else { break };
///     …
/// }
/// ```
pub(crate) struct BatchesInFlight<'a, W: Future> {
    walk: LiveContacts<'a>,
    walking: bool,
    work: futures_util::stream::FuturesOrdered<W>,
}

impl<'a, W: Future> BatchesInFlight<'a, W> {
    pub(crate) fn new(walk: LiveContacts<'a>) -> Self {
        Self { walk, walking: true, work: futures_util::stream::FuturesOrdered::new() }
    }

    /// The next batch to start while there is room in hand and the walk goes on.
    pub(crate) async fn next_batch(&mut self) -> Result<Option<Vec<Uuid>>, AppError> {
        if !self.walking || self.work.len() >= IN_HAND {
            return Ok(None);
        }
        let ids = self.walk.next().await?;
        self.walking = ids.is_some();
        Ok(ids)
    }

    /// Puts a batch's work in hand, after those started before it.
    pub(crate) fn start(&mut self, work: W) {
        self.work.push_back(work);
    }

    /// The result of the oldest work in hand; `None` when none is left.
    pub(crate) async fn next_done(&mut self) -> Option<W::Output> {
        use futures_util::StreamExt;
        self.work.next().await
    }
}

/// The accounts a walk over every contact has met, each read once. Contacts share
/// accounts in no particular order, so that joining each contact's account to it
/// searches the accounts once for every contact; a batch instead reads the accounts
/// not met yet and takes the others from here. Batches read at once share it.
#[derive(Default)]
pub(crate) struct AccountBook(std::sync::Mutex<HashMap<Uuid, Account>>);

/// Accounts kept at most: past this many the book starts again, to bound its memory.
const MOST_ACCOUNTS: usize = 1_000_000;

impl AccountBook {
    /// Gives each of `subjects` (read without their accounts) its account.
    pub(crate) async fn fill(&self, store: &dyn Store, subjects: &mut [ContactSnapshot]) -> Result<(), AppError> {
        let book = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        // The accounts met already, taken while the book is held: another batch may
        // start the book again before this one's missing accounts are read.
        let mut missing: Vec<Uuid> = {
            let mut known = book();
            if known.len() >= MOST_ACCOUNTS {
                known.clear();
            }
            let mut missing = Vec::new();
            for s in subjects.iter_mut() {
                s.account = s.contact.account_id.and_then(|id| known.get(&id).cloned());
                missing.extend(s.contact.account_id.filter(|_| s.account.is_none()));
            }
            missing
        };
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        // Read without holding the book: a batch read at the same time may read some
        // of the same accounts, which costs a little and changes nothing.
        let read: HashMap<Uuid, Account> =
            store.accounts_by_ids(&missing).await?.into_iter().map(|a| (a.id, a)).collect();
        for s in subjects.iter_mut().filter(|s| s.account.is_none()) {
            s.account = s.contact.account_id.and_then(|id| read.get(&id).cloned());
        }
        book().extend(read);
        Ok(())
    }
}

/// Contacts fewer than this a part are evaluated on one thread: below it, starting a
/// thread costs more than it saves.
pub(crate) const CONTACTS_PER_CORE: usize = 250;

/// `work` applied to parts of `items`, one part per core (at least `min_per_part` items
/// a part), the parts' results in the items' order: pure computation spread over the
/// machine. Each part is handed over whole, so that what the work does not keep is
/// freed on its own core too. Call it off the runtime.
pub(crate) fn split_over_cores<T: Send, R: Send>(
    mut items: Vec<T>,
    min_per_part: usize,
    work: impl Fn(Vec<T>) -> R + Sync,
) -> Vec<R> {
    // The pool's threads, one a core: asking the system for the cores reads files of
    // its own (control groups) every time, and this runs once a batch.
    let cores = rayon::current_num_threads();
    let parts = cores.min(items.len() / min_per_part.max(1)).max(1);
    if parts == 1 {
        return vec![work(items)];
    }
    let size = items.len().div_ceil(parts);
    let mut split = Vec::with_capacity(parts);
    while items.len() > size {
        let rest = items.split_off(size);
        split.push(std::mem::replace(&mut items, rest));
    }
    split.push(items);
    // On the pool's threads, which last: a thread started for each batch began with an
    // empty heap of its own, took fresh memory from the system for what it allocated
    // (the kernel zeroing every page), and left its pages for others to take back.
    use rayon::iter::{IntoParallelIterator, ParallelIterator};
    let work = &work;
    split.into_par_iter().map(work).collect()
}

#[cfg(test)]
mod tests {
    use super::{LiveContacts, split_over_cores};
    use crate::qualification::assess::ASSESS_BATCH;

    #[tokio::test]
    async fn a_walk_gives_every_live_contact_once_and_then_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = leadgate_store::testing::sqlite_store(dir.path()).await;
        let contacts = ASSESS_BATCH + 5;
        let now = crate::Clock::now(&crate::SystemClock);
        crate::demo::load(store.clone(), contacts, 7, 0, now, |_| {}).await.unwrap();
        let mut walk = LiveContacts::new(store.as_ref());
        let mut seen = Vec::new();
        while let Some(batch) = walk.next().await.unwrap() {
            assert!(batch.len() <= ASSESS_BATCH);
            seen.extend(batch);
        }
        assert_eq!(seen.len(), contacts);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in id order, each once");
        // Asked again past the end, the walk does not start over.
        assert_eq!(walk.next().await.unwrap(), None);
    }

    #[test]
    fn work_split_over_the_cores_comes_back_whole_and_in_order() {
        let items: Vec<u32> = (0..1_000).collect();
        let parts = split_over_cores(items.clone(), 10, |part| part);
        let cores = rayon::current_num_threads();
        assert_eq!(parts.len(), cores.min(100));
        assert_eq!(parts.concat(), items);
        // Too few items for two parts: one.
        assert_eq!(split_over_cores(items[..15].to_vec(), 10, |part| part.len()), [15]);
        assert_eq!(split_over_cores(Vec::<u32>::new(), 10, |part| part.len()), [0]);
    }
}
