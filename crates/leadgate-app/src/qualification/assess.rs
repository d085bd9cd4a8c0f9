//! Qualification: scoring contacts and applying the lead definitions, when something
//! happens to them and over all of them.
//!
//! The [`Assessor`] holds the active scoring model and definitions (read from the store
//! and kept for a few seconds, so that several servers pick up a change quickly without
//! reading it for every event). Assessing contacts reads what expressions need of them
//! in a handful of queries per batch, scores and grades them, writes their scores, and
//! moves those that an active definition qualifies, with the definition's
//! `name@version` as the cause. A contact whose stage changed meanwhile is left for the
//! next assessment rather than moved from a stage it is no longer at.

use crate::ErrorCode;
use crate::batch::{AccountBook, BatchesInFlight, CONTACTS_PER_CORE, LiveContacts, split_over_cores};
use crate::changes::consumers::Step;
use crate::qualification::claims::{Claim, Claims};
use crate::{AppError, Clock};
use leadgate_core::definition::{self, Active, DefinitionFailure};
use leadgate_core::expr::facts::{ContactFacts, ScoreFacts};
use leadgate_core::expr::{EventsRead, Expression};
use leadgate_core::lifecycle::{Actor, Stage};
use leadgate_core::likelihood::features::{self, Exclusions, Row};
use leadgate_core::likelihood::{Prediction, Predictor, TrainedModel};
use leadgate_core::scoring::{ContactScores, Model, ModelSpec, Needs, RuleResultCache, StoredRead};
use leadgate_core::{StageChange, Timestamp};
use leadgate_store::{
    AccountPart, ContactSnapshot, Contacts, Details, ResponseDetails, SnapshotParts, Store, StoredParts, Tx,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long the active model and definitions are kept before they are read again.
const RULES_TTL: Duration = Duration::from_secs(5);
/// Contacts assessed per batch: read, scored and written together.
pub const ASSESS_BATCH: usize = 2_000;
/// Contacts few enough to assess on the calling thread.
const INLINE_CONTACTS: usize = 8;
/// A phase of assessing a step's contacts: `read` (their facts), `evaluate` (scoring,
/// predicting, requalifying), `write` (their scores and moves, committed with the
/// consumer's step).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    pub phase: &'static str,
}

/// Upper bounds, in seconds, of the assessing time histogram: fine below the event
/// path's budget of a millisecond, coarse above.
const ASSESSING_BUCKETS: [f64; 14] =
    [0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1, 1.0];
/// The model that scores contacts while none is active: no fit or engagement rules,
/// the built-in funnel and pain rules.
pub const BUILTIN_MODEL: &str = "builtin@0";

/// The scoring model, the likelihood model and the definitions in force.
pub struct ActiveRules {
    /// `name@version` and the compiled model.
    pub model: (String, Model),
    pub likelihood: Option<Arc<Likelihood>>,
    pub definitions: Vec<Active>,
    /// What assessing reads, worked out once: it walks every rule and definition for
    /// every field, which cost an event's assessment about a fifth of its own time.
    reads: Reads,
}

/// The trained likelihood model in force.
pub struct Likelihood {
    pub model: TrainedModel,
    pub predictor: Predictor,
    pub exclude: Exclusions,
}

impl Likelihood {
    /// Each contact's likelihood and the features behind it, as of now.
    fn predict(&self, facts: &[ContactFacts]) -> Vec<Prediction> {
        let rows: Vec<Row> = facts.iter().map(|f| features::row(f, f.now, &self.exclude)).collect();
        self.predictor.predict(&rows.iter().collect::<Vec<_>>())
    }
}

/// What reading contacts for an assessment takes beside the fields of theirs that are
/// always read: their accounts, their custom fields, their details (names, title,
/// country, …), their qualification fields, their responses' details (where, what,
/// why). Each is read only when something reads it, so that a batch of contacts is
/// read and decoded with no more than that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reads {
    pub(crate) accounts: bool,
    pub(crate) custom: bool,
    pub(crate) details: Details,
    pub(crate) qualification: bool,
    pub(crate) responses: ResponseDetails,
}

