//! Hand-off on SQLite and PostgreSQL: teams, queues and users; the routing rules by
//! version; items of work in a queue, one open per contact, read in the order of the
//! work a page at a time.

use leadgate_core::Timestamp;
use leadgate_core::erasure::AuditEntry;
use leadgate_core::handoff::calendar::CalendarSpec;
use leadgate_core::handoff::people::{Escalation, Outcome, Queue, QueueItem, Team, User, UserRole};
use leadgate_core::lifecycle::Actor;
use leadgate_core::response::Direction;
use leadgate_store::handoff::{ItemKey, ItemQuery, StoredRules};
use leadgate_store::{Store, StoreError};
use std::sync::Arc;
use uuid::Uuid;

leadgate_store::on_both_stores!(
    teams_queues_and_users_are_kept_with_what_they_own,
    a_contact_has_one_open_item_and_a_queue_is_read_in_the_order_of_the_work,
    routing_rules_are_kept_by_version_and_the_latest_is_in_force,
);

mod support;
use support::{T0, contact};

const HOUR: i64 = 3_600_000_000;

fn team(name: &str, direction: Direction) -> (Team, Queue) {
    let team = Team { id: Uuid::now_v7(), name: name.into(), direction, created_at: T0 };
    let queue = Queue {
        id: Uuid::now_v7(),
        team_id: team.id,
        name: name.into(),
        sla: Queue::default_sla(direction),
        calendar: CalendarSpec { time_zone: "Europe/Berlin".into(), ..CalendarSpec::default() },
        escalation: Escalation::NextPerson,
        created_at: T0,
    };
    (team, queue)
}

fn user(email: &str, team: Option<Uuid>, accounts: &[&str]) -> User {
    User {
        id: Uuid::now_v7(),
        name: email.split('@').next().unwrap().into(),
        email: email.into(),
        role: UserRole::Qualifier,
        team_id: team,
        capacity: 5,
        load: 0,
        territories: vec!["DE".into()],
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        away_until: None,
        created_at: T0,
        turn: 0,
    }
}

fn item(contact: Uuid, queue: Uuid, due_hours: i64, pain: i64, score: f64) -> QueueItem {
    QueueItem {
        id: Uuid::now_v7(),
        contact_id: contact,
        queue_id: queue,
        assignee_id: None,
        rule: Some("inbound".into()),
        rules_version: 1,
        reason: "round robin, next in turn".into(),
        weight: 1,
        queued_at: T0,
        sla_due_at: T0.plus_micros(due_hours * HOUR),
        first_action_at: None,
        first_action_by: None,
        first_action_seconds: None,
        breached_at: None,
        escalations: 0,
        closed_at: None,
        outcome: None,
        pain_rank: pain,
        score,
        interest_at: Some(T0),
    }
}

