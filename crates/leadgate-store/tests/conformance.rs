//! Every store behaviour, run on SQLite and on PostgreSQL.
//!
//! Each test is an `async fn(Arc<dyn Store>)`; `on_both_stores!` runs it once on a fresh
//! SQLite file (module `sqlite`) and once on a fresh PostgreSQL schema (module
//! `postgres`, which needs `LEADGATE_TEST_PG_URL`).

use leadgate_core::model::ExternalId;
use leadgate_core::model::{Account, ApiKey, Contact, ContactFilter, Form, InboxItem, InboxStatus, Response};
use leadgate_core::{Cause, CauseKind, Direction, NewEvent, Role, Stage, Timestamp, lifecycle};
use leadgate_store::{
    AccountPart, Bulk, Details, Found, ResponseDetails, SnapshotParts, Store, StoreError, StoredParts,
};

/// A contact with its account and stored scores.
const JOINED: SnapshotParts = SnapshotParts {
    details: Details::ALL,
    qualification: true,
    account: AccountPart::Joined,
    custom: true,
    stage: true,
    stage_steps: true,
    responses: Some(ResponseDetails::ALL),
    stored: StoredParts::Scores,
    created_by: None,
};
use serde_json::{Map, json};
use std::sync::Arc;
use uuid::Uuid;

mod support;
use support::{T0, contact, event, response};

leadgate_store::on_both_stores!(
    a_contact_round_trips_exactly,
    the_same_email_cannot_be_two_contacts,
    a_transaction_dropped_without_commit_leaves_nothing,
    events_wait_for_their_visitor_and_join_the_contact_when_it_identifies,
    events_for_an_unknown_email_join_the_contact_created_later,
    events_naming_a_contact_attach_at_once,
    waiting_events_are_found_however_many_came_between,
    contacts_list_newest_first_with_filters_and_keyset_pages,
    stage_history_comes_back_in_order,
    the_inbox_keeps_raw_bodies_and_their_outcome,
    forms_and_api_keys_are_found_by_key,
    a_bulk_load_is_counted_in_totals,
    a_revoked_key_is_kept_but_marked_and_revoking_twice_changes_nothing,
    a_processed_inbox_item_cannot_be_settled_again,
    a_rolled_back_transaction_releases_the_writer_at_once,
    identities_lead_through_merges_and_carry_the_fingerprint_last_imported,
    a_run_of_contacts_reads_what_a_list_of_them_reads,
    a_batch_s_responses_come_by_contact_oldest_first_and_up_to_a_moment_when_asked,
    a_read_of_responses_leaves_out_the_details_it_is_not_asked_for,
    a_read_of_many_contacts_leaves_out_what_it_does_not_ask_for,
    every_live_contact_is_walked_once_in_id_order,
    reads_made_in_place_give_what_reads_handed_to_threads_give,
    scores_are_written_over_what_each_contact_had_and_read_back_whole,
    events_read_in_bulk_follow_their_contacts_through_attaches_merges_and_undoing,
    one_batch_appends_to_many_contacts_packed_events_each_as_recorded,
    stage_steps_and_responses_come_with_their_contact_however_recorded_and_follow_merges_and_undoing,
    junk_responses_stay_in_the_timeline_but_are_not_read_with_the_contact,
);

async fn insert(store: &Arc<dyn Store>, c: &Contact) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(c).await.unwrap();
    tx.commit().await.unwrap();
}

async fn a_contact_round_trips_exactly(store: Arc<dyn Store>) {
    let account = Account { id: Uuid::now_v7(), domain: "acme.com".into(), name: Some("Acme".into()), created_at: T0 };
    let mut c = contact("ann@acme.com", T0);
    c.account_id = Some(account.id);
    c.company = Some("Robert'); DROP TABLE contacts;--".into());
    c.title = Some("<script>alert('x')</script>".into());
    c.custom.insert("team_size".into(), json!(40));
    c.custom.insert("notes".into(), json!("naïve café ✓"));
    let mut tx = store.begin().await.unwrap();
    tx.insert_account(&account).await.unwrap();
    tx.insert_contact(&c).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.contact(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(store.account(account.id).await.unwrap(), Some(account));
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.contact_by_email("ann@acme.com").await.unwrap().map(|x| x.id), Some(c.id));
    assert_eq!(tx.account_by_domain("acme.com").await.unwrap().map(|a| a.name), Some(Some("Acme".into())));
    c.title = Some("CTO".into());
    c.stage = Stage::Mql;
    tx.update_contact(&c).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.contact(c.id).await.unwrap().unwrap().stage, Stage::Mql);
    assert_eq!(store.contact(Uuid::now_v7()).await.unwrap(), None);
}

