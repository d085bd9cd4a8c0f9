//! [`crate::ports::HandoffReads`] and [`crate::ports::HandoffWrites`].

use super::*;
use crate::handoff::{ItemQuery, QueueCount, StoredRules, WorkItem};
use leadgate_core::erasure::AuditEntry;
use leadgate_core::handoff::calendar::{CalendarSpec, SlaSpec};
use leadgate_core::handoff::people::{Escalation, Outcome, Queue, QueueItem, Team, User, UserRole};
use leadgate_core::lifecycle::Stage;
use leadgate_core::response::Direction;
use std::collections::HashMap;

const USER_COLUMNS: &str =
    "id, name, email, role, team_id, capacity, load, territories, away_until, turn, created_at FROM users";
const ITEM_COLUMNS: &str = "i.id, i.contact_id, i.queue_id, i.assignee_id, i.rule, i.rules_version, i.reason, \
     i.weight, i.queued_at, i.sla_due_at, i.first_action_at, i.first_action_by, i.first_action_seconds, \
     i.breached_at, i.escalations, i.closed_at, i.outcome, i.pain_order, i.score_order, i.interest_order";
const QUEUE_COLUMNS: &str = "q.id, q.team_id, t.name, q.sla, q.calendar, q.escalation, q.created_at FROM queues q JOIN teams t ON t.id = q.team_id";

type UserRow = (Uuid, String, String, String, Option<Uuid>, i64, i64, Json<Vec<String>>, Option<i64>, i64, i64);

fn user_of(r: UserRow, accounts: &mut HashMap<Uuid, Vec<String>>) -> Result<User> {
    let (id, name, email, role, team_id, capacity, load, Json(territories), away_until, turn, created_at) = r;
    Ok(User {
        id,
        name,
        email,
        role: UserRole::parse(&role).ok_or_else(|| corrupt("user role", &role))?,
        team_id,
        capacity,
        load,
        territories,
        accounts: accounts.remove(&id).unwrap_or_default(),
        away_until: away_until.map(Timestamp),
        turn,
        created_at: Timestamp(created_at),
    })
}

type TeamRow = (Uuid, String, String, i64);

fn team_of((id, name, direction, created_at): TeamRow) -> Result<Team> {
    Ok(Team {
        id,
        name,
        direction: Direction::parse(&direction).ok_or_else(|| corrupt("team direction", &direction))?,
        created_at: Timestamp(created_at),
    })
}

type QueueRow = (Uuid, Uuid, String, Json<SlaSpec>, Json<CalendarSpec>, String, i64);

fn queue_of((id, team_id, name, Json(sla), Json(calendar), escalation, created_at): QueueRow) -> Result<Queue> {
    Ok(Queue {
        id,
        team_id,
        name,
        sla,
        calendar,
        escalation: Escalation::parse(&escalation).ok_or_else(|| corrupt("escalation", &escalation))?,
        created_at: Timestamp(created_at),
    })
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    contact_id: Uuid,
    queue_id: Uuid,
    assignee_id: Option<Uuid>,
    rule: Option<String>,
    rules_version: i64,
    reason: String,
    weight: i64,
    queued_at: i64,
    sla_due_at: i64,
    first_action_at: Option<i64>,
    first_action_by: Option<String>,
    first_action_seconds: Option<i64>,
    breached_at: Option<i64>,
    escalations: i64,
    closed_at: Option<i64>,
    outcome: Option<String>,
    pain_order: i64,
    score_order: f64,
    interest_order: i64,
}

impl TryFrom<ItemRow> for QueueItem {
    type Error = StoreError;
    fn try_from(r: ItemRow) -> Result<Self> {
        Ok(QueueItem {
            id: r.id,
            contact_id: r.contact_id,
            queue_id: r.queue_id,
            assignee_id: r.assignee_id,
            rule: r.rule,
            rules_version: r.rules_version,
            reason: r.reason,
            weight: r.weight,
            queued_at: Timestamp(r.queued_at),
            sla_due_at: Timestamp(r.sla_due_at),
            first_action_at: r.first_action_at.map(Timestamp),
            first_action_by: r.first_action_by,
            first_action_seconds: r.first_action_seconds,
            breached_at: r.breached_at.map(Timestamp),
            escalations: r.escalations,
            closed_at: r.closed_at.map(Timestamp),
            outcome: match r.outcome {
                Some(o) => Some(Outcome::parse(&o).ok_or_else(|| corrupt("item outcome", &o))?),
                None => None,
            },
            pain_rank: -r.pain_order,
            score: -r.score_order,
            interest_at: (r.interest_order != 0).then_some(Timestamp(-r.interest_order)),
        })
    }
}

fn items(rows: Vec<ItemRow>) -> Result<Vec<QueueItem>> {
    rows.into_iter().map(QueueItem::try_from).collect()
}

