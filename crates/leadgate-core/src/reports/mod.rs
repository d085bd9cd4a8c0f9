//! Reports: what happened to contacts, computed exactly from their history.
//!
//! [`funnel::Path`] is one contact as the reports read it: when it entered the funnel,
//! where it came from, and when it first reached each stage of the main path. The
//! reports are pure functions of those paths, so that every number can be recomputed
//! from the raw history, and opened into the contacts behind it.

pub mod cell;
pub mod cohorts;
pub mod cost;
pub mod forecast;
pub mod funnel;
pub mod inflow;
pub mod mix;
pub mod rejected;
pub mod waterfall;

use crate::Timestamp;
use crate::response::Direction;
use crate::time::MICROS_PER_DAY;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What a report can be grouped by: where a contact came from (its first response),
/// how, why, and who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// Inbound or outbound: how we came to know the contact.
    Direction,
    Channel,
    Vendor,
    Campaign,
    Placement,
    /// What the person did (`form_fill`, `download`, …).
    Action,
    /// How the data was obtained (`form`, `list_purchase`, …).
    ObtainedVia,
    /// Why: the offer that brought them.
    Offer,
    /// The form of the first response, by id.
    Form,
    /// The person responsible for the contact.
    Owner,
}

impl Grouping {
    pub const ALL: [Grouping; 10] = [
        Grouping::Direction,
        Grouping::Channel,
        Grouping::Vendor,
        Grouping::Campaign,
        Grouping::Placement,
        Grouping::Action,
        Grouping::ObtainedVia,
        Grouping::Offer,
        Grouping::Form,
        Grouping::Owner,
    ];

    /// Its position in [`Self::ALL`].
    pub fn index(self) -> usize {
        Grouping::ALL.iter().position(|g| *g == self).expect("every grouping is in ALL")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Grouping::Direction => "direction",
            Grouping::Channel => "channel",
            Grouping::Vendor => "vendor",
            Grouping::Campaign => "campaign",
            Grouping::Placement => "placement",
            Grouping::Action => "action",
            Grouping::ObtainedVia => "obtained_via",
            Grouping::Offer => "offer",
            Grouping::Form => "form",
            Grouping::Owner => "owner",
        }
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Grouping {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Grouping::ALL.into_iter().find(|g| g.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<&str> = Grouping::ALL.iter().map(|g| g.as_str()).collect();
            format!("unknown grouping {s:?}; a report is grouped by one or two of: {}", names.join(", "))
        })
    }
}

/// The header of a grouped report's table: `scope`, then a column per grouping.
pub(crate) fn group_header(group_by: &[Grouping]) -> Vec<String> {
    std::iter::once("scope").chain(group_by.iter().map(|g| g.as_str())).map(str::to_owned).collect()
}

/// The first cells of a grouped report's row: `group` (or `total`, for the totals'
/// rows, so that they never read as a group without values), then each grouping's
/// value, empty for none.
pub(crate) fn group_cells(
    group_by: &[Grouping],
    group: &std::collections::BTreeMap<Grouping, Option<String>>,
    total: bool,
) -> Vec<String> {
    let scope = if total { "total" } else { "group" };
    std::iter::once(scope.to_owned())
        .chain(group_by.iter().map(|k| group.get(k).cloned().flatten().unwrap_or_default()))
        .collect()
}

/// Groups a report counts at most: more is a grouping by something near unique (a
/// campaign id per lead), which no one reads and which would fill the memory.
pub const GROUPS_MAX: usize = 1_000;

/// A group's values, one for each grouping (none: the group without one).
pub(crate) type GroupKey = Vec<Option<String>>;

/// A report's groups while it counts, each under its groupings' values: at most
/// [`GROUPS_MAX`]; a group beyond them is noted, not kept, and the report refused.
pub(crate) struct Groups<T> {
    map: hashbrown::HashMap<GroupKey, T>,
    overflowed: bool,
}

/// A group's values as a path lends them: looked up among the groups without being
/// copied (a million paths, one group each). Hashed as its [`GroupKey`] is: both hash
/// as a slice of optional strings.
#[derive(Hash)]
struct Values<'a>(&'a [Option<&'a str>]);

impl hashbrown::Equivalent<GroupKey> for Values<'_> {
    fn equivalent(&self, key: &GroupKey) -> bool {
        self.0.len() == key.len() && self.0.iter().zip(key).all(|(a, b)| *a == b.as_deref())
    }
}

impl From<&Values<'_>> for GroupKey {
    fn from(v: &Values<'_>) -> GroupKey {
        v.0.iter().map(|v| v.map(str::to_owned)).collect()
    }
}

impl<T> Default for Groups<T> {
    fn default() -> Self {
        Self { map: Default::default(), overflowed: false }
    }
}

/// A report grouped by values too many to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the report would have more than {GROUPS_MAX} groups: group by fewer or coarser values, or narrow the period")]
pub struct TooManyGroups;

