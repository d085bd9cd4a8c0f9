//! Routing as the change feed's second consumer: a contact entering a stage that needs
//! a human (or meeting a rule that routes at any stage) is handed to a queue and a
//! person there, its SLA clock started; a contact that left the hand-off (moved on by
//! hand, merged, erased) leaves its queue. Each step locks the contacts it routes (in
//! id order) and the rotation of the teams it gives work to, so that two servers, or a
//! person accepting meanwhile, never hand one contact over twice.

use super::rules::RulesInForce;
use super::{Handoff, QueueSetup, Queues};
use crate::changes::consumers::{Consumer, Step};
use crate::qualification::assess::read_facts_with;
use crate::{App, AppError, Clock, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::changes::{Change, ChangeKind, Kinds};
use leadgate_core::erasure::AuditEntry;
use leadgate_core::expr::facts::ContactFacts;
use leadgate_core::handoff::assign::{Candidate, take_turn, territory_key};
use leadgate_core::handoff::people::{Outcome, QueueItem, User};
use leadgate_core::handoff::routing::{
    Assign, BEFORE_SALES, PersonChoice, RuleFailure, RuleSet, RuleSetSpec, Trigger, Whom, choose_person,
};
use leadgate_core::lifecycle::{Actor, Stage};
use leadgate_store::{Contacts, Store, Tx};
use prometheus_client::metrics::histogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// What can hand a contact over, or take it out of the hand-off.
const READS: [ChangeKind; 10] = [
    ChangeKind::Created,
    ChangeKind::FieldsChanged,
    ChangeKind::Response,
    ChangeKind::StageChanged,
    ChangeKind::ScoresChanged,
    ChangeKind::QualificationChanged,
    ChangeKind::Merged,
    ChangeKind::Unmerged,
    ChangeKind::Imported,
    ChangeKind::Erased,
];

pub(crate) struct Routing {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handoff: Arc<Handoff>,
    /// Seconds to decide one contact's queue and person.
    decisions: Histogram,
}

impl Routing {
    pub(crate) fn new(app: &App) -> Self {
        Self {
            store: app.store.clone(),
            clock: app.clock.clone(),
            handoff: app.handoff.clone(),
            decisions: app.handoff.decisions.clone(),
        }
    }
}

impl Consumer for Routing {
    const NAME: &'static str = "routing";

    fn kinds() -> Kinds {
        READS.into_iter().fold(Kinds::default(), Kinds::with)
    }

    async fn handle<'a>(&'a self, entries: &'a [Change], step: &'a Step<'a>) -> Result<bool, AppError> {
        let rules = self.handoff.rules(self.store.as_ref()).await?;
        let queues = self.handoff.queues(self.store.as_ref(), None).await?;
        let mut triggers: BTreeMap<Uuid, Trigger> = BTreeMap::new();
        for e in entries {
            let entered = e.detail.stages.iter().any(|s| rules.set.stages.contains(&s.to));
            let trigger = triggers.entry(e.contact_id).or_insert(Trigger::Changed);
            if entered {
                *trigger = Trigger::EnteredStage;
            }
        }
        let ids: Vec<Uuid> = triggers.keys().copied().collect();
        let erased: Vec<Uuid> =
            entries.iter().filter(|e| e.kinds.has(ChangeKind::Erased)).map(|e| e.contact_id).collect();
        let now = self.clock.now();
        let facts = read_facts_with(self.store.as_ref(), Contacts::Ids(&ids), now, rules.facts, None).await?;
        let owners = owners_of(self.store.as_ref(), &facts).await?;
        let plan = Plan {
            rules: &rules,
            queues: &queues,
            facts: &facts,
            triggers: &triggers,
            owners: &owners,
            now,
            queued: None,
            erased: &erased,
        };
        let taken = crate::retry::on_contention("routing changed contacts", || async {
            let mut tx = step.begin().await?;
            match plan.write(tx.as_mut(), &ids, &self.decisions).await {
                Ok(()) => step.commit(tx).await,
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            }
        })
        .await?;
        Ok(taken)
    }
}

/// The owners of the contacts' accounts, by email domain.
async fn owners_of(store: &dyn Store, facts: &[ContactFacts]) -> Result<HashMap<String, Uuid>, AppError> {
    let mut domains: Vec<String> = facts.iter().filter_map(|f| domain_of(&f.contact)).collect();
    domains.sort();
    domains.dedup();
    Ok(store.account_owners(&domains).await?.into_iter().collect())
}

