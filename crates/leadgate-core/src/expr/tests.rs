//! The language as a user writes it: what evaluates to what, and what is refused with
//! which message at which place.

use super::facts::{ActivityFacts, Bindings, ContactFacts, EventFact, ScoreFacts};
use super::{Expression, Scope, Type};
use crate::model::{Account, Contact, Qualification, Response};
use crate::{Direction, Stage, Timestamp};
use serde_json::json;
use uuid::Uuid;

pub(crate) const DAY: i64 = 86_400_000_000;
pub(crate) const NOW: Timestamp = Timestamp(1_767_225_600_000_000); // 2026-01-01

fn ago(days: i64) -> Timestamp {
    Timestamp(NOW.0 - days * DAY)
}

fn response(action: &str, offer: &str, days: i64) -> Response {
    Response {
        id: Uuid::now_v7(),
        contact_id: Uuid::nil(),
        at: ago(days),
        direction: Direction::Inbound,
        channel: Some("paid_search".into()),
        campaign: Some("crm-guide".into()),
        placement: None,
        referrer: None,
        vendor: None,
        action: action.into(),
        obtained_via: "own_form".into(),
        offer: Some(offer.into()),
        form_id: None,
        message: None,
        fields: json!({"employees": 250}).as_object().unwrap().clone(),
        contact_fields: Default::default(),
        junk: None,
        inbox_id: None,
    }
}

fn event(kind: &str, days: i64) -> EventFact {
    EventFact {
        kind: kind.into(),
        at: ago(days),
        url: Some(format!("https://acme.example/{kind}").into()),
        props: json!({}),
    }
}

pub(crate) fn ann() -> ContactFacts {
    let mut c = Contact::new(
        Uuid::now_v7(),
        Some("ann@acme.example".into()),
        Direction::Inbound,
        Some("paid_search".into()),
        Stage::Prospect,
        ago(40),
    );
    c.title = Some("Director of IT".into());
    c.stage_at = ago(12);
    c.custom = json!({"employees": 250, "industry": "software", "ratio": 0.5}).as_object().unwrap().clone();
    ContactFacts {
        contact: c,
        account: Some(Account {
            id: Uuid::now_v7(),
            domain: "acme.example".into(),
            name: Some("Acme".into()),
            created_at: ago(40),
        }),
        responses: vec![response("download", "white paper", 3), response("form_fill", "demo", 20)],
        events: vec![
            event("page_view", 1),
            event("page_view", 1),
            event("page_view", 2),
            event("page_view", 5),
            event("pricing_view", 10),
            event("pricing_view", 40),
        ],
        last_activity: Some(ago(1)),
        qualification: Qualification { budget: Some("confirmed".into()), ..Qualification::default() },
        scores: ScoreFacts { fit: 30, engagement: 12.5, likelihood: None },
        grades: Some(("mofu".into(), "medium".into())),
        now: NOW,
    }
}

fn eval(source: &str) -> cel::Value {
    let facts = ann();
    let e = Expression::compile(source, Scope::Contact, &Type::Dyn).unwrap_or_else(|e| panic!("{source}: {e}"));
    e.evaluate(&facts.bind()).unwrap_or_else(|e| panic!("{source}: {e}"))
}

