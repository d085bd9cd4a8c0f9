//! Backtests on the real Olist funnel, on SQLite and PostgreSQL: the figures a
//! backtest reports are recounted here straight from the two CSV files.

mod support;

use support::{example, shared_data};

use leadgate_app::import::ImportOptions;
use leadgate_app::qualification::backtest::BacktestInput;
use leadgate_app::qualification::rules::DefinitionInput;
use leadgate_app::{App, AppOptions, ErrorKind, SystemClock};
use leadgate_core::import::Mapping;
use leadgate_core::{Actor, Timestamp};
use leadgate_store::Store;
use std::collections::HashMap;
use std::sync::Arc;

leadgate_store::on_both_stores!(
    a_backtest_counts_what_the_contacts_were_then_and_what_they_became,
    a_backtest_refuses_what_it_cannot_run,
    a_backtest_counts_the_activity_as_of_the_date_however_little_it_reads,
);

const AS_OF: &str = "2018-03-01";

/// The MQLs first contacted by `AS_OF`: `(origin, won after AS_OF)`, from the files.
fn cohort() -> Vec<(String, bool)> {
    let mut won: HashMap<String, String> = HashMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_closed_deals_dataset.csv")).unwrap().records() {
        let r = r.unwrap();
        won.insert(r[0].to_owned(), r[4].to_owned());
    }
    let mut out = Vec::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_marketing_qualified_leads_dataset.csv")).unwrap().records()
    {
        let r = r.unwrap();
        if &r[1] <= AS_OF {
            // Dates compare as text: "2018-03-01 10:00:00" > "2018-03-01".
            out.push((r[3].to_owned(), won.get(&r[0]).is_some_and(|d| d.as_str() > AS_OF)));
        }
    }
    out
}

async fn olist(store: &Arc<dyn Store>) -> Arc<App> {
    let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
    for (file, mapping) in [
        ("olist/olist_marketing_qualified_leads_dataset.csv", "olist-mqls.toml"),
        ("olist/olist_closed_deals_dataset.csv", "olist-closed-deals.toml"),
    ] {
        let bytes = std::fs::read(shared_data(file)).unwrap();
        app.import_csv(std::io::Cursor::new(bytes), &example(mapping), ImportOptions::default(), &Actor::Operator, &())
            .await
            .unwrap();
    }
    app
}

fn input(expression: Option<&str>) -> BacktestInput {
    BacktestInput { expression: expression.map(str::to_owned), as_of: AS_OF.into(), ..BacktestInput::default() }
}

async fn a_backtest_counts_what_the_contacts_were_then_and_what_they_became(store: Arc<dyn Store>) {
    let app = olist(&store).await;
    let def = |e: &str| DefinitionInput { expression: e.into(), kind: "mql".into(), note: None };
    app.save_definition("inbound", def("contact.channel == 'organic_search'"), &Actor::Operator).await.unwrap();
    app.activate_definition("inbound", None, &Actor::Operator).await.unwrap();

    let cohort = cohort();
    let customers = cohort.iter().filter(|(_, won)| *won).count() as u64;
    let organic: Vec<_> = cohort.iter().filter(|(o, _)| o == "organic_search").collect();
    let organic_won = organic.iter().filter(|(_, won)| *won).count() as u64;
    let paid = cohort.iter().filter(|(o, _)| o == "paid_search").count() as u64;
    let paid_won = cohort.iter().filter(|(o, won)| o == "paid_search" && *won).count() as u64;

    let r = app.backtest("inbound", input(Some("contact.channel in ['organic_search', 'paid_search']"))).await.unwrap();
    assert_eq!((r.contacts, r.customers), (cohort.len() as u64, customers));
    assert!(r.contacts > 1_000 && r.contacts < 8_000, "a real cohort: {}", r.contacts);
    let active = r.active.as_ref().expect("the active version is measured beside the draft");
    assert_eq!(active.definition, "inbound@1");
    assert_eq!((active.tally.qualified, active.tally.reached_customer), (organic.len() as u64, organic_won));
    assert_eq!(active.tally.precision, Some(organic_won as f64 / organic.len() as f64));
    assert_eq!(active.tally.recall, Some(organic_won as f64 / customers as f64));
    assert_eq!(r.draft.definition, "draft");
    assert_eq!(r.draft.tally.qualified, organic.len() as u64 + paid);
    assert_eq!(r.draft.tally.reached_customer, organic_won + paid_won);
    assert_eq!((r.newly_included.count, r.newly_excluded.count), (paid, 0));
    assert_eq!(r.newly_included.sample.len(), 20);
    assert_eq!(r.customers_turned_away.count, customers - organic_won - paid_won);
    assert!(r.failures.is_empty(), "{:?}", r.failures);

    // The deals' details arrived with the closed-deals file, after the date: the
    // contacts did not have them then, so a definition reading them passes nobody.
    let leak = app.backtest("inbound", input(Some("has(contact.custom.business_segment)"))).await.unwrap();
    assert_eq!(leak.draft.tally.qualified, 0, "no knowledge from after the date");
    let now = BacktestInput { as_of: app.now().to_rfc3339(), ..input(Some("has(contact.custom.business_segment)")) };
    let today = app.backtest("inbound", now).await.unwrap();
    let with_segment = csv::Reader::from_path(shared_data("olist/olist_closed_deals_dataset.csv"))
        .unwrap()
        .records()
        .filter(|r| r.as_ref().is_ok_and(|r| !r[5].is_empty()))
        .count() as u64;
    assert_eq!(with_segment, 841, "one deal has no segment in the file");
    assert_eq!(
        (today.draft.tally.qualified, today.customers),
        (with_segment, 0),
        "today they have them; nothing is still to come"
    );

    // A cohort: only contacts created in February 2018; a saved version against another.
    app.save_definition("inbound", def("contact.channel == 'paid_search'"), &Actor::Operator).await.unwrap();
    let february = BacktestInput {
        version: Some(2),
        against: Some(1),
        created_from: Some("2018-02-01".into()),
        created_to: Some("2018-03-01".into()),
        ..input(None)
    };
    let f = app.backtest("inbound", february).await.unwrap();
    assert_eq!(f.draft.definition, "inbound@2");
    let feb = csv::Reader::from_path(shared_data("olist/olist_marketing_qualified_leads_dataset.csv"))
        .unwrap()
        .records()
        .filter(|r| r.as_ref().is_ok_and(|r| r[1].starts_with("2018-02")))
        .count() as u64;
    assert_eq!(f.contacts, feb);
}

