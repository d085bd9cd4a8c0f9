//! SLA clocks: the sweep that marks items whose time for a first action passed, and
//! escalates them as their queue says; and the SLA report.
//!
//! Every server sweeps; the items are locked and looked at again before anything is
//! written, so an item is breached, and escalated, once.

use super::route::TeamRotation;
use crate::error::date;
use crate::{App, AppError, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::changes::ChangeKind;
use leadgate_core::erasure::AuditEntry;
use leadgate_core::handoff::assign::{next_in_turn, take_turn};
use leadgate_core::handoff::people::{Escalation, QueueItem, User, UserRole};
use leadgate_core::lifecycle::Actor;
use serde::Serialize;
use uuid::Uuid;

pub use leadgate_core::handoff::sla::SlaRow;

/// Items looked at by one transaction of the sweep.
const SWEEP_PAGE: i64 = 1_000;
/// How often each server sweeps the clocks: a breach is marked this long after it, at
/// most.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Sweeps the SLA clocks every [`SWEEP_EVERY`] until the server stops.
pub(crate) async fn watch_clocks(app: std::sync::Weak<App>) {
    let Some(started) = app.upgrade() else { return };
    let mut closing = started.feed_watch.closing.subscribe();
    drop(started);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = closing.changed() => {}
        }
        if *closing.borrow_and_update() {
            return;
        }
        let Some(app) = app.upgrade() else { return };
        match app.sweep_sla().await {
            Ok(r) if r.breached > 0 => {
                tracing::info!(breached = r.breached, reassigned = r.reassigned, "SLA breaches marked")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the SLA sweep failed; trying again"),
        }
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub breached: u64,
    pub reassigned: u64,
}

/// The SLA report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub rows: Vec<SlaLine>,
}

/// A row of the SLA report, with the names of its queue and person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaLine {
    pub queue: String,
    /// The person's email; `null` on the queue's own row.
    pub assignee: Option<String>,
    #[serde(flatten)]
    pub row: SlaRow,
}

impl SlaReport {
    /// The report as a table: a row per queue, and per person in it.
    pub fn table(&self) -> crate::reports::Table {
        let header =
            ["queue", "assignee", "items", "met", "breached", "waiting", "compliance", "median_hours", "p90_hours"];
        let figure = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
        let rows = self
            .rows
            .iter()
            .map(|l| {
                vec![
                    l.queue.clone(),
                    l.assignee.clone().unwrap_or_default(),
                    l.row.items.to_string(),
                    l.row.met.to_string(),
                    l.row.breached.to_string(),
                    l.row.waiting.to_string(),
                    figure(l.row.compliance),
                    figure(l.row.median_hours),
                    figure(l.row.p90_hours),
                ]
            })
            .collect();
        (header.map(str::to_owned).to_vec(), rows)
    }
}

impl App {
    /// Marks every item whose SLA passed with no first action as breached, writes the
    /// breach to the change feed, and escalates it as its queue says.
    pub async fn sweep_sla(&self) -> Result<SweepReport, AppError> {
        let started = std::time::Instant::now();
        let report = self.sweep_all().await;
        self.handoff.sweeps.observe(started.elapsed().as_secs_f64());
        report
    }

    async fn sweep_all(&self) -> Result<SweepReport, AppError> {
        let mut report = SweepReport::default();
        loop {
            let now = self.now();
            let due = self.store.items_due(now, SWEEP_PAGE).await?;
            if due.is_empty() {
                return Ok(report);
            }
            // Locked in id order, as everyone else locks them.
            let mut contacts: Vec<Uuid> = due.iter().map(|i| i.contact_id).collect();
            contacts.sort_unstable();
            contacts.dedup();
            // A queue another server created: read the queues again first.
            let mut queues: Vec<Uuid> = due.iter().map(|i| i.queue_id).collect();
            queues.sort_unstable();
            queues.dedup();
            for queue in queues {
                self.handoff.queues(self.store.as_ref(), Some(queue)).await?;
            }
            let step = crate::retry::on_contention("the SLA sweep", || self.breach(&contacts, now)).await?;
            report.breached += step.breached;
            report.reassigned += step.reassigned;
            if (due.len() as i64) < SWEEP_PAGE || step.breached == 0 {
                return Ok(report);
            }
        }
    }