fn domain_of(contact: &leadgate_core::model::Contact) -> Option<String> {
    contact.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_owned())
}

/// The territories a contact is in: its country, and its region or state when a
/// custom field gives one.
fn territories_of(contact: &leadgate_core::model::Contact) -> Vec<String> {
    let mut keys: Vec<String> = contact.country.iter().map(|c| territory_key(c)).collect();
    for field in ["region", "state"] {
        if let Some(serde_json::Value::String(v)) = contact.custom.get(field) {
            keys.push(territory_key(v));
        }
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// How an item is ordered after its due time: its pain, its score, its latest interest.
fn priority(f: &ContactFacts) -> (i64, f64, Option<Timestamp>) {
    let pain = match f.grades.as_ref().map(|(_, pain)| pain.as_str()) {
        Some("acute") => 2,
        Some("medium") => 1,
        _ => 0,
    };
    let score = f.scores.fit as f64 + f.scores.engagement;
    (pain, (score * 1_000.0).round() / 1_000.0, f.last_activity)
}

/// The default ways of choosing a person, for a contact no rule routed.
const FALLBACK_STRATEGIES: [Assign; 3] = [Assign::AccountOwner, Assign::Territory, Assign::RoundRobin];

/// One team's people as the rotation sees them, with the users they are.
#[derive(Default)]
pub(crate) struct TeamRotation {
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) users: Vec<User>,
}

impl TeamRotation {
    /// The users whose turn changed, with their new turn.
    pub(crate) fn turned(self) -> impl Iterator<Item = User> {
        self.users
            .into_iter()
            .zip(self.candidates)
            .filter(|(u, c)| u.turn != c.turn)
            .map(|(u, c)| User { turn: c.turn, ..u })
    }

    /// The rotations of the teams of `users` (those in no team left out).
    pub(crate) fn by_team(users: impl IntoIterator<Item = User>) -> HashMap<Uuid, TeamRotation> {
        let mut teams: HashMap<Uuid, Vec<User>> = HashMap::new();
        for user in users {
            if let Some(team) = user.team_id {
                teams.entry(team).or_default().push(user);
            }
        }
        teams.into_iter().map(|(team, users)| (team, TeamRotation::of(users))).collect()
    }

    pub(crate) fn of(users: Vec<User>) -> Self {
        let candidates = users
            .iter()
            .map(|u| Candidate {
                user_id: u.id,
                capacity: u.capacity,
                load: u.load,
                away_until: u.away_until,
                turn: u.turn,
                territories: u.territories.iter().map(|t| territory_key(t)).collect(),
                in_rotation: u.role.takes_turns(),
            })
            .collect();
        Self { candidates, users }
    }
}

/// A contact handed over: its queue, its person, why.
struct Handed<'r> {
    setup: &'r QueueSetup,
    rule: Option<&'r str>,
    weight: i64,
    strategies: &'r [Assign],
}

/// What one step of routing knows before its transaction.
struct Plan<'p> {
    rules: &'p RulesInForce,
    queues: &'p Queues,
    facts: &'p [ContactFacts],
    triggers: &'p BTreeMap<Uuid, Trigger>,
    owners: &'p HashMap<String, Uuid>,
    now: Timestamp,
    /// When each contact entered its queue, where that was before now (demo data).
    queued: Option<&'p HashMap<Uuid, Timestamp>>,
    /// Contacts erased: no one works a person who asked to be forgotten.
    erased: &'p [Uuid],
}

/// The queue `set` sends a contact to, if any, with the rule that did.
fn queue_for<'r>(
    set: &'r RuleSet,
    queues: &'r Queues,
    f: &ContactFacts,
    trigger: Trigger,
    failures: &mut Vec<RuleFailure>,
) -> Option<Handed<'r>> {
    let choice = set.choose_queue(f.contact.stage, trigger, &f.bind(), failures)?;
    let setup = queues.by_id.get(&choice.queue)?;
    Some(match choice.rule {
        Some(rule) => Handed { setup, rule: Some(&rule.name), weight: rule.weight, strategies: &rule.assign },
        None => Handed { setup, rule: None, weight: 1, strategies: &FALLBACK_STRATEGIES },
    })
}

