//! The port methods the neighbouring suites leave alone, on SQLite and on PostgreSQL:
//! each written through the ports and read back as a user of the store would notice
//! it. And a check that every method the ports, `Store` and `Tx` declare is called by
//! some test of the store's suite (`tests/*.rs`), so that a new one cannot be added
//! without being proven on both databases.

use leadgate_core::changes::Position;
use leadgate_core::consent::ConsentRecord;
use leadgate_core::dedupe::Candidate;
use leadgate_core::definition::{Definition, DefinitionKind};
use leadgate_core::erasure::{self, AuditEntry, ContactPrivacy, Erasure, Hold};
use leadgate_core::import::RowError;
use leadgate_core::likelihood::{Evaluation, TrainOptions, TrainedModel};
use leadgate_core::merge::{Before, Merge};
use leadgate_core::model::{
    Account, Activation, Contact, ContactChange, ExternalId, ImportCounts, ImportJob, ImportStatus, InboxItem,
    InboxStatus, Qualification, Response, StoredEvent,
};
use leadgate_core::scoring::{ModelSpec, ModelVersion, RuleSpec};
use leadgate_core::{CauseKind, Direction, Stage, StageChange, Timestamp};
use leadgate_store::AuditFilter;
use leadgate_store::{Bulk, Contacts, Erased, Retained, Store, StoreError, Tx};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use uuid::Uuid;

mod support;
use support::{T0, contact, event, response};

leadgate_store::on_both_stores!(
    a_contact_s_changes_come_oldest_first_and_one_deleted_is_gone,
    live_contacts_are_counted_without_the_merged_and_refreshed_statistics_change_no_answer,
    exports_page_through_contacts_responses_stage_changes_and_events_after_a_key,
    exports_find_emails_and_how_each_contact_arrived,
    qualifications_are_read_back_as_last_written_and_empty_when_never_set,
    an_import_job_is_saved_advanced_and_listed_newest_first,
    an_import_finds_accounts_by_domain_and_the_history_it_must_not_add_twice,
    a_merge_is_kept_whole_hides_the_other_from_duplicates_and_is_reported_undone,
    scoring_models_are_versioned_and_the_latest_is_read_when_no_version_is_asked,
    definitions_are_versioned_and_listed_oldest_first_or_the_latest_of_each,
    an_activation_replaces_the_one_before_and_deactivating_twice_changes_nothing,
    likelihood_models_take_the_next_version_and_the_latest_is_in_force,
    the_feed_says_how_far_it_was_written_and_how_far_it_can_be_read,
    the_store_names_its_database_and_keeps_a_change_noted_in_a_transaction,
    consents_come_in_the_order_they_were_given,
    a_legal_hold_and_an_erasure_are_kept_beside_the_contact,
    the_audit_log_pages_oldest_first_for_everyone_or_one_contact,
    contacts_merged_into_another_are_found_from_it,
    what_is_held_of_a_person_is_gathered_from_every_table,
    a_sweep_removes_what_is_kept_for_a_while_from_settled_items_once,
    erasure_removes_what_says_who_a_person_is_and_keeps_the_anonymous_facts,
    spend_overlapping_a_period_is_listed_in_recorded_order_and_the_currency_is_claimed_once,
);

const SECOND: i64 = 1_000_000;

