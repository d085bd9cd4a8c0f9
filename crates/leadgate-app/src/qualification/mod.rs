//! Qualification: the scoring model and lead definitions in force and the assessment of
//! contacts by them (`assess`), managing models, definitions and qualification fields
//! (`rules`), backtests, the likelihood model, and the claims that keep two
//! assessments from writing over each other (`claims`).

pub mod assess;
pub mod backtest;
pub mod claims;
pub mod likelihood;
pub mod rules;