#[test]
fn expressions_read_the_contact_as_a_user_expects() {
    use cel::Value::{Bool, Int};
    let cases: &[(&str, cel::Value)] = &[
        ("contact.title.contains('Director')", Bool(true)),
        ("contact.stage == 'prospect' && contact.days_in_stage == 12", Bool(true)),
        ("contact.age_days", Int(40)),
        ("contact.domain == 'acme.example' && !contact.free_mail", Bool(true)),
        ("contact.phone == ''", Bool(true)),
        ("contact.custom.employees > 200", Bool(true)),
        ("contact.custom.industry in ['software', 'saas']", Bool(true)),
        ("has(contact.custom.budget)", Bool(false)),
        ("account.name == 'Acme'", Bool(true)),
        ("size(responses)", Int(2)),
        ("responses.exists(r, r.offer == 'white paper' && r.days_ago < 7)", Bool(true)),
        ("responses.all(r, r.channel == 'paid_search')", Bool(true)),
        ("responses.filter(r, r.action == 'form_fill').size()", Int(1)),
        ("responses[0].fields.employees", Int(250)),
        ("engagement.visits_7d", Int(4)),
        ("engagement.return_visits", Int(2)),
        ("engagement.downloads_30d", Int(1)),
        ("engagement.days_since_last_activity", Int(1)),
        ("events('pricing_view', 30)", Int(1)),
        ("events('pricing_view', 90) + events('page_view', 2)", Int(4)),
        ("qualification.budget == 'confirmed' && qualification.need == ''", Bool(true)),
        ("scores.fit >= 30 && scores.engagement > 10.0", Bool(true)),
        ("funnel_position == 'mofu' && pain == 'medium'", Bool(true)),
        ("contact.title.matches('^Dir.*(IT|Ops)$')", Bool(true)),
        ("int(contact.custom.ratio * 10.0) == 5", Bool(true)),
        ("double(engagement.visits_30d) / 2.0 == 2.0", Bool(true)),
    ];
    for (source, expected) in cases {
        assert_eq!(&eval(source), expected, "{source}");
    }
}

#[test]
fn a_contact_that_never_did_anything_has_been_inactive_for_a_century() {
    let mut facts = ann();
    facts.events.clear();
    facts.responses.clear();
    facts.last_activity = None;
    let e = Expression::compile("engagement.days_since_last_activity > 90", Scope::Contact, &Type::Bool).unwrap();
    assert!(e.test(&facts.bind()).unwrap());
}

/// `(source, message fragment, line, column)`
fn refused(scope: Scope, expect: Type, cases: &[(&str, &str, Option<u32>, Option<u32>)]) {
    for (source, fragment, line, column) in cases {
        let e = Expression::compile(source, scope, &expect).expect_err(source);
        assert!(e.message.contains(fragment), "{source}: {:?} does not say {fragment:?}", e.message);
        assert_eq!((e.line, e.column), (*line, *column), "{source}: {e}");
    }
}

#[test]
fn mistakes_are_refused_with_what_was_wrong_and_where() {
    refused(
        Scope::Contact,
        Type::Bool,
        &[
            ("contact.titel == 'CEO'", "did you mean `title`?", Some(1), Some(8)),
            ("contact.stage == 'mql' &&\n  contact.titel == ''", "did you mean `title`?", Some(2), Some(10)),
            ("contcat.title == 'CEO'", "did you mean `contact`?", Some(1), Some(1)),
            ("contact.title == 3", "string and int are never equal", Some(1), Some(15)),
            ("contact == contact", "compare their fields, as in `contact.email`", Some(1), Some(9)),
            ("responses[0] in responses", "not compared whole", Some(1), Some(14)),
            ("engagement.visits_30d > 'many'", "cannot be ordered", Some(1), Some(23)),
            ("engagement.visits_30d + 1.5 > 2.0", "same kind of number", Some(1), Some(23)),
            ("contact.title.contains(", "expression or an operator was expected", Some(1), Some(24)),
            ("contact.title &&\n  contact.stage == 'mql'", "expected true or false, found string", Some(1), Some(8)),
            ("contact.title", "gives string where bool is expected", Some(1), Some(8)),
            ("sizee(responses) > 1", "did you mean `size`?", Some(1), Some(6)),
            ("responses.exists(r, r.ofer == 'x')", "did you mean `offer`?", Some(1), Some(22)),
            ("contact.title.matches('[')", "not a valid regular expression", Some(1), Some(23)),
            ("contact.title.matches(contact.company)", "must be written as a literal", Some(1), Some(30)),
            ("contact.title.matches('^' + contact.company)", "must be written as a literal", Some(1), Some(27)),
            ("events(contact.channel, 30) > 0", "literal string", Some(1), Some(7)),
            ("events('page_view', 9999) > 0", "1 to 365 days", Some(1), Some(7)),
            ("contact['title'] == ''", "with a dot", Some(1), Some(8)),
            ("", "empty", None, None),
            ("b'bytes' == b'bytes'", "byte strings", Some(1), Some(1)),
            ("funnel_position == 'tofu' || x", "unknown variable `x`", Some(1), Some(30)),
        ],
    );
    // The rules that decide funnel position and pain cannot read them.
    refused(
        Scope::ContactBeforeGrades,
        Type::Bool,
        &[("pain == 'acute'", "unknown variable `pain`", Some(1), Some(1))],
    );
    // Engagement rules see one activity, not the contact's lists.
    refused(Scope::Activity, Type::Bool, &[("size(responses) > 0", "unknown variable `responses`", Some(1), Some(6))]);
}

