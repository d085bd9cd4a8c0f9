//! Backtesting a lead definition on the contacts as they were at a past date.

use crate::ErrorCode;
use crate::batch::{AccountBook, BatchesInFlight, LiveContacts};
use crate::error::{date, invalid};
use crate::qualification::assess::{ActiveRules, FailureCount, Reads};
use crate::{App, AppError};
use leadgate_core::Timestamp;
use leadgate_core::backtest::{History, Outcome, Sample, Tally};
use leadgate_core::definition::{self, Definition};
use leadgate_core::expr::facts::EventFact;
use leadgate_core::expr::{EventsRead, Expression};
use leadgate_core::model::ContactChange;
use leadgate_core::scoring::{Needs, RuleResultCache};
use leadgate_store::{AccountPart, ByContact, ContactSnapshot, Contacts, SnapshotParts, Store, StoredParts};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// What `POST /v1/definitions/{name}/backtest` takes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestInput {
    /// A saved version to test; without it and without `expression`, the latest.
    pub version: Option<i64>,
    /// A draft expression to test without saving it.
    pub expression: Option<String>,
    /// The date the contacts are taken as they were (`2026-01-01` or RFC 3339).
    pub as_of: String,
    /// Only contacts created from (inclusive) and before (exclusive) these dates: a
    /// cohort, such as last quarter's contacts.
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    /// How many contacts each sample lists (default 20, at most 200).
    pub sample: Option<usize>,
    /// The version to compare with; without it, the active version (if any).
    pub against: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sorted {
    /// What was tested: `name@version`, or `draft`.
    pub definition: String,
    pub expression: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Sampled {
    pub count: u64,
    pub sample: Vec<Sample>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BacktestReport {
    pub name: String,
    pub kind: &'static str,
    pub as_of: Timestamp,
    /// Contacts that existed at `as_of` (in the cohort), and how many of them later
    /// became customers.
    pub contacts: u64,
    pub customers: u64,
    pub draft: Sorted,
    /// The same figures for the version compared with (`against`, else the active
    /// version), when there is one.
    pub active: Option<Sorted>,
    /// Contacts the draft passes and the version compared with does not, and the reverse.
    pub newly_included: Sampled,
    pub newly_excluded: Sampled,
    /// Contacts that became customers although the draft would not have passed them.
    pub customers_turned_away: Sampled,
    pub failures: Vec<FailureCount>,
    pub seconds: f64,
}

impl App {
    /// Runs a definition (a saved version, or a draft expression) on every contact as it
    /// was at `as_of`, beside the active version, and measures both against what the
    /// contacts became.
    pub async fn backtest(&self, name: &str, input: BacktestInput) -> Result<BacktestReport, AppError> {
        let started = std::time::Instant::now();
        let as_of = date(&input.as_of, "as_of")?;
        if as_of > self.now() {
            return Err(invalid(
                ErrorCode::InvalidDate,
                "as_of",
                "as_of is in the future: there is nothing to measure yet",
            ));
        }
        let from = input.created_from.as_deref().map(|s| date(s, "created_from")).transpose()?;
        let to = input.created_to.as_deref().map(|s| date(s, "created_to")).transpose()?;
        let sample_size = input.sample.unwrap_or(20);
        if sample_size > 200 {
            return Err(invalid(ErrorCode::InvalidValue, "sample", "sample must be at most 200"));
        }
        let latest = self.definition(name, None).await?;
        let _ration = self.ration(crate::HeavyWork::Backtest)?;
        let (label, expression, source) = match (&input.expression, input.version) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    ErrorCode::InvalidValue,
                    "expression",
                    "give a version or an expression, not both",
                ));
            }
            (Some(e), None) => {
                let compiled = definition::compile_expression(e).map_err(|x| {
                    invalid(ErrorCode::InvalidExpression, "expression", x.to_string()).at(x.line, x.column)
                })?;
                ("draft".to_owned(), compiled, e.clone())
            }
            (None, v) => {
                let d = match v {
                    Some(v) => self.definition(name, Some(v)).await?,
                    None => latest.clone(),
                };
                (d.label(), compile_stored(&d)?, d.expression.clone())
            }
        };
        let against = match input.against {
            Some(v) => Some(v),
            None => self.store.activations("definition").await?.into_iter().find(|a| a.name == name).map(|a| a.version),
        };
        let active: Option<(Definition, Expression)> = match against {
            Some(v) => {
                let d = self.definition(name, Some(v)).await?;
                let e = compile_stored(&d)?;
                Some((d, e))
            }
            None => None,
        };
        let rules = self.assessor.rules().await?;

        let mut draft_tally = Tally::default();
        let mut active_tally = Tally::default();
        let (mut contacts, mut customers) = (0u64, 0u64);
        let mut included = Sampled::default();
        let mut excluded = Sampled::default();
        let mut turned_away = Sampled::default();
        let mut failures: Vec<FailureCount> = Vec::new();
        let mut fail = |rule: &str, message: &str| match failures.iter_mut().find(|f| f.rule == rule) {
            Some(f) => f.contacts += 1,
            None => {
                failures.push(FailureCount { rule: rule.to_owned(), contacts: 1, first_message: message.to_owned() })
            }
        };
        let keep = |s: &mut Sampled, j: &Judged| {
            s.count += 1;
            if s.sample.len() < sample_size {
                s.sample.push(Sample {
                    contact_id: j.contact_id,
                    email: j.email.clone(),
                    became_customer: j.outcome.customer,
                    value: j.outcome.value,
                });
            }
        };
        let draft = Arc::new(expression);
        let compared = Arc::new(active.as_ref().map(|(_, e)| e.clone()));
        let compared_label = active.as_ref().map(|(d, _)| d.label()).unwrap_or_default();
        // Only the parts of the assessment the definitions read are computed.
        let definitions = || std::iter::once(draft.as_ref()).chain(compared.as_ref().as_ref());
        let needs = Needs::of(definitions());
        // And only the events they read: a definition of last month's visits and fit
        // reads a month of events before the date, not a year.
        let reads = definitions().fold(rules.model.1.events_read(needs), |read, e| read.and(e.events_read()));
        // And accounts and custom fields only when an expression reads them.
        let contact_reads = Reads::of(&rules.model.1, needs, definitions());
        // Each batch read and judged whole on a thread of its own: nor is its judging cut
        // in parts over the cores (its histories copied to be handed over), and what is
        // read is freed by the thread that made it.
        let read_and_judge = |ids: Vec<Uuid>, accounts: Option<Arc<AccountBook>>| {
            let (store, rules, draft, compared) = (self.store.clone(), rules.clone(), draft.clone(), compared.clone());
            crate::read_on_a_thread_of_its_own("the backtest", async move {
                let read = read_histories(store.as_ref(), &ids, as_of, reads, contact_reads, accounts.as_deref());
                let histories = read.await?.histories();
                Ok(judge(&rules, &draft, compared.as_ref().as_ref(), needs, histories, as_of, (from, to)))
            })
        };
        let mut count = |judged: Vec<Judged>| {
            for j in judged {
                contacts += 1;
                customers += j.outcome.customer as u64;
                let mut tested = |result: &Result<bool, String>, what: &str, tally: &mut Tally| match result {
                    Ok(passed) => *passed,
                    Err(message) => {
                        tally.failed += 1;
                        fail(what, message);
                        false
                    }
                };
                let passed = tested(&j.draft, &label, &mut draft_tally);
                draft_tally.add(passed, j.outcome);
                if let Some(result) = &j.compared {
                    let was = tested(result, &compared_label, &mut active_tally);
                    active_tally.add(was, j.outcome);
                    if passed && !was {
                        keep(&mut included, &j);
                    } else if was && !passed {
                        keep(&mut excluded, &j);
                    }
                }
                if j.outcome.customer && !passed {
                    keep(&mut turned_away, &j);
                }
            }
        };
        let accounts = contact_reads.accounts.then(|| Arc::new(AccountBook::default()));
        let mut in_hand = BatchesInFlight::new(LiveContacts::created_by(self.store.as_ref(), as_of));
        loop {
            while let Some(ids) = in_hand.next_batch().await? {
                in_hand.start(read_and_judge(ids, accounts.clone()));
            }
            let Some(judged) = in_hand.next_done().await else { break };
            count(judged?);
        }
        draft_tally.finish(customers);
        active_tally.finish(customers);
        Ok(BacktestReport {
            name: name.to_owned(),
            kind: latest.kind.as_str(),
            as_of,
            contacts,
            customers,
            draft: Sorted { definition: label, expression: source, tally: draft_tally },
            active: active.map(|(d, _)| Sorted {
                definition: d.label(),
                expression: d.expression,
                tally: active_tally,
            }),
            newly_included: included,
            newly_excluded: excluded,
            customers_turned_away: turned_away,
            failures,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Everything recorded of these contacts that a backtest at `as_of` reads: of
/// their events, what `reads` names; of themselves, what `contact_reads` names (their
/// accounts from `accounts`, when given).
async fn read_histories(
    s: &dyn Store,
    ids: &[Uuid],
    as_of: Timestamp,
    reads: EventsRead,
    contact_reads: Reads,
    accounts: Option<&AccountBook>,
) -> Result<Read, AppError> {
    // The contacts of the batch that existed at the date, with their responses (all of
    // them: those after the date are left out as each is rebuilt) and where they went
    // (their stage steps); their stored scores are today's and not read, nor is their
    // stage, which their steps give. Their accounts' ids only when accounts are read (from
    // the book, once each).
    let account = match accounts {
        Some(_) => AccountPart::Id,
        None => AccountPart::Nothing,
    };
    let parts = SnapshotParts {
        created_by: Some(as_of),
        stage: false,
        stage_steps: true,
        ..contact_reads.parts(account, StoredParts::None)
    };
    let mut subjects = s.contact_snapshots(Contacts::Run(ids), parts).await?;
    // The rest is read of those alone, as the range from the first to the last (the
    // walk gives only the contacts created by the date already; the read of their
    // rows keeps to them all the same).
    let existed: Vec<Uuid> = subjects.iter().map(|s| s.contact.id).collect();
    if existed.is_empty() {
        return Ok(Read::default());
    }
    let batch = Contacts::Run(&existed);
    let subjects = async {
        if let Some(accounts) = accounts {
            accounts.fill(s, &mut subjects).await?;
        }
        Ok::<_, AppError>(subjects)
    };
    let events = async {
        match reads.days {
            0 => Ok(Default::default()),
            _ => s.events_of(batch, reads.since(as_of), Some(as_of), reads.props).await,
        }
    };
    let last_events = async {
        match reads.last_activity {
            true => s.last_events(batch, Some(as_of)).await,
            false => Ok(Vec::new()),
        }
    };
    let (subjects, (events, last_events, changes)) =
        tokio::try_join!(subjects, async { Ok(tokio::try_join!(events, last_events, s.contact_changes_of(batch))?) })?;
    Ok(Read { subjects, events, last_events, changes })
}

/// What was read of a batch's contacts, each contact's rows still among the batch's.
#[derive(Default)]
struct Read {
    subjects: Vec<ContactSnapshot>,
    events: ByContact<EventFact>,
    last_events: Vec<(Uuid, Timestamp)>,
    changes: ByContact<ContactChange>,
}

impl Read {
    /// Each contact's history, put together where it is judged rather than where the
    /// batches are awaited, which is one thread for them all.
    fn histories(self) -> Vec<History> {
        let Read { subjects, mut events, last_events, mut changes } = self;
        let mut last_event_of: HashMap<Uuid, Timestamp> = last_events.into_iter().collect();
        subjects
            .into_iter()
            .map(|ContactSnapshot { contact, account, qualification, stage_steps, responses, .. }| {
                let id = contact.id;
                History {
                    account,
                    qualification,
                    responses,
                    events: events.take(&id),
                    last_event: last_event_of.remove(&id),
                    stages: stage_steps,
                    changes: changes.take(&id),
                    contact,
                }
            })
            .collect()
    }
}

fn compile_stored(d: &Definition) -> Result<Expression, AppError> {
    d.compile()
        .map_err(|e| AppError::new(ErrorCode::DefinitionInvalid, format!("{} no longer compiles: {e}", d.label())))
}

/// How one contact of the cohort fared: what it became after the date, and whether the
/// tested and the compared definition took it in as it was then (or why they could not
/// be evaluated).
struct Judged {
    contact_id: Uuid,
    email: Option<String>,
    outcome: Outcome,
    draft: Result<bool, String>,
    compared: Option<Result<bool, String>>,
}

/// Judges the contacts of `histories` created within `cohort` (from, inclusive; to,
/// exclusive) as they were at `as_of`, scored and graded by `rules` as of then: pure
/// computation, run off the runtime.
fn judge(
    rules: &ActiveRules,
    draft: &Expression,
    compared: Option<&Expression>,
    needs: Needs,
    histories: Vec<History>,
    as_of: Timestamp,
    (from, to): (Option<Timestamp>, Option<Timestamp>),
) -> Vec<Judged> {
    let mut judged = Vec::with_capacity(histories.len());
    let mut remembered = RuleResultCache::default();
    // A draft compared with the version it was saved as (the active one, most often)
    // gives what that gives: evaluated once.
    let same = compared.is_some_and(|c| c.source() == draft.source());
    for h in histories {
        let created = h.contact.created_at;
        if from.is_some_and(|f| created < f) || to.is_some_and(|t| created >= t) {
            continue;
        }
        let (contact_id, outcome) = (h.contact.id, h.outcome_after(as_of));
        let Some(mut facts) = h.as_of(as_of) else { continue };
        let (draft, compared) = {
            let contact = facts.bind();
            // Scores and grades as the active model gives them at that date, made when a
            // definition first needs them: one false whatever they are (a part of its
            // `&&` that reads none of them is false: no visit, no response, the wrong
            // direction) turns the contact away unscored, as it does most contacts.
            let mut scored = None;
            let mut test = |e: &Expression| {
                if e.false_whatever_scores(&contact) {
                    return Ok(false);
                }
                let bound = scored.get_or_insert_with(|| {
                    let a = rules.model.1.assess_only(&facts, &contact, needs, &mut remembered);
                    contact.with_scores(&a.score_facts(facts.scores.likelihood), Some(a.grades()))
                });
                e.test(bound).map_err(|e| e.0)
            };
            let draft = test(draft);
            let compared = match same {
                true => Some(draft.clone()),
                false => compared.map(&mut test),
            };
            (draft, compared)
        };
        // Taken, not copied: the facts are done with, and few emails end in a sample.
        let email = facts.contact.email.take();
        judged.push(Judged { contact_id, email, outcome, draft, compared });
    }
    judged
}