async fn the_same_email_cannot_be_two_contacts(store: Arc<dyn Store>) {
    insert(&store, &contact("ann@acme.com", T0)).await;
    let mut tx = store.begin().await.unwrap();
    let err = tx.insert_contact(&contact("ann@acme.com", T0)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

async fn a_transaction_dropped_without_commit_leaves_nothing(store: Arc<dyn Store>) {
    let c = contact("ann@acme.com", T0);
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_contact(&c).await.unwrap();
    }
    assert_eq!(store.contact(c.id).await.unwrap(), None);
    assert_eq!(store.totals().await.unwrap().contacts, 0);
    // And the writer is free again.
    insert(&store, &c).await;
    assert!(store.contact(c.id).await.unwrap().is_some());
}

async fn events_wait_for_their_visitor_and_join_the_contact_when_it_identifies(store: Arc<dyn Store>) {
    let early = [
        event("page_view", None, Some("v-1"), None, T0),
        event("pricing_view", None, Some("v-1"), None, T0.plus_micros(1)),
        event("page_view", None, Some("v-other"), None, T0),
    ];
    store.append_events(&early, T0).await.unwrap();
    assert_eq!(store.totals().await.unwrap().events, 3);

    let c = contact("ann@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&c).await.unwrap();
    assert_eq!(tx.identify_visitor("v-1", c.id, T0).await.unwrap(), 2);
    tx.commit().await.unwrap();

    // Later events from the same visitor attach directly.
    store.append_events(&[event("download", None, Some("v-1"), None, T0.plus_micros(5))], T0).await.unwrap();
    let timeline = store.recent_events(c.id, 10).await.unwrap();
    let kinds: Vec<_> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["download", "pricing_view", "page_view"]);
    assert_eq!(timeline[0].props, json!({"n": 1}));

    // Someone else identifying with the same visitor id does not take those events.
    let other = contact("bob@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&other).await.unwrap();
    assert_eq!(tx.identify_visitor("v-1", other.id, T0).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_eq!(store.recent_events(other.id, 10).await.unwrap().len(), 0);
}

async fn events_for_an_unknown_email_join_the_contact_created_later(store: Arc<dyn Store>) {
    store.append_events(&[event("email_open", Some("ann@acme.com"), None, None, T0)], T0).await.unwrap();
    let c = contact("ann@acme.com", T0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&c).await.unwrap();
    assert_eq!(tx.attach_events_by_email("ann@acme.com", c.id).await.unwrap(), 1);
    tx.commit().await.unwrap();
    store
        .append_events(&[event("email_click", Some("ann@acme.com"), None, None, T0.plus_micros(1))], T0)
        .await
        .unwrap();
    assert_eq!(store.recent_events(c.id, 10).await.unwrap().len(), 2);
}

/// A store may index waiting events in slices of consecutive events (SQLite does, by
/// 65,536): a visitor's first and last visits, with 150,000 other anonymous events
/// between them, must both join the contact.
async fn waiting_events_are_found_however_many_came_between(store: Arc<dyn Store>) {
    let visit = |visitor: &str, email: Option<&str>| event("page_view", email, Some(visitor), None, T0);
    store.append_events(&[visit("v-ann", None), visit("v-bob", Some("bob@acme.com"))], T0).await.unwrap();
    let crowd: Vec<_> = (0..1_000).map(|i| visit(&format!("v-{i}"), None)).collect();
    for _ in 0..150 {
        store.append_events(&crowd, T0).await.unwrap();
    }
    store.append_events(&[visit("v-ann", None), visit("v-bob", Some("bob@acme.com"))], T0).await.unwrap();

    let (ann, bob) = (contact("ann@acme.com", T0), contact("bob@acme.com", T0));
    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.insert_contact(&bob).await.unwrap();
    assert_eq!(tx.identify_visitor("v-ann", ann.id, T0).await.unwrap(), 2);
    assert_eq!(tx.attach_events_by_email("bob@acme.com", bob.id).await.unwrap(), 2);
    tx.commit().await.unwrap();
    assert_eq!(store.recent_events(ann.id, 10).await.unwrap().len(), 2);
    assert_eq!(store.recent_events(bob.id, 10).await.unwrap().len(), 2);
}

async fn events_naming_a_contact_attach_at_once(store: Arc<dyn Store>) {
    let c = contact("ann@acme.com", T0);
    insert(&store, &c).await;
    let batch: Vec<_> = (0..1_500).map(|i| event("page_view", None, None, Some(c.id), T0.plus_micros(i))).collect();
    store.append_events(&batch, T0).await.unwrap();
    assert_eq!(store.recent_events(c.id, 2_000).await.unwrap().len(), 1_500);
    let unknown = Uuid::now_v7();
    assert_eq!(store.existing_contacts(&[c.id, unknown]).await.unwrap(), vec![(c.id, c.id)]);
}

async fn contacts_list_newest_first_with_filters_and_keyset_pages(store: Arc<dyn Store>) {
    let mut all = Vec::new();
    for i in 0..25 {
        let mut c = contact(&format!("p{i}@acme.com"), T0.plus_micros(i));
        c.stage = if i % 2 == 0 { Stage::Mql } else { Stage::Prospect };
        c.direction = if i % 5 == 0 { Direction::Outbound } else { Direction::Inbound };
        insert(&store, &c).await;
        all.push(c);
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.contacts(&ContactFilter::default(), after, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|c| c.id);
        seen.extend(page.into_iter().map(|c| c.id));
    }
    let expected: Vec<_> = all.iter().rev().map(|c| c.id).collect();
    assert_eq!(seen, expected, "every contact once, newest first");

    let mql = ContactFilter { stage: Some(Stage::Mql), direction: Some(Direction::Outbound), ..Default::default() };
    let found = store.contacts(&mql, None, 100).await.unwrap();
    assert_eq!(found.len(), 3); // i = 0, 10, 20
    assert!(found.iter().all(|c| c.stage == Stage::Mql && c.direction == Direction::Outbound));
    let by_email = ContactFilter { email: Some("p7@acme.com".into()), ..Default::default() };
    assert_eq!(store.contacts(&by_email, None, 10).await.unwrap()[0].id, all[7].id);
}

async fn stage_history_comes_back_in_order(store: Arc<dyn Store>) {
    let c = contact("ann@acme.com", T0);
    insert(&store, &c).await;
    let moves = [
        (None, Stage::Prospect, CauseKind::Inquiry, "r1"),
        (Some(Stage::Prospect), Stage::Mql, CauseKind::Definition, "mql@1"),
        (Some(Stage::Mql), Stage::Nurture, CauseKind::Rejection, "not ready"),
    ];
    let mut tx = store.begin().await.unwrap();
    for (i, (from, to, kind, detail)) in moves.iter().enumerate() {
        let change = lifecycle::transition(
            c.id,
            *from,
            *to,
            Cause::new(*kind, *detail),
            &leadgate_core::Actor::ApiKey("ops".into()),
            T0.plus_micros(i as i64),
        )
        .unwrap();
        tx.insert_stage_change(&change).await.unwrap();
    }
    tx.commit().await.unwrap();
    let history = store.stage_history(c.id).await.unwrap();
    let path: Vec<_> = history.iter().map(|h| (h.from, h.to, h.detail.as_str(), h.actor.as_str())).collect();
    assert_eq!(
        path,
        [
            (None, Stage::Prospect, "r1", "api_key:ops"),
            (Some(Stage::Prospect), Stage::Mql, "mql@1", "api_key:ops"),
            (Some(Stage::Mql), Stage::Nurture, "not ready", "api_key:ops"),
        ]
    );
}

async fn the_inbox_keeps_raw_bodies_and_their_outcome(store: Arc<dyn Store>) {
    let body = b"email=ann%40acme.com&x=\xff\xfe".to_vec();
    let item = InboxItem {
        form_key: Some("fk".into()),
        content_type: Some("application/x-www-form-urlencoded".into()),
        remote_ip: Some("127.0.0.1".into()),
        ..InboxItem::received(Uuid::now_v7(), T0, body.clone())
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_inbox(&item).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.inbox(Some(InboxStatus::Pending), None, 10, 1_000).await.unwrap().len(), 1);

    let mut tx = store.begin().await.unwrap();
    tx.settle_inbox(item.id, InboxStatus::Failed, Some("boom"), None, T0).await.unwrap();
    tx.commit().await.unwrap();
    let got = store.inbox_item(item.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.error.as_deref(), got.attempts), (InboxStatus::Failed, Some("boom"), 1));
    assert_eq!(got.body, body, "raw bytes, even invalid UTF-8, come back exactly");
    assert!(store.inbox(Some(InboxStatus::Pending), None, 10, 1_000).await.unwrap().is_empty());
    assert_eq!(store.inbox(None, None, 10, 1_000).await.unwrap().len(), 1);

    // A list shows the first bytes of each body and how long it is; pages follow on.
    let mut tx = store.begin().await.unwrap();
    let later: Vec<InboxItem> = (1..=3)
        .map(|i| InboxItem::received(Uuid::now_v7(), Timestamp(T0.0 + i), vec![b'x'; 100 * i as usize]))
        .collect();
    for i in &later {
        tx.insert_inbox(i).await.unwrap();
    }
    tx.commit().await.unwrap();
    let first = store.inbox(None, None, 2, 10).await.unwrap();
    let seen: Vec<(Uuid, usize, i64)> = first.iter().map(|i| (i.id, i.body.len(), i.body_bytes)).collect();
    assert_eq!(seen, [(item.id, 10, body.len() as i64), (later[0].id, 10, 100)]);
    let rest = store.inbox(None, Some(later[0].id), 10, 10).await.unwrap();
    let seen: Vec<(Uuid, i64)> = rest.iter().map(|i| (i.id, i.body_bytes)).collect();
    assert_eq!(seen, [(later[1].id, 200), (later[2].id, 300)]);
    assert_eq!(store.inbox_item(later[2].id).await.unwrap().unwrap().body.len(), 300, "one item whole");
}

async fn forms_and_api_keys_are_found_by_key(store: Arc<dyn Store>) {
    let form = Form {
        id: Uuid::now_v7(),
        key: "f_abc".into(),
        name: "Whitepaper".into(),
        channel: Some("paid_search".into()),
        offer: Some("CRM guide".into()),
        campaign: None,
        allowed_origins: vec!["https://acme.example".into()],
        thank_you_url: Some("https://acme.example/thanks".into()),
        created_at: T0,
    };
    let key = ApiKey {
        id: Uuid::now_v7(),
        name: "ops".into(),
        role: Role::Marketing,
        key_hash: vec![7; 32],
        created_at: T0,
        revoked_at: None,
        user: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_form(&form).await.unwrap();
    tx.insert_api_key(&key).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.form_by_key("f_abc").await.unwrap(), Some(form));
    assert_eq!(store.form_by_key("nope").await.unwrap(), None);
    assert_eq!(store.api_key_by_hash(&[7; 32]).await.unwrap(), Some(key.clone()));
    assert_eq!(store.api_key_by_hash(&[8; 32]).await.unwrap(), None);
    assert_eq!(store.api_keys().await.unwrap(), vec![key]);
}

async fn a_bulk_load_is_counted_in_totals(store: Arc<dyn Store>) {
    let mut bulk = Bulk::default();
    for i in 0..2_500 {
        let c = contact(&format!("p{i}@acme.com"), T0);
        bulk.responses.push(response(c.id, T0, "form_fill"));
        bulk.events.push(event("page_view", None, None, Some(c.id), T0));
        bulk.contacts.push(c);
    }
    store.bulk_load(&bulk).await.unwrap();
    let t = store.totals().await.unwrap();
    assert_eq!((t.contacts, t.responses, t.events), (2_500, 2_500, 2_500));
    let first = &bulk.contacts[0];
    assert_eq!(store.responses(first.id).await.unwrap().len(), 1);
    assert_eq!(store.recent_events(first.id, 5).await.unwrap().len(), 1);
}

async fn a_revoked_key_is_kept_but_marked_and_revoking_twice_changes_nothing(store: Arc<dyn Store>) {
    let key = ApiKey {
        id: Uuid::now_v7(),
        name: "old".into(),
        role: Role::Admin,
        key_hash: vec![1; 32],
        created_at: T0,
        revoked_at: None,
        user: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(&key).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.revoke_api_key(key.id, T0.plus_micros(5)).await.unwrap());
    assert!(!tx.revoke_api_key(key.id, T0.plus_micros(9)).await.unwrap(), "already revoked");
    assert!(!tx.revoke_api_key(Uuid::now_v7(), T0).await.unwrap(), "no such key");
    tx.commit().await.unwrap();
    let stored = store.api_key_by_hash(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(T0.plus_micros(5)), "the first revocation time is kept");
}

async fn a_processed_inbox_item_cannot_be_settled_again(store: Arc<dyn Store>) {
    let item = InboxItem::received(Uuid::now_v7(), T0, b"{}".to_vec());
    let mut tx = store.begin().await.unwrap();
    tx.insert_inbox(&item).await.unwrap();
    tx.settle_inbox(item.id, InboxStatus::Processed, None, None, T0).await.unwrap();
    tx.commit().await.unwrap();
    // A second worker that processed the same item must not be able to record it.
    let mut tx = store.begin().await.unwrap();
    let err = tx.settle_inbox(item.id, InboxStatus::Processed, None, None, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let err = tx.settle_inbox(Uuid::now_v7(), InboxStatus::Failed, Some("x"), None, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    tx.rollback().await.unwrap();
}

async fn a_rolled_back_transaction_releases_the_writer_at_once(store: Arc<dyn Store>) {
    let c = contact("ann@acme.com", T0);
    insert(&store, &c).await;
    let mut tx = store.begin().await.unwrap();
    let mut locked = tx.contact_by_id(c.id).await.unwrap().unwrap();
    locked.stage = Stage::Sql;
    tx.update_contact(&locked).await.unwrap();
    tx.rollback().await.unwrap();
    // Another transaction can take and change the same contact straight away.
    let mut tx = store.begin().await.unwrap();
    let mut again = tx.contact_by_id(c.id).await.unwrap().unwrap();
    assert_eq!(again.stage, Stage::Prospect, "the rolled-back change is gone");
    again.stage = Stage::Mql;
    tx.update_contact(&again).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.contact(c.id).await.unwrap().unwrap().stage, Stage::Mql);
}

async fn identities_lead_through_merges_and_carry_the_fingerprint_last_imported(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.example", T0);
    let old = contact("ann.old@acme.example", T0);
    let bob = contact("bob@acme.example", T0);
    // Ann arrives with a fingerprint; Bob and Ann's old address without one.
    let mut bulk = Bulk { contacts: vec![ann.clone(), old.clone(), bob.clone()], ..Bulk::default() };
    bulk.fingerprints.insert(ann.id, 7);
    bulk.external_ids.push(ExternalId { system: "crm".into(), external_id: "A-1".into(), contact_id: ann.id });
    store.bulk_load(&bulk).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.set_merged_into(old.id, Some(ann.id)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let mut by_email =
        tx.find_by_emails(&["ann@acme.example", "ann.old@acme.example", "nobody@acme.example"]).await.unwrap();
    by_email.sort_by(|a, b| a.0.cmp(&b.0));
    let ann_found = Found { contact_id: ann.id, fingerprint: Some(7) };
    // The merged address leads to Ann, with Ann's fingerprint; an unknown one to nothing.
    assert_eq!(by_email, [("ann.old@acme.example".to_owned(), ann_found), ("ann@acme.example".to_owned(), ann_found)]);
    let by_id = tx.find_by_ids(&[old.id, bob.id]).await.unwrap();
    assert!(by_id.contains(&(old.id, ann_found)), "{by_id:?}");
    assert!(by_id.contains(&(bob.id, Found { contact_id: bob.id, fingerprint: None })), "{by_id:?}");
    let by_external = tx.find_by_external_ids("crm", &["A-1", "A-2"]).await.unwrap();
    assert_eq!(by_external, [("A-1".to_owned(), ann_found)]);
    assert_eq!(tx.find_by_external_ids("other", &["A-1"]).await.unwrap(), []);

    // A fingerprint is written on its own for contacts that exist, and replaces the old.
    let mut marks = Bulk::default();
    marks.fingerprints.insert(ann.id, -3);
    marks.fingerprints.insert(bob.id, i64::MAX);
    tx.insert_bulk(&marks).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let mut found = tx.find_by_ids(&[ann.id, bob.id]).await.unwrap();
    found.sort_by_key(|(id, _)| *id);
    assert_eq!(
        found,
        [
            (ann.id, Found { contact_id: ann.id, fingerprint: Some(-3) }),
            (bob.id, Found { contact_id: bob.id, fingerprint: Some(i64::MAX) })
        ]
    );
    let contacts = tx.contacts_by_ids(&[bob.id, ann.id]).await.unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(store.contact(bob.id).await.unwrap().unwrap(), bob, "marking a contact changes nothing else");
    tx.rollback().await.unwrap();
}

/// A batch read as a range of ids gives what the same contacts read one by one give,
/// without the rows of contacts inside the range that the batch leaves out.
async fn a_run_of_contacts_reads_what_a_list_of_them_reads(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    // Ids are v7: made in this order, they sort in this order.
    let people: Vec<Contact> = ["a@x.example", "b@x.example", "c@x.example"].iter().map(|e| contact(e, T0)).collect();
    for c in &people {
        insert(&store, c).await;
        let events: Vec<_> = (0..3).map(|i| event("page_view", None, None, Some(c.id), T0.plus_micros(i))).collect();
        store.append_events(&events, T0).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let arrival = lifecycle::transition(
            c.id,
            None,
            Stage::Prospect,
            Cause::new(CauseKind::Inquiry, "form"),
            &leadgate_core::Actor::System,
            T0,
        )
        .unwrap();
        tx.insert_stage_change(&arrival).await.unwrap();
        tx.commit().await.unwrap();
    }
    // The first and the last: the middle one lies in the range and is left out.
    let (first, last) = (people[0].id, people[2].id);
    assert!(first < people[1].id && people[1].id < last);
    let ends = [first, last];
    let (run, list) = (Contacts::Run(&ends), Contacts::Ids(&ends));
    let ids_of =
        |subjects: Vec<leadgate_store::ContactSnapshot>| subjects.into_iter().map(|s| s.contact.id).collect::<Vec<_>>();
    assert_eq!(ids_of(store.contact_snapshots(run, JOINED).await.unwrap()), ends);
    assert_eq!(ids_of(store.contact_snapshots(list, JOINED).await.unwrap()), ends);
    // By contact: each contact's events together, the contacts in id order.
    let events = |read: leadgate_store::ByContact<leadgate_core::expr::facts::EventFact>| {
        read.into_rows().map(|(c, _)| c).collect::<Vec<Uuid>>()
    };
    let six = [first, first, first, last, last, last];
    assert_eq!(events(store.events_of(run, T0, None, true).await.unwrap()), six);
    assert_eq!(events(store.events_of(list, T0, None, false).await.unwrap()), six);
    // Up to a moment: the events after it are left out; so are those before `since`.
    let (second, third) = (T0.plus_micros(1), T0.plus_micros(2));
    assert_eq!(events(store.events_of(run, T0, Some(second), false).await.unwrap()), [first, first, last, last]);
    assert_eq!(events(store.events_of(list, second, Some(second), true).await.unwrap()), [first, last]);
    // With their properties, or everything else without them.
    let facts = |(_, e): &(Uuid, leadgate_core::expr::facts::EventFact)| (e.kind.clone(), e.at, e.url.clone());
    let with: Vec<_> = store.events_of(list, T0, None, true).await.unwrap().into_rows().collect();
    let without: Vec<_> = store.events_of(list, T0, None, false).await.unwrap().into_rows().collect();
    assert!(with.iter().all(|(_, e)| e.props == json!({"n": 1})), "{with:?}");
    assert!(without.iter().all(|(_, e)| e.props.is_null()), "{without:?}");
    assert_eq!(with.iter().map(facts).collect::<Vec<_>>(), without.iter().map(facts).collect::<Vec<_>>());
    assert_eq!(with[0].1.url.as_deref(), Some("https://acme.example/pricing"));
    let mut latest = store.last_events(run, None).await.unwrap();
    latest.sort();
    assert_eq!(latest, [(first, third), (last, third)]);
    let mut until = store.last_events(list, Some(second)).await.unwrap();
    until.sort();
    assert_eq!(until, [(first, second), (last, second)]);
    assert!(store.last_events(run, Some(T0.plus_micros(-1))).await.unwrap().is_empty(), "none that early");
    // Where each went comes with it.
    let arrival = leadgate_core::lifecycle::StageStep { to: Stage::Prospect, at: T0, value: None };
    let steps: Vec<_> = store
        .contact_snapshots(run, JOINED)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.contact.id, s.stage_steps))
        .collect();
    assert_eq!(steps, [(first, vec![arrival]), (last, vec![arrival])]);
    // An empty run reads nothing.
    assert!(store.contact_snapshots(Contacts::Run(&[]), JOINED).await.unwrap().is_empty());
}

async fn a_batch_s_responses_come_by_contact_oldest_first_and_up_to_a_moment_when_asked(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    let people: Vec<Contact> = ["a@x.example", "b@x.example"].iter().map(|e| contact(e, T0)).collect();
    let mut bulk = Bulk::default();
    // Each made three responses, the second's first: the newest is written first.
    for (n, c) in people.iter().enumerate() {
        for i in (0..3).rev() {
            bulk.responses.push(response(c.id, T0.plus_micros(i * 10 + 1 - n as i64), &format!("step {i}")));
        }
    }
    bulk.contacts = people.clone();
    store.bulk_load(&bulk).await.unwrap();
    let ids: Vec<Uuid> = people.iter().map(|c| c.id).collect();
    let read = |r: leadgate_store::ByContact<Response>| {
        r.into_rows().map(|(c, r)| (c, r.contact_id, r.action)).collect::<Vec<_>>()
    };
    let (a, b) = (ids[0], ids[1]);
    assert!(a < b);
    let step = |c: Uuid, i: u8| (c, c, format!("step {i}"));
    let all = [step(a, 0), step(a, 1), step(a, 2), step(b, 0), step(b, 1), step(b, 2)];
    let whole = ResponseDetails::ALL;
    for contacts in [Contacts::Run(&ids), Contacts::Ids(&ids)] {
        assert_eq!(read(store.responses_of(contacts, None, whole).await.unwrap()), all);
        // Up to the moment of a's second response: it is in, the later ones are not.
        let until = Some(T0.plus_micros(11));
        let up_to = [step(a, 0), step(a, 1), step(b, 0), step(b, 1)];
        assert_eq!(read(store.responses_of(contacts, until, whole).await.unwrap()), up_to);
        assert!(store.responses_of(contacts, Some(T0.plus_micros(-1)), whole).await.unwrap().is_empty());
    }
}

/// A read of many contacts' responses reads of each the details (where, what, why) it
/// is asked for; the others are none, and the response otherwise whole.
async fn a_read_of_responses_leaves_out_the_details_it_is_not_asked_for(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    let ann = contact("ann@acme.example", T0);
    let mut full = response(ann.id, T0, "demo_request");
    full.campaign = Some("spring".into());
    full.placement = Some("sidebar".into());
    full.referrer = Some("https://news.example/".into());
    full.vendor = Some("listco".into());
    full.offer = Some("pricing guide".into());
    full.message = Some("call me".into());
    full.fields = json!({"plan": "pro"}).as_object().unwrap().clone();
    full.contact_fields = json!({"first_name": "Mallory"}).as_object().unwrap().clone();
    let bulk = Bulk { contacts: vec![ann.clone()], responses: vec![full.clone()], ..Default::default() };
    store.bulk_load(&bulk).await.unwrap();
    let ids = [ann.id];
    for contacts in [Contacts::Run(&ids), Contacts::Ids(&ids)] {
        let store = &store;
        let read = |details| async move {
            let mut read = store.responses_of(contacts, None, details).await.unwrap();
            read.take(&ann.id)
        };
        assert_eq!(read(ResponseDetails::ALL).await, [full.clone()]);
        let offered = read(ResponseDetails::NONE.with("offer").with("fields")).await;
        let bare = Response {
            channel: None,
            campaign: None,
            placement: None,
            referrer: None,
            vendor: None,
            obtained_via: String::new(),
            message: None,
            junk: None,
            contact_fields: Map::new(),
            ..full.clone()
        };
        assert_eq!(offered, std::slice::from_ref(&bare), "the offer and fields as they are, the other details none");
        let plain = read(ResponseDetails::NONE).await;
        assert_eq!(plain, [Response { offer: None, fields: Map::new(), ..bare }], "id, time, direction and action");
    }
}

/// A walk over every contact reads each account once, apart: the contacts it reads
/// come without them when it asks so.
async fn a_read_of_many_contacts_leaves_out_what_it_does_not_ask_for(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    let account = leadgate_core::model::Account {
        id: Uuid::now_v7(),
        domain: "acme.example".into(),
        name: Some("Acme".into()),
        created_at: T0,
    };
    let mut ann = contact("ann@acme.example", T0);
    ann.account_id = Some(account.id);
    ann.custom = json!({"employees": 500}).as_object().unwrap().clone();
    (ann.title, ann.country, ann.company) = (Some("CTO".into()), Some("DE".into()), Some("Acme".into()));
    ann.do_not_email = true;
    (ann.stage, ann.stage_at, ann.updated_at) = (Stage::Mql, T0.plus_micros(5), T0.plus_micros(7));
    let budget = leadgate_core::model::Qualification { budget: Some("50k".into()), ..Default::default() };
    // Created a day later.
    let bob = contact("bob@acme.example", T0.plus_micros(86_400_000_000));
    let mut tx = store.begin().await.unwrap();
    tx.insert_account(&account).await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.insert_contact(&bob).await.unwrap();
    tx.set_qualification(ann.id, &budget).await.unwrap();
    tx.commit().await.unwrap();
    let apart = SnapshotParts { account: AccountPart::Id, stored: StoredParts::None, ..JOINED };
    let ids = [ann.id];
    for contacts in [Contacts::Run(&ids), Contacts::Ids(&ids)] {
        let joined = store.contact_snapshots(contacts, JOINED).await.unwrap();
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].account.as_ref(), Some(&account));
        assert_eq!(joined[0].contact, ann);
        let apart_read = store.contact_snapshots(contacts, apart).await.unwrap();
        assert_eq!(apart_read[0].account, None);
        assert_eq!(apart_read[0].contact, joined[0].contact, "the contact itself is read alike");
        assert_eq!(apart_read[0].contact.account_id, Some(account.id), "the account is left to be found");
        // Without its stage (a backtest rebuilds it from history): at the first stage,
        // reached and last changed when it was created; the rest as it is.
        let unstaged = store.contact_snapshots(contacts, SnapshotParts { stage: false, ..JOINED }).await.unwrap();
        let c = &unstaged[0].contact;
        assert_eq!((c.stage, c.stage_at, c.updated_at), (Stage::Suspect, ann.created_at, ann.created_at));
        assert_eq!(Contact { stage: ann.stage, stage_at: ann.stage_at, updated_at: ann.updated_at, ..c.clone() }, ann);
        // Without anything of its account, when nothing reads accounts: the rest as it is.
        let unaccounted = SnapshotParts { account: AccountPart::Nothing, ..apart };
        let unaccounted = store.contact_snapshots(contacts, unaccounted).await.unwrap();
        assert_eq!(unaccounted[0].contact.account_id, None);
        assert_eq!(Contact { account_id: Some(account.id), ..unaccounted[0].contact.clone() }, ann);
        // Without its custom fields: the rest of it as it is.
        let plain = store.contact_snapshots(contacts, SnapshotParts { custom: false, ..JOINED }).await.unwrap();
        assert!(plain[0].contact.custom.is_empty());
        assert_eq!(Contact { custom: ann.custom.clone(), ..plain[0].contact.clone() }, ann);
        assert_eq!(joined[0].qualification, budget);
        // With the details an expression reads alone (its title), without its
        // qualification fields: the others are none, the rest of it as it is.
        let titled = store
            .contact_snapshots(
                contacts,
                SnapshotParts { details: Details::NONE.with("title"), qualification: false, ..JOINED },
            )
            .await
            .unwrap();
        let c = &titled[0].contact;
        assert_eq!((c.title.as_deref(), c.company.as_deref(), c.country.as_deref()), (Some("CTO"), None, None));
        assert_eq!((c.first_name.as_deref(), c.channel.as_deref()), (None, None));
        // Its wish not to be emailed, a detail no expression read here, as not made.
        let undetailed = Contact {
            first_name: None,
            company: None,
            country: None,
            channel: None,
            do_not_email: false,
            ..ann.clone()
        };
        assert_eq!(*c, undetailed);
        assert_eq!(titled[0].qualification, Default::default());
    }
    // As they were at a moment: only those created by then (a backtest's date).
    let both = [ann.id, bob.id];
    let ids_of =
        |subjects: Vec<leadgate_store::ContactSnapshot>| subjects.into_iter().map(|s| s.contact.id).collect::<Vec<_>>();
    for contacts in [Contacts::Run(&both), Contacts::Ids(&both)] {
        assert_eq!(ids_of(store.contact_snapshots(contacts, apart).await.unwrap()), both);
        let by = |at: Timestamp| SnapshotParts { created_by: Some(at), ..apart };
        assert_eq!(
            ids_of(store.contact_snapshots(contacts, by(T0)).await.unwrap()),
            [ann.id],
            "created at that moment"
        );
        assert_eq!(ids_of(store.contact_snapshots(contacts, by(bob.created_at)).await.unwrap()), both);
        assert!(store.contact_snapshots(contacts, by(T0.plus_micros(-1))).await.unwrap().is_empty());
    }
    assert_eq!(store.accounts_by_ids(&[account.id]).await.unwrap(), [account]);
}