impl Reads {
    /// Everything: what the likelihood model's features read (whether a contact has an
    /// account, its custom fields, its details), when learning them as much as when
    /// predicting.
    pub(crate) const ALL: Reads = Reads {
        accounts: true,
        custom: true,
        details: Details::ALL,
        qualification: true,
        responses: ResponseDetails::ALL,
    };

    /// What `model` (computing `needs`) and `expressions` read.
    pub(crate) fn of<'e>(
        model: &Model,
        needs: Needs,
        expressions: impl Iterator<Item = &'e Expression> + Clone,
    ) -> Self {
        Self::by(|variable, field| {
            model.reads(variable, field, needs) || expressions.clone().any(|e| e.reads(variable, field))
        })
    }

    /// What `expressions` alone read (routing rules: they read a contact's stored
    /// scores, never compute them).
    pub(crate) fn of_expressions<'e>(expressions: impl Iterator<Item = &'e Expression> + Clone) -> Self {
        Self::by(|variable, field| expressions.clone().any(|e| e.reads(variable, field)))
    }

    /// What is read when `reads` says a variable's field is.
    fn by(reads: impl Fn(&str, Option<&str>) -> bool) -> Self {
        Reads {
            accounts: reads("account", None),
            custom: reads("contact", Some("custom")),
            details: Details::NAMES
                .iter()
                .filter(|d| reads("contact", Some(d)))
                .fold(Details::NONE, |ds, d| ds.with(d)),
            qualification: reads("qualification", None),
            // What expressions read of each response, and what engagement rules read of
            // the activities responses are to them.
            responses: ResponseDetails::NAMES
                .iter()
                .filter(|d| reads("responses", Some(d)) || reads("activity", Some(activity_field(d))))
                .fold(ResponseDetails::NONE, |ds, d| ds.with(d)),
        }
    }

    /// What of a contact [`HistoryReads::contact_snapshots`](leadgate_store::HistoryReads::contact_snapshots) reads for
    /// these (what of its account, `account`) and the scores it had, `stored`.
    pub(crate) fn parts(self, account: AccountPart, stored: StoredParts) -> SnapshotParts {
        SnapshotParts {
            details: self.details,
            qualification: self.qualification,
            account,
            custom: self.custom,
            stage: true,
            stage_steps: false,
            responses: Some(self.responses),
            stored,
            created_by: None,
        }
    }
}

/// The field of an activity (`activity.props`) that a response's column (`fields`)
/// is, to engagement rules: the others are named alike.
fn activity_field(response_column: &str) -> &str {
    match response_column {
        "fields" => "props",
        same => same,
    }
}

impl ActiveRules {
    pub(crate) fn new(model: (String, Model), likelihood: Option<Arc<Likelihood>>, definitions: Vec<Active>) -> Self {
        let reads = match likelihood {
            Some(_) => Reads::ALL,
            None => Reads::of(&model.1, Needs::ALL, definitions.iter().map(|d| &d.expression)),
        };
        Self { model, likelihood, definitions, reads }
    }

    /// What assessing reads: what a rule or a definition reads, and everything when a
    /// likelihood model is in force (see [`Reads::ALL`]).
    pub(crate) fn reads(&self) -> Reads {
        self.reads
    }

    fn builtin() -> Model {
        let spec = ModelSpec { half_life_days: 30.0, fit: vec![], engagement: vec![], funnel: vec![], pain: vec![] };
        Model::compile(spec).expect("the built-in model compiles")
    }
}

/// What assessing some contacts did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssessReport {
    pub contacts: u64,
    /// Contacts whose scores changed; the others' were found as they were (time passing
    /// aside) and left as stored.
    pub scores_changed: u64,
    /// Contacts an active definition moved, by `name@version`.
    pub moved: u64,
    pub moves: Vec<StageChange>,
    /// Whether any lead definition was in force: without one, nobody can have moved.
    #[serde(skip)]
    pub definitions_applied: bool,
    /// Rules and definitions that could not be evaluated for some contact: how often,
    /// and the first message.
    pub failures: Vec<FailureCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FailureCount {
    pub rule: String,
    pub contacts: u64,
    pub first_message: String,
}

impl AssessReport {
    fn fail(&mut self, rule: String, message: &str) {
        if let Some(f) = self.failures.iter_mut().find(|f| f.rule == rule) {
            f.contacts += 1;
        } else if self.failures.len() < 100 {
            self.failures.push(FailureCount { rule, contacts: 1, first_message: message.to_owned() });
        }
    }

