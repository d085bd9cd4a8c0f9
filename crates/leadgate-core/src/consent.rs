//! Consent: what a person agreed to be contacted about, and what they withdrew, each
//! recorded with when, where and by whom. The latest record of a purpose is in force.

use crate::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One grant or withdrawal of consent for one purpose (`newsletter`, `events`, …).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConsentRecord {
    pub contact_id: Uuid,
    /// An identifier: what the person may be contacted about.
    pub purpose: String,
    pub granted: bool,
    /// Where it was given or withdrawn: `inquiry <response id>`, or what the API caller
    /// said (`double opt-in 2026-12-01`, `phone call`).
    pub source: String,
    pub at: Timestamp,
    pub actor: String,
    pub reason: Option<String>,
}

/// The consent in force for each purpose: the latest record of it (the last of those
/// at the same moment), from `records` in the order they were made.
pub fn in_force(records: &[ConsentRecord]) -> BTreeMap<&str, &ConsentRecord> {
    let mut latest: BTreeMap<&str, &ConsentRecord> = BTreeMap::new();
    for r in records {
        match latest.get(r.purpose.as_str()) {
            Some(seen) if seen.at > r.at => {}
            _ => {
                latest.insert(&r.purpose, r);
            }
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(purpose: &str, granted: bool, at: i64) -> ConsentRecord {
        ConsentRecord {
            contact_id: Uuid::nil(),
            purpose: purpose.into(),
            granted,
            source: "test".into(),
            at: Timestamp(at),
            actor: "system".into(),
            reason: None,
        }
    }

    #[test]
    fn the_latest_record_of_each_purpose_is_in_force() {
        let records = [record("newsletter", true, 1), record("events", true, 2), record("newsletter", false, 3)];
        let now: Vec<(&str, bool)> = in_force(&records).into_iter().map(|(p, r)| (p, r.granted)).collect();
        assert_eq!(now, [("events", true), ("newsletter", false)]);
        // Made later but dated earlier (recorded late): the later date wins; at the same
        // moment, the one made last.
        let records = [record("events", false, 5), record("events", true, 4), record("events", true, 5)];
        assert!(in_force(&records)["events"].granted);
    }
}
