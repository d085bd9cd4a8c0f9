//! Each contact's stage steps packed on its own row.
//!
//! A backtest reads where every contact went (its stage steps: the stage it had at its
//! date, what it became after) beside the contact itself. Read from the index of stage
//! changes by contact, that is two to three more rows a contact, each a step of SQLite
//! and a row for the reader to convert and group; packed into the contact's row
//! (`contacts.stage_steps`), they come with the contact, in the same step.
//!
//! A pack is a run of records, one a stage change,
//!
//! ```text
//! at: i64, big-endian | stage's length: u32, big-endian | stage (its stored name)
//!   | 0x00 without a value, or 0x01 then value: i64, big-endian
//! ```
//!
//! the same bytes that SQL builds from the stage changes (`PACK_STAGE_STEPS` of each
//! store, and the migration that first filled the column), in the order they were
//! written: a new stage change is appended to its contact's pack in the transaction
//! that records it, and the contacts that stage changes move between (a merge, its
//! undoing) are packed anew from the table.

use crate::packs::{Damaged, number, put_text, text};
use crate::rows::stage;
use leadgate_core::Timestamp;
use leadgate_core::lifecycle::StageStep;

/// Appends one stage step's record to `pack`.
pub(crate) fn encode(pack: &mut Vec<u8>, step: &StageStep) {
    pack.extend_from_slice(&step.at.0.to_be_bytes());
    put_text(pack, step.to.as_str());
    match step.value {
        Some(value) => {
            pack.push(1);
            pack.extend_from_slice(&value.to_be_bytes());
        }
        None => pack.push(0),
    }
}

/// The steps of `pack`, oldest first (those of the same moment in the order written);
/// damaged when it does not hold whole records of known stages.
pub(crate) fn decode(mut pack: &[u8]) -> Result<Vec<StageStep>, Damaged> {
    let mut steps = Vec::new();
    while !pack.is_empty() {
        let at = Timestamp(i64::from_be_bytes(number(&mut pack)?));
        let len = u32::from_be_bytes(number(&mut pack)?);
        let to = stage(text(&mut pack, len)?).map_err(|_| Damaged)?;
        let value = match number::<1>(&mut pack)? {
            [0] => None,
            [1] => Some(i64::from_be_bytes(number(&mut pack)?)),
            _ => return Err(Damaged),
        };
        steps.push(StageStep { to, at, value });
    }
    // Appended as they were recorded, which is most often in time order: then the
    // check is all the sort costs. Stable: ties keep the order written.
    if !steps.is_sorted_by_key(|s| s.at) {
        steps.sort_by_key(|s| s.at);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgate_core::Stage;

    #[test]
    fn a_pack_gives_back_its_steps_oldest_first_and_refuses_a_cut_or_unknown_record() {
        let steps = [
            StageStep { to: Stage::Sql, at: Timestamp(30), value: None },
            StageStep { to: Stage::Prospect, at: Timestamp(-5), value: None },
            StageStep { to: Stage::Customer, at: Timestamp(30), value: Some(1_250_000) },
            StageStep { to: Stage::Lost, at: Timestamp(10), value: Some(-1) },
        ];
        let mut pack = Vec::new();
        let mut ends = Vec::new();
        for s in &steps {
            encode(&mut pack, s);
            ends.push(pack.len());
        }
        let [sql, prospect, customer, lost] = steps;
        assert_eq!(decode(&pack), Ok(vec![prospect, lost, sql, customer]), "by time, ties in the order written");
        assert_eq!(decode(&[]), Ok(vec![]));
        for cut in (1..pack.len()).filter(|n| !ends.contains(n)) {
            assert_eq!(decode(&pack[..cut]), Err(Damaged), "a pack cut after {cut} bytes");
        }
        let mut unknown = Vec::new();
        encode(&mut unknown, &prospect);
        let name = b"prospect";
        let at = unknown.windows(name.len()).position(|w| w == name).unwrap();
        unknown[at..at + name.len()].copy_from_slice(b"prospekt");
        assert_eq!(decode(&unknown), Err(Damaged), "a stage of no known name");
        let mut flag = Vec::new();
        encode(&mut flag, &prospect);
        *flag.last_mut().unwrap() = 2;
        assert_eq!(decode(&flag), Err(Damaged), "a value flag neither 0 nor 1");
    }

    #[test]
    fn the_migration_packed_the_steps_stored_before_it_as_the_stores_pack_them() {
        let squeezed = |sql: &str| sql.split_whitespace().collect::<String>();
        for (migration, pack) in [
            (
                include_str!("../migrations/sqlite/0014_stage_steps_on_contacts.sql"),
                crate::sqlite::dialect::PACK_STAGE_STEPS,
            ),
            (
                include_str!("../migrations/postgres/0014_stage_steps_on_contacts.sql"),
                crate::postgres::dialect::PACK_STAGE_STEPS,
            ),
        ] {
            assert!(squeezed(migration).contains(&squeezed(pack)), "{pack}");
        }
    }
}