    pub fn absorb(&mut self, other: AssessReport) {
        self.contacts += other.contacts;
        self.scores_changed += other.scores_changed;
        self.definitions_applied |= other.definitions_applied;
        self.moved += other.moved;
        if self.moves.len() < 1_000 {
            self.moves.extend(other.moves.into_iter().take(1_000 - self.moves.len()));
        }
        for f in other.failures {
            match self.failures.iter_mut().find(|g| g.rule == f.rule) {
                Some(g) => g.contacts += f.contacts,
                None => self.failures.push(f),
            }
        }
    }
}

pub struct Assessor {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<(Instant, Arc<ActiveRules>)>>,
    /// The likelihood model last read, kept while it is the latest: a predictor is
    /// large and does not change once trained.
    likelihood: Mutex<Option<Arc<Likelihood>>>,
    /// The contacts being assessed, from reading them to committing their scores.
    claims: Claims,
    /// Seconds the scoring consumer took for each step's contacts, by phase: what an
    /// event's contact costs while rules are in force.
    pub(crate) timings: Family<PhaseLabel, Histogram>,
}

impl Assessor {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cached: Mutex::new(None),
            likelihood: Mutex::new(None),
            claims: Claims::default(),
            timings: Family::new_with_constructor(|| Histogram::new(ASSESSING_BUCKETS)),
        }
    }

    /// Claims `ids` for an assessment if no other assessment has any of them, without
    /// waiting (see [`crate::claims`]): held from reading them until their scores are
    /// committed, so that within this process an assessment never overwrites a fresher
    /// one with what it read before that one committed (a rescore beside a stream of
    /// events). [`Self::assess`] and [`Self::assess_every`] claim their own.
    pub fn try_claim(&self, ids: &[Uuid]) -> Option<Claim<'_>> {
        self.claims.try_claim(ids)
    }

    /// Forgets the rules read, so that the next assessment reads them again.
    pub fn forget_rules(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The rules in force.
    pub async fn rules(&self) -> Result<Arc<ActiveRules>, AppError> {
        if let Some((at, rules)) = &*self.cached.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < RULES_TTL
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(self.read_rules().await?);
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), rules.clone()));
        Ok(rules)
    }

    async fn read_rules(&self) -> Result<ActiveRules, AppError> {
        let mut model = (BUILTIN_MODEL.to_owned(), ActiveRules::builtin());
        if let Some(a) = self.store.activations("scoring").await?.into_iter().next()
            && let Some(m) = self.store.scoring_model(&a.target, Some(a.version)).await?
        {
            // A stored model compiled when it was saved; should a later version of the
            // language refuse it, contacts keep being graded by the built-in rules.
            match Model::compile(m.spec.clone()) {
                Ok(compiled) => model = (m.label(), compiled),
                Err(e) => {
                    tracing::error!(model = %m.label(), error = %e, "the active scoring model no longer compiles")
                }
            }
        }
        let likelihood = self.read_likelihood().await?;
        let mut definitions = Vec::new();
        for a in self.store.activations("definition").await? {
            let Some(d) = self.store.definition(&a.target, Some(a.version)).await? else { continue };
            match d.compile() {
                Ok(expression) => definitions.push(Active { definition: d, expression }),
                Err(e) => {
                    tracing::error!(definition = %d.label(), error = %e, "an active definition no longer compiles")
                }
            }
        }
        Ok(ActiveRules::new(model, likelihood, definitions))
    }

    async fn read_likelihood(&self) -> Result<Option<Arc<Likelihood>>, AppError> {
        let Some(latest) = self.store.latest_likelihood_version().await? else { return Ok(None) };
        if let Some(kept) = &*self.likelihood.lock().unwrap_or_else(|e| e.into_inner())
            && kept.model.version == latest
        {
            return Ok(Some(kept.clone()));
        }
        let Some((model, json)) = self.store.likelihood_model(Some(latest)).await? else { return Ok(None) };
        let predictor = match crate::off_runtime("reading the model", move || Predictor::from_json(&json)).await? {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(model = %model.label(), error = %e, "the likelihood model cannot be read; retrain it");
                return Ok(None);
            }
        };
        let exclude = Exclusions::new(&model.options.exclude);
        let read = Arc::new(Likelihood { model, predictor, exclude });
        *self.likelihood.lock().unwrap_or_else(|e| e.into_inner()) = Some(read.clone());
        Ok(Some(read))
    }

    /// Scores and grades `ids`, and applies the active definitions to them.
    pub async fn assess(&self, ids: &[Uuid]) -> Result<AssessReport, AppError> {
        let rules = self.rules().await?;
        let mut report = AssessReport::default();
        for batch in ids.chunks(ASSESS_BATCH) {
            let _claim = self.claims.claim(batch).await;
            let now = self.clock.now();
            let facts = read_facts(self.store.as_ref(), Contacts::Ids(batch), now, &rules, rules.reads(), None).await?;
            let evaluated = evaluate_apart(rules.clone(), facts, now).await?;
            report.absorb(self.commit(evaluated).await?);
        }
        Ok(report)
    }

    /// Assesses every live contact, a batch at a time in id order: several batches are
    /// in hand at once, each read and evaluated whole on a thread of its own, while the
    /// batches done are written in order, so that reading, evaluating and writing
    /// overlap. `done` hears of each batch's report.
    pub(crate) async fn assess_every(&self, mut done: impl FnMut(&AssessReport)) -> Result<AssessReport, AppError> {
        let rules = self.rules().await?;
        let mut in_hand = BatchesInFlight::new(LiveContacts::new(self.store.as_ref()));
        let accounts = Arc::new(AccountBook::default());
        // Each batch read and evaluated whole on a thread of its own, as a backtest's
        // batches are judged: nor is its evaluation cut in parts over the cores, and
        // what is read is freed by the thread that read it.
        let read_and_evaluate = |ids: Vec<Uuid>, now: Timestamp| {
            let (store, rules, accounts) = (self.store.clone(), rules.clone(), accounts.clone());
            crate::read_on_a_thread_of_its_own("the rescore", async move {
                let contacts = Contacts::Run(&ids);
                let facts = read_facts(store.as_ref(), contacts, now, &rules, rules.reads(), Some(&accounts)).await?;
                Ok(evaluate_to_store(&rules, &facts, now))
            })
        };
        let mut report = AssessReport::default();
        loop {
            // Only this holds claims while waiting for another (that of the next batch):
            // every other claimant takes one at a time, so none waits for this in turn.
            while let Some(ids) = in_hand.next_batch().await? {
                let claim = self.claims.claim(&ids).await;
                let evaluated = read_and_evaluate(ids, self.clock.now());
                in_hand.start(async move { (claim, evaluated.await) });
            }
            let Some((claim, evaluated)) = in_hand.next_done().await else { break };
            let part = self.commit(evaluated?).await?;
            drop(claim);
            done(&part);
            report.absorb(part);
        }
        Ok(report)
    }

    /// Writes what evaluating a batch gave, in one transaction; its report, with the
    /// moves made.
    async fn commit(&self, (scores, moves, mut report): Evaluated) -> Result<AssessReport, AppError> {
        let mut tx = self.store.begin().await?;
        let written = write(tx.as_mut(), &scores, moves).await;
        let (changed, moved) = crate::finish(tx, written.map_err(AppError::from)).await?;
        report.scores_changed += changed;
        report.moved += moved.len() as u64;
        report.moves.extend(moved);
        Ok(report)
    }

    /// Assesses `ids` for the change feed's scoring consumer: reads and evaluates them
    /// (the writer is not held meanwhile), then writes their scores and moves in the
    /// transaction that takes the consumer's `step`; whether it was taken.
    pub(crate) async fn assess_in_step(&self, ids: &[Uuid], step: &Step<'_>) -> Result<bool, AppError> {
        // A rescore may hold some of the contacts: wait for it, keeping the lease.
        let _claim = loop {
            match tokio::time::timeout(crate::changes::consumers::RENEW_EVERY, self.claims.claim(ids)).await {
                Ok(claim) => break claim,
                Err(_) if step.renew().await? => continue,
                Err(_) => return Ok(false),
            }
        };
        let mut phase = Instant::now();
        // Read once the claim is held: a rescore of new rules that held it is done, and
        // its rules are the ones read.
        let rules = self.rules().await?;
        let now = self.clock.now();
        let facts = read_facts(self.store.as_ref(), Contacts::Ids(ids), now, &rules, rules.reads(), None).await?;
        let read = std::mem::replace(&mut phase, Instant::now()).elapsed();
        // A handful of contacts is assessed on the calling thread: handing them to
        // another thread costs about as much as assessing them.
        let (scores, moves, report) = if facts.len() <= INLINE_CONTACTS {
            evaluate(&rules, &facts, now)
        } else {
            evaluate_apart(rules, facts, now).await?
        };
        let evaluated = std::mem::replace(&mut phase, Instant::now()).elapsed();
        let observe =
            |name, took: Duration| self.timings.get_or_create(&PhaseLabel { phase: name }).observe(took.as_secs_f64());
        observe("read", read);
        observe("evaluate", evaluated);
        for f in &report.failures {
            tracing::debug!(rule = %f.rule, contacts = f.contacts, message = %f.first_message, "a rule failed for some contacts");
        }
        let taken = crate::retry::on_contention("scoring changed contacts", || async {
            let mut tx = step.begin().await?;
            if let Err(e) = write(tx.as_mut(), &scores, moves.clone()).await {
                let _ = tx.rollback().await;
                return Err(e);
            }
            step.commit(tx).await
        })
        .await?;
        observe("write", phase.elapsed());
        Ok(taken)
    }

    /// Assesses one contact without storing the result (for a contact not yet assessed).
    pub async fn assess_unsaved(&self, id: Uuid, now: Timestamp) -> Result<ContactScores, AppError> {
        let rules = self.rules().await?;
        let facts = read_facts(self.store.as_ref(), Contacts::Ids(&[id]), now, &rules, rules.reads(), None).await?;
        let (scores, _, _) = evaluate(&rules, &facts, now);
        scores.into_iter().next().ok_or_else(|| AppError::new(ErrorCode::UnknownContact, format!("no contact {id}")))
    }
}

