//! The leadgate domain.
//!
//! Everything here is pure: no IO, no async, no SQL, no HTTP. The vocabulary follows the
//! product: a **contact** (a person, keyed by normalised email) belongs to an **account**
//! (a company, keyed by domain); each thing a contact did that reached us is a
//! **response** with its *where* ([`Source`]), *what* ([`Action`], [`ObtainedVia`]) and
//! *why* (the offer); smaller signals are **activity events**; a contact moves along the
//! **lifecycle** ([`Stage`]) only through [`lifecycle::transition`].

pub mod access;
pub mod account;
pub mod backtest;
pub mod capture;
pub mod changes;
pub mod consent;
pub mod dedupe;
pub mod definition;
pub mod email;
pub mod erasure;
pub mod error;
pub mod event;
pub mod expr;
pub mod handoff;
pub mod ident;
pub mod import;
pub mod inquiry;
pub mod junk;
pub mod lifecycle;
pub mod likelihood;
pub mod merge;
pub mod model;
pub mod reports;
pub mod response;
pub mod scoring;
pub mod spend;
pub mod spreadsheet;
pub mod time;

pub use access::{Permission, Role};
pub use account::{Domain, is_free_mail_domain};
pub use email::Email;
pub use error::{ErrorCode, ErrorKind, FieldError};
pub use event::NewEvent;
pub use ident::Ident;
pub use inquiry::Inquiry;
pub use junk::JunkReason;
pub use lifecycle::{Actor, Cause, CauseKind, Stage, StageChange, TransitionError};
pub use response::{Action, Direction, ObtainedVia, Source};
pub use time::Timestamp;
