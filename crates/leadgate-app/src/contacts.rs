//! Reading contacts and moving them by hand.

use crate::ErrorCode;
use crate::error::invalid;
use crate::{App, AppError};
use leadgate_core::lifecycle::{self, Actor, Cause, CauseKind, TransitionError};
use leadgate_core::model::{Account, Contact, ContactChange, ContactFilter, Qualification, Response, StoredEvent};
use leadgate_core::{Direction, Email, Ident, Stage, StageChange};
use leadgate_store::Tx;
use serde::Serialize;
use uuid::Uuid;

/// A contact with everything known about it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    #[serde(flatten)]
    pub contact: Contact,
    pub account: Option<Account>,
    /// Budget, authority, need and timeline, as recorded.
    pub qualification: Qualification,
    /// `null` (as are the funnel position and pain) only for a contact merged into
    /// another before it was ever scored: its history lives on in the survivor.
    pub scores: Option<ScoresView>,
    /// `tofu`, `mofu` or `bofu`.
    pub funnel_position: Option<&'static str>,
    pub funnel_reason: Option<String>,
    /// `low`, `medium` or `acute`.
    pub pain: Option<&'static str>,
    pub pain_reason: Option<String>,
    /// Every stage change, oldest first.
    pub stage_history: Vec<StageChange>,
    /// What changed on it besides its stage (an import, an inquiry filling a blank, a
    /// wish not to be emailed), oldest first.
    pub field_changes: Vec<ContactChange>,
    /// Every response, newest first.
    pub responses: Vec<Response>,
    /// The 50 most recent activity events by `at`, newest first.
    pub recent_events: Vec<StoredEvent>,
    /// While it waits in a queue for Sales: the queue, who is to act (`null`: the
    /// team), by when, and why it was routed there.
    pub queue: Option<String>,
    pub assignee: Option<String>,
    pub sla_due_at: Option<leadgate_core::Timestamp>,
    pub routing_reason: Option<String>,
}

/// A contact's scores now, and every rule and feature behind them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoresView {
    pub fit: i64,
    /// Engagement decayed to the time of reading.
    pub engagement: f64,
    /// Predicted probability of conversion; `null` until a model is trained.
    pub likelihood: Option<f64>,
    /// The likelihood model (`likelihood@version`) that predicted it.
    pub likelihood_model: Option<String>,
    /// Each rule behind the scores (`rule`, `points`, `reason`), then the features the
    /// predictive model weighed most.
    pub factors: Vec<serde_json::Value>,
    /// The scoring model (`name@version`), and when it assessed the contact with what
    /// the scores say now: an assessment that finds them as they were, time passing
    /// aside, leaves them and this moment as they were.
    pub model: String,
    pub assessed_at: leadgate_core::Timestamp,
    /// Rules that could not be evaluated for this contact.
    pub failures: Vec<leadgate_core::scoring::RuleFailure>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Query parameters of the contact list, as given.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Exact match after normalisation (`Ann.Lee@ACME.example` finds
    /// `ann.lee@acme.example`); encode `+` as `%2B`. Not an email: `invalid_email`.
    pub email: Option<String>,
    /// A lifecycle stage (case-insensitive); otherwise `invalid_stage`.
    pub stage: Option<String>,
    /// `inbound` or `outbound`, the direction of the contact's first response.
    pub direction: Option<String>,
    /// An identifier: the channel of the contact's first response.
    pub channel: Option<String>,
    /// An id the contact has in another system; `system` narrows it to one system.
    pub external_id: Option<String>,
    pub system: Option<String>,
    /// Page size, from 1 to 1,000; default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page; otherwise `invalid_cursor`.
    pub cursor: Option<String>,
}

pub const RECENT_EVENTS: i64 = 50;
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 1_000;

