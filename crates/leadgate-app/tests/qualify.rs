//! Scores, grades and lead definitions as a user meets them, on SQLite and PostgreSQL:
//! a model is saved and scores contacts when they act; a definition qualifies only
//! while active, records its version, and can be rolled back; qualification fields
//! feed the definition Sales writes; rescoring reaches every contact.

mod support;

use support::app;

use leadgate_app::import::ImportOptions;
use leadgate_app::qualification::rules::DefinitionInput;
use leadgate_app::{App, ContactQuery, ErrorKind};
use leadgate_core::Actor;
use leadgate_core::import::Mapping;
use leadgate_core::model::{ContactFilter, Qualification};
use leadgate_store::Store;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

leadgate_store::on_both_stores!(
    a_model_scores_contacts_when_they_act_and_explains_every_point,
    a_definition_qualifies_only_while_active_and_can_be_rolled_back,
    qualification_fields_feed_the_definition_sales_writes,
    rescoring_reaches_every_contact_and_counts_what_failed,
    a_rescore_finds_the_last_activity_however_long_ago_when_a_rule_reads_it,
    wrong_models_and_definitions_are_refused_and_nothing_is_saved,
    imports_and_merges_are_scored_through_the_change_feed,
);

const MODEL: &str = r#"
half_life_days = 30

[[fit]]
name = "director or above"
when = "contact.title.matches('(?i)(director|vp|chief)')"
points = 20

[[fit]]
name = "big company"
when = "contact.custom.employees > 200"
points = 15

[[engagement]]
name = "page views"
when = "activity.kind == 'page_view'"
points = 3
cap = 9

[[engagement]]
name = "pricing"
when = "activity.kind == 'page_view' && activity.url.contains('/pricing')"
points = 10
"#;

/// Ann (a director at a big company) and Bob (an engineer at a small one), as prospects.
async fn people(app: &App) -> (Uuid, Uuid) {
    let mapping = Mapping::from_toml(
        "[contact]\nemail = \"email\"\ntitle = \"title\"\n[contact.custom]\nemployees = { column = \"employees\", type = \"number\" }\n\
         [response]\naction = { value = \"form_fill\" }\nchannel = { value = \"paid_search\" }\n",
    )
    .unwrap();
    let csv = "email,title,employees\nann@acme.example,Director of IT,250\nbob@small.example,Engineer,12\n";
    app.import_csv(
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        &mapping,
        ImportOptions::default(),
        &Actor::Operator,
        &(),
    )
    .await
    .unwrap();
    let id = |email: &str| {
        let filter = ContactQuery { email: Some(email.into()), ..ContactQuery::default() };
        async move { app.list_contacts(&filter).await.unwrap().contacts[0].id }
    };
    (id("ann@acme.example").await, id("bob@small.example").await)
}

async fn visit(app: &App, email: &str, urls: &[&str]) {
    let events: Vec<_> = urls.iter().map(|u| json!({"email": email, "kind": "page_view", "url": u})).collect();
    let receipt = app.ingest_events(json!({"events": events}), &Actor::Operator).await.unwrap();
    assert_eq!(receipt.accepted, urls.len());
    assert!(app.wait_until_caught_up(Duration::from_secs(20)).await.unwrap(), "scoring caught up");
}

fn definition(expression: &str, kind: &str) -> DefinitionInput {
    DefinitionInput { expression: expression.into(), kind: kind.into(), note: Some("agreed with sales".into()) }
}

