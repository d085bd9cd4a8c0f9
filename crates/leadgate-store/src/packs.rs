//! Each contact's events packed together, for reading back in bulk.
//!
//! A rescore reads every contact's events of the last year, a backtest those of a
//! window before its date: read from the index of events by contact, that is one
//! entry stepped over for every event a contact ever had (ten million for a million
//! contacts), whichever of them the window keeps. `event_packs` holds the same events
//! (kind, time, page: what expressions read, properties aside) a contact's worth to a
//! row, so that such a read steps over one row a contact and picks its events out of
//! bytes.
//!
//! A pack is a run of records, each
//!
//! ```text
//! at: i64, big-endian | kind's length: u32, big-endian | kind (UTF-8)
//!   | url's length: u32, big-endian, or 0xFFFFFFFF without a url | url (UTF-8)
//! ```
//!
//! the same bytes that SQL builds from the events table (`PACK_EVENTS` of each
//! store, and the migration that first filled the table): big-endian fixed-size
//! integers are what both databases can write from SQL (`printf('%016x')`,
//! `int8send`). A contact's events may take several rows (`seq`): new events are
//! appended to its last row until that row is [`ROW_BYTES`] long, so that an event
//! rewrites one small row, not a busy contact's whole history.

use crate::direct::shared;
use leadgate_core::Timestamp;
use leadgate_core::expr::facts::EventFact;
use std::sync::Arc;
use uuid::Uuid;

/// How long a row of a pack grows by appending before new events start the next one:
/// under a quarter of a 4 KiB page, the most SQLite keeps of a row of a table without
/// row ids in its own page (longer rows spill onto pages of their own).
pub(crate) const ROW_BYTES: usize = 960;

const NO_URL: u32 = u32::MAX;

/// Appends one event's record to `pack`.
pub(crate) fn encode(pack: &mut Vec<u8>, kind: &str, at: Timestamp, url: Option<&str>) {
    pack.extend_from_slice(&at.0.to_be_bytes());
    pack.extend_from_slice(&(kind.len() as u32).to_be_bytes());
    pack.extend_from_slice(kind.as_bytes());
    match url {
        Some(url) => {
            pack.extend_from_slice(&(url.len() as u32).to_be_bytes());
            pack.extend_from_slice(url.as_bytes());
        }
        None => pack.extend_from_slice(&NO_URL.to_be_bytes()),
    }
}

/// Where a contact's new `records` go, in order: first into its last row, which has
/// `room` bytes left before [`ROW_BYTES`], then into rows after it, each up to
/// [`ROW_BYTES`] (a record longer than that has a row of its own).
pub(crate) fn cut(records: &[Vec<u8>], room: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut into_last, mut rows) = (Vec::new(), Vec::<Vec<u8>>::new());
    for record in records {
        if rows.is_empty() && into_last.len() + record.len() <= room {
            into_last.extend_from_slice(record);
            continue;
        }
        match rows.last_mut() {
            Some(row) if row.len() + record.len() <= ROW_BYTES => row.extend_from_slice(record),
            _ => rows.push(record.clone()),
        }
    }
    (into_last, rows)
}

/// One record, its texts still bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Record<'a> {
    pub(crate) at: Timestamp,
    pub(crate) kind: &'a [u8],
    pub(crate) url: Option<&'a [u8]>,
}

/// A pack that does not hold whole records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Damaged;

