//! Routing rules: which queue a contact that needs a human goes to, and how a person of
//! that queue's team is chosen.
//!
//! A rule set is versioned and ordered. When a contact enters a stage that needs a
//! human (`mql` unless the set says otherwise), the first rule whose condition holds
//! sends it to its queue; when none does, it goes to the set's fallback queue, counted,
//! never nowhere. A rule marked `at_any_stage` also routes a contact not yet with Sales
//! (suspect, prospect, mql) the moment its condition holds: an outbound list entry
//! for the Sales Development team, say. Conditions are CEL over a contact, as lead
//! definitions are, checked when the set is saved.

use super::assign::{Candidate, next_in_turn};
use crate::Timestamp;
use crate::expr::facts::Bindings;
use crate::expr::{Expression, Scope, Type};
use crate::ident::truncate;
use crate::lifecycle::Stage;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most rules a set may hold.
pub const MAX_RULES: usize = 200;
/// Most ways of choosing a person a rule may list.
const MAX_STRATEGIES: usize = 8;
/// Heaviest piece of work a rule may give.
pub const MAX_WEIGHT: i64 = 1_000;

/// How a person of the queue's team is chosen, tried in the order a rule lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The person who owns the contact's account (by email domain), if they are in the
    /// team and available.
    AccountOwner,
    /// Round robin among the people covering the contact's country or region.
    Territory,
    /// Round robin among everyone in the team.
    RoundRobin,
    /// Nobody: the item waits in the queue for whoever takes it.
    Queue,
    /// This person (an email), if they are in the team and available:
    /// `{"person": "ann@example.com"}`.
    Person(String),
}

/// A [`Strategy`] ready to run: a person named by their id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assign {
    AccountOwner,
    Territory,
    RoundRobin,
    Queue,
    Person(Uuid),
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRuleSpec {
    pub name: String,
    /// A CEL condition over the contact, as in lead definitions: `true` routes every
    /// contact that reaches it.
    pub when: String,
    /// The name of the queue.
    pub queue: String,
    /// How a person is chosen, tried in order; the default is account owner, then
    /// territory, then round robin.
    #[serde(default = "default_strategies")]
    pub assign: Vec<Strategy>,
    /// What an item of this rule weighs against a person's capacity.
    #[serde(default = "one")]
    pub weight: i64,
    /// Routes a contact not yet with Sales as soon as the condition holds, whatever
    /// its stage (suspect, prospect or mql).
    #[serde(default)]
    pub at_any_stage: bool,
}

fn default_strategies() -> Vec<Strategy> {
    vec![Strategy::AccountOwner, Strategy::Territory, Strategy::RoundRobin]
}

fn one() -> i64 {
    1
}

fn default_stages() -> Vec<Stage> {
    vec![Stage::Mql]
}

/// A rule set as written, what `PUT /v1/routing` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSetSpec {
    pub rules: Vec<RoutingRuleSpec>,
    /// Where a contact goes that no rule routes.
    pub fallback_queue: String,
    /// The stages that need a human: entering one routes a contact.
    #[serde(default = "default_stages")]
    pub stages: Vec<Stage>,
}

/// What is wrong with a rule set, and where (`rules[2].when`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RoutingError {
    pub field: String,
    pub message: String,
    /// The queue or person named that does not exist.
    pub unknown: bool,
}

fn wrong(field: impl Into<String>, message: impl Into<String>) -> RoutingError {
    RoutingError { field: field.into(), message: message.into(), unknown: false }
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: Expression,
    pub queue: Uuid,
    pub assign: Vec<Assign>,
    pub weight: i64,
    pub at_any_stage: bool,
}

/// A rule set ready to run.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub version: i64,
    pub rules: Vec<Rule>,
    pub fallback_queue: Uuid,
    pub stages: Vec<Stage>,
}

/// The stages a rule `at_any_stage` routes from: those not yet with Sales.
pub const BEFORE_SALES: [Stage; 3] = [Stage::Suspect, Stage::Prospect, Stage::Mql];

