//! Hand-off: users, teams and their queues, the routing rules, the items of work.

use crate::Result;
use crate::handoff::{ItemQuery, QueueCount, StoredRules, WorkItem};
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::handoff::people::{Queue, QueueItem, Team, User};
use leadgate_core::lifecycle::Stage;
use uuid::Uuid;

#[async_trait]
pub trait HandoffReads: Send + Sync {
    /// Every user, by name.
    async fn users(&self) -> Result<Vec<User>>;
    /// Every team, by name.
    async fn teams(&self) -> Result<Vec<Team>>;
    /// Every queue, by its team's name.
    async fn queues(&self) -> Result<Vec<Queue>>;
    /// How many open items each queue holds, unassigned and breached among them.
    async fn queue_counts(&self) -> Result<Vec<QueueCount>>;
    /// The routing rules in force: the latest version.
    async fn routing_rules(&self) -> Result<Option<StoredRules>>;
    /// The owners of the accounts of these email domains: (domain, user).
    async fn account_owners(&self, domains: &[String]) -> Result<Vec<(String, Uuid)>>;
    /// A page of a queue's open items in the order of the work, with who they are.
    async fn queue_items(&self, query: &ItemQuery) -> Result<Vec<WorkItem>>;
    /// The contacts' open items.
    async fn open_items(&self, contacts: &[Uuid]) -> Result<Vec<QueueItem>>;
    /// A contact's items, open and closed, oldest first.
    async fn items_of(&self, contact: Uuid) -> Result<Vec<QueueItem>>;
    /// The `limit` items queued last, newest first.
    async fn latest_items(&self, limit: i64) -> Result<Vec<QueueItem>>;
    /// Items queued in `[from, to)`, for the SLA report.
    async fn items_queued(&self, from: Timestamp, to: Timestamp) -> Result<Vec<QueueItem>>;
    /// Open items with no first action, not yet breached, due by `now`: the SLA
    /// sweep's work, soonest due first, at most `limit`.
    async fn items_due(&self, now: Timestamp, limit: i64) -> Result<Vec<QueueItem>>;
}

#[async_trait]
pub trait HandoffWrites: Send {
    /// A team and its queue; a `Conflict` when a team has the name already.
    async fn insert_team(&mut self, team: &Team, queue: &Queue) -> Result<()>;
    /// A user and the accounts they own; a `Conflict` when the email, or an account,
    /// is taken already.
    async fn insert_user(&mut self, user: &User) -> Result<()>;
    /// Saves a user's name, role, team, capacity, territories and absence.
    async fn update_user(&mut self, user: &User) -> Result<()>;
    /// Users by id, locked until the transaction ends (those of teams about to be
    /// given work: their rotation and load change).
    async fn users_for_update(&mut self, teams: &[Uuid]) -> Result<Vec<User>>;
    /// Saves the users' turns in their teams' rotations.
    async fn save_turns(&mut self, users: &[User]) -> Result<()>;
    /// Counts the users' loads again from their open items (after items were given,
    /// closed or reassigned): a load is never kept apart from what it counts.
    async fn recount_loads(&mut self, users: &[Uuid]) -> Result<()>;
    /// The contacts' stages and the contacts they were merged into, locked until the
    /// transaction ends, in id order: what routing checks before it hands them over.
    async fn stages_for_update(&mut self, contacts: &[Uuid]) -> Result<Vec<(Uuid, Stage, Option<Uuid>)>>;
    /// A new version of the routing rules.
    async fn insert_routing_rules(&mut self, rules: &StoredRules) -> Result<()>;
    /// New items; a `Conflict` when a contact has an open item already.
    async fn insert_queue_items(&mut self, items: &[QueueItem]) -> Result<()>;
    /// The contacts' open items, locked until the transaction ends.
    async fn open_items_for_update(&mut self, contacts: &[Uuid]) -> Result<Vec<QueueItem>>;
    /// Saves what changed of items: assignee, first action, breach, escalations,
    /// closing, priority.
    async fn save_queue_items(&mut self, items: &[QueueItem]) -> Result<()>;
    /// Appends to the audit log.
    async fn insert_audit_entries(&mut self, entries: &[leadgate_core::erasure::AuditEntry]) -> Result<()>;
}