/// What the expressions of `rules` read of `ids`, as of `now`; merged contacts are
/// left out. The scores and grades they had are left out unless a rule reads them,
/// the engagement score they had unless a rule reads that, and their accounts and
/// custom fields unless `reads` names them (what the rules read,
/// [`ActiveRules::reads`], or everything, for training).
/// A walk over every contact gives its `accounts`; without, each contact's account
/// is read with it.
pub(crate) async fn read_facts(
    store: &dyn Store,
    contacts: Contacts<'_>,
    now: Timestamp,
    rules: &ActiveRules,
    reads: Reads,
    accounts: Option<&AccountBook>,
) -> Result<Vec<ContactFacts>, AppError> {
    let stored = match rules.model.1.reads_stored() {
        StoredRead::WithEngagement => StoredParts::WithAssessment,
        StoredRead::Scores => StoredParts::Scores,
        StoredRead::Nothing => StoredParts::None,
    };
    let events = EventsRead { props: rules.model.1.events_read(Needs::ALL).props, ..EventsRead::ALL };
    read_facts_with(store, contacts, now, FactsRead { reads, stored, events }, accounts).await
}

/// What of contacts to read as facts: the fields `reads` names, the scores they had
/// (`stored`), and their events (`events`; none, when it reads no days, but when each
/// contact last did anything if it reads that).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FactsRead {
    pub(crate) reads: Reads,
    pub(crate) stored: StoredParts,
    pub(crate) events: EventsRead,
}