impl RuleSetSpec {
    /// Checks and compiles the set; `queue` finds a queue's id by its name, `person` a
    /// user's by their email.
    pub fn compile(
        &self,
        version: i64,
        queue: impl Fn(&str) -> Option<Uuid>,
        person: impl Fn(&str) -> Option<Uuid>,
    ) -> Result<RuleSet, RoutingError> {
        if self.rules.len() > MAX_RULES {
            return Err(wrong("rules", format!("at most {MAX_RULES} rules")));
        }
        let find = |field: String, name: &str| {
            queue(name.trim()).ok_or_else(|| RoutingError {
                message: format!("no queue is named {:?}: GET /v1/queues lists them", truncate(name, 80)),
                field,
                unknown: true,
            })
        };
        let fallback_queue = find("fallback_queue".into(), &self.fallback_queue)?;
        if self.stages.is_empty() {
            return Err(wrong("stages", "name at least one stage that needs a human, e.g. [\"mql\"]"));
        }
        if let Some(s) = self.stages.iter().find(|s| !BEFORE_SALES.contains(s)) {
            return Err(wrong("stages", format!("{s} is past the hand-off: route at suspect, prospect or mql")));
        }
        let mut names = std::collections::HashSet::new();
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, r) in self.rules.iter().enumerate() {
            let at = |part: &str| format!("rules[{i}].{part}");
            let name = r.name.trim();
            if name.is_empty() || name.chars().count() > 100 || crate::inquiry::has_control_chars(name) {
                return Err(wrong(at("name"), "a rule needs a name of 1 to 100 characters"));
            }
            if !names.insert(name.to_lowercase()) {
                return Err(wrong(at("name"), format!("two rules are named {name:?}")));
            }
            let when = Expression::compile(&r.when, Scope::Contact, &Type::Bool)
                .map_err(|e| wrong(at("when"), format!("rule {name:?}: {e}")))?;
            if r.assign.is_empty() || r.assign.len() > MAX_STRATEGIES {
                return Err(wrong(at("assign"), format!("list 1 to {MAX_STRATEGIES} ways to choose a person")));
            }
            if !(1..=MAX_WEIGHT).contains(&r.weight) {
                return Err(wrong(at("weight"), format!("a weight is 1 to {MAX_WEIGHT}")));
            }
            let mut assign = Vec::with_capacity(r.assign.len());
            for (j, strategy) in r.assign.iter().enumerate() {
                assign.push(match strategy {
                    Strategy::AccountOwner => Assign::AccountOwner,
                    Strategy::Territory => Assign::Territory,
                    Strategy::RoundRobin => Assign::RoundRobin,
                    Strategy::Queue => Assign::Queue,
                    Strategy::Person(email) => Assign::Person(person(email.trim()).ok_or_else(|| RoutingError {
                        field: at(&format!("assign[{j}]")),
                        message: format!("no user has the email {:?}: GET /v1/users lists them", truncate(email, 80)),
                        unknown: true,
                    })?),
                });
            }
            rules.push(Rule {
                name: name.to_owned(),
                when,
                queue: find(at("queue"), &r.queue)?,
                assign,
                weight: r.weight,
                at_any_stage: r.at_any_stage,
            });
        }
        Ok(RuleSet { version, rules, fallback_queue, stages: self.stages.clone() })
    }
}

/// Where a contact goes: the rule that sent it (`None`: the fallback) and its queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueChoice<'a> {
    pub rule: Option<&'a Rule>,
    pub queue: Uuid,
}

/// Why a contact is routed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// It entered a stage that needs a human.
    EnteredStage,
    /// Something else changed: only rules `at_any_stage` may route it.
    Changed,
}

/// A rule that could not be evaluated for a contact (its condition is taken as false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailure {
    pub rule: String,
    pub message: String,
}

