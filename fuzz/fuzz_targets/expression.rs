//! Any text, in every scope, compiled as an expression and, when it compiles, evaluated
//! for a contact: nothing may panic, hang or grow without bound, and an expression
//! evaluated on the facts directly gives what the interpreter gives.
#![no_main]

use leadgate_core::expr::facts::{ActivityFacts, Bound, ContactFacts, EventFact, ScoreFacts};
use leadgate_core::expr::{Expression, Scope, Type};
use leadgate_core::model::{Contact, Qualification};
use leadgate_core::{Direction, Stage, Timestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const NOW: Timestamp = Timestamp(1_767_225_600_000_000);

fn facts() -> ContactFacts {
    let mut c = Contact::new(uuid::Uuid::nil(), Some("ann@acme.example".into()), Direction::Inbound, None, Stage::Prospect, Timestamp(NOW.0 - 86_400_000_000 * 30));
    c.title = Some("Director".into());
    c.custom = json!({"employees": 250, "tags": ["a", "b"], "nested": {"x": 1.5}}).as_object().unwrap().clone();
    ContactFacts {
        contact: c,
        account: None,
        responses: vec![],
        events: vec![EventFact { kind: "page_view".into(), at: NOW, url: Some("https://acme.example/pricing".into()), props: json!({"n": 1}) }],
        last_activity: Some(NOW),
        qualification: Qualification::default(),
        scores: ScoreFacts::default(),
        grades: Some(("tofu".into(), "low".into())),
        now: NOW,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let f = facts();
    let contact = f.bind();
    let activity = Bound::activity(&f.contact, &ActivityFacts::of_event(&f.events[0]), NOW);
    for (scope, bound) in [(Scope::Contact, &contact), (Scope::ContactBeforeGrades, &contact), (Scope::Activity, &activity)] {
        for expect in [Type::Bool, Type::Dyn] {
            if let Ok(e) = Expression::compile(source, scope, &expect) {
                assert_eq!(e.evaluate(bound), e.interpret(bound), "{source}");
            }
        }
    }
});
