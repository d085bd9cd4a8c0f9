//! Business-hours calendars: when a team works, in its time zone, and the holidays it
//! does not. An SLA clock runs only inside working hours: a demo request at 17:55 on a
//! Friday, with four business hours to answer and 09:00–18:00 working days, is due at
//! 12:55 on Monday.

use crate::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Days a clock looks ahead for working time before it gives up (ten years): a
/// calendar whose holidays cover every working day would otherwise never end.
const HORIZON_DAYS: usize = 3_660;
/// Most holidays a calendar may list.
pub const MAX_HOLIDAYS: usize = 1_000;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calendar as written: `{"time_zone": "Europe/Berlin", "hours": {"mon":
/// "09:00-17:00", …}, "holidays": ["2026-12-25"]}`. A day left out, or `""`, is not
/// worked; a day may have several spans (`"08:00-12:00,13:00-17:00"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// An IANA time zone, e.g. `Europe/Berlin`, `America/New_York`, `UTC`.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Working hours by day (`mon` … `sun`), as `HH:MM-HH:MM` spans separated by commas.
    #[serde(default = "weekdays_nine_to_five")]
    pub hours: BTreeMap<String, String>,
    /// Days not worked, as `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn utc() -> String {
    "UTC".into()
}

fn weekdays_nine_to_five() -> BTreeMap<String, String> {
    DAYS[..5].iter().map(|d| (d.to_string(), "09:00-17:00".to_string())).collect()
}

impl Default for CalendarSpec {
    /// Monday to Friday, 09:00 to 17:00 UTC, no holidays.
    fn default() -> Self {
        Self { time_zone: utc(), hours: weekdays_nine_to_five(), holidays: vec![] }
    }
}

/// What is wrong with a calendar, and where (`field`, e.g. `hours.mon`, `holidays[2]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CalendarError {
    pub field: String,
    pub message: String,
}

fn wrong(field: impl Into<String>, message: impl Into<String>) -> CalendarError {
    CalendarError { field: field.into(), message: message.into() }
}

/// A calendar ready to measure business time.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    /// Working spans by weekday, Monday first, each sorted and apart.
    spans: [Vec<(Time, Time)>; 7],
    holidays: BTreeSet<Date>,
}

impl CalendarSpec {
    /// Checks the calendar: a known time zone, spans that are times in order, holidays
    /// that are dates, and some working time in the week.
    pub fn compile(&self) -> Result<Calendar, CalendarError> {
        let zone = TimeZone::get(self.time_zone.trim()).map_err(|_| {
            wrong(
                "time_zone",
                format!("unknown time zone {:?}: use an IANA name such as Europe/Berlin or UTC", self.time_zone),
            )
        })?;
        let mut spans: [Vec<(Time, Time)>; 7] = Default::default();
        for (day, text) in &self.hours {
            let field = format!("hours.{day}");
            let at = DAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(day.trim()))
                .ok_or_else(|| wrong(&field, format!("unknown day {day:?}: days are {}", DAYS.join(", "))))?;
            spans[at] = parse_spans(text).map_err(|m| wrong(&field, m))?;
        }
        if spans.iter().all(Vec::is_empty) {
            return Err(wrong(
                "hours",
                "the calendar has no working hours: give at least one day, e.g. \"mon\": \"09:00-17:00\"",
            ));
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            return Err(wrong("holidays", format!("at most {MAX_HOLIDAYS} holidays")));
        }
        let mut holidays = BTreeSet::new();
        for (i, text) in self.holidays.iter().enumerate() {
            let date: Date = text.trim().parse().ok().filter(|_| text.trim().len() == 10).ok_or_else(|| {
                wrong(
                    format!("holidays[{i}]"),
                    format!("{:?} is not a date: write holidays as YYYY-MM-DD", crate::ident::truncate(text, 40)),
                )
            })?;
            holidays.insert(date);
        }
        Ok(Calendar { zone, spans, holidays })
    }
}