/// The records of `pack`, in the order they were written.
pub(crate) fn records(mut pack: &[u8]) -> impl Iterator<Item = Result<Record<'_>, Damaged>> {
    fn take<'a>(pack: &mut &'a [u8], n: usize) -> Result<&'a [u8], Damaged> {
        let (head, rest) = pack.split_at_checked(n).ok_or(Damaged)?;
        *pack = rest;
        Ok(head)
    }
    fn number<const N: usize>(pack: &mut &[u8]) -> Result<[u8; N], Damaged> {
        Ok(take(pack, N)?.try_into().expect("N bytes taken"))
    }
    std::iter::from_fn(move || {
        if pack.is_empty() {
            return None;
        }
        let mut next = || {
            let at = Timestamp(i64::from_be_bytes(number(&mut pack)?));
            let kind_len = u32::from_be_bytes(number(&mut pack)?) as usize;
            let kind = take(&mut pack, kind_len)?;
            let url = match u32::from_be_bytes(number(&mut pack)?) {
                NO_URL => None,
                n => Some(take(&mut pack, n as usize)?),
            };
            Ok(Record { at, kind, url })
        };
        let record = next();
        if record.is_err() {
            pack = &[];
        }
        Some(record)
    })
}

/// The events of a contact's pack rows (in `seq` order) from `since` to `until`
/// (inclusive), oldest first (those of the same moment in the order written), and
/// when its latest event up to `until` happened, in or before the window.
pub(crate) fn unpack<'a>(
    rows: impl IntoIterator<Item = &'a [u8]>,
    since: Timestamp,
    until: Option<Timestamp>,
) -> Result<(Vec<EventFact>, Option<Timestamp>), Damaged> {
    let until = until.unwrap_or(Timestamp(i64::MAX));
    let (mut events, mut latest) = (Vec::new(), None::<Timestamp>);
    for row in rows {
        for record in records(row) {
            let Record { at, kind, url } = record?;
            if at > until {
                continue;
            }
            latest = Some(latest.map_or(at, |l| l.max(at)));
            if at < since {
                continue;
            }
            let text = |bytes: &[u8]| shared(bytes).ok_or(Damaged);
            let url: Option<Arc<str>> = url.map(text).transpose()?;
            events.push(EventFact { kind: text(kind)?, at, url, props: serde_json::Value::Null });
        }
    }
    // Appended as they arrive, which is most often in time order: then the check is all
    // the sort costs.
    if !events.is_sorted_by_key(|e| e.at) {
        events.sort_by_key(|e| e.at);
    }
    Ok((events, latest))
}

/// One contact's pack, [`unpack`]ed.
pub(crate) struct Unpacked {
    pub(crate) contact: Uuid,
    /// Its events in the window, oldest first.
    pub(crate) events: Vec<EventFact>,
    /// When its latest event up to the window's end happened.
    pub(crate) latest: Option<Timestamp>,
}

