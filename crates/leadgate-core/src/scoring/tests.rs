//! The scoring model's behaviour: rules, decay, caps, grades and their reasons.

use super::*;
use crate::expr::tests::{DAY, NOW, ann};

const MODEL: &str = r#"
half_life_days = 10

[[fit]]
name = "director or above"
when = "contact.title.matches('(?i)(director|vp|chief|head)')"
points = 20

[[fit]]
name = "big company"
when = "contact.custom.employees > 200"
points = 15

[[fit]]
name = "free mail"
when = "contact.free_mail"
points = -10

[[engagement]]
name = "page views"
when = "activity.kind == 'page_view'"
points = 2

[[engagement]]
name = "pricing"
when = "activity.kind == 'pricing_view'"
points = 10
cap = 8

[[engagement]]
name = "white paper"
when = "activity.source == 'response' && activity.offer == 'white paper'"
points = 5
"#;

fn model() -> Model {
    Model::compile(ModelSpec::parse(MODEL).unwrap()).unwrap()
}

#[test]
fn fit_adds_the_points_of_every_rule_that_holds_and_says_which() {
    let a = model().assess(&ann());
    assert_eq!(a.fit, 35);
    let rules: Vec<_> = a.fit_factors.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["director or above", "big company"]);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
}

#[test]
fn an_assessment_is_stored_without_its_repeated_names_and_read_back_whole() {
    let a = model().assess(&ann());
    assert!(!a.fit_factors.is_empty() && !a.engagement.is_empty(), "{a:?}");
    let stored = serde_json::to_string(&a).unwrap();
    assert!(!stored.contains("\"rule\"") && !stored.contains("\"errors\""), "{stored}");
    assert!(stored.contains(r#"["director or above",20]"#), "{stored}");
    // Its moment is the store's column, not repeated in it.
    assert!(!stored.contains("as_of"), "{stored}");
    let mut read = serde_json::from_str::<Assessment>(&stored).unwrap();
    read.as_of = a.as_of;
    assert_eq!(read, a);
    // As assessments were first stored: parts as objects, and the errors listed.
    let first = r#"{"fit":20,"fit_factors":[{"rule":"director or above","points":20}],
            "engagement":[{"rule":"pricing","sum":7.5,"cap":20,"activities":2}],
            "as_of":"2026-03-01T00:00:00Z","half_life_days":30.0,
            "funnel":{"grade":"mofu","reason":"came back"},"pain":{"grade":"low","reason":"none"},"errors":[]}"#;
    let read: Assessment = serde_json::from_str(first).unwrap();
    assert_eq!(read.as_of, Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap());
    assert_eq!(read.fit_factors, [FitFactor { rule: "director or above".into(), points: 20 }]);
    assert_eq!(read.engagement, [EngagementPart { rule: "pricing".into(), sum: 7.5, cap: Some(20), activities: 2 }]);
    assert_eq!(read.engagement_at(read.as_of), 7.5);
    // A stored part of the wrong shape is refused, not half read.
    let wrong = first.replace(r#"{"rule":"pricing","sum":7.5,"cap":20,"activities":2}"#, r#"[7.5, "pricing", 20, 2]"#);
    assert_ne!(wrong, first);
    assert!(serde_json::from_str::<Assessment>(&wrong).is_err());
}

#[test]
fn only_the_scores_a_definition_reads_are_computed_and_they_are_the_full_ones() {
    let compile = |s: &str| crate::definition::compile_expression(s).unwrap();
    let fit_only = compile("scores.fit > 30 && contact.country != ''");
    let needs = Needs::of([&fit_only]);
    assert_eq!(needs, Needs { fit: true, engagement: false, grades: false });
    let engaged = compile("scores.engagement > 1.0 || responses.exists(r, r.offer == 'x')");
    assert_eq!(Needs::of([&engaged]), Needs { fit: false, engagement: true, grades: false });
    assert_eq!(Needs::of([&compile("pain == 'acute'")]), Needs { fit: false, engagement: false, grades: true });
    assert_eq!(Needs::of([&fit_only, &engaged]), Needs { fit: true, engagement: true, grades: false });
    let (model, facts) = (model(), ann());
    let bound = facts.bind();
    let full = model.assess_bound(&facts, &bound);
    let fit = model.assess_only(&facts, &bound, Needs::of([&fit_only]), &mut RuleResultCache::default());
    assert_eq!((fit.fit, &fit.fit_factors), (full.fit, &full.fit_factors));
    assert_eq!(fit.engagement_at(NOW), 0.0, "engagement was not computed");
    let needs = Needs { fit: false, engagement: false, grades: true };
    let grades = model.assess_only(&facts, &bound, needs, &mut RuleResultCache::default());
    assert_eq!(grades, full, "grading needs both scores: everything is computed");
    // And only the events they read: the fit rules here read none.
    use crate::expr::EventsRead;
    assert_eq!(model.events_read(Needs::of([&fit_only])), EventsRead::default());
    let window = EventsRead { props: false, ..EventsRead::ALL };
    assert_eq!(model.events_read(Needs::of([&engaged])), window, "every activity of the window");
    assert_eq!(model.events_read(needs), window, "no rule reads their properties");
    let props = ModelSpec::parse(&format!(
        "{MODEL}\n[[engagement]]\nname = \"pro\"\nwhen = \"activity.props.plan == 'pro'\"\npoints = 1\n"
    ));
    let props = Model::compile(props.unwrap()).unwrap();
    assert_eq!(props.events_read(needs), EventsRead::ALL, "a rule reads their properties");
    let recent = ModelSpec::parse("[[fit]]\nname = \"back\"\nwhen = \"engagement.visits_7d > 1\"\npoints = 1\n");
    let recent = Model::compile(recent.unwrap()).unwrap();
    assert_eq!(recent.events_read(Needs::of([&fit_only])), EventsRead { days: 7, ..EventsRead::default() });
}

#[test]
fn rules_remembered_across_contacts_give_what_each_contact_earns() {
    let text = r#"
[[engagement]]
name = "recent views"
when = "activity.kind == 'page_view' && activity.days_ago < 3 && activity.url.matches('/page_view$')"
points = 2

[[engagement]]
name = "directors reading"
when = "activity.kind == 'page_view' && contact.title.contains('Director')"
points = 5

[[engagement]]
name = "anything with properties"
when = "activity.props.size() >= 0"
points = 1
"#;
    let model = Model::compile(ModelSpec::parse(text).unwrap()).unwrap();
    let plain: Vec<_> = model.engagement.iter().map(|r| plain_fields(&r.when)).collect();
    assert_eq!(plain[0].as_deref(), Some(&[PlainField::Kind, PlainField::DaysAgo, PlainField::Url][..]));
    assert_eq!(plain[1], None, "it reads the contact");
    assert_eq!(plain[2], None, "it reads the properties");
    // The interpreted rule reads the activity's age: remembered, keyed by it too.
    let groups: Vec<_> = model.alike.iter().map(|g| (g.fields.clone(), g.rules.clone())).collect();
    assert_eq!(groups, [(vec![PlainField::Kind, PlainField::DaysAgo, PlainField::Url], vec![0])]);
    assert_eq!(model.direct, [1, 2]);
    let compiled = ModelSpec::parse(
        "[[engagement]]\nname = \"v\"\nwhen = \"activity.kind == 'page_view'\"\npoints = 1\n\n\
             [[engagement]]\nname = \"p\"\nwhen = \"activity.url.contains('pricing') || activity.source == 'response'\"\npoints = 1\n\n\
             [[engagement]]\nname = \"r\"\nwhen = \"activity.kind == 'page_view' && activity.days_ago < 3\"\npoints = 1\n",
    );
    let compiled = Model::compile(compiled.unwrap()).unwrap();
    let groups: Vec<_> = compiled.alike.iter().map(|g| (g.fields.clone(), g.rules.clone())).collect();
    assert_eq!(
        groups,
        [(vec![PlainField::Kind, PlainField::Url, PlainField::Source], vec![0, 1])],
        "compiled rules are remembered together, keyed by every field either reads"
    );
    assert_eq!(compiled.direct, [2], "compiled and reading the age: evaluated for every activity");
    // Each rule evaluated for every activity is what remembering must give.
    let unremembered = Model { alike: vec![], direct: vec![0, 1, 2], ..compiled.clone() };
    let mut remembered = RuleResultCache::default();
    for facts in [&ann(), &ContactFacts { responses: vec![], ..ann() }, &ann()] {
        let shared = compiled.assess_only(facts, &facts.bind(), Needs::ALL, &mut remembered);
        let alone = unremembered.assess(facts);
        assert!(alone.engagement.iter().any(|p| p.activities > 0));
        assert_eq!(shared, alone);
    }
    let director = ann();
    let mut other = ann();
    other.contact.title = Some("Student".into());
    // One memory for both, in either order, gives what each is given alone.
    for (first, second) in [(&director, &other), (&other, &director)] {
        let mut remembered = RuleResultCache::default();
        for facts in [first, second] {
            let shared = model.assess_only(facts, &facts.bind(), Needs::ALL, &mut remembered);
            assert_eq!(shared, model.assess(facts));
        }
    }
    let part = |facts: &ContactFacts, rule: &str| {
        model.assess(facts).engagement.iter().find(|p| p.rule == rule).map_or(0, |p| p.activities)
    };
    assert_eq!((part(&director, "directors reading"), part(&other, "directors reading")), (4, 0));
    assert_eq!(part(&director, "recent views"), 3, "views 1, 1 and 2 days ago, not 5");
}

#[test]
fn engagement_decays_with_age_and_stops_at_its_cap() {
    let a = model().assess(&ann());
    let part = |name: &str| a.engagement.iter().find(|p| p.rule == name).unwrap();
    // Four page views, 1, 1, 2 and 5 days ago, at half-life 10 days.
    let views = 2.0 * (0.5f64.powf(0.1) * 2.0 + 0.5f64.powf(0.2) + 0.5f64.powf(0.5));
    assert!((part("page views").sum - views).abs() < 1e-9);
    assert_eq!(part("page views").activities, 4);
    // Pricing: 10 points 10 days ago (5) and 40 days ago (0.625), capped at 8.
    assert!((part("pricing").sum - 5.625).abs() < 1e-9);
    assert!((part("white paper").sum - 5.0 * 0.5f64.powf(0.3)).abs() < 1e-9);
    let expected = views + 5.625 + 5.0 * 0.5f64.powf(0.3);
    assert!((a.engagement_at(NOW) - expected).abs() < 1e-9);
    // Ten days later every part is worth half; the cap still bounds the pricing part.
    let later = Timestamp(NOW.0 + 10 * DAY);
    assert!((a.engagement_at(later) - expected / 2.0).abs() < 1e-9);
    let factors = a.factors(NOW);
    let pricing = factors.iter().find(|f| f.rule == "pricing").unwrap();
    assert_eq!(pricing.points, 5.6);
    assert!(pricing.reason.contains("2 matching activities"), "{}", pricing.reason);
    let model = model();
    let mut capped = ann();
    capped.events.push(crate::expr::facts::EventFact {
        kind: "pricing_view".into(),
        at: NOW,
        url: None,
        props: serde_json::json!({}),
    });
    let c = model.assess(&capped);
    let f = c.factors(NOW);
    let pricing = f.iter().find(|f| f.rule == "pricing").unwrap();
    assert_eq!(pricing.points, 8.0);
    assert!(pricing.reason.ends_with("capped"), "{}", pricing.reason);
}

#[test]
fn the_built_in_grades_read_what_the_contact_did() {
    let a = model().assess(&ann());
    // Ann viewed pricing 10 days ago: bottom of the funnel; she keeps coming back.
    assert_eq!(a.funnel.grade, FunnelPosition::Bofu);
    assert!(a.funnel.reason.contains("pricing"));
    assert_eq!(a.pain.grade, Pain::Medium);
    let mut quiet = ann();
    quiet.events.clear();
    quiet.responses.truncate(1);
    quiet.responses[0].action = "form_fill".into();
    let q = model().assess(&quiet);
    assert_eq!((q.funnel.grade, q.pain.grade), (FunnelPosition::Tofu, Pain::Low));
}

#[test]
fn a_model_says_which_stored_scores_its_rules_read() {
    let with = |extra: &str| Model::compile(ModelSpec::parse(&format!("{MODEL}\n{extra}")).unwrap()).unwrap();
    let fit = |when: &str| format!("[[fit]]\nname = \"x\"\nwhen = \"{when}\"\npoints = 1\n");
    assert_eq!(with("").reads_stored(), StoredRead::Nothing);
    assert_eq!(with(&fit("scores.fit > 3")).reads_stored(), StoredRead::Scores);
    assert_eq!(with(&fit("pain == 'acute'")).reads_stored(), StoredRead::Scores);
    assert_eq!(with(&fit("scores.engagement > 3.0")).reads_stored(), StoredRead::WithEngagement);
    let graded = "[[funnel]]\nposition = \"bofu\"\nwhen = \"scores.likelihood > 0.5\"\nreason = \"likely\"\n\
                      [[funnel]]\nposition = \"tofu\"\nwhen = \"true\"\nreason = \"default\"\n";
    assert_eq!(with(graded).reads_stored(), StoredRead::Scores, "grades read the stored likelihood");
    let fresh = "[[funnel]]\nposition = \"bofu\"\nwhen = \"scores.fit > 30\"\nreason = \"fits\"\n\
                     [[funnel]]\nposition = \"tofu\"\nwhen = \"true\"\nreason = \"default\"\n";
    assert_eq!(with(fresh).reads_stored(), StoredRead::Nothing, "grades read the fresh fit");
}

#[test]
fn a_model_may_bring_its_own_grades_and_they_may_read_the_scores() {
    let text = format!(
        "{MODEL}\n[[funnel]]\nposition = \"bofu\"\nwhen = \"scores.fit >= 35\"\nreason = \"fits\"\n\
             [[funnel]]\nposition = \"tofu\"\nwhen = \"true\"\nreason = \"default\"\n\
             [[pain]]\nlevel = \"acute\"\nwhen = \"qualification.budget == 'confirmed'\"\nreason = \"budget\"\n"
    );
    let m = Model::compile(ModelSpec::parse(&text).unwrap()).unwrap();
    let a = m.assess(&ann());
    assert_eq!((a.funnel.grade, a.funnel.reason.as_str()), (FunnelPosition::Bofu, "fits"));
    assert_eq!((a.pain.grade, a.pain.reason.as_str()), (Pain::Acute, "budget"));
}

#[test]
fn json_models_read_the_same() {
    let spec = ModelSpec::parse(MODEL).unwrap();
    let json = serde_json::to_string(&spec).unwrap();
    assert_eq!(ModelSpec::parse(&json).unwrap(), spec);
}

#[test]
fn a_rule_that_fails_for_one_contact_is_reported_and_the_others_still_count() {
    let text = MODEL.replace("contact.custom.employees > 200", "contact.custom.missing > 200");
    let a = Model::compile(ModelSpec::parse(&text).unwrap()).unwrap().assess(&ann());
    assert_eq!(a.fit, 20);
    assert_eq!(a.errors.len(), 1);
    assert_eq!(a.errors[0].rule, "fit: big company");
}

#[test]
fn rules_skipped_for_other_kinds_count_what_evaluating_them_would() {
    // `(…) == true` says the same without beginning with the kind: evaluated for
    // every activity.
    let unguarded = MODEL
        .replace("\"activity.kind == 'page_view'\"", "\"(activity.kind == 'page_view') == true\"")
        .replace("\"activity.kind == 'pricing_view'\"", "\"(activity.kind == 'pricing_view') == true\"");
    assert_ne!(unguarded, MODEL);
    let assess = |text: &str| Model::compile(ModelSpec::parse(text).unwrap()).unwrap().assess(&ann());
    let (guarded, unguarded) = (assess(MODEL), assess(&unguarded));
    assert_eq!(guarded.engagement, unguarded.engagement);
    assert!(guarded.engagement.iter().all(|p| p.activities > 0), "{:?}", guarded.engagement);
    // A rule that fails on the activities of its kind is still reported.
    let failing =
        MODEL.replace("activity.kind == 'pricing_view'", "activity.kind == 'pricing_view' && activity.props.nope");
    let errors = assess(&failing).errors;
    assert!(!errors.is_empty() && errors.iter().all(|e| e.rule == "engagement: pricing"), "{errors:?}");
}

#[test]
fn a_wrong_model_names_the_rule_and_the_field() {
    let cases = [
        (MODEL.replace("half_life_days = 10", "half_life_days = 0"), "half_life_days"),
        (MODEL.replace("points = 15", "points = 5000"), "fit[1].points"),
        (MODEL.replace("name = \"big company\"", "name = \"director or above\""), "fit[1].name"),
        (MODEL.replace("activity.kind == 'pricing_view'", "activity.knd == 'pricing_view'"), "engagement[1].when"),
        (MODEL.replace("contact.free_mail", "activity.kind == 'x'"), "fit[2].when"),
        (format!("{MODEL}\n[[fit]]\nname = \"x\"\nwhen = \"true\"\npoints = 1\ncap = 3\n"), "fit[3].cap"),
        (format!("{MODEL}\n[[pain]]\nlevel = \"severe\"\nwhen = \"true\"\nreason = \"r\"\n"), "pain[0].grade"),
        (format!("{MODEL}\n[[pain]]\nlevel = \"low\"\nwhen = \"pain == 'low'\"\nreason = \"r\"\n"), "pain[0].when"),
    ];
    for (text, field) in cases {
        assert_ne!(text, MODEL, "the case for {field} changes the model");
        let err = ModelSpec::parse(&text).and_then(Model::compile).expect_err(field);
        assert_eq!(err.field, field, "{err}");
    }
    let err = ModelSpec::parse("[[fit]]\nname = \"x\"\nwhen = \"true\"\npoints = 1\ncolour = 2\n").unwrap_err();
    assert!(err.message.contains("colour"), "{err}");
    // Parsing reads the model's shape; a field an expression misspells is found when
    // it is compiled, which says where.
    let misspelt = MODEL.replace("activity.kind == 'pricing_view'", "activity.knd == 'pricing_view'");
    assert_ne!(misspelt, MODEL);
    let spec = ModelSpec::parse(&misspelt).expect("the shape of the model is right");
    let e = Model::compile(spec).unwrap_err();
    assert_eq!(e.field, "engagement[1].when", "{e}");
    let at = e.expression.unwrap();
    assert_eq!((at.line, at.column), (Some(1), Some(9)));
    assert!(at.message.contains("did you mean `kind`?"));
}

#[test]
fn scores_that_only_decayed_have_the_digest_they_had_and_any_other_change_a_new_one() {
    let model = model();
    let scores = |facts: &crate::expr::facts::ContactFacts, likelihood: Option<f64>| ContactScores {
        contact_id: facts.contact.id,
        model: "m@1".into(),
        assessment: model.assess(facts),
        likelihood,
        likelihood_factors: None,
        likelihood_model: likelihood.map(|_| "likelihood@1".into()),
        stored_form: Default::default(),
    };
    let first = scores(&ann(), None);
    // Assessed again three days and a few seconds later: every engagement sum is
    // smaller, and what the scores say has not changed.
    let mut later = ann();
    later.now = Timestamp(NOW.0 + 3 * DAY + 4_321_987);
    let again = scores(&later, None);
    assert_ne!(again.assessment.engagement, first.assessment.engagement);
    assert_eq!(again.digest(), first.digest());
    // One more page view, a week old: the same rules, a larger sum and count.
    let mut viewed = later.clone();
    viewed.events.push(crate::expr::facts::EventFact {
        kind: "page_view".into(),
        at: Timestamp(NOW.0 - 7 * DAY),
        url: None,
        props: serde_json::json!({}),
    });
    assert_ne!(scores(&viewed, None).digest(), first.digest());
    // A different title: fit and its factors.
    let mut retitled = later.clone();
    retitled.contact.title = Some("Intern".into());
    assert_ne!(scores(&retitled, None).digest(), first.digest());
    // A likelihood, then another; another model.
    assert_ne!(scores(&later, Some(0.25)).digest(), first.digest());
    assert_ne!(scores(&later, Some(0.25)).digest(), scores(&later, Some(0.26)).digest());
    assert_ne!(ContactScores { model: "m@2".into(), ..scores(&later, None) }.digest(), first.digest());
    // Any one part of what is said: a grade's reason, a failure, a cap, the half-life,
    // a factor's name, the likelihood's factors.
    let changed = |change: fn(&mut ContactScores)| {
        let mut s = scores(&later, None);
        change(&mut s);
        s.digest()
    };
    assert_ne!(changed(|s| s.assessment.funnel.reason.push('!')), first.digest());
    // The same likelihood from another version of the likelihood model.
    let retrained = |version: &str| ContactScores {
        likelihood_model: Some(format!("likelihood@{version}")),
        ..scores(&later, Some(0.25))
    };
    assert_ne!(retrained("2").digest(), retrained("1").digest());
    assert_ne!(changed(|s| s.assessment.pain.reason.push('!')), first.digest());
    assert_ne!(
        changed(|s| s.assessment.errors.push(RuleFailure { rule: "r".into(), message: "m".into() })),
        first.digest()
    );
    assert_ne!(changed(|s| s.assessment.engagement[0].cap = Some(1_000)), first.digest());
    assert_ne!(changed(|s| s.assessment.half_life_days = 11.0), first.digest());
    assert_ne!(changed(|s| s.assessment.fit_factors[0].rule.push('!')), first.digest());
    assert_ne!(changed(|s| s.likelihood_factors = Some(serde_json::json!([]))), first.digest());
}