/// Chooses a person of the queue's team for `f` and gives them the turn.
fn person_for(
    h: &Handed<'_>,
    f: &ContactFacts,
    team: &mut TeamRotation,
    owners: &HashMap<String, Uuid>,
    now: Timestamp,
) -> PersonChoice {
    let territories = territories_of(&f.contact);
    let whom = Whom {
        contact_id: f.contact.id,
        account_owner: domain_of(&f.contact).and_then(|d| owners.get(&d).copied()),
        territories: &territories,
    };
    let choice = choose_person(h.strategies, &team.candidates, h.weight, whom, now);
    if let Some(i) = choice.chosen {
        take_turn(&mut team.candidates, i, h.weight);
    }
    choice
}

/// The reason an item records: the rule (or the fallback), then how the person was
/// chosen.
fn reason_of(h: &Handed<'_>, version: i64, person: &PersonChoice, assignee: Option<&User>) -> String {
    let rule = match h.rule {
        Some(rule) => format!("rule {rule:?} (routing v{version})"),
        None => format!("no rule matched (routing v{version}): fallback queue"),
    };
    match assignee {
        Some(u) => format!("{rule} to {}; {}: {}", h.setup.queue.name, person.reason, u.email),
        None => format!("{rule} to {}; {}", h.setup.queue.name, person.reason),
    }
}

impl Plan<'_> {
    async fn write(
        &self,
        tx: &mut dyn Tx,
        ids: &[Uuid],
        decisions: &Histogram,
    ) -> Result<(), leadgate_store::StoreError> {
        let now = self.now;
        let version = self.rules.set.version;
        let stages: HashMap<Uuid, (Stage, Option<Uuid>)> =
            tx.stages_for_update(ids).await?.into_iter().map(|(id, stage, merged)| (id, (stage, merged))).collect();
        let open: HashMap<Uuid, QueueItem> =
            tx.open_items_for_update(ids).await?.into_iter().map(|i| (i.contact_id, i)).collect();
        let facts: HashMap<Uuid, &ContactFacts> = self.facts.iter().map(|f| (f.contact.id, f)).collect();
        let mut changed_items = Vec::new();
        let mut audit = Vec::new();
        let mut recount: Vec<Uuid> = Vec::new();
        for item in open.values() {
            let stage = stages.get(&item.contact_id);
            let gone = match stage {
                _ if self.erased.contains(&item.contact_id) => Some("erased".to_owned()),
                None | Some((_, Some(_))) => Some("merged".to_owned()),
                Some((s, None)) if !BEFORE_SALES.contains(s) => Some(format!("moved to {s}")),
                _ => None,
            };
            let mut item = item.clone();
            if let Some(why) = gone {
                item.closed_at = Some(now);
                item.outcome = Some(Outcome::Moved);
                recount.extend(item.assignee_id);
                audit.push(AuditEntry::new(now, &Actor::System, "contact.left_queue", item.contact_id, why));
                tx.note_change(item.contact_id, ChangeKind::Routed);
                changed_items.push(item);
            } else if let Some(f) = facts.get(&item.contact_id) {
                let (pain, score, interest) = priority(f);
                if (pain, score, interest) != (item.pain_rank, item.score, item.interest_at) {
                    (item.pain_rank, item.score, item.interest_at) = (pain, score, interest);
                    changed_items.push(item);
                }
            }
        }
        // Who is handed over, decided on the facts read, if the contact is still at
        // the stage they were read at.
        let mut failures = Vec::new();
        let mut handed: Vec<(&ContactFacts, Handed<'_>)> = Vec::new();
        for f in self.facts {
            let id = f.contact.id;
            if open.contains_key(&id) || self.erased.contains(&id) || stages.get(&id) != Some(&(f.contact.stage, None))
            {
                continue;
            }
            let trigger = self.triggers.get(&id).copied().unwrap_or(Trigger::Changed);
            let started = Instant::now();
            if let Some(h) = queue_for(&self.rules.set, self.queues, f, trigger, &mut failures) {
                decisions.observe(started.elapsed().as_secs_f64());
                handed.push((f, h));
            }
        }
        for failure in failures.iter().take(3) {
            tracing::debug!(rule = %failure.rule, message = %failure.message, "a routing rule failed for a contact");
        }
        let mut teams: Vec<Uuid> = handed.iter().map(|(_, h)| h.setup.team.id).collect();
        teams.sort();
        teams.dedup();
        let mut rotations = TeamRotation::by_team(tx.users_for_update(&teams).await?);
        let mut items = Vec::with_capacity(handed.len());
        for (f, h) in &handed {
            let started = Instant::now();
            let team = rotations.entry(h.setup.team.id).or_default();
            let person = person_for(h, f, team, self.owners, now);
            let assignee = person.chosen.map(|i| &team.users[i]);
            decisions.observe(started.elapsed().as_secs_f64());
            let (pain_rank, score, interest_at) = priority(f);
            let reason = reason_of(h, version, &person, assignee);
            let queued_at = self.queued.and_then(|q| q.get(&f.contact.id)).copied().unwrap_or(now);
            audit.push(AuditEntry::new(queued_at, &Actor::System, "contact.routed", f.contact.id, reason.clone()));
            tx.note_change(f.contact.id, ChangeKind::Routed);
            recount.extend(assignee.map(|u| u.id));
            items.push(QueueItem {
                id: Uuid::now_v7(),
                contact_id: f.contact.id,
                queue_id: h.setup.queue.id,
                assignee_id: assignee.map(|u| u.id),
                rule: h.rule.map(str::to_owned),
                rules_version: version,
                reason,
                weight: h.weight,
                queued_at,
                sla_due_at: h.setup.calendar.due(queued_at, h.setup.queue.sla),
                first_action_at: None,
                first_action_by: None,
                first_action_seconds: None,
                breached_at: None,
                escalations: 0,
                closed_at: None,
                outcome: None,
                pain_rank,
                score,
                interest_at,
            });
        }
        tx.insert_queue_items(&items).await?;
        tx.save_queue_items(&changed_items).await?;
        save_rotations(tx, rotations, recount, &audit).await
    }
}

