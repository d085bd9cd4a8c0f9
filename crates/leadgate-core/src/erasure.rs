//! Erasing a person: which of what leadgate holds is personal, and what is left of it.
//!
//! A person asked to be forgotten (or the law says so) loses everything that says who
//! they are: their email, names, phone, company and title as they gave them, country,
//! custom fields, qualification notes, ids in other systems, browser visitor ids,
//! what their responses said (messages, fields, referrers), their events' properties
//! and the query strings of the pages they saw, and the raw bodies of their inquiries
//! with the address and browser they came from. What is left are anonymous facts —
//! when they arrived and through which channel, direction, campaign, offer and action,
//! their stage history and deal values, their scores, how many events of which kind —
//! so that every report keeps adding up. The store applies this; this module decides it.

use crate::model::Contact;
use crate::{Timestamp, lifecycle::Actor};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A contact with its personal fields removed. It can no longer be reached: it asked
/// not to be, and there is no address left to reach it by.
pub fn erase_contact(contact: &mut Contact, at: Timestamp) {
    contact.email = None;
    contact.first_name = None;
    contact.last_name = None;
    contact.company = None;
    contact.title = None;
    contact.phone = None;
    contact.country = None;
    contact.custom = Map::new();
    contact.do_not_email = true;
    contact.do_not_call = true;
    contact.updated_at = at;
}

/// Whether a field of a recorded change (`first_name`, `custom.team_size`,
/// `qualification.budget`, …) says something of the person rather than of how we
/// worked with them (`owner`, `do_not_email`, `channel`).
pub fn is_personal_field(field: &str) -> bool {
    !matches!(field, "owner" | "channel" | "do_not_email" | "do_not_call" | "stage")
}

/// What of a recorded change may stay after erasure: its fields that are not
/// personal, or `None` when nothing is left of it.
pub fn anonymous_change(changes: &Map<String, Value>) -> Option<Map<String, Value>> {
    let kept: Map<String, Value> =
        changes.iter().filter(|(field, _)| !is_personal_field(field)).map(|(k, v)| (k.clone(), v.clone())).collect();
    (!kept.is_empty()).then_some(kept)
}

/// A page's address without its query and fragment, where forms and campaign links
/// put emails and names: what page it was stays, whose visit it was does not.
pub fn page_only(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// A junk verdict without its evidence (`bot: link in name "…"` → `bot`): the evidence
/// quotes what the person sent.
pub fn verdict_only(junk: &str) -> &str {
    junk.split_once(':').map_or(junk, |(code, _)| code.trim())
}

/// A contact's legal hold and erasure: what is kept beside it about its personal data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContactPrivacy {
    pub contact_id: Uuid,
    /// Erasure is refused while a hold is set (litigation, an audit).
    pub legal_hold: Option<Hold>,
    pub erased: Option<Erasure>,
}

/// Who set a legal hold, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Hold {
    pub at: Timestamp,
    pub actor: String,
    pub reason: String,
}

/// When a person was erased, by whom and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    pub at: Timestamp,
    pub actor: String,
    pub reason: String,
}

/// One entry of the audit log: something done to personal data, by whom and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: String,
    /// `contact.erased`, `contact.legal_hold_set`, `contact.legal_hold_lifted`,
    /// `contact.personal_data_read`.
    pub action: String,
    pub contact_id: Option<Uuid>,
    /// Why, as the actor said, and what was done (counts), never personal data.
    pub detail: String,
}

impl AuditEntry {
    pub fn new(at: Timestamp, actor: &Actor, action: &str, contact_id: Uuid, detail: impl Into<String>) -> Self {
        Self {
            at,
            actor: actor.label(),
            action: action.to_owned(),
            contact_id: Some(contact_id),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_says_who_the_person_is_goes() {
        let changes = json!({
            "first_name": {"from": "Ann", "to": "Anne"}, "custom.team": {"from": null, "to": 4},
            "qualification.budget": {"from": null, "to": "50k"}, "owner": {"from": null, "to": "kim"},
            "do_not_email": {"from": false, "to": true}
        });
        let kept = anonymous_change(changes.as_object().unwrap()).unwrap();
        let fields: Vec<&String> = kept.keys().collect();
        assert_eq!(fields, ["do_not_email", "owner"]);
        assert_eq!(anonymous_change(json!({"phone": {"from": null, "to": "1"}}).as_object().unwrap()), None);
    }

    #[test]
    fn pages_keep_their_path_and_verdicts_their_code() {
        assert_eq!(page_only("https://acme.example/pricing?email=ann%40x.com#top"), "https://acme.example/pricing");
        assert_eq!(page_only("https://acme.example/a#b?c"), "https://acme.example/a");
        assert_eq!(page_only("/plain"), "/plain");
        assert_eq!(verdict_only("bot: link in name \"http://x\""), "bot");
        assert_eq!(verdict_only("honeypot"), "honeypot");
    }

    #[test]
    fn an_erased_contact_keeps_how_it_came_and_where_it_got() {
        let mut c = Contact::new(
            Uuid::nil(),
            Some("ann@acme.example".into()),
            crate::Direction::Inbound,
            Some("paid_search".into()),
            crate::Stage::Customer,
            Timestamp(1),
        );
        c.first_name = Some("Ann".into());
        c.owner = Some("kim".into());
        c.custom.insert("team".into(), json!(4));
        erase_contact(&mut c, Timestamp(9));
        assert_eq!((c.email, c.first_name, c.custom.len()), (None, None, 0));
        assert_eq!(
            (c.channel.as_deref(), c.stage, c.owner.as_deref()),
            (Some("paid_search"), crate::Stage::Customer, Some("kim"))
        );
        assert!(c.do_not_email && c.do_not_call);
        assert_eq!((c.created_at, c.updated_at), (Timestamp(1), Timestamp(9)));
    }
}
