//! Duplicates, merging and undoing a merge, and exports that import back as they were,
//! on SQLite and PostgreSQL.

mod support;

use support::{app, example, import_csv, shared_data};

use leadgate_app::export::{Cells, ExportFormat, ExportKind};
use leadgate_app::import::ImportOptions;
use leadgate_app::{App, AppOptions, DuplicateQuery, ErrorKind, SystemClock};
use leadgate_core::Actor;
use leadgate_core::dedupe::DuplicateReason;
use leadgate_core::import::{Mapping, presets};
use leadgate_core::model::{Contact, ContactFilter};
use leadgate_store::Store;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

leadgate_store::on_both_stores!(
    likely_duplicates_are_listed_with_their_reason,
    a_merge_joins_all_history_and_undo_puts_both_back_exactly,
    merges_that_cannot_be_are_refused,
    a_contact_merged_before_it_was_ever_scored_is_still_shown,
    an_export_imports_back_into_an_empty_database_as_it_was,
);

const PEOPLE: &str = "system = \"crm\"\n[contact]\nexternal_id = { column = \"id\", optional = true }\n\
    email = \"email\"\nfirst_name = \"first\"\nlast_name = \"last\"\ndo_not_email = \"optout\"\n\
    [contact.custom]\nsize = \"size\"\n\
    [response]\nat = \"created\"\nchannel = \"channel\"\naction = { value = \"form_fill\" }\n\
    [[stage]]\nstage = \"stage\"\nat = \"staged\"\n\
    [[event]]\nkind = { value = \"page_view\" }\nat = \"visited\"\nurl = \"page\"\n";

const HEADER: &str = "id,email,first,last,optout,size,created,channel,stage,staged,visited,page\n";

async fn import(app: &App, rows: &str) -> leadgate_core::model::ImportJob {
    let csv = format!("{HEADER}{rows}");
    let mapping = Mapping::from_toml(PEOPLE).unwrap();
    let job = import_csv(app, csv, &mapping).await.unwrap();
    assert_eq!(job.counts.rows_failed, 0, "{:?}", job.errors);
    job
}

async fn by_email(store: &Arc<dyn Store>, email: &str) -> Contact {
    let filter = ContactFilter { email: Some(email.into()), ..Default::default() };
    store.contacts(&filter, None, 2).await.unwrap().into_iter().next().expect("the contact exists")
}

