//! Consumers' positions and leases, on SQLite and PostgreSQL: one server holds a
//! consumer at a time, and its position moves only from where it stands, by its holder,
//! in the transaction of its work.

use leadgate_core::Timestamp;
use leadgate_core::changes::Position;
use leadgate_store::{Advance, Store};
use std::sync::Arc;

leadgate_store::on_both_stores!(
    one_server_holds_a_consumer_until_its_lease_runs_out_or_it_lets_go,
    a_position_moves_only_from_where_it_stands_and_only_with_its_work,
    entries_a_consumer_has_yet_to_handle_are_never_pruned,
);

mod support;
use support::{T0, contact};

const SECOND: i64 = 1_000_000;

fn at(s: i64) -> Timestamp {
    Timestamp(T0.0 + s * SECOND)
}

async fn one_server_holds_a_consumer_until_its_lease_runs_out_or_it_lets_go(store: Arc<dyn Store>) {
    // A consumer never seen starts at the beginning of the feed.
    assert_eq!(store.take_lease("scoring", "a", at(5), at(0)).await.unwrap(), Some(Position::default()));
    assert_eq!(store.take_lease("scoring", "b", at(6), at(1)).await.unwrap(), None, "a holds it");
    assert_eq!(store.take_lease("scoring", "a", at(7), at(2)).await.unwrap(), Some(Position::default()), "renewed");
    // Another consumer is apart.
    assert!(store.take_lease("routing", "b", at(6), at(2)).await.unwrap().is_some());
    // a stops renewing: once its lease has run out, b takes over.
    assert_eq!(store.take_lease("scoring", "b", at(12), at(6)).await.unwrap(), None);
    assert!(store.take_lease("scoring", "b", at(13), at(8)).await.unwrap().is_some());
    let held = store.consumers().await.unwrap();
    assert_eq!(
        held.iter().map(|c| (c.name.as_str(), c.holder.as_deref())).collect::<Vec<_>>(),
        [("routing", Some("b")), ("scoring", Some("b"))]
    );
    // Let go, it is free at once.
    store.release_lease("scoring", "b").await.unwrap();
    assert!(store.take_lease("scoring", "a", at(10), at(9)).await.unwrap().is_some());
    store.release_lease("scoring", "b").await.unwrap();
    assert_eq!(store.take_lease("scoring", "b", at(10), at(9)).await.unwrap(), None, "only the holder lets go");
}

async fn a_position_moves_only_from_where_it_stands_and_only_with_its_work(store: Arc<dyn Store>) {
    assert!(store.take_lease("scoring", "a", at(5), at(0)).await.unwrap().is_some());
    let p = |minor| Position { major: 0, minor };
    let step = |holder, from, to| Advance { name: "scoring", holder, from, to, handled: 3, until: at(9) };
    let advance = |a: Advance<'static>, commit: bool| {
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let moved = tx.advance_consumer(&a).await.unwrap();
            if commit {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
            moved
        }
    };
    assert!(advance(step("a", p(0), p(4)), true).await);
    // What was read from where it no longer stands (another server moved it) is refused.
    assert!(!advance(step("a", p(0), p(9)), true).await, "from a stale position");
    assert!(!advance(step("b", p(4), p(9)), true).await, "by a server not holding it");
    // Rolled back with the work, the step did not happen.
    assert!(advance(step("a", p(4), p(9)), false).await);
    let c = store.consumers().await.unwrap().remove(0);
    assert_eq!((c.position, c.handled), (p(4), 3));
    assert!(advance(step("a", p(4), p(9)), true).await);
    let c = store.consumers().await.unwrap().remove(0);
    assert_eq!((c.position, c.handled, c.lease_until), (p(9), 6, at(9)), "the step renews the lease");
}

async fn entries_a_consumer_has_yet_to_handle_are_never_pruned(store: Arc<dyn Store>) {
    let mut written = Vec::new();
    for email in ["ann@acme.example", "bob@acme.example"] {
        let mut tx = store.begin().await.unwrap();
        tx.insert_contact(&contact(email, T0)).await.unwrap();
        written.push(tx.commit().await.unwrap().expect("an entry was written"));
    }
    assert!(store.take_lease("scoring", "a", at(5), at(0)).await.unwrap().is_some());
    // Pruning everything older than tomorrow, again until the entries are readable (on
    // PostgreSQL, once other tests' older transactions have ended).
    let tomorrow = Timestamp(leadgate_core::Timestamp(i64::MAX / 2).0);
    let prune_until = |expected: u64| {
        let store = store.clone();
        async move {
            let started = std::time::Instant::now();
            loop {
                let pruned = store.prune_changes(tomorrow).await.unwrap();
                if pruned == expected || started.elapsed() > std::time::Duration::from_secs(20) {
                    return pruned;
                }
                assert_eq!(pruned, 0, "pruned too much");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    // The consumer has handled nothing: nothing goes.
    assert_eq!(store.prune_changes(tomorrow).await.unwrap(), 0);
    let step =
        Advance { name: "scoring", holder: "a", from: Position::default(), to: written[0], handled: 1, until: at(9) };
    let mut tx = store.begin().await.unwrap();
    assert!(tx.advance_consumer(&step).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(prune_until(1).await, 1, "only what the consumer handled");
    assert_eq!(store.feed_info().await.unwrap().pruned_through, written[0]);
}