/// A walk over every contact (a rescore, a backtest) pages through the live ones in id
/// order, each once, and passes over those merged into another.
async fn every_live_contact_is_walked_once_in_id_order(store: Arc<dyn Store>) {
    let people: Vec<Contact> = (0..7).map(|i| contact(&format!("p{i}@acme.example"), T0)).collect();
    let mut tx = store.begin().await.unwrap();
    for p in &people {
        tx.insert_contact(p).await.unwrap();
    }
    tx.set_merged_into(people[3].id, Some(people[0].id)).await.unwrap();
    tx.commit().await.unwrap();
    let mut live: Vec<Uuid> = people.iter().map(|p| p.id).filter(|id| *id != people[3].id).collect();
    live.sort();
    let (mut walked, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = store.live_contact_ids(after, None, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2, "{page:?}");
        after = page.last().copied();
        walked.extend(page);
        pages += 1;
    }
    assert_eq!(walked, live);
    assert_eq!(pages, 3);
    assert!(store.live_contact_ids(Some(live[5]), None, 2).await.unwrap().is_empty(), "nothing after the last");

    // A walk over the contacts as they were at a date (a backtest's) passes over those
    // created later, wherever they are in id order, and still over the merged ones.
    let later = |i: i64| contact(&format!("later{i}@acme.example"), T0.plus_micros(1_000 + i));
    let (after_the_date, before_the_date) = (later(1), contact("again@acme.example", T0.plus_micros(-5)));
    let mut tx = store.begin().await.unwrap();
    // Recorded after those before it, one created after the date, one before (imported
    // with the time it was created elsewhere): ids say when a contact was recorded.
    tx.insert_contact(&after_the_date).await.unwrap();
    tx.insert_contact(&before_the_date).await.unwrap();
    tx.commit().await.unwrap();
    let walk_by = |at: Timestamp| {
        let store = store.clone();
        async move {
            let (mut walked, mut after) = (Vec::new(), None);
            loop {
                let page = store.live_contact_ids(after, Some(at), 2).await.unwrap();
                let Some(last) = page.last().copied() else { return walked };
                after = Some(last);
                walked.extend(page);
            }
        }
    };
    let mut by_then = live.clone();
    by_then.push(before_the_date.id);
    assert_eq!(walk_by(T0).await, by_then, "created at the date or before, merged ones passed over");
    assert_eq!(walk_by(T0.plus_micros(-5)).await, [before_the_date.id], "only the one created before");
    assert!(walk_by(T0.plus_micros(-6)).await.is_empty(), "none yet");
    let everyone = store.live_contact_ids(None, None, 100).await.unwrap();
    assert_eq!(everyone.len(), live.len() + 2, "without a date, every live contact");
}

