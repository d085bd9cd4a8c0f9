//! Users, teams and their queues.

use super::{QueueSetup, Queues};
use crate::error::{date, invalid, optional_text};
use crate::{App, AppError, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::access::{api_key_from_bytes, api_key_hash};
use leadgate_core::account::Domain;
use leadgate_core::handoff::calendar::{CalendarSpec, SlaSpec};
use leadgate_core::handoff::people::{
    DEFAULT_CAPACITY, Escalation, MARKET_RESPONSE, MAX_CAPACITY, MAX_TERRITORIES, Queue, SALES_DEVELOPMENT, Team, User,
    UserRole,
};
use leadgate_core::model::{ApiKey, KeyUser};
use leadgate_core::response::Direction;
use leadgate_core::{Email, Role};
use leadgate_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// A team as `POST /v1/teams` takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
    /// `inbound` (the default) or `outbound`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The time its queue allows for the first action: `{"business_hours": 4}` (the
    /// inbound default) or `{"business_days": 10}` (the outbound default).
    #[serde(default)]
    pub sla: Option<SlaSpec>,
    /// Its working hours, time zone and holidays; Monday to Friday 09:00–17:00 UTC by
    /// default.
    #[serde(default)]
    pub calendar: Option<CalendarSpec>,
    /// What a breach does: `next_person` (the default), `manager` or `none`.
    #[serde(default)]
    pub escalation: Option<Escalation>,
}

/// A user as `POST /v1/users` takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub name: String,
    pub email: String,
    pub role: UserRole,
    /// The team's name or id; none for someone in no team (an admin).
    #[serde(default)]
    pub team: Option<String>,
    /// The most open work they hold at once, in weight: 1 to 100,000, 50 by default.
    #[serde(default)]
    pub capacity: Option<i64>,
    /// Countries or regions they cover (`DE`, `Bavaria`), as contacts give them.
    #[serde(default)]
    pub territories: Vec<String>,
    /// The email domains of the accounts they own.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// No new work until then (a date or an instant).
    #[serde(default)]
    pub away_until: Option<String>,
}

/// What `PATCH /v1/users/{id}` changes; what is left out stays.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<UserRole>,
    /// The team's name or id; `""` for none.
    pub team: Option<String>,
    pub capacity: Option<i64>,
    pub territories: Option<Vec<String>>,
    /// An instant or date; `""` to be back.
    pub away_until: Option<String>,
}

/// A queue as `GET /v1/queues` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueView {
    #[serde(flatten)]
    pub queue: Queue,
    pub direction: Direction,
    /// Open items, those assigned to nobody, those breached, and those no routing rule
    /// matched (this queue was the fallback).
    pub open: i64,
    pub unassigned: i64,
    pub breached: i64,
    pub fallback: i64,
}

fn name(v: &str, field: &str) -> Result<String, AppError> {
    optional_text(&Some(v.to_owned()), field, 100)?
        .ok_or_else(|| invalid(ErrorCode::MissingField, field, format!("{field} must not be blank")))
}

/// Reads the queues with their teams, compiling their calendars.
pub(crate) async fn read_queues(store: &dyn Store) -> Result<Queues, AppError> {
    let teams = store.teams().await?;
    let mut queues = Queues::default();
    for queue in store.queues().await? {
        let Some(team) = teams.iter().find(|t| t.id == queue.team_id).cloned() else { continue };
        // Saved only once checked: a calendar that no longer compiles is a fault.
        let calendar = queue
            .calendar
            .compile()
            .map_err(|e| AppError::new(ErrorCode::Internal, format!("queue {}: {e}", queue.name)))?;
        queues.by_name.insert(queue.name.to_lowercase(), queue.id);
        queues.by_id.insert(queue.id, Arc::new(QueueSetup { queue, team, calendar }));
    }
    Ok(queues)
}

/// The team and queue a [`TeamInput`] describes, checked.
fn team_of(input: &TeamInput, now: Timestamp) -> Result<(Team, Queue), AppError> {
    let name = name(&input.name, "name")?;
    let direction = input.direction.unwrap_or(Direction::Inbound);
    let sla = input.sla.unwrap_or(Queue::default_sla(direction));
    sla.check().map_err(|e| invalid(ErrorCode::InvalidCalendar, &e.field, e.message))?;
    let calendar = input.calendar.clone().unwrap_or_default();
    calendar.compile().map_err(|e| invalid(ErrorCode::InvalidCalendar, &format!("calendar.{}", e.field), e.message))?;
    let team = Team { id: Uuid::now_v7(), name: name.clone(), direction, created_at: now };
    let queue = Queue {
        id: Uuid::now_v7(),
        team_id: team.id,
        name,
        sla,
        calendar,
        escalation: input.escalation.unwrap_or(Escalation::NextPerson),
        created_at: now,
    };
    Ok((team, queue))
}