async fn a_backtest_refuses_what_it_cannot_run(store: Arc<dyn Store>) {
    let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
    let err = app.backtest("nothing", input(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let def = DefinitionInput { expression: "true".into(), kind: "mql".into(), note: None };
    app.save_definition("x", def, &Actor::Operator).await.unwrap();
    let cases = [
        (BacktestInput { as_of: "yesterday".into(), ..input(None) }, "as_of"),
        (BacktestInput { as_of: "2999-01-01".into(), ..input(None) }, "as_of"),
        (BacktestInput { created_from: Some("soon".into()), ..input(None) }, "created_from"),
        (BacktestInput { sample: Some(5_000), ..input(None) }, "sample"),
        (BacktestInput { version: Some(1), ..input(Some("true")) }, "expression"),
        (input(Some("contact.titel == ''")), "expression"),
    ];
    for (i, field) in cases {
        let err = app.backtest("x", i).await.unwrap_err();
        assert_eq!((err.kind(), err.field.as_deref()), (ErrorKind::Invalid, Some(field)), "{err}");
    }
    let err = app.backtest("x", BacktestInput { version: Some(9), ..input(None) }).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// A backtest reads only the events its definitions need (a month of them for
/// `visits_30d`); what they count is the same as if it read them all.
async fn a_backtest_counts_the_activity_as_of_the_date_however_little_it_reads(store: Arc<dyn Store>) {
    let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
    const DAY: i64 = 86_400_000_000;
    let now = app.now();
    let ago = |days: i64| Timestamp(now.0 - days * DAY).to_rfc3339();
    // Three contacts who arrived 500 days ago with a form; the backtest looks at them
    // as they were 100 days ago, 400 days after their form.
    let mapping = Mapping::from_toml(
        "[contact]\nemail = \"email\"\ncreated_at = \"created\"\n\
         [response]\nat = \"created\"\naction = { value = \"form_fill\" }\n\
         [[stage]]\nstage = { value = \"prospect\" }\nat = \"created\"\n",
    )
    .unwrap();
    let csv = format!("email,created\nann@acme.example,{0}\nbob@acme.example,{0}\ncy@acme.example,{0}\n", ago(500));
    let csv = std::io::Cursor::new(csv.into_bytes());
    app.import_csv(csv, &mapping, ImportOptions::default(), &Actor::Operator, &()).await.unwrap();
    // Days before the date: Ann 10, 29 and 31 (and once after it); Bob 200 (and once
    // after); Cy 380, longer ago than any event count reaches.
    let views = [("ann", 110), ("ann", 129), ("ann", 131), ("ann", 50), ("bob", 300), ("bob", 20), ("cy", 480)];
    let events: Vec<_> = views
        .iter()
        .map(|(who, days)| {
            serde_json::json!({"email": format!("{who}@acme.example"), "kind": "page_view", "at": ago(*days)})
        })
        .collect();
    app.ingest_events(serde_json::json!({"events": events}), &Actor::Operator).await.unwrap();
    let nobody = DefinitionInput { expression: "contact.email == ''".into(), kind: "mql".into(), note: None };
    app.save_definition("active", nobody, &Actor::Operator).await.unwrap();

    for (draft, passed) in [
        ("engagement.visits_30d == 2", &["ann"][..]),
        ("engagement.visits_90d == 3 && engagement.return_visits == 2", &["ann"]),
        ("engagement.visits_7d == 0 && engagement.days_since_last_activity == 10", &["ann"]),
        ("events('page_view', 365) == 1", &["bob"]),
        ("engagement.days_since_last_activity == 200", &["bob"]),
        ("engagement.days_since_last_activity == 380", &["cy"]),
        ("size(responses) == 1 && engagement.visits_90d == 0", &["bob", "cy"]),
        ("contact.email != ''", &["ann", "bob", "cy"]),
        // Their account is read only when an expression reads it: this one does.
        ("account.domain == 'acme.example' && engagement.visits_30d > 0", &["ann"]),
        ("account.domain == 'other.example'", &[]),
    ] {
        let input = BacktestInput {
            expression: Some(draft.into()),
            as_of: ago(100),
            against: Some(1),
            ..BacktestInput::default()
        };
        let r = app.backtest("active", input).await.unwrap();
        assert_eq!(r.contacts, 3);
        assert!(r.failures.is_empty(), "{draft}: {:?}", r.failures);
        let mut who: Vec<String> = r
            .newly_included
            .sample
            .iter()
            .map(|s| s.email.as_deref().unwrap_or_default().trim_end_matches("@acme.example").to_owned())
            .collect();
        who.sort();
        assert_eq!(who, passed, "{draft}");
        assert_eq!(r.draft.tally.qualified, passed.len() as u64, "{draft}");
    }
}