#[test]
fn expressions_that_would_cost_too_much_are_refused_when_saved() {
    let long = format!("contact.title == '{}'", "x".repeat(5_000));
    let deep = format!("{}true{}", "(".repeat(200), ")".repeat(200));
    let wide = vec!["engagement.visits_7d > 1"; 120].join(" || ");
    let nested = "responses.exists(a, responses.exists(b, responses.exists(c, a == b && b == c)))";
    for (source, fragment) in [
        (long.as_str(), "longer than 4096 bytes"),
        (deep.as_str(), "does not parse"),
        (wide.as_str(), "too large"),
        (nested, "at most 2"),
        ("contact.title == '\u{0}'", "control character"),
    ] {
        let e = Expression::compile(source, Scope::Contact, &Type::Bool).expect_err(fragment);
        assert!(e.message.contains(fragment) || fragment == "does not parse", "{fragment}: {e}");
    }
}

#[test]
fn an_expression_that_fails_for_one_contact_says_why() {
    let facts = ann();
    let bound = facts.bind();
    let cases = [
        ("engagement.visits_7d / (engagement.visits_90d - 4) > 1", "division"),
        ("scores.likelihood > 0.5", "likelihood is null until a model is trained"),
        ("contact.custom.nope == 1", "no field or key"),
    ];
    for (source, fragment) in cases {
        let e = Expression::compile(source, Scope::Contact, &Type::Bool).unwrap();
        let err = e.test(&bound).expect_err(source);
        assert!(err.0.to_lowercase().contains(fragment), "{source}: {err}");
    }
}

#[test]
fn engagement_rules_see_one_activity_and_the_contact() {
    let facts = ann();
    let e = Expression::compile(
        "activity.kind == 'page_view' && activity.url.endsWith('/page_view') && contact.title != ''",
        Scope::Activity,
        &Type::Bool,
    )
    .unwrap();
    let ev = &facts.events[0];
    let bound = Bindings::activity(&facts.contact, &ActivityFacts::of_event(ev), NOW);
    assert!(e.test(&bound).unwrap());
    let other = bound.with_activity(&ActivityFacts::of_response(&facts.responses[0]));
    assert!(!e.test(&other).unwrap());
    let offer = Expression::compile(
        "activity.source == 'response' && activity.offer == 'white paper'",
        Scope::Activity,
        &Type::Bool,
    )
    .unwrap();
    assert!(offer.test(&other).unwrap());
}

#[test]
fn an_engagement_rule_that_begins_by_naming_a_kind_is_false_for_every_other_kind() {
    let kind = |source: &str| {
        Expression::compile(source, Scope::Activity, &Type::Bool).unwrap().required_kind().map(str::to_owned)
    };
    let download = Some("download".to_owned());
    assert_eq!(kind("activity.kind == 'download'"), download);
    assert_eq!(kind("'download' == activity.kind && activity.url.contains('/guide')"), download);
    assert_eq!(kind("activity.kind == 'download' && activity.url != '' && activity.days_ago < 7"), download);
    // Not when the kind is only one way for the rule to hold, or is tested after
    // something else (which may fail first).
    assert_eq!(kind("activity.kind == 'download' || activity.source == 'response'"), None);
    assert_eq!(kind("activity.url != '' && activity.kind == 'download'"), None);
    assert_eq!(kind("!(activity.kind == 'download')"), None);
    assert_eq!(kind("activity.kind != 'download'"), None);
    assert_eq!(kind("activity.kind == activity.source"), None);
    // A rule over the contact has no activity to test.
    let contact = Expression::compile("contact.channel == 'download'", Scope::Contact, &Type::Bool).unwrap();
    assert_eq!(contact.required_kind(), None);
}

