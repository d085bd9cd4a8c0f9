//! What an inquiry does to a contact: the pure decision, applied by the capture use
//! case inside one transaction.

use crate::inquiry::Inquiry;
use crate::junk::JunkReason;
use crate::lifecycle::{self, Actor, Cause, CauseKind, Stage, StageChange};
use crate::model::{Contact, Form, Response};
use crate::response::{ObtainedVia, channel_direction};
use crate::{Ident, Timestamp};
use uuid::Uuid;

/// Everything to write for one inquiry.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturePlan {
    pub contact: Contact,
    /// The contact did not exist before this inquiry.
    pub is_new: bool,
    pub response: Response,
    pub stage_change: Option<StageChange>,
}

/// What the caller chose — new ids, the inbox item and the instant — so that this
/// function stays deterministic.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// The id the contact gets if it is new.
    pub contact: Uuid,
    pub response: Uuid,
    pub inbox_id: Option<Uuid>,
    pub at: Timestamp,
}

/// Plans the effect of `inquiry` (sent through `form`) on `existing`, the contact with
/// the same email if there is one. `account_id` is the account of the email's domain
/// (none for free-mail addresses).
///
/// - A new contact becomes a `prospect`, or `disqualified` when the inquiry is junk.
/// - A known `suspect` becomes a `prospect`; any other known contact keeps its stage
///   (a customer filling a form is still a customer), and junk from a known contact is
///   flagged on the response but never disqualifies someone already in the funnel.
/// - Newer non-empty fields replace older ones; custom fields are merged.
pub fn plan(
    existing: Option<&Contact>,
    inquiry: &Inquiry,
    form: Option<&Form>,
    junk: Option<&JunkReason>,
    account_id: Option<Uuid>,
    stamp: Stamp,
) -> CapturePlan {
    let Stamp { contact: new_contact_id, response: response_id, inbox_id, at: now } = stamp;
    let channel =
        inquiry.source.channel.clone().or_else(|| form.and_then(|f| f.channel.as_deref()).and_then(Ident::parse));
    let direction = inquiry.direction.unwrap_or_else(|| channel_direction(channel.as_ref()));
    let response = Response {
        id: response_id,
        contact_id: existing.map_or(new_contact_id, |c| c.id),
        at: now,
        direction,
        channel: channel.as_ref().map(|c| c.to_string()),
        campaign: inquiry.source.campaign.clone().or_else(|| form.and_then(|f| f.campaign.clone())),
        placement: inquiry.source.placement.clone(),
        referrer: inquiry.source.referrer.clone(),
        vendor: inquiry.source.vendor.clone(),
        action: inquiry.action.as_ref().map_or("form_fill", |a| a.as_str()).to_owned(),
        obtained_via: inquiry.obtained_via.unwrap_or(ObtainedVia::OwnForm).as_str().to_owned(),
        offer: inquiry.offer.clone().or_else(|| form.and_then(|f| f.offer.clone())),
        form_id: form.map(|f| f.id),
        message: inquiry.message.clone(),
        fields: inquiry.custom.clone(),
        junk: junk.map(JunkReason::describe),
        inbox_id,
    };

    let mut contact = match existing {
        Some(c) => c.clone(),
        None => Contact::new(
            new_contact_id,
            inquiry.email.as_ref().map(|e| e.to_string()),
            direction,
            response.channel.clone(),
            Stage::Prospect,
            now,
        ),
    };
    let newer = |old: &mut Option<String>, new: &Option<String>| {
        if new.is_some() {
            old.clone_from(new);
        }
    };
    newer(&mut contact.first_name, &inquiry.first_name);
    newer(&mut contact.last_name, &inquiry.last_name);
    newer(&mut contact.company, &inquiry.company);
    newer(&mut contact.title, &inquiry.title);
    newer(&mut contact.phone, &inquiry.phone);
    newer(&mut contact.country, &inquiry.country);
    contact.custom.extend(inquiry.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
    if contact.account_id.is_none() {
        contact.account_id = account_id;
    }
    contact.updated_at = now;

    let from = existing.map(|c| c.stage);
    let (to, cause) = match junk {
        Some(j) if existing.is_none() => (Stage::Disqualified, Cause::new(CauseKind::Junk, j.describe())),
        Some(_) => (contact.stage, Cause::new(CauseKind::Junk, "")),
        None => (Stage::Prospect, Cause::new(CauseKind::Inquiry, format!("response {}", response.id))),
    };
    // A move the rules refuse (a customer filling a form) simply does not happen.
    let stage_change = lifecycle::transition(contact.id, from, to, cause, &Actor::System, now).ok();
    if let Some(change) = &stage_change {
        contact.stage = change.to;
        contact.stage_at = now;
    }
    CapturePlan { contact, is_new: existing.is_none(), response, stage_change }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Email;
    use crate::response::Direction;

    const NOW: Timestamp = Timestamp(1_790_000_000_000_000);

    fn ids() -> Stamp {
        Stamp { contact: Uuid::from_u128(1), response: Uuid::from_u128(2), inbox_id: None, at: NOW }
    }

    fn form() -> Form {
        Form {
            id: Uuid::from_u128(9),
            key: "k".into(),
            name: "Guide".into(),
            channel: Some("purchased_list".into()),
            offer: Some("CRM guide".into()),
            campaign: Some("q3".into()),
            allowed_origins: vec![],
            created_at: NOW,
        }
    }

    #[test]
    fn a_new_contact_becomes_a_prospect_with_the_forms_where_and_why() {
        let q = Inquiry::new(Email::parse("ann@acme.com").unwrap());
        let p = plan(None, &q, Some(&form()), None, Some(Uuid::from_u128(5)), ids());
        assert!(p.is_new);
        assert_eq!(p.contact.stage, Stage::Prospect);
        assert_eq!(p.contact.account_id, Some(Uuid::from_u128(5)));
        assert_eq!(p.response.offer.as_deref(), Some("CRM guide"));
        assert_eq!(p.response.direction, Direction::Outbound, "purchased_list implies outbound");
        assert_eq!(p.stage_change.unwrap().from, None);
    }

    #[test]
    fn a_customer_filling_a_form_stays_a_customer_and_keeps_unsent_fields() {
        let q = Inquiry::new(Email::parse("ann@acme.com").unwrap());
        let first = plan(None, &q, None, None, None, ids());
        let mut customer = first.contact.clone();
        customer.stage = Stage::Customer;
        customer.title = Some("CTO".into());
        let mut again = q.clone();
        again.company = Some("Acme Ltd".into());
        let p = plan(Some(&customer), &again, None, None, None, ids());
        assert!(!p.is_new);
        assert_eq!(p.contact.stage, Stage::Customer);
        assert_eq!(p.stage_change, None);
        assert_eq!(p.contact.title.as_deref(), Some("CTO"));
        assert_eq!(p.contact.company.as_deref(), Some("Acme Ltd"));
        assert_eq!(p.response.contact_id, customer.id);
    }

    #[test]
    fn junk_disqualifies_a_new_contact_but_only_flags_a_known_one() {
        let q = Inquiry::new(Email::parse("bot@spam.biz").unwrap());
        let junk = JunkReason { code: "honeypot", evidence: "filled".into() };
        let p = plan(None, &q, None, Some(&junk), None, ids());
        assert_eq!(p.contact.stage, Stage::Disqualified);
        assert_eq!(p.stage_change.unwrap().detail, "honeypot: filled");
        let mut known = p.contact.clone();
        known.stage = Stage::Sql;
        let again = plan(Some(&known), &q, None, Some(&junk), None, ids());
        assert_eq!(again.contact.stage, Stage::Sql);
        assert_eq!(again.response.junk.as_deref(), Some("honeypot: filled"));
    }
}