/// [`read_facts`], saying what to read.
pub(crate) async fn read_facts_with(
    store: &dyn Store,
    contacts: Contacts<'_>,
    now: Timestamp,
    what: FactsRead,
    accounts: Option<&AccountBook>,
) -> Result<Vec<ContactFacts>, AppError> {
    let FactsRead { reads, stored, events: events_read } = what;
    let ids = contacts.ids();
    let accounts_read = reads.accounts;
    let account = match (accounts_read, accounts) {
        (false, _) => AccountPart::Nothing,
        (true, None) => AccountPart::Joined,
        (true, Some(_)) => AccountPart::Id,
    };
    let parts = reads.parts(account, stored);
    let since = events_read.since(now);
    let props = events_read.props;
    // A contact's last event is the latest of those read, when any were: only the
    // others' need a query of their own.
    let events = async {
        let events = match events_read.days {
            0 => Default::default(),
            _ => store.events_of(contacts, since, None, props).await?,
        };
        let quiet: Vec<Uuid> = ids.iter().filter(|id| events.get(id).is_empty()).copied().collect();
        let quiet_last: HashMap<Uuid, Timestamp> = match quiet.is_empty() || !events_read.last_activity {
            true => HashMap::new(),
            false => store.last_events(Contacts::Ids(&quiet), None).await?.into_iter().collect(),
        };
        Ok::<_, AppError>((events, quiet_last))
    };
    let subjects = async {
        let mut subjects = store.contact_snapshots(contacts, parts).await?;
        if let Some(book) = accounts.filter(|_| accounts_read) {
            book.fill(store, &mut subjects).await?;
        }
        Ok::<_, AppError>(subjects)
    };
    let (subjects, (mut events_of, quiet_last)) = tokio::try_join!(subjects, events)?;
    Ok(subjects
        .into_iter()
        .filter(|s| s.contact.merged_into.is_none())
        .map(|ContactSnapshot { contact, account, qualification, stored, responses, .. }| {
            let id = contact.id;
            let events = events_of.take(&id);
            let last_event = events.iter().map(|e| e.at).max().or_else(|| quiet_last.get(&id).copied());
            let last_activity = last_event.into_iter().chain(responses.iter().map(|r| r.at)).max();
            let (scores, grades) = match stored {
                Some(s) => (
                    ScoreFacts {
                        fit: s.fit,
                        engagement: s.assessment.map_or(0.0, |a| a.engagement_at(now)),
                        likelihood: s.likelihood,
                    },
                    Some((s.funnel_position, s.pain)),
                ),
                None => (ScoreFacts::default(), None),
            };
            ContactFacts { account, responses, events, last_activity, qualification, scores, grades, contact, now }
        })
        .collect())
}