fn step(contact_id: Uuid, from: Option<Stage>, to: Stage, micros: i64, cause: CauseKind, detail: &str) -> StageChange {
    StageChange {
        contact_id,
        from,
        to,
        at: T0.plus_micros(micros),
        cause,
        detail: detail.into(),
        actor: "api_key:ops".into(),
        value: None,
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// Records `old` merged into `ann` by an operator, commits `tx`, and gives `ann` the
/// CRM id it is known by there: the merge and that id.
async fn merge_and_link_to_crm(
    store: &Arc<dyn Store>,
    mut tx: Box<dyn Tx>,
    ann: &Contact,
    old: &Contact,
) -> (Merge, ExternalId) {
    tx.set_merged_into(old.id, Some(ann.id)).await.unwrap();
    let merge = Merge {
        id: Uuid::now_v7(),
        contact_id: ann.id,
        other_id: old.id,
        at: T0.plus_micros(50),
        actor: "user:ops".into(),
        before: Before { contact: ann.clone(), other: old.clone() },
        moved: Default::default(),
        undone_at: None,
        undone_by: None,
    };
    tx.insert_merge(&merge).await.unwrap();
    tx.commit().await.unwrap();
    let crm = ExternalId { system: "crm".into(), external_id: "A-1".into(), contact_id: ann.id };
    store.bulk_load(&Bulk { external_ids: vec![crm.clone()], ..Bulk::default() }).await.unwrap();
    (merge, crm)
}

async fn insert(store: &Arc<dyn Store>, contacts: &[&Contact]) {
    let mut tx = store.begin().await.unwrap();
    for c in contacts {
        tx.insert_contact(c).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn merge_into(store: &Arc<dyn Store>, other: Uuid, into: Option<Uuid>) {
    let mut tx = store.begin().await.unwrap();
    tx.set_merged_into(other, into).await.unwrap();
    tx.commit().await.unwrap();
}

async fn a_contact_s_changes_come_oldest_first_and_one_deleted_is_gone(store: Arc<dyn Store>) {
    // Made in this order, their ids sort in this order: Bob lies between the others.
    let (ann, bob, cid) =
        (contact("ann@acme.example", T0), contact("bob@acme.example", T0), contact("cid@acme.example", T0));
    let change = |who: &Contact, micros: i64, field: &str| ContactChange {
        contact_id: who.id,
        at: T0.plus_micros(micros),
        cause: format!("import {micros}"),
        actor: "api_key:ops".into(),
        changes: object(json!({ field: {"from": null, "to": "naïve ✓"} })),
    };
    // Ann's recorded out of time order, two of them at one moment.
    let written = [
        change(&ann, 20, "title"),
        change(&ann, 10, "company"),
        change(&ann, 10, "phone"),
        change(&bob, 5, "country"),
        change(&cid, 7, "owner"),
    ];
    insert(&store, &[&ann, &bob, &cid]).await;
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for c in &written {
        ids.push(tx.insert_contact_change(c).await.unwrap());
    }
    tx.commit().await.unwrap();
    assert!(ids.is_sorted_by(|a, b| a < b), "each change its own row id, in the order recorded: {ids:?}");

    let anns = vec![written[1].clone(), written[2].clone(), written[0].clone()];
    assert_eq!(store.contact_changes(ann.id).await.unwrap(), anns, "by time, ties in the order recorded");
    assert_eq!(store.contact_changes(bob.id).await.unwrap(), [written[3].clone()]);
    assert_eq!(store.contact_changes(Uuid::now_v7()).await.unwrap(), []);
    let ends = [ann.id, cid.id];
    let listed = store.contact_changes_of(Contacts::Ids(&ends)).await.unwrap();
    assert_eq!(listed.get(&ann.id), anns.as_slice());
    assert_eq!(listed.get(&cid.id), [written[4].clone()]);
    assert!(listed.get(&bob.id).is_empty(), "not asked for");
    // As a run of ids, Bob lies within it but is not of it.
    let run = store.contact_changes_of(Contacts::Run(&ends)).await.unwrap();
    assert_eq!(run, listed);

    let mut tx = store.begin().await.unwrap();
    tx.delete_contact_change(ids[2]).await.unwrap();
    tx.commit().await.unwrap();
    let left = vec![written[1].clone(), written[0].clone()];
    assert_eq!(store.contact_changes(ann.id).await.unwrap(), left);
    assert_eq!(store.contact_changes_of(Contacts::Ids(&ends)).await.unwrap().get(&ann.id), left.as_slice());
    assert_eq!(store.contact_changes(bob.id).await.unwrap(), [written[3].clone()], "the others stay");
}

async fn live_contacts_are_counted_without_the_merged_and_refreshed_statistics_change_no_answer(store: Arc<dyn Store>) {
    assert_eq!(store.live_contact_count().await.unwrap(), 0);
    let people: Vec<Contact> = (0..300).map(|i| contact(&format!("p{i}@acme.example"), T0.plus_micros(i))).collect();
    store.bulk_load(&Bulk { contacts: people.clone(), ..Bulk::default() }).await.unwrap();
    merge_into(&store, people[7].id, Some(people[0].id)).await;
    merge_into(&store, people[8].id, Some(people[0].id)).await;
    assert_eq!(store.live_contact_count().await.unwrap(), 298);
    assert_eq!(store.totals().await.unwrap().contacts, 298, "what the totals say");

    let page = store.contacts_page(None, 1_000).await.unwrap();
    store.refresh_statistics().await.unwrap();
    assert_eq!(store.contacts_page(None, 1_000).await.unwrap(), page, "the same answer, however planned");
    assert_eq!(store.live_contact_count().await.unwrap(), 298);
    merge_into(&store, people[8].id, None).await;
    assert_eq!(store.live_contact_count().await.unwrap(), 299, "shown again, counted again");
}

async fn exports_page_through_contacts_responses_stage_changes_and_events_after_a_key(store: Arc<dyn Store>) {
    let people: Vec<Contact> = (0..5).map(|i| contact(&format!("x{i}@acme.example"), T0.plus_micros(i))).collect();
    let mut responses = Vec::new();
    let mut changes = Vec::new();
    let mut tx = store.begin().await.unwrap();
    for p in &people {
        tx.insert_contact(p).await.unwrap();
    }
    // The last person's first: pages follow the order of recording, not of people.
    for (i, p) in people.iter().enumerate().rev() {
        let mut r = response(p.id, T0.plus_micros(10 - i as i64), "form_fill");
        r.campaign = Some(format!("spring {i}"));
        tx.insert_response(&r).await.unwrap();
        responses.push(r);
        let arrival = step(p.id, None, Stage::Prospect, 10 - i as i64, CauseKind::Inquiry, "form");
        tx.insert_stage_change(&arrival).await.unwrap();
        changes.push(arrival);
    }
    let mut won = step(people[1].id, Some(Stage::Prospect), Stage::Customer, 50, CauseKind::Outcome, "won");
    won.value = Some(-250);
    tx.insert_stage_change(&won).await.unwrap();
    changes.push(won);
    tx.commit().await.unwrap();
    merge_into(&store, people[2].id, Some(people[0].id)).await;
    let mut known = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let mut e = event("page_view", None, None, Some(p.id), T0.plus_micros(100 - i as i64));
        e.url = (i % 2 == 0).then(|| format!("https://acme.example/{i}"));
        store.append_events(&[e.clone()], T0.plus_micros(i as i64)).await.unwrap();
        known.push((e, T0.plus_micros(i as i64)));
        // Between them, an event of a visitor nobody knows: no export's.
        store.append_events(&[event("page_view", None, Some(&format!("v-{i}")), None, T0)], T0).await.unwrap();
    }

    let (mut paged, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = store.contacts_page(after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 2);
        after = Some(last.id);
        paged.extend(page);
        pages += 1;
    }
    let live: Vec<Contact> = people.iter().filter(|p| p.id != people[2].id).cloned().collect();
    assert_eq!(paged, live, "every contact not merged, whole, oldest first");
    assert_eq!(pages, 2);

    let (mut paged, mut after) = (Vec::new(), None);
    loop {
        let page = store.responses_page(after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        paged.extend(page);
    }
    responses.sort_by_key(|r| r.id);
    assert_eq!(paged, responses, "every response, the merged contact's too, in the order recorded");

    let (mut paged, mut after) = (Vec::new(), 0);
    loop {
        let page = store.stage_changes_page(after, 4).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        after = *last;
        paged.extend(page);
    }
    assert!(paged.iter().map(|(id, _)| *id).is_sorted_by(|a, b| a < b), "by row id");
    assert_eq!(paged.into_iter().map(|(_, c)| c).collect::<Vec<_>>(), changes, "in the order recorded");
    assert!(store.stage_changes_page(after, 4).await.unwrap().is_empty(), "nothing after the last");

    let (mut paged, mut after): (Vec<StoredEvent>, i64) = (Vec::new(), 0);
    loop {
        let page = store.events_page(after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        paged.extend(page);
    }
    assert!(paged.iter().map(|e| e.id).is_sorted_by(|a, b| a < b), "by id");
    let read: Vec<_> = paged
        .iter()
        .map(|e| (e.contact_id, e.kind.clone(), e.at, e.url.clone(), e.props.clone(), e.received_at))
        .collect();
    let sent: Vec<_> = known
        .iter()
        .map(|(e, received)| (e.contact_id, e.kind.to_string(), e.at, e.url.clone(), e.props.clone(), *received))
        .collect();
    assert_eq!(read, sent, "the known contacts' events only, as sent");
}

async fn exports_find_emails_and_how_each_contact_arrived(store: Arc<dyn Store>) {
    let (ann, bob) = (contact("ann@acme.example", T0), contact("bob@acme.example", T0));
    let nameless = Contact::new(Uuid::now_v7(), None, Direction::Outbound, None, Stage::Suspect, T0);
    insert(&store, &[&ann, &bob, &nameless]).await;
    let mut emails = store.contact_emails(&[nameless.id, bob.id, ann.id, Uuid::now_v7()]).await.unwrap();
    emails.sort();
    let mut expected = vec![(ann.id, "ann@acme.example".to_owned()), (bob.id, "bob@acme.example".to_owned())];
    expected.sort();
    assert_eq!(emails, expected, "only those with an email");
    assert_eq!(store.contact_emails(&[]).await.unwrap(), []);

    let mut tx = store.begin().await.unwrap();
    tx.insert_stage_change(&step(ann.id, None, Stage::Prospect, 10, CauseKind::Inquiry, "form")).await.unwrap();
    tx.insert_stage_change(&step(ann.id, Some(Stage::Prospect), Stage::Mql, 20, CauseKind::Definition, "mql@1"))
        .await
        .unwrap();
    tx.insert_stage_change(&step(bob.id, None, Stage::Suspect, 5, CauseKind::ListEntry, "fair")).await.unwrap();
    tx.commit().await.unwrap();
    // Ann's history from elsewhere, imported later but dated before she arrived here.
    let imported = step(ann.id, None, Stage::Suspect, 0, CauseKind::Import, "crm");
    store.bulk_load(&Bulk { stage_changes: vec![imported], ..Bulk::default() }).await.unwrap();
    let mut arrivals = store.arrivals(&[ann.id, bob.id, nameless.id]).await.unwrap();
    arrivals.sort();
    let mut expected = vec![(ann.id, Stage::Prospect), (bob.id, Stage::Suspect)];
    expected.sort();
    assert_eq!(arrivals, expected, "the first stage recorded, whatever came later; none without one");
    // Several contacts' stage changes with their causes, each's oldest first, as one's.
    let histories = store.stage_histories_of(Contacts::Ids(&[ann.id, nameless.id])).await.unwrap();
    assert_eq!(histories.get(&ann.id), store.stage_history(ann.id).await.unwrap().as_slice());
    let details: Vec<&str> = histories.get(&ann.id).iter().map(|s| s.detail.as_str()).collect();
    assert_eq!(details, ["crm", "form", "mql@1"]);
    assert!(histories.get(&bob.id).is_empty(), "not asked for");
    assert!(histories.get(&nameless.id).is_empty());
}

async fn qualifications_are_read_back_as_last_written_and_empty_when_never_set(store: Arc<dyn Store>) {
    let (ann, bob) = (contact("ann@acme.example", T0), contact("bob@acme.example", T0));
    insert(&store, &[&ann, &bob]).await;
    let full = Qualification {
        budget: Some("50 k€".into()),
        authority: Some("signs alone".into()),
        need: Some("a CRM \"now\"".into()),
        timeline: Some("Q3".into()),
    };
    let mut tx = store.begin().await.unwrap();
    tx.set_qualification(ann.id, &full).await.unwrap();
    tx.commit().await.unwrap();
    let mut read = store.qualifications(&[bob.id, ann.id, Uuid::now_v7()]).await.unwrap();
    read.sort_by_key(|(id, _)| *id);
    assert_eq!(read, [(ann.id, full), (bob.id, Qualification::default())], "an unknown contact left out");

    let budget_only = Qualification { budget: Some("10k".into()), ..Default::default() };
    let mut tx = store.begin().await.unwrap();
    tx.set_qualification(ann.id, &budget_only).await.unwrap();
    // The transaction reads what it wrote.
    assert_eq!(tx.qualification_of(ann.id).await.unwrap(), budget_only);
    assert_eq!(tx.qualification_of(Uuid::now_v7()).await.unwrap(), Qualification::default());
    tx.commit().await.unwrap();
    assert_eq!(store.qualifications(&[ann.id]).await.unwrap(), [(ann.id, budget_only)], "written over, not merged");
}

async fn an_import_job_is_saved_advanced_and_listed_newest_first(store: Arc<dyn Store>) {
    let job = |created: Timestamp| ImportJob {
        id: Uuid::now_v7(),
        status: ImportStatus::Running,
        dry_run: false,
        file_name: Some("contacts ü.csv".into()),
        mapping: "preset hubspot".into(),
        actor: "api_key:ops".into(),
        created_at: created,
        updated_at: created,
        finished_at: None,
        counts: ImportCounts::default(),
        errors: vec![],
        error_count: 0,
        failure: None,
    };
    let first = job(T0);
    let second = ImportJob {
        dry_run: true,
        file_name: None,
        mapping: "[columns]\nemail = \"E-mail\"\n".into(),
        ..job(T0.plus_micros(SECOND))
    };
    // Made after the second, at the same moment: the later one is newer.
    let third = job(second.created_at);
    for j in [&first, &second, &third] {
        store.save_import(j).await.unwrap();
    }
    assert_eq!(store.import_job(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.import_job(second.id).await.unwrap(), Some(second.clone()));
    assert_eq!(store.import_job(Uuid::now_v7()).await.unwrap(), None);

    let advanced = ImportJob {
        status: ImportStatus::Finished,
        updated_at: T0.plus_micros(5 * SECOND),
        finished_at: Some(T0.plus_micros(6 * SECOND)),
        counts: ImportCounts {
            rows: 3,
            rows_failed: 1,
            contacts_created: 2,
            accounts_created: 1,
            responses_created: 2,
            ..Default::default()
        },
        errors: vec![RowError {
            row: 3,
            column: Some("email".into()),
            code: "invalid_email".into(),
            message: "\"x@\" is not an email".into(),
        }],
        error_count: 1,
        ..first.clone()
    };
    store.save_import(&advanced).await.unwrap();
    let failed = ImportJob {
        status: ImportStatus::Failed,
        updated_at: T0.plus_micros(7 * SECOND),
        finished_at: Some(T0.plus_micros(7 * SECOND)),
        failure: Some("the file is not UTF-8".into()),
        ..second.clone()
    };
    store.save_import(&failed).await.unwrap();
    assert_eq!(store.import_job(first.id).await.unwrap(), Some(advanced.clone()), "advanced, not added");
    assert_eq!(store.import_job(second.id).await.unwrap(), Some(failed.clone()));

    assert_eq!(store.imports(10).await.unwrap(), [third.clone(), failed, advanced], "newest first");
    assert_eq!(store.imports(1).await.unwrap(), [third]);
}

async fn an_import_finds_accounts_by_domain_and_the_history_it_must_not_add_twice(store: Arc<dyn Store>) {
    let acme = Account { id: Uuid::now_v7(), domain: "acme.example".into(), name: Some("Acme".into()), created_at: T0 };
    let beta = Account { id: Uuid::now_v7(), domain: "beta.example".into(), name: None, created_at: T0.plus_micros(1) };
    let (ann, bob) = (contact("ann@acme.example", T0), contact("bob@beta.example", T0));
    let mut untracked = response(ann.id, T0.plus_micros(3), "demo_request");
    untracked.channel = None;
    let ann_responses = [response(ann.id, T0.plus_micros(2), "form_fill"), untracked];
    let bob_response = response(bob.id, T0.plus_micros(4), "webinar_signup");
    let ann_steps = [
        step(ann.id, None, Stage::Prospect, 1, CauseKind::Inquiry, "form"),
        step(ann.id, Some(Stage::Prospect), Stage::Mql, 8, CauseKind::Definition, "mql@1"),
    ];
    let bob_step = step(bob.id, None, Stage::Suspect, 1, CauseKind::Import, "crm");
    let mut tx = store.begin().await.unwrap();
    tx.insert_account(&acme).await.unwrap();
    tx.insert_account(&beta).await.unwrap();
    tx.insert_contact(&ann).await.unwrap();
    tx.insert_contact(&bob).await.unwrap();
    for r in ann_responses.iter().chain([&bob_response]) {
        tx.insert_response(r).await.unwrap();
    }
    for s in ann_steps.iter().chain([&bob_step]) {
        tx.insert_stage_change(s).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut bare = event("download", None, None, Some(ann.id), T0.plus_micros(6));
    bare.url = None;
    let ann_events = [event("page_view", None, None, Some(ann.id), T0.plus_micros(5)), bare];
    store.append_events(&ann_events, T0).await.unwrap();
    store.append_events(&[event("page_view", None, None, Some(bob.id), T0)], T0).await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let mut found = tx.accounts_by_domains(&["beta.example", "nobody.example", "acme.example"]).await.unwrap();
    found.sort_by(|a, b| a.domain.cmp(&b.domain));
    assert_eq!(found, [acme.clone(), beta.clone()], "whole, an unknown domain left out");
    assert_eq!(tx.accounts_by_domains(&[]).await.unwrap(), []);

    let mut keys = tx.history_keys(&[ann.id], true).await.unwrap();
    keys.responses.sort();
    keys.stages.sort();
    keys.events.sort();
    let mut responses: Vec<_> =
        ann_responses.iter().map(|r| (ann.id, r.at, r.action.clone(), r.channel.clone())).collect();
    responses.sort();
    let mut stages: Vec<_> = ann_steps.iter().map(|s| (ann.id, s.to, s.at)).collect();
    stages.sort();
    let mut events: Vec<_> = ann_events.iter().map(|e| (ann.id, e.kind.to_string(), e.at, e.url.clone())).collect();
    events.sort();
    assert_eq!((keys.responses, keys.stages, keys.events), (responses, stages, events), "Ann's alone");

    let keys = tx.history_keys(&[ann.id, bob.id], false).await.unwrap();
    assert_eq!((keys.responses.len(), keys.stages.len()), (3, 3), "both contacts'");
    assert!(keys.events.is_empty(), "events only when asked for");
    tx.rollback().await.unwrap();
}

async fn a_merge_is_kept_whole_hides_the_other_from_duplicates_and_is_reported_undone(store: Arc<dyn Store>) {
    let mut ann = contact("ann@acme.example", T0);
    ann.last_name = Some("Lee".into());
    let mut other = contact("ann.lee@acme.example", T0.plus_micros(5));
    other.custom.insert("team_size".into(), json!(40));
    let bob = contact("bob@acme.example", T0);
    insert(&store, &[&ann, &other, &bob]).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_response(&response(other.id, T0.plus_micros(6), "download")).await.unwrap();
    tx.insert_stage_change(&step(other.id, None, Stage::Prospect, 6, CauseKind::Inquiry, "form")).await.unwrap();
    tx.commit().await.unwrap();

    let merge_id = Uuid::now_v7();
    let mut tx = store.begin().await.unwrap();
    let before = Before {
        contact: tx.contact_by_id(ann.id).await.unwrap().unwrap(),
        other: tx.contact_by_id(other.id).await.unwrap().unwrap(),
    };
    tx.set_merged_into(other.id, Some(ann.id)).await.unwrap();
    let mut moved = tx.move_history(other.id, ann.id).await.unwrap();
    let added = ContactChange {
        contact_id: ann.id,
        at: T0.plus_micros(100),
        cause: format!("merge {merge_id}"),
        actor: "user:ops".into(),
        changes: object(json!({"merged": {"from": null, "to": other.id}})),
    };
    moved.added_contact_change = Some(tx.insert_contact_change(&added).await.unwrap());
    let merge = Merge {
        id: merge_id,
        contact_id: ann.id,
        other_id: other.id,
        at: T0.plus_micros(100),
        actor: "user:ops".into(),
        before,
        moved,
        undone_at: None,
        undone_by: None,
    };
    tx.insert_merge(&merge).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((merge.moved.responses.len(), merge.moved.stage_changes.len()), (1, 1));
    assert_eq!(store.merge(merge.id).await.unwrap(), Some(merge.clone()), "both records and what moved, as they were");
    assert_eq!(store.merge(Uuid::now_v7()).await.unwrap(), None);

    let candidate = |c: &Contact| Candidate {
        id: c.id,
        email: c.email.clone(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        account_id: c.account_id,
    };
    assert_eq!(
        store.duplicate_candidates().await.unwrap(),
        [candidate(&ann), candidate(&bob)],
        "the merged one hidden"
    );

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.merge_for_update(Uuid::now_v7()).await.unwrap(), None);
    let locked = tx.merge_for_update(merge.id).await.unwrap().unwrap();
    assert_eq!(locked, merge);
    tx.set_merged_into(other.id, None).await.unwrap();
    tx.move_back(&locked.moved, other.id).await.unwrap();
    tx.delete_contact_change(locked.moved.added_contact_change.unwrap()).await.unwrap();
    tx.mark_merge_undone(merge.id, T0.plus_micros(200), "user:boss").await.unwrap();
    tx.commit().await.unwrap();
    let undone = Merge { undone_at: Some(T0.plus_micros(200)), undone_by: Some("user:boss".into()), ..merge.clone() };
    assert_eq!(store.merge(merge.id).await.unwrap(), Some(undone), "reported undone, the rest as recorded");
    assert_eq!(
        store.duplicate_candidates().await.unwrap(),
        [candidate(&ann), candidate(&other), candidate(&bob)],
        "shown again"
    );
    assert_eq!(store.contact_changes(ann.id).await.unwrap(), [], "the merge's record of changes gone");
    assert_eq!(store.responses(other.id).await.unwrap().len(), 1, "what moved came back");
}

fn spec(half_life_days: f64, points: i64) -> ModelSpec {
    ModelSpec {
        half_life_days,
        fit: vec![RuleSpec { name: "director".into(), when: "contact.title == 'CTO'".into(), points, cap: None }],
        engagement: vec![RuleSpec {
            name: "pricing".into(),
            when: "events('pricing_view', 30) > 0".into(),
            points: 5,
            cap: Some(20),
        }],
        funnel: vec![],
        pain: vec![],
    }
}

async fn scoring_models_are_versioned_and_the_latest_is_read_when_no_version_is_asked(store: Arc<dyn Store>) {
    let model = |name: &str, version: i64, points: i64| ModelVersion {
        name: name.into(),
        version,
        spec: spec(14.5, points),
        source: format!("# version {version}\nhalf_life_days = 14.5\n"),
        author: "user:ops".into(),
        created_at: T0.plus_micros(version),
    };
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.next_model_version("default").await.unwrap(), 1, "the first");
    let first = model("default", 1, 10);
    tx.insert_scoring_model(&first).await.unwrap();
    assert_eq!(tx.next_model_version("default").await.unwrap(), 2, "one more after it");
    let second = model("default", 2, 20);
    tx.insert_scoring_model(&second).await.unwrap();
    assert_eq!(tx.next_model_version("default").await.unwrap(), 3);
    assert_eq!(tx.next_model_version("strict").await.unwrap(), 1, "each model counts its own");
    let strict = model("strict", 1, 30);
    tx.insert_scoring_model(&strict).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.scoring_model("default", None).await.unwrap(), Some(second.clone()), "the latest");
    assert_eq!(store.scoring_model("default", Some(1)).await.unwrap(), Some(first));
    assert_eq!(store.scoring_model("default", Some(3)).await.unwrap(), None);
    assert_eq!(store.scoring_model("nope", None).await.unwrap(), None);
    assert_eq!(store.scoring_models().await.unwrap(), [second.clone(), strict], "the latest of each, by name");

    let mut tx = store.begin().await.unwrap();
    let err = tx.insert_scoring_model(&model("default", 2, 99)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "a version taken is refused: {err}");
    tx.rollback().await.unwrap();
    assert_eq!(store.scoring_model("default", Some(2)).await.unwrap(), Some(second));
}

async fn definitions_are_versioned_and_listed_oldest_first_or_the_latest_of_each(store: Arc<dyn Store>) {
    let definition = |name: &str, version: i64, kind: DefinitionKind, note: Option<&str>| Definition {
        name: name.into(),
        version,
        kind,
        expression: format!("responses.size() > {version}"),
        note: note.map(str::to_owned),
        author: "user:ops".into(),
        created_at: T0.plus_micros(version),
    };
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.next_definition_version("mql").await.unwrap(), 1);
    let first = definition("mql", 1, DefinitionKind::Mql, Some("first try: «strict»"));
    tx.insert_definition(&first).await.unwrap();
    assert_eq!(tx.next_definition_version("mql").await.unwrap(), 2, "one more after it");
    let second = definition("mql", 2, DefinitionKind::Mql, None);
    tx.insert_definition(&second).await.unwrap();
    assert_eq!(tx.next_definition_version("mql").await.unwrap(), 3);
    assert_eq!(tx.next_definition_version("junk-bots").await.unwrap(), 1);
    let bots = definition("junk-bots", 1, DefinitionKind::Junk, None);
    tx.insert_definition(&bots).await.unwrap();
    let sales = definition("sql", 1, DefinitionKind::Sql, Some("sales"));
    tx.insert_definition(&sales).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.definition("mql", None).await.unwrap(), Some(second.clone()), "the latest");
    assert_eq!(store.definition("mql", Some(1)).await.unwrap(), Some(first.clone()));
    assert_eq!(store.definition("mql", Some(5)).await.unwrap(), None);
    assert_eq!(store.definition("nope", None).await.unwrap(), None);
    assert_eq!(store.definition_versions("mql").await.unwrap(), [first, second.clone()], "oldest first");
    assert_eq!(store.definition_versions("nope").await.unwrap(), []);
    assert_eq!(store.definitions().await.unwrap(), [bots, second.clone(), sales], "the latest of each, by name");

    let mut tx = store.begin().await.unwrap();
    let err = tx.insert_definition(&definition("mql", 2, DefinitionKind::Mql, None)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "a version taken is refused: {err}");
    tx.rollback().await.unwrap();
    assert_eq!(store.definition("mql", None).await.unwrap(), Some(second));
}

async fn an_activation_replaces_the_one_before_and_deactivating_twice_changes_nothing(store: Arc<dyn Store>) {
    let activation = |kind: &str, name: &str, version: i64, micros: i64| Activation {
        kind: kind.into(),
        name: name.into(),
        target: if name.is_empty() { "default".into() } else { name.into() },
        version,
        at: T0.plus_micros(micros),
        actor: format!("user:ops{micros}"),
    };
    assert_eq!(store.activations("scoring").await.unwrap(), []);
    let mut tx = store.begin().await.unwrap();
    tx.activate(&activation("scoring", "", 1, 0)).await.unwrap();
    tx.activate(&activation("definition", "mql", 2, 1)).await.unwrap();
    tx.activate(&activation("definition", "junk", 1, 2)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.activations("scoring").await.unwrap(), [activation("scoring", "", 1, 0)]);
    assert_eq!(
        store.activations("definition").await.unwrap(),
        [activation("definition", "junk", 1, 2), activation("definition", "mql", 2, 1)],
        "by name"
    );

    let mut tx = store.begin().await.unwrap();
    tx.activate(&activation("scoring", "", 3, 5)).await.unwrap();
    assert!(tx.deactivate("definition", "mql", T0.plus_micros(6), "user:ops").await.unwrap());
    assert!(!tx.deactivate("definition", "mql", T0.plus_micros(7), "user:ops").await.unwrap(), "already inactive");
    assert!(!tx.deactivate("definition", "nope", T0.plus_micros(7), "user:ops").await.unwrap(), "never active");
    assert!(!tx.deactivate("scoring", "junk", T0.plus_micros(7), "user:ops").await.unwrap(), "of another kind");
    tx.commit().await.unwrap();
    assert_eq!(store.activations("scoring").await.unwrap(), [activation("scoring", "", 3, 5)], "replaced");
    assert_eq!(store.activations("definition").await.unwrap(), [activation("definition", "junk", 1, 2)]);
    assert_eq!(store.activations("other").await.unwrap(), []);
}

async fn likelihood_models_take_the_next_version_and_the_latest_is_in_force(store: Arc<dyn Store>) {
    assert_eq!(store.latest_likelihood_version().await.unwrap(), None);
    assert_eq!(store.likelihood_model(None).await.unwrap(), None);
    let trained = |budget: f32, positives: u64| TrainedModel {
        // The store numbers them: what the caller says is not kept.
        version: 0,
        options: TrainOptions {
            target: Stage::Customer,
            horizon_days: 180,
            exclude: vec!["contact.channel".into(), "responses.*".into()],
            budget,
        },
        evaluation: Evaluation {
            roc_auc: 0.75,
            brier: 0.125,
            brier_base_rate: 0.1875,
            reliability: vec![leadgate_core::likelihood::calibration::ReliabilityBin {
                contacts: 107,
                mean_predicted: 0.4,
                observed_rate: 0.375,
            }],
            folds: 5,
            positives,
            negatives: 60,
            unknown: 7,
            features: 12,
            columns: 30,
            suspect_features: vec![],
            warnings: vec![],
        },
        author: "user:ops".into(),
        trained_at: T0.plus_micros(positives as i64),
    };
    let (first, second) = (trained(0.5, 40), trained(0.25, 41));
    for (model, predictor, version) in [(&first, "{\"trees\":[1]}", 1), (&second, "{\"trees\":[2]}", 2)] {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.insert_likelihood_model(model, predictor).await.unwrap(), version, "the next version");
        tx.commit().await.unwrap();
    }
    let numbered = |m: &TrainedModel, version: i64| TrainedModel { version, ..m.clone() };
    assert_eq!(store.latest_likelihood_version().await.unwrap(), Some(2));
    assert_eq!(
        store.likelihood_model(None).await.unwrap(),
        Some((numbered(&second, 2), "{\"trees\":[2]}".to_owned())),
        "the latest"
    );
    assert_eq!(
        store.likelihood_model(Some(1)).await.unwrap(),
        Some((numbered(&first, 1), "{\"trees\":[1]}".to_owned()))
    );
    assert_eq!(store.likelihood_model(Some(3)).await.unwrap(), None);
}

/// The position readers can read, once the transactions older than `written` have
/// ended (on PostgreSQL other tests' transactions run on the same server); never past
/// what was written.
async fn readable(store: &dyn Store, written: Position) -> Position {
    let started = std::time::Instant::now();
    loop {
        let position = store.last_change_position().await.unwrap();
        assert!(position <= written, "{position:?} is past the last entry written, {written:?}");
        if position == written || started.elapsed() > std::time::Duration::from_secs(20) {
            return position;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn the_feed_says_how_far_it_was_written_and_how_far_it_can_be_read(store: Arc<dyn Store>) {
    assert_eq!(store.last_change_written().await.unwrap(), Position::default(), "the start when none");
    assert_eq!(store.last_change_position().await.unwrap(), Position::default());
    // An account alone changes no contact: no entry.
    let mut tx = store.begin().await.unwrap();
    let acme = Account { id: Uuid::now_v7(), domain: "acme.example".into(), name: None, created_at: T0 };
    tx.insert_account(&acme).await.unwrap();
    assert_eq!(tx.commit().await.unwrap(), None);
    assert_eq!(store.last_change_written().await.unwrap(), Position::default());

    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&contact("ann@acme.example", T0)).await.unwrap();
    let first = tx.commit().await.unwrap().expect("an entry");
    assert_eq!(store.last_change_written().await.unwrap(), first, "the entry just committed");
    assert_eq!(readable(store.as_ref(), first).await, first);

    let mut tx = store.begin().await.unwrap();
    tx.insert_contact(&contact("bob@acme.example", T0)).await.unwrap();
    tx.insert_contact(&contact("cid@acme.example", T0)).await.unwrap();
    let second = tx.commit().await.unwrap().expect("entries");
    assert!(second > first);
    assert_eq!(store.last_change_written().await.unwrap(), second, "the last of the transaction's entries");
    assert_eq!(readable(store.as_ref(), second).await, second);
    let read = store.changes(first, 10, leadgate_core::changes::Kinds::all()).await.unwrap();
    assert_eq!(read.entries.len(), 2, "one entry per contact after the first");
    assert_eq!(read.next, second, "readers reach the last position");
}

/// The store names its database and answers a ping; a change a transaction notes (one
/// the store cannot tell from its writes) is in the feed entry it writes for the contact.
async fn the_store_names_its_database_and_keeps_a_change_noted_in_a_transaction(store: Arc<dyn Store>) {
    use leadgate_core::changes::{ChangeKind, Kinds};
    assert!(["sqlite", "postgres"].contains(&store.backend()), "{}", store.backend());
    store.ping().await.unwrap();
    let ann = contact("ann@acme.example", T0);
    insert(&store, &[&ann]).await;
    let before = store.last_change_written().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.note_change(ann.id, ChangeKind::QualificationChanged);
    let at = tx.commit().await.unwrap().expect("the noted change is an entry");
    assert_eq!(readable(store.as_ref(), at).await, at);
    let read = store.changes(before, 10, Kinds::all()).await.unwrap();
    assert_eq!(read.entries.len(), 1);
    let entry = &read.entries[0];
    assert_eq!((entry.contact_id, entry.position), (ann.id, at));
    assert_eq!(entry.kinds.iter().collect::<Vec<_>>(), [ChangeKind::QualificationChanged]);
}

async fn consents_come_in_the_order_they_were_given(store: Arc<dyn Store>) {
    let (ann, bob) = (contact("ann@acme.example", T0), contact("bob@acme.example", T0));
    insert(&store, &[&ann, &bob]).await;
    let record = |who: &Contact, purpose: &str, granted: bool, micros: i64, reason: Option<&str>| ConsentRecord {
        contact_id: who.id,
        purpose: purpose.into(),
        granted,
        source: format!("inquiry {micros}"),
        at: T0.plus_micros(micros),
        actor: "system".into(),
        reason: reason.map(str::to_owned),
    };
    let granted = record(&ann, "newsletter", true, 5, None);
    let events = record(&ann, "events", true, 0, None);
    // At the same moment as the grant, recorded after it: the withdrawal is in force.
    let withdrawn = record(&ann, "newsletter", false, 5, Some("asked by phone ☎"));
    let bobs = record(&bob, "newsletter", true, 1, None);
    let mut tx = store.begin().await.unwrap();
    tx.insert_consents(&[granted.clone(), events.clone()]).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_consents(&[withdrawn.clone(), bobs.clone()]).await.unwrap();
    tx.insert_consents(&[]).await.unwrap();
    tx.commit().await.unwrap();

    let anns = store.consents(&[ann.id]).await.unwrap();
    assert_eq!(anns, [events.clone(), granted.clone(), withdrawn.clone()], "by time, ties in the order recorded");
    let in_force = leadgate_core::consent::in_force(&anns);
    assert_eq!(in_force.get("newsletter").map(|r| r.granted), Some(false), "the withdrawal");
    assert_eq!(store.consents(&[ann.id, bob.id]).await.unwrap(), [events, bobs, granted, withdrawn]);
    assert_eq!(store.consents(&[Uuid::now_v7()]).await.unwrap(), []);
}

async fn a_legal_hold_and_an_erasure_are_kept_beside_the_contact(store: Arc<dyn Store>) {
    let (ann, bob) = (contact("ann@acme.example", T0), contact("bob@acme.example", T0));
    insert(&store, &[&ann, &bob]).await;
    let nothing = |id: Uuid| ContactPrivacy { contact_id: id, legal_hold: None, erased: None };
    assert_eq!(store.privacy(ann.id).await.unwrap(), nothing(ann.id), "nothing until something is set");
    let unknown = Uuid::now_v7();
    assert_eq!(store.privacy(unknown).await.unwrap(), nothing(unknown));

    let hold = Hold { at: T0.plus_micros(1), actor: "user:legal".into(), reason: "litigation «X v. Acme»".into() };
    let mut tx = store.begin().await.unwrap();
    let mut p = tx.privacy_for_update(ann.id).await.unwrap();
    assert_eq!(p, nothing(ann.id));
    p.legal_hold = Some(hold.clone());
    tx.save_privacy(&p).await.unwrap();
    tx.commit().await.unwrap();
    let held = ContactPrivacy { legal_hold: Some(hold), ..nothing(ann.id) };
    assert_eq!(store.privacy(ann.id).await.unwrap(), held);

    // The hold lifted, then the person erased: the row is written over.
    let erasure = Erasure { at: T0.plus_micros(9), actor: "user:dpo".into(), reason: "art. 17".into() };
    let mut tx = store.begin().await.unwrap();
    let mut p = tx.privacy_for_update(ann.id).await.unwrap();
    assert_eq!(p, held, "what was saved, read for update");
    p.legal_hold = None;
    p.erased = Some(erasure.clone());
    tx.save_privacy(&p).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.privacy(ann.id).await.unwrap(), ContactPrivacy { erased: Some(erasure), ..nothing(ann.id) });
    assert_eq!(store.privacy(bob.id).await.unwrap(), nothing(bob.id), "another's untouched");
}

async fn the_audit_log_pages_oldest_first_for_everyone_or_one_contact(store: Arc<dyn Store>) {
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let actor = leadgate_core::Actor::User("dpo".into());
    let entries = [
        AuditEntry::new(T0.plus_micros(5), &actor, "contact.legal_hold_set", ann, "litigation"),
        AuditEntry { contact_id: None, ..AuditEntry::new(T0, &actor, "export.read", ann, "a CSV of everyone") },
        AuditEntry::new(T0.plus_micros(1), &actor, "contact.personal_data_read", bob, "subject access"),
        AuditEntry::new(T0.plus_micros(9), &actor, "contact.erased", ann, "3 events, 1 response"),
    ];
    let mut tx = store.begin().await.unwrap();
    for e in &entries[..2] {
        tx.insert_audit(e).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    for e in &entries[2..] {
        tx.insert_audit(e).await.unwrap();
    }
    tx.commit().await.unwrap();

    let all = store.audit_log(&AuditFilter::default(), 0, 100).await.unwrap();
    assert!(all.iter().map(|(id, _)| *id).is_sorted_by(|a, b| a < b));
    assert_eq!(all.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(), entries, "in the order written");
    let anns = store.audit_log(&AuditFilter::contact(ann), 0, 100).await.unwrap();
    assert_eq!(anns, [all[0].clone(), all[3].clone()], "about Ann alone");
    assert_eq!(store.audit_log(&AuditFilter::default(), 0, 2).await.unwrap(), all[..2]);
    assert_eq!(store.audit_log(&AuditFilter::default(), all[1].0, 2).await.unwrap(), all[2..], "after the entry given");
    assert_eq!(store.audit_log(&AuditFilter::default(), all[3].0, 2).await.unwrap(), []);
    assert_eq!(store.audit_log(&AuditFilter::contact(ann), all[0].0, 10).await.unwrap(), [all[3].clone()]);
    assert_eq!(store.audit_log(&AuditFilter::contact(Uuid::now_v7()), 0, 10).await.unwrap(), []);
    // By actor, and by time.
    let other =
        AuditEntry::new(T0.plus_micros(3), &leadgate_core::Actor::System, "contact.routed", bob, "rule inbound");
    let mut tx = store.begin().await.unwrap();
    tx.insert_audit(&other).await.unwrap();
    tx.commit().await.unwrap();
    let by_system =
        store.audit_log(&AuditFilter { actor: Some("system".into()), ..Default::default() }, 0, 10).await.unwrap();
    assert_eq!(by_system.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), [other]);
    let period = AuditFilter { from: Some(T0.plus_micros(1)), to: Some(T0.plus_micros(5)), ..Default::default() };
    let within = store.audit_log(&period, 0, 10).await.unwrap();
    assert_eq!(
        within.iter().map(|(_, e)| e.action.as_str()).collect::<Vec<_>>(),
        ["contact.personal_data_read", "contact.routed"]
    );
}

async fn contacts_merged_into_another_are_found_from_it(store: Arc<dyn Store>) {
    let ann = contact("ann@acme.example", T0);
    let (old, older) = (contact("ann.old@acme.example", T0), contact("a.lee@acme.example", T0));
    let bob = contact("bob@acme.example", T0);
    insert(&store, &[&ann, &old, &older, &bob]).await;
    // Merged in the order other than their ids'.
    merge_into(&store, older.id, Some(ann.id)).await;
    merge_into(&store, old.id, Some(ann.id)).await;
    let mut ids = vec![old.id, older.id];
    ids.sort();
    assert_eq!(store.merged_into(ann.id).await.unwrap(), ids, "in id order");
    assert!(store.merged_into(bob.id).await.unwrap().is_empty());
    assert!(store.merged_into(old.id).await.unwrap().is_empty(), "not what it was merged into");

    let mut tx = store.begin().await.unwrap();
    let locked = tx.merged_into_for_update(ann.id).await.unwrap();
    let mut expected = vec![
        Contact { merged_into: Some(ann.id), ..old.clone() },
        Contact { merged_into: Some(ann.id), ..older.clone() },
    ];
    expected.sort_by_key(|c| c.id);
    assert_eq!(locked, expected, "whole, pointing at Ann");
    assert_eq!(tx.merged_into_for_update(bob.id).await.unwrap(), []);
    tx.rollback().await.unwrap();

    merge_into(&store, old.id, None).await;
    assert_eq!(store.merged_into(ann.id).await.unwrap(), [older.id], "shown again, no longer Ann's");
}

/// An inbox item received at `micros`, in `status`, with `body`, for `contact` when it
/// became one.
fn item(micros: i64, status: InboxStatus, body: &str, contact: Option<Uuid>) -> InboxItem {
    let settled = status != InboxStatus::Pending;
    InboxItem {
        status,
        contact_id: contact,
        processed_at: settled.then_some(T0.plus_micros(micros + 1)),
        attempts: i64::from(settled),
        remote_ip: Some("203.0.113.9".into()),
        user_agent: Some("Mozilla/5.0".into()),
        query: Some("utm_source=news".into()),
        ..InboxItem::received(Uuid::now_v7(), T0.plus_micros(micros), body.as_bytes().to_vec())
    }
}

async fn what_is_held_of_a_person_is_gathered_from_every_table(store: Arc<dyn Store>) {
    let (ann, old, bob) =
        (contact("ann@acme.example", T0), contact("ann.old@acme.example", T0), contact("bob@acme.example", T0));
    // Her inquiry that became her response; one refused and one waiting that name her
    // (a form's encoding, other letter cases); one processed into Bob's that names
    // her, which is his; and Bob's own refused one.
    let linked = item(0, InboxStatus::Processed, "{\"email\":\"ann@acme.example\"}", Some(ann.id));
    let refused = item(1, InboxStatus::Rejected, "email=ANN%40acme.example&name=Ann", None);
    let waiting = item(2, InboxStatus::Pending, "{\"Email\": \"Ann@Acme.example\"}", None);
    let bobs_naming_her =
        item(3, InboxStatus::Processed, "{\"email\":\"bob@acme.example\",\"ref\":\"ann@acme.example\"}", Some(bob.id));
    let bobs_refused = item(4, InboxStatus::Failed, "{\"email\":\"bob@acme.example\"}", None);
    let mut her_response = response(ann.id, T0.plus_micros(1), "demo_request");
    her_response.inbox_id = Some(linked.id);
    let mut bob_response = response(bob.id, T0.plus_micros(4), "demo_request");
    bob_response.inbox_id = Some(bobs_naming_her.id);
    store.append_events(&[event("page_view", None, Some("v-ann"), None, T0.plus_micros(1))], T0).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    for c in [&ann, &old, &bob] {
        tx.insert_contact(c).await.unwrap();
    }
    for i in [&linked, &refused, &waiting, &bobs_naming_her, &bobs_refused] {
        tx.insert_inbox(i).await.unwrap();
    }
    tx.insert_response(&her_response).await.unwrap();
    tx.insert_response(&bob_response).await.unwrap();
    assert_eq!(tx.identify_visitor("v-ann", ann.id, T0).await.unwrap(), 1);
    tx.append_events(&[event("download", None, None, Some(ann.id), T0.plus_micros(2))], T0).await.unwrap();
    tx.append_events(&[event("page_view", None, None, Some(bob.id), T0.plus_micros(3))], T0).await.unwrap();
    let (merge, crm) = merge_and_link_to_crm(&store, tx, &ann, &old).await;

    let held = store.personal_records(&[ann.id, old.id], &["ann@acme.example", "ann.old@acme.example"]).await.unwrap();
    let events: Vec<_> = held.events.iter().map(|e| (e.contact_id, e.kind.as_str(), e.at)).collect();
    assert_eq!(
        events,
        [(Some(ann.id), "page_view", T0.plus_micros(1)), (Some(ann.id), "download", T0.plus_micros(2))],
        "oldest first"
    );
    let items: Vec<Uuid> = held.inbox.iter().map(|i| i.id).collect();
    assert_eq!(items, [linked.id, refused.id, waiting.id], "hers, and those naming her that became no contact");
    assert_eq!(held.inbox[1].body, refused.body, "whole, as received");
    assert_eq!(held.external_ids, [crm]);
    assert_eq!(held.visitor_ids, ["v-ann"]);
    assert_eq!(held.merges, std::slice::from_ref(&merge));

    let his = store.personal_records(&[bob.id], &["bob@acme.example"]).await.unwrap();
    let items: Vec<Uuid> = his.inbox.iter().map(|i| i.id).collect();
    assert_eq!(items, [bobs_naming_her.id, bobs_refused.id]);
    assert_eq!(his.events.len(), 1);
    assert!(his.external_ids.is_empty() && his.visitor_ids.is_empty() && his.merges.is_empty(), "{his:?}");
    // The merged record alone is in the merge too.
    assert_eq!(store.personal_records(&[old.id], &[]).await.unwrap().merges, [merge]);
}

async fn a_sweep_removes_what_is_kept_for_a_while_from_settled_items_once(store: Arc<dyn Store>) {
    // Settled (processed at one microsecond after they arrived): at 11, 21, 16;
    // waiting; settled after the bound.
    let processed = item(10, InboxStatus::Processed, "{\"a\":1}", None);
    let refused = item(20, InboxStatus::Rejected, "{\"b\":2}", None);
    let failed = item(15, InboxStatus::Failed, "{\"c\":3}", None);
    let pending = item(5, InboxStatus::Pending, "{\"d\":4}", None);
    let late = item(100, InboxStatus::Processed, "{\"e\":5}", None);
    let mut tx = store.begin().await.unwrap();
    for i in [&processed, &refused, &failed, &pending, &late] {
        tx.insert_inbox(i).await.unwrap();
    }
    tx.commit().await.unwrap();
    let read = async |i: &InboxItem| store.inbox_item(i.id).await.unwrap().unwrap();
    let (bound, now) = (T0.plus_micros(50), T0.plus_micros(1_000));

    assert_eq!(store.sweep_inbox(Retained::Bodies, bound, now).await.unwrap(), 2);
    for i in [&processed, &refused] {
        let swept = read(i).await;
        assert_eq!((swept.body.len(), swept.body_bytes, swept.body_removed_at), (0, 0, Some(now)));
        assert_eq!(
            InboxItem { body: i.body.clone(), body_bytes: i.body_bytes, body_removed_at: None, ..swept },
            *i,
            "the rest kept"
        );
    }
    for i in [&failed, &pending, &late] {
        assert_eq!(read(i).await, *i, "not made into responses yet, or settled after the bound");
    }
    assert_eq!(store.sweep_inbox(Retained::Bodies, bound, now).await.unwrap(), 0, "swept once");

    assert_eq!(store.sweep_inbox(Retained::Addresses, bound, now).await.unwrap(), 2);
    assert_eq!(store.sweep_inbox(Retained::Browsers, T0.plus_micros(200), now).await.unwrap(), 3);
    let swept = read(&processed).await;
    assert_eq!((swept.remote_ip, swept.user_agent), (None, None));
    let swept = read(&late).await;
    assert_eq!((swept.remote_ip.as_deref(), swept.user_agent), (Some("203.0.113.9"), None), "only the browser by then");
    assert_eq!(read(&failed).await, failed);

    // Further on, only what was settled since the last sweep of it.
    let then = T0.plus_micros(2_000);
    assert_eq!(store.sweep_inbox(Retained::Bodies, T0.plus_micros(200), then).await.unwrap(), 1);
    assert_eq!(read(&late).await.body_removed_at, Some(then));
    assert_eq!(read(&processed).await.body_removed_at, Some(now), "not swept again");

    // More than one transaction's worth, many at one instant.
    let many: Vec<InboxItem> =
        (0..2_100).map(|i| item(300 + i % 3, InboxStatus::Processed, "{\"f\":6}", None)).collect();
    let mut tx = store.begin().await.unwrap();
    for i in &many {
        tx.insert_inbox(i).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(store.sweep_inbox(Retained::Bodies, T0.plus_micros(400), then).await.unwrap(), 2_100);
    assert_eq!(read(&many[2_099]).await.body_bytes, 0);
}

async fn erasure_removes_what_says_who_a_person_is_and_keeps_the_anonymous_facts(store: Arc<dyn Store>) {
    let acme = Account { id: Uuid::now_v7(), domain: "acme.example".into(), name: Some("Acme".into()), created_at: T0 };
    let mut ann = contact("ann@acme.example", T0);
    (ann.last_name, ann.company, ann.title) = (Some("Lee".into()), Some("Acme".into()), Some("CTO".into()));
    (ann.phone, ann.country, ann.account_id) = (Some("+49 30 1234".into()), Some("DE".into()), Some(acme.id));
    (ann.owner, ann.stage) = (Some("sam".into()), Stage::Mql);
    ann.custom.insert("team_size".into(), json!(40));
    let old = contact("ann.old@acme.example", T0.plus_micros(-5));
    let bob = contact("bob@acme.example", T0);
    // Sent for her email before she was known, and never attached.
    let mut sent_early = event("email_open", Some("ann@acme.example"), None, None, T0.plus_micros(-1));
    sent_early.url = Some("https://acme.example/mail?to=ann@acme.example".into());
    store.append_events(&[sent_early], T0).await.unwrap();
    let linked = item(0, InboxStatus::Processed, "{\"email\":\"ann@acme.example\"}", Some(ann.id));
    let refused = InboxItem {
        error: Some("ann@acme.example is on the deny list".into()),
        ..item(1, InboxStatus::Rejected, "email=ann%40acme.example", None)
    };
    let bobs_item = item(2, InboxStatus::Processed, "{\"email\":\"bob@acme.example\"}", Some(bob.id));
    let mut said = response(ann.id, T0.plus_micros(1), "demo_request");
    (said.message, said.referrer, said.campaign) =
        (Some("call me, Ann".into()), Some("https://news.example/?u=ann".into()), Some("spring".into()));
    said.fields = object(json!({"plan": "pro"}));
    said.contact_fields = object(json!({"first_name": "Ann"}));
    said.inbox_id = Some(linked.id);
    let mut junk = response(ann.id, T0.plus_micros(2), "contact_us");
    junk.junk = Some("bot: link in name \"Ann\"".into());
    let mut bobs = response(bob.id, T0.plus_micros(3), "demo_request");
    bobs.message = Some("call Bob".into());
    bobs.inbox_id = Some(bobs_item.id);
    let arrival = step(ann.id, None, Stage::Prospect, 1, CauseKind::Inquiry, "response r1");
    let judged = step(ann.id, Some(Stage::Prospect), Stage::Disqualified, 2, CauseKind::Junk, "bot: \"Ann Lee\"");
    let change = |fields: Value| ContactChange {
        contact_id: ann.id,
        at: T0.plus_micros(3),
        cause: "import 1".into(),
        actor: "api_key:ops".into(),
        changes: object(fields),
    };
    let mixed = change(json!({"first_name": {"from": null, "to": "Ann"}, "owner": {"from": null, "to": "sam"}}));
    let personal = change(json!({"title": {"from": null, "to": "CTO"}}));
    let anonymous = change(json!({"do_not_email": {"from": false, "to": true}}));
    let quoting = ImportJob {
        id: Uuid::now_v7(),
        status: ImportStatus::Finished,
        dry_run: false,
        file_name: Some("crm.csv".into()),
        mapping: "preset hubspot".into(),
        actor: "api_key:ops".into(),
        created_at: T0,
        updated_at: T0,
        finished_at: Some(T0),
        counts: ImportCounts::default(),
        errors: vec![
            RowError { row: 2, column: None, code: "duplicate".into(), message: "ANN@acme.example twice".into() },
            RowError { row: 3, column: None, code: "duplicate".into(), message: "bob@acme.example twice".into() },
        ],
        error_count: 2,
        failure: None,
    };
    store.save_import(&quoting).await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.insert_account(&acme).await.unwrap();
    for c in [&ann, &old, &bob] {
        tx.insert_contact(c).await.unwrap();
    }
    for i in [&linked, &refused, &bobs_item] {
        tx.insert_inbox(i).await.unwrap();
    }
    for r in [&said, &junk, &bobs] {
        tx.insert_response(r).await.unwrap();
    }
    tx.insert_stage_change(&arrival).await.unwrap();
    tx.insert_stage_change(&judged).await.unwrap();
    for c in [&mixed, &personal, &anonymous] {
        tx.insert_contact_change(c).await.unwrap();
    }
    tx.set_qualification(ann.id, &Qualification { budget: Some("50k".into()), ..Default::default() }).await.unwrap();
    store_events(&mut *tx, ann.id, bob.id).await;
    let (merge, _) = merge_and_link_to_crm(&store, tx, &ann, &old).await;
    let totals = store.totals().await.unwrap();

    // The person: Ann and the record merged into her, as they are now.
    let at = T0.plus_micros(500);
    let mut tx = store.begin().await.unwrap();
    let mut person = vec![tx.contact_by_id(ann.id).await.unwrap().unwrap()];
    person.extend(tx.merged_into_for_update(ann.id).await.unwrap());
    assert_eq!(person.len(), 2);
    let erased = tx.erase_personal_data(&person, at).await.unwrap();
    tx.commit().await.unwrap();
    let counted = Erased {
        contacts: 2,
        responses: 2,
        events: 3,
        inbox_items: 2,
        field_changes: 2,
        external_ids: 1,
        visitor_ids: 1,
        merges: 1,
    };
    assert_eq!(erased, counted, "her two events and the one sent for her email; the merge once");

    for before in &person {
        let mut expected = before.clone();
        erasure::erase_contact(&mut expected, at);
        assert_eq!(store.contact(before.id).await.unwrap(), Some(expected), "no one left to reach");
    }
    let read = store.contact(ann.id).await.unwrap().unwrap();
    assert_eq!(
        (read.stage, read.channel.as_deref(), read.account_id),
        (Stage::Mql, Some("organic_search"), Some(acme.id))
    );
    assert_eq!(store.qualifications(&[ann.id]).await.unwrap(), [(ann.id, Qualification::default())]);

    let responses = store.responses(ann.id).await.unwrap();
    let kept_of_junk = Response { junk: Some("bot".into()), ..junk.clone() };
    let kept_of_said =
        Response { message: None, referrer: None, fields: Map::new(), contact_fields: Map::new(), ..said.clone() };
    assert_eq!(responses, [kept_of_junk, kept_of_said], "the facts kept, what she said gone");
    let history: Vec<String> = store.stage_history(ann.id).await.unwrap().into_iter().map(|s| s.detail).collect();
    assert_eq!(history, ["response r1", "bot"], "the verdict without its evidence");
    let changes: Vec<Map<String, Value>> =
        store.contact_changes(ann.id).await.unwrap().into_iter().map(|c| c.changes).collect();
    assert_eq!(
        changes,
        [object(json!({"owner": {"from": null, "to": "sam"}})), anonymous.changes.clone()],
        "only what is not personal"
    );

    let events = store.recent_events(ann.id, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!((e.email.as_deref(), e.visitor_id.as_deref(), &e.props), (None, None, &json!({})), "{e:?}");
        assert!(e.url.as_deref().is_none_or(|u| !u.contains(['?', '#'])), "{e:?}");
    }
    assert!(events.iter().any(|e| e.url.as_deref() == Some("https://acme.example/pricing")), "the page kept");
    let ids = [ann.id];
    let packed = store.events_of(Contacts::Ids(&ids), Timestamp(0), None, false).await.unwrap();
    let pages: Vec<Option<String>> = packed.get(&ann.id).iter().map(|e| e.url.as_deref().map(str::to_owned)).collect();
    assert_eq!(pages.len(), 2);
    assert!(pages.iter().flatten().all(|u| !u.contains('?')), "what is read in bulk too: {pages:?}");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.attach_events_by_email("ann@acme.example", bob.id).await.unwrap(), 0, "none names her any more");
    tx.rollback().await.unwrap();
    assert_eq!(store.totals().await.unwrap(), totals, "every fact still counted");

    let held = store.personal_records(&[ann.id, old.id], &["ann@acme.example"]).await.unwrap();
    assert!(held.external_ids.is_empty() && held.visitor_ids.is_empty(), "{held:?}");
    // Her own inquiry, emptied; the refused one no longer names her.
    assert_eq!(held.inbox.iter().map(|i| (i.id, i.body.len())).collect::<Vec<_>>(), [(linked.id, 0)]);
    for i in [&linked, &refused] {
        let kept = store.inbox_item(i.id).await.unwrap().unwrap();
        assert_eq!((kept.body.len(), kept.body_removed_at), (0, Some(at)));
        assert_eq!((kept.query, kept.remote_ip, kept.user_agent), (None, None, None));
        assert_eq!(kept.status, i.status);
    }
    assert_eq!(store.inbox_item(refused.id).await.unwrap().unwrap().error.as_deref(), Some("erased"));
    let merged = store.merge(merge.id).await.unwrap().unwrap();
    let (mut before_ann, mut before_old) = (ann.clone(), old.clone());
    erasure::erase_contact(&mut before_ann, at);
    erasure::erase_contact(&mut before_old, at);
    assert_eq!(merged.before, Before { contact: before_ann, other: before_old }, "both records were hers");
    let job = store.import_job(quoting.id).await.unwrap().unwrap();
    let messages: Vec<&str> = job.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["(erased)", "bob@acme.example twice"]);

    // Bob is someone else.
    assert_eq!(store.contact(bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.responses(bob.id).await.unwrap(), [bobs]);
    assert_eq!(store.inbox_item(bobs_item.id).await.unwrap().unwrap(), bobs_item);
    let his = store.recent_events(bob.id, 10).await.unwrap();
    assert_eq!(his.iter().map(|e| e.props.clone()).collect::<Vec<_>>(), [json!({"n": 1})]);
}

/// Ann's events: one of her visitor id, one at a page with her email in its query;
/// and one of Bob's.
async fn store_events(tx: &mut dyn leadgate_store::Tx, ann: Uuid, bob: Uuid) {
    let mut tagged = event("page_view", None, None, Some(ann), T0.plus_micros(4));
    tagged.url = Some("https://acme.example/thanks?email=ann@acme.example#form".into());
    tx.append_events(&[event("pricing_view", None, Some("v-ann"), None, T0.plus_micros(3)), tagged], T0).await.unwrap();
    assert_eq!(tx.identify_visitor("v-ann", ann, T0).await.unwrap(), 1);
    tx.append_events(&[event("page_view", None, None, Some(bob), T0.plus_micros(5))], T0).await.unwrap();
}

/// The names of the methods the ports' traits declare, in `source` (one port's file).
fn trait_methods(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (mut in_trait, mut depth) = (false, 0i32);
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let trimmed = code.trim_start();
        if !in_trait && (trimmed.starts_with("pub trait ") || trimmed.starts_with("trait ")) {
            (in_trait, depth) = (true, 0);
        }
        if !in_trait {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("fn ") {
            let starts_word = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
            let name: String = rest[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if starts_word && !name.is_empty() {
                names.push(name);
            }
            rest = &rest[at + 3..];
        }
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        if depth <= 0 && code.contains('}') {
            in_trait = false;
        }
    }
    names
}

#[test]
fn every_port_method_is_called_by_the_store_suite() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rust_files = |folder: &str| {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        files
    };
    let mut declared = std::collections::BTreeSet::new();
    // The ports, and what `Store` and `Tx` add to them in lib.rs.
    for file in rust_files("src/ports").into_iter().chain([root.join("src/lib.rs")]) {
        declared.extend(trait_methods(&std::fs::read_to_string(&file).unwrap()));
    }
    // A check that found nothing would pass whatever the suite did.
    for known in ["contact", "append_events", "take_lease", "erase_personal_data", "advance_consumer", "note_change"] {
        assert!(declared.contains(known), "{known} not found among the ports' methods: {declared:?}");
    }
    // Calls only: a line that is a comment calls nothing.
    let suite: String = rust_files("tests")
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<&String> = declared
        .iter()
        .filter(|name| !suite.contains(&format!(".{name}(")) && !suite.contains(&format!("::{name}(")))
        .collect();
    assert!(missing.is_empty(), "port methods that no test of crates/leadgate-store/tests calls: {missing:?}");
}

async fn spend_overlapping_a_period_is_listed_in_recorded_order_and_the_currency_is_claimed_once(
    store: Arc<dyn Store>,
) {
    use leadgate_core::spend::SpendDraft;
    const DAY: i64 = 86_400 * SECOND;
    assert_eq!(store.setting("currency").await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.any_spend().await.unwrap());
    assert_eq!(tx.claim_setting("currency", "USD", T0, "api_key:ops").await.unwrap(), "USD", "the default, claimed");
    let entry = |days: (i64, i64), channel: Option<&str>, currency: Option<&str>| {
        let draft = SpendDraft {
            amount: Some(3_100),
            currency: currency.map(str::to_owned),
            rate: currency.map(|_| 0.5),
            from: Some(T0.plus_micros(days.0 * DAY)),
            to: Some(T0.plus_micros(days.1 * DAY)),
            channel: channel.map(str::to_owned),
            vendor: Some("ListCo".into()),
            note: Some("March".into()),
            ..SpendDraft::default()
        };
        draft.read("USD", Uuid::now_v7(), T0, "api_key:ops").unwrap()
    };
    let entries = [
        entry((0, 31), Some("paid_search"), None),
        entry((31, 59), None, Some("EUR")),
        entry((59, 90), Some("purchased_list"), None),
    ];
    tx.insert_spend(&entries).await.unwrap();
    assert!(tx.any_spend().await.unwrap());
    tx.commit().await.unwrap();

    let all = store.spend_entries(None, None, None, 10).await.unwrap();
    assert_eq!(all, entries, "every field read back as written, in the order recorded");
    assert_eq!(all[1].amount, 1_550, "converted at the rate given");
    let march =
        store.spend_entries(Some(T0.plus_micros(20 * DAY)), Some(T0.plus_micros(31 * DAY)), None, 10).await.unwrap();
    assert_eq!(
        march.iter().map(|e| e.id).collect::<Vec<_>>(),
        [entries[0].id],
        "an entry ending at `from` does not overlap"
    );
    let page = store.spend_entries(None, None, Some(entries[0].id), 1).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [entries[1].id]);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_spend(entries[1].id).await.unwrap());
    assert!(!tx.delete_spend(entries[1].id).await.unwrap(), "gone already");
    tx.set_setting("currency", "EUR", T0.plus_micros(1), "api_key:ops").await.unwrap();
    assert_eq!(
        tx.claim_setting("currency", "USD", T0, "api_key:ops").await.unwrap(),
        "EUR",
        "claiming keeps what is set"
    );
    tx.commit().await.unwrap();
    assert_eq!(store.setting("currency").await.unwrap().as_deref(), Some("EUR"));
    assert_eq!(store.spend_entries(None, None, None, 10).await.unwrap().len(), 2);
}
