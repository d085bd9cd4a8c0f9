//! Backtests: a definition run on contacts as they were at a past date, measured
//! against how they actually ended.
//!
//! A contact "as it was" at `as_of` is rebuilt from its history: it existed (created
//! at or before then), its stage is where its stage changes up to then led, its
//! responses and events are those up to then, and every field changed since (by an
//! import, a qualifier) is set back to what it was, from the recorded changes. What
//! it became is read from the stage changes after `as_of`: whether it reached `sql`,
//! `opportunity`, `customer`, and the value it closed for.

use crate::Timestamp;
use crate::expr::facts::{ContactFacts, EventFact};
use crate::lifecycle::{Stage, StageStep};
use crate::model::{Contact, ContactChange, Qualification, Response};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Everything recorded of one contact, as a backtest reads it.
#[derive(Debug, Clone)]
pub struct History {
    pub contact: Contact,
    pub account: Option<crate::model::Account>,
    pub qualification: Qualification,
    pub responses: Vec<Response>,
    /// The events read: those of the window its expressions read, at least.
    pub events: Vec<EventFact>,
    /// When its latest event at or before the date happened, when that was read
    /// (`events` alone may not reach back to it).
    pub last_event: Option<Timestamp>,
    /// Where it went, oldest first.
    pub stages: Vec<StageStep>,
    /// Oldest first.
    pub changes: Vec<ContactChange>,
}

/// What a contact became after the backtest's date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sql: bool,
    pub opportunity: bool,
    pub customer: bool,
    /// The value of the deal it closed, in minor units.
    pub value: i64,
}

/// A field as it was before a recorded change: `from` of the earliest change after
/// the date.
fn set_back(contact: &mut Contact, q: &mut Qualification, field: &str, from: &Value) {
    let text = from.as_str().map(str::to_owned);
    match field {
        "email" => contact.email = text,
        "first_name" => contact.first_name = text,
        "last_name" => contact.last_name = text,
        "company" => contact.company = text,
        "title" => contact.title = text,
        "phone" => contact.phone = text,
        "country" => contact.country = text,
        "owner" => contact.owner = text,
        "channel" => contact.channel = text,
        "do_not_email" => contact.do_not_email = from.as_bool().unwrap_or(false),
        "do_not_call" => contact.do_not_call = from.as_bool().unwrap_or(false),
        "direction" => {
            if let Some(d) = from.as_str().and_then(crate::Direction::parse) {
                contact.direction = d;
            }
        }
        "account_id" => contact.account_id = from.as_str().and_then(|id| Uuid::parse_str(id).ok()),
        "qualification.budget" => q.budget = text,
        "qualification.authority" => q.authority = text,
        "qualification.need" => q.need = text,
        "qualification.timeline" => q.timeline = text,
        other => {
            if let Some(key) = other.strip_prefix("custom.") {
                if from.is_null() {
                    contact.custom.remove(key);
                } else {
                    contact.custom.insert(key.to_owned(), from.clone());
                }
            }
        }
    }
}

/// Sets each field a change recorded after `as_of` made back to what it was before it,
/// except the changes `kept` keeps: a field a kept change wrote keeps what it wrote,
/// whatever changed it before. `changes` oldest first. The caller drops an account the
/// contact no longer has.
pub fn set_back_after(
    contact: &mut Contact,
    qualification: &mut Qualification,
    changes: &[ContactChange],
    as_of: Timestamp,
    kept: impl Fn(&ContactChange) -> bool,
) {
    // Newest first, so that the earliest change after the date sets the field last.
    let mut pinned: Vec<&str> = Vec::new();
    for change in changes.iter().rev().filter(|c| c.at > as_of) {
        if kept(change) {
            pinned.extend(change.changes.keys().map(String::as_str));
            continue;
        }
        for (field, diff) in change.changes.iter().filter(|(f, _)| !pinned.contains(&f.as_str())) {
            set_back(contact, qualification, field, diff.get("from").unwrap_or(&Value::Null));
        }
    }
}