async fn likely_duplicates_are_listed_with_their_reason(store: Arc<dyn Store>) {
    let app = app(&store);
    import(
        &app,
        "1,john.smith@initech.example,John,Smith,,,2024-01-01,,,,,\n\
         2,jsmith@initech.example,,,,,2024-01-02,,,,,\n\
         3,jane.smith@initech.example,Jane,Smith,,,2024-01-03,,,,,\n\
         4,mary.major+news@gmail.com,Mary,Major,,,2024-01-04,,,,,\n\
         5,marymajor@gmail.com,,,,,2024-01-05,,,,,\n\
         6,anna@acme.example,Anna,Berg,,,2024-01-06,,,,,\n\
         7,a.berg@acme.example,ANNA,berg,,,2024-01-07,,,,,\n",
    )
    .await;
    let found = app.duplicates(&DuplicateQuery::default()).await.unwrap();
    let pairs: Vec<(String, String, Vec<DuplicateReason>)> = found
        .pairs
        .iter()
        .map(|p| {
            let mut emails = [p.contact.email.clone().unwrap(), p.other.email.clone().unwrap()];
            emails.sort();
            let [a, b] = emails;
            (a, b, p.reasons.clone())
        })
        .collect();
    use DuplicateReason::*;
    assert!(pairs.contains(&("mary.major+news@gmail.com".into(), "marymajor@gmail.com".into(), vec![SameMailbox])));
    assert!(pairs.contains(&("a.berg@acme.example".into(), "anna@acme.example".into(), vec![SameNameAtAccount])));
    assert!(pairs.contains(&(
        "john.smith@initech.example".into(),
        "jsmith@initech.example".into(),
        vec![SimilarEmail]
    )));
    // Jane and John Smith are two people; jsmith could be either.
    assert!(pairs.contains(&(
        "jane.smith@initech.example".into(),
        "jsmith@initech.example".into(),
        vec![SimilarEmail]
    )));
    assert!(!pairs.iter().any(|(a, b, _)| a.starts_with("jane") && b.starts_with("john")), "{pairs:?}");
    assert_eq!(found.total, 4, "{pairs:?}");

    let only = app.duplicates(&DuplicateQuery { reason: Some("same_mailbox".into()), limit: Some(10) }).await.unwrap();
    assert_eq!((only.total, only.pairs.len()), (1, 1));
    let first = app.duplicates(&DuplicateQuery { reason: None, limit: Some(1) }).await.unwrap();
    assert_eq!((first.total, first.pairs.len()), (4, 1));

    for (reason, limit, field) in
        [(Some("similar"), None, "reason"), (None, Some(0), "limit"), (None, Some(10_001), "limit")]
    {
        let err = app.duplicates(&DuplicateQuery { reason: reason.map(Into::into), limit }).await.unwrap_err();
        assert_eq!((err.kind(), err.field.as_deref()), (ErrorKind::Invalid, Some(field)), "{}", err.message);
    }

    // A merged pair is no longer listed.
    let (a, b) = (by_email(&store, "marymajor@gmail.com").await, by_email(&store, "mary.major+news@gmail.com").await);
    app.merge_contacts(a.id, b.id, &Actor::Operator).await.unwrap();
    let after = app.duplicates(&DuplicateQuery::default()).await.unwrap();
    assert_eq!(after.total, 3);
}

/// Everything recorded of a contact, to compare before and after.
async fn everything(store: &Arc<dyn Store>, id: Uuid) -> serde_json::Value {
    let mut responses = store.responses(id).await.unwrap();
    responses.sort_by_key(|r| r.id);
    json!({
        "contact": store.contact(id).await.unwrap(),
        "responses": responses,
        "stages": store.stage_history(id).await.unwrap(),
        "events": store.recent_events(id, 1_000).await.unwrap(),
        "changes": store.contact_changes(id).await.unwrap(),
    })
}

