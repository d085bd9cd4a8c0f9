//! Finding likely duplicates: pairs of contacts that may be one person, with the
//! reasons (`leadgate_core::dedupe`), strongest first.

use crate::ErrorCode;
use crate::{App, AppError};
use leadgate_core::dedupe::{Candidate, DuplicatePair, DuplicateReason, find_duplicates};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// One side of a likely duplicate pair, enough to tell the two apart.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactSummary {
    pub id: Uuid,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub account_id: Option<Uuid>,
}

impl From<&Candidate> for ContactSummary {
    fn from(c: &Candidate) -> Self {
        Self {
            id: c.id,
            email: c.email.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            account_id: c.account_id,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateView {
    pub contact: ContactSummary,
    pub other: ContactSummary,
    pub reasons: Vec<DuplicateReason>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Duplicates {
    /// Pairs found in all (before `limit`).
    pub total: usize,
    pub pairs: Vec<DuplicateView>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    pub reason: Option<String>,
    pub limit: Option<usize>,
}

pub const DUPLICATES_LIMIT_MAX: usize = 10_000;

impl App {
    /// Likely duplicate pairs among all contacts, strongest reason first.
    pub async fn duplicates(&self, q: &DuplicateQuery) -> Result<Duplicates, AppError> {
        let reason = q
            .reason
            .as_deref()
            .map(|r| {
                DuplicateReason::parse(r).ok_or_else(|| {
                    AppError::new(
                        ErrorCode::InvalidValue,
                        "reason must be same_mailbox, same_name_at_account or similar_email",
                    )
                    .field("reason")
                })
            })
            .transpose()?;
        let limit = q.limit.unwrap_or(100);
        if limit == 0 || limit > DUPLICATES_LIMIT_MAX {
            return Err(AppError::new(
                ErrorCode::InvalidValue,
                format!("limit must be between 1 and {DUPLICATES_LIMIT_MAX}"),
            )
            .field("limit"));
        }
        let ration = self.ration(crate::HeavyWork::DuplicateSearch)?;
        let candidates = self.store.duplicate_candidates().await?;
        // Grouping a million contacts is CPU work: off the async workers. It goes on if
        // the caller goes away, and holds its place among the heavy work until it ends.
        let (pairs, candidates): (Vec<DuplicatePair>, Vec<Candidate>) =
            crate::off_runtime("the duplicate search", move || {
                let found = find_duplicates(&candidates);
                drop(ration);
                (found, candidates)
            })
            .await?;
        let pairs: Vec<DuplicatePair> =
            pairs.into_iter().filter(|p| reason.is_none_or(|r| p.reasons.contains(&r))).collect();
        let by_id: HashMap<Uuid, &Candidate> = candidates.iter().map(|c| (c.id, c)).collect();
        let views = pairs
            .iter()
            .take(limit)
            .filter_map(|p| {
                Some(DuplicateView {
                    contact: (*by_id.get(&p.contact_id)?).into(),
                    other: (*by_id.get(&p.other_id)?).into(),
                    reasons: p.reasons.clone(),
                })
            })
            .collect();
        Ok(Duplicates { total: pairs.len(), pairs: views })
    }
}
