//! Bringing other systems' data in: a mapping says which column is which field
//! ([`mapping`]), a row is read through it ([`row`]), and the plan decides what the row
//! does to its contact ([`plan`]). The import use case streams a file through these in
//! chunks, one transaction per chunk.

pub mod mapping;
pub mod plan;
pub mod presets;
pub mod row;
pub mod value;

pub use mapping::{Mapping, MappingError};
pub use plan::{Known, RowPlan, plan_row};
pub use row::{Binding, ImportRow, RowError};
