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
    put_text(pack, kind);
    match url {
        Some(url) => put_text(pack, url),
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

/// A pack that does not hold whole records (of events, stage steps or responses).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Damaged;

/// The next `n` bytes of `pack`, taken off it.
pub(crate) fn take<'a>(pack: &mut &'a [u8], n: usize) -> Result<&'a [u8], Damaged> {
    let (head, rest) = pack.split_at_checked(n).ok_or(Damaged)?;
    *pack = rest;
    Ok(head)
}

/// The next `N` bytes of `pack` (a number's), taken off it.
pub(crate) fn number<const N: usize>(pack: &mut &[u8]) -> Result<[u8; N], Damaged> {
    Ok(take(pack, N)?.try_into().expect("N bytes taken"))
}

/// The next `len` bytes of `pack` as UTF-8 text, taken off it.
pub(crate) fn text<'a>(pack: &mut &'a [u8], len: u32) -> Result<&'a str, Damaged> {
    std::str::from_utf8(take(pack, len as usize)?).map_err(|_| Damaged)
}

/// Appends `text` to `pack`, after its length (u32, big-endian).
pub(crate) fn put_text(pack: &mut Vec<u8>, text: &str) {
    pack.extend_from_slice(&(text.len() as u32).to_be_bytes());
    pack.extend_from_slice(text.as_bytes());
}

/// The records of `pack`, in the order they were written.
pub(crate) fn records(mut pack: &[u8]) -> impl Iterator<Item = Result<Record<'_>, Damaged>> {
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

/// What one row of a contact's pack holds of a window of time.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Window {
    /// The row's events from the window's start to its end (inclusive), in the order
    /// written.
    pub(crate) events: Vec<EventFact>,
    /// When the row's latest event up to the window's end happened, in or before it.
    pub(crate) latest: Option<Timestamp>,
}

/// What the pack row `row` holds from `since` to `until` (inclusive).
pub(crate) fn unpack(row: &[u8], since: Timestamp, until: Option<Timestamp>) -> Result<Window, Damaged> {
    let until = until.unwrap_or(Timestamp(i64::MAX));
    let mut window = Window::default();
    for record in records(row) {
        let Record { at, kind, url } = record?;
        if at > until {
            continue;
        }
        window.latest = Some(window.latest.map_or(at, |l| l.max(at)));
        if at < since {
            continue;
        }
        let text = |bytes: &[u8]| shared(bytes).ok_or(Damaged);
        let url: Option<Arc<str>> = url.map(text).transpose()?;
        window.events.push(EventFact { kind: text(kind)?, at, url, props: serde_json::Value::Null });
    }
    Ok(window)
}

/// One contact's pack, [`unpack`]ed: its rows' windows together.
#[derive(Debug, PartialEq)]
pub(crate) struct Unpacked {
    pub(crate) contact: Uuid,
    /// Its events in the window, oldest first (those of the same moment in the order
    /// written).
    pub(crate) events: Vec<EventFact>,
    /// When its latest event up to the window's end happened.
    pub(crate) latest: Option<Timestamp>,
}

/// The windows of many contacts' pack rows (each contact's together, in `seq` order),
/// each contact's put together.
pub(crate) fn by_contact(rows: Vec<(Uuid, Result<Window, Damaged>)>) -> crate::Result<Vec<Unpacked>> {
    let mut packed: Vec<Unpacked> = Vec::with_capacity(rows.len());
    for (contact, window) in rows {
        let window = window
            .map_err(|_| crate::StoreError::Corrupt(format!("the events packed for contact {contact} are damaged")))?;
        match packed.last_mut() {
            Some(last) if last.contact == contact => {
                last.events.extend(window.events);
                last.latest = last.latest.max(window.latest);
            }
            _ => packed.push(Unpacked { contact, events: window.events, latest: window.latest }),
        }
    }
    for u in &mut packed {
        // Appended as they arrive, which is most often in time order: then the check is
        // all the sort costs. Stable: ties keep the order written.
        if !u.events.is_sorted_by_key(|e| e.at) {
            u.events.sort_by_key(|e| e.at);
        }
    }
    Ok(packed)
}

/// [`by_contact`] of pack rows read whole.
pub(crate) fn unpack_by_contact(
    rows: &[(Uuid, Vec<u8>)],
    since: Timestamp,
    until: Option<Timestamp>,
) -> crate::Result<Vec<Unpacked>> {
    by_contact(rows.iter().map(|(c, row)| (*c, unpack(row, since, until))).collect())
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
        let (mut first, mut second, mut other) = (Vec::new(), Vec::new(), Vec::new());
        encode(&mut first, "a", Timestamp(50), None);
        encode(&mut first, "b", Timestamp(10), None);
        encode(&mut second, "c", Timestamp(40), Some("u"));
        encode(&mut second, "d", Timestamp(90), None);
        encode(&mut second, "e", Timestamp(40), None);
        encode(&mut other, "f", Timestamp(30), None);
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let rows = [(ann, first.clone()), (ann, second.clone()), (bob, other.clone())];
        let read =
            |since, until: Option<i64>| unpack_by_contact(&rows, Timestamp(since), until.map(Timestamp)).unwrap();
        let got = read(20, Some(60));
        let kinds: Vec<(&str, i64)> = got[0].events.iter().map(|e| (&*e.kind, e.at.0)).collect();
        assert_eq!(kinds, [("c", 40), ("e", 40), ("a", 50)], "ties keep the order written");
        assert_eq!(got[0].events[0].url.as_deref(), Some("u"));
        assert_eq!(got[0].latest, Some(Timestamp(50)), "the latest at or before the end, not the one after it");
        assert_eq!((got[1].contact, got[1].events.len(), got[1].latest), (bob, 1, Some(Timestamp(30))));
        assert_eq!(got.len(), 2, "a contact's rows together");
        let got = read(0, Some(5));
        assert!(got[0].events.is_empty());
        assert_eq!(got[0].latest, None);
        assert_eq!(read(95, None)[0].latest, Some(Timestamp(90)), "found before the window, which keeps nothing");
        let mut bad = first.clone();
        bad.extend_from_slice(&[0, 0, 0]);
        assert_eq!(unpack(&bad, Timestamp(0), None), Err(Damaged));
        let damaged = unpack_by_contact(&[(ann, first), (bob, bad)], Timestamp(0), None).unwrap_err();
        assert!(damaged.to_string().contains(&bob.to_string()), "{damaged}");
        let mut invalid = Vec::new();
        invalid.extend_from_slice(&1i64.to_be_bytes());
        invalid.extend_from_slice(&1u32.to_be_bytes());
        invalid.push(0xFF);
        invalid.extend_from_slice(&NO_URL.to_be_bytes());
        assert_eq!(unpack(&invalid, Timestamp(0), None), Err(Damaged), "a kind not UTF-8");
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
            (include_str!("../migrations/sqlite/0011_event_packs.sql"), crate::sqlite::dialect::PACK_EVENTS),
            (include_str!("../migrations/postgres/0011_event_packs.sql"), crate::postgres::dialect::PACK_EVENTS),
        ] {
            assert!(squeezed(migration).contains(&squeezed(repack)), "{repack}");
        }
    }
}