impl History {
    /// The contact as it was at `as_of`, or `None` if it did not exist yet. The
    /// history is taken apart into it: a backtest reads each once.
    pub fn as_of(self, as_of: Timestamp) -> Option<ContactFacts> {
        if self.contact.created_at > as_of {
            return None;
        }
        let last = self.stages.iter().filter(|s| s.at <= as_of).max_by_key(|s| s.at)?;
        let (to, at) = (last.to, last.at);
        let History { mut contact, account, mut qualification, mut responses, mut events, last_event, changes, .. } =
            self;
        contact.stage = to;
        contact.stage_at = at;
        set_back_after(&mut contact, &mut qualification, &changes, as_of, |_| false);
        let account = account.filter(|_| contact.account_id.is_some());
        let since = crate::expr::EventsRead::ALL.since(as_of);
        responses.retain(|r| r.at <= as_of);
        let last_activity = (events.iter().map(|e| e.at))
            .chain(last_event)
            .chain(responses.iter().map(|r| r.at))
            .filter(|at| *at <= as_of)
            .max();
        events.retain(|e| e.at <= as_of && e.at >= since);
        Some(ContactFacts {
            contact,
            account,
            responses,
            events,
            last_activity,
            qualification,
            scores: Default::default(),
            grades: None,
            now: as_of,
        })
    }

    /// What it became after `as_of`.
    pub fn outcome_after(&self, as_of: Timestamp) -> Outcome {
        let mut o = Outcome::default();
        for s in self.stages.iter().filter(|s| s.at > as_of) {
            match s.to {
                Stage::Sql => o.sql = true,
                Stage::Opportunity => o.opportunity = true,
                Stage::Customer => o.customer = true,
                _ => {}
            }
        }
        o.value = crate::lifecycle::value_won(self.stages.iter().filter(|s| s.at > as_of)).unwrap_or(0);
        // Reaching a later stage passes the earlier ones.
        o.opportunity |= o.customer;
        o.sql |= o.opportunity;
        o
    }
}

/// How a definition sorted the contacts, against how they ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// Contacts it passed.
    pub qualified: u64,
    /// Of those, how many later reached each stage, and the value they closed for.
    pub reached_sql: u64,
    pub reached_opportunity: u64,
    pub reached_customer: u64,
    pub value: i64,
    /// Customers among those it passed.
    pub precision: Option<f64>,
    /// Customers it passed among all customers considered.
    pub recall: Option<f64>,
    /// Contacts it could not be evaluated for (counted as not passed).
    pub failed: u64,
}

impl Tally {
    pub fn add(&mut self, passed: bool, o: Outcome) {
        if passed {
            self.qualified += 1;
            self.reached_sql += o.sql as u64;
            self.reached_opportunity += o.opportunity as u64;
            self.reached_customer += o.customer as u64;
            self.value += o.value;
        }
    }

    /// Fills precision and recall, given how many customers were considered in all.
    pub fn finish(&mut self, customers: u64) {
        self.precision = (self.qualified > 0).then(|| self.reached_customer as f64 / self.qualified as f64);
        self.recall = (customers > 0).then(|| self.reached_customer as f64 / customers as f64);
    }
}