#[derive(sqlx::FromRow)]
struct WorkRow {
    #[sqlx(flatten)]
    item: ItemRow,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    title: Option<String>,
    country: Option<String>,
    stage: String,
}

impl SqlStore {
    async fn owned_accounts(&self) -> Result<HashMap<Uuid, Vec<String>>> {
        let rows: Vec<(String, Uuid)> =
            sqlx::query_as("SELECT domain, user_id FROM account_owners ORDER BY domain").fetch_all(&self.read).await?;
        let mut by_user: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (domain, user) in rows {
            by_user.entry(user).or_default().push(domain);
        }
        Ok(by_user)
    }
}

#[async_trait]
impl HandoffReads for SqlStore {
    async fn users(&self) -> Result<Vec<User>> {
        let rows: Vec<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} ORDER BY name, id")).fetch_all(&self.read).await?;
        let mut accounts = self.owned_accounts().await?;
        rows.into_iter().map(|r| user_of(r, &mut accounts)).collect()
    }

    async fn teams(&self) -> Result<Vec<Team>> {
        let rows: Vec<TeamRow> = sqlx::query_as("SELECT id, name, direction, created_at FROM teams ORDER BY name_key")
            .fetch_all(&self.read)
            .await?;
        rows.into_iter().map(team_of).collect()
    }

    async fn queues(&self) -> Result<Vec<Queue>> {
        let rows: Vec<QueueRow> =
            sqlx::query_as(&format!("SELECT {QUEUE_COLUMNS} ORDER BY t.name_key")).fetch_all(&self.read).await?;
        rows.into_iter().map(queue_of).collect()
    }

    async fn queue_counts(&self) -> Result<Vec<QueueCount>> {
        let rows: Vec<(Uuid, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT queue_id, CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN assignee_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN breached_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN rule IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM queue_items WHERE closed_at IS NULL GROUP BY queue_id",
        )
        .persistent(false)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(queue_id, open, unassigned, breached, fallback)| QueueCount {
                queue_id,
                open,
                unassigned,
                breached,
                fallback,
            })
            .collect())
    }

    async fn routing_rules(&self) -> Result<Option<StoredRules>> {
        let row: Option<(i64, Json<serde_json::Value>, i64, String)> = sqlx::query_as(
            "SELECT version, spec, created_at, created_by FROM routing_rules ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(version, Json(spec), at, created_by)| StoredRules {
            version,
            spec,
            created_at: Timestamp(at),
            created_by,
        }))
    }

    async fn account_owners(&self, domains: &[String]) -> Result<Vec<(String, Uuid)>> {
        if domains.is_empty() {
            return Ok(vec![]);
        }
        let mut conn = self.read.acquire().await?;
        fetch_in(&mut conn, "SELECT domain, user_id FROM account_owners WHERE domain IN (", domains).await
    }

    async fn queue_items(&self, q: &ItemQuery) -> Result<Vec<WorkItem>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {ITEM_COLUMNS}, c.email, c.first_name, c.last_name, c.company, c.title, c.country, c.stage \
             FROM queue_items i JOIN contacts c ON c.id = i.contact_id WHERE i.closed_at IS NULL AND i.queue_id = "
        ));
        qb.push_bind(q.queue);
        if let Some(assignee) = q.assignee {
            qb.push(" AND i.assignee_id = ").push_bind(assignee);
        }
        if q.unassigned {
            qb.push(" AND i.assignee_id IS NULL");
        }
        match q.breached {
            Some(true) => qb.push(" AND i.breached_at IS NOT NULL"),
            Some(false) => qb.push(" AND i.breached_at IS NULL"),
            None => &mut qb,
        };
        if let Some(k) = &q.after {
            qb.push(" AND (i.sla_due_at, i.pain_order, i.score_order, i.interest_order, i.id) > (")
                .push_bind(k.sla_due_at.0)
                .push(", ")
                .push_bind(k.pain_order)
                .push(", ")
                .push_bind(k.score_order)
                .push(", ")
                .push_bind(k.interest_order)
                .push(", ")
                .push_bind(k.id)
                .push(")");
        }
        qb.push(" ORDER BY i.sla_due_at, i.pain_order, i.score_order, i.interest_order, i.id LIMIT ")
            .push_bind(q.limit);
        // Planned each time: see `fetch_in_planned`.
        let rows: Vec<WorkRow> = qb.build_query_as().persistent(false).fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|r| {
                Ok(WorkItem {
                    stage: Stage::from_name(&r.stage).ok_or_else(|| corrupt("stage", &r.stage))?,
                    item: r.item.try_into()?,
                    email: r.email,
                    first_name: r.first_name,
                    last_name: r.last_name,
                    company: r.company,
                    title: r.title,
                    country: r.country,
                })
            })
            .collect()
    }

    async fn open_items(&self, contacts: &[Uuid]) -> Result<Vec<QueueItem>> {
        let mut conn = self.read.acquire().await?;
        let head = format!("SELECT {ITEM_COLUMNS} FROM queue_items i WHERE i.closed_at IS NULL AND i.contact_id IN (");
        items(fetch_in_planned(&mut conn, &head, ")", contacts).await?)
    }

    async fn items_of(&self, contact: Uuid) -> Result<Vec<QueueItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM queue_items i WHERE i.contact_id = $1 ORDER BY i.queued_at, i.id"
        ))
        .bind(contact)
        .persistent(false)
        .fetch_all(&self.read)
        .await?;
        items(rows)
    }

    async fn latest_items(&self, limit: i64) -> Result<Vec<QueueItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM queue_items i ORDER BY i.queued_at DESC, i.id DESC LIMIT $1"
        ))
        .bind(limit)
        .persistent(false)
        .fetch_all(&self.read)
        .await?;
        items(rows)
    }

    async fn items_queued(&self, from: Timestamp, to: Timestamp) -> Result<Vec<QueueItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM queue_items i WHERE i.queued_at >= $1 AND i.queued_at < $2 ORDER BY i.queued_at, i.id"
        ))
        .bind(from.0)
        .bind(to.0)
        .persistent(false)
        .fetch_all(&self.read)
        .await?;
        items(rows)
    }

    async fn items_due(&self, now: Timestamp, limit: i64) -> Result<Vec<QueueItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM queue_items i WHERE i.closed_at IS NULL AND i.first_action_at IS NULL \
             AND i.breached_at IS NULL AND i.sla_due_at <= $1 ORDER BY i.sla_due_at, i.id LIMIT $2"
        ))
        .bind(now.0)
        .bind(limit)
        .persistent(false)
        .fetch_all(&self.read)
        .await?;
        items(rows)
    }
}

