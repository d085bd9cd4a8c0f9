//! A database made before each contact's row kept its stage steps and responses in
//! brief (migrations 0014 and 0015) gets them from what it holds when it is opened.

use leadgate_core::lifecycle::{StageChange, StageStep};
use leadgate_core::model::{Contact, Response};
use leadgate_core::{CauseKind, Direction, Stage};
use leadgate_store::testing::{PgSchema, pg_url};
use leadgate_store::{
    AccountPart, Bulk, Contacts, Details, ResponseDetails, SnapshotParts, SqliteOptions, SqliteStore, Store,
    StoredParts,
};
use std::sync::Arc;
use uuid::Uuid;

mod support;
use support::T0;

/// What comes with each contact: its stage steps and its responses in brief, in id
/// order; the responses checked against what the responses table gives of them.
async fn packed(store: &dyn Store, ids: &[Uuid]) -> Vec<(Uuid, Vec<StageStep>, Vec<Response>)> {
    let parts = SnapshotParts {
        details: Details::NONE,
        qualification: false,
        account: AccountPart::Nothing,
        custom: false,
        stage: true,
        stage_steps: true,
        responses: Some(ResponseDetails::IN_BRIEF),
        stored: StoredParts::None,
        created_by: None,
    };
    let subjects = store.contact_snapshots(Contacts::Ids(ids), parts).await.unwrap();
    let table = store.responses_of(Contacts::Ids(ids), None, ResponseDetails::IN_BRIEF).await.unwrap();
    for s in &subjects {
        assert_eq!(s.responses, table.get(&s.contact.id), "what the row keeps is what the table holds");
    }
    subjects.into_iter().map(|s| (s.contact.id, s.stage_steps, s.responses)).collect()
}

/// Three contacts: one with steps (two at the same moment, one of a negative value)
/// and responses (one without a channel, two at the same moment, a channel not ASCII),
/// one with a step alone, one with neither.
fn history() -> Bulk {
    let contacts: Vec<Contact> = (0..3)
        .map(|i| {
            let email = Some(format!("m{i}@migrate.example"));
            Contact::new(Uuid::now_v7(), email, Direction::Inbound, None, Stage::Prospect, T0)
        })
        .collect();
    let change = |c: &Contact, to: Stage, micros: i64, value: Option<i64>| StageChange {
        contact_id: c.id,
        from: None,
        to,
        at: T0.plus_micros(micros),
        cause: CauseKind::Import,
        detail: "crm".into(),
        actor: "ops".into(),
        value,
    };
    let response = |c: &Contact, micros: i64, action: &str, channel: Option<&str>| Response {
        channel: channel.map(str::to_owned),
        campaign: Some("spring".into()),
        ..support::response(c.id, T0.plus_micros(micros), action)
    };
    let [a, b, _] = [&contacts[0], &contacts[1], &contacts[2]];
    Bulk {
        stage_changes: vec![
            change(a, Stage::Customer, 20, Some(1_250_000)),
            change(a, Stage::Lost, 20, Some(-1)),
            change(a, Stage::Prospect, 0, None),
            change(b, Stage::Mql, 5, None),
        ],
        responses: vec![
            response(a, 8, "demo_request", Some("organic_search")),
            response(a, 2, "ebook_download", None),
            response(a, 8, "pricing_request", Some("paid_social·ü")),
        ],
        contacts,
        ..Bulk::default()
    }
}

/// Records a history on the store `open` gives, takes its database back to before 0014
/// (the columns gone, the migrations not applied) with `run`, which runs one statement,
/// and checks that the store, opened again, gives each contact what it gave before.
async fn migrated_again_gives_what_was_packed<S, R>(open: impl Fn() -> S, run: impl Fn(&'static str) -> R)
where
    S: Future<Output = Arc<dyn Store>>,
    R: Future<Output = ()>,
{
    let bulk = history();
    let ids: Vec<Uuid> = bulk.contacts.iter().map(|c| c.id).collect();
    let store = open().await;
    store.bulk_load(&bulk).await.unwrap();
    let recorded = packed(store.as_ref(), &ids).await;
    assert_eq!((recorded[0].1.len(), recorded[0].2.len()), (3, 3), "{recorded:?}");
    store.close().await;
    drop(store);
    for sql in [
        "ALTER TABLE contacts DROP COLUMN stage_steps",
        "ALTER TABLE contacts DROP COLUMN responses_brief",
        "DELETE FROM _sqlx_migrations WHERE version IN (14, 15)",
    ] {
        run(sql).await;
    }
    let store = open().await;
    assert_eq!(packed(store.as_ref(), &ids).await, recorded);
    store.close().await;
}

#[tokio::test]
async fn sqlite_a_database_made_before_the_packs_on_contacts_is_migrated_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadgate.db");
    let open = || async {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).await.unwrap());
        store
    };
    let url = format!("sqlite://{}", path.display());
    let run = |sql: &'static str| {
        let url = url.clone();
        async move {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    };
    migrated_again_gives_what_was_packed(open, run).await;
}

#[tokio::test]
async fn postgres_a_database_made_before_the_packs_on_contacts_is_migrated_with_them() {
    let Some(url) = pg_url() else { return };
    let schema = PgSchema::create(&url).await;
    let run = |sql: &'static str| {
        let options = schema.options();
        async move {
            let pool = sqlx::PgPool::connect_with(options).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    };
    migrated_again_gives_what_was_packed(|| schema.store(), run).await;
}