impl<T> Groups<T> {
    /// The group of `values`, made by `new` if it is not counted yet and there is room.
    pub(crate) fn get(&mut self, values: &[Option<&str>], new: impl FnOnce() -> T) -> Option<&mut T> {
        let full = self.map.len() >= GROUPS_MAX;
        match self.map.entry_ref(&Values(values)) {
            hashbrown::hash_map::EntryRef::Occupied(group) => Some(group.into_mut()),
            hashbrown::hash_map::EntryRef::Vacant(room) if !full => Some(room.insert(new())),
            hashbrown::hash_map::EntryRef::Vacant(_) => {
                self.overflowed = true;
                None
            }
        }
    }

    /// Every group, largest first by `size`, then by their values.
    pub(crate) fn ordered(self, size: impl Fn(&T) -> u64) -> Result<Vec<(GroupKey, T)>, TooManyGroups> {
        if self.overflowed {
            return Err(TooManyGroups);
        }
        let mut groups: Vec<_> = self.map.into_iter().collect();
        largest_first(&mut groups, size);
        Ok(groups)
    }
}

/// A grouped report while it counts: the contacts its selection left out, the totals,
/// and each group's tally (a waterfall's, a cost report's).
pub(crate) struct GroupedTally<T> {
    pub(crate) selection: Selection,
    pub(crate) group_by: Vec<Grouping>,
    pub(crate) totals: T,
    pub(crate) groups: Groups<T>,
    pub(crate) excluded: Excluded,
}

impl<T: Default> GroupedTally<T> {
    pub(crate) fn new(selection: Selection, group_by: &[Grouping]) -> Self {
        let (totals, groups, excluded) = (T::default(), Groups::default(), Excluded::default());
        Self { selection, group_by: group_by.to_vec(), totals, groups, excluded }
    }

    /// Counts `p` by `count` in the totals and in its group, if the selection counts it.
    pub(crate) fn add(&mut self, p: &funnel::Path, count: impl Fn(&mut T, &funnel::Path)) {
        match self.selection.verdict(p) {
            Verdict::Unselected => return,
            Verdict::Excluded => return self.excluded.add(),
            Verdict::Counted => {}
        }
        count(&mut self.totals, p);
        self.in_group(|g| p.group(g), |t| count(t, p));
    }

    /// `f` on the tally of the group of the values `value_of` gives, when the report is
    /// grouped (and the group has room: see [`Groups::get`]).
    pub(crate) fn in_group<'a>(&mut self, value_of: impl Fn(Grouping) -> Option<&'a str>, f: impl FnOnce(&mut T)) {
        if self.group_by.is_empty() {
            return;
        }
        let mut values = [None; Grouping::ALL.len()];
        values.iter_mut().zip(&self.group_by).for_each(|(v, g)| *v = value_of(*g));
        if let Some(tally) = self.groups.get(&values[..self.group_by.len()], T::default) {
            f(tally);
        }
    }
}

/// Orders a report's groups (their groupings' values, and what was counted of them)
/// largest first by `size`, then by their values, a group without a value after those
/// with one.
fn largest_first<T>(groups: &mut [(GroupKey, T)], size: impl Fn(&T) -> u64) {
    let key = |k: &GroupKey| k.iter().map(|v| (v.is_none(), v.clone())).collect::<Vec<_>>();
    groups.sort_by(|(a, ta), (b, tb)| size(tb).cmp(&size(ta)).then_with(|| key(a).cmp(&key(b))));
}

/// A calendar month in UTC, counted from year 0: months apart subtract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// Its first instant (midnight UTC on its first day).
    pub fn start(self) -> Timestamp {
        let (year, month) = (self.0.div_euclid(12), self.0.rem_euclid(12) as u8 + 1);
        let month = time::Month::try_from(month).expect("a month of 1 to 12");
        let day = time::Date::from_calendar_date(year, month, 1).unwrap_or(time::Date::MAX);
        Timestamp((day.midnight().assume_utc().unix_timestamp_nanos() / 1_000) as i64)
    }

    pub fn of(at: Timestamp) -> Month {
        let nanos = i128::from(at.0) * 1_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(date) => Month(date.year() * 12 + i32::from(u8::from(date.month())) - 1),
            // Beyond the calendar's years (no instant leadgate stores): its first or last month.
            Err(_) if at.0 < 0 => Month(time::Date::MIN.year() * 12),
            Err(_) => Month(time::Date::MAX.year() * 12 + 11),
        }
    }
}

impl FromStr for Month {
    type Err = String;
    /// `2026-01`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wrong = || format!("month must be a month such as 2026-01, not {s:?}");
        let (y, m) = s.trim().split_once('-').ok_or_else(wrong)?;
        let (y, m): (i32, i32) = (y.parse().map_err(|_| wrong())?, m.parse().map_err(|_| wrong())?);
        if !(1..=12).contains(&m) || !(1900..=9999).contains(&y) {
            return Err(wrong());
        }
        Ok(Month(y * 12 + m - 1))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.0.div_euclid(12), self.0.rem_euclid(12) + 1)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// At most this many groupings at once: a table of three is unreadable and its groups