/// A contact a draft sorts differently from the active definition, or a customer it
/// turns away.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sample {
    pub contact_id: Uuid,
    pub email: Option<String>,
    pub became_customer: bool,
    pub value: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, expr::tests::DAY, expr::tests::NOW};
    use serde_json::json;

    fn change(to: Stage, days_ago: i64, value: Option<i64>) -> StageStep {
        StageStep { to, at: Timestamp(NOW.0 - days_ago * DAY), value }
    }

    fn history() -> History {
        let mut contact = Contact::new(
            Uuid::now_v7(),
            Some("ann@acme.example".into()),
            Direction::Inbound,
            None,
            Stage::Customer,
            Timestamp(NOW.0 - 100 * DAY),
        );
        contact.title = Some("CIO".into());
        contact.custom = json!({"employees": 500}).as_object().unwrap().clone();
        History {
            contact,
            account: None,
            qualification: Qualification { budget: Some("confirmed".into()), ..Qualification::default() },
            responses: vec![],
            events: vec![
                EventFact { kind: "page_view".into(), at: Timestamp(NOW.0 - 70 * DAY), url: None, props: json!({}) },
                EventFact { kind: "page_view".into(), at: Timestamp(NOW.0 - 10 * DAY), url: None, props: json!({}) },
            ],
            last_event: None,
            stages: vec![
                change(Stage::Prospect, 100, None),
                change(Stage::Mql, 80, None),
                change(Stage::Customer, 20, Some(20_000_000)),
            ],
            changes: vec![ContactChange {
                contact_id: Uuid::nil(),
                at: Timestamp(NOW.0 - 30 * DAY),
                cause: "import x".into(),
                actor: "operator".into(),
                changes:
                    json!({"title": {"from": "IT Manager", "to": "CIO"}, "custom.employees": {"from": 150, "to": 500},
                                "qualification.budget": {"from": null, "to": "confirmed"}})
                    .as_object()
                    .unwrap()
                    .clone(),
            }],
        }
    }

    #[test]
    fn a_contact_is_rebuilt_as_it_was_and_its_later_outcome_read() {
        let h = history();
        let at = Timestamp(NOW.0 - 60 * DAY);
        let f = h.clone().as_of(at).unwrap();
        assert_eq!(f.contact.stage, Stage::Mql, "the stage it had then");
        assert_eq!(f.contact.title.as_deref(), Some("IT Manager"), "the title before it changed");
        assert_eq!(f.contact.custom["employees"], 150);
        assert_eq!(f.qualification.budget, None);
        assert_eq!(f.events.len(), 1, "only what it had done by then");
        assert_eq!(f.last_activity, Some(Timestamp(NOW.0 - 70 * DAY)));
        assert_eq!(f.now, at);
        let o = h.outcome_after(at);
        assert_eq!(o, Outcome { sql: true, opportunity: true, customer: true, value: 20_000_000 });
        // Before it existed, there is nothing to evaluate; after it closed, nothing is to come.
        assert!(h.clone().as_of(Timestamp(NOW.0 - 200 * DAY)).is_none());
        assert_eq!(h.outcome_after(Timestamp(NOW.0 - 5 * DAY)), Outcome::default());
    }

    #[test]
    fn a_kept_change_keeps_what_it_wrote_and_the_others_are_set_back() {
        let h = history();
        let (mut contact, mut q) = (h.contact.clone(), h.qualification.clone());
        contact.direction = Direction::Outbound;
        contact.account_id = Some(Uuid::now_v7());
        let change = |days_ago: i64, cause: &str, changes: serde_json::Value| ContactChange {
            contact_id: contact.id,
            at: Timestamp(NOW.0 - days_ago * DAY),
            cause: cause.into(),
            actor: "operator".into(),
            changes: changes.as_object().unwrap().clone(),
        };
        let changes = [
            // A person's edit, then the outcome's import writing the same title.
            change(30, "user", json!({"title": {"from": "IT Manager", "to": "Head of IT"}})),
            change(20, "import k", json!({"title": {"from": "Head of IT", "to": "CIO"}})),
            change(
                10,
                "import later",
                json!({
                    "direction": {"from": "inbound", "to": "outbound"},
                    "account_id": {"from": null, "to": contact.account_id},
                }),
            ),
        ];
        set_back_after(&mut contact, &mut q, &changes, Timestamp(NOW.0 - 60 * DAY), |c| c.cause == "import k");
        assert_eq!(contact.title.as_deref(), Some("CIO"), "what the kept import wrote");
        assert_eq!((contact.direction, contact.account_id), (Direction::Inbound, None));
    }

    #[test]
    fn the_last_activity_is_found_beyond_the_events_read() {
        // Only the last 30 days' events were read; the latest before them, 70 days
        // back, was read apart.
        let mut h = history();
        h.events.retain(|e| e.at.0 >= NOW.0 - 30 * DAY);
        h.last_event = Some(Timestamp(NOW.0 - 70 * DAY));
        let f = h.as_of(Timestamp(NOW.0 - 60 * DAY)).unwrap();
        assert!(f.events.is_empty());
        assert_eq!(f.last_activity, Some(Timestamp(NOW.0 - 70 * DAY)));
        let quiet = crate::expr::Expression::compile(
            "engagement.days_since_last_activity == 10",
            crate::expr::Scope::Contact,
            &crate::expr::Type::Bool,
        )
        .unwrap();
        assert_eq!(quiet.test(&f.bind()), Ok(true));
    }

    #[test]
    fn precision_and_recall_count_customers() {
        let mut t = Tally::default();
        let won = Outcome { sql: true, opportunity: true, customer: true, value: 10 };
        t.add(true, won);
        t.add(true, Outcome::default());
        t.add(false, won);
        t.finish(2);
        assert_eq!((t.qualified, t.reached_customer, t.value), (2, 1, 10));
        assert_eq!((t.precision, t.recall), (Some(0.5), Some(0.5)));
        let mut none = Tally::default();
        none.finish(0);
        assert_eq!((none.precision, none.recall), (None, None));
    }
}
