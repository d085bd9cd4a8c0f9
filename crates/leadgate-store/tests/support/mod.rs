//! What the store's test binaries share: a moment to start from and the records
//! their tests write, built the same way everywhere.
// Each test binary uses some of these.
#![allow(dead_code)]

use leadgate_core::model::{Contact, Response};
use leadgate_core::{Direction, Email, Ident, NewEvent, Stage, Timestamp};
use serde_json::{Map, json};
use uuid::Uuid;

/// 2026-01-01.
pub const T0: Timestamp = Timestamp(1_767_225_600_000_000);

/// An inbound prospect named Ann, found through organic search.
pub fn contact(email: &str, at: Timestamp) -> Contact {
    let channel = Some("organic_search".into());
    let mut c = Contact::new(Uuid::now_v7(), Some(email.to_owned()), Direction::Inbound, channel, Stage::Prospect, at);
    c.first_name = Some("Ann".into());
    c
}

/// An event of `kind`, naming its person by email, visitor or contact id.
pub fn event(
    kind: &str,
    email: Option<&str>,
    visitor: Option<&str>,
    contact_id: Option<Uuid>,
    at: Timestamp,
) -> NewEvent {
    NewEvent {
        contact_id,
        email: email.map(|e| Email::parse(e).unwrap()),
        visitor_id: visitor.map(str::to_owned),
        kind: Ident::parse(kind).unwrap(),
        at,
        url: Some("https://acme.example/pricing".into()),
        props: json!({"n": 1}),
    }
}

/// An inbound response of contact `contact_id` through a form of the organisation's own.
pub fn response(contact_id: Uuid, at: Timestamp, action: &str) -> Response {
    Response {
        id: Uuid::now_v7(),
        contact_id,
        at,
        direction: Direction::Inbound,
        channel: Some("organic_search".into()),
        campaign: None,
        placement: None,
        referrer: None,
        vendor: None,
        action: action.into(),
        obtained_via: "own_form".into(),
        offer: None,
        form_id: None,
        message: None,
        fields: Map::new(),
        contact_fields: Map::new(),
        junk: None,
        inbox_id: None,
    }
}