async fn teams_queues_and_users_are_kept_with_what_they_own(store: Arc<dyn Store>) {
    let (inbound, inbound_queue) = team("Market Response", Direction::Inbound);
    let (outbound, outbound_queue) = team("Sales Development", Direction::Outbound);
    let ann = user("ann@leadgate.example", Some(inbound.id), &["acme.example", "globex.example"]);
    let bob = user("bob@leadgate.example", Some(outbound.id), &[]);
    let mut tx = store.begin().await.unwrap();
    tx.insert_team(&inbound, &inbound_queue).await.unwrap();
    tx.insert_team(&outbound, &outbound_queue).await.unwrap();
    tx.insert_user(&ann).await.unwrap();
    tx.insert_user(&bob).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.teams().await.unwrap(), vec![inbound.clone(), outbound.clone()]);
    assert_eq!(store.queues().await.unwrap(), vec![inbound_queue.clone(), outbound_queue.clone()]);
    assert_eq!(store.users().await.unwrap(), vec![ann.clone(), bob.clone()]);
    let owners = store.account_owners(&["globex.example".into(), "initech.example".into()]).await.unwrap();
    assert_eq!(owners, vec![("globex.example".to_string(), ann.id)]);
    assert!(store.account_owners(&[]).await.unwrap().is_empty());

    // A name taken in another case, an email taken, an account owned: conflicts.
    let (again, again_queue) = team("MARKET RESPONSE", Direction::Inbound);
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(tx.insert_team(&again, &again_queue).await, Err(StoreError::Conflict(_))));
    tx.rollback().await.unwrap();
    for clash in [user("ann@leadgate.example", None, &[]), user("cy@leadgate.example", None, &["acme.example"])] {
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(tx.insert_user(&clash).await, Err(StoreError::Conflict(_))), "{}", clash.email);
        tx.rollback().await.unwrap();
    }
    assert_eq!(store.users().await.unwrap().len(), 2, "nothing half-saved");

    // A key of a user is read back with its user.
    let key = leadgate_core::model::ApiKey {
        id: Uuid::now_v7(),
        name: ann.email.clone(),
        role: leadgate_core::Role::Sales,
        key_hash: vec![3; 32],
        created_at: T0,
        revoked_at: None,
        user: Some(leadgate_core::model::KeyUser { id: ann.id, email: ann.email.clone() }),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(&key).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.api_key_by_hash(&[3; 32]).await.unwrap(), Some(key.clone()));
    assert!(store.api_keys().await.unwrap().contains(&key));

    // The rotation of a team is read locked and saved.
    let mut tx = store.begin().await.unwrap();
    let mut members = tx.users_for_update(&[inbound.id]).await.unwrap();
    assert_eq!(members.iter().map(|u| u.id).collect::<Vec<_>>(), vec![ann.id]);
    members[0].turn = 7;
    tx.save_turns(&members).await.unwrap();
    tx.commit().await.unwrap();
    let saved = store.users().await.unwrap();
    assert_eq!((saved[0].turn, saved[0].load, saved[0].accounts.len()), (7, 0, 2));

    // A user changed: away, another capacity, another team.
    let back = Timestamp(T0.0 + 86_400_000_000);
    let changed = User {
        away_until: Some(back),
        capacity: 9,
        team_id: Some(outbound.id),
        territories: vec![],
        ..saved[0].clone()
    };
    let mut tx = store.begin().await.unwrap();
    tx.update_user(&changed).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.users().await.unwrap()[0], changed);
}