/// Writes scores, and the stage moves that still apply; returns how many contacts'
/// scores changed, and the moves made.
async fn write(
    tx: &mut dyn Tx,
    scores: &[ContactScores],
    moves: Vec<StageChange>,
) -> Result<(u64, Vec<StageChange>), leadgate_store::StoreError> {
    let changed = tx.save_scores(scores).await?;
    let mut moved = Vec::new();
    for change in moves {
        if tx.move_stage(&change).await? {
            moved.push(change);
        }
    }
    Ok((changed, moved))
}

type Evaluated = (Vec<ContactScores>, Vec<StageChange>, AssessReport);

/// [`evaluate`] on blocking threads, off the runtime, started at once.
fn evaluate_apart(
    rules: Arc<ActiveRules>,
    facts: Vec<ContactFacts>,
    now: Timestamp,
) -> impl Future<Output = Result<Evaluated, AppError>> {
    crate::off_runtime("assessment", move || evaluate_in_parallel(&rules, facts, now))
}

/// [`evaluate`], split over the machine's cores for a large batch: the results are
/// those of evaluating the batch whole, in the same order.
fn evaluate_in_parallel(rules: &ActiveRules, facts: Vec<ContactFacts>, now: Timestamp) -> Evaluated {
    let mut whole: Evaluated = (Vec::with_capacity(facts.len()), Vec::new(), AssessReport::default());
    let evaluated = split_over_cores(facts, CONTACTS_PER_CORE, |part| evaluate_to_store(rules, &part, now));
    for (scores, moves, report) in evaluated {
        whole.0.extend(scores);
        whole.1.extend(moves);
        whole.2.absorb(report);
    }
    whole
}

/// [`evaluate`], with the scores' JSON made here, on the thread that evaluated them,
/// rather than by the one writer.
fn evaluate_to_store(rules: &ActiveRules, facts: &[ContactFacts], now: Timestamp) -> Evaluated {
    let (scores, moves, report) = evaluate(rules, facts, now);
    (scores.into_iter().map(ContactScores::ready_to_store).collect(), moves, report)
}

