//! Hand-off: teams and their queues, users, the routing rules and the routing consumer
//! of the change feed, Sales' accept and reject, SLA clocks and their sweep.
//!
//! `people` manages users and teams, `rules` the routing rules, `route` routes the
//! contacts the feed names, `work` is what people do with a queue's items, `sla`
//! watches the clocks.

pub(crate) mod demo;
pub(crate) mod people;
pub(crate) mod route;
pub(crate) mod rules;
pub(crate) mod sla;
pub(crate) mod work;

pub use demo::DemoHandoff;
pub use people::{QueueView, TeamInput, UserInput, UserPatch};
pub use route::{PREVIEW_DEFAULT, PREVIEW_MAX, PreviewContact, PreviewInput, RoutingPreview};
pub use rules::{RoutingView, builtin_rules};
pub use sla::{SlaLine, SlaReport, SlaRow, SweepReport};
pub use work::{AcceptInput, ItemView, ItemsQuery, QUEUE_PAGE_DEFAULT, QUEUE_PAGE_MAX, QueuePage, RejectInput};

use crate::AppError;
use leadgate_core::handoff::calendar::Calendar;
use leadgate_core::handoff::people::{Queue, Team};
use leadgate_store::Store;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// How long this server trusts the queues it read: a team another server created is
/// seen at most this late.
const QUEUES_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// A queue with its team and its compiled calendar.
#[derive(Debug, Clone)]
pub(crate) struct QueueSetup {
    pub(crate) queue: Queue,
    pub(crate) team: Team,
    pub(crate) calendar: Calendar,
}

/// The queues by id and by lower-case name.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub(crate) by_id: HashMap<Uuid, Arc<QueueSetup>>,
    pub(crate) by_name: HashMap<String, Uuid>,
}

impl Queues {
    pub(crate) fn named(&self, name: &str) -> Option<&Arc<QueueSetup>> {
        self.by_name.get(&name.trim().to_lowercase()).and_then(|id| self.by_id.get(id))
    }
}

/// What this server keeps of the hand-off: the queues (created, never changed) and the
/// routing rules in force, read again when another version is saved.
pub(crate) struct Handoff {
    /// The queues as last read, and when.
    queues: Mutex<(Arc<Queues>, Option<std::time::Instant>)>,
    rules: Mutex<Option<Arc<rules::RulesInForce>>>,
    /// Seconds to decide one contact's queue, and its person.
    pub(crate) decisions: Histogram,
    /// Seconds a sweep of the SLA clocks took.
    pub(crate) sweeps: Histogram,
}

impl Default for Handoff {
    fn default() -> Self {
        Self {
            queues: Default::default(),
            rules: Default::default(),
            decisions: Histogram::new([0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01]),
            sweeps: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        }
    }
}

impl Handoff {
    /// The queues; read again from the store when `missing` is not among them (another
    /// server created it), and the default teams created when there is none.
    pub(crate) async fn queues(&self, store: &dyn Store, missing: Option<Uuid>) -> Result<Arc<Queues>, AppError> {
        let (known, read_at) = self.queues.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Another server may have created a team: read again now and then.
        let fresh = !known.by_id.is_empty()
            && read_at.is_some_and(|at| at.elapsed() < QUEUES_FRESH)
            && missing.is_none_or(|id| known.by_id.contains_key(&id));
        if fresh {
            return Ok(known);
        }
        let mut queues = people::read_queues(store).await?;
        if queues.by_id.is_empty() {
            people::create_default_teams(store).await?;
            queues = people::read_queues(store).await?;
        }
        let queues = Arc::new(queues);
        *self.queues.lock().unwrap_or_else(|e| e.into_inner()) = (queues.clone(), Some(std::time::Instant::now()));
        Ok(queues)
    }

    /// Forgets the queues, after one was created here or a name was not found.
    pub(crate) fn forget_queues(&self) {
        *self.queues.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }
}

impl crate::App {
    /// The histograms of routing decisions (one contact's queue, then its person) and of
    /// sweeps of the SLA clocks, in seconds.
    pub fn handoff_timings(&self) -> (Histogram, Histogram) {
        (self.handoff.decisions.clone(), self.handoff.sweeps.clone())
    }
}
