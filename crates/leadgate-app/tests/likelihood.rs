//! The predictive score as a user meets it, on SQLite and PostgreSQL: trained on X
//! Education's leads with capture-time columns only it ranks buyers as well as
//! scikit-learn does; every contact carries a likelihood with the features behind it;
//! contacts whose outcome is not known are scored, not learned from; a history it
//! cannot learn from is refused and nothing is kept.

mod support;

use support::{app, import_csv};

use leadgate_app::qualification::likelihood::TrainInput;
use leadgate_app::{App, ErrorKind};
use leadgate_core::Actor;
use leadgate_core::import::Mapping;
use leadgate_core::model::ContactFilter;
use leadgate_store::Store;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

leadgate_store::on_both_stores!(
    xeducation_capture_time_columns_predict_conversion_as_well_as_the_reference,
    contacts_whose_outcome_is_not_known_are_scored_not_learned_from,
    a_history_a_model_cannot_learn_from_is_refused_and_nothing_is_kept,
    a_refused_training_leaves_the_model_in_force_and_its_scores_as_they_were,
    fields_recorded_after_the_outcome_are_not_learned_from,
);

async fn import(app: &App, csv: Vec<u8>, mapping: &Mapping) {
    let job = import_csv(app, csv, mapping).await.unwrap();
    assert_eq!(job.counts.rows_failed, 0, "{:?}", job.errors.first());
}

async fn all_ids(store: &Arc<dyn Store>) -> Vec<Uuid> {
    let mut ids = Vec::new();
    loop {
        let page = store.live_contact_ids(ids.last().copied(), None, 5_000).await.unwrap();
        if page.is_empty() {
            return ids;
        }
        ids.extend(page);
    }
}

fn train(exclude: &[&str]) -> TrainInput {
    TrainInput { exclude: Some(exclude.iter().map(|s| s.to_string()).collect()), ..TrainInput::default() }
}