/// A batch read and worked on by one blocking thread (a backtest's) makes its reads
/// there (`reading_in_place`), and they give what the same reads give made apart.
async fn reads_made_in_place_give_what_reads_handed_to_threads_give(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    let people: Vec<Contact> = (0..30).map(|i| contact(&format!("r{i}@acme.example"), T0)).collect();
    let mut tx = store.begin().await.unwrap();
    for (i, p) in people.iter().enumerate() {
        tx.insert_contact(p).await.unwrap();
        for n in 0..i % 3 {
            tx.insert_response(&response(p.id, T0.plus_micros(n as i64), "demo_request")).await.unwrap();
        }
        let cause = Cause::new(CauseKind::Definition, "mql@1");
        let actor = leadgate_core::Actor::ApiKey("ops".into());
        let change = lifecycle::transition(p.id, Some(Stage::Prospect), Stage::Mql, cause, &actor, T0).unwrap();
        tx.insert_stage_change(&change).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    ids.sort();
    let read = |store: Arc<dyn Store>, ids: Vec<Uuid>| async move {
        let batch = Contacts::Run(&ids);
        let subjects = store.contact_snapshots(batch, JOINED).await.unwrap();
        let responses = store.responses_of(batch, None, ResponseDetails::ALL).await.unwrap();
        (subjects.into_iter().map(|s| (s.contact, s.stage_steps)).collect::<Vec<_>>(), responses)
    };
    let apart = read(store.clone(), ids.clone()).await;
    let runtime = tokio::runtime::Handle::current();
    let (in_place_store, in_place_ids) = (store.clone(), ids.clone());
    let in_place = tokio::task::spawn_blocking(move || {
        runtime.block_on(leadgate_store::reading_in_place(read(in_place_store, in_place_ids)))
    })
    .await
    .unwrap();
    assert_eq!(apart.0.len(), 30, "every contact of the batch");
    assert_eq!(apart.1.iter().map(|(_, r)| r.len()).sum::<usize>(), 30, "every response");
    assert_eq!(in_place, apart);
}

/// Scores are written alike for a batch of contacts (a rescore) and for a request's
/// few (an event), each over what the contact had, and read back whole.
async fn scores_are_written_over_what_each_contact_had_and_read_back_whole(store: Arc<dyn Store>) {
    use leadgate_core::scoring::{
        Assessment, ContactScores, EngagementPart, FitFactor, FunnelPosition, Grade, Pain, RuleFailure,
    };
    let people: Vec<Contact> = (0..40).map(|i| contact(&format!("s{i}@acme.example"), T0)).collect();
    let mut tx = store.begin().await.unwrap();
    for p in &people {
        tx.insert_contact(p).await.unwrap();
    }
    tx.commit().await.unwrap();
    let scores = |p: &Contact, fit: i64| ContactScores {
        contact_id: p.id,
        model: format!("bench@{fit}"),
        assessment: Assessment {
            fit,
            fit_factors: vec![FitFactor { rule: "director \"or\" above".into(), points: fit }],
            engagement: vec![EngagementPart {
                rule: "pricing".into(),
                sum: 0.1 + fit as f64,
                cap: Some(20),
                activities: 3,
            }],
            as_of: T0.plus_micros(fit),
            half_life_days: 30.0,
            funnel: Grade { grade: FunnelPosition::Mofu, reason: "came back".into() },
            pain: Grade { grade: Pain::Acute, reason: "needs it now".into() },
            errors: (fit % 2 == 0)
                .then(|| RuleFailure { rule: "fit: x".into(), message: "no such key: y".into() })
                .into_iter()
                .collect(),
        },
        likelihood: (fit % 3 != 0).then_some(0.25),
        likelihood_factors: (fit % 3 != 0).then(|| json!([{"feature": "contact.channel", "weight": 0.5}])),
        likelihood_model: (fit % 3 != 0).then(|| format!("likelihood@{}", fit % 2 + 1)),
        stored_form: Default::default(),
    };
    let save = async |written: &[ContactScores]| {
        let mut tx = store.begin().await.unwrap();
        tx.save_scores(written).await.unwrap();
        tx.commit().await.unwrap();
    };
    let read = async || {
        let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
        let mut read = store.scores(&ids).await.unwrap();
        read.sort_by_key(|s| s.contact_id);
        read
    };
    let mut expected: Vec<ContactScores> = people.iter().enumerate().map(|(i, p)| scores(p, i as i64)).collect();
    save(&expected).await;
    assert_eq!(read().await, expected, "a batch");
    // One contact's, then a few: written over what they had.
    expected[3] = scores(&people[3], 99);
    save(&expected[3..4]).await;
    for i in 10..14 {
        expected[i] = scores(&people[i], 200 + i as i64);
    }
    save(&expected[10..14]).await;
    assert_eq!(read().await, expected, "a few");
    // And every one of them again.
    let expected: Vec<ContactScores> = people.iter().enumerate().map(|(i, p)| scores(p, 500 + i as i64)).collect();
    save(&expected).await;
    assert_eq!(read().await, expected, "a batch over them");
    // With their JSON made before the write, as a rescore's are: the same when read.
    let ready: Vec<ContactScores> =
        people.iter().enumerate().map(|(i, p)| scores(p, 700 + i as i64).ready_to_store()).collect();
    assert!(ready.iter().all(|s| s.stored_form.json().is_some_and(|j| j.get().contains("needs it now"))));
    save(&ready).await;
    let read_back = read().await;
    assert_eq!(read_back, ready, "a batch made ready");
    assert_eq!(read_back[5].assessment.fit, 705);
}

/// What a rescore or a backtest reads of many contacts' events at once (without their
/// properties, which a store may keep apart: SQLite and PostgreSQL pack them by
/// contact) is what each contact holds, through every way events reach a contact:
/// naming it, one by one and in bulk, out of time order; waiting for its visitor id or
/// its email; a merge, and its undoing. A busy contact's too, however they are stored.
async fn events_read_in_bulk_follow_their_contacts_through_attaches_merges_and_undoing(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    let (ann, bob) = (contact("ann@x.example", T0), contact("bob@x.example", T0));
    insert(&store, &ann).await;
    // 400 of Ann's events, their times shuffled, pages of many lengths (some none,
    // some not ASCII), in bulk, then one by one, then in bulk again.
    let busy: Vec<NewEvent> = (0..400)
        .map(|i| {
            let mut e = event(
                ["page_view", "download"][i % 2],
                None,
                None,
                Some(ann.id),
                T0.plus_micros((i as i64 * 7_919) % 1_000),
            );
            e.url = (i % 7 != 0).then(|| format!("https://acme.example/{}{}", "ü".repeat(i % 13), "p".repeat(i % 300)));
            e
        })
        .collect();
    store.append_events(&busy[..150], T0).await.unwrap();
    for e in &busy[150..170] {
        store.append_events(std::slice::from_ref(e), T0).await.unwrap();
    }
    store.append_events(&busy[170..], T0).await.unwrap();
    // Bob's come by his visitor id and his email, before he is known by either.
    let waiting = [
        event("webinar_attended", None, Some("v-bob"), None, T0.plus_micros(5)),
        event("email_open", Some("bob@x.example"), None, None, T0.plus_micros(2_000)),
        event("email_click", Some("bob@x.example"), None, None, T0.plus_micros(3)),
    ];
    store.append_events(&waiting, T0).await.unwrap();
    insert(&store, &bob).await;
    let both = [ann.id, bob.id];
    // Each contact's events: when, what, which page.
    type Held = Vec<(Uuid, Vec<(Timestamp, String, Option<String>)>)>;
    let read = |store: Arc<dyn Store>| async move {
        let contacts = Contacts::Ids(&both);
        let facts =
            |e: &leadgate_core::expr::facts::EventFact| (e.at, e.kind.to_string(), e.url.as_deref().map(str::to_owned));
        let mut held: Vec<Held> = Vec::new();
        for (props, since, until) in [
            (true, T0, None),
            (false, T0, None),
            (true, T0.plus_micros(100), Some(T0.plus_micros(500))),
            (false, T0.plus_micros(100), Some(T0.plus_micros(500))),
        ] {
            let mut of: Vec<(Uuid, Vec<_>)> = Vec::new();
            for (c, events) in store.events_of(contacts, since, until, props).await.unwrap().iter() {
                assert!(props || events.is_sorted_by_key(|e| e.at), "oldest first");
                let mut events: Vec<_> = events.iter().map(facts).collect();
                events.sort();
                of.push((c, events));
            }
            held.push(of);
        }
        assert_eq!(held[0], held[1], "every event, with or without properties");
        assert_eq!(held[2], held[3], "a window's events, with or without properties");
        let mut latest = store.last_events(contacts, None).await.unwrap();
        latest.sort();
        let mut expected: Vec<(Uuid, Timestamp)> =
            held[0].iter().map(|(c, events)| (*c, events.iter().map(|e| e.0).max().unwrap())).collect();
        expected.sort();
        assert_eq!(latest, expected);
        held.swap_remove(0)
    };
    let counts = |held: &Held| both.map(|c| held.iter().find(|(d, _)| *d == c).map_or(0, |(_, e)| e.len()));
    assert_eq!(counts(&read(store.clone()).await), [400, 0]);

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.identify_visitor("v-bob", bob.id, T0).await.unwrap(), 1);
    assert_eq!(tx.attach_events_by_email("bob@x.example", bob.id).await.unwrap(), 2);
    tx.commit().await.unwrap();
    store.append_events(&[event("page_view", None, Some("v-bob"), None, T0.plus_micros(400))], T0).await.unwrap();
    let before = read(store.clone()).await;
    assert_eq!(counts(&before), [400, 4]);

    let mut tx = store.begin().await.unwrap();
    let moved = tx.move_history(bob.id, ann.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counts(&read(store.clone()).await), [404, 0], "Bob's events are Ann's");
    store.append_events(&[event("page_view", None, None, Some(ann.id), T0.plus_micros(1))], T0).await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.move_back(&moved, bob.id).await.unwrap();
    tx.commit().await.unwrap();
    let after = read(store.clone()).await;
    assert_eq!(counts(&after), [401, 4], "the merge undone, with what Ann did since");
    assert_eq!(after.iter().find(|(c, _)| *c == bob.id), before.iter().find(|(c, _)| *c == bob.id));
}

