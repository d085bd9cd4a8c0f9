//! Taking in activity events, with group commit.
//!
//! Each request's events go to a committer task, which gathers everything waiting
//! into one transaction. Each request is answered only after the transaction holding
//! its events has committed, so an acknowledgement always means "durable", while the
//! cost of a commit (an fsync) is shared by every request that arrived meanwhile.

use crate::ErrorCode;
use crate::{App, AppError, AppOptions, Clock};
use leadgate_core::event::parse_event;
use leadgate_core::{Actor, FieldError, NewEvent};
use leadgate_store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

pub const MAX_EVENTS_PER_BATCH: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventsReceipt {
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    pub index: usize,
    pub error: RejectedError,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RejectedError {
    pub code: ErrorCode,
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
    /// Told once the events are committed.
    done: oneshot::Sender<Result<(), AppError>>,
}

pub(crate) struct Committer {
    queue: mpsc::Sender<Job>,
}

impl Committer {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        committed: crate::changes::Poke,
        opts: &AppOptions,
    ) -> Self {
        let (queue, rx) = mpsc::channel::<Job>(16_384);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..opts.committers.max(1) {
            let (store, clock, rx, max) = (store.clone(), clock.clone(), rx.clone(), opts.max_commit_events);
            let committed = committed.clone();
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
                    commit(&*store, &*clock, jobs).await;
                    committed.poke();
                }
            });
        }
        Self { queue }
    }

    /// Commits `events`.
    async fn submit(&self, events: Vec<NewEvent>) -> Result<(), AppError> {
        let (done, wait) = oneshot::channel();
        let unavailable = |m: String| AppError::new(ErrorCode::Unavailable, m);
        self.queue.send(Job { events, done }).await.map_err(|_| unavailable("the server is shutting down".into()))?;
        match wait.await {
            Ok(result) => result,
            Err(_) => Err(unavailable("the server is shutting down".into())),
        }
    }
}

async fn commit(store: &dyn Store, clock: &dyn Clock, jobs: Vec<Job>) {
    // The events move into one batch; each request keeps the range of its own.
    let mut all = Vec::with_capacity(jobs.iter().map(|j| j.events.len()).sum());
    let mut waiters = Vec::with_capacity(jobs.len());
    for job in jobs {
        let start = all.len();
        all.extend(job.events);
        waiters.push((start..all.len(), job.done));
    }
    match crate::retry::on_contention("an event commit", || append(store, clock, &all)).await {
        Ok(()) => {
            for (_, done) in waiters {
                let _ = done.send(Ok(()));
            }
        }
        // One request's events must not sink everyone else's: commit each on its own,
        // so that each request gets its own answer.
        Err(e) if waiters.len() > 1 => {
            tracing::warn!(error = %e, requests = waiters.len(), "group commit failed; committing request by request");
            for (range, done) in waiters {
                let events = &all[range];
                let result = crate::retry::on_contention("an event commit", || append(store, clock, events)).await;
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

/// Commits `events` in one transaction. Their contacts are scored after, by the change
/// feed's scoring consumer (see `crate::changes::consumers`): the writer is not held while
/// contacts are read and scored, and a contact that gets many events in a short while
/// is scored once for them all.
async fn append(store: &dyn Store, clock: &dyn Clock, events: &[NewEvent]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    match tx.append_events(events, clock.now()).await {
        Ok(_) => tx.commit().await.map(drop),
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
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
                        ErrorCode::UnknownField,
                        format!("a batch is {{\"events\": [...]}} only; unexpected field {other:?}"),
                    )
                    .field(other.clone()));
                }
                match m.remove("events") {
                    Some(Value::Array(items)) => (items, false),
                    _ => {
                        return Err(AppError::new(ErrorCode::InvalidType, "events must be an array").field("events"));
                    }
                }
            }
            v @ Value::Object(_) => (vec![v], true),
            _ => {
                return Err(AppError::new(
                    ErrorCode::InvalidJson,
                    "the body must be an event object or {\"events\": [...]}",
                ));
            }
        };
        if items.is_empty() {
            return Err(AppError::new(ErrorCode::EmptyBatch, "events is empty").field("events"));
        }
        if items.len() > MAX_EVENTS_PER_BATCH {
            return Err(AppError::new(
                ErrorCode::BatchTooLarge,
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
            rejected.extend(unknown.into_iter().map(|(i, _)| {
                (i, FieldError::new(ErrorCode::UnknownContact, "contact_id", "no contact has this contact_id"))
            }));
            rejected.sort_by_key(|(i, _)| *i);
        }
        if accepted.is_empty() {
            let within = |i: usize, e: FieldError| if single { e } else { e.within(&format!("events[{i}]")) };
            let mut err = match rejected.first() {
                Some((i, e)) => AppError::from(within(*i, e.clone())),
                None => AppError::new(ErrorCode::EmptyBatch, "no events"),
            };
            if !single {
                err.code = ErrorCode::NoValidEvents;
                err.message = format!("none of the {} events is valid; first problem: {}", items.len(), err.message);
                err.details = rejected.into_iter().map(|(index, e)| Rejected { index, error: e.into() }).collect();
            }
            return Err(err);
        }
        let count = accepted.len();
        self.events.submit(accepted.into_iter().map(|(_, e)| e).collect()).await?;
        Ok(EventsReceipt {
            accepted: count,
            rejected: rejected.into_iter().map(|(index, e)| Rejected { index, error: e.into() }).collect(),
        })
    }
}