impl RuleSet {
    /// Where a contact at `stage` goes, if anywhere: the first rule that holds, else
    /// the fallback queue when it entered a stage that needs a human.
    pub fn choose_queue(
        &self,
        stage: Stage,
        trigger: Trigger,
        bound: &Bindings<'_>,
        failures: &mut Vec<RuleFailure>,
    ) -> Option<QueueChoice<'_>> {
        let needs_human = trigger == Trigger::EnteredStage && self.stages.contains(&stage);
        if !needs_human && !BEFORE_SALES.contains(&stage) {
            return None;
        }
        for rule in self.rules.iter().filter(|r| needs_human || r.at_any_stage) {
            match rule.when.test(bound) {
                Ok(true) => return Some(QueueChoice { rule: Some(rule), queue: rule.queue }),
                Ok(false) => {}
                Err(e) => failures.push(RuleFailure { rule: rule.name.clone(), message: e.0 }),
            }
        }
        needs_human.then_some(QueueChoice { rule: None, queue: self.fallback_queue })
    }
}

/// Who of a team takes a contact, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonChoice {
    /// An index into the team's candidates; `None`: the item waits in the queue.
    pub chosen: Option<usize>,
    pub reason: String,
}

/// What choosing a person knows of the contact.
#[derive(Debug, Clone, Copy)]
pub struct Whom<'a> {
    /// The contact's id: it breaks ties in the rotation.
    pub contact_id: Uuid,
    /// The person owning the contact's account, if someone does.
    pub account_owner: Option<Uuid>,
    /// The contact's country and region (normalised by [`territory_key`]), as known.
    pub territories: &'a [String],
}