/// One batch appends to many contacts' packed events at once (on SQLite by a few
/// statements for them all): a contact with none yet, one whose last row is short, one
/// with several rows already, one whose batch runs over several new rows. What
/// each holds packed is what the events table holds of it.
async fn one_batch_appends_to_many_contacts_packed_events_each_as_recorded(store: Arc<dyn Store>) {
    // When, what, which page.
    type EventSeen = (Timestamp, String, Option<String>);
    use leadgate_store::Contacts;
    let people: Vec<Contact> = (0..4).map(|i| contact(&format!("p{i}@batch.example"), T0)).collect();
    for p in &people {
        insert(&store, p).await;
    }
    let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    let page = |n: usize| Some(format!("https://acme.example/{}", "p".repeat(n)));
    // Before: nothing for the first; one short event for the second; rows of events
    // of long pages for the third.
    let mut before = vec![event("page_view", None, None, Some(ids[1]), T0.plus_micros(1))];
    for i in 0..60 {
        let mut e = event("download", None, None, Some(ids[2]), T0.plus_micros(2 + i));
        e.url = page(40 + i as usize * 3);
        before.push(e);
    }
    store.append_events(&before, T0).await.unwrap();
    // The batch: the four contacts' events interleaved, the fourth's long enough to
    // need several rows.
    let mut batch = Vec::new();
    for i in 0..120i64 {
        let who = ids[(i % 4) as usize];
        let mut e = event(["page_view", "download"][(i % 2) as usize], None, None, Some(who), T0.plus_micros(100 + i));
        e.url = if who == ids[3] { page(200 + i as usize) } else { page(i as usize) };
        batch.push(e);
    }
    store.append_events(&batch, T0).await.unwrap();
    let held = |props: bool| {
        let store = store.clone();
        let ids = ids.clone();
        async move {
            let read = store.events_of(Contacts::Ids(&ids), T0, None, props).await.unwrap();
            let mut of: Vec<(Uuid, Vec<EventSeen>)> = read
                .iter()
                .map(|(c, events)| {
                    let mut events: Vec<_> = events
                        .iter()
                        .map(|e| (e.at, e.kind.to_string(), e.url.as_deref().map(str::to_owned)))
                        .collect();
                    events.sort();
                    (c, events)
                })
                .collect();
            of.sort();
            of
        }
    };
    let packed = held(false).await;
    assert_eq!(packed, held(true).await, "packed events are the events table's");
    let count = |id: Uuid| packed.iter().find(|(c, _)| *c == id).map_or(0, |(_, e)| e.len());
    assert_eq!(ids.iter().map(|id| count(*id)).collect::<Vec<_>>(), [30, 31, 90, 30]);
}