/// What giving work, taking it back or passing it on leaves to write: the turns the
/// rotations took, the loads of the people whose items changed (`recount`), and the
/// audit of it.
pub(crate) async fn save_rotations(
    tx: &mut dyn Tx,
    rotations: HashMap<Uuid, TeamRotation>,
    mut recount: Vec<Uuid>,
    audit: &[AuditEntry],
) -> Result<(), leadgate_store::StoreError> {
    let turned: Vec<User> = rotations.into_values().flat_map(TeamRotation::turned).collect();
    tx.save_turns(&turned).await?;
    recount.sort_unstable();
    recount.dedup();
    tx.recount_loads(&recount).await?;
    tx.insert_audit_entries(audit).await
}

impl App {
    /// Hands `ids` over as if each entered a stage that needs a human at the time
    /// `queued` gives it (demo data: contacts that reached mql before anyone routed).
    pub(crate) async fn hand_over_at(&self, ids: &[Uuid], queued: &HashMap<Uuid, Timestamp>) -> Result<(), AppError> {
        let store = self.store.as_ref();
        let rules = self.handoff.rules(store).await?;
        let queues = self.handoff.queues(store, None).await?;
        let triggers: BTreeMap<Uuid, Trigger> = ids.iter().map(|id| (*id, Trigger::EnteredStage)).collect();
        let now = self.now();
        let facts = read_facts_with(store, Contacts::Ids(ids), now, rules.facts, None).await?;
        let owners = owners_of(store, &facts).await?;
        let plan = Plan {
            rules: &rules,
            queues: &queues,
            facts: &facts,
            triggers: &triggers,
            owners: &owners,
            now,
            queued: Some(queued),
            erased: &[],
        };
        crate::retry::on_contention("handing demo contacts over", || async {
            let mut tx = store.begin().await?;
            let written = plan.write(tx.as_mut(), ids, &self.handoff.decisions).await;
            crate::finish(tx, written).await
        })
        .await?;
        Ok(())
    }
}

/// A draft rule set tried on the contacts handed over last, as `POST
/// /v1/routing/preview` takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub rules: RuleSetSpec,
    /// How many of the contacts handed over last to try it on: 1 to 10,000, 100 by
    /// default.
    #[serde(default)]
    pub last: Option<i64>,
}

/// Where one contact went, and where the draft would send it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewContact {
    pub contact_id: Uuid,
    pub queued_at: Timestamp,
    pub queue: String,
    pub rule: Option<String>,
    pub assignee: Option<String>,
    pub draft_queue: Option<String>,
    pub draft_rule: Option<String>,
    pub draft_assignee: Option<String>,
    pub draft_reason: Option<String>,
    /// Whether the draft sends it to another queue or person.
    pub changed: bool,
}

