//! The storage ports: a small trait per aggregate, one file each, read from the
//! store (`…Reads`) or written in a transaction (`…Writes`). `Store` and `Tx` (in the
//! crate root) are all of them together, and what use cases hold; a new capability
//! adds its port here, a line to `Store` or `Tx`, and its SQL in `adapter/`. The
//! conformance suite (`tests/conformance.rs` and its neighbours) runs every port on
//! both databases.

mod access;
mod consumers;
mod contacts;
mod events;
mod exports;
mod feed;
mod handoff;
mod history;
mod imports;
mod inbox;
mod merges;
mod models;
mod privacy;
mod spend;

pub use access::{AccessReads, AccessWrites};
pub use consumers::{ConsumerLeases, ConsumerWrites};
pub use contacts::{ContactReads, ContactWrites};
pub use events::{EventAppends, EventWrites};
pub use exports::ExportReads;
pub use feed::ChangeFeed;
pub use handoff::{HandoffReads, HandoffWrites};
pub use history::{HistoryReads, ScoreWrites};
pub use imports::{ImportJobs, ImportWrites};
pub use inbox::{InboxReads, InboxWrites};
pub use merges::{MergeReads, MergeWrites};
pub use models::{ModelReads, ModelWrites};
pub use privacy::{PrivacyReads, PrivacyWrites};
pub use spend::{SpendReads, SpendWrites};