#[async_trait]
impl HandoffWrites for SqlTx {
    async fn insert_team(&mut self, team: &Team, queue: &Queue) -> Result<()> {
        sqlx::query("INSERT INTO teams (id, name, name_key, direction, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(team.id)
            .bind(team.name.as_str())
            .bind(team.name.to_lowercase())
            .bind(team.direction.as_str())
            .bind(team.created_at.0)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO queues (id, team_id, sla, calendar, escalation, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(queue.id)
        .bind(queue.team_id)
        .bind(Json(&queue.sla))
        .bind(Json(&queue.calendar))
        .bind(queue.escalation.as_str())
        .bind(queue.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_user(&mut self, u: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, name, email, role, team_id, capacity, load, territories, away_until, turn, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(u.id)
        .bind(u.name.as_str())
        .bind(u.email.as_str())
        .bind(u.role.as_str())
        .bind(u.team_id)
        .bind(u.capacity)
        .bind(u.load)
        .bind(Json(&u.territories))
        .bind(u.away_until.map(|t| t.0))
        .bind(u.turn)
        .bind(u.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        insert_many(&mut self.tx, "INSERT INTO account_owners (domain, user_id) ", &u.accounts, |b, domain| {
            b.push_bind(domain.as_str()).push_bind(u.id);
        })
        .await
    }

    async fn update_user(&mut self, u: &User) -> Result<()> {
        sqlx::query(
            "UPDATE users SET name = $2, role = $3, team_id = $4, capacity = $5, territories = $6, away_until = $7 \
             WHERE id = $1",
        )
        .bind(u.id)
        .bind(u.name.as_str())
        .bind(u.role.as_str())
        .bind(u.team_id)
        .bind(u.capacity)
        .bind(Json(&u.territories))
        .bind(u.away_until.map(|t| t.0))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn users_for_update(&mut self, teams: &[Uuid]) -> Result<Vec<User>> {
        let head = format!("SELECT {USER_COLUMNS} WHERE team_id IN (");
        let mut rows: Vec<UserRow> =
            fetch_in_grouped(&mut self.tx, &head, &format!(") ORDER BY id{LOCK}"), teams).await?;
        rows.sort_by_key(|r| r.0);
        // Their accounts are not needed to route: only their turns and loads change.
        let mut none = HashMap::new();
        rows.into_iter().map(|r| user_of(r, &mut none)).collect()
    }

    async fn save_turns(&mut self, users: &[User]) -> Result<()> {
        for u in users {
            sqlx::query("UPDATE users SET turn = $2 WHERE id = $1")
                .bind(u.id)
                .bind(u.turn)
                .persistent(true)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn recount_loads(&mut self, users: &[Uuid]) -> Result<()> {
        for id in users {
            sqlx::query(
                "UPDATE users SET load = (SELECT COALESCE(SUM(weight), 0) FROM queue_items \
                 WHERE assignee_id = $1 AND closed_at IS NULL) WHERE id = $1",
            )
            .bind(id)
            .persistent(false)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn stages_for_update(&mut self, contacts: &[Uuid]) -> Result<Vec<(Uuid, Stage, Option<Uuid>)>> {
        let rows: Vec<(Uuid, String, Option<Uuid>)> = fetch_in_grouped(
            &mut self.tx,
            "SELECT id, stage, merged_into FROM contacts WHERE id IN (",
            &format!(") ORDER BY id{LOCK}"),
            contacts,
        )
        .await?;
        let mut rows = rows
            .into_iter()
            .map(|(id, stage, merged)| {
                Ok((id, Stage::from_name(&stage).ok_or_else(|| corrupt("stage", &stage))?, merged))
            })
            .collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|r| r.0);
        Ok(rows)
    }

    async fn insert_routing_rules(&mut self, r: &StoredRules) -> Result<()> {
        sqlx::query("INSERT INTO routing_rules (version, spec, created_at, created_by) VALUES ($1, $2, $3, $4)")
            .bind(r.version)
            .bind(Json(&r.spec))
            .bind(r.created_at.0)
            .bind(r.created_by.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_queue_items(&mut self, rows: &[QueueItem]) -> Result<()> {
        insert_many(
            &mut self.tx,
            "INSERT INTO queue_items (id, contact_id, queue_id, assignee_id, rule, rules_version, reason, weight, \
             queued_at, sla_due_at, first_action_at, first_action_by, first_action_seconds, breached_at, escalations, \
             closed_at, outcome, pain_order, score_order, interest_order) ",
            rows,
            |b, i| {
                let key = crate::handoff::ItemKey::of(i);
                b.push_bind(i.id)
                    .push_bind(i.contact_id)
                    .push_bind(i.queue_id)
                    .push_bind(i.assignee_id)
                    .push_bind(i.rule.as_deref())
                    .push_bind(i.rules_version)
                    .push_bind(i.reason.as_str())
                    .push_bind(i.weight)
                    .push_bind(i.queued_at.0)
                    .push_bind(i.sla_due_at.0)
                    .push_bind(i.first_action_at.map(|t| t.0))
                    .push_bind(i.first_action_by.as_deref())
                    .push_bind(i.first_action_seconds)
                    .push_bind(i.breached_at.map(|t| t.0))
                    .push_bind(i.escalations)
                    .push_bind(i.closed_at.map(|t| t.0))
                    .push_bind(i.outcome.map(|o| o.as_str()))
                    .push_bind(key.pain_order)
                    .push_bind(key.score_order)
                    .push_bind(key.interest_order);
            },
        )
        .await
    }

    async fn open_items_for_update(&mut self, contacts: &[Uuid]) -> Result<Vec<QueueItem>> {
        let head = format!("SELECT {ITEM_COLUMNS} FROM queue_items i WHERE i.closed_at IS NULL AND i.contact_id IN (");
        let mut rows: Vec<ItemRow> =
            fetch_in_planned(&mut self.tx, &head, &format!(") ORDER BY i.contact_id{LOCK}"), contacts).await?;
        rows.sort_by_key(|r| r.contact_id);
        items(rows)
    }

    async fn save_queue_items(&mut self, rows: &[QueueItem]) -> Result<()> {
        for i in rows {
            let key = crate::handoff::ItemKey::of(i);
            sqlx::query(
                "UPDATE queue_items SET assignee_id = $2, sla_due_at = $3, first_action_at = $4, first_action_by = $5, \
                 first_action_seconds = $6, breached_at = $7, escalations = $8, closed_at = $9, outcome = $10, \
                 pain_order = $11, score_order = $12, interest_order = $13, reason = $14 WHERE id = $1",
            )
            .bind(i.id)
            .bind(i.assignee_id)
            .bind(i.sla_due_at.0)
            .bind(i.first_action_at.map(|t| t.0))
            .bind(i.first_action_by.as_deref())
            .bind(i.first_action_seconds)
            .bind(i.breached_at.map(|t| t.0))
            .bind(i.escalations)
            .bind(i.closed_at.map(|t| t.0))
            .bind(i.outcome.map(|o| o.as_str()))
            .bind(key.pain_order)
            .bind(key.score_order)
            .bind(key.interest_order)
            .bind(i.reason.as_str())
            .persistent(true)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn insert_audit_entries(&mut self, entries: &[AuditEntry]) -> Result<()> {
        insert_many(&mut self.tx, "INSERT INTO audit_log (at, actor, action, contact_id, detail) ", entries, |b, e| {
            b.push_bind(e.at.0)
                .push_bind(e.actor.as_str())
                .push_bind(e.action.as_str())
                .push_bind(e.contact_id)
                .push_bind(e.detail.as_str());
        })
        .await
    }
}