/// A contact's stage steps and responses in brief are packed on its row as each is
/// recorded (one at a time, a stage move, an import's bulk), and packed anew from their
/// tables when they move between contacts: read back with the contact, they are what
/// was recorded, oldest first, whichever way they were packed, and the responses what
/// the responses table gives.
async fn stage_steps_and_responses_come_with_their_contact_however_recorded_and_follow_merges_and_undoing(
    store: Arc<dyn Store>,
) {
    use leadgate_core::lifecycle::{StageChange, StageStep};
    use leadgate_store::Contacts;
    let (ann, bob) = (contact("ann@steps.example", T0), contact("bob@steps.example", T0));
    let change = |who: &Contact, from: Option<Stage>, to: Stage, micros: i64, value: Option<i64>| StageChange {
        contact_id: who.id,
        from,
        to,
        at: T0.plus_micros(micros),
        cause: CauseKind::Import,
        detail: "crm".into(),
        actor: "ops".into(),
        value,
    };
    let step = |c: &StageChange| StageStep { to: c.to, at: c.at, value: c.value };
    // Ann's one at a time, the last recorded being the oldest, then in an import's bulk
    // after she was written; Bob's in the bulk that writes him.
    let ann_changes = [
        change(&ann, None, Stage::Prospect, 0, None),
        change(&ann, Some(Stage::Prospect), Stage::Customer, 20, Some(1_250_000)),
        change(&ann, Some(Stage::Prospect), Stage::Sql, 10, None),
        // At the same moment as the one before it: ties keep the order written.
        change(&ann, Some(Stage::Sql), Stage::Opportunity, 10, Some(900)),
    ];
    // Bob's lost deal of a negative value (a refund), to check the numbers' encoding.
    let bob_changes = [
        change(&bob, None, Stage::Prospect, 5, None),
        change(&bob, Some(Stage::Prospect), Stage::Lost, 15, Some(-250)),
    ];
    let mut ann_responses = [
        response(ann.id, T0.plus_micros(8), "demo_request"),
        response(ann.id, T0.plus_micros(2), "ebook_download"),
        response(ann.id, T0.plus_micros(8), "pricing_request"),
        response(ann.id, T0.plus_micros(9), "proposal_request"),
    ];
    ann_responses[1].channel = None;
    ann_responses[1].direction = Direction::Outbound;
    ann_responses[2].channel = Some("paid_social·ü".into());
    ann_responses[2].campaign = Some("spring".into());
    let bob_responses = [response(bob.id, T0.plus_micros(3), "webinar_signup")];
    insert(&store, &ann).await;
    let mut tx = store.begin().await.unwrap();
    for c in &ann_changes[..2] {
        tx.insert_stage_change(c).await.unwrap();
    }
    for r in &ann_responses[..3] {
        tx.insert_response(r).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.move_stage(&ann_changes[2]).await.unwrap(), "Ann was a prospect");
    tx.commit().await.unwrap();
    let bulk = Bulk {
        contacts: vec![bob.clone()],
        stage_changes: [&bob_changes[..], &ann_changes[3..]].concat(),
        responses: [&bob_responses[..], &ann_responses[3..]].concat(),
        ..Bulk::default()
    };
    store.bulk_load(&bulk).await.unwrap();

    let mut both = [ann.id, bob.id];
    both.sort();
    // Each contact's steps and responses in brief; and its responses in brief and in
    // full, each checked against the responses table's.
    type Held = (Vec<StageStep>, Vec<Uuid>);
    let read = |store: Arc<dyn Store>| async move {
        let contacts = Contacts::Ids(&both);
        let mut held: Vec<Held> = Vec::new();
        // Asked for less than the brief, they come with all the brief holds.
        let brief = ResponseDetails::IN_BRIEF;
        for (asked, given) in
            [(brief, brief), (ResponseDetails::NONE, brief), (ResponseDetails::ALL, ResponseDetails::ALL)]
        {
            let parts = SnapshotParts { responses: Some(asked), ..JOINED };
            let subjects = store.contact_snapshots(contacts, parts).await.unwrap();
            let table = store.responses_of(contacts, None, given).await.unwrap();
            for id in [ann.id, bob.id] {
                let s = subjects.iter().find(|s| s.contact.id == id).unwrap();
                assert_eq!(s.responses, table.get(&id), "{asked:?}");
            }
            held = [ann.id, bob.id]
                .iter()
                .map(|id| subjects.iter().find(|s| s.contact.id == *id).unwrap())
                .map(|s| (s.stage_steps.clone(), s.responses.iter().map(|r| r.id).collect()))
                .collect();
        }
        (held[0].clone(), held[1].clone())
    };
    let ids = |rs: &[&Response]| rs.iter().map(|r| r.id).collect::<Vec<_>>();
    let [a0, a1, a2, a3] = &ann_responses;
    let (first, third) = if a0.id < a2.id { (a0, a2) } else { (a2, a0) };
    let ann_steps = [&ann_changes[0], &ann_changes[2], &ann_changes[3], &ann_changes[1]].map(step).to_vec();
    let recorded = (
        (ann_steps, ids(&[a1, first, third, a3])),
        (vec![step(&bob_changes[0]), step(&bob_changes[1])], ids(&[&bob_responses[0]])),
    );
    assert_eq!(read(store.clone()).await, recorded, "oldest first, with their values");

    // Merged: Bob's steps and responses are Ann's, packed anew by the database.
    let mut tx = store.begin().await.unwrap();
    let moved = tx.move_history(bob.id, ann.id).await.unwrap();
    tx.commit().await.unwrap();
    let (merged, left) = read(store.clone()).await;
    let mut steps = [recorded.0.0.clone(), recorded.1.0.clone()].concat();
    steps.sort_by_key(|s| s.at);
    let responses = ids(&[a1, &bob_responses[0], first, third, a3]);
    assert_eq!((merged, left), ((steps, responses), (vec![], vec![])), "Bob's went to Ann");
    // What Ann does while merged stays hers when the merge is undone.
    let later = change(&ann, Some(Stage::Sql), Stage::Opportunity, 30, Some(7));
    let again = response(ann.id, T0.plus_micros(1), "contact_us");
    let mut tx = store.begin().await.unwrap();
    tx.insert_stage_change(&later).await.unwrap();
    tx.insert_response(&again).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.move_back(&moved, bob.id).await.unwrap();
    tx.commit().await.unwrap();
    let (ann_after, bob_after) = read(store.clone()).await;
    assert_eq!(ann_after, ([recorded.0.0.clone(), vec![step(&later)]].concat(), ids(&[&again, a1, first, third, a3])));
    assert_eq!(bob_after, recorded.1, "the merge undone");
}

