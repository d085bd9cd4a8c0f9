//! Merging two records of one person: what the surviving contact becomes.
//!
//! The contact merged into (the survivor) keeps its id and its values; the other's
//! values fill only what the survivor lacks. The person is as old as the older record,
//! and came to us the way that older record did. Do-not-email and do-not-call keep the
//! most restrictive value: if either record asked not to be contacted, the person did.
//! The stage is the one further along the main path (both histories are joined, so the
//! combined history leads there), and a real person is never left `disqualified` because
//! a duplicate of theirs was junk.
//!
//! Everything the merge changes on the survivor is listed, as import changes are, so
//! that the contact's record of changes says what the merge did.

use crate::Stage;
use crate::model::Contact;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// What the merge does to the survivor.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    pub contact: Contact,
    /// `{"field": {"from": …, "to": …}}` for each field of the survivor that changed.
    pub changes: Map<String, Value>,
    /// The survivor takes the other's email, which the other must then give up (an
    /// email names one contact).
    pub takes_email: bool,
}

/// The ids of everything a merge moved from the other contact to the survivor, and
/// of what it added: what undoing needs to put back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Moved {
    pub responses: Vec<Uuid>,
    pub stage_changes: Vec<i64>,
    pub events: Vec<i64>,
    pub contact_changes: Vec<i64>,
    /// `(system, external id)`.
    pub external_ids: Vec<(String, String)>,
    pub visitors: Vec<String>,
    /// Contacts merged into the other earlier, now pointing at the survivor.
    pub merged: Vec<Uuid>,
    /// Records of consent.
    pub consents: Vec<i64>,
    /// The record of changes the merge added to the survivor.
    pub added_contact_change: Option<i64>,
}

/// Both contacts as they were just before the merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Before {
    pub contact: Contact,
    pub other: Contact,
}

/// A recorded merge.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Merge {
    pub id: Uuid,
    /// The survivor.
    pub contact_id: Uuid,
    /// The contact merged into it.
    pub other_id: Uuid,
    pub at: Timestamp,
    pub actor: String,
    #[serde(skip)]
    pub before: Before,
    pub moved: Moved,
    pub undone_at: Option<Timestamp>,
    pub undone_by: Option<String>,
}

/// Plans merging `other` into `survivor` at `now`.
pub fn plan_merge(survivor: &Contact, other: &Contact, now: Timestamp) -> MergePlan {
    let mut c = survivor.clone();
    let fill = |slot: &mut Option<String>, from: &Option<String>| {
        if slot.as_deref().is_none_or(str::is_empty) && from.is_some() {
            *slot = from.clone();
        }
    };
    let takes_email = c.email.is_none() && other.email.is_some();
    fill(&mut c.email, &other.email);
    fill(&mut c.first_name, &other.first_name);
    fill(&mut c.last_name, &other.last_name);
    fill(&mut c.company, &other.company);
    fill(&mut c.title, &other.title);
    fill(&mut c.phone, &other.phone);
    fill(&mut c.country, &other.country);
    fill(&mut c.owner, &other.owner);
    if c.account_id.is_none() {
        c.account_id = other.account_id;
    }
    for (k, v) in &other.custom {
        c.custom.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if other.created_at < c.created_at {
        c.created_at = other.created_at;
        c.direction = other.direction;
        c.channel = other.channel.clone().or(c.channel);
    }
    c.do_not_email |= other.do_not_email;
    c.do_not_call |= other.do_not_call;
    if other.stage.is_after(c.stage) || (c.stage == Stage::Disqualified && other.stage != Stage::Disqualified) {
        c.stage = other.stage;
        c.stage_at = other.stage_at;
    }
    let changes = diff(survivor, &c);
    if !changes.is_empty() {
        c.updated_at = now;
    }
    MergePlan { contact: c, changes, takes_email }
}

/// The fields that differ between two versions of a contact (its update time aside).
pub fn diff(before: &Contact, after: &Contact) -> Map<String, Value> {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Map::new();
    };
    let mut changes = Map::new();
    for (k, to) in &a {
        let from = b.get(k).unwrap_or(&Value::Null);
        if k != "updated_at" && from != to {
            changes.insert(k.clone(), json!({ "from": from, "to": to }));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;

    fn contact(n: u128, email: Option<&str>, stage: Stage, at: i64) -> Contact {
        Contact::new(Uuid::from_u128(n), email.map(str::to_owned), Direction::Inbound, None, stage, Timestamp(at))
    }

    #[test]
    fn the_survivor_keeps_its_values_and_fills_the_gaps() {
        let mut a = contact(1, Some("ann@acme.com"), Stage::Prospect, 200);
        a.first_name = Some("Ann".into());
        a.custom.insert("size".into(), json!(10));
        let mut b = contact(2, Some("a.lee@acme.com"), Stage::Suspect, 300);
        b.first_name = Some("Annie".into());
        b.last_name = Some("Lee".into());
        b.custom.insert("size".into(), json!(99));
        b.custom.insert("industry".into(), json!("retail"));
        let plan = plan_merge(&a, &b, Timestamp(1_000));
        assert_eq!(plan.contact.first_name.as_deref(), Some("Ann"));
        assert_eq!(plan.contact.last_name.as_deref(), Some("Lee"));
        assert_eq!(plan.contact.email.as_deref(), Some("ann@acme.com"));
        assert_eq!(plan.contact.custom["size"], json!(10));
        assert_eq!(plan.contact.custom["industry"], json!("retail"));
        assert_eq!(plan.contact.stage, Stage::Prospect);
        assert!(!plan.takes_email);
        assert_eq!(plan.changes["last_name"], json!({"from": null, "to": "Lee"}));
        assert!(!plan.changes.contains_key("first_name"));
        assert_eq!(plan.contact.updated_at, Timestamp(1_000));
    }

    #[test]
    fn the_most_restrictive_consent_and_the_furthest_stage_win() {
        let a = contact(1, None, Stage::Disqualified, 500);
        let mut b = contact(2, Some("b@acme.com"), Stage::Mql, 100);
        b.do_not_email = true;
        b.direction = Direction::Outbound;
        let plan = plan_merge(&a, &b, Timestamp(1_000));
        assert!(plan.contact.do_not_email);
        assert_eq!(plan.contact.stage, Stage::Mql);
        assert_eq!(plan.contact.stage_at, Timestamp(100));
        assert_eq!(plan.contact.created_at, Timestamp(100));
        assert_eq!(plan.contact.direction, Direction::Outbound);
        assert!(plan.takes_email);

        // Nor is a flag ever lifted by merging a record without it.
        let plan = plan_merge(&b, &a, Timestamp(1_000));
        assert!(plan.contact.do_not_email);
        assert_eq!(plan.contact.stage, Stage::Mql);
    }
}