async fn xeducation_capture_time_columns_predict_conversion_as_well_as_the_reference(store: Arc<dyn Store>) {
    let app = app(&store);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mapping = Mapping::from_toml(&std::fs::read_to_string(root.join("examples/xeducation.toml")).unwrap()).unwrap();
    import(&app, std::fs::read(root.join("../shared/data/xeducation/Leads.csv")).unwrap(), &mapping).await;

    // The spreadsheet's column names are not the features they became: refused, each
    // with the feature it most likely meant, before anything is learned.
    let e = app.train_likelihood(train(&["Tags", "Lead Quality"]), &Actor::Operator, &()).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("exclude"), "{e:?}");
    assert!(e.message.contains(r#""Tags" (did you mean custom.sales_tags?)"#), "{}", e.message);
    assert!(e.message.contains(r#""Lead Quality" (did you mean custom.sales_lead_quality?)"#), "{}", e.message);
    assert!(app.likelihood_model().await.is_err(), "nothing was kept");

    // With the columns the sales team filled in after contact, the figure is flattering…
    let leaky = app.train_likelihood(train(&["custom.lead_number"]), &Actor::Operator, &()).await.unwrap();
    let flattering = &leaky.model.evaluation;
    assert!(flattering.roc_auc > 0.95, "{flattering:?}");
    // …and training says so, naming the sales team's tags as what ranks it best alone
    // (no one column gives it away entirely: none is a suspect feature on its own).
    let [warning] = flattering.warnings.as_slice() else { panic!("{flattering:?}") };
    assert!(warning.contains("suspiciously high"), "{warning}");
    assert!(warning.contains("best alone are custom.sales_tags ("), "{warning}");
    assert!(flattering.suspect_features.is_empty(), "{flattering:?}");

    // …and without them it is what a model can know at capture time.
    let report =
        app.train_likelihood(train(&["custom.sales_*", "custom.lead_number"]), &Actor::Operator, &()).await.unwrap();
    let e = &report.model.evaluation;
    println!(
        "xeducation, capture-time columns: 5-fold ROC AUC {:.4}, Brier {:.4} ({} s)",
        e.roc_auc, e.brier, report.seconds
    );
    assert_eq!((e.positives, e.negatives, e.unknown), (3_561, 5_679, 0));
    assert_eq!(e.folds, 5);
    assert!(e.roc_auc >= 0.87, "5-fold ROC AUC {} is below 0.87", e.roc_auc);
    assert!(e.warnings.is_empty() && e.suspect_features.is_empty(), "an honest model is not warned of: {e:?}");
    assert!(
        e.brier < e.brier_base_rate,
        "Brier {} is no better than guessing the base rate ({})",
        e.brier,
        e.brier_base_rate
    );
    // Its likelihoods are probabilities: on contacts it was not trained on, every decile
    // reached the target about as often as it was told.
    let rate = 3_561.0 / 9_240.0;
    assert_eq!(e.reliability.iter().map(|b| b.contacts).collect::<Vec<_>>(), vec![924; 10]);
    let mean = e.reliability.iter().map(|b| b.mean_predicted).sum::<f64>() / 10.0;
    assert!((mean / rate - 1.0).abs() < 0.1, "mean likelihood {mean} against a rate of {rate}");
    for bin in &e.reliability {
        assert!((bin.mean_predicted - bin.observed_rate).abs() <= 0.05, "{:?}", e.reliability);
    }
    assert_eq!(report.model.version, 2);
    assert_eq!(app.likelihood_model().await.unwrap().version, 2);
    assert_eq!(report.rescored.assessed.contacts, 9_240);

    // Every contact carries a likelihood, explained by features the model was allowed.
    let ids = all_ids(&store).await;
    let scores = store.scores(&ids).await.unwrap();
    assert_eq!(scores.len(), 9_240);
    // The likelihoods stored average about the rate at which these contacts converted.
    let stored = scores.iter().filter_map(|s| s.likelihood).sum::<f64>() / 9_240.0;
    assert!((stored / rate - 1.0).abs() < 0.1, "stored likelihoods average {stored} against a rate of {rate}");
    for s in &scores {
        let p = s.likelihood.expect("every contact has a likelihood");
        assert_eq!(s.likelihood_model.as_deref(), Some("likelihood@2"), "the model behind it is named");
        assert!((0.0..=1.0).contains(&p));
        for f in s.likelihood_factors.as_ref().unwrap().as_array().unwrap() {
            let feature = f["feature"].as_str().unwrap();
            assert!(!feature.starts_with("custom.sales_") && feature != "custom.lead_number", "{feature}");
        }
    }
    let customers = ContactFilter { stage: Some("customer".parse().unwrap()), ..ContactFilter::default() };
    let bought = store.contacts(&customers, None, 1).await.unwrap().remove(0);
    let view = serde_json::to_value(app.contact_view(bought.id).await.unwrap()).unwrap();
    let likelihood = view["scores"]["likelihood"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&likelihood));
    assert_eq!(view["scores"]["likelihood_model"], "likelihood@2", "{}", view["scores"]);
    let features: Vec<&serde_json::Value> =
        view["scores"]["factors"].as_array().unwrap().iter().filter(|f| f.get("feature").is_some()).collect();
    assert!(!features.is_empty(), "{view}");
    assert!(features[0]["reason"].as_str().unwrap().contains("the likelihood by"), "{}", features[0]);
}

/// Forty contacts two years old, half of whom became customers (they were on the `pro`
/// plan), and twenty from last week whose outcome is still open.
fn history() -> Vec<u8> {
    let mut csv = String::from("email,created,plan,won\n");
    for i in 0..40 {
        let (plan, won) = if i % 2 == 0 { ("pro", "2024-03-01") } else { ("free", "") };
        csv += &format!("old{i}@example.com,2024-01-{:02},{plan},{won}\n", i % 28 + 1);
    }
    csv.into_bytes()
}

fn recent(now: leadgate_core::Timestamp) -> Vec<u8> {
    let week_ago = leadgate_core::Timestamp(now.0 - 7 * 86_400_000_000).to_rfc3339();
    let mut csv = String::from("email,created,plan,won\n");
    for i in 0..20 {
        csv += &format!("new{i}@example.com,{week_ago},{},\n", if i % 2 == 0 { "pro" } else { "free" });
    }
    csv.into_bytes()
}

const MAPPING: &str = r#"
[contact]
email = "email"
[contact.custom]
plan = "plan"
[response]
at = "created"
action = { value = "form_fill" }
[[stage]]
stage = { value = "customer" }
at = "won"
"#;

async fn contacts_whose_outcome_is_not_known_are_scored_not_learned_from(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml(MAPPING).unwrap();
    import(&app, history(), &mapping).await;
    import(&app, recent(app.now()), &mapping).await;
    let report = app.train_likelihood(TrainInput::default(), &Actor::Operator, &()).await.unwrap();
    let e = &report.model.evaluation;
    // The old ones are known: bought within a year, or a year passed without; the new
    // ones are neither.
    assert_eq!((e.positives, e.negatives, e.unknown), (20, 20, 20));
    // Every buyer was on `pro` and nobody else: that field gives the outcome away, and
    // training says so, with how to leave it out should it be filled in after the sale.
    // The time since a contact's last activity does not: buyers are read as of their
    // purchase, two months after they came, and the others at the same age, not a year
    // after they came, when it alone would tell them apart.
    let suspect: Vec<(&str, f64)> = e.suspect_features.iter().map(|s| (s.feature.as_str(), s.roc_auc)).collect();
    assert!(suspect.contains(&("custom.plan", 1.0)), "{e:?}");
    assert!(e.warnings[0].contains("custom.plan (ROC AUC 1.000 on its own)"), "{e:?}");
    assert!(e.warnings[0].contains("almost perfectly alone: most likely recorded after the outcome"), "{e:?}");
    assert!(!suspect.iter().any(|(f, _)| f.starts_with("engagement.")), "{e:?}");
    assert_eq!(e.warnings.len(), 3, "{e:?}");
    assert!(e.warnings.iter().any(|w| w.contains(r#"train again excluding "custom.plan""#)), "{e:?}");

    let likelihood_of = |emails: Vec<String>| {
        let store = store.clone();
        async move {
            let mut out = Vec::new();
            for email in emails {
                let c = store
                    .contacts(&ContactFilter { email: Some(email), ..ContactFilter::default() }, None, 1)
                    .await
                    .unwrap();
                let s = store.scores(&[c[0].id]).await.unwrap();
                out.push(s[0].likelihood.expect("scored"));
            }
            out
        }
    };
    let pro = likelihood_of((0..20).step_by(2).map(|i| format!("new{i}@example.com")).collect()).await;
    let free = likelihood_of((1..20).step_by(2).map(|i| format!("new{i}@example.com")).collect()).await;
    let lowest_pro = pro.iter().copied().fold(1.0, f64::min);
    let highest_free = free.iter().copied().fold(0.0, f64::max);
    assert!(lowest_pro > highest_free, "pro {pro:?} free {free:?}");

    // Two trainings at once: the second is refused while the first runs.
    let (first, second) = tokio::join!(
        app.train_likelihood(TrainInput::default(), &Actor::Operator, &()),
        app.train_likelihood(TrainInput::default(), &Actor::Operator, &()),
    );
    assert_eq!(first.unwrap().model.version, 2);
    let refused = second.unwrap_err();
    assert_eq!((refused.kind(), refused.code.as_str()), (ErrorKind::Conflict, "training"), "{refused:?}");

    // An event keeps the likelihood as the contact is scored again (a page view counts
    // under this scoring model, so that its scores change and are written).
    let views =
        "half_life_days = 30\n[[engagement]]\nname = \"views\"\nwhen = \"activity.kind == 'page_view'\"\npoints = 3\n";
    app.save_scoring_model("views", views, &Actor::Operator).await.unwrap();
    app.rescore(&()).await.unwrap();
    let c = store
        .contacts(&ContactFilter { email: Some("new0@example.com".into()), ..ContactFilter::default() }, None, 1)
        .await
        .unwrap();
    let before = store.scores(&[c[0].id]).await.unwrap().remove(0);
    app.ingest_events(
        json!({"contact_id": c[0].id, "kind": "page_view", "url": "https://example.com/pricing"}),
        &Actor::Operator,
    )
    .await
    .unwrap();
    assert!(app.wait_until_caught_up(std::time::Duration::from_secs(20)).await.unwrap(), "scoring caught up");
    let after = store.scores(&[c[0].id]).await.unwrap().remove(0);
    assert!(after.assessment.as_of > before.assessment.as_of, "the event assessed the contact");
    assert_eq!(after.assessment.engagement.len(), before.assessment.engagement.len() + 1, "{after:?}");
    assert!(after.likelihood.is_some_and(|p| (0.0..=1.0).contains(&p)));
}

async fn a_history_a_model_cannot_learn_from_is_refused_and_nothing_is_kept(store: Arc<dyn Store>) {
    let app = app(&store);
    let refused = |input: TrainInput| {
        let app = app.clone();
        async move { app.train_likelihood(input, &Actor::Operator, &()).await.unwrap_err() }
    };
    let e = refused(TrainInput::default()).await;
    assert_eq!((e.kind(), e.code.as_str()), (ErrorKind::Invalid, "no_outcomes"), "{e:?}");

    // Everyone known bought: nothing to tell buyers from the others.
    let mapping = Mapping::from_toml(MAPPING).unwrap();
    let buyers: String = (0..30).map(|i| format!("b{i}@example.com,2024-01-01,pro,2024-02-01\n")).collect();
    import(&app, format!("email,created,plan,won\n{buyers}").into_bytes(), &mapping).await;
    // Twenty more came last week: not known yet, which the refusal explains.
    import(&app, recent(app.now()), &mapping).await;
    let e = refused(TrainInput::default()).await;
    assert_eq!(e.code, "one_outcome", "{e:?}");
    assert!(e.message.contains("all 30 contacts with a known outcome reached the target"), "{}", e.message);
    assert!(
        e.message.contains("20 others are not known yet: they have not reached customer, and 365 days (the horizon)"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(r#"[[stage]] with stage = "lost""#) && e.message.contains("--horizon-days"),
        "{}",
        e.message
    );

    // Three that did not: too few for five folds.
    import(&app, b"email,created,plan,won\nx1@example.com,2024-01-01,free,\nx2@example.com,2024-01-01,free,\nx3@example.com,2024-01-01,free,\n".to_vec(), &mapping).await;
    let e = refused(TrainInput::default()).await;
    assert_eq!(e.code, "too_few_outcomes", "{e:?}");

    // Enough of both, but every feature left out: nothing to learn from.
    let more: String = (4..20).map(|i| format!("x{i}@example.com,2024-01-01,free,\n")).collect();
    import(&app, format!("email,created,plan,won\n{more}").into_bytes(), &mapping).await;
    let e = refused(TrainInput { exclude: Some(vec!["*".into()]), ..TrainInput::default() }).await;
    assert_eq!((e.kind(), e.code.as_str()), (ErrorKind::Invalid, "no_features"), "{e:?}");

    // Names of another data set's columns leave nothing out: refused, naming the feature
    // each most likely meant, rather than trained with those features left in.
    let e = refused(train(&["Plan", "custom.plan", "Lead Quality"])).await;
    assert_eq!((e.kind(), e.field.as_deref()), (ErrorKind::Invalid, Some("exclude")), "{e:?}");
    assert!(
        e.message.contains(r#"contacts with a known outcome: "Plan" (did you mean custom.plan?), "Lead Quality";"#),
        "{}",
        e.message
    );
    assert!(e.message.contains("features are contact.direction, contact.do_not_call"), "{}", e.message);

    for (input, field) in [
        (TrainInput { target: Some("banana".into()), ..TrainInput::default() }, "target"),
        (TrainInput { target: Some("prospect".into()), ..TrainInput::default() }, "target"),
        (TrainInput { horizon_days: Some(0), ..TrainInput::default() }, "horizon_days"),
        (TrainInput { budget: Some(50.0), ..TrainInput::default() }, "budget"),
        (TrainInput { exclude: Some(vec!["".into()]), ..TrainInput::default() }, "exclude"),
    ] {
        let e = refused(input).await;
        assert_eq!((e.kind(), e.field.as_deref()), (ErrorKind::Invalid, Some(field)), "{e:?}");
    }
    assert_eq!(app.likelihood_model().await.unwrap_err().code, "no_model");
    let ids = all_ids(&store).await;
    app.rescore(&()).await.unwrap();
    assert!(store.scores(&ids).await.unwrap().iter().all(|s| s.likelihood.is_none()));
}

async fn a_refused_training_leaves_the_model_in_force_and_its_scores_as_they_were(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml(MAPPING).unwrap();
    // Only those who did not buy so far: the target was never reached.
    let free: String = (0..20).map(|i| format!("f{i}@example.com,2024-01-{:02},free,\n", i + 1)).collect();
    import(&app, format!("email,created,plan,won\n{free}").into_bytes(), &mapping).await;
    let e = app.train_likelihood(TrainInput::default(), &Actor::Operator, &()).await.unwrap_err();
    assert_eq!((e.kind(), e.code.as_str()), (ErrorKind::Invalid, "one_outcome"), "{e:?}");
    assert!(e.message.contains("all 20 contacts with a known outcome did not reach the target"), "{}", e.message);
    assert_eq!(app.likelihood_model().await.unwrap_err().code, "no_model");

    import(&app, history(), &mapping).await;
    let first = app.train_likelihood(TrainInput::default(), &Actor::Operator, &()).await.unwrap();
    assert_eq!(first.model.version, 1);
    let ids = all_ids(&store).await;
    let before = store.scores(&ids).await.unwrap();
    assert_eq!(before.len(), 60);
    assert!(before.iter().all(|s| s.likelihood_model.as_deref() == Some("likelihood@1") && s.likelihood.is_some()));

    // Each bad input is refused as the caller's mistake, naming what to change.
    let never = TrainInput { target: Some("opportunity".into()), horizon_days: Some(1), ..TrainInput::default() };
    for (input, code, field) in [
        (TrainInput { exclude: Some(vec!["*".into()]), ..TrainInput::default() }, "no_features", None),
        (
            TrainInput {
                exclude: Some(vec!["contact.*".into(), "custom.*".into(), "response*".into(), "engagement.*".into()]),
                ..TrainInput::default()
            },
            "no_features",
            None,
        ),
        (never, "one_outcome", None),
        (TrainInput { horizon_days: Some(0), ..TrainInput::default() }, "invalid_value", Some("horizon_days")),
        (TrainInput { horizon_days: Some(36_500), ..TrainInput::default() }, "invalid_value", Some("horizon_days")),
        (TrainInput { horizon_days: Some(-5), ..TrainInput::default() }, "invalid_value", Some("horizon_days")),
        (TrainInput { budget: Some(0.0), ..TrainInput::default() }, "invalid_value", Some("budget")),
        (TrainInput { budget: Some(3.5), ..TrainInput::default() }, "invalid_value", Some("budget")),
        (TrainInput { budget: Some(f32::NAN), ..TrainInput::default() }, "invalid_value", Some("budget")),
        (TrainInput { target: Some("lost".into()), ..TrainInput::default() }, "invalid_stage", Some("target")),
    ] {
        let e = app.train_likelihood(input, &Actor::Operator, &()).await.unwrap_err();
        assert_eq!((e.kind(), e.code.as_str(), e.field.as_deref()), (ErrorKind::Invalid, code, field), "{e:?}");
    }
    // The model in force is still the first, and every contact's likelihood is as it was.
    assert_eq!(app.likelihood_model().await.unwrap().version, 1);
    assert_eq!(store.latest_likelihood_version().await.unwrap(), Some(1), "nothing half-saved");
    app.rescore(&()).await.unwrap();
    let after = store.scores(&ids).await.unwrap();
    let by_id = |scores: &[leadgate_core::scoring::ContactScores]| {
        let mut v: Vec<(Uuid, Option<f64>, Option<String>)> =
            scores.iter().map(|s| (s.contact_id, s.likelihood, s.likelihood_model.clone())).collect();
        v.sort_by_key(|x| x.0);
        v
    };
    assert_eq!(by_id(&after), by_id(&before));
}

/// The columns of what a training would learn from, by contact email… as features only.
async fn features_learned(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    app.likelihood_examples(TrainInput::default(), leadgate_app::export::Cells::Raw, &mut out, &()).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let header = text.lines().next().unwrap();
    header.split(',').filter(|c| !["outcome", "fold"].contains(c)).map(str::to_owned).collect()
}

async fn fields_recorded_after_the_outcome_are_not_learned_from(store: Arc<dyn Store>) {
    let app = app(&store);
    // Forty contacts came in January 2024, each with a plan.
    let people = Mapping::from_toml(
        "[contact]\nemail = \"email\"\n[contact.custom]\nplan = \"plan\"\n[response]\nat = \"created\"\n",
    )
    .unwrap();
    let mut csv = String::from("email,created,plan\n");
    for i in 0..40 {
        csv += &format!("p{i}@example.com,2024-01-{:02},{}\n", i % 28 + 1, ["pro", "free", "team"][i % 3]);
    }
    import(&app, csv.into_bytes(), &people).await;
    // A file of outcomes: half of them won in March, with the segment the deal was
    // booked under in the same row, a fact the history states together with the sale.
    let outcomes = Mapping::from_toml(
        "[contact]\nemail = \"email\"\nexisting_only = true\n[contact.custom]\nsegment = \"segment\"\n\
         [[stage]]\nstage = { value = \"customer\" }\nat = \"won\"\n",
    )
    .unwrap();
    let won: String = (0..40).step_by(2).map(|i| format!("p{i}@example.com,retail,2024-03-01\n")).collect();
    import(&app, format!("email,segment,won\n{won}").into_bytes(), &outcomes).await;
    // Today the sales team tags every one of them by how it ended: written long after
    // each outcome, it would give every outcome away.
    let tags = Mapping::from_toml(
        "[contact]\nemail = \"email\"\nexisting_only = true\ntitle = \"title\"\n[contact.custom]\ntags = \"tags\"\n",
    )
    .unwrap();
    let tagged: String = (0..40)
        .map(|i| {
            format!(
                "p{i}@example.com,{},{}\n",
                if i % 2 == 0 { "won" } else { "dead" },
                if i % 2 == 0 { "Buyer" } else { "Lost cause" }
            )
        })
        .collect();
    import(&app, format!("email,tags,title\n{tagged}").into_bytes(), &tags).await;

    let features = features_learned(&app).await;
    assert!(features.contains(&"custom.plan".to_owned()), "{features:?}");
    assert!(features.contains(&"custom.segment".to_owned()), "recorded with the outcome: {features:?}");
    assert!(!features.contains(&"custom.tags".to_owned()), "recorded after it: {features:?}");
    assert!(!features.contains(&"contact.title".to_owned()), "recorded after it: {features:?}");
    let report = app.train_likelihood(TrainInput::default(), &Actor::Operator, &()).await.unwrap();
    let e = &report.model.evaluation;
    assert_eq!((e.positives, e.negatives), (20, 20));
    assert!(!e.suspect_features.iter().any(|s| s.feature == "custom.tags" || s.feature == "contact.title"), "{e:?}");
    // The segment, which only the buyers' rows gave, is what the warning names.
    assert!(e.suspect_features.iter().any(|s| s.feature == "custom.segment"), "{e:?}");
    // Leaving out a field written after the outcome is no mistake, though it is not
    // learned from anyway.
    let excluded = TrainInput { exclude: Some(vec!["custom.tags".into()]), ..TrainInput::default() };
    app.train_likelihood(excluded, &Actor::Operator, &()).await.unwrap();
    // The contacts themselves keep what they are now.
    let c = store
        .contacts(&ContactFilter { email: Some("p0@example.com".into()), ..ContactFilter::default() }, None, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((c.custom["tags"].as_str(), c.title.as_deref()), (Some("won"), Some("Buyer")));
}