/// What a draft rule set would have done with the contacts handed over last.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoutingPreview {
    pub contacts: Vec<PreviewContact>,
    /// How many each queue took, and would take under the draft (by queue name;
    /// `none` for contacts the draft leaves with nobody).
    pub by_queue: BTreeMap<String, (i64, i64)>,
    /// Contacts the draft sends to another queue or person.
    pub changed: i64,
    /// Contacts no draft rule matched, sent to its fallback queue.
    pub fallback: i64,
}

pub const PREVIEW_DEFAULT: i64 = 100;
pub const PREVIEW_MAX: i64 = 10_000;

impl App {
    /// Tries a draft rule set on the last `last` contacts handed over, as they are now:
    /// each as if it entered a stage that needs a human now, with the teams' rotation
    /// as it stands. Nothing is saved.
    pub async fn preview_routing(&self, input: &PreviewInput) -> Result<RoutingPreview, AppError> {
        let last = input.last.unwrap_or(PREVIEW_DEFAULT);
        if !(1..=PREVIEW_MAX).contains(&last) {
            return Err(crate::error::invalid(
                ErrorCode::InvalidValue,
                "last",
                format!("last must be 1 to {PREVIEW_MAX}"),
            ));
        }
        let set = self.check_routing_rules(&input.rules).await?;
        let queues = self.handoff.queues(self.store.as_ref(), None).await?;
        let recent = self.store.latest_items(last).await?;
        let ids: Vec<Uuid> = recent.iter().map(|i| i.contact_id).collect();
        let now = self.now();
        let draft = super::rules::in_force(input.rules.clone(), set, None);
        let facts = read_facts_with(self.store.as_ref(), Contacts::Ids(&ids), now, draft.facts, None).await?;
        let by_id: HashMap<Uuid, &ContactFacts> = facts.iter().map(|f| (f.contact.id, f)).collect();
        let owners = owners_of(self.store.as_ref(), &facts).await?;
        let users = self.store.users().await?;
        let email_of = |id: Option<Uuid>| id.and_then(|id| users.iter().find(|u| u.id == id).map(|u| u.email.clone()));
        let mut rotations = TeamRotation::by_team(users.iter().cloned());
        let entering = draft.set.stages.first().copied().unwrap_or(Stage::Mql);
        let (mut contacts, mut by_queue, mut changed, mut fallback) = (Vec::new(), BTreeMap::new(), 0, 0);
        let name_of = |id: Uuid| queues.by_id.get(&id).map_or_else(|| id.to_string(), |s| s.queue.name.clone());
        // Oldest first, as they were handed over: the rotation turns as it did.
        for item in recent.iter().rev() {
            let queue = name_of(item.queue_id);
            by_queue.entry(queue.clone()).or_insert((0, 0)).0 += 1;
            let mut view = PreviewContact {
                contact_id: item.contact_id,
                queued_at: item.queued_at,
                queue,
                rule: item.rule.clone(),
                assignee: email_of(item.assignee_id),
                draft_queue: None,
                draft_rule: None,
                draft_assignee: None,
                draft_reason: None,
                changed: true,
            };
            if let Some(f) = by_id.get(&item.contact_id) {
                // As if it entered the first stage that needs a human, now.
                let mut as_entering = (*f).clone();
                as_entering.contact.stage = entering;
                if let Some(h) = queue_for(&draft.set, &queues, &as_entering, Trigger::EnteredStage, &mut vec![]) {
                    let team = rotations.entry(h.setup.team.id).or_default();
                    let person = person_for(&h, f, team, &owners, now);
                    let assignee = person.chosen.map(|i| team.users[i].clone());
                    fallback += i64::from(h.rule.is_none());
                    view.draft_reason = Some(reason_of(&h, 0, &person, assignee.as_ref()));
                    view.draft_queue = Some(h.setup.queue.name.clone());
                    view.draft_rule = h.rule.map(str::to_owned);
                    view.draft_assignee = assignee.map(|u| u.email);
                }
            }
            let draft_queue = view.draft_queue.clone().unwrap_or_else(|| "none".into());
            by_queue.entry(draft_queue).or_insert((0, 0)).1 += 1;
            view.changed =
                view.draft_queue.as_deref() != Some(view.queue.as_str()) || view.draft_assignee != view.assignee;
            changed += i64::from(view.changed);
            contacts.push(view);
        }
        Ok(RoutingPreview { contacts, by_queue, changed, fallback })
    }
}
