//! What an inquiry does to a contact: the pure decision, applied by the capture use
//! case inside one transaction.

use crate::consent::ConsentRecord;
use crate::inquiry::Inquiry;
use crate::junk::JunkReason;
use crate::lifecycle::{self, Actor, Cause, CauseKind, Stage, StageChange};
use crate::model::{Contact, ContactChange, Form, Response};
use crate::response::{ObtainedVia, channel_direction};
use crate::{Ident, Timestamp};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Everything to write for one inquiry.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturePlan {
    pub contact: Contact,
    /// The contact did not exist before this inquiry.
    pub is_new: bool,
    pub response: Response,
    pub stage_change: Option<StageChange>,
    /// What the inquiry changed on a contact that existed, field by field.
    pub change: Option<ContactChange>,
    /// Consent the inquiry withdrew (or, from a trusted sender, gave).
    pub consent: Vec<ConsentRecord>,
}

/// Who sent an inquiry.
#[derive(Debug, Clone, PartialEq)]
pub enum Sender {
    /// Anyone: a web form's key is public in its page, so whoever posts may not be the
    /// person whose email they give.
    Public,
    /// A caller with an API key (an integration), trusted to speak for the person.
    Trusted(Actor),
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

/// A contact's own fields that an inquiry may give, by name.
const CONTACT_FIELDS: [&str; 6] = ["first_name", "last_name", "company", "title", "phone", "country"];

fn contact_field<'c>(c: &'c mut Contact, name: &str) -> &'c mut Option<String> {
    match name {
        "first_name" => &mut c.first_name,
        "last_name" => &mut c.last_name,
        "company" => &mut c.company,
        "title" => &mut c.title,
        "phone" => &mut c.phone,
        _ => &mut c.country,
    }
}

fn inquiry_field<'q>(q: &'q Inquiry, name: &str) -> &'q Option<String> {
    match name {
        "first_name" => &q.first_name,
        "last_name" => &q.last_name,
        "company" => &q.company,
        "title" => &q.title,
        "phone" => &q.phone,
        _ => &q.country,
    }
}

/// What the inquiry said of the contact, as sent: kept on its response whatever it
/// changed, so that the contact's timeline shows it.
fn given(inquiry: &Inquiry) -> Map<String, Value> {
    let mut given = Map::new();
    for name in CONTACT_FIELDS {
        if let Some(v) = inquiry_field(inquiry, name) {
            given.insert(name.to_owned(), json!(v));
        }
    }
    if inquiry.opt_out.email {
        given.insert("do_not_email".into(), json!(true));
    }
    if inquiry.opt_out.call {
        given.insert("do_not_call".into(), json!(true));
    }
    for (purpose, granted) in &inquiry.consent {
        given.insert(format!("consent.{purpose}"), json!(granted));
    }
    given
}