async fn a_merge_joins_all_history_and_undo_puts_both_back_exactly(store: Arc<dyn Store>) {
    let app = app(&store);
    import(
        &app,
        "c-1,ann.lee@acme.example,Ann,,,10,2024-01-05,organic_search,mql,2024-02-01,2024-01-04,/pricing\n\
         c-2,alee@acme.example,Annie,Lee,yes,,2023-11-20,paid_search,customer,2024-03-15,2023-11-19,/demo\n",
    )
    .await;
    let ann = by_email(&store, "ann.lee@acme.example").await;
    let other = by_email(&store, "alee@acme.example").await;
    let ids = [ann.id, other.id];
    let before: Vec<_> = snapshots_of(&store, &ids).await;
    let totals = store.totals().await.unwrap();

    let (merge, merged) = app.merge_contacts(ann.id, other.id, &Actor::User("rita".into())).await.unwrap();
    assert_eq!((merge.contact_id, merge.other_id), (ann.id, other.id));
    assert_eq!(merged.id, ann.id);
    // Gaps filled from the other; the survivor's own values kept; the older record's
    // arrival; the most restrictive consent; the stage further along.
    assert_eq!(merged.first_name.as_deref(), Some("Ann"));
    assert_eq!(merged.last_name.as_deref(), Some("Lee"));
    assert!(merged.do_not_email, "the other asked not to be emailed");
    assert_eq!(merged.stage.as_str(), "customer");
    assert_eq!(merged.channel.as_deref(), Some("paid_search"));
    assert_eq!(merged.created_at, other.created_at);
    assert_eq!(merged.custom["size"], json!("10"));

    // All history is the survivor's; the other is hidden and leads to the survivor.
    assert_eq!(store.responses(ann.id).await.unwrap().len(), 2);
    assert_eq!(store.recent_events(ann.id, 10).await.unwrap().len(), 2);
    let stages: Vec<_> = store.stage_history(ann.id).await.unwrap().iter().map(|s| s.to.as_str()).collect();
    assert!(stages.contains(&"customer") && stages.contains(&"mql"), "{stages:?}");
    assert!(store.responses(other.id).await.unwrap().is_empty());
    assert_eq!(store.totals().await.unwrap().contacts, totals.contacts - 1);
    assert_eq!(store.live_contact_count().await.unwrap(), totals.contacts - 1, "what a rescore walks");
    assert_eq!(by_email(&store, "alee@acme.example").await.id, ann.id);
    let by_x = ContactFilter { external_id: Some("c-2".into()), ..Default::default() };
    assert_eq!(store.contacts(&by_x, None, 2).await.unwrap()[0].id, ann.id);
    assert_eq!(store.contact(other.id).await.unwrap().unwrap().merged_into, Some(ann.id));
    let change = store.contact_changes(ann.id).await.unwrap();
    let recorded = change.iter().find(|c| c.cause == format!("merge {}", merge.id)).expect("the merge is recorded");
    assert_eq!(recorded.actor, "user:rita");
    assert_eq!(recorded.changes["last_name"], json!({"from": null, "to": "Lee"}));
    assert_eq!(app.merge_view(merge.id).await.unwrap().moved["events"], json!(1));

    // Events, inquiries and imports naming the other now reach the survivor.
    app.ingest_events(
        json!({"contact_id": other.id, "kind": "page_view", "at": "2024-05-01T10:00:00Z"}),
        &Actor::Operator,
    )
    .await
    .unwrap();
    app.ingest_events(
        json!({"email": "alee@acme.example", "kind": "email_open", "at": "2024-05-02T10:00:00Z"}),
        &Actor::Operator,
    )
    .await
    .unwrap();
    let job = import(&app, "c-2,alee@acme.example,,,,,,,,,2024-05-03,/blog\n").await;
    assert_eq!((job.counts.contacts_created, job.counts.contacts_updated), (0, 1));
    assert_eq!(store.recent_events(ann.id, 10).await.unwrap().len(), 5);
    let late_events = 3;

    // Undo: both exactly as they were; what came after the merge stays with the survivor.
    let undone = app.undo_merge(merge.id, &Actor::User("rita".into())).await.unwrap();
    assert!(undone.undone_at.is_some());
    assert_eq!(undone.undone_by.as_deref(), Some("user:rita"));
    let after = snapshots_of(&store, &ids).await;
    assert_eq!(after[1], before[1], "the other contact is back exactly");
    for part in ["contact", "stages", "changes"] {
        assert_eq!(after[0][part], before[0][part], "{part}");
    }
    for (part, added) in [("responses", 1), ("events", late_events)] {
        let (was, now) = (before[0][part].as_array().unwrap(), after[0][part].as_array().unwrap());
        assert!(was.iter().all(|x| now.contains(x)), "{part}");
        assert_eq!(now.len(), was.len() + added, "{part}");
    }
    assert_eq!(store.totals().await.unwrap().contacts, totals.contacts);
    assert_eq!(by_email(&store, "alee@acme.example").await.id, other.id);

    let again = app.undo_merge(merge.id, &Actor::Operator).await.unwrap_err();
    assert_eq!((again.kind(), again.code.as_str()), (ErrorKind::Conflict, "already_undone"));
}

async fn snapshots_of(store: &Arc<dyn Store>, ids: &[Uuid]) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for id in ids {
        all.push(everything(store, *id).await);
    }
    all
}