/// `09:00-12:00,13:00-17:00` as sorted spans that do not overlap.
fn parse_spans(text: &str) -> Result<Vec<(Time, Time)>, String> {
    let mut spans = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (open, close) = part.split_once('-').ok_or_else(|| format!("{part:?} is not a span: write HH:MM-HH:MM"))?;
        let time = |t: &str| -> Result<Time, String> {
            let t = t.trim();
            let (h, m) = t.split_once(':').ok_or_else(|| format!("{t:?} is not a time: write HH:MM"))?;
            let (h, m): (i8, i8) = match (h.parse::<i8>(), m.parse::<i8>()) {
                (Ok(hour), Ok(minute)) if (1..=2).contains(&h.len()) && m.len() == 2 => (hour, minute),
                _ => return Err(format!("{t:?} is not a time: write HH:MM")),
            };
            // 24:00 closes a day that works until midnight.
            if (h, m) == (24, 0) {
                return Ok(Time::MAX);
            }
            Time::new(h, m, 0, 0).map_err(|_| format!("{t:?} is not a time of day"))
        };
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err(format!("{part:?} closes before it opens"));
        }
        spans.push((open, close));
    }
    spans.sort();
    if spans.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err(format!("the spans of {text:?} overlap"));
    }
    Ok(spans)
}

/// How long an SLA allows: business hours (inbound's default is 4) or business days
/// (outbound's is 10), counted on the queue's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SlaSpec {
    /// Working hours (may be fractional: 0.5 is thirty working minutes).
    BusinessHours(f64),
    /// Working days: due at the same working moment of the n-th working day after.
    BusinessDays(u32),
}

/// Longest SLA accepted: a year of working days.
const MAX_SLA_DAYS: u32 = 366;

impl SlaSpec {
    pub fn check(&self) -> Result<(), CalendarError> {
        match *self {
            SlaSpec::BusinessHours(h) if !(h.is_finite() && h > 0.0 && h <= f64::from(MAX_SLA_DAYS) * 24.0) => {
                Err(wrong("sla.business_hours", "business hours must be a number above 0, at most 8784"))
            }
            SlaSpec::BusinessDays(d) if d == 0 || d > MAX_SLA_DAYS => {
                Err(wrong("sla.business_days", format!("business days must be 1 to {MAX_SLA_DAYS}")))
            }
            _ => Ok(()),
        }
    }
}

impl Calendar {
    /// When a clock started at `start` with `sla` to run is due.
    pub fn due(&self, start: Timestamp, sla: SlaSpec) -> Timestamp {
        match sla {
            SlaSpec::BusinessHours(h) => self.add_working_time(start, (h * 3_600_000_000.0).round() as i64),
            SlaSpec::BusinessDays(d) => self.add_working_days(start, d),
        }
    }