impl App {
    pub async fn contact_view(&self, id: Uuid) -> Result<ContactView, AppError> {
        let contact = self
            .store
            .contact(id)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownContact, format!("no contact {id}")))?;
        let account = match contact.account_id {
            Some(a) => self.store.account(a).await?,
            None => None,
        };
        let one = [id];
        let (stage_history, field_changes, responses, recent_events, qualification, stored, open) = tokio::try_join!(
            self.store.stage_history(id),
            self.store.contact_changes(id),
            self.store.responses(id),
            self.store.recent_events(id, RECENT_EVENTS),
            self.store.qualifications(&one),
            self.store.scores(&one),
            self.store.open_items(&one),
        )?;
        let (queue, assignee) = match open.first() {
            Some(item) => self.queue_and_assignee(item).await?,
            None => (None, None),
        };
        let now = self.now();
        let stored = match stored.into_iter().next() {
            Some(s) => Some(s),
            // Merged into another before it was ever assessed: what it would score now
            // means nothing (and it is no longer among the contacts assessed).
            None if contact.merged_into.is_some() => None,
            // Never assessed yet (imported, say): assessed now, for this answer only.
            None => Some(self.assessor.assess_unsaved(id, now).await?),
        };
        let scores = stored.as_ref().map(|stored| {
            let a = &stored.assessment;
            let mut factors: Vec<serde_json::Value> =
                a.factors(now).into_iter().map(|f| serde_json::to_value(f).unwrap_or_default()).collect();
            if let Some(serde_json::Value::Array(features)) = &stored.likelihood_factors {
                factors.extend(features.iter().cloned());
            }
            ScoresView {
                fit: a.fit,
                engagement: leadgate_core::scoring::round1(a.engagement_at(now)),
                likelihood: stored.likelihood,
                likelihood_model: stored.likelihood_model.clone(),
                factors,
                model: stored.model.clone(),
                assessed_at: a.as_of,
                failures: a.errors.clone(),
            }
        });
        let a = stored.as_ref().map(|s| &s.assessment);
        Ok(ContactView {
            qualification: qualification.into_iter().next().map(|(_, q)| q).unwrap_or_default(),
            funnel_position: a.map(|a| a.funnel.grade.as_str()),
            funnel_reason: a.map(|a| a.funnel.reason.clone()),
            pain: a.map(|a| a.pain.grade.as_str()),
            pain_reason: a.map(|a| a.pain.reason.clone()),
            scores,
            contact,
            account,
            stage_history,
            field_changes,
            responses,
            recent_events,
            queue,
            assignee,
            sla_due_at: open.first().map(|i| i.sla_due_at),
            routing_reason: open.first().map(|i| i.reason.clone()),
        })
    }

    pub async fn list_contacts(&self, q: &ContactQuery) -> Result<ContactPage, AppError> {
        let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let filter = ContactFilter {
            email: blank(&q.email)
                .map(|e| {
                    Email::parse(&e)
                        .map(|e| e.to_string())
                        .map_err(|why| invalid(ErrorCode::InvalidEmail, "email", format!("email {why}")))
                })
                .transpose()?,
            stage: blank(&q.stage)
                .map(|s| s.parse::<Stage>().map_err(|m| invalid(ErrorCode::InvalidStage, "stage", m)))
                .transpose()?,
            direction: blank(&q.direction)
                .map(|d| {
                    Direction::parse(&d).ok_or_else(|| {
                        invalid(ErrorCode::InvalidValue, "direction", "direction must be inbound or outbound")
                    })
                })
                .transpose()?,
            channel: blank(&q.channel)
                .map(|c| Ident::field(&c, "channel", "channel").map(|c| c.to_string()).map_err(AppError::from))
                .transpose()?,
            external_id: blank(&q.external_id)
                .map(|x| {
                    if x.len() > 200 || leadgate_core::inquiry::has_control_chars(&x) {
                        Err(invalid(
                            ErrorCode::InvalidValue,
                            "external_id",
                            "external_id must be at most 200 printable characters",
                        ))
                    } else {
                        Ok(x)
                    }
                })
                .transpose()?,
            system: blank(&q.system),
        };
        let limit = match blank(&q.limit) {
            None => DEFAULT_PAGE,
            Some(l) => l.parse::<i64>().ok().filter(|l| (1..=MAX_PAGE).contains(l)).ok_or_else(|| {
                invalid(ErrorCode::InvalidValue, "limit", format!("limit must be a whole number from 1 to {MAX_PAGE}"))
            })?,
        };
        let after = blank(&q.cursor)
            .map(|c| {
                Uuid::parse_str(&c)
                    .map_err(|_| invalid(ErrorCode::InvalidCursor, "cursor", "cursor is not one this server gave out"))
            })
            .transpose()?;
        // One more than asked tells whether another page exists.
        let mut contacts = self.store.contacts(&filter, after, limit + 1).await?;
        let more = contacts.len() as i64 > limit;
        contacts.truncate(limit as usize);
        let next_cursor = if more { contacts.last().map(|c| c.id.to_string()) } else { None };
        Ok(ContactPage { contacts, next_cursor })
    }

    /// Moves a contact to `stage` by hand; `reason` is required and recorded.
    pub async fn change_stage(
        &self,
        id: Uuid,
        stage: &str,
        reason: Option<&str>,
        value: Option<i64>,
        actor: &Actor,
    ) -> Result<StageChange, AppError> {
        let to: Stage = stage.parse().map_err(|m| invalid(ErrorCode::InvalidStage, "stage", m))?;
        lifecycle::check_value(to, value).map_err(|e| invalid(ErrorCode::InvalidValue, "value", e.to_string()))?;
        let mut tx = self.store.begin().await?;
        let result = async {
            let change = self.change_stage_in(&mut *tx, id, to, reason, value, actor).await?;
            // A person moving a contact handed to them is acting on it: its clock stops.
            self.note_first_action(&mut *tx, id, actor).await?;
            Ok(change)
        }
        .await;
        crate::finish(tx, result).await
    }

    async fn change_stage_in(
        &self,
        tx: &mut dyn Tx,
        id: Uuid,
        to: Stage,
        reason: Option<&str>,
        value: Option<i64>,
        actor: &Actor,
    ) -> Result<StageChange, AppError> {
        let mut contact = tx
            .contact_by_id(id)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownContact, format!("no contact {id}")))?;
        if let Some(into) = contact.merged_into {
            return Err(AppError::new(
                ErrorCode::AlreadyMerged,
                format!("contact {id} was merged into contact {into}; change that contact's stage"),
            ));
        }
        let now = self.now();
        let cause = Cause::new(CauseKind::Manual, reason.unwrap_or_default());
        let mut change =
            lifecycle::transition(id, Some(contact.stage), to, cause, actor, now).map_err(|e| match e {
                TransitionError::ReasonRequired => invalid(ErrorCode::ReasonRequired, "reason", e.to_string()),
                TransitionError::ReasonTooLong => invalid(ErrorCode::TooLong, "reason", e.to_string()),
                TransitionError::ReasonInvalid => invalid(ErrorCode::InvalidValue, "reason", e.to_string()),
                TransitionError::NoChange(_) => AppError::new(ErrorCode::NoChange, e.to_string()).field("stage"),
                // A manual move may go anywhere: the rules refusing one would be a fault.
                TransitionError::NotAllowed { .. } => AppError::new(ErrorCode::Internal, e.to_string()),
            })?;
        change.value = value;
        contact.stage = to;
        contact.stage_at = now;
        contact.updated_at = now;
        tx.update_contact(&contact).await?;
        tx.insert_stage_change(&change).await?;
        Ok(change)
    }
}