proptest::proptest! {
    /// Whatever is typed, compiling and evaluating answers; nothing panics.
    #[test]
    fn any_text_compiles_or_is_refused_without_panicking(source in "[ -~\\n]{0,80}") {
        let facts = ann();
        let bound = facts.bind();
        for scope in [Scope::Contact, Scope::Activity] {
            if let Ok(e) = Expression::compile(&source, scope, &Type::Dyn) {
                let _ = e.evaluate(&bound);
            }
        }
    }

    /// Expressions built from the language's own pieces exercise the checker deeper
    /// than random text does.
    #[test]
    fn any_combination_of_known_pieces_is_checked_without_panicking(
        parts in proptest::collection::vec(proptest::sample::select(vec![
            "contact.title", "contact.custom.x", "engagement.visits_7d", "responses", "scores.likelihood",
            "==", "<", "+", "&&", "||", "!", "(", ")", "[", "]", ".exists(r,", "r.offer", "size(", "'a'",
            "1", "2.5", "null", "true", "in", "?", ":", ",", "events('page_view', 7)", ".contains(",
        ]), 0..16)
    ) {
        let source = parts.join(" ");
        let facts = ann();
        if let Ok(e) = Expression::compile(&source, Scope::Contact, &Type::Dyn) {
            let _ = e.evaluate(&facts.bind());
        }
    }
}

/// Every field the schema documents reads as a value of its documented type, in both
/// scopes: the records that read fields on access know each one.
#[test]
fn every_documented_field_reads_as_its_type() {
    use super::schema::{FieldType, variables};
    let mut facts = ann();
    facts.scores.likelihood = Some(0.25);
    let event = facts.events[0].clone();
    let activity = ActivityFacts::of_event(&event);
    let contact = facts.bind();
    let in_activity_scope = contact.with_activity(&activity);
    for scope in [Scope::Contact, Scope::Activity] {
        for (name, ty) in variables(scope) {
            let (path, object) = match &ty {
                Type::Object(o) => (name.to_owned(), *o),
                Type::List(item) => match item.as_ref() {
                    Type::Object(o) => (format!("{name}[0]"), *o),
                    _ => continue,
                },
                _ => continue,
            };
            for field in object.fields {
                let source = format!("{path}.{}", field.name);
                let e = Expression::compile(&source, scope, &Type::Dyn).unwrap_or_else(|e| panic!("{source}: {e}"));
                let bound = if scope == Scope::Activity { &in_activity_scope } else { &contact };
                let value = e.evaluate(bound).unwrap_or_else(|e| panic!("{source}: {e}"));
                let fits = matches!(
                    (&field.ty, &value),
                    (FieldType::Bool, cel::Value::Bool(_))
                        | (FieldType::Int, cel::Value::Int(_))
                        | (FieldType::Double, cel::Value::Float(_))
                        | (FieldType::String, cel::Value::String(_))
                        | (FieldType::MapOfDyn, cel::Value::Map(_))
                );
                assert!(fits, "{source} gave {value:?}, documented as {:?}", field.ty);
            }
        }
    }
}

