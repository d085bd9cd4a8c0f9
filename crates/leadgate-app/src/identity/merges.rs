//! Merging two records of one person, and undoing a merge.
//!
//! A merge moves every record of the other contact (responses, stage changes, events,
//! changes, external ids, visitors) to the survivor, fills the survivor's gaps from the
//! other (`leadgate_core::merge`), and hides the other, whose email then leads to the
//! survivor. The merge keeps both contacts as they were and the ids of what moved, so
//! that undoing it puts everything back exactly. What reached the survivor after the
//! merge stays with it.

use crate::ErrorCode;
use crate::{App, AppError};
use leadgate_core::merge::{Before, Merge, plan_merge};
use leadgate_core::model::{Contact, ContactChange};
use leadgate_core::{Actor, Timestamp};
use leadgate_store::Tx;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// A merge as shown to users: what moved is counted rather than listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergeView {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub other_id: Uuid,
    pub at: Timestamp,
    pub actor: String,
    pub moved: Value,
    pub undone_at: Option<Timestamp>,
    pub undone_by: Option<String>,
}

impl From<&Merge> for MergeView {
    fn from(m: &Merge) -> Self {
        let v = &m.moved;
        MergeView {
            id: m.id,
            contact_id: m.contact_id,
            other_id: m.other_id,
            at: m.at,
            actor: m.actor.clone(),
            moved: json!({
                "responses": v.responses.len(),
                "stage_changes": v.stage_changes.len(),
                "events": v.events.len(),
                "contact_changes": v.contact_changes.len(),
                "external_ids": v.external_ids.len(),
                "visitors": v.visitors.len(),
                "merged_contacts": v.merged.len(),
            }),
            undone_at: m.undone_at,
            undone_by: m.undone_by.clone(),
        }
    }
}

/// Reads and locks a contact that is to take part in a merge: it must exist and not be
/// merged already.
async fn lock_unmerged(tx: &mut dyn Tx, id: Uuid, field: Option<&str>) -> Result<Contact, AppError> {
    let Some(c) = tx.contact_by_id(id).await? else {
        let e = AppError::new(ErrorCode::UnknownContact, format!("no contact {id}"));
        return Err(match field {
            Some(f) => e.field(f),
            None => e,
        });
    };
    if let Some(into) = c.merged_into {
        return Err(AppError::new(
            ErrorCode::AlreadyMerged,
            format!("contact {id} was merged into contact {into}; merge with that one instead"),
        ));
    }
    Ok(c)
}

impl App {
    /// Merges contact `other_id` into contact `id`, which keeps its id.
    pub async fn merge_contacts(
        &self,
        id: Uuid,
        other_id: Uuid,
        actor: &Actor,
    ) -> Result<(MergeView, Contact), AppError> {
        if id == other_id {
            return Err(
                AppError::new(ErrorCode::SameContact, "a contact cannot be merged into itself").field("other_id")
            );
        }
        let mut tx = self.store.begin().await?;
        let result = async {
            // Locked in id order, so that two merges of the same pair cannot deadlock.
            let (survivor, other) = if id < other_id {
                let survivor = lock_unmerged(&mut *tx, id, None).await?;
                (survivor, lock_unmerged(&mut *tx, other_id, Some("other_id")).await?)
            } else {
                let other = lock_unmerged(&mut *tx, other_id, Some("other_id")).await?;
                (lock_unmerged(&mut *tx, id, None).await?, other)
            };
            let now = self.now();
            let merge_id = Uuid::now_v7();
            let plan = plan_merge(&survivor, &other, now);
            if plan.takes_email {
                // An email names one contact: the other gives it up first.
                let mut without = other.clone();
                without.email = None;
                tx.update_contact(&without).await?;
            }
            tx.set_merged_into(other.id, Some(survivor.id)).await?;
            let mut moved = tx.move_history(other.id, survivor.id).await?;
            tx.update_contact(&plan.contact).await?;
            let mut changes = plan.changes.clone();
            changes.insert("merged".into(), json!({ "from": null, "to": other.id }));
            moved.added_contact_change = Some(
                tx.insert_contact_change(&ContactChange {
                    contact_id: survivor.id,
                    at: now,
                    cause: format!("merge {merge_id}"),
                    actor: actor.label(),
                    changes,
                })
                .await?,
            );
            let merge = Merge {
                id: merge_id,
                contact_id: survivor.id,
                other_id: other.id,
                at: now,
                actor: actor.label(),
                before: Before { contact: survivor, other },
                moved,
                undone_at: None,
                undone_by: None,
            };
            tx.insert_merge(&merge).await?;
            Ok((MergeView::from(&merge), plan.contact))
        }
        .await;
        crate::finish(tx, result).await
    }

    /// A recorded merge.
    pub async fn merge_view(&self, id: Uuid) -> Result<MergeView, AppError> {
        let merge = self
            .store
            .merge(id)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UnknownMerge, "no merge has this id"))?;
        Ok(MergeView::from(&merge))
    }

    /// Puts both contacts of a merge back exactly as they were before it.
    pub async fn undo_merge(&self, id: Uuid, actor: &Actor) -> Result<MergeView, AppError> {
        let mut tx = self.store.begin().await?;
        let result = async {
            let mut merge = tx
                .merge_for_update(id)
                .await?
                .ok_or_else(|| AppError::new(ErrorCode::UnknownMerge, "no merge has this id"))?;
            if let Some(at) = merge.undone_at {
                return Err(AppError::new(ErrorCode::AlreadyUndone, format!("this merge was undone at {at}")));
            }
            let survivor = tx.contact_by_id(merge.contact_id).await?;
            if let Some(into) = survivor.as_ref().and_then(|c| c.merged_into) {
                return Err(AppError::new(
                    ErrorCode::MergedSince,
                    format!("contact {} was merged into contact {into} since; undo that merge first", merge.contact_id),
                ));
            }
            let Before { contact, other } = &merge.before;
            // The survivor first: it gives back an email it took from the other.
            tx.update_contact(contact).await?;
            tx.update_contact(other).await?;
            tx.set_merged_into(other.id, other.merged_into).await?;
            tx.move_back(&merge.moved, other.id).await?;
            // The survivor gets its own fields and history back: integrators hear of it.
            tx.note_change(contact.id, leadgate_core::changes::ChangeKind::Unmerged);
            tx.note_change(contact.id, leadgate_core::changes::ChangeKind::FieldsChanged);
            if let Some(change) = merge.moved.added_contact_change {
                tx.delete_contact_change(change).await?;
            }
            let now = self.now();
            tx.mark_merge_undone(merge.id, now, &actor.label()).await?;
            merge.undone_at = Some(now);
            merge.undone_by = Some(actor.label());
            Ok(MergeView::from(&merge))
        }
        .await;
        crate::finish(tx, result).await
    }
}