/// Creates Market Response (inbound) and Sales Development (outbound); a server that
/// finds another created them meanwhile leaves theirs.
pub(crate) async fn create_default_teams(store: &dyn Store) -> Result<(), AppError> {
    // When the defaults were made matters to nobody: the machine's clock will do.
    let now = crate::Clock::now(&crate::SystemClock);
    let mut tx = store.begin().await?;
    for (name, direction) in [(MARKET_RESPONSE, Direction::Inbound), (SALES_DEVELOPMENT, Direction::Outbound)] {
        let input =
            TeamInput { name: name.into(), direction: Some(direction), sla: None, calendar: None, escalation: None };
        let (team, queue) = team_of(&input, now)?;
        if let Err(e) = tx.insert_team(&team, &queue).await {
            let _ = tx.rollback().await;
            return match e {
                StoreError::Conflict(_) => Ok(()),
                e => Err(e.into()),
            };
        }
    }
    tx.commit().await?;
    Ok(())
}

fn conflict(e: StoreError, what: impl FnOnce() -> String) -> AppError {
    match e {
        StoreError::Conflict(_) => AppError::new(ErrorCode::Conflict, what()),
        e => e.into(),
    }
}

impl App {
    /// Creates a team and its queue.
    pub async fn create_team(&self, input: &TeamInput) -> Result<QueueView, AppError> {
        let (team, queue) = team_of(input, self.now())?;
        // The default teams come first: a workspace always has them.
        self.handoff.queues(self.store.as_ref(), None).await?;
        let mut tx = self.store.begin().await?;
        let result = tx
            .insert_team(&team, &queue)
            .await
            .map_err(|e| conflict(e, || format!("a team is named {:?} already", team.name)).field("name"));
        crate::finish(tx, result).await?;
        self.handoff.forget_queues();
        Ok(QueueView { queue, direction: team.direction, open: 0, unassigned: 0, breached: 0, fallback: 0 })
    }

    pub async fn teams(&self) -> Result<Vec<Team>, AppError> {
        self.handoff.queues(self.store.as_ref(), None).await?;
        Ok(self.store.teams().await?)
    }

    /// Every queue, with how much work is open in it.
    pub async fn queues(&self) -> Result<Vec<QueueView>, AppError> {
        let queues = self.handoff.queues(self.store.as_ref(), None).await?;
        let counts = self.store.queue_counts().await?;
        let mut views: Vec<QueueView> = queues
            .by_id
            .values()
            .map(|s| {
                let c = counts.iter().find(|c| c.queue_id == s.queue.id);
                QueueView {
                    queue: s.queue.clone(),
                    direction: s.team.direction,
                    open: c.map_or(0, |c| c.open),
                    unassigned: c.map_or(0, |c| c.unassigned),
                    breached: c.map_or(0, |c| c.breached),
                    fallback: c.map_or(0, |c| c.fallback),
                }
            })
            .collect();
        views.sort_by_key(|v| v.queue.name.to_lowercase());
        Ok(views)
    }

    /// The team a user's `team` names (its name or id).
    async fn team_named(&self, team: &str) -> Result<Team, AppError> {
        let queues = self.handoff.queues(self.store.as_ref(), None).await?;
        let found = match Uuid::parse_str(team.trim()) {
            Ok(id) => queues.by_id.values().find(|s| s.team.id == id || s.queue.id == id),
            Err(_) => queues.named(team),
        };
        match found {
            Some(s) => Ok(s.team.clone()),
            None => {
                // Created by another server since: look again.
                self.handoff.forget_queues();
                let queues = self.handoff.queues(self.store.as_ref(), None).await?;
                queues.named(team).map(|s| s.team.clone()).ok_or_else(|| {
                    invalid(
                        ErrorCode::UnknownTeam,
                        "team",
                        format!("no team is named {team:?}: GET /v1/teams lists them"),
                    )
                })
            }
        }
    }

