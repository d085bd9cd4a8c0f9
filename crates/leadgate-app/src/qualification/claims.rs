//! Contacts being assessed: claimed from reading them until their scores are committed.
//!
//! An assessment reads a contact, scores it and writes the scores. Two of them on the
//! same contact at once (a rescore, and an event arriving for it) could write in the
//! wrong order: the one that read first, and so missed the other's change, writing
//! last. Each claims its contacts for that span; a claim waits while any of its
//! contacts is claimed by another. A rescore holds the claims of a few consecutive
//! batches at once (those in hand, being read and evaluated, and the one being
//! written), so that reading, evaluating and writing overlap; everyone else claims one set at a time and never waits for a
//! claim while holding one, so that no two claimants can wait for each other.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use uuid::Uuid;

#[derive(Default)]
pub struct Claims {
    /// The claimed sets, each sorted.
    held: Mutex<Vec<Arc<[Uuid]>>>,
    released: Notify,
}

/// Contacts claimed until this is dropped.
pub struct Claim<'a> {
    claims: &'a Claims,
    ids: Arc<[Uuid]>,
}

impl Claims {
    /// Claims `ids` (any order), once none of them is claimed by another.
    pub async fn claim(&self, ids: &[Uuid]) -> Claim<'_> {
        let ids = sorted(ids);
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before trying, so that a release between the try and the wait
            // is not missed.
            released.as_mut().enable();
            if let Some(claim) = self.try_sorted(&ids) {
                return claim;
            }
            released.await;
        }
    }

    /// Claims `ids` if none of them is claimed: for a caller that must not wait, such
    /// as one holding the database's writer, which a claim's holder may be waiting for.
    pub fn try_claim(&self, ids: &[Uuid]) -> Option<Claim<'_>> {
        self.try_sorted(&sorted(ids))
    }

    fn try_sorted(&self, ids: &Arc<[Uuid]>) -> Option<Claim<'_>> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        // Sets whose ranges do not meet share no id, which is found without searching
        // either: the batches of a walk over every contact are ranges apart.
        let meet = |set: &[Uuid]| match (set.first(), set.last(), ids.first(), ids.last()) {
            (Some(first), Some(last), Some(from), Some(to)) => first <= to && from <= last,
            _ => false,
        };
        let taken = held.iter().any(|set| meet(set) && ids.iter().any(|id| set.binary_search(id).is_ok()));
        if taken {
            return None;
        }
        held.push(ids.clone());
        Some(Claim { claims: self, ids: ids.clone() })
    }
}

fn sorted(ids: &[Uuid]) -> Arc<[Uuid]> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.into()
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut held = self.claims.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = held.iter().position(|set| Arc::ptr_eq(set, &self.ids)) {
            held.swap_remove(at);
        }
        drop(held);
        self.claims.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::Claims;
    use futures_util::FutureExt;
    use uuid::Uuid;

    #[tokio::test]
    async fn a_claim_waits_only_for_claims_on_the_same_contacts() {
        let claims = Claims::default();
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let first = claims.claim(&[b, a]).await;
        // Other contacts: at once.
        assert!(claims.try_claim(&[c]).is_some());
        // One contact in common: refused now, granted once the first is released.
        assert!(claims.try_claim(&[c, a]).is_none());
        let wanted = [a, c];
        let waiting = claims.claim(&wanted);
        tokio::pin!(waiting);
        assert!(waiting.as_mut().now_or_never().is_none(), "waits while a is claimed");
        drop(first);
        let second = waiting.await;
        assert!(claims.try_claim(&[b]).is_some(), "b was released with the first claim");
        assert!(claims.try_claim(&[a]).is_none(), "a is held by the second claim");
        drop(second);
        assert!(claims.try_claim(&[a, b, c]).is_some());
        // Contacts between those of a claim, not in it: at once.
        let around = claims.claim(&[c, a]).await;
        assert!(claims.try_claim(&[b]).is_some(), "b lies between a and c but is not claimed");
        assert!(claims.try_claim(&[b, c]).is_none());
        drop(around);
    }
}
