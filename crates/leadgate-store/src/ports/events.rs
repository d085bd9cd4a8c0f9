//! Activity events, and the events of people not yet known waiting for their contact.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::NewEvent;
use leadgate_core::Timestamp;
use uuid::Uuid;

#[async_trait]
pub trait EventAppends: Send + Sync {
    /// Appends events in one transaction, attaching each to the contact its
    /// `contact_id`, `email` or `visitor_id` names when that contact is known.
    /// Stores events; returns the contacts that got events (those already known).
    async fn append_events(&self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Uuid>>;
}

#[async_trait]
pub trait EventWrites: Send {
    /// Appends events as [`EventAppends::append_events`] does, inside this transaction;
    /// returns the contact each event was attached to, in the order of `events`.
    async fn append_events(&mut self, events: &[NewEvent], received_at: Timestamp) -> Result<Vec<Option<Uuid>>>;

    /// Records that `visitor_id` is `contact_id` and attaches the visitor's waiting
    /// events to the contact; returns how many were attached.
    async fn identify_visitor(&mut self, visitor_id: &str, contact_id: Uuid, at: Timestamp) -> Result<u64>;

    /// Attaches events that were sent for `email` before it was a contact.
    async fn attach_events_by_email(&mut self, email: &str, contact_id: Uuid) -> Result<u64>;
}
