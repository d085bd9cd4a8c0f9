//! Group commit of events. Each request's events go to a committer task, which
//! gathers everything waiting into one transaction. Each request is answered only
//! after the transaction holding its events has committed, so an acknowledgement always
//! means "durable", while the cost of a commit (an fsync) is shared by every request
//! that arrived meanwhile.

use crate::ErrorCode;
use crate::{AppError, AppOptions, Clock};
use leadgate_core::NewEvent;
use leadgate_store::{Store, StoreError};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

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
    pub(super) async fn submit(&self, events: Vec<NewEvent>) -> Result<(), AppError> {
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
