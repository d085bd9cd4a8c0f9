//! Where the consumers inside leadgate stand in the change feed: the ports
//! [`crate::ConsumerLeases`] on the store and [`crate::ConsumerWrites`] in a
//! transaction, one SQL text for both databases, implemented in `adapter/consumers.rs`.
//!
//! A consumer is held by one server at a time through a lease: a holder and a time
//! until which it holds it, taken when free or expired and renewed as it works. The
//! lease only saves work; what makes each entry handled once is that the position
//! advances only from where the holder read it, by the holder, in the transaction of
//! what it did ([`crate::ConsumerWrites::advance_consumer`]). A server that lost its lease
//! while working (it stalled, another took over) finds its transaction refused and
//! rolls back.

use leadgate_core::Timestamp;
use leadgate_core::changes::Position;

/// A consumer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerState {
    pub name: String,
    /// Everything up to here is handled.
    pub position: Position,
    /// The server holding it, while its lease runs.
    pub holder: Option<String>,
    pub lease_until: Timestamp,
    /// Entries handled since the consumer first ran.
    pub handled: i64,
}

/// One step of a consumer.
#[derive(Debug, Clone, Copy)]
pub struct Advance<'a> {
    pub name: &'a str,
    pub holder: &'a str,
    pub from: Position,
    pub to: Position,
    pub handled: i64,
    pub until: Timestamp,
}

/// The SQL, the same on both databases.
pub(crate) const ADD: &str = "INSERT INTO consumers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
pub(crate) const TAKE: &str = "UPDATE consumers SET holder = $2, lease_until = $3 \
     WHERE name = $1 AND (holder = $2 OR holder IS NULL OR lease_until < $4) \
     RETURNING position_major, position_minor";
pub(crate) const RELEASE: &str = "UPDATE consumers SET holder = NULL, lease_until = 0 WHERE name = $1 AND holder = $2";
pub(crate) const LIST: &str =
    "SELECT name, position_major, position_minor, holder, lease_until, handled FROM consumers ORDER BY name";
pub(crate) const ADVANCE: &str = "UPDATE consumers \
     SET position_major = $5, position_minor = $6, handled = handled + $7, lease_until = $8 \
     WHERE name = $1 AND holder = $2 AND position_major = $3 AND position_minor = $4";

pub(crate) type Row = (String, i64, i64, Option<String>, i64, i64);

pub(crate) fn state_of((name, major, minor, holder, until, handled): Row) -> ConsumerState {
    ConsumerState { name, position: Position { major, minor }, holder, lease_until: Timestamp(until), handled }
}
