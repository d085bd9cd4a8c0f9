//! A person's data: erasing it, reading all of it (subject access), consent and the
//! wishes not to be emailed or called, legal holds, the audit of all this, and the
//! retention of what inquiries carry beside their fields.

use crate::ErrorCode;
use crate::error::invalid;
use crate::{App, AppError};
use leadgate_core::consent::{ConsentRecord, in_force};
use leadgate_core::erasure::{AuditEntry, ContactPrivacy, Erasure, Hold};
use leadgate_core::model::{Account, Contact, ContactChange, Qualification, Response};
use leadgate_core::{Actor, Email, Ident, StageChange, Timestamp};
use leadgate_store::{Erased, PersonalRecords, Retained, Tx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What erasing a person did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErasureReport {
    pub contact_id: Uuid,
    /// The contacts merged into it, erased with it: the same person.
    pub merged_contacts: Vec<Uuid>,
    pub erased_at: Timestamp,
    /// How many records of each kind were removed or blanked.
    #[schema(value_type = Object)]
    pub removed: Erased,
}

/// Everything held about a person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonalData {
    pub contact: Contact,
    /// The records merged into it, as they are.
    pub merged_contacts: Vec<Contact>,
    pub account: Option<Account>,
    pub qualification: Qualification,
    pub responses: Vec<Response>,
    pub stage_history: Vec<StageChange>,
    pub field_changes: Vec<ContactChange>,
    pub consent: Vec<ConsentRecord>,
    pub privacy: ContactPrivacy,
    /// Inbox items, events and the other records kept of the person.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub records: PersonalRecords,
    pub audit: Vec<AuditEntry>,
}

/// A grant or withdrawal of consent, as the API takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// An identifier (`newsletter`, `events`); otherwise `invalid_identifier`.
    pub purpose: String,
    /// A grant (`true`) or a withdrawal (`false`).
    pub granted: bool,
    /// Where it was given or withdrawn (`double opt-in email of 2026-12-01`, `phone
    /// call`): 1–200 characters.
    pub source: String,
    /// At most 1,000 characters.
    pub reason: Option<String>,
}

/// The consent in force for each purpose, and every record of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub in_force: BTreeMap<String, ConsentRecord>,
    pub records: Vec<ConsentRecord>,
}

/// The wishes not to be emailed or called, as the API takes them: each left as it is
/// when not given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoNotContactInput {
    pub do_not_email: Option<bool>,
    pub do_not_call: Option<bool>,
    pub reason: Option<String>,
}

/// How long what inquiries carry beside their fields is kept after they were processed,
/// and how long the change feed's entries are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub inbox_body_days: u32,
    pub ip_address_days: u32,
    pub user_agent_days: u32,
    pub changes_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self { inbox_body_days: 90, ip_address_days: 90, user_agent_days: 90, changes_days: 30 }
    }
}

/// What a retention sweep removed: how many inbox items lost each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    pub inbox_bodies: u64,
    pub ip_addresses: u64,
    pub user_agents: u64,
    /// Entries of the change feed.
    pub changes: u64,
}

const DAY_MICROS: i64 = 86_400 * 1_000_000;
/// How far behind the present a retention sweep stays (see `sweep_retention`).
const SETTLING_MICROS: i64 = 5 * 60 * 1_000_000;
pub const REASON_MAX: usize = 1_000;

/// A reason a person gives for something done to personal data: required, trimmed,
/// at most [`REASON_MAX`] characters.
fn reason(text: Option<&str>) -> Result<String, AppError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(invalid(ErrorCode::ReasonRequired, "reason", "say why (reason), for the audit"));
    }
    if text.chars().count() > REASON_MAX {
        return Err(invalid(ErrorCode::TooLong, "reason", format!("reason is longer than {REASON_MAX} characters")));
    }
    if leadgate_core::inquiry::has_control_chars(text) {
        return Err(invalid(ErrorCode::InvalidValue, "reason", "reason contains control characters"));
    }
    Ok(text.to_owned())
}