/// A response judged junk is kept (the contact's timeline shows it) but says nothing of
/// the person: an assessment reads neither it from the contact's row nor from the table.
async fn junk_responses_stay_in_the_timeline_but_are_not_read_with_the_contact(store: Arc<dyn Store>) {
    use leadgate_store::Contacts;
    let ann = contact("ann@acme.example", T0);
    let real = response(ann.id, T0, "download");
    let mut junk = response(ann.id, Timestamp(T0.0 + 1), "demo_request");
    junk.junk = Some("honeypot".into());
    // One written with the new contact, one appended afterwards.
    let bulk = Bulk { contacts: vec![ann.clone()], responses: vec![real.clone(), junk.clone()], ..Default::default() };
    store.bulk_load(&bulk).await.unwrap();
    let mut later = response(ann.id, Timestamp(T0.0 + 2), "pricing_view");
    later.junk = Some("bot".into());
    let mut tx = store.begin().await.unwrap();
    tx.insert_response(&later).await.unwrap();
    tx.commit().await.unwrap();

    let timeline: Vec<String> = store.responses(ann.id).await.unwrap().into_iter().map(|r| r.action).collect();
    assert_eq!(timeline, ["pricing_view", "demo_request", "download"], "all kept, newest first");
    let ids = [ann.id];
    let read = store.responses_of(Contacts::Ids(&ids), None, ResponseDetails::ALL).await.unwrap().take(&ann.id);
    assert_eq!(read, std::slice::from_ref(&real));
    let brief = store.contact_snapshots(Contacts::Ids(&ids), JOINED).await.unwrap().remove(0).responses;
    assert_eq!(brief.iter().map(|r| r.id).collect::<Vec<_>>(), [real.id]);

    // Packed anew (a merge and its undoing do so): still without the junk.
    let other = contact("ann.other@acme.example", T0);
    insert(&store, &other).await;
    let mut tx = store.begin().await.unwrap();
    let moved = tx.move_history(ann.id, other.id).await.unwrap();
    tx.move_back(&moved, ann.id).await.unwrap();
    tx.commit().await.unwrap();
    let brief = store.contact_snapshots(Contacts::Ids(&ids), JOINED).await.unwrap().remove(0).responses;
    assert_eq!(brief.iter().map(|r| r.id).collect::<Vec<_>>(), [real.id]);
}