async fn a_model_scores_contacts_when_they_act_and_explains_every_point(store: Arc<dyn Store>) {
    let app = app(&store);
    let (ann, bob) = people(&app).await;
    // Before any model: graded by the built-in rules, no points.
    let view = app.contact_view(ann).await.unwrap();
    assert_eq!((view.scores.as_ref().unwrap().fit, view.scores.as_ref().unwrap().model.as_str()), (0, "builtin@0"));
    assert_eq!(view.funnel_position, Some("tofu"));

    let saved = app.save_scoring_model("default", MODEL, &Actor::Operator).await.unwrap();
    assert!(saved.active, "the first model saved scores contacts at once");
    assert_eq!(saved.model.version, 1);
    visit(
        &app,
        "ann@acme.example",
        &[
            "https://acme.example/blog",
            "https://acme.example/pricing",
            "https://acme.example/a",
            "https://acme.example/b",
        ],
    )
    .await;

    let view = app.contact_view(ann).await.unwrap();
    assert_eq!(view.scores.as_ref().unwrap().fit, 35);
    assert_eq!(view.scores.as_ref().unwrap().model, "default@1");
    // Four page views at 3 points, capped at 9; one of them on the pricing page: 10.
    assert!(
        (view.scores.as_ref().unwrap().engagement - 19.0).abs() < 0.05,
        "{}",
        view.scores.as_ref().unwrap().engagement
    );
    let rules: Vec<_> =
        view.scores.as_ref().unwrap().factors.iter().map(|f| f["rule"].as_str().unwrap().to_owned()).collect();
    assert_eq!(rules, ["director or above", "big company", "page views", "pricing"]);
    let views = &view.scores.as_ref().unwrap().factors[2];
    assert_eq!(views["points"], 9.0);
    assert!(views["reason"].as_str().unwrap().contains("4 matching activities"), "{views}");
    assert!(views["reason"].as_str().unwrap().ends_with("capped"));
    assert_eq!(view.scores.as_ref().unwrap().likelihood, None, "no predictive model trained yet");
    assert_eq!(view.pain, Some("low"));
    // Bob did nothing and fits no rule: nothing to explain.
    let bob = app.contact_view(bob).await.unwrap();
    assert_eq!((bob.scores.as_ref().unwrap().fit, bob.scores.as_ref().unwrap().engagement), (0, 0.0));
    assert!(bob.scores.as_ref().unwrap().factors.is_empty());

    // A second model waits for activation; the active one keeps scoring.
    let other =
        app.save_scoring_model("strict", &MODEL.replace("points = 20", "points = 5"), &Actor::Operator).await.unwrap();
    assert!(!other.active);
    assert_eq!(app.scoring_models().await.unwrap().active.unwrap().target, "default");
    app.activate_scoring("strict", None, &Actor::Operator).await.unwrap();
    app.rescore(&()).await.unwrap();
    let view = app.contact_view(ann).await.unwrap();
    assert_eq!((view.scores.as_ref().unwrap().fit, view.scores.as_ref().unwrap().model.as_str()), (20, "strict@1"));
    // Rescored again with nothing new: every contact is assessed, none's scores changed,
    // and they are left as they were.
    let again = app.rescore(&()).await.unwrap();
    assert!(again.assessed.contacts >= 2, "{again:?}");
    assert_eq!(again.assessed.scores_changed, 0, "{again:?}");
    assert_eq!(app.contact_view(ann).await.unwrap().scores.unwrap().assessed_at, view.scores.unwrap().assessed_at);

    // The fit of Ann and Bob once everyone is rescored by MODEL with one more fit rule.
    let fits_with = |name: &'static str, when: &'static str, points: i64| {
        let app = &app;
        async move {
            let model = format!("{MODEL}\n[[fit]]\nname = \"{name}\"\nwhen = \"{when}\"\npoints = {points}\n");
            app.save_scoring_model(name, &model, &Actor::Operator).await.unwrap();
            app.activate_scoring(name, None, &Actor::Operator).await.unwrap();
            app.rescore(&()).await.unwrap();
            let fit = |id| async move { app.contact_view(id).await.unwrap().scores.unwrap().fit };
            (fit(ann).await, fit(bob.contact.id).await)
        }
    };
    // A fit rule may read the engagement a contact had before (Ann's 19).
    assert_eq!(fits_with("momentum", "scores.engagement > 10.0", 1).await, (36, 0));
    // And the fit it had before (Ann's 36), which is read only for such a model.
    assert_eq!(fits_with("held", "scores.fit > 35 && funnel_position != ''", 2).await, (37, 0));
    // And the contact's account, which a rescore reads only for a model that reads it.
    assert_eq!(fits_with("at-acme", "account.domain == 'acme.example'", 3).await, (38, 0));
}