#[test]
fn an_expression_names_what_it_reads_of_each_response() {
    let fields = |source: &str| {
        let e = Expression::compile(source, Scope::Contact, &Type::Bool).unwrap();
        e.fields_read("responses").map(|mut f| {
            f.sort();
            f
        })
    };
    let named = |names: &[&str]| Some(names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    assert_eq!(fields("size(responses) > 0 && responses.size() < 9"), named(&[]), "a count reads no field");
    assert_eq!(fields("responses.exists(r, r.action == 'demo_request')"), named(&["action"]));
    assert_eq!(
        fields("responses.all(r, r.channel == 'paid_search' || responses.exists(q, q.offer == r.vendor))"),
        named(&["channel", "offer", "vendor"]),
        "nested, each level's item"
    );
    assert_eq!(fields("responses.exists(r, r.fields.plan == 'pro')"), named(&["fields"]));
    assert_eq!(fields("contact.title == 'CIO'"), named(&[]));
    // The list used otherwise than by counting it or testing each item: any field may be read.
    assert_eq!(fields("responses[0].channel == 'paid_search'"), None);
}

#[test]
fn an_expression_names_the_events_it_reads() {
    use super::EventsRead;
    let read = |source: &str, scope: Scope| Expression::compile(source, scope, &Type::Bool).unwrap().events_read();
    let contact = |source: &str| read(source, Scope::Contact);
    let days = |days: i64| EventsRead { days, ..EventsRead::default() };
    assert_eq!(contact("contact.title == 'CIO' && size(responses) > 0"), days(0), "no events at all");
    assert_eq!(contact("engagement.visits_30d >= 2"), days(30));
    assert_eq!(contact("engagement.visits_7d > 0 || engagement.downloads_90d > 1"), days(90));
    assert_eq!(contact("engagement.return_visits > 1"), days(90));
    assert_eq!(contact("events('page_view', 200) > 0 && engagement.emails_clicked_7d > 0"), days(200));
    assert_eq!(
        contact("engagement.days_since_last_activity < 5"),
        EventsRead { days: 0, last_activity: true, props: false },
        "the last activity, however old, and no window"
    );
    assert_eq!(
        contact("engagement.emails_opened_30d > 0 && engagement.days_since_last_activity < 5"),
        EventsRead { days: 30, last_activity: true, props: false }
    );
    // An engagement rule is evaluated on every activity it is given; it reads their
    // properties only if it names them.
    let every = EventsRead { props: false, ..EventsRead::ALL };
    assert_eq!(read("activity.kind == 'page_view'", Scope::Activity), every);
    assert_eq!(read("activity.kind == 'page_view' && activity.props.plan == 'pro'", Scope::Activity), EventsRead::ALL);
    assert_eq!(read("activity.props.size() > 0", Scope::Activity), EventsRead::ALL);
    assert_eq!(every.and(EventsRead::ALL), EventsRead::ALL);
    // Windows count whole days: an event exactly 30 days old is not within 30 days, and
    // the window read starts there.
    assert_eq!(days(30).since(NOW), ago(30));
}

/// Contacts that differ where expressions look: `ann`, one with nothing recorded
/// (no responses, events, account, grades or title), one with a likelihood and
/// text in every field.
fn varied_contacts() -> Vec<ContactFacts> {
    let mut bare = ann();
    bare.responses.clear();
    bare.events.clear();
    bare.account = None;
    bare.grades = None;
    bare.contact.title = None;
    bare.contact.email = None;
    bare.last_activity = None;
    bare.qualification = Qualification::default();
    let mut full = ann();
    full.scores.likelihood = Some(0.75);
    full.contact.country = Some("Germany".into());
    full.contact.company = Some("Ácme Ünited".into());
    full.responses.push(response("demo_request", "demo", 0));
    vec![ann(), bare, full]
}

/// Every result of the compiled evaluation is the interpreter's, on each of
/// `varied_contacts` (and, in the activity scope, each of their activities).
fn agrees(e: &Expression) {
    for facts in varied_contacts() {
        let contact = facts.bind();
        let mut bound = vec![];
        if e.scope() == Scope::Activity {
            let activities = facts.events.iter().map(ActivityFacts::of_event);
            bound.extend(activities.chain(facts.responses.iter().map(ActivityFacts::of_response)));
        }
        let scoped: Vec<Bindings<'_>> = match e.scope() {
            Scope::Activity => bound.iter().map(|a| contact.with_activity(a)).collect(),
            _ => vec![contact.with_scores(&facts.scores, None)],
        };
        for b in &scoped {
            assert_eq!(e.evaluate(b), e.interpret(b), "{} on {:?}", e.source(), facts.contact.title);
            if e.result() == &Type::Bool {
                let interpreted = e.interpret(b).map(|v| v == cel::Value::Bool(true));
                assert_eq!(e.test(b).ok(), interpreted.ok(), "{}", e.source());
            }
        }
    }
}