    /// Creates a user.
    pub async fn create_user(&self, input: &UserInput) -> Result<User, AppError> {
        let email =
            Email::parse(&input.email).map_err(|m| invalid(ErrorCode::InvalidEmail, "email", m))?.as_str().to_owned();
        let team = match input.team.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(self.team_named(t).await?.id),
            None => None,
        };
        let mut accounts = Vec::new();
        if input.accounts.len() > MAX_TERRITORIES {
            return Err(invalid(ErrorCode::InvalidValue, "accounts", format!("at most {MAX_TERRITORIES} accounts")));
        }
        for (i, a) in input.accounts.iter().enumerate() {
            let domain = Domain::parse(a).ok_or_else(|| {
                invalid(ErrorCode::InvalidValue, &format!("accounts[{i}]"), format!("{a:?} is not an email domain"))
            })?;
            if !accounts.contains(&domain.as_str().to_owned()) {
                accounts.push(domain.as_str().to_owned());
            }
        }
        let user = User {
            id: Uuid::now_v7(),
            name: name(&input.name, "name")?,
            email,
            role: input.role,
            team_id: team,
            capacity: capacity(input.capacity.unwrap_or(DEFAULT_CAPACITY))?,
            load: 0,
            territories: territories(&input.territories)?,
            accounts,
            away_until: away_until(input.away_until.as_deref())?,
            created_at: self.now(),
            turn: 0,
        };
        let mut tx = self.store.begin().await?;
        let result = tx.insert_user(&user).await.map_err(|e| {
            conflict(e, || {
                format!(
                    "the email {} or one of the accounts {:?} belongs to another user already",
                    user.email, user.accounts
                )
            })
        });
        crate::finish(tx, result).await?;
        Ok(user)
    }

    pub async fn users(&self) -> Result<Vec<User>, AppError> {
        Ok(self.store.users().await?)
    }

    /// The user with this id or email.
    pub async fn user(&self, who: &str) -> Result<User, AppError> {
        let who = who.trim();
        let id = Uuid::parse_str(who).ok();
        self.store
            .users()
            .await?
            .into_iter()
            .find(|u| Some(u.id) == id || u.email.eq_ignore_ascii_case(who))
            .ok_or_else(|| AppError::new(ErrorCode::UnknownUser, format!("no user {who:?}: GET /v1/users lists them")))
    }

    /// Changes a user: what `patch` names.
    pub async fn update_user(&self, id: Uuid, patch: &UserPatch) -> Result<User, AppError> {
        let mut user = self.user(&id.to_string()).await?;
        if let Some(n) = &patch.name {
            user.name = name(n, "name")?;
        }
        if let Some(role) = patch.role {
            user.role = role;
        }
        if let Some(team) = &patch.team {
            user.team_id = match team.trim() {
                "" => None,
                t => Some(self.team_named(t).await?.id),
            };
        }
        if let Some(c) = patch.capacity {
            user.capacity = capacity(c)?;
        }
        if let Some(t) = &patch.territories {
            user.territories = territories(t)?;
        }
        if let Some(a) = &patch.away_until {
            user.away_until = away_until(Some(a))?;
        }
        let mut tx = self.store.begin().await?;
        let result = tx.update_user(&user).await.map_err(AppError::from);
        crate::finish(tx, result).await?;
        Ok(user)
    }

    /// Creates an API key of the user `who` (id or email): what they do with it is
    /// recorded as theirs, with the access their role gives.
    pub async fn create_user_api_key(&self, who: &str) -> Result<crate::NewApiKey, AppError> {
        let user = self.user(who).await?;
        let secret = api_key_from_bytes(&crate::random_bytes::<32>());
        let role: Role = user.role.access();
        let key = ApiKey {
            id: Uuid::now_v7(),
            name: user.email.clone(),
            role,
            key_hash: api_key_hash(&secret),
            created_at: self.now(),
            revoked_at: None,
            user: Some(KeyUser { id: user.id, email: user.email }),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key).await?;
        tx.commit().await?;
        Ok(crate::NewApiKey { key, secret })
    }
}

fn capacity(c: i64) -> Result<i64, AppError> {
    if (1..=MAX_CAPACITY).contains(&c) {
        Ok(c)
    } else {
        Err(invalid(
            ErrorCode::InvalidValue,
            "capacity",
            format!("capacity must be 1 to {MAX_CAPACITY}; to give someone no work for a while, set away_until"),
        ))
    }
}

fn territories(given: &[String]) -> Result<Vec<String>, AppError> {
    if given.len() > MAX_TERRITORIES {
        return Err(invalid(ErrorCode::InvalidValue, "territories", format!("at most {MAX_TERRITORIES} territories")));
    }
    given
        .iter()
        .enumerate()
        .map(|(i, t)| {
            optional_text(&Some(t.clone()), &format!("territories[{i}]"), 60)?.ok_or_else(|| {
                invalid(ErrorCode::InvalidValue, &format!("territories[{i}]"), "a territory must not be blank")
            })
        })
        .collect()
}

fn away_until(v: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Ok(Some(date(v, "away_until")?)),
        None => Ok(None),
    }
}