async fn a_definition_qualifies_only_while_active_and_can_be_rolled_back(store: Arc<dyn Store>) {
    let app = app(&store);
    let (ann, bob) = people(&app).await;
    app.save_scoring_model("default", MODEL, &Actor::Operator).await.unwrap();
    let v1 = app
        .save_definition(
            "marketing",
            definition("scores.fit >= 30 && engagement.visits_30d >= 2", "mql"),
            &Actor::User("mo".into()),
        )
        .await
        .unwrap();
    assert_eq!((v1.version, v1.author.as_str()), (1, "user:mo"));
    // Saved, not active: a visit moves nobody.
    visit(&app, "ann@acme.example", &["https://acme.example/1", "https://acme.example/2"]).await;
    assert_eq!(store.contact(ann).await.unwrap().unwrap().stage.as_str(), "prospect");

    let v2 = app
        .save_definition("marketing", definition("engagement.visits_30d >= 3", "mql"), &Actor::User("mo".into()))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    // Roll back to version 1 before it ever ran: activating an earlier version.
    app.activate_definition("marketing", Some(1), &Actor::User("sales-lead".into())).await.unwrap();
    let report = app.rescore(&()).await.unwrap();
    assert_eq!(report.assessed.moved, 1, "{report:?}");
    let ann_now = store.contact(ann).await.unwrap().unwrap();
    assert_eq!(ann_now.stage.as_str(), "mql");
    let last = store.stage_history(ann).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.cause.as_str(), last.detail.as_str(), last.actor.as_str()),
        ("definition", "marketing@1", "system")
    );
    // Bob fits nothing; his visits count for version 2 once it is active.
    visit(&app, "bob@small.example", &["https://small.example/1", "https://small.example/2"]).await;
    assert_eq!(store.contact(bob).await.unwrap().unwrap().stage.as_str(), "prospect");
    app.activate_definition("marketing", None, &Actor::Operator).await.unwrap();
    assert_eq!(app.definition_versions("marketing").await.unwrap().active_version, Some(2));
    // The next visit is the third: scoring the change qualifies him.
    visit(&app, "bob@small.example", &["https://small.example/3"]).await;
    let bob_now = store.contact(bob).await.unwrap().unwrap();
    assert_eq!(bob_now.stage.as_str(), "mql");
    let last = store.stage_history(bob).await.unwrap().pop().unwrap();
    assert_eq!(last.detail, "marketing@2");
    // Deactivated, it moves nobody; deactivating twice is a conflict.
    app.deactivate_definition("marketing", &Actor::Operator).await.unwrap();
    assert_eq!(app.deactivate_definition("marketing", &Actor::Operator).await.unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(app.definitions().await.unwrap()[0].active_version, None);
}

async fn qualification_fields_feed_the_definition_sales_writes(store: Arc<dyn Store>) {
    let app = app(&store);
    let (ann, _) = people(&app).await;
    app.change_stage(ann, "mql", Some("handed over"), None, &Actor::Operator).await.unwrap();
    app.change_stage(ann, "sal", Some("accepted"), None, &Actor::User("sam".into())).await.unwrap();
    app.save_definition(
        "sales",
        definition("qualification.budget == 'confirmed' && qualification.authority != ''", "sql"),
        &Actor::User("sam".into()),
    )
    .await
    .unwrap();
    app.activate_definition("sales", None, &Actor::User("sam".into())).await.unwrap();
    app.rescore(&()).await.unwrap();
    assert_eq!(store.contact(ann).await.unwrap().unwrap().stage.as_str(), "sal");

    let half = Qualification { budget: Some(" confirmed ".into()), ..Qualification::default() };
    let saved = app.set_qualification(ann, half, &Actor::User("sam".into())).await.unwrap();
    assert_eq!(saved.budget.as_deref(), Some("confirmed"), "trimmed");
    assert_eq!(store.contact(ann).await.unwrap().unwrap().stage.as_str(), "sal", "authority is not known yet");
    let full = Qualification {
        budget: Some("confirmed".into()),
        authority: Some("CIO signs".into()),
        ..Qualification::default()
    };
    app.set_qualification(ann, full, &Actor::User("sam".into())).await.unwrap();
    assert_eq!(store.contact(ann).await.unwrap().unwrap().stage.as_str(), "sql");
    let view = app.contact_view(ann).await.unwrap();
    assert_eq!(view.qualification.authority.as_deref(), Some("CIO signs"));
    let changes = store.contact_changes(ann).await.unwrap();
    let recorded: Vec<_> = changes.iter().filter(|c| c.cause == "qualification").collect();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].changes["qualification.authority"], json!({"from": null, "to": "CIO signs"}));
    assert_eq!(recorded[1].actor, "user:sam");
    // Bad values are refused and change nothing.
    let long = Qualification { need: Some("x".repeat(201)), ..Qualification::default() };
    let err = app.set_qualification(ann, long, &Actor::Operator).await.unwrap_err();
    assert_eq!((err.kind(), err.field.as_deref()), (ErrorKind::Invalid, Some("need")));
    let err = app.set_qualification(Uuid::now_v7(), Qualification::default(), &Actor::Operator).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