#[test]
fn a_definition_false_whatever_the_scores_is_told_so_without_them_and_only_then() {
    let definition = |source: &str| Expression::compile(source, Scope::Contact, &Type::Bool).unwrap();
    // Ann visited in the last 30 days and responded; she is inbound, from a company domain.
    let cases = [
        // A part that reads no scores is false: false whatever they are.
        ("scores.fit >= 20 && engagement.visits_30d >= 100", true),
        ("engagement.visits_30d >= 100 && funnel_position == 'bofu'", true),
        ("scores.fit >= 20 && (contact.free_mail && size(responses) > 0)", true),
        ("scores.fit >= 20 && engagement.visits_30d >= 2 && contact.direction == 'outbound'", true),
        // Every part that reads no scores holds: the scores decide.
        ("scores.fit >= 20 && engagement.visits_30d >= 2", false),
        // False only through the scores, or not a conjunction of parts: not told.
        ("scores.fit >= 1000 && contact.title.contains('Director')", false),
        ("engagement.visits_30d >= 100 || scores.fit >= 20", false),
        ("!(scores.fit >= 20 || engagement.visits_30d >= 2)", false),
    ];
    let mut anns = 0;
    for facts in varied_contacts() {
        let contact = facts.bind();
        let is_ann = facts.contact.title.as_deref() == Some("Director of IT") && facts.responses.len() == 2;
        anns += is_ann as usize;
        for (source, on_ann) in cases {
            let e = definition(source);
            let told = e.false_whatever_scores(&contact);
            if is_ann {
                assert_eq!(told, on_ann, "{source}");
            }
            if told {
                // Then it is false with any scores and grades at all.
                for fit in [0, 20, 1_000_000] {
                    let scores = ScoreFacts { fit, engagement: 1e9, likelihood: Some(1.0) };
                    for grades in [None, Some(("bofu", "acute")), Some(("tofu", "low"))] {
                        assert_eq!(e.test(&contact.with_scores(&scores, grades)), Ok(false), "{source}");
                    }
                }
            }
        }
    }
    assert_eq!(anns, 1, "Ann is among the contacts");
}

#[test]
fn the_rules_most_models_are_made_of_are_evaluated_on_the_facts_and_agree_with_the_interpreter() {
    let contact_scope = [
        "contact.title.contains('Director') || contact.title.contains('VP')",
        "contact.channel == 'paid_search' && !contact.free_mail",
        "contact.country in ['United States', 'Germany', 'United Kingdom']",
        "responses.exists(r, r.action == 'demo_request')",
        "contact.direction == 'inbound' && contact.age_days < 60",
        "scores.fit >= 20 && engagement.visits_30d >= 2 && contact.direction == 'inbound' && !contact.free_mail && size(responses) > 0",
        "responses.exists(r, r.days_ago <= 30 && r.action in ['demo_request', 'proposal_request'])",
        "engagement.return_visits >= 2 || engagement.downloads_90d > 0 || size(responses) > 1",
        "engagement.return_visits >= 2 || engagement.downloads_30d > 0 || events('pricing_view', 90) > 0",
        "responses.all(r, r.channel == 'paid_search') ? contact.age_days : -1",
        "responses.exists(r, responses.exists(s, s.offer == r.offer && s.action != r.action))",
        "responses.exists(contact, contact.action == 'download')",
        "qualification.budget == 'confirmed' && account.name.startsWith('Ac') && account.domain.endsWith('.example')",
        "scores.engagement > 10.0 && scores.engagement <= 12.5",
        "funnel_position == 'mofu' && pain != 'acute'",
        "size(contact.company) > 3 && contact.company.size() < 20",
        "size(contact.company) == 11 || size(contact.company) == 0",
        "contact.do_not_email == false && contact.days_in_stage >= 12",
        "contact.stage in ['prospect', 'mql'] && 3 in [1, 2, 3] && true",
        "'Dir' < contact.title",
    ];
    let activity_scope = [
        "activity.kind == 'page_view'",
        "activity.kind == 'page_view' && activity.url.contains('pricing')",
        "activity.kind == 'download' || activity.source == 'response'",
        "activity.kind == 'webinar_attended' && activity.days_ago < 90",
        "activity.offer == 'white paper' && contact.title.contains('IT')",
    ];
    let all =
        contact_scope.iter().map(|s| (*s, Scope::Contact)).chain(activity_scope.iter().map(|s| (*s, Scope::Activity)));
    for (source, scope) in all {
        let e = Expression::compile(source, scope, &Type::Dyn).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert!(e.is_compiled(), "{source} is left to the interpreter");
        agrees(&e);
    }
}