/// Plans the effect of `inquiry` (sent through `form` by `sender`) on `existing`, the
/// contact with the same email if there is one. `account_id` is the account of the
/// email's domain (none for free-mail addresses).
///
/// - A new contact becomes a `prospect`, or `disqualified` when the inquiry is junk.
/// - A known `suspect` becomes a `prospect`; any other known contact keeps its stage
///   (a customer filling a form is still a customer), and junk from a known contact is
///   flagged on the response but never disqualifies someone already in the funnel.
/// - What is known is not rewritten by the public: a public inquiry fills only fields
///   that are blank and custom fields the contact does not have; a trusted one replaces
///   them with what it sends. Either way the response keeps what was sent.
/// - Junk changes nothing on a contact that exists.
/// - An inquiry may make a contact harder to reach (do not email, do not call,
///   consent withdrawn), never easier: consent is given only by a trusted sender.
pub fn plan(
    existing: Option<&Contact>,
    inquiry: &Inquiry,
    form: Option<&Form>,
    junk: Option<&JunkReason>,
    account_id: Option<Uuid>,
    stamp: Stamp,
    sender: &Sender,
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
        contact_fields: given(inquiry),
        junk: junk.map(JunkReason::describe),
        inbox_id,
    };
    let trusted = matches!(sender, Sender::Trusted(_));
    let actor = match sender {
        Sender::Public => Actor::System,
        Sender::Trusted(actor) => actor.clone(),
    };
    let source = format!("inquiry {}", response.id);

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
    let mut changes = Map::new();
    let mut consent = Vec::new();
    // Junk says nothing about the person it names.
    if existing.is_none() || junk.is_none() {
        let mut set = |name: String, from: Value, to: Value| {
            changes.insert(name, json!({"from": from, "to": to}));
        };
        for name in CONTACT_FIELDS {
            let (old, new) = (contact_field(&mut contact, name), inquiry_field(inquiry, name));
            if new.is_some() && new != old && (trusted || old.is_none()) {
                set(name.to_owned(), json!(old), json!(new));
                old.clone_from(new);
            }
        }
        for (key, value) in &inquiry.custom {
            let old = contact.custom.get(key);
            if old != Some(value) && (trusted || old.is_none()) {
                set(format!("custom.{key}"), json!(old), value.clone());
                contact.custom.insert(key.clone(), value.clone());
            }
        }
        if inquiry.opt_out.email && !contact.do_not_email {
            set("do_not_email".into(), json!(false), json!(true));
            contact.do_not_email = true;
        }
        if inquiry.opt_out.call && !contact.do_not_call {
            set("do_not_call".into(), json!(false), json!(true));
            contact.do_not_call = true;
        }
        for (purpose, granted) in &inquiry.consent {
            if !granted || trusted {
                consent.push(ConsentRecord {
                    contact_id: contact.id,
                    purpose: purpose.to_string(),
                    granted: *granted,
                    source: source.clone(),
                    at: now,
                    actor: actor.label(),
                    reason: None,
                });
            }
        }
        if contact.account_id.is_none() && account_id.is_some() {
            contact.account_id = account_id;
        }
        contact.updated_at = now;
    }
    let change = (existing.is_some() && !changes.is_empty()).then(|| ContactChange {
        contact_id: contact.id,
        at: now,
        cause: source.clone(),
        actor: actor.label(),
        changes,
    });

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
        contact.updated_at = now;
    }
    CapturePlan { contact, is_new: existing.is_none(), response, stage_change, change, consent }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Email;
    use crate::inquiry::OptOut;
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
            thank_you_url: None,
            created_at: NOW,
        }
    }

    fn public(existing: Option<&Contact>, q: &Inquiry, junk: Option<&JunkReason>) -> CapturePlan {
        plan(existing, q, None, junk, None, ids(), &Sender::Public)
    }

    /// A customer known by name, company, title and a custom field.
    fn known_customer() -> Contact {
        let q = Inquiry::new(Email::parse("ann@acme.com").unwrap());
        let mut c = public(None, &q, None).contact;
        c.stage = Stage::Customer;
        c.first_name = Some("Ann".into());
        c.company = Some("Acme".into());
        c.title = Some("CTO".into());
        c.custom.insert("plan".into(), json!("enterprise"));
        c
    }

    /// An inquiry for `ann@acme.com` that tries to rewrite everything about her.
    fn rewrite() -> Inquiry {
        let mut q = Inquiry::new(Email::parse("ann@acme.com").unwrap());
        q.first_name = Some("Mallory".into());
        q.company = Some("Evil Corp".into());
        q.phone = Some("+1 555 0100".into());
        q.custom.insert("plan".into(), json!("free"));
        q.custom.insert("team_size".into(), json!(40));
        q
    }

    #[test]
    fn a_new_contact_becomes_a_prospect_with_the_forms_where_and_why() {
        let q = Inquiry::new(Email::parse("ann@acme.com").unwrap());
        let p = plan(None, &q, Some(&form()), None, Some(Uuid::from_u128(5)), ids(), &Sender::Public);
        assert!(p.is_new);
        assert_eq!(p.contact.stage, Stage::Prospect);
        assert_eq!(p.contact.account_id, Some(Uuid::from_u128(5)));
        assert_eq!(p.response.offer.as_deref(), Some("CRM guide"));
        assert_eq!(p.response.direction, Direction::Outbound, "purchased_list implies outbound");
        assert_eq!(p.stage_change.unwrap().from, None);
        assert_eq!(p.change, None, "a new contact's fields are its first, not a change");
    }

    #[test]
    fn the_public_fills_blanks_but_never_rewrites_what_is_known() {
        let customer = known_customer();
        let p = public(Some(&customer), &rewrite(), None);
        assert!(!p.is_new);
        assert_eq!(p.contact.stage, Stage::Customer, "a customer filling a form stays a customer");
        assert_eq!(p.stage_change, None);
        let c = &p.contact;
        assert_eq!((c.first_name.as_deref(), c.company.as_deref()), (Some("Ann"), Some("Acme")));
        assert_eq!(c.title.as_deref(), Some("CTO"), "a field not sent stays");
        assert_eq!(c.phone.as_deref(), Some("+1 555 0100"), "a blank field is filled");
        assert_eq!(c.custom["plan"], json!("enterprise"));
        assert_eq!(c.custom["team_size"], json!(40), "a custom field the contact lacked is added");
        // The response keeps what was sent; the change says what it changed.
        assert_eq!(p.response.contact_fields["first_name"], json!("Mallory"));
        assert_eq!(p.response.contact_fields["company"], json!("Evil Corp"));
        assert_eq!(p.response.fields["plan"], json!("free"));
        let change = p.change.unwrap();
        let changed: Vec<&String> = change.changes.keys().collect();
        assert_eq!(changed, ["custom.team_size", "phone"]);
        assert_eq!(change.cause, format!("inquiry {}", p.response.id));
    }

    #[test]
    fn a_trusted_sender_replaces_what_it_sends() {
        let customer = known_customer();
        let sender = Sender::Trusted(Actor::ApiKey("crm".into()));
        let p = plan(Some(&customer), &rewrite(), None, None, None, ids(), &sender);
        let c = &p.contact;
        assert_eq!((c.first_name.as_deref(), c.company.as_deref()), (Some("Mallory"), Some("Evil Corp")));
        assert_eq!((c.title.as_deref(), c.custom["plan"].clone()), (Some("CTO"), json!("free")));
        let change = p.change.unwrap();
        assert_eq!(change.actor, "api_key:crm");
        assert_eq!(change.changes["company"], json!({"from": "Acme", "to": "Evil Corp"}));
    }

    #[test]
    fn junk_disqualifies_a_new_contact_and_changes_nothing_on_a_known_one() {
        let q = Inquiry::new(Email::parse("bot@spam.biz").unwrap());
        let junk = JunkReason { code: "honeypot", evidence: "filled".into() };
        let p = public(None, &q, Some(&junk));
        assert_eq!(p.contact.stage, Stage::Disqualified);
        assert_eq!(p.stage_change.unwrap().detail, "honeypot: filled");

        let customer = known_customer();
        let mut q = rewrite();
        q.opt_out = OptOut { email: true, call: true };
        let again = public(Some(&customer), &q, Some(&junk));
        assert_eq!(again.contact, customer, "not a field, a flag or the time it was updated");
        assert_eq!((again.change, again.consent.len()), (None, 0));
        assert_eq!(again.response.junk.as_deref(), Some("honeypot: filled"));
        assert_eq!(again.response.contact_fields["first_name"], json!("Mallory"));
    }

    #[test]
    fn an_inquiry_can_make_a_contact_harder_to_reach_never_easier() {
        let mut customer = known_customer();
        customer.do_not_call = true;
        let mut q = Inquiry::new(Email::parse("ann@acme.com").unwrap());
        q.opt_out = OptOut { email: true, call: false };
        q.consent = vec![(Ident::parse("newsletter").unwrap(), false), (Ident::parse("events").unwrap(), true)];
        let p = public(Some(&customer), &q, None);
        assert!(p.contact.do_not_email && p.contact.do_not_call, "opting out of calls cannot be undone by a form");
        let recorded: Vec<(&str, bool)> = p.consent.iter().map(|c| (c.purpose.as_str(), c.granted)).collect();
        assert_eq!(recorded, [("newsletter", false)], "the public withdraws consent but does not give it");
        assert_eq!(p.change.unwrap().changes["do_not_email"], json!({"from": false, "to": true}));

        let sender = Sender::Trusted(Actor::ApiKey("crm".into()));
        let p = plan(Some(&customer), &q, None, None, None, ids(), &sender);
        let recorded: Vec<(&str, bool)> = p.consent.iter().map(|c| (c.purpose.as_str(), c.granted)).collect();
        assert_eq!(recorded, [("newsletter", false), ("events", true)]);
        assert!(p.consent.iter().all(|c| c.actor == "api_key:crm" && c.source == format!("inquiry {}", p.response.id)));
    }
}