async fn a_contact_has_one_open_item_and_a_queue_is_read_in_the_order_of_the_work(store: Arc<dyn Store>) {
    let (inbound, queue) = team("Market Response", Direction::Inbound);
    let ann = user("ann@leadgate.example", Some(inbound.id), &[]);
    let people: Vec<_> = (0..5).map(|i| contact(&format!("p{i}@acme.example"), T0)).collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_team(&inbound, &queue).await.unwrap();
    tx.insert_user(&ann).await.unwrap();
    for p in &people {
        tx.insert_contact(p).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Due soonest first; at the same due time, the most pain, then the highest score.
    let items = vec![
        item(people[0].id, queue.id, 4, 0, 10.0),
        item(people[1].id, queue.id, 2, 0, 10.0),
        item(people[2].id, queue.id, 4, 2, 1.0),
        item(people[3].id, queue.id, 4, 0, 30.0),
        QueueItem { assignee_id: Some(ann.id), ..item(people[4].id, queue.id, 9, 0, 0.0) },
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_queue_items(&items).await.unwrap();
    tx.insert_audit_entries(&[AuditEntry::new(T0, &Actor::System, "contact.routed", people[0].id, "rule inbound")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let order = [1, 2, 3, 0, 4].map(|i| people[i].id);
    let mut read = Vec::new();
    let mut query = ItemQuery { queue: queue.id, limit: 2, ..Default::default() };
    loop {
        let page = store.queue_items(&query).await.unwrap();
        let Some(last) = page.last() else { break };
        query.after = Some(ItemKey::of(&last.item));
        read.extend(page.iter().map(|w| w.item.contact_id));
    }
    assert_eq!(read, order);
    let first = &store.queue_items(&ItemQuery { queue: queue.id, limit: 1, ..Default::default() }).await.unwrap()[0];
    assert_eq!((first.item.clone(), first.email.as_deref()), (items[1].clone(), people[1].email.as_deref()));
    let mine = ItemQuery { queue: queue.id, assignee: Some(ann.id), limit: 10, ..Default::default() };
    assert_eq!(store.queue_items(&mine).await.unwrap().len(), 1);
    let nobody =
        ItemQuery { queue: queue.id, unassigned: true, breached: Some(false), limit: 10, ..Default::default() };
    assert_eq!(store.queue_items(&nobody).await.unwrap().len(), 4);
    let audit = store.audit_log(&leadgate_store::AuditFilter::contact(people[0].id), 0, 10).await.unwrap();
    assert_eq!(audit.iter().map(|(_, e)| e.action.as_str()).collect::<Vec<_>>(), ["contact.routed"]);

    // One open item per contact; the contacts' stages are read locked, in id order.
    let mut tx = store.begin().await.unwrap();
    let mut ids: Vec<Uuid> = people.iter().map(|p| p.id).rev().collect();
    ids.push(Uuid::nil());
    let stages = tx.stages_for_update(&ids).await.unwrap();
    let mut expected: Vec<_> = people.iter().map(|p| (p.id, p.stage, None)).collect();
    expected.sort_by_key(|r| r.0);
    assert_eq!(stages, expected);
    assert!(matches!(
        tx.insert_queue_items(&[item(people[0].id, queue.id, 1, 0, 0.0)]).await,
        Err(StoreError::Conflict(_))
    ));
    tx.rollback().await.unwrap();

    // The SLA sweep finds what is due and not acted on.
    let due = store.items_due(T0.plus_micros(4 * HOUR), 10).await.unwrap();
    assert_eq!(due.iter().map(|i| i.contact_id).collect::<Vec<_>>(), [1, 0, 2, 3].map(|i| people[i].id).to_vec());
    assert_eq!(store.items_due(T0.plus_micros(4 * HOUR), 1).await.unwrap().len(), 1);

    // Acting, breaching and closing are saved; a closed item frees its contact.
    let mut tx = store.begin().await.unwrap();
    let mut open = tx.open_items_for_update(&[people[0].id, people[1].id]).await.unwrap();
    assert_eq!(open.len(), 2);
    let acted = T0.plus_micros(HOUR);
    open[0].first_action_at = Some(acted);
    open[0].first_action_by = Some("user:ann@leadgate.example".into());
    open[0].first_action_seconds = Some(3_600);
    open[0].closed_at = Some(acted);
    open[0].outcome = Some(Outcome::Accepted);
    open[1].breached_at = Some(acted);
    open[1].escalations = 1;
    open[1].assignee_id = Some(ann.id);
    tx.save_queue_items(&open).await.unwrap();
    // Loads are counted from the open items: ann holds the one she was given at first
    // and the one given her now, not the one closed.
    tx.recount_loads(&[ann.id]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.users().await.unwrap()[0].load, 2);
    let still = store.open_items(&[people[0].id, people[1].id]).await.unwrap();
    assert_eq!(still, vec![open[1].clone()]);
    assert_eq!(store.items_of(people[0].id).await.unwrap(), vec![open[0].clone()]);
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.len(), counts[0].open, counts[0].unassigned, counts[0].breached), (1, 4, 2, 1));
    assert_eq!(counts[0].fallback, 0, "every item came by a rule");
    let breached = ItemQuery { queue: queue.id, breached: Some(true), limit: 10, ..Default::default() };
    assert_eq!(store.queue_items(&breached).await.unwrap().len(), 1);
    let mut tx = store.begin().await.unwrap();
    tx.insert_queue_items(&[item(people[0].id, queue.id, 1, 0, 0.0)]).await.unwrap();
    tx.commit().await.unwrap();
    let latest = store.latest_items(2).await.unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].contact_id, people[0].id, "the newest first");
    let queued = store.items_queued(T0, T0.plus_micros(1)).await.unwrap();
    assert_eq!(queued.len(), 6, "every item queued then, open or closed");
    assert!(store.items_queued(T0.plus_micros(1), T0.plus_micros(HOUR)).await.unwrap().is_empty());
}

async fn routing_rules_are_kept_by_version_and_the_latest_is_in_force(store: Arc<dyn Store>) {
    assert_eq!(store.routing_rules().await.unwrap(), None);
    for version in 1..=2 {
        let rules = StoredRules {
            version,
            spec: serde_json::json!({"rules": [], "fallback_queue": format!("queue {version}")}),
            created_at: Timestamp(T0.0 + version),
            created_by: "user:ann@leadgate.example".into(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.insert_routing_rules(&rules).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.routing_rules().await.unwrap(), Some(rules));
    }
    // Two writers of the same version: one wins.
    let mut tx = store.begin().await.unwrap();
    let clash = StoredRules { version: 2, spec: serde_json::json!({}), created_at: T0, created_by: "x".into() };
    assert!(matches!(tx.insert_routing_rules(&clash).await, Err(StoreError::Conflict(_))));
    tx.rollback().await.unwrap();
}
