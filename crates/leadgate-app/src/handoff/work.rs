//! What people do with a queue: read its work in order, accept a contact (`mql` →
//! `sal`) or reject it with a reason (→ `nurture`). The first thing a person does with
//! a contact handed over (an answer, a stage move, qualification fields) stops its SLA
//! clock.

use crate::error::{invalid, optional_text};
use crate::retry::TxError;
use crate::{App, AppError, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::changes::ChangeKind;
use leadgate_core::erasure::AuditEntry;
use leadgate_core::handoff::acceptance::{DEFAULT_REASONS, MAX_NOTE, rejection_detail};
use leadgate_core::handoff::people::{Outcome, QueueItem};
use leadgate_core::lifecycle::{self, Actor, Cause, CauseKind, Stage, TransitionError};
use leadgate_core::model::Qualification;
use leadgate_store::Tx;
use leadgate_store::handoff::{ItemKey, ItemQuery};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An open item as a queue's page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    #[serde(flatten)]
    pub item: QueueItem,
    /// The assignee's email.
    pub assignee: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub country: Option<String>,
    pub stage: Stage,
}

/// A page of a queue's open work, in priority order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    pub items: Vec<ItemView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /v1/queues/{id}/items`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// Only the items of this person (email or id).
    pub assignee: Option<String>,
    /// `true`: only the items nobody is assigned.
    pub unassigned: Option<String>,
    /// `true`: only breached items; `false`: only those within their SLA.
    pub breached: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

pub const QUEUE_PAGE_DEFAULT: i64 = 50;
pub const QUEUE_PAGE_MAX: i64 = 500;

/// A rejection as `POST /v1/contacts/{id}/reject` takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    /// A reason code: `not_ready`, `no_budget`, `no_authority`, `no_need`,
    /// `bad_timing`, `wrong_person`, `bad_data`, `duplicate`, `competitor`, `other`.
    pub reason: Option<String>,
    /// What else Marketing should know, at most 900 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// An acceptance as `POST /v1/contacts/{id}/accept` takes it: what the qualifier
/// learnt, optionally.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    #[serde(default)]
    pub qualification: Option<Qualification>,
}

fn encode(k: &ItemKey) -> String {
    format!("{}.{}.{:x}.{}.{}", k.sla_due_at.0, k.pain_order, k.score_order.to_bits(), k.interest_order, k.id.simple())
}

fn decode(s: &str) -> Option<ItemKey> {
    let mut parts = s.trim().split('.');
    let key = ItemKey {
        sla_due_at: Timestamp(parts.next()?.parse().ok()?),
        pain_order: parts.next()?.parse().ok()?,
        score_order: f64::from_bits(u64::from_str_radix(parts.next()?, 16).ok()?),
        interest_order: parts.next()?.parse().ok()?,
        id: Uuid::parse_str(parts.next()?).ok()?,
    };
    (parts.next().is_none() && key.score_order.is_finite()).then_some(key)
}

fn flag(v: &Option<String>, field: &str) -> Result<Option<bool>, AppError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(invalid(ErrorCode::InvalidQuery, field, format!("{field} must be true or false"))),
    }
}