/// Scores, grades, predicts and qualifies each contact: pure computation, run off the
/// runtime ([`evaluate_apart`]) unless the contacts are a handful.
fn evaluate(rules: &ActiveRules, facts: &[ContactFacts], now: Timestamp) -> Evaluated {
    let mut report = AssessReport {
        contacts: facts.len() as u64,
        definitions_applied: !rules.definitions.is_empty(),
        ..AssessReport::default()
    };
    let mut scores = Vec::with_capacity(facts.len());
    let mut moves = Vec::new();
    let mut predictions = rules.likelihood.as_ref().map(|l| l.predict(facts).into_iter());
    let likelihood_model = rules.likelihood.as_ref().map(|l| l.model.label());
    let mut remembered = RuleResultCache::default();
    for f in facts {
        let bound = f.bind();
        let a = rules.model.1.assess_only(f, &bound, Needs::ALL, &mut remembered);
        let prediction = predictions.as_mut().and_then(Iterator::next);
        for e in &a.errors {
            report.fail(e.rule.clone(), &e.message);
        }
        if !rules.definitions.is_empty() && f.contact.stage != Stage::Customer {
            let scored = bound.with_scores(&a.score_facts(prediction.as_ref().map(|p| p.likelihood)), Some(a.grades()));
            let (change, failures) =
                definition::apply(&rules.definitions, f.contact.id, f.contact.stage, &scored, &Actor::System, now);
            for DefinitionFailure { definition, message } in failures {
                report.fail(format!("definition: {definition}"), &message);
            }
            moves.extend(change);
        }
        scores.push(ContactScores {
            contact_id: f.contact.id,
            model: rules.model.0.clone(),
            assessment: a,
            likelihood: prediction.as_ref().map(|p| p.likelihood),
            likelihood_factors: prediction.map(|p| serde_json::to_value(p.factors).unwrap_or_default()),
            likelihood_model: likelihood_model.clone(),
            stored_form: Default::default(),
        });
    }
    (scores, moves, report)
}

#[cfg(test)]
mod tests {
    use super::Reads;
    use leadgate_core::scoring::{Model, ModelSpec, Needs};
    use leadgate_store::ResponseDetails;

    #[test]
    fn a_contact_is_read_with_the_details_and_fields_its_rules_and_definitions_read() {
        let spec = "half_life_days = 30\n[[fit]]\nname = \"vp\"\nwhen = \"contact.title.contains('VP')\"\npoints = 5\n";
        let model = Model::compile(ModelSpec::parse(spec).unwrap()).unwrap();
        let sales = "contact.country == 'DE' && qualification.budget != ''";
        let sales = leadgate_core::definition::compile_expression(sales).unwrap();
        let reads = Reads::of(&model, Needs::ALL, std::iter::once(&sales));
        assert!(reads.details.has("title") && reads.details.has("country"), "{reads:?}");
        assert!(!reads.details.has("company") && !reads.details.has("first_name"), "{reads:?}");
        assert!(reads.qualification && !reads.custom && !reads.accounts, "{reads:?}");
        let model_alone = Reads::of(&model, Needs::ALL, std::iter::empty());
        assert!(model_alone.details.has("title") && !model_alone.details.has("country"), "{model_alone:?}");
    }

    #[test]
    fn responses_are_read_with_the_details_rules_read_of_them_or_of_the_activities_they_are() {
        let spec = r#"
            half_life_days = 30
            [[engagement]]
            name = "paid"
            when = "activity.channel == 'paid_search' && activity.props.plan == 'pro'"
            points = 5
        "#;
        let model = Model::compile(ModelSpec::parse(spec).unwrap()).unwrap();
        let guide = "responses.exists(r, r.offer == 'pricing guide') && size(responses) > 1";
        let guide = leadgate_core::definition::compile_expression(guide).unwrap();
        let read = |needs: Needs, definitions: &[&leadgate_core::expr::Expression]| {
            let r = Reads::of(&model, needs, definitions.iter().copied()).responses;
            ResponseDetails::NAMES.iter().filter(|d| r.has(d)).copied().collect::<Vec<_>>()
        };
        assert_eq!(read(Needs::ALL, &[&guide]), ["channel", "offer", "fields"]);
        assert_eq!(read(Needs::ALL, &[]), ["channel", "fields"], "an activity's props are its response's fields");
        let fit_alone = Needs { fit: true, engagement: false, grades: false };
        assert_eq!(read(fit_alone, &[&guide]), ["offer"], "engagement rules not evaluated read nothing");
    }
}
