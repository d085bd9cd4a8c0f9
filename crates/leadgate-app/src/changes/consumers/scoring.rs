//! Scoring and lead definitions as the change feed's first consumer: every contact that
//! changed is scored, graded and requalified, whatever changed it (an inquiry, events,
//! an import, a merge, a manual stage move, Sales' qualification fields).

use super::{Consumer, Step};
use crate::AppError;
use crate::qualification::assess::Assessor;
use leadgate_core::changes::{Change, ChangeKind, Kinds};
use std::sync::Arc;
use uuid::Uuid;

pub(crate) struct Scoring {
    assessor: Arc<Assessor>,
}

impl Scoring {
    pub(crate) fn new(assessor: Arc<Assessor>) -> Self {
        Self { assessor }
    }
}

/// What can change a contact's scores or whether a definition holds for it. Its own
/// writes (`scores_changed`) are not among them, or it would follow itself for ever; a
/// stage it moved a contact to is, since funnel rules read the stage.
const READS: [ChangeKind; 9] = [
    ChangeKind::Created,
    ChangeKind::FieldsChanged,
    ChangeKind::Response,
    ChangeKind::Events,
    ChangeKind::StageChanged,
    ChangeKind::QualificationChanged,
    ChangeKind::Merged,
    ChangeKind::Unmerged,
    ChangeKind::Imported,
];

impl Consumer for Scoring {
    const NAME: &'static str = "scoring";

    fn kinds() -> Kinds {
        READS.into_iter().fold(Kinds::default(), Kinds::with)
    }

    async fn handle<'a>(&'a self, entries: &'a [Change], step: &'a Step<'a>) -> Result<bool, AppError> {
        let mut ids: Vec<Uuid> = entries.iter().map(|e| e.contact_id).collect();
        ids.sort_unstable();
        ids.dedup();
        self.assessor.assess_in_step(&ids, step).await
    }
}
