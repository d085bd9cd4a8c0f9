//! Hand-off: routing a contact that needs a human to a team's queue and a person in it,
//! the SLA clock that starts then, and Sales' answer (accept, or reject with a reason).
//!
//! Everything here decides; nothing reads or writes. `calendar` measures business
//! time, `assign` keeps the rotation fair, `routing` holds the rules, `people` the
//! users, teams and queues, `acceptance` the reasons Sales may give.

pub mod acceptance;
pub mod assign;
pub mod calendar;
pub mod people;
pub mod routing;
pub mod sla;