    async fn breach(&self, contacts: &[Uuid], now: Timestamp) -> Result<SweepReport, leadgate_store::StoreError> {
        let queues = self
            .handoff
            .queues(self.store.as_ref(), None)
            .await
            .map_err(|e| leadgate_store::StoreError::Unavailable(e.message))?;
        let mut tx = self.store.begin().await?;
        let result = async {
            let mut items: Vec<QueueItem> = tx
                .open_items_for_update(contacts)
                .await?
                .into_iter()
                .filter(|i| i.first_action_at.is_none() && i.breached_at.is_none() && i.sla_due_at <= now)
                .collect();
            let mut teams: Vec<Uuid> =
                items.iter().filter_map(|i| queues.by_id.get(&i.queue_id)).map(|s| s.team.id).collect();
            teams.sort();
            teams.dedup();
            let mut rotations = TeamRotation::by_team(tx.users_for_update(&teams).await?);
            let (mut audit, mut recount, mut report) = (Vec::new(), Vec::new(), SweepReport::default());
            for item in &mut items {
                item.breached_at = Some(now);
                report.breached += 1;
                tx.note_change(item.contact_id, ChangeKind::SlaBreached);
                let Some(setup) = queues.by_id.get(&item.queue_id) else { continue };
                let was = item.assignee_id;
                let team = rotations.entry(setup.team.id).or_default();
                let to: Option<&User> = match setup.queue.escalation {
                    Escalation::None => None,
                    Escalation::Manager => team.users.iter().find(|u| u.role == UserRole::Manager && Some(u.id) != was),
                    Escalation::NextPerson => {
                        // Everyone but the one who let it pass.
                        let others: Vec<usize> =
                            (0..team.users.len()).filter(|&i| Some(team.users[i].id) != was).collect();
                        let candidates: Vec<_> = others.iter().map(|&i| team.candidates[i].clone()).collect();
                        next_in_turn(&candidates, item.weight, now, item.contact_id).map(|j| {
                            take_turn(&mut team.candidates, others[j], item.weight);
                            &team.users[others[j]]
                        })
                    }
                };
                let detail = format!("due {} in {}", item.sla_due_at.to_rfc3339(), setup.queue.name);
                audit.push(AuditEntry::new(now, &Actor::System, "contact.sla_breached", item.contact_id, detail));
                if let Some(to) = to {
                    item.assignee_id = Some(to.id);
                    item.escalations += 1;
                    report.reassigned += 1;
                    recount.extend(was);
                    recount.push(to.id);
                    let detail = format!("escalated to {} ({})", to.email, setup.queue.escalation.as_str());
                    audit.push(AuditEntry::new(now, &Actor::System, "contact.reassigned", item.contact_id, detail));
                    tx.note_change(item.contact_id, ChangeKind::Routed);
                }
            }
            tx.save_queue_items(&items).await?;
            super::route::save_rotations(tx.as_mut(), rotations, recount, &audit).await?;
            Ok(report)
        }
        .await;
        crate::finish(tx, result).await
    }

    /// The SLA report of the items handed over in `[from, to)` (the last 30 days by
    /// default): per queue and per person, compliance and time to first action.
    pub async fn sla_report(&self, from: Option<&str>, to: Option<&str>) -> Result<SlaReport, AppError> {
        let now = self.now();
        let to = match to {
            Some(t) => date(t, "to")?,
            None => now,
        };
        let from = match from {
            Some(f) => date(f, "from")?,
            None => Timestamp(to.0 - 30 * leadgate_core::time::MICROS_PER_DAY),
        };
        if from >= to {
            return Err(crate::error::invalid(ErrorCode::InvalidDate, "from", "from must be before to"));
        }
        let items = self.store.items_queued(from, to).await?;
        let queues = self.handoff.queues(self.store.as_ref(), None).await?;
        let users = self.store.users().await?;
        let rows = leadgate_core::handoff::sla::sla_rows(&items, now)
            .into_iter()
            .map(|row| SlaLine {
                queue: queues
                    .by_id
                    .get(&row.queue_id)
                    .map_or_else(|| row.queue_id.to_string(), |s| s.queue.name.clone()),
                assignee: row.assignee_id.and_then(|id| users.iter().find(|u| u.id == id)).map(|u| u.email.clone()),
                row,
            })
            .collect();
        Ok(SlaReport { from, to, rows })
    }
}