/// Merged before the scoring consumer reached it (here: no consumer runs), a contact is
/// still shown, pointing at the survivor, with no scores rather than "no such contact".
async fn a_contact_merged_before_it_was_ever_scored_is_still_shown(store: Arc<dyn Store>) {
    let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
    import(&app, "a,a@acme.example,Ann,,,,2024-01-01,,,,,\nb,b@acme.example,Bea,,,,2024-01-01,,,,,\n").await;
    let (a, b) = (by_email(&store, "a@acme.example").await, by_email(&store, "b@acme.example").await);
    app.merge_contacts(a.id, b.id, &Actor::Operator).await.unwrap();
    let merged = app.contact_view(b.id).await.expect("a merged contact is still shown");
    assert_eq!((merged.contact.merged_into, merged.contact.first_name.as_deref()), (Some(a.id), Some("Bea")));
    assert_eq!((merged.scores.is_none(), merged.funnel_position, merged.pain), (true, None, None));
    // The survivor, never scored either, is assessed for the answer.
    let survivor = app.contact_view(a.id).await.unwrap();
    assert_eq!(survivor.scores.map(|s| (s.fit, s.model)), Some((0, "builtin@0".to_owned())));
    assert!(survivor.funnel_position.is_some());
}

async fn merges_that_cannot_be_are_refused(store: Arc<dyn Store>) {
    let app = app(&store);
    import(
        &app,
        "a,a@acme.example,,,,,2024-01-01,,,,,\nb,b@acme.example,,,,,2024-01-01,,,,,\nc,c@acme.example,,,,,2024-01-01,,,,,\n",
    )
    .await;
    let (a, b, c) = (
        by_email(&store, "a@acme.example").await,
        by_email(&store, "b@acme.example").await,
        by_email(&store, "c@acme.example").await,
    );
    let op = Actor::Operator;
    let err = app.merge_contacts(a.id, a.id, &op).await.unwrap_err();
    assert_eq!((err.kind(), err.code.as_str()), (ErrorKind::Invalid, "same_contact"));
    let err = app.merge_contacts(a.id, Uuid::now_v7(), &op).await.unwrap_err();
    assert_eq!((err.kind(), err.field.as_deref()), (ErrorKind::NotFound, Some("other_id")));
    let err = app.merge_contacts(Uuid::now_v7(), a.id, &op).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = app.undo_merge(Uuid::now_v7(), &op).await.unwrap_err();
    assert_eq!((err.kind(), err.code.as_str()), (ErrorKind::NotFound, "unknown_merge"));

    let (first, _) = app.merge_contacts(a.id, b.id, &op).await.unwrap();
    // b is gone into a: neither merging b again nor changing its stage is possible.
    for e in
        [app.merge_contacts(c.id, b.id, &op).await.unwrap_err(), app.merge_contacts(b.id, c.id, &op).await.unwrap_err()]
    {
        assert_eq!((e.kind(), e.code.as_str()), (ErrorKind::Conflict, "already_merged"), "{}", e.message);
    }
    let err = app.change_stage(b.id, "mql", Some("test"), None, &op).await.unwrap_err();
    assert_eq!((err.kind(), err.code.as_str()), (ErrorKind::Conflict, "already_merged"));

    // a then merged into c: b now points at c too, and the first merge cannot be
    // undone before the second.
    let (second, _) = app.merge_contacts(c.id, a.id, &op).await.unwrap();
    assert_eq!(store.contact(b.id).await.unwrap().unwrap().merged_into, Some(c.id));
    let err = app.undo_merge(first.id, &op).await.unwrap_err();
    assert_eq!((err.kind(), err.code.as_str()), (ErrorKind::Conflict, "merged_since"));
    app.undo_merge(second.id, &op).await.unwrap();
    assert_eq!(store.contact(b.id).await.unwrap().unwrap().merged_into, Some(a.id));
    app.undo_merge(first.id, &op).await.unwrap();
    assert_eq!(store.totals().await.unwrap().contacts, 3);
}