    /// The working spans of `date` as instants, none on a holiday.
    fn spans_of(&self, date: Date) -> impl Iterator<Item = (i64, i64)> + '_ {
        let day = date.weekday().to_monday_zero_offset() as usize;
        let worked = !self.holidays.contains(&date);
        self.spans[day].iter().filter(move |_| worked).map(move |&(open, close)| {
            let close = if close == Time::MAX { self.midnight_after(date) } else { self.instant(date, close) };
            (self.instant(date, open), close)
        })
    }

    fn instant(&self, date: Date, time: Time) -> i64 {
        // A time a clock change skips is read as the instant after the gap.
        date.to_datetime(time).to_zoned_datetime(self.zone.clone()).map_or(i64::MAX, |z| z.timestamp().as_microsecond())
    }

    fn midnight_after(&self, date: Date) -> i64 {
        date.tomorrow().map_or(i64::MAX, |d| self.instant(d, Time::midnight()))
    }

    fn date_of(&self, at: i64) -> Option<Date> {
        let ts = jiff::Timestamp::from_microsecond(at).ok()?;
        Some(ts.to_zoned_datetime(self.zone.clone()).date())
    }

    /// `start` plus `micros` of working time.
    fn add_working_time(&self, start: Timestamp, micros: i64) -> Timestamp {
        let Some(mut date) = self.date_of(start.0) else { return Timestamp(i64::MAX) };
        let mut left = micros.max(0);
        for _ in 0..HORIZON_DAYS {
            for (open, close) in self.spans_of(date) {
                let from = open.max(start.0);
                if from >= close {
                    continue;
                }
                if close - from >= left {
                    return Timestamp(from + left);
                }
                left -= close - from;
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        Timestamp(i64::MAX)
    }

    /// The first working moment at or after `at`, and the working time before it on its
    /// day.
    fn next_working(&self, at: i64) -> Option<(Date, i64)> {
        let mut date = self.date_of(at)?;
        for _ in 0..HORIZON_DAYS {
            let mut before = 0;
            for (open, close) in self.spans_of(date) {
                if at < close {
                    return Some((date, before + (at - open).max(0)));
                }
                before += close - open;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// `start` plus `days` working days: the same working moment (as much working time
    /// into the day) of the `days`-th working day after the one `start` is in (or
    /// before, outside working hours), or that day's close where it is shorter.
    fn add_working_days(&self, start: Timestamp, days: u32) -> Timestamp {
        let Some((mut date, into_day)) = self.next_working(start.0) else { return Timestamp(i64::MAX) };
        let mut counted = 0;
        for _ in 0..HORIZON_DAYS {
            let Ok(next) = date.tomorrow() else { break };
            date = next;
            let spans: Vec<(i64, i64)> = self.spans_of(date).collect();
            if spans.is_empty() {
                continue;
            }
            counted += 1;
            if counted == days {
                let mut left = into_day;
                for &(open, close) in &spans {
                    if left < close - open {
                        return Timestamp(open + left);
                    }
                    left -= close - open;
                }
                return Timestamp(spans.last().map_or(i64::MAX, |s| s.1));
            }
        }
        Timestamp(i64::MAX)
    }

    /// The working time between `from` and `to` (0 when `to` is not after `from`).
    pub fn working_time_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let Some(mut date) = self.date_of(from.0) else { return 0 };
        let mut total = 0;
        for _ in 0..HORIZON_DAYS {
            for (open, close) in self.spans_of(date) {
                if open >= to.0 {
                    return total;
                }
                total += (close.min(to.0) - open.max(from.0)).max(0);
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn berlin() -> Calendar {
        let spec = CalendarSpec {
            time_zone: "Europe/Berlin".into(),
            hours: DAYS[..5].iter().map(|d| (d.to_string(), "09:00-18:00".to_string())).collect(),
            holidays: vec!["2026-12-25".into(), "2026-12-28".into()],
        };
        spec.compile().unwrap()
    }

    #[test]
    fn a_clock_pauses_over_the_night_the_weekend_and_holidays() {
        let cal = berlin();
        let four_hours = SlaSpec::BusinessHours(4.0);
        // Friday 17:55 Berlin (16:55 UTC): five minutes on Friday, the rest on Monday.
        assert_eq!(cal.due(at("2026-12-04T16:55:00Z"), four_hours), at("2026-12-07T11:55:00Z"));
        // Inside the day it is plain addition.
        assert_eq!(cal.due(at("2026-12-07T09:05:00Z"), four_hours), at("2026-12-07T13:05:00Z"));
        // Saturday night counts from Monday's opening.
        assert_eq!(cal.due(at("2026-12-05T22:00:00Z"), four_hours), at("2026-12-07T12:00:00Z"));
        // Thursday 24 Dec 16:00 Berlin: two hours then, Friday 25th and Monday 28th are
        // holidays, the other two on Tuesday 29th.
        assert_eq!(cal.due(at("2026-12-24T15:00:00Z"), four_hours), at("2026-12-29T10:00:00Z"));
        // Working time between two instants is what the clock ran.
        assert_eq!(cal.working_time_between(at("2026-12-04T16:55:00Z"), at("2026-12-07T11:55:00Z")), 4 * 3_600_000_000);
        assert_eq!(cal.working_time_between(at("2026-12-05T10:00:00Z"), at("2026-12-06T10:00:00Z")), 0);
    }

    #[test]
    fn business_days_land_on_the_same_working_moment() {
        let cal = berlin();
        // Tuesday 1 Dec 10:30 Berlin + 10 working days = Tuesday 15 Dec 10:30.
        assert_eq!(cal.due(at("2026-12-01T09:30:00Z"), SlaSpec::BusinessDays(10)), at("2026-12-15T09:30:00Z"));
        // Sunday counts as Monday's opening: + 1 day = Tuesday 09:00.
        assert_eq!(cal.due(at("2026-12-06T12:00:00Z"), SlaSpec::BusinessDays(1)), at("2026-12-08T08:00:00Z"));
        // Over Christmas: Thu 24th + 1 = Tue 29th.
        assert_eq!(cal.due(at("2026-12-24T10:00:00Z"), SlaSpec::BusinessDays(1)), at("2026-12-29T10:00:00Z"));
    }

    #[test]
    fn clocks_follow_the_zone_across_a_change_of_time() {
        // New York goes to summer time on 8 March 2026: 17:00 is 22:00 UTC before,
        // 09:00 is 13:00 UTC after. Friday 16:30 + 1 h: half an hour each side.
        let spec = CalendarSpec { time_zone: "America/New_York".into(), ..CalendarSpec::default() };
        let cal = spec.compile().unwrap();
        assert_eq!(cal.due(at("2026-03-06T21:30:00Z"), SlaSpec::BusinessHours(1.0)), at("2026-03-09T13:30:00Z"));
    }

    #[test]
    fn bad_calendars_say_what_is_wrong_and_where() {
        let err = |spec: CalendarSpec| spec.compile().unwrap_err();
        let base = CalendarSpec::default();
        let e = err(CalendarSpec { time_zone: "Mars/Olympus".into(), ..base.clone() });
        assert_eq!(e.field, "time_zone");
        let e = err(CalendarSpec { hours: BTreeMap::new(), ..base.clone() });
        assert_eq!(e.field, "hours");
        assert!(e.message.contains("no working hours"), "{e}");
        let closed: BTreeMap<_, _> = [("mon".to_string(), "".to_string())].into();
        assert_eq!(err(CalendarSpec { hours: closed, ..base.clone() }).field, "hours");
        for bad in ["9-17", "17:00-09:00", "09:00-12:00,11:00-13:00", "25:00-26:00", "09:0-10:00"] {
            let hours = [("tue".to_string(), bad.to_string())].into();
            assert_eq!(err(CalendarSpec { hours, ..base.clone() }).field, "hours.tue", "{bad}");
        }
        let hours = [("someday".to_string(), "09:00-10:00".to_string())].into();
        assert_eq!(err(CalendarSpec { hours, ..base.clone() }).field, "hours.someday");
        for bad in ["25/12/2026", "2026-13-01", "2026-2-1", "christmas"] {
            let e = err(CalendarSpec { holidays: vec!["2026-01-01".into(), bad.into()], ..base.clone() });
            assert_eq!(e.field, "holidays[1]", "{bad}");
        }
        assert!(SlaSpec::BusinessHours(0.0).check().is_err());
        assert!(SlaSpec::BusinessHours(f64::NAN).check().is_err());
        assert!(SlaSpec::BusinessDays(0).check().is_err());
        assert!(SlaSpec::BusinessDays(10).check().is_ok());
    }

    #[test]
    fn a_day_may_work_until_midnight_and_in_several_spans() {
        let hours = [("mon".to_string(), "08:00-12:00, 13:00-24:00".to_string())].into();
        let cal = CalendarSpec { hours, ..CalendarSpec::default() }.compile().unwrap();
        // Monday 7 Dec 11:00 UTC + 2 h: one before lunch, one after.
        assert_eq!(cal.due(at("2026-12-07T11:00:00Z"), SlaSpec::BusinessHours(2.0)), at("2026-12-07T14:00:00Z"));
        assert_eq!(
            cal.working_time_between(at("2026-12-07T00:00:00Z"), at("2026-12-08T00:00:00Z")),
            15 * 3_600_000_000
        );
    }
}
