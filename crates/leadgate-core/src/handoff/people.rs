//! The people Sales and Marketing work with: users in teams, each team's queue, and an
//! item of work in a queue.

use super::calendar::{CalendarSpec, SlaSpec};
use crate::Timestamp;
use crate::response::Direction;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a user does: who qualifies inbound interest, who prospects, who sells, who
/// leads a team, who runs leadgate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Qualifier,
    Sdr,
    Seller,
    Manager,
    Admin,
}

impl UserRole {
    pub const ALL: [UserRole; 5] =
        [UserRole::Qualifier, UserRole::Sdr, UserRole::Seller, UserRole::Manager, UserRole::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Qualifier => "qualifier",
            UserRole::Sdr => "sdr",
            UserRole::Seller => "seller",
            UserRole::Manager => "manager",
            UserRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether they take turns in their team's rotation: managers and admins are given
    /// work only as account owners or by escalation.
    pub fn takes_turns(self) -> bool {
        matches!(self, UserRole::Qualifier | UserRole::Sdr | UserRole::Seller)
    }

    /// The access role of the API keys this user holds.
    pub fn access(self) -> crate::Role {
        match self {
            UserRole::Admin => crate::Role::Admin,
            UserRole::Manager => crate::Role::Manager,
            UserRole::Qualifier | UserRole::Sdr | UserRole::Seller => crate::Role::Sales,
        }
    }
}

/// The most open work a user may hold, by default (in weight).
pub const DEFAULT_CAPACITY: i64 = 50;
/// The most any user may be given.
pub const MAX_CAPACITY: i64 = 100_000;
/// Most territories or owned accounts a user may list.
pub const MAX_TERRITORIES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: UserRole,
    /// Their team; `null` for someone in none (an admin).
    pub team_id: Option<Uuid>,
    /// The most open work they hold at once, in weight.
    pub capacity: i64,
    /// The weight of the open work they hold now.
    pub load: i64,
    /// Countries or regions they cover, as given.
    pub territories: Vec<String>,
    /// The email domains of the accounts they own.
    pub accounts: Vec<String>,
    /// No new work until then.
    pub away_until: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Their place in the team's rotation (the turn they last took).
    #[serde(skip)]
    pub turn: i64,
}

/// What happens when an item's SLA is breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// Reassigned to the next available person of the team, with a new clock.
    NextPerson,
    /// Reassigned to the team's manager (its first user with the manager role).
    Manager,
    /// Marked breached only.
    None,
}

impl Escalation {
    pub fn as_str(self) -> &'static str {
        match self {
            Escalation::NextPerson => "next_person",
            Escalation::Manager => "manager",
            Escalation::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Escalation::NextPerson, Escalation::Manager, Escalation::None].into_iter().find(|e| e.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    /// Inbound (answering interest, hours) or outbound (prospecting, days).
    pub direction: Direction,
    pub created_at: Timestamp,
}

/// A team's work list, with its SLA.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Queue {
    pub id: Uuid,
    pub team_id: Uuid,
    /// The team's name.
    pub name: String,
    /// The time allowed for the first action.
    pub sla: SlaSpec,
    pub calendar: CalendarSpec,
    pub escalation: Escalation,
    pub created_at: Timestamp,
}

impl Queue {
    /// The SLA a team of `direction` gets unless it says otherwise: four business hours
    /// for inbound, ten business days for outbound.
    pub fn default_sla(direction: Direction) -> SlaSpec {
        match direction {
            Direction::Inbound => SlaSpec::BusinessHours(4.0),
            Direction::Outbound => SlaSpec::BusinessDays(10),
        }
    }
}

/// The default teams: Market Response answers inbound interest, Sales Development
/// works outbound lists.
pub const MARKET_RESPONSE: &str = "Market Response";
pub const SALES_DEVELOPMENT: &str = "Sales Development";

/// How an item in a queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Sales accepted the contact (`sal`).
    Accepted,
    /// Sales rejected it, with a reason (`nurture`).
    Rejected,
    /// It left the queue otherwise: a stage change past the hand-off, a merge, an erasure.
    Moved,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Moved => "moved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Accepted, Outcome::Rejected, Outcome::Moved].into_iter().find(|o| o.as_str() == s)
    }
}

/// A contact waiting in a queue for a person's first action, or handled.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub queue_id: Uuid,
    pub assignee_id: Option<Uuid>,
    /// The routing rule that sent it (`null`: the fallback queue, or a person put it
    /// here), and the rule set's version.
    pub rule: Option<String>,
    pub rules_version: i64,
    /// Why it went where it did, in words.
    pub reason: String,
    /// What it weighs against its assignee's capacity.
    pub weight: i64,
    pub queued_at: Timestamp,
    /// When the first action is due.
    pub sla_due_at: Timestamp,
    pub first_action_at: Option<Timestamp>,
    /// Who acted first.
    pub first_action_by: Option<String>,
    /// Working time from queued to first action, in seconds.
    pub first_action_seconds: Option<i64>,
    pub breached_at: Option<Timestamp>,
    /// How many times it was escalated.
    pub escalations: i64,
    pub closed_at: Option<Timestamp>,
    pub outcome: Option<Outcome>,
    /// Its pain grade's rank (higher hurts more), its score, and the last moment of
    /// interest: what orders it after its due time.
    pub pain_rank: i64,
    pub score: f64,
    pub interest_at: Option<Timestamp>,
}
