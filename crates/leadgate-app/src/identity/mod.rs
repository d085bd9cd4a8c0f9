//! Identity: which contacts are one person. Likely duplicates are found
//! (`duplicates.rs`), merged and unmerged (`merges.rs`).

mod duplicates;
mod merges;

pub use duplicates::{ContactSummary, DUPLICATES_LIMIT_MAX, DuplicateQuery, DuplicateView, Duplicates};
pub use merges::MergeView;