async fn rescoring_reaches_every_contact_and_counts_what_failed(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml("[contact]\nemail = \"email\"\n[contact.custom]\nsize = \"size\"\n").unwrap();
    let mut csv = String::from("email,size\n");
    for i in 0..2_500 {
        // Every tenth has no size: the rule reading it fails for them.
        let size = if i % 10 == 0 { String::new() } else { format!("{}", i % 500) };
        csv.push_str(&format!("p{i}@co{}.example,{size}\n", i % 97));
    }
    app.import_csv(std::io::Cursor::new(csv.into_bytes()), &mapping, ImportOptions::default(), &Actor::Operator, &())
        .await
        .unwrap();
    let model = "[[fit]]\nname = \"sized\"\nwhen = \"int(contact.custom.size) > 250\"\npoints = 7\n";
    app.save_scoring_model("default", model, &Actor::Operator).await.unwrap();
    let report = app.rescore(&()).await.unwrap();
    assert_eq!(report.assessed.contacts, 2_500, "more than one batch");
    assert_eq!(report.model, "default@1");
    assert_eq!(report.assessed.failures.len(), 1);
    assert_eq!(report.assessed.failures[0].rule, "fit: sized");
    assert_eq!(report.assessed.failures[0].contacts, 250);
    let filter = ContactFilter { email: Some("p251@co57.example".into()), ..ContactFilter::default() };
    let id = store.contacts(&filter, None, 1).await.unwrap()[0].id;
    let scores = store.scores(&[id]).await.unwrap();
    assert_eq!(scores[0].assessment.fit, 7);
    // Every batch was written, the last one too, each contact with its own score.
    let everyone = store.live_contact_ids(None, None, 10_000).await.unwrap();
    let all = store.scores(&everyone).await.unwrap();
    assert_eq!(all.len(), 2_500);
    assert!(all.iter().all(|s| s.model == "default@1"));
    assert_eq!(
        all.iter().filter(|s| s.assessment.fit == 7).count(),
        (0..2_500).filter(|i| i % 10 != 0 && i % 500 > 250).count()
    );
}

