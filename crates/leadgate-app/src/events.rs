//! Taking in activity events, with group commit.
//!
//! Each request's events go to a committer task, which gathers everything waiting
//! into one transaction. Each request is answered only after the transaction holding
//! its events has committed, so an acknowledgement always means "durable", while the
//! cost of a commit (an fsync) is shared by every request that arrived meanwhile.

use crate::qualify::Assessor;
use crate::{App, AppError, AppOptions, Clock, ErrorKind};
use leadgate_core::event::parse_event;
use leadgate_core::expr::facts::EventFact;
use leadgate_core::{Actor, FieldError, NewEvent};
use leadgate_store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

pub const MAX_EVENTS_PER_BATCH: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsReceipt {
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
    /// How long the request waited for its contacts to be assessed (scored, graded,
    /// requalified), when any were: what scoring adds to taking in events. Not part of
    /// the receipt's JSON; the API sends it as a `Server-Timing` header.
    #[serde(skip)]
    pub assessing: Option<std::time::Duration>,
}

/// What committing a batch of events (several requests' in a group commit) did.
struct Appended {
    /// The time spent assessing the contacts that got events, when any did.
    assessing: Option<std::time::Duration>,
    /// Whether each event went to a known contact (rather than waiting for its person).
    found: Vec<bool>,
}

impl Appended {
    fn new(attached: &[Option<Uuid>], assessing: Option<std::time::Duration>) -> Self {
        Self { assessing, found: attached.iter().map(Option::is_some).collect() }
    }

