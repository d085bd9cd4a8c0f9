//! Taking in activity events: one or a batch, each validated, those naming a contact
//! id checked against the contacts, and the valid ones committed (`committer.rs`)
//! before the request is answered.

use crate::ErrorCode;
use crate::{App, AppError};
use leadgate_core::event::parse_event;
use leadgate_core::{Actor, FieldError};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

mod committer;
pub(crate) use committer::Committer;

pub const MAX_EVENTS_PER_BATCH: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventsReceipt {
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    pub index: usize,
    pub error: RejectedError,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RejectedError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl From<FieldError> for RejectedError {
    fn from(e: FieldError) -> Self {
        Self { code: e.code, message: e.message, field: e.field }
    }
}

impl App {
    /// Validates and stores events: one, or a batch of up to [`MAX_EVENTS_PER_BATCH`].
    /// Valid events are committed before this returns; invalid ones are listed with
    /// their index and problem. A batch in which nothing is valid is refused whole.
    pub async fn ingest_events(&self, body: Value, _actor: &Actor) -> Result<EventsReceipt, AppError> {
        let (items, single) = match body {
            Value::Object(mut m) if m.contains_key("events") => {
                if let Some(other) = m.keys().find(|k| *k != "events") {
                    return Err(AppError::new(
                        ErrorCode::UnknownField,
                        format!("a batch is {{\"events\": [...]}} only; unexpected field {other:?}"),
                    )
                    .field(other.clone()));
                }
                match m.remove("events") {
                    Some(Value::Array(items)) => (items, false),
                    _ => {
                        return Err(AppError::new(ErrorCode::InvalidType, "events must be an array").field("events"));
                    }
                }
            }
            v @ Value::Object(_) => (vec![v], true),
            _ => {
                return Err(AppError::new(
                    ErrorCode::InvalidJson,
                    "the body must be an event object or {\"events\": [...]}",
                ));
            }
        };
        if items.is_empty() {
            return Err(AppError::new(ErrorCode::EmptyBatch, "events is empty").field("events"));
        }
        if items.len() > MAX_EVENTS_PER_BATCH {
            return Err(AppError::new(
                ErrorCode::BatchTooLarge,
                format!("a batch holds at most {MAX_EVENTS_PER_BATCH} events; this one has {}", items.len()),
            )
            .field("events"));
        }
        let now = self.now();
        let mut accepted = Vec::with_capacity(items.len());
        let mut rejected = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match parse_event(item, now) {
                Ok(e) => accepted.push((index, e)),
                Err(e) => rejected.push((index, e)),
            }
        }
        // Events naming a contact id must name a real one.
        let named: Vec<_> =
            accepted.iter().filter_map(|(_, e)| e.contact_id).collect::<HashSet<_>>().into_iter().collect();
        if !named.is_empty() {
            // An event for a contact merged into another belongs to that other contact.
            let known: HashMap<Uuid, Uuid> = self.store.existing_contacts(&named).await?.into_iter().collect();
            let (mut ok, unknown): (Vec<_>, Vec<_>) =
                accepted.into_iter().partition(|(_, e)| e.contact_id.is_none_or(|id| known.contains_key(&id)));
            for (_, e) in &mut ok {
                e.contact_id = e.contact_id.and_then(|id| known.get(&id).copied());
            }
            accepted = ok;
            rejected.extend(unknown.into_iter().map(|(i, _)| {
                (i, FieldError::new(ErrorCode::UnknownContact, "contact_id", "no contact has this contact_id"))
            }));
            rejected.sort_by_key(|(i, _)| *i);
        }
        if accepted.is_empty() {
            let within = |i: usize, e: FieldError| if single { e } else { e.within(&format!("events[{i}]")) };
            let mut err = match rejected.first() {
                Some((i, e)) => AppError::from(within(*i, e.clone())),
                None => AppError::new(ErrorCode::EmptyBatch, "no events"),
            };
            if !single {
                err.code = ErrorCode::NoValidEvents;
                err.message = format!("none of the {} events is valid; first problem: {}", items.len(), err.message);
                err.details = rejected.into_iter().map(|(index, e)| Rejected { index, error: e.into() }).collect();
            }
            return Err(err);
        }
        let count = accepted.len();
        self.events.submit(accepted.into_iter().map(|(_, e)| e).collect()).await?;
        Ok(EventsReceipt {
            accepted: count,
            rejected: rejected.into_iter().map(|(index, e)| Rejected { index, error: e.into() }).collect(),
        })
    }
}