async fn wrong_models_and_definitions_are_refused_and_nothing_is_saved(store: Arc<dyn Store>) {
    let app = app(&store);
    let cases = [
        ("default", "[[fit]]\nname = \"x\"\nwhen = \"contact.titel == ''\"\npoints = 1\n", "fit[0].when", Some((1, 8))),
        ("default", "[[fit]]\nname = \"x\"\nwhen = \"true\"\n", "model", None),
        ("default", "half_life_days = -1\n", "half_life_days", None),
        ("default", "{\"fit\": [{\"name\": \"x\", \"when\": \"1 +\", \"points\": 1}]}", "fit[0].when", Some((1, 4))),
        ("Bad Name", "", "name", None),
    ];
    for (name, text, field, at) in cases {
        let err = app.save_scoring_model(name, text, &Actor::Operator).await.unwrap_err();
        assert_eq!((err.kind(), err.field.as_deref()), (ErrorKind::Invalid, Some(field)), "{text}: {err}");
        assert_eq!(err.position, at, "{text}: {err}");
    }
    assert!(app.scoring_models().await.unwrap().models.is_empty());
    let bad = [
        (definition("contact.stage == 'mql' && ", "mql"), "expression"),
        (definition("contact.title", "mql"), "expression"),
        (definition("true", "lead"), "kind"),
        (DefinitionInput { note: Some("x".repeat(2_001)), ..definition("true", "mql") }, "note"),
    ];
    for (input, field) in bad {
        let err = app.save_definition("marketing", input, &Actor::Operator).await.unwrap_err();
        assert_eq!((err.kind(), err.field.as_deref()), (ErrorKind::Invalid, Some(field)), "{err}");
    }
    assert!(app.definitions().await.unwrap().is_empty());
    let err = app.activate_definition("marketing", Some(3), &Actor::Operator).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    app.save_definition("marketing", definition("true", "mql"), &Actor::Operator).await.unwrap();
    let err = app.activate_definition("marketing", Some(3), &Actor::Operator).await.unwrap_err();
    assert!(err.message.contains("no version 3"), "{err}");
    let err = app.activate_scoring("nothing", None, &Actor::Operator).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // A version saved when the language took it but that no longer compiles (written
    // here straight to the store) is refused when used, and says to save it again.
    let stale = leadgate_core::definition::Definition {
        name: "stale".into(),
        version: 1,
        kind: leadgate_core::definition::DefinitionKind::Mql,
        expression: "contact.no_such_field == 1".into(),
        note: None,
        author: "operator".into(),
        created_at: app.now(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_definition(&stale).await.unwrap();
    tx.commit().await.unwrap();
    let input =
        leadgate_app::qualification::backtest::BacktestInput { as_of: "2020-01-01".into(), ..Default::default() };
    let err = app.backtest("stale", input).await.unwrap_err();
    assert_eq!((err.kind(), err.code.as_str()), (ErrorKind::Conflict, "definition_invalid"), "{err}");
    assert!(err.message.contains("stale@1 no longer compiles"), "{err}");
}

/// Events older than a year count only for `days_since_last_activity`: a rescore looks
/// them up for the contacts without newer ones.
async fn a_rescore_finds_the_last_activity_however_long_ago_when_a_rule_reads_it(store: Arc<dyn Store>) {
    let app = app(&store);
    const DAY: i64 = 86_400_000_000;
    let now = app.now();
    let ago = |days: i64| leadgate_core::Timestamp(now.0 - days * DAY).to_rfc3339();
    let mapping = Mapping::from_toml(
        "[contact]\nemail = \"email\"\ncreated_at = \"created\"\n\
         [response]\nat = \"created\"\naction = { value = \"form_fill\" }\n",
    )
    .unwrap();
    let csv = format!("email,created\nann@acme.example,{0}\ncy@acme.example,{0}\n", ago(500));
    let csv = std::io::Cursor::new(csv.into_bytes());
    app.import_csv(csv, &mapping, ImportOptions::default(), &Actor::Operator, &()).await.unwrap();
    // Cy last viewed a page 400 days ago; Ann did nothing since her form, 500 days ago.
    let view = json!({"events": [{"email": "cy@acme.example", "kind": "page_view", "at": ago(400)}]});
    app.ingest_events(view, &Actor::Operator).await.unwrap();
    let model = "[[fit]]\nname = \"gone quiet\"\nwhen = \"engagement.days_since_last_activity == 400\"\npoints = 4\n\n\
                 [[fit]]\nname = \"never back\"\nwhen = \"engagement.days_since_last_activity == 500\"\npoints = 7\n";
    app.save_scoring_model("quiet", model, &Actor::Operator).await.unwrap();
    app.rescore(&()).await.unwrap();
    let fit = |email: &'static str| {
        let app = &app;
        async move {
            let filter = ContactQuery { email: Some(email.into()), ..ContactQuery::default() };
            let id = app.list_contacts(&filter).await.unwrap().contacts[0].id;
            app.contact_view(id).await.unwrap().scores.unwrap().fit
        }
    };
    assert_eq!((fit("cy@acme.example").await, fit("ann@acme.example").await), (4, 7));
}

/// Nothing but the change feed tells scoring of an import or a merge: both are scored.
async fn imports_and_merges_are_scored_through_the_change_feed(store: Arc<dyn Store>) {
    let app = app(&store);
    app.save_scoring_model("default", MODEL, &Actor::Operator).await.unwrap();
    app.rescore(&()).await.unwrap();
    let (ann, bob) = people(&app).await;
    assert!(app.wait_until_caught_up(Duration::from_secs(20)).await.unwrap(), "scoring caught up");
    let scores = store.scores(&[ann, bob]).await.unwrap();
    let fit = |id| scores.iter().find(|s| s.contact_id == id).map(|s| (s.assessment.fit, s.model.clone()));
    // Ann is a director at a company of 250: her fit is stored, by the model in force.
    assert_eq!(fit(ann), Some((35, "default@1".to_owned())), "{scores:?}");
    assert_eq!(fit(bob).map(|f| f.1), Some("default@1".to_owned()));
    // Bob's visits, then Bob merged into Ann: the survivor is scored with his history.
    visit(&app, "bob@small.example", &["https://small.example/pricing"]).await;
    let before = store.scores(&[ann]).await.unwrap().remove(0);
    app.merge_contacts(ann, bob, &Actor::Operator).await.unwrap();
    assert!(app.wait_until_caught_up(Duration::from_secs(20)).await.unwrap(), "scoring caught up");
    let after = store.scores(&[ann]).await.unwrap().remove(0);
    assert!(after.assessment.as_of > before.assessment.as_of, "the merge was scored");
    let rules: Vec<String> = after.assessment.factors(after.assessment.as_of).into_iter().map(|f| f.rule).collect();
    assert!(rules.iter().any(|r| r == "pricing"), "Bob's pricing visit counts for Ann now: {rules:?}");
}