/// Chooses a person of `team` by `strategies`, in order; the first that finds someone
/// available wins. When none does, the item waits in the queue.
pub fn choose_person(
    strategies: &[Assign],
    team: &[Candidate],
    weight: i64,
    whom: Whom<'_>,
    now: Timestamp,
) -> PersonChoice {
    let mut passed = Vec::new();
    for strategy in strategies {
        match strategy {
            Assign::Person(id) => match team.iter().position(|c| c.user_id == *id) {
                Some(i) if team[i].available(weight, now) => {
                    return PersonChoice { chosen: Some(i), reason: "the person the rule names".into() };
                }
                Some(_) => passed.push("the person the rule names is away or at capacity"),
                None => passed.push("the person the rule names is not in the team"),
            },
            Assign::AccountOwner => match whom.account_owner {
                Some(owner) => match team.iter().position(|c| c.user_id == owner) {
                    Some(i) if team[i].available(weight, now) => {
                        return PersonChoice { chosen: Some(i), reason: "account owner".into() };
                    }
                    Some(_) => passed.push("the account owner is away or at capacity"),
                    None => passed.push("the account owner is not in the team"),
                },
                None => passed.push("no one owns the account"),
            },
            Assign::Territory => {
                let covering: Vec<usize> =
                    (0..team.len()).filter(|&i| whom.territories.iter().any(|t| team[i].covers(t))).collect();
                let sub: Vec<Candidate> = covering.iter().map(|&i| team[i].clone()).collect();
                match next_in_turn(&sub, weight, now, whom.contact_id) {
                    Some(j) => {
                        let territory = whom.territories.iter().find(|t| sub[j].covers(t)).cloned().unwrap_or_default();
                        return PersonChoice {
                            chosen: Some(covering[j]),
                            reason: format!("territory {territory}, next in turn"),
                        };
                    }
                    None if covering.is_empty() => passed.push("no one covers the territory"),
                    None => passed.push("everyone covering the territory is away or at capacity"),
                }
            }
            Assign::RoundRobin => match next_in_turn(team, weight, now, whom.contact_id) {
                Some(i) => return PersonChoice { chosen: Some(i), reason: "round robin, next in turn".into() },
                None if team.is_empty() => passed.push("the team has no one"),
                None => passed.push("everyone in the team is away or at capacity"),
            },
            Assign::Queue => return PersonChoice { chosen: None, reason: "left in the queue for the team".into() },
        }
    }
    let reason = if passed.is_empty() {
        "left in the queue".to_owned()
    } else {
        format!("left in the queue: {}", passed.join("; "))
    };
    PersonChoice { chosen: None, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;
    use crate::expr::facts::ContactFacts;
    use crate::handoff::assign::territory_key;
    use crate::model::Contact;

    const INBOUND: Uuid = Uuid::from_u128(1);
    const OUTBOUND: Uuid = Uuid::from_u128(2);

    fn queues(name: &str) -> Option<Uuid> {
        match name {
            "Market Response" => Some(INBOUND),
            "Sales Development" => Some(OUTBOUND),
            _ => None,
        }
    }

    fn rule(name: &str, when: &str, queue: &str) -> RoutingRuleSpec {
        RoutingRuleSpec {
            name: name.into(),
            when: when.into(),
            queue: queue.into(),
            assign: default_strategies(),
            weight: 1,
            at_any_stage: false,
        }
    }

    fn set(rules: Vec<RoutingRuleSpec>) -> RuleSetSpec {
        RuleSetSpec { rules, fallback_queue: "Market Response".into(), stages: default_stages() }
    }

    fn facts(direction: Direction, stage: Stage, country: &str) -> ContactFacts {
        let mut contact = Contact::new(Uuid::from_u128(9), None, direction, None, stage, Timestamp(0));
        contact.country = Some(country.into());
        ContactFacts {
            contact,
            account: None,
            responses: vec![],
            events: vec![],
            last_activity: None,
            qualification: Default::default(),
            scores: Default::default(),
            grades: None,
            now: Timestamp(0),
        }
    }

    fn people(email: &str) -> Option<Uuid> {
        (email == "ann@leadgate.example").then_some(Uuid::from_u128(3))
    }

    fn queue_of(set: &RuleSet, f: &ContactFacts, trigger: Trigger) -> Option<(Option<String>, Uuid)> {
        let mut failures = vec![];
        set.choose_queue(f.contact.stage, trigger, &f.bind(), &mut failures)
            .map(|c| (c.rule.map(|r| r.name.clone()), c.queue))
    }

    #[test]
    fn the_first_rule_that_holds_routes_and_no_rule_means_the_fallback() {
        let mut outbound = rule("outbound lists", "contact.direction == \"outbound\"", "Sales Development");
        outbound.at_any_stage = true;
        let spec = set(vec![outbound, rule("germany", "contact.country == \"DE\"", "Sales Development")]);
        let set = spec.compile(1, queues, people).unwrap();
        let enters = Trigger::EnteredStage;
        assert_eq!(
            queue_of(&set, &facts(Direction::Inbound, Stage::Mql, "DE"), enters),
            Some((Some("germany".into()), OUTBOUND))
        );
        assert_eq!(queue_of(&set, &facts(Direction::Inbound, Stage::Mql, "FR"), enters), Some((None, INBOUND)));
        // A suspect from an outbound list is routed as soon as it is seen.
        assert_eq!(
            queue_of(&set, &facts(Direction::Outbound, Stage::Suspect, "FR"), Trigger::Changed),
            Some((Some("outbound lists".into()), OUTBOUND))
        );
        // An inbound suspect needs no one yet; Sales' contacts are never routed again.
        assert_eq!(queue_of(&set, &facts(Direction::Inbound, Stage::Suspect, "DE"), Trigger::Changed), None);
        assert_eq!(queue_of(&set, &facts(Direction::Outbound, Stage::Sal, "DE"), Trigger::Changed), None);
        assert_eq!(queue_of(&set, &facts(Direction::Outbound, Stage::Nurture, "DE"), Trigger::Changed), None);
    }

    #[test]
    fn a_rule_set_naming_unknown_queues_or_bad_conditions_is_refused_where_it_is_wrong() {
        let err = |s: RuleSetSpec| s.compile(1, queues, people).unwrap_err();
        let e = err(set(vec![rule("a", "true", "Nowhere")]));
        assert_eq!((e.field.as_str(), e.unknown), ("rules[0].queue", true));
        let e = err(RuleSetSpec { fallback_queue: "Nowhere".into(), ..set(vec![]) });
        assert_eq!(e.field, "fallback_queue");
        let e = err(set(vec![
            rule("a", "true", "Market Response"),
            rule("b", "contact.titel == \"x\"", "Market Response"),
        ]));
        assert_eq!(e.field, "rules[1].when");
        assert!(e.message.contains("title"), "suggests the field: {e}");
        assert_eq!(err(set(vec![rule("a", "1 + 1", "Market Response")])).field, "rules[0].when");
        assert_eq!(
            err(set(vec![rule("a", "true", "Market Response"), rule("A", "true", "Market Response")])).field,
            "rules[1].name"
        );
        assert_eq!(
            err(set(vec![RoutingRuleSpec { weight: 0, ..rule("a", "true", "Market Response") }])).field,
            "rules[0].weight"
        );
        assert_eq!(
            err(set(vec![RoutingRuleSpec { assign: vec![], ..rule("a", "true", "Market Response") }])).field,
            "rules[0].assign"
        );
        assert_eq!(err(RuleSetSpec { stages: vec![Stage::Customer], ..set(vec![]) }).field, "stages");
        assert_eq!(err(RuleSetSpec { stages: vec![], ..set(vec![]) }).field, "stages");
        let nobody = RoutingRuleSpec {
            assign: vec![Strategy::Person("bob@leadgate.example".into())],
            ..rule("a", "true", "Market Response")
        };
        let e = err(set(vec![nobody]));
        assert_eq!((e.field.as_str(), e.unknown), ("rules[0].assign[0]", true));
        let named = RoutingRuleSpec {
            assign: vec![Strategy::Person("ann@leadgate.example".into())],
            ..rule("a", "true", "Market Response")
        };
        assert_eq!(
            set(vec![named]).compile(1, queues, people).unwrap().rules[0].assign,
            [Assign::Person(Uuid::from_u128(3))]
        );
    }

    fn person(n: u128, territories: &[&str]) -> Candidate {
        Candidate {
            user_id: Uuid::from_u128(n),
            capacity: 10,
            load: 0,
            away_until: None,
            turn: n as i64,
            territories: territories.iter().map(|t| territory_key(t)).collect(),
            in_rotation: true,
        }
    }

    #[test]
    fn a_person_is_chosen_by_owner_then_territory_then_turn_and_the_reason_says_which() {
        let team = [person(1, &["DE", "AT"]), person(2, &["FR"]), person(3, &[])];
        let de = [territory_key("de")];
        let whom = Whom { contact_id: Uuid::nil(), account_owner: Some(Uuid::from_u128(3)), territories: &de };
        let all = [Assign::AccountOwner, Assign::Territory, Assign::RoundRobin];
        let chosen = choose_person(&all, &team, 1, whom, Timestamp(0));
        assert_eq!(chosen, PersonChoice { chosen: Some(2), reason: "account owner".into() });
        let no_owner = Whom { account_owner: None, ..whom };
        assert_eq!(choose_person(&all, &team, 1, no_owner, Timestamp(0)).chosen, Some(0));
        assert!(choose_person(&all, &team, 1, no_owner, Timestamp(0)).reason.starts_with("territory de"));
        let nowhere = Whom { account_owner: None, territories: &[], ..whom };
        let by_turn = choose_person(&all, &team, 1, nowhere, Timestamp(0));
        assert_eq!(by_turn.chosen, Some(0), "the oldest turn");
        assert_eq!(by_turn.reason, "round robin, next in turn");
        // An owner outside the team is passed over, and the reason says so.
        let stranger = Whom { account_owner: Some(Uuid::from_u128(99)), territories: &[], ..whom };
        let full: Vec<Candidate> = team.iter().map(|c| Candidate { load: 10, ..c.clone() }).collect();
        let waiting = choose_person(&all, &full, 1, stranger, Timestamp(0));
        assert_eq!(waiting.chosen, None);
        assert!(
            waiting.reason.contains("not in the team") && waiting.reason.contains("at capacity"),
            "{}",
            waiting.reason
        );
        assert_eq!(choose_person(&[Assign::Queue], &team, 1, whom, Timestamp(0)).chosen, None);
        // A person the rule names, in the team: theirs; out of it, the next way.
        let named = [Assign::Person(Uuid::from_u128(2)), Assign::RoundRobin];
        assert_eq!(choose_person(&named, &team, 1, nowhere, Timestamp(0)).chosen, Some(1));
        let stranger_named = [Assign::Person(Uuid::from_u128(42)), Assign::RoundRobin];
        let chosen = choose_person(&stranger_named, &team, 1, nowhere, Timestamp(0));
        assert_eq!(chosen.chosen, Some(0));
    }
}