fn unknown(id: Uuid) -> AppError {
    AppError::new(ErrorCode::UnknownContact, format!("no contact {id}"))
}

impl App {
    /// The contact a person is known as now: `target` is a contact id (one merged into
    /// another leads to that one) or an email.
    pub async fn find_person(&self, target: &str) -> Result<Uuid, AppError> {
        let target = target.trim();
        let id = match Uuid::parse_str(target) {
            Ok(id) => id,
            Err(_) => {
                let email = Email::field(target, "contact").map_err(AppError::from)?;
                let filter =
                    leadgate_core::model::ContactFilter { email: Some(email.to_string()), ..Default::default() };
                let found = self.store.contacts(&filter, None, 1).await?.into_iter().next();
                return found.map(|c| c.id).ok_or_else(|| {
                    AppError::new(ErrorCode::UnknownContact, "no contact has this email (or it was erased)")
                });
            }
        };
        let contact = self.store.contact(id).await?.ok_or_else(|| unknown(id))?;
        Ok(contact.merged_into.unwrap_or(contact.id))
    }

    /// Erases a person: the contact `id` and those merged into it lose everything that
    /// says who they are (`leadgate_core::erasure`), in one transaction with the record
    /// of who did it and why. Refused while a legal hold is set.
    pub async fn erase_contact(&self, id: Uuid, why: Option<&str>, actor: &Actor) -> Result<ErasureReport, AppError> {
        let why = reason(why)?;
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            // The contact and those merged into it, as they are in this transaction
            // (locked on PostgreSQL: a merge or a second erasure waits), then what is
            // kept beside them.
            let contact = tx.contact_by_id(id).await?.ok_or_else(|| unknown(id))?;
            if contact.merged_into.is_some() {
                return Err(AppError::new(
                    ErrorCode::AlreadyMerged,
                    "this contact was merged into another: erase that one, which erases both",
                ));
            }
            let mut contacts = vec![contact];
            contacts.extend(tx.merged_into_for_update(id).await?);
            let mut privacy = tx.privacy_for_update(id).await?;
            if let Some(done) = &privacy.erased {
                return Err(AppError::new(
                    ErrorCode::AlreadyErased,
                    format!("the contact was erased at {} by {}", done.at, done.actor),
                ));
            }
            for c in &contacts {
                let held = if c.id == id { privacy.clone() } else { tx.privacy_for_update(c.id).await? };
                if let Some(hold) = &held.legal_hold {
                    return Err(AppError::new(
                        ErrorCode::LegalHold,
                        format!(
                            "contact {} is under a legal hold (set by {}: {}); lift it first",
                            c.id, hold.actor, hold.reason
                        ),
                    ));
                }
            }
            let removed = tx.erase_personal_data(&contacts, at).await?;
            privacy.erased = Some(Erasure { at, actor: actor.label(), reason: why.clone() });
            tx.save_privacy(&privacy).await?;
            let counts = serde_json::to_string(&removed).unwrap_or_default();
            let detail = format!("{why} (removed {counts})");
            tx.insert_audit(&AuditEntry::new(at, actor, "contact.erased", id, detail)).await?;
            let merged: Vec<Uuid> = contacts[1..].iter().map(|c| c.id).collect();
            Ok::<_, AppError>((removed, merged))
        }
        .await;
        let (removed, merged) = crate::finish(tx, result).await?;
        tracing::info!(contact_id = %id, merged = merged.len(), "personal data erased");
        Ok(ErasureReport { contact_id: id, merged_contacts: merged, erased_at: at, removed })
    }

    /// Everything held about the person whose contact is `id` (and those merged into
    /// it); the reading is itself audited.
    pub async fn personal_data(&self, id: Uuid, actor: &Actor) -> Result<PersonalData, AppError> {
        let contact = self.store.contact(id).await?.ok_or_else(|| unknown(id))?;
        // A record merged into another is the person that one is.
        if let Some(survivor) = contact.merged_into {
            return Box::pin(self.personal_data(survivor, actor)).await;
        }
        let merged = self.store.merged_into(id).await?;
        let mut person = vec![id];
        person.extend(&merged);
        let mut merged_contacts = Vec::new();
        for m in &merged {
            merged_contacts.extend(self.store.contact(*m).await?);
        }
        let account = match contact.account_id {
            Some(a) => self.store.account(a).await?,
            None => None,
        };
        let (mut responses, mut stage_history, mut field_changes) = (Vec::new(), Vec::new(), Vec::new());
        for c in &person {
            responses.extend(self.store.responses(*c).await?);
            stage_history.extend(self.store.stage_history(*c).await?);
            field_changes.extend(self.store.contact_changes(*c).await?);
        }
        let one = [id];
        let emails: Vec<&str> =
            std::iter::once(&contact).chain(&merged_contacts).filter_map(|c| c.email.as_deref()).collect();
        let (qualification, consent, privacy, records) = tokio::try_join!(
            self.store.qualifications(&one),
            self.store.consents(&person),
            self.store.privacy(id),
            self.store.personal_records(&person, &emails),
        )?;
        let audit = self
            .store
            .audit_log(&leadgate_store::AuditFilter::contact(id), 0, 1_000)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut tx = self.store.begin().await?;
        let read = AuditEntry::new(self.now(), actor, "contact.personal_data_read", id, "subject access");
        let result = tx.insert_audit(&read).await;
        crate::finish(tx, result).await?;
        Ok(PersonalData {
            contact,
            merged_contacts,
            account,
            qualification: qualification.into_iter().next().map(|(_, q)| q).unwrap_or_default(),
            responses,
            stage_history,
            field_changes,
            consent,
            privacy,
            records,
            audit,
        })
    }

    /// Records a grant or withdrawal of consent, which is then in force for its purpose.
    pub async fn record_consent(&self, id: Uuid, input: ConsentInput, actor: &Actor) -> Result<ConsentView, AppError> {
        let purpose = Ident::field(&input.purpose, "purpose", "purpose").map_err(AppError::from)?;
        let source = input.source.trim();
        if source.is_empty() || source.chars().count() > 200 || leadgate_core::inquiry::has_control_chars(source) {
            return Err(invalid(
                ErrorCode::InvalidValue,
                "source",
                "source says where consent was given or withdrawn: 1 to 200 characters",
            ));
        }
        let why = match input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => Some(reason(Some(r))?),
            None => None,
        };
        let record = ConsentRecord {
            contact_id: id,
            purpose: purpose.to_string(),
            granted: input.granted,
            source: source.to_owned(),
            at: self.now(),
            actor: actor.label(),
            reason: why,
        };
        let mut tx = self.store.begin().await?;
        let result = async {
            self.live_contact(&mut *tx, id).await?;
            tx.insert_consents(std::slice::from_ref(&record)).await?;
            Ok::<_, AppError>(())
        }
        .await;
        crate::finish(tx, result).await?;
        self.consent(id).await
    }

    /// The consent records of a contact and what is in force.
    pub async fn consent(&self, id: Uuid) -> Result<ConsentView, AppError> {
        self.store.contact(id).await?.ok_or_else(|| unknown(id))?;
        let records = self.store.consents(&[id]).await?;
        let in_force = in_force(&records).into_iter().map(|(p, r)| (p.to_owned(), r.clone())).collect();
        Ok(ConsentView { in_force, records })
    }

    /// Sets a contact's wishes not to be emailed or called, with a reason, recorded as
    /// a change of the contact.
    pub async fn set_do_not_contact(
        &self,
        id: Uuid,
        input: DoNotContactInput,
        actor: &Actor,
    ) -> Result<Contact, AppError> {
        if input.do_not_email.is_none() && input.do_not_call.is_none() {
            return Err(invalid(ErrorCode::MissingField, "do_not_email", "give do_not_email, do_not_call or both"));
        }
        let why = reason(input.reason.as_deref())?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let mut contact = self.live_contact(&mut *tx, id).await?;
            let mut changes = serde_json::Map::new();
            for (field, slot, wanted) in [
                ("do_not_email", &mut contact.do_not_email, input.do_not_email),
                ("do_not_call", &mut contact.do_not_call, input.do_not_call),
            ] {
                if let Some(wanted) = wanted
                    && *slot != wanted
                {
                    changes.insert(field.to_owned(), serde_json::json!({"from": *slot, "to": wanted}));
                    *slot = wanted;
                }
            }
            if !changes.is_empty() {
                contact.updated_at = now;
                tx.update_contact(&contact).await?;
                let change = ContactChange {
                    contact_id: id,
                    at: now,
                    cause: format!("do not contact: {why}"),
                    actor: actor.label(),
                    changes,
                };
                tx.insert_contact_change(&change).await?;
            }
            Ok::<_, AppError>(contact)
        }
        .await;
        crate::finish(tx, result).await
    }

    /// Sets or lifts a legal hold, which stops the contact from being erased.
    pub async fn set_legal_hold(
        &self,
        id: Uuid,
        hold: bool,
        why: Option<&str>,
        actor: &Actor,
    ) -> Result<ContactPrivacy, AppError> {
        let why = reason(why)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            // A record merged into another may hold one too (set before the merge).
            tx.contact_by_id(id).await?.ok_or_else(|| unknown(id))?;
            let mut privacy = tx.privacy_for_update(id).await?;
            if privacy.legal_hold.is_some() == hold {
                return Ok(privacy);
            }
            privacy.legal_hold = hold.then(|| Hold { at: now, actor: actor.label(), reason: why.clone() });
            tx.save_privacy(&privacy).await?;
            let action = if hold { "contact.legal_hold_set" } else { "contact.legal_hold_lifted" };
            tx.insert_audit(&AuditEntry::new(now, actor, action, id, why.clone())).await?;
            Ok::<_, AppError>(privacy)
        }
        .await;
        crate::finish(tx, result).await
    }

    /// The audit log, oldest first, after entry `after`; only about `contact` when given.
    pub async fn audit_log(
        &self,
        filter: &leadgate_store::AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AuditEntry)>, AppError> {
        Ok(self.store.audit_log(filter, after, limit.clamp(1, 1_000)).await?)
    }

    /// Removes from the inbox, and from the change feed, what `retention` no longer
    /// keeps.
    pub async fn sweep_retention(&self, retention: &Retention) -> Result<SweepReport, AppError> {
        let now = self.now();
        // Never up to the last minutes: an inquiry settled at a moment still being
        // committed by another server would be passed over for good.
        let settled = now.0.saturating_sub(SETTLING_MICROS);
        let before = |days: u32| Timestamp(now.0.saturating_sub(i64::from(days) * DAY_MICROS).min(settled));
        let mut report = SweepReport::default();
        for what in Retained::ALL {
            let (days, count) = match what {
                Retained::Bodies => (retention.inbox_body_days, &mut report.inbox_bodies),
                Retained::Addresses => (retention.ip_address_days, &mut report.ip_addresses),
                Retained::Browsers => (retention.user_agent_days, &mut report.user_agents),
            };
            *count = self.store.sweep_inbox(what, before(days), now).await?;
        }
        report.changes = self.store.prune_changes(before(retention.changes_days)).await?;
        Ok(report)
    }

    /// The contact `id`, locked for the transaction, if it exists and is not merged.
    async fn live_contact(&self, tx: &mut dyn Tx, id: Uuid) -> Result<Contact, AppError> {
        let contact = tx.contact_by_id(id).await?.ok_or_else(|| unknown(id))?;
        if let Some(into) = contact.merged_into {
            return Err(AppError::new(
                ErrorCode::AlreadyMerged,
                format!("contact {id} was merged into {into}; act on that one"),
            ));
        }
        Ok(contact)
    }
}
