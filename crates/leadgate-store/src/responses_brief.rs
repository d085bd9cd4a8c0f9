//! Each contact's responses in brief, packed on its own row.
//!
//! What most rules and definitions read of a contact's responses is when each came,
//! its direction, its action and its channel: what the index of responses by contact
//! holds. Read from that index, a batch of contacts is a row more of SQLite a response,
//! for the reader to convert and group; packed into the contact's row
//! (`contacts.responses_brief`), they come with the contact, in the same step. A read
//! that needs more of them (their campaign, offer, fields) reads the responses table.
//!
//! A pack is a run of records, one a response,
//!
//! ```text
//! at: i64, big-endian | id: 16 bytes | direction's length: u32, big-endian | direction
//!   | action's length: u32, big-endian | action
//!   | channel's length: u32, big-endian, or 0xFFFFFFFF without a channel | channel
//! ```
//!
//! the same bytes that SQL builds from the responses (`PACK_RESPONSES` of each store,
//! and the migration that first filled the column), in the order they were written: a
//! new response is appended to its contact's pack in the transaction that records it,
//! and the contacts that responses move between (a merge, its undoing) are packed anew
//! from the table.
//!
//! Unlike the event packs, a contact's responses are not cut into rows of a bounded
//! length: a contact has a few responses (the demo's about one, an import's one or
//! two), and each is appended by rewriting its contact's row, about 75 bytes a
//! response. A contact that somebody sends thousands of responses for (a bot posting
//! one email again and again, which capture keeps, marked junk) makes each new one cost
//! a rewrite of all of them.

use crate::packs::{Damaged, number, put_text, text};
use leadgate_core::Direction;
use leadgate_core::Timestamp;
use leadgate_core::model::Response;
use uuid::Uuid;

const NO_CHANNEL: u32 = u32::MAX;

/// Appends one response's record to `pack`.
pub(crate) fn encode(pack: &mut Vec<u8>, r: &Response) {
    pack.extend_from_slice(&r.at.0.to_be_bytes());
    pack.extend_from_slice(r.id.as_bytes());
    put_text(pack, r.direction.as_str());
    put_text(pack, &r.action);
    match &r.channel {
        Some(channel) => put_text(pack, channel),
        None => pack.extend_from_slice(&NO_CHANNEL.to_be_bytes()),
    }
}

/// The responses of `contact`'s `pack`, oldest first (those of the same moment by id,
/// as a read of the responses table gives them), with their time, id, direction, action
/// and channel; their other details none (`obtained_via` empty, `fields` none).
pub(crate) fn decode(contact: Uuid, mut pack: &[u8]) -> Result<Vec<Response>, Damaged> {
    let mut responses = Vec::new();
    while !pack.is_empty() {
        let at = Timestamp(i64::from_be_bytes(number(&mut pack)?));
        let id = Uuid::from_bytes(number(&mut pack)?);
        let len = u32::from_be_bytes(number(&mut pack)?);
        let direction = Direction::parse(text(&mut pack, len)?).ok_or(Damaged)?;
        let len = u32::from_be_bytes(number(&mut pack)?);
        let action = text(&mut pack, len)?.to_owned();
        let channel = match u32::from_be_bytes(number(&mut pack)?) {
            NO_CHANNEL => None,
            len => Some(text(&mut pack, len)?.to_owned()),
        };
        responses.push(in_brief(id, contact, at, direction, action, channel));
    }
    // Appended as they arrive, which is most often in time order: then the check is
    // all the sort costs.
    if !responses.is_sorted_by_key(|r| (r.at, r.id)) {
        responses.sort_by_key(|r| (r.at, r.id));
    }
    Ok(responses)
}

/// A response of which these alone are known: its other details none.
fn in_brief(
    id: Uuid,
    contact_id: Uuid,
    at: Timestamp,
    direction: Direction,
    action: String,
    channel: Option<String>,
) -> Response {
    Response {
        id,
        contact_id,
        at,
        direction,
        channel,
        campaign: None,
        placement: None,
        referrer: None,
        vendor: None,
        action,
        obtained_via: String::new(),
        offer: None,
        form_id: None,
        message: None,
        fields: Default::default(),
        contact_fields: Default::default(),
        junk: None,
        inbox_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(id: u128, at: i64, direction: Direction, action: &str, channel: Option<&str>) -> Response {
        let (id, contact, action) = (Uuid::from_u128(id), Uuid::from_u128(9), action.to_owned());
        in_brief(id, contact, Timestamp(at), direction, action, channel.map(str::to_owned))
    }

    #[test]
    fn a_pack_gives_back_its_responses_oldest_first_and_refuses_a_cut_or_unknown_record() {
        let rs = [
            response(3, 30, Direction::Inbound, "demo_request", Some("organic_search")),
            response(1, -5, Direction::Outbound, "cold_call", None),
            response(2, 30, Direction::Inbound, "pricing_request", Some("")),
            response(4, 10, Direction::Inbound, "ebook_download", Some("paid_social·ü")),
        ];
        let (mut pack, mut ends) = (Vec::new(), Vec::new());
        for r in &rs {
            encode(&mut pack, r);
            ends.push(pack.len());
        }
        let [a, b, c, d] = rs;
        assert_eq!(decode(Uuid::from_u128(9), &pack), Ok(vec![b, d, c, a]), "by time, then id");
        for cut in (1..pack.len()).filter(|n| !ends.contains(n)) {
            assert_eq!(decode(Uuid::from_u128(9), &pack[..cut]), Err(Damaged), "a pack cut after {cut} bytes");
        }
        let mut unknown = Vec::new();
        encode(&mut unknown, &response(5, 1, Direction::Inbound, "x", None));
        let at = unknown.windows(7).position(|w| w == b"inbound").unwrap();
        unknown[at..at + 7].copy_from_slice(b"sideway");
        assert_eq!(decode(Uuid::from_u128(9), &unknown), Err(Damaged), "a direction of no known name");
    }

    #[test]
    fn the_migration_packed_the_responses_stored_before_it_as_the_stores_pack_them() {
        let squeezed = |sql: &str| sql.split_whitespace().collect::<String>();
        for (migration, pack) in [
            (
                include_str!("../migrations/sqlite/0015_responses_brief_on_contacts.sql"),
                crate::sqlite::dialect::PACK_RESPONSES,
            ),
            (
                include_str!("../migrations/postgres/0015_responses_brief_on_contacts.sql"),
                crate::postgres::dialect::PACK_RESPONSES,
            ),
            // Packed again without junk.
            (include_str!("../migrations/sqlite/0016_personal_data.sql"), crate::sqlite::dialect::PACK_RESPONSES),
            (include_str!("../migrations/postgres/0016_personal_data.sql"), crate::postgres::dialect::PACK_RESPONSES),
        ] {
            assert!(squeezed(migration).contains(&squeezed(pack)), "{pack}");
        }
    }
}