/// too small to mean anything.
pub const GROUPINGS_MAX: usize = 2;

/// Reads `group_by` (names separated by commas): none, one or two distinct groupings.
pub fn groupings(list: &str) -> Result<Vec<Grouping>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let g: Grouping = name.parse()?;
        if out.contains(&g) {
            return Err(format!("{g} is named twice in group_by"));
        }
        out.push(g);
    }
    if out.len() > GROUPINGS_MAX {
        return Err(format!(
            "group_by names {} groupings; a report is grouped by at most {GROUPINGS_MAX} (e.g. channel,direction)",
            out.len()
        ));
    }
    Ok(out)
}

/// The longest period a report covers: longer is a mistake (a year typed wrong), and
/// would only say "everything".
pub const PERIOD_MAX_DAYS: i64 = 20 * 366;

/// The contacts a report counts: those that entered the funnel from `from`
/// (inclusive) to `to` (exclusive); either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct Period {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// Why a period cannot be a report's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends ({to}) before it starts ({from})")]
    EndsBeforeStart { from: String, to: String },
    #[error("the period is longer than {PERIOD_MAX_DAYS} days (20 years); give a shorter one")]
    TooLong,
}

impl Period {
    pub fn new(from: Option<Timestamp>, to: Option<Timestamp>) -> Result<Self, PeriodError> {
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(PeriodError::EndsBeforeStart { from: f.to_rfc3339(), to: t.to_rfc3339() });
            }
            if (t.0 - f.0) / MICROS_PER_DAY > PERIOD_MAX_DAYS {
                return Err(PeriodError::TooLong);
            }
        }
        Ok(Self { from, to })
    }

    pub fn holds(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|f| at >= f) && self.to.is_none_or(|t| at < t)
    }
}

/// Which contacts a report counts: those that entered in the period, of the direction
/// when one is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct Selection {
    #[serde(flatten)]
    pub period: Period,
    pub direction: Option<Direction>,
}

impl Selection {
    pub fn selects(&self, p: &funnel::Path) -> bool {
        self.period.holds(p.entered_at)
            && self.direction.is_none_or(|d| p.group(Grouping::Direction) == Some(d.as_str()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct Excluded {
    /// Contacts of the selection that are disqualified now, left out of every count.
    pub disqualified: u64,
}

impl Excluded {
    /// Counts a path the selection's verdict excluded.
    fn add(&mut self) {
        self.disqualified += 1;
    }
}

/// What a report does with a contact's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not in the selection.
    Unselected,
    /// In it, but left out of every count (disqualified now), and counted as such.
    Excluded,
    Counted,
}

impl Selection {
    pub fn verdict(&self, p: &funnel::Path) -> Verdict {
        if !self.selects(p) {
            Verdict::Unselected
        } else if p.disqualified {
            Verdict::Excluded
        } else {
            Verdict::Counted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months_in_utc() {
        let at = |s: &str| Month::of(Timestamp::parse_rfc3339(s).unwrap());
        assert_eq!(at("2026-01-31T23:59:59Z").to_string(), "2026-01");
        assert_eq!(at("2026-02-01T00:00:00Z").0 - at("2025-12-31T12:00:00Z").0, 2);
        assert_eq!(at("2026-02-01T00:30:00+01:00").to_string(), "2026-01", "UTC decides");
        assert_eq!("2026-01".parse::<Month>(), Ok(at("2026-01-15T00:00:00Z")));
        assert_eq!(at("2026-03-31T10:00:00Z").start(), Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap());
        assert_eq!(Month(at("2025-12-01T00:00:00Z").0 + 1).to_string(), "2026-01");
        for wrong in ["2026-13", "2026", "01-2026", "2026-00", "99999-01"] {
            assert!(wrong.parse::<Month>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn group_by_takes_up_to_two_known_distinct_names() {
        assert_eq!(groupings(""), Ok(vec![]));
        assert_eq!(groupings("Channel, direction"), Ok(vec![Grouping::Channel, Grouping::Direction]));
        assert!(groupings("channel,vendor,offer").unwrap_err().contains("at most 2"));
        assert!(groupings("channel,channel").unwrap_err().contains("twice"));
        let unknown = groupings("colour").unwrap_err();
        assert!(unknown.contains("\"colour\"") && unknown.contains("obtained_via"), "{unknown}");
    }

    #[test]
    fn a_period_must_start_before_it_ends_and_be_shorter_than_twenty_years() {
        let day = |d: i64| Some(Timestamp(d * MICROS_PER_DAY));
        assert!(matches!(Period::new(day(10), day(5)), Err(PeriodError::EndsBeforeStart { .. })));
        assert_eq!(Period::new(day(0), day(100 * 365)), Err(PeriodError::TooLong));
        let p = Period::new(day(10), day(20)).unwrap();
        assert!(p.holds(Timestamp(10 * MICROS_PER_DAY)) && !p.holds(Timestamp(20 * MICROS_PER_DAY)));
        assert!(Period::new(None, day(5)).unwrap().holds(Timestamp(i64::MIN)));
    }
}