#[test]
fn what_is_not_compiled_is_interpreted_and_a_value_the_compiled_form_does_not_expect_too() {
    let interpreted = [
        "contact.custom.employees > 200",
        "contact.title.matches('^Dir')",
        "double(engagement.visits_30d) / 2.0 == 2.0",
        "responses.filter(r, r.action == 'form_fill').size() == 1",
        "has(contact.custom.budget)",
        "responses[0].offer == 'white paper'",
    ];
    for source in interpreted {
        let e = Expression::compile(source, Scope::Contact, &Type::Bool).unwrap();
        assert!(!e.is_compiled(), "{source}");
        agrees(&e);
    }
    // Compiled, but a null likelihood is the interpreter's to refuse, with its message.
    let e = Expression::compile("scores.likelihood > 0.5", Scope::Contact, &Type::Bool).unwrap();
    assert!(e.is_compiled());
    let facts = ann();
    let err = e.test(&facts.bind()).unwrap_err();
    assert!(err.0.contains("scores.likelihood is null"), "{err}");
    agrees(&e);
}

/// Well-formed expressions of the parts the compiled form takes (and of a few it
/// meets only when evaluating: a null likelihood, an iteration variable outside its
/// macro), nested.
fn compilable() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    use proptest::sample::select;
    let pick = |items: &'static [&'static str]| select(items).prop_map(String::from);
    let texts = pick(&[
        "contact.title",
        "contact.email",
        "account.name",
        "funnel_position",
        "pain",
        "r.offer",
        "'a'",
        "'Director of IT'",
        "''",
        "'Ácme'",
    ]);
    let ints = pick(&[
        "contact.age_days",
        "engagement.visits_7d",
        "size(responses)",
        "events('page_view', 7)",
        "r.days_ago",
        "1",
        "40",
        "-3",
        "size(contact.title)",
        "-contact.age_days",
    ]);
    let doubles = pick(&["scores.engagement", "scores.likelihood", "2.5", "12.5", "-0.0"]);
    let comparison = pick(&["==", "!=", "<", "<=", ">", ">="]);
    let leaf = prop_oneof![
        pick(&["contact.free_mail", "true", "false", "contact.do_not_email"]),
        (ints.clone(), comparison.clone(), ints.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (texts.clone(), comparison.clone(), texts.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (doubles.clone(), comparison, doubles).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (texts.clone(), pick(&["contains", "startsWith", "endsWith"]), texts.clone())
            .prop_map(|(a, f, b)| format!("{a}.{f}({b})")),
        texts.prop_map(|a| format!("{a} in ['a', 'Director of IT', '']")),
        ints.prop_map(|a| format!("{a} in [1, 40, 4]")),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|b| format!("!({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
            inner.clone().prop_map(|b| format!("responses.exists(r, {b})")),
            inner.prop_map(|b| format!("responses.all(r, {b})")),
        ]
    })
}

proptest::proptest! {
    /// Any expression of the parts the compiled form takes gives, compiled, what the
    /// interpreter gives.
    #[test]
    fn compiled_expressions_agree_with_the_interpreter(source in compilable()) {
        if let Ok(e) = Expression::compile(&source, Scope::Contact, &Type::Dyn) {
            agrees(&e);
        }
    }
}