    /// How long the request whose events are `range` of the batch waited for assessing:
    /// told only when one of its own events went to a contact, not because another
    /// request committed with it did.
    fn assessing_of(&self, range: std::ops::Range<usize>) -> Option<std::time::Duration> {
        let found = self.found.get(range).is_some_and(|found| found.contains(&true));
        self.assessing.filter(|_| found)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub index: usize,
    pub error: RejectedError,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedError {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl From<FieldError> for RejectedError {
    fn from(e: FieldError) -> Self {
        Self { code: e.code, message: e.message, field: e.field }
    }
}

struct Job {
    events: Vec<NewEvent>,
    /// Told, once the events are committed, how long assessing their contacts took.
    done: oneshot::Sender<Result<Option<std::time::Duration>, AppError>>,
}

pub(crate) struct Committer {
    queue: mpsc::Sender<Job>,
}

impl Committer {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        assessor: Arc<crate::qualify::Assessor>,
        opts: &AppOptions,
    ) -> Self {
        let (queue, rx) = mpsc::channel::<Job>(16_384);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..opts.committers.max(1) {
            let (store, clock, rx, max) = (store.clone(), clock.clone(), rx.clone(), opts.max_commit_events);
            let assessor = assessor.clone();
            tokio::spawn(async move {
                loop {
                    let jobs = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut n = first.events.len();
                        let mut jobs = vec![first];
                        // Drain what is queued; then yield once, so that requests already
                        // being handled can join this commit instead of paying for their
                        // own, and drain again.
                        for round in 0..2 {
                            if round == 1 {
                                tokio::task::yield_now().await;
                            }
                            while n < max {
                                match rx.try_recv() {
                                    Ok(job) => {
                                        n += job.events.len();
                                        jobs.push(job);
                                    }
                                    Err(_) => break,
                                }
                            }
                        }
                        jobs
                    };
                    commit(&*store, &*clock, &assessor, jobs).await;
                }
            });
        }
        Self { queue }
    }

    /// Commits `events`; how long assessing their contacts took, when any were.
    async fn submit(&self, events: Vec<NewEvent>) -> Result<Option<std::time::Duration>, AppError> {
        let (done, wait) = oneshot::channel();
        let unavailable = |m: String| AppError::new(ErrorKind::Unavailable, "unavailable", m);
        self.queue.send(Job { events, done }).await.map_err(|_| unavailable("the server is shutting down".into()))?;
        match wait.await {
            Ok(result) => result,
            Err(_) => Err(unavailable("the server is shutting down".into())),
        }
    }
}

async fn commit(store: &dyn Store, clock: &dyn Clock, assessor: &Assessor, jobs: Vec<Job>) {
    // The events move into one batch; each request keeps the range of its own.
    let mut all = Vec::with_capacity(jobs.iter().map(|j| j.events.len()).sum());
    let mut waiters = Vec::with_capacity(jobs.len());
    for job in jobs {
        let start = all.len();
        all.extend(job.events);
        waiters.push((start..all.len(), job.done));
    }
    match crate::retry::on_contention("an event commit", || append(store, clock, assessor, &all)).await {
        Ok(appended) => {
            for (range, done) in waiters {
                let _ = done.send(Ok(appended.assessing_of(range)));
            }
        }
        // One request's events must not sink everyone else's: commit each on its own,
        // so that each request gets its own answer.
        Err(e) if waiters.len() > 1 => {
            tracing::warn!(error = %e, requests = waiters.len(), "group commit failed; committing request by request");
            for (range, done) in waiters {
                let events = &all[range];
                let result = crate::retry::on_contention("an event commit", || append(store, clock, assessor, events))
                    .await
                    .map(|a| a.assessing_of(0..events.len()));
                let _ = done.send(result.map_err(|e| {
                    tracing::error!(error = %e, "event commit failed");
                    AppError::from(e)
                }));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events = all.len(), "event commit failed");
            let e = AppError::from(e);
            for (_, done) in waiters {
                let _ = done.send(Err(e.clone()));
            }
        }
    }
}

/// Contacts few enough to be assessed inside the events' own transaction.
const ASSESSED_IN_COMMIT: usize = 16;

/// Commits `events` and scores the contacts that got them before anyone is answered,
/// so that a request that returns has moved its contacts' scores. When few contacts
/// got events (a request's own, the common case), their scores are written in the
/// events' transaction: one commit, one flush to disk. Many contacts (large batches)
/// are assessed after the commit, so that the writer is not held while they are read,
/// and so are the contacts of events that arrive while another assessment (a rescore)
/// has claimed one of them.
async fn append(
    store: &dyn Store,
    clock: &dyn Clock,
    assessor: &Assessor,
    events: &[NewEvent],
) -> Result<Appended, StoreError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    let attached = match tx.append_events(events, now).await {
        Ok(attached) => attached,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    let mut contacts: Vec<Uuid> = attached.iter().flatten().copied().collect();
    contacts.sort_unstable();
    contacts.dedup();
    // While another assessment has claimed one of the contacts, the events commit first
    // and are assessed after.
    let claim =
        (!contacts.is_empty() && contacts.len() <= ASSESSED_IN_COMMIT).then(|| assessor.try_claim(&contacts)).flatten();
    if claim.is_none() {
        tx.commit().await?;
        let started = std::time::Instant::now();
        crate::assess_quietly(assessor, &contacts).await;
        return Ok(Appended::new(&attached, (!contacts.is_empty()).then(|| started.elapsed())));
    }
    let arrived: Vec<(Uuid, EventFact)> =
        attached.iter().zip(events).filter_map(|(contact, e)| contact.map(|c| (c, EventFact::from(e)))).collect();
    let started = std::time::Instant::now();
    let assessed = assessor.assess_arrivals(tx.as_mut(), &arrived, now).await;
    let assessing = Some(started.elapsed());
    match assessed {
        Ok(_) => tx.commit().await.map(|()| Appended::new(&attached, assessing)),
        Err(e) => {
            drop(claim);
            // Scoring must not cost the events: they are committed on their own, and
            // their contacts assessed after.
            tracing::warn!(error = %e, contacts = contacts.len(), "assessing in the events' commit failed; committing the events alone");
            let _ = tx.rollback().await;
            let contacts = store.append_events(events, now).await?;
            let started = std::time::Instant::now();
            crate::assess_quietly(assessor, &contacts).await;
            // Both tries, the one that failed and the one after the commit.
            Ok(Appended::new(&attached, assessing.map(|failed| failed + started.elapsed())))
        }
    }
}

impl App {
    /// Validates and stores events: one, or a batch of up to [`MAX_EVENTS_PER_BATCH`].
    /// Valid events are committed before this returns; invalid ones are listed with
    /// their index and problem. A batch in which nothing is valid is refused whole.
    pub async fn ingest_events(&self, body: Value, _actor: &Actor) -> Result<EventsReceipt, AppError> {
        let (items, single) = match body {
            Value::Object(mut m) if m.contains_key("events") => {
                if let Some(other) = m.keys().find(|k| *k != "events") {
                    return Err(AppError::new(
                        ErrorKind::Invalid,
                        "unknown_field",
                        format!("a batch is {{\"events\": [...]}} only; unexpected field {other:?}"),
                    )
                    .field(other.clone()));
                }
                match m.remove("events") {
                    Some(Value::Array(items)) => (items, false),
                    _ => {
                        return Err(AppError::new(ErrorKind::Invalid, "invalid_type", "events must be an array")
                            .field("events"));
                    }
                }
            }
            v @ Value::Object(_) => (vec![v], true),
            _ => {
                return Err(AppError::new(
                    ErrorKind::Malformed,
                    "invalid_json",
                    "the body must be an event object or {\"events\": [...]}",
                ));
            }
        };
        if items.is_empty() {
            return Err(AppError::new(ErrorKind::Invalid, "empty_batch", "events is empty").field("events"));
        }
        if items.len() > MAX_EVENTS_PER_BATCH {
            return Err(AppError::new(
                ErrorKind::Invalid,
                "batch_too_large",
                format!("a batch holds at most {MAX_EVENTS_PER_BATCH} events; this one has {}", items.len()),
            )
            .field("events"));
        }
        let now = self.now();
        let mut accepted = Vec::with_capacity(items.len());
        let mut rejected = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match parse_event(item, now) {
                Ok(e) => accepted.push((index, e)),
                Err(e) => rejected.push((index, e)),
            }
        }
        // Events naming a contact id must name a real one.
        let named: Vec<_> =
            accepted.iter().filter_map(|(_, e)| e.contact_id).collect::<HashSet<_>>().into_iter().collect();
        if !named.is_empty() {
            // An event for a contact merged into another belongs to that other contact.
            let known: HashMap<Uuid, Uuid> = self.store.existing_contacts(&named).await?.into_iter().collect();
            let (mut ok, unknown): (Vec<_>, Vec<_>) =
                accepted.into_iter().partition(|(_, e)| e.contact_id.is_none_or(|id| known.contains_key(&id)));
            for (_, e) in &mut ok {
                e.contact_id = e.contact_id.and_then(|id| known.get(&id).copied());
            }
            accepted = ok;
            rejected.extend(
                unknown.into_iter().map(|(i, _)| {
                    (i, FieldError::new("unknown_contact", "contact_id", "no contact has this contact_id"))
                }),
            );
            rejected.sort_by_key(|(i, _)| *i);
        }
        if accepted.is_empty() {
            let within = |i: usize, e: FieldError| if single { e } else { e.within(&format!("events[{i}]")) };
            let mut err = match rejected.first() {
                Some((i, e)) => AppError::invalid(within(*i, e.clone())),
                None => AppError::new(ErrorKind::Invalid, "empty_batch", "no events"),
            };
            if !single {
                err.code = "no_valid_events";
                err.message = format!("none of the {} events is valid; first problem: {}", items.len(), err.message);
                err.details = rejected.into_iter().map(|(index, e)| Rejected { index, error: e.into() }).collect();
            }
            return Err(err);
        }
        let count = accepted.len();
        let assessing = self.events.submit(accepted.into_iter().map(|(_, e)| e).collect()).await?;
        Ok(EventsReceipt {
            accepted: count,
            rejected: rejected.into_iter().map(|(index, e)| Rejected { index, error: e.into() }).collect(),
            assessing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Job, commit};
    use crate::{App, AppOptions, SystemClock};
    use leadgate_core::event::parse_event;
    use serde_json::{Value, json};
    use std::sync::Arc;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn of_requests_committed_together_only_those_whose_events_found_a_contact_are_told_of_assessing() {
        let dir = tempfile::tempdir().unwrap();
        let store = leadgate_store::testing::sqlite_store(dir.path()).await;
        let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
        let now = app.now();
        crate::demo::load(store.clone(), 1, 7, 0, now, |_| {}).await.unwrap();
        let ann = store.live_contact_ids(None, None, 1).await.unwrap()[0];
        let job = |event: Value| {
            let (done, told) = oneshot::channel();
            (Job { events: vec![parse_event(&event, now).unwrap()], done }, told)
        };
        let (known, known_told) = job(json!({"contact_id": ann, "kind": "page_view"}));
        let (unknown, unknown_told) = job(json!({"email": "nobody@nowhere.example", "kind": "page_view"}));
        // One commit for both, as the committer makes when requests arrive together.
        commit(store.as_ref(), &SystemClock, &app.assessor, vec![unknown, known]).await;
        assert!(known_told.await.unwrap().unwrap().is_some(), "Ann's event went to her, and she was assessed");
        let unknown_told = unknown_told.await.unwrap().unwrap();
        assert_eq!(unknown_told, None, "an event waiting for its person: nothing of its was assessed");
    }
}