/// The pack rows of many contacts (each contact's together, in `seq` order), each contact's
/// [`unpack`]ed: its events from `since` to `until`, and its latest up to `until`.
pub(crate) fn unpack_by_contact(
    rows: &[(Uuid, Vec<u8>)],
    since: Timestamp,
    until: Option<Timestamp>,
) -> crate::Result<Vec<Unpacked>> {
    let mut packed = Vec::new();
    let mut rest = rows;
    while let Some((c, _)) = rest.first() {
        let (of, after) = rest.split_at(rest.iter().take_while(|(d, _)| d == c).count());
        rest = after;
        let (events, latest) = unpack(of.iter().map(|(_, pack)| pack.as_slice()), since, until)
            .map_err(|_| crate::StoreError::Corrupt(format!("the events packed for contact {c} are damaged")))?;
        packed.push(Unpacked { contact: *c, events, latest });
    }
    Ok(packed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_gives_back_what_was_packed_and_refuses_a_cut_record() {
        let mut pack = Vec::new();
        encode(&mut pack, "page_view", Timestamp(30), Some("https://acme.example/pricing?q=ü"));
        let first_ends = pack.len();
        encode(&mut pack, "download", Timestamp(-5), None);
        let second_ends = pack.len();
        encode(&mut pack, "email_open", Timestamp(10), Some(""));
        let got: Vec<Record<'_>> = records(&pack).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            [
                Record {
                    at: Timestamp(30),
                    kind: b"page_view",
                    url: Some("https://acme.example/pricing?q=ü".as_bytes())
                },
                Record { at: Timestamp(-5), kind: b"download", url: None },
                Record { at: Timestamp(10), kind: b"email_open", url: Some(b"") },
            ]
        );
        for cut in (1..pack.len()).filter(|n| ![first_ends, second_ends].contains(n)) {
            let read: Vec<_> = records(&pack[..cut]).collect();
            assert!(read.last().is_some_and(|r| r.is_err()), "a pack cut after {cut} bytes reads as damaged");
            assert!(read.len() <= 3);
        }
        assert_eq!(records(&pack[..second_ends]).count(), 2, "cut between records: whole ones");
    }

    #[test]
    fn a_window_keeps_its_events_oldest_first_and_finds_the_latest_up_to_its_end() {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        encode(&mut first, "a", Timestamp(50), None);
        encode(&mut first, "b", Timestamp(10), None);
        encode(&mut second, "c", Timestamp(40), Some("u"));
        encode(&mut second, "d", Timestamp(90), None);
        encode(&mut second, "e", Timestamp(40), None);
        let rows = [first.as_slice(), second.as_slice()];
        let (events, latest) = unpack(rows, Timestamp(20), Some(Timestamp(60))).unwrap();
        let kinds: Vec<(&str, i64)> = events.iter().map(|e| (&*e.kind, e.at.0)).collect();
        assert_eq!(kinds, [("c", 40), ("e", 40), ("a", 50)], "ties keep the order written");
        assert_eq!(events[0].url.as_deref(), Some("u"));
        assert_eq!(latest, Some(Timestamp(50)), "the latest at or before the end, not the one after it");
        let (events, latest) = unpack(rows, Timestamp(0), Some(Timestamp(5))).unwrap();
        assert!(events.is_empty());
        assert_eq!(latest, None);
        let (_, latest) = unpack(rows, Timestamp(95), None).unwrap();
        assert_eq!(latest, Some(Timestamp(90)), "found before the window, which keeps nothing");
        let mut bad = first.clone();
        bad.extend_from_slice(&[0, 0, 0]);
        assert_eq!(unpack([bad.as_slice()], Timestamp(0), None), Err(Damaged));
        let mut invalid = Vec::new();
        invalid.extend_from_slice(&1i64.to_be_bytes());
        invalid.extend_from_slice(&1u32.to_be_bytes());
        invalid.push(0xFF);
        invalid.extend_from_slice(&NO_URL.to_be_bytes());
        assert_eq!(unpack([invalid.as_slice()], Timestamp(0), None), Err(Damaged), "a kind not UTF-8");
    }

    #[test]
    fn new_records_fill_the_last_row_then_rows_of_their_own_none_longer_than_a_row() {
        let record = |n: usize| vec![n as u8; n];
        let (into_last, rows) = cut(&[record(100), record(200)], 400);
        assert_eq!((into_last.len(), rows.len()), (300, 0), "room for both");
        let (into_last, rows) = cut(&[record(100), record(600), record(300), record(2000), record(10)], 150);
        assert_eq!(into_last, record(100));
        let sizes: Vec<usize> = rows.iter().map(Vec::len).collect();
        assert_eq!(sizes, [900, 2000, 10], "in order, the long record alone");
        let (into_last, rows) = cut(&[record(10)], 0);
        assert!(into_last.is_empty(), "no last row, or a full one");
        assert_eq!(rows, [record(10)]);
    }

    #[test]
    fn the_migration_packed_the_events_stored_before_it_as_the_stores_repack_them() {
        let squeezed = |sql: &str| sql.split_whitespace().collect::<String>();
        for (migration, repack) in [
            (include_str!("../migrations/sqlite/0011_event_packs.sql"), crate::sqlite::PACK_EVENTS),
            (include_str!("../migrations/postgres/0011_event_packs.sql"), crate::postgres::PACK_EVENTS),
        ] {
            assert!(squeezed(migration).contains(&squeezed(repack)), "{repack}");
        }
    }
}