impl App {
    /// A page of a queue's open items in the order of the work: due first, then pain,
    /// score and the latest interest.
    pub async fn queue_items(&self, queue: Uuid, q: &ItemsQuery) -> Result<QueuePage, AppError> {
        let queues = self.handoff.queues(self.store.as_ref(), Some(queue)).await?;
        if !queues.by_id.contains_key(&queue) {
            return Err(AppError::new(ErrorCode::UnknownQueue, format!("no queue {queue}: GET /v1/queues lists them")));
        }
        let limit = match q.limit.as_deref().map(str::trim) {
            None | Some("") => QUEUE_PAGE_DEFAULT,
            Some(l) => l.parse().ok().filter(|l| (1..=QUEUE_PAGE_MAX).contains(l)).ok_or_else(|| {
                invalid(ErrorCode::InvalidLimit, "limit", format!("limit must be 1 to {QUEUE_PAGE_MAX}"))
            })?,
        };
        let after =
            match q.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
                Some(c) => Some(decode(c).ok_or_else(|| {
                    invalid(ErrorCode::InvalidCursor, "cursor", "the cursor is not one this queue gave")
                })?),
                None => None,
            };
        let users = self.store.users().await?;
        let assignee = match q.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => Some(
                users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(a) || u.id.to_string() == a)
                    .map(|u| u.id)
                    .ok_or_else(|| invalid(ErrorCode::UnknownUser, "assignee", format!("no user {a:?}")))?,
            ),
            None => None,
        };
        let query = ItemQuery {
            queue,
            assignee,
            unassigned: flag(&q.unassigned, "unassigned")?.unwrap_or(false),
            breached: flag(&q.breached, "breached")?,
            after,
            limit: limit + 1,
        };
        let mut rows = self.store.queue_items(&query).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|w| encode(&ItemKey::of(&w.item))) } else { None };
        let items = rows
            .into_iter()
            .map(|w| ItemView {
                assignee: w.item.assignee_id.and_then(|id| users.iter().find(|u| u.id == id)).map(|u| u.email.clone()),
                item: w.item,
                email: w.email,
                first_name: w.first_name,
                last_name: w.last_name,
                company: w.company,
                title: w.title,
                country: w.country,
                stage: w.stage,
            })
            .collect();
        Ok(QueuePage { items, next_cursor })
    }

    /// Sales accepts a contact handed over: `mql` → `sal`, with what the qualifier
    /// learnt; its item closes, its clock stops.
    pub async fn accept(&self, id: Uuid, input: &AcceptInput, actor: &Actor) -> Result<QueueItem, AppError> {
        let qualification =
            input.qualification.clone().map(crate::qualification::rules::clean_qualification).transpose()?;
        self.answer(id, actor, Outcome::Accepted, |from| {
            let change = lifecycle::transition(id, Some(from), Stage::Sal, Cause::new(CauseKind::Acceptance, ""), actor, self.now());
            change.map_err(|e| match e {
                TransitionError::NotAllowed { .. } | TransitionError::NoChange(_) => AppError::new(
                    ErrorCode::InvalidStage,
                    format!("accepting moves a contact from mql to sal; this one is at {from}: reject it, or move it by hand"),
                ),
                e => AppError::new(ErrorCode::InvalidValue, e.to_string()),
            })
        }, qualification)
        .await
    }

    /// Sales rejects a contact handed over, with a reason code (and a note): it goes to
    /// `nurture`, never deleted, the reason in its history; its item closes.
    pub async fn reject(&self, id: Uuid, input: &RejectInput, actor: &Actor) -> Result<QueueItem, AppError> {
        let reason = input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).ok_or_else(|| {
            invalid(
                ErrorCode::ReasonRequired,
                "reason",
                format!("a rejection needs a reason: one of {}", DEFAULT_REASONS.join(", ")),
            )
        })?;
        let reasons = self.rejection_reasons().await?;
        if !reasons.iter().any(|r| r == reason) {
            return Err(invalid(
                ErrorCode::InvalidReason,
                "reason",
                format!(
                    "unknown reason {:?}: reasons are {}",
                    leadgate_core::ident::truncate(reason, 40),
                    reasons.join(", ")
                ),
            ));
        }
        let note = optional_text(&input.note, "note", MAX_NOTE)?;
        let detail = rejection_detail(reason, note.as_deref());
        self.answer(id, actor, Outcome::Rejected, |from| {
            let change = lifecycle::transition(id, Some(from), Stage::Nurture, Cause::new(CauseKind::Rejection, detail.clone()), actor, self.now());
            change.map_err(|e| match e {
                TransitionError::NotAllowed { .. } | TransitionError::NoChange(_) => AppError::new(
                    ErrorCode::InvalidStage,
                    format!("rejecting sends a contact at mql, sal or sql to nurture; this one is at {from}: move it by hand"),
                ),
                e => invalid(ErrorCode::InvalidValue, "note", e.to_string()),
            })
        }, None)
        .await
    }

    /// The reason codes Sales may give: the workspace's, or the defaults.
    pub async fn rejection_reasons(&self) -> Result<Vec<String>, AppError> {
        match self.store.setting(REASONS_SETTING).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::new(ErrorCode::Internal, format!("the rejection reasons setting: {e}"))),
            None => Ok(DEFAULT_REASONS.iter().map(|r| r.to_string()).collect()),
        }
    }

    /// Sets the reason codes Sales may give; a rejection recorded before keeps its own.
    pub async fn set_rejection_reasons(&self, codes: &[String], actor: &Actor) -> Result<(), AppError> {
        leadgate_core::handoff::acceptance::check_reasons(codes)
            .map_err(|m| invalid(ErrorCode::InvalidValue, "rejection_reasons", m))?;
        let json = serde_json::to_string(codes).map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
        let mut tx = self.store.begin().await?;
        let result = tx.set_setting(REASONS_SETTING, &json, self.now(), &actor.label()).await.map_err(AppError::from);
        crate::finish(tx, result).await
    }

    /// Accepts or rejects: the contact must be in a queue; the move `change` makes is
    /// recorded, the item closed with its first action, all in one transaction. Two
    /// people answering at once: the contact is locked, the second finds it handled.
    async fn answer(
        &self,
        id: Uuid,
        actor: &Actor,
        outcome: Outcome,
        change: impl Fn(Stage) -> Result<leadgate_core::StageChange, AppError>,
        qualification: Option<Qualification>,
    ) -> Result<QueueItem, AppError> {
        let result = crate::retry::on_contention_app("answering a contact handed over", || async {
            let mut tx = self.store.begin().await?;
            let result = async {
                let Some(mut contact) = tx.contact_by_id(id).await? else {
                    return Err(AppError::new(ErrorCode::UnknownContact, format!("no contact {id}")).into());
                };
                if let Some(into) = contact.merged_into {
                    return Err(AppError::new(
                        ErrorCode::AlreadyMerged,
                        format!("contact {id} was merged into {into}"),
                    )
                    .into());
                }
                let Some(mut item) = tx.open_items_for_update(&[id]).await?.pop() else {
                    return Err(self.not_open(id).await.into());
                };
                let move_ = change(contact.stage)?;
                let now = move_.at;
                if let Some(q) = &qualification {
                    self.write_qualification(tx.as_mut(), id, q, actor).await?;
                }
                contact.stage = move_.to;
                contact.stage_at = now;
                contact.updated_at = now;
                tx.update_contact(&contact).await?;
                tx.insert_stage_change(&move_).await?;
                self.first_action(&mut item, actor, now).await?;
                item.closed_at = Some(now);
                item.outcome = Some(outcome);
                tx.save_queue_items(std::slice::from_ref(&item)).await?;
                tx.recount_loads(&item.assignee_id.into_iter().collect::<Vec<_>>()).await?;
                let detail = match outcome {
                    Outcome::Rejected => move_.detail.clone(),
                    _ => format!("{} → {}", move_.from.map_or("-", |s| s.as_str()), move_.to),
                };
                tx.insert_audit_entries(&[AuditEntry::new(
                    now,
                    actor,
                    &format!("contact.{}", outcome.as_str()),
                    id,
                    detail,
                )])
                .await?;
                tx.note_change(id, ChangeKind::Routed);
                Ok::<_, TxError>(item)
            }
            .await;
            crate::finish_in_feed(tx, result).await
        })
        .await?;
        let (item, last) = result;
        self.wait_until_scored(last).await;
        Ok(item)
    }

    /// The names of an item's queue and assignee.
    pub(crate) async fn queue_and_assignee(
        &self,
        item: &QueueItem,
    ) -> Result<(Option<String>, Option<String>), AppError> {
        let queues = self.handoff.queues(self.store.as_ref(), Some(item.queue_id)).await?;
        let queue = queues.by_id.get(&item.queue_id).map(|s| s.queue.name.clone());
        let assignee = match item.assignee_id {
            Some(id) => self.store.users().await?.into_iter().find(|u| u.id == id).map(|u| u.email),
            None => None,
        };
        Ok((queue, assignee))
    }

    /// Why a contact cannot be answered: handled already, or never handed over.
    async fn not_open(&self, id: Uuid) -> AppError {
        match self.store.items_of(id).await.ok().and_then(|items| items.into_iter().last()) {
            Some(last) if last.closed_at.is_some() => AppError::new(
                ErrorCode::AlreadyHandled,
                format!(
                    "contact {id} was handled already: {} by {} at {}",
                    last.outcome.map_or("closed", |o| o.as_str()),
                    last.first_action_by.as_deref().unwrap_or("someone"),
                    last.closed_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                ),
            ),
            _ => AppError::new(
                ErrorCode::NotInQueue,
                format!("contact {id} is in no queue: nothing was handed over to answer"),
            ),
        }
    }

    /// Records `actor`'s first action on `item`, if it has none yet: when, who, and the
    /// working time it took on its queue's calendar.
    async fn first_action(&self, item: &mut QueueItem, actor: &Actor, now: Timestamp) -> Result<(), AppError> {
        if item.first_action_at.is_some() {
            return Ok(());
        }
        let queues = self.handoff.queues(self.store.as_ref(), Some(item.queue_id)).await?;
        let worked = queues
            .by_id
            .get(&item.queue_id)
            .map_or(now.0 - item.queued_at.0, |s| s.calendar.working_time_between(item.queued_at, now));
        item.first_action_at = Some(now);
        item.first_action_by = Some(actor.label());
        item.first_action_seconds = Some(worked / 1_000_000);
        Ok(())
    }

    /// A person acted on contact `id` in `tx` (a stage move, qualification): if it
    /// waits in a queue for a first action, this is it, and its clock stops.
    pub(crate) async fn note_first_action(&self, tx: &mut dyn Tx, id: Uuid, actor: &Actor) -> Result<(), AppError> {
        if !matches!(actor, Actor::User(_) | Actor::ApiKey(_)) {
            return Ok(());
        }
        let Some(mut item) = tx.open_items_for_update(&[id]).await?.pop() else { return Ok(()) };
        if item.first_action_at.is_some() {
            return Ok(());
        }
        self.first_action(&mut item, actor, self.now()).await?;
        tx.save_queue_items(&[item]).await?;
        tx.insert_audit_entries(&[AuditEntry::new(self.now(), actor, "contact.first_action", id, "")]).await?;
        tx.note_change(id, ChangeKind::Routed);
        Ok(())
    }
}

/// The setting holding the workspace's reason codes (a JSON list).
pub(crate) const REASONS_SETTING: &str = "rejection_reasons";