async fn export_all(app: &App, kind: ExportKind, format: ExportFormat) -> String {
    let mut export = app.start_export(kind, format, Cells::SpreadsheetSafe).unwrap();
    let mut out = Vec::new();
    while let Some(page) = app.export_page(&mut export).await.unwrap() {
        out.extend_from_slice(&page);
    }
    String::from_utf8(out).unwrap()
}

/// The lines of a CSV export without the named columns, sorted (new rows get new
/// internal ids, so their order may differ).
fn comparable(csv: &str, drop: &[&str]) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let keep: Vec<usize> = header.iter().enumerate().filter(|(_, h)| !drop.contains(h)).map(|(i, _)| i).collect();
    let mut lines: Vec<String> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            keep.iter().map(|&i| r[i].to_owned()).collect::<Vec<_>>().join("|")
        })
        .collect();
    lines.sort();
    lines
}

async fn an_export_imports_back_into_an_empty_database_as_it_was(store: Arc<dyn Store>) {
    let app = app(&store);
    let read = |path: &str| std::fs::read(shared_data(path)).unwrap();
    let op = Actor::Operator;
    for (file, mapping) in [
        ("olist/olist_marketing_qualified_leads_dataset.csv", "olist-mqls.toml"),
        ("olist/olist_closed_deals_dataset.csv", "olist-closed-deals.toml"),
    ] {
        app.import_csv(std::io::Cursor::new(read(file)), &example(mapping), ImportOptions::default(), &op, &())
            .await
            .unwrap();
    }
    import(
        &app,
        "p-1,ann@acme.example,Ann,\"O'Neil, \"\"Jr\"\"\",yes,42,2024-01-05,organic_search,sql,2024-02-01,2024-01-04,/pricing?x=1\n",
    )
    .await;

    // A second database of the same kind, empty.
    let dir = tempfile::tempdir().unwrap();
    let schema;
    let target: Arc<dyn Store> = if store.backend() == "sqlite" {
        leadgate_store::testing::sqlite_store(dir.path()).await
    } else {
        schema = leadgate_store::testing::PgSchema::create(&leadgate_store::testing::pg_url().unwrap()).await;
        schema.store().await
    };
    let copy = self::app(&target);
    let mut exported = Vec::new();
    for kind in ExportKind::ALL {
        let csv = export_all(&app, kind, ExportFormat::Csv).await;
        let mapping = presets::preset(kind.preset()).unwrap();
        let job = copy
            .import_csv(std::io::Cursor::new(csv.clone().into_bytes()), &mapping, ImportOptions::default(), &op, &())
            .await
            .unwrap();
        assert_eq!(job.counts.rows_failed, 0, "{kind:?}: {:?}", job.errors.first());
        exported.push((kind, csv));
    }
    assert_eq!(target.totals().await.unwrap(), store.totals().await.unwrap());
    for (kind, original) in exported {
        let again = export_all(&copy, kind, ExportFormat::Csv).await;
        // Stage changes made by an import say so (with the original reason kept).
        let differ: &[&str] = match kind {
            ExportKind::Contacts => &["updated_at"],
            ExportKind::StageChanges => &["cause", "detail", "actor"],
            _ => &[],
        };
        let (a, b) = (comparable(&original, differ), comparable(&again, differ));
        assert_eq!(a.len(), b.len(), "{kind:?}");
        assert!(a == b, "{kind:?}: first difference {:?}", a.iter().zip(&b).find(|(x, y)| x != y));
    }

    // JSON Lines: one object per record, the same records.
    let jsonl = export_all(&app, ExportKind::Contacts, ExportFormat::Jsonl).await;
    let lines: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as i64, store.totals().await.unwrap().contacts);
    let ann = lines.iter().find(|l| l["email"] == json!("ann@acme.example")).unwrap();
    assert_eq!((ann["last_name"].clone(), ann["custom"]["size"].clone()), (json!("O'Neil, \"Jr\""), json!("42")));
    assert_eq!(ann["website"], json!("acme.example"));
    target.close().await;
}
