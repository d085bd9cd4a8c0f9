//! The change feed, on SQLite and PostgreSQL: every change is an entry written with it,
//! one per contact per transaction, read by cursor exactly once and in commit order.

use leadgate_core::changes::{Change, ChangeKind, Kinds, Position};
use leadgate_core::model::Contact;
use leadgate_core::{Cause, CauseKind, NewEvent, Stage, Timestamp, lifecycle};
use leadgate_store::{Store, StoreError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

mod support;
use support::{T0, contact};

leadgate_store::on_both_stores!(
    each_transaction_writes_one_entry_per_contact_it_changed,
    a_reader_of_some_kinds_reads_on_past_the_others,
    a_transaction_rolled_back_leaves_no_entry,
    old_entries_are_pruned_but_the_history_they_tell_of_stays,
    each_database_has_a_feed_of_its_own,
    scores_written_again_as_they_were_are_not_a_change,
    entries_committed_behind_an_older_transaction_are_read_at_once_by_who_asks,
);

/// A page view (or other `kind`) of the contact `contact`, at T0.
fn event(contact: Uuid, kind: &str) -> NewEvent {
    support::event(kind, None, None, Some(contact), T0)
}

/// Every entry after `after`, page by page of `limit`, once `expected` have come: on
/// PostgreSQL an entry is read only once every transaction older than its own has ended,
/// and other tests' transactions run on the same server.
async fn read_all(
    store: &dyn Store,
    after: Position,
    limit: i64,
    kinds: Kinds,
    expected: usize,
) -> (Vec<Change>, Position) {
    let started = std::time::Instant::now();
    loop {
        let (all, end) = read_to_end(store, after, limit, kinds).await;
        if all.len() >= expected || started.elapsed() > std::time::Duration::from_secs(20) {
            return (all, end);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn read_to_end(store: &dyn Store, mut after: Position, limit: i64, kinds: Kinds) -> (Vec<Change>, Position) {
    let mut all = Vec::new();
    loop {
        let page = store.changes(after, limit, kinds).await.unwrap();
        if page.entries.is_empty() && page.next == after {
            return (all, after);
        }
        all.extend(page.entries);
        after = page.next;
    }
}

async fn each_transaction_writes_one_entry_per_contact_it_changed(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.com", T0);
    let bob = contact("bob@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.insert_contact(&bob).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let events = [event(ann.id, "page_view"), event(ann.id, "page_view"), event(ann.id, "email_open")];
    tx.append_events(&events, T0).await.unwrap();
    tx.append_events(&[event(bob.id, "page_view")], T0).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let change = lifecycle::transition(
        ann.id,
        Some(Stage::Prospect),
        Stage::Mql,
        Cause::new(CauseKind::Manual, "by hand"),
        &leadgate_core::Actor::ApiKey("ops".into()),
        T0,
    )
    .unwrap();
    assert!(tx.move_stage(&change).await.unwrap());
    tx.commit().await.unwrap();

    let (all, _) = read_all(store.as_ref(), Position::default(), 100, Kinds::all(), 5).await;
    let of = |id: Uuid| all.iter().filter(|c| c.contact_id == id).collect::<Vec<_>>();
    let (ann_entries, bob_entries) = (of(ann.id), of(bob.id));
    assert_eq!(all.len(), 5, "two created, two with events, one stage change: {all:#?}");
    assert_eq!(ann_entries.len(), 3);
    assert!(ann_entries[0].kinds.has(ChangeKind::Created));
    // Three events in one transaction are one entry, with their counts by kind.
    assert_eq!(ann_entries[1].kinds.iter().collect::<Vec<_>>(), vec![ChangeKind::Events]);
    assert_eq!(ann_entries[1].detail.events.get("page_view"), Some(&2));
    assert_eq!(ann_entries[1].detail.events.get("email_open"), Some(&1));
    assert!(ann_entries[2].kinds.has(ChangeKind::StageChanged));
    let step = &ann_entries[2].detail.stages[0];
    assert_eq!((step.from, step.to, step.cause), (Some(Stage::Prospect), Stage::Mql, CauseKind::Manual));
    assert_eq!(bob_entries.len(), 2);
    // Positions only grow, and a transaction's entries come together.
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    // No personal data: the email is nowhere in what an entry says.
    for c in &all {
        let said = serde_json::to_string(&c.detail).unwrap();
        assert!(!said.contains("acme.com"), "{said}");
    }
}

async fn a_reader_of_some_kinds_reads_on_past_the_others(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.commit().await.unwrap();
    for _ in 0..5 {
        let mut tx = store.begin().await.unwrap();
        tx.append_events(&[event(ann.id, "page_view")], T0).await.unwrap();
        tx.commit().await.unwrap();
    }
    let (everything, end) = read_all(store.as_ref(), Position::default(), 2, Kinds::all(), 6).await;
    let created = Kinds::default().with(ChangeKind::Created);
    let page = store.changes(Position::default(), 10, created).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(everything.len(), 6, "paged two by two, nothing lost or repeated");
    assert_eq!(page.next, end, "the next cursor is past the five event entries it did not return");
    let later = store.changes(page.next, 10, created).await.unwrap();
    assert!(later.entries.is_empty());
    assert_eq!(later.next, page.next, "reading at the end stays at the end");
}

async fn a_transaction_rolled_back_leaves_no_entry(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.rollback().await.unwrap();
    let bob = contact("bob@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&bob).await.unwrap();
    tx.commit().await.unwrap();
    let (all, _) = read_all(store.as_ref(), Position::default(), 10, Kinds::all(), 1).await;
    assert_eq!(all.iter().map(|c| c.contact_id).collect::<Vec<_>>(), vec![bob.id], "only the committed one");
}

async fn old_entries_are_pruned_but_the_history_they_tell_of_stays(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.append_events(&[event(ann.id, "page_view")], T0).await.unwrap();
    tx.commit().await.unwrap();
    let (before, _) = read_all(store.as_ref(), Position::default(), 10, Kinds::all(), 1).await;
    assert_eq!(before.len(), 1);
    // Nothing is old enough yet.
    assert_eq!(store.prune_changes(T0).await.unwrap(), 0);
    assert_eq!(store.feed_info().await.unwrap().pruned_through, Position::default());
    let far = Timestamp(before[0].at.0 + 1);
    assert_eq!(store.prune_changes(far).await.unwrap(), 1);
    let info = store.feed_info().await.unwrap();
    assert_eq!(info.pruned_through, before[0].position, "readers behind this are told so");
    assert!(store.changes(Position::default(), 10, Kinds::all()).await.unwrap().entries.is_empty());
    assert_eq!(store.recent_events(ann.id, 10).await.unwrap().len(), 1, "the events themselves stay");
    assert!(store.contact(ann.id).await.unwrap().is_some());
    // Entries written after the pruning are read as before.
    let mut tx = store.begin().await.unwrap();
    tx.append_events(&[event(ann.id, "page_view")], T0).await.unwrap();
    tx.commit().await.unwrap();
    let (after, _) = read_all(store.as_ref(), info.pruned_through, 10, Kinds::all(), 1).await;
    assert_eq!(after.len(), 1);
}

async fn each_database_has_a_feed_of_its_own(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let other = leadgate_store::testing::sqlite_store(dir.path()).await;
    let (a, b) = (store.feed_info().await.unwrap().feed, other.feed_info().await.unwrap().feed);
    assert_ne!(a, b, "cursors of one database are refused by another");
    assert_eq!(store.feed_info().await.unwrap().feed, a, "and a feed keeps its number");
    other.close().await;
}

/// Writers on PostgreSQL take their transaction ids in one order and commit in another;
/// a reader following the feed meanwhile must still see every entry once, and each
/// contact's entries in the order their transactions committed. Each transaction locks
/// two of a few contacts (in id order, as the store's writers do), counts one more for
/// each on the contact, and sends an event named after that count: the reader must see
/// each contact's counts as 1, 2, 3, … with none missing or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_postgres_are_read_once_each_in_commit_order() {
    let Some(url) = leadgate_store::testing::pg_url() else { return };
    let schema = leadgate_store::testing::PgSchema::create(&url).await;
    let store = schema.store().await;
    let mut hot: Vec<Contact> = (0..4).map(|i| contact(&format!("hot{i}@acme.com"), T0)).collect();
    hot.sort_by_key(|c| c.id);
    let mut tx = store.begin().await.unwrap();
    for c in &hot {
        tx.insert_contact(c).await.unwrap();
    }
    tx.commit().await.unwrap();
    let start = read_all(store.as_ref(), Position::default(), 100, Kinds::all(), hot.len()).await.1;

    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = start;
            let mut idle = 0u32;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = store.changes(after, 7, Kinds::all()).await.unwrap();
                assert!(page.next >= after, "a cursor never moves back");
                seen.extend(page.entries);
                let moved = page.next != after;
                after = page.next;
                if finished && !moved && (seen.len() >= WRITERS * EACH * 2 || waited_out(&mut idle)) {
                    return seen;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, ids) = (store.clone(), hot.iter().map(|c| c.id).collect::<Vec<_>>());
        writers.push(tokio::spawn(async move {
            let mut retried = 0;
            for i in 0..EACH {
                let mut pair = [ids[(w + i) % ids.len()], ids[(w + i * 3 + 1) % ids.len()]];
                if pair[0] == pair[1] {
                    pair[1] = ids[(w + i + 2) % ids.len()];
                }
                pair.sort();
                loop {
                    match count_once_more(store.as_ref(), pair).await {
                        Ok(()) => break,
                        Err(StoreError::Contention(_)) => retried += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            retried
        }));
    }
    let mut retried = 0;
    for w in writers {
        retried += w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();

    assert_eq!(seen.len(), WRITERS * EACH * 2, "every entry once ({retried} transactions were tried again)");
    let mut counts: HashMap<Uuid, Vec<u32>> = HashMap::new();
    for c in &seen {
        let kind = c.detail.events.keys().next().expect("an event");
        counts.entry(c.contact_id).or_default().push(kind.trim_start_matches("n_").parse().unwrap());
    }
    for (id, seen) in counts {
        let expected: Vec<u32> = (1..=seen.len() as u32).collect();
        assert_eq!(seen, expected, "contact {id}: its entries in the order its changes committed");
    }
    store.close().await;
}

/// After the writers are done: true once a reader has found nothing new for two seconds.
fn waited_out(idle: &mut u32) -> bool {
    *idle += 1;
    std::thread::sleep(std::time::Duration::from_millis(10));
    *idle > 200
}

/// One writer's transaction: locks both contacts, counts one more on each, and sends an
/// event named after the count.
async fn count_once_more(store: &dyn Store, pair: [Uuid; 2]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let mut events = Vec::new();
    for id in pair {
        let mut c = tx.contact_by_id(id).await?.expect("the contact");
        let n = c.custom.get("n").and_then(|v| v.as_u64()).unwrap_or(0) + 1;
        c.custom.insert("n".into(), json!(n));
        tx.update_contact(&c).await?;
        events.push(event(id, &format!("n_{n}")));
        // Other transactions come between the two locks.
        tokio::task::yield_now().await;
    }
    tx.append_events(&events, T0).await?;
    tx.commit().await.map(drop)
}

/// Scores assessed again with nothing changed but the time (a rescore that finds a
/// contact as it was, its engagement only decayed) are left as they were, which read
/// later say what the new ones would, and are no `scores_changed` entry; scores that
/// changed are written, and are one. Alike for a batch (a rescore) and for a request's
/// few contacts, which SQLite writes by different paths.
async fn scores_written_again_as_they_were_are_not_a_change(store: Arc<dyn Store>) {
    use leadgate_core::scoring::{Assessment, ContactScores, EngagementPart, FunnelPosition, Grade, Pain};
    let people: Vec<Contact> = (0..40).map(|i| contact(&format!("s{i}@acme.example"), T0)).collect();
    let mut tx = store.begin().await.unwrap();
    for p in &people {
        tx.insert_contact(p).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Assessed `days` after T0: 12 points of page views earned by T0, decayed since.
    let scores = |p: &Contact, fit: i64, days: i64| ContactScores {
        contact_id: p.id,
        model: "bench@1".into(),
        assessment: Assessment {
            fit,
            fit_factors: vec![],
            engagement: vec![EngagementPart {
                rule: "page views".into(),
                sum: 12.0 * 0.5f64.powf(days as f64 / 30.0),
                cap: None,
                activities: 3,
            }],
            as_of: T0.plus_micros(days * 86_400_000_000),
            half_life_days: 30.0,
            funnel: Grade { grade: FunnelPosition::Mofu, reason: "came back".into() },
            pain: Grade { grade: Pain::Acute, reason: "needs it now".into() },
            errors: vec![],
        },
        likelihood: None,
        likelihood_factors: None,
        likelihood_model: None,
        stored_form: Default::default(),
    };
    let save = async |written: Vec<ContactScores>| {
        let mut tx = store.begin().await.unwrap();
        tx.save_scores(&written).await.unwrap();
        tx.commit().await.unwrap();
    };
    let scored = Kinds::default().with(ChangeKind::ScoresChanged);
    save(people.iter().map(|p| scores(p, 10, 0)).collect()).await;
    let (first, after_first) = read_all(store.as_ref(), Position::default(), 100, scored, 40).await;
    assert_eq!(first.len(), 40, "first scores are a change for every contact");

    // Five days on, the whole batch again, then two contacts on their own, eight days on:
    // the same scores, decayed.
    save(people.iter().map(|p| scores(p, 10, 5)).collect()).await;
    save(people[..2].iter().map(|p| scores(p, 10, 8)).collect()).await;
    let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    let mut stored = store.scores(&ids).await.unwrap();
    stored.sort_by_key(|s| s.contact_id);
    assert!(stored.iter().all(|s| s.assessment.as_of == T0), "left as they were");
    let day_8 = T0.plus_micros(8 * 86_400_000_000);
    let (kept, new) = (&stored[0].assessment, &scores(&people[0], 10, 8).assessment);
    assert!((kept.engagement_at(day_8) - new.engagement_at(day_8)).abs() < 1e-9, "{kept:?} {new:?}");
    // Then a batch in which three contacts' fit changed, and a few in which one's did.
    let changed = [3, 17, 39];
    save(people.iter().enumerate().map(|(i, p)| scores(p, if changed.contains(&i) { 15 } else { 10 }, 9)).collect())
        .await;
    save(vec![scores(&people[1], 11, 9)]).await;
    // And back as they were: a change again, which only a digest kept up to date tells.
    save(changed.iter().map(|&i| scores(&people[i], 10, 9)).collect()).await;

    let (later, _) = read_all(store.as_ref(), after_first, 100, scored, 7).await;
    let mut moved: Vec<Uuid> = later.iter().map(|c| c.contact_id).collect();
    let back = changed.iter().map(|&i| people[i].id);
    let mut expected: Vec<Uuid> = back.clone().chain([people[1].id]).chain(back).collect();
    moved.sort();
    expected.sort();
    assert_eq!(moved, expected, "only the contacts whose scores changed: {later:#?}");
}

/// While an older transaction runs, a younger one's committed entry is held back from
/// readers in order (on PostgreSQL), but given at once to who asks for every entry
/// committed; on SQLite, with one writer, both give the same.
async fn entries_committed_behind_an_older_transaction_are_read_at_once_by_who_asks(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.example", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    let first = tx.commit().await.unwrap().expect("an entry");
    let start = read_all(store.as_ref(), Position::default(), 100, Kinds::all(), 1).await.1;
    assert_eq!(start, first);
    let committed = store.changes_committed(Position::default(), 100, Kinds::all()).await.unwrap();
    assert_eq!(committed.iter().map(|c| c.contact_id).collect::<Vec<_>>(), [ann.id]);
    let bob = contact("bob@acme.example", T0);
    if store.backend() == "postgres" {
        // An older transaction, still running, that has written.
        let mut older = store.begin().await.unwrap();
        older.insert_contact(&contact("cid@acme.example", T0)).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.insert_contact(&bob).await.unwrap();
        let second = tx.commit().await.unwrap().expect("an entry");
        let held = store.changes(first, 100, Kinds::all()).await.unwrap();
        assert!(held.entries.is_empty() && held.next < second, "held back while the older one runs: {held:?}");
        let committed = store.changes_committed(first, 100, Kinds::all()).await.unwrap();
        assert_eq!(committed.iter().map(|c| (c.contact_id, c.position)).collect::<Vec<_>>(), [(bob.id, second)]);
        older.rollback().await.unwrap();
    } else {
        let mut tx = store.begin().await.unwrap();
        tx.insert_contact(&bob).await.unwrap();
        tx.commit().await.unwrap();
        let committed = store.changes_committed(first, 100, Kinds::all()).await.unwrap();
        let page = store.changes(first, 100, Kinds::all()).await.unwrap();
        assert_eq!(committed, page.entries);
    }
    // Only the kinds asked for, and no more than the limit.
    let created = Kinds::default().with(ChangeKind::Created);
    assert_eq!(store.changes_committed(Position::default(), 1, created).await.unwrap().len(), 1);
    let scores = Kinds::default().with(ChangeKind::ScoresChanged);
    assert!(store.changes_committed(Position::default(), 100, scores).await.unwrap().is_empty());
}
