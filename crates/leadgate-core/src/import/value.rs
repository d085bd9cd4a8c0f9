//! Turning cell text into typed values: dates, yes/no flags, numbers and amounts.

use crate::Timestamp;
use time::format_description::OwnedFormatItem;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A strftime-style date format (`%Y-%m-%d %H:%M`), checked once.
pub fn parse_format(format: &str) -> Result<OwnedFormatItem, String> {
    time::format_description::parse_strftime_owned(format)
        .map_err(|e| format!("{format:?} is not a date format ({e}); write it like \"%d/%m/%Y %H:%M\""))
}

/// Formats always understood, after RFC 3339: the ISO date forms spreadsheets and
/// exports write most.
pub fn builtin_formats() -> Vec<OwnedFormatItem> {
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
        .into_iter()
        .map(|f| parse_format(f).expect("built-in formats are valid"))
        .collect()
}

/// Parses an instant: RFC 3339 first, then each format in order. A date without a time
/// is midnight, and a time without an offset is UTC.
pub fn parse_date(s: &str, formats: &[OwnedFormatItem]) -> Option<Timestamp> {
    let s = s.trim();
    if let Some(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    // Fractional seconds after a plain date-time ("2018-02-26 19:58:54.123").
    let (main, fraction) = match s.rsplit_once('.') {
        Some((m, f)) if f.len() <= 9 && !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (m, Some(f)),
        _ => (s, None),
    };
    let micros_of = |f: &str| {
        f.bytes().take(6).fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')) * 10i64.pow(6 - f.len().min(6) as u32)
    };
    for format in formats {
        let dt = if let Ok(dt) = PrimitiveDateTime::parse(main, format) {
            dt
        } else if let Ok(d) = Date::parse(main, format) {
            PrimitiveDateTime::new(d, Time::MIDNIGHT)
        } else if let Ok(dt) = OffsetDateTime::parse(main, format) {
            let micros = (dt.unix_timestamp_nanos() / 1_000) as i64;
            return Some(Timestamp(micros + fraction.map_or(0, micros_of)));
        } else {
            continue;
        };
        let micros = (dt.assume_offset(UtcOffset::UTC).unix_timestamp_nanos() / 1_000) as i64;
        return Some(Timestamp(micros + fraction.map_or(0, micros_of)));
    }
    None
}

/// Yes/no as spreadsheets write it.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "x" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// A plain number: `12`, `2.5`, `-3`, `1e3`. Thousands separators are refused rather
/// than guessed (is `1,005` one thousand and five, or one point zero zero five?).
pub fn parse_number(s: &str) -> Option<f64> {
    let n: f64 = s.trim().parse().ok()?;
    n.is_finite().then_some(n)
}

/// An amount of money in minor units (cents): `1200`, `1200.5`, `-3.75`. Exact: more
/// than two decimals is refused instead of rounded.
pub fn parse_amount(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    // Thousands written apart, as report exports write them: `12,500.50`. A lone
    // `1,200` is refused: written with a decimal comma, it is 1.2.
    let grouped: String;
    let whole = if whole.contains(',') {
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or("");
        let unambiguous = digits.contains('.') || whole.matches(',').count() > 1;
        if !unambiguous || first.is_empty() || first.len() > 3 || !groups.clone().all(|g| g.len() == 3) {
            return None;
        }
        grouped = whole.replace(',', "");
        grouped.as_str()
    } else {
        whole
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let cents = if frac.is_empty() { 0 } else { frac.parse::<i64>().ok()? * if frac.len() == 1 { 10 } else { 1 } };
    let total = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_exports_write() {
        let f = builtin_formats();
        let day = parse_date("2018-02-26", &f).unwrap();
        assert_eq!(day.to_rfc3339(), "2018-02-26T00:00:00Z");
        assert_eq!(parse_date("2018-02-26 19:58:54", &f).unwrap().to_rfc3339(), "2018-02-26T19:58:54Z");
        assert_eq!(parse_date("2018-02-26 19:58", &f).unwrap().to_rfc3339(), "2018-02-26T19:58:00Z");
        assert_eq!(parse_date("2018-02-26T19:58:54+02:00", &f).unwrap().to_rfc3339(), "2018-02-26T17:58:54Z");
        assert_eq!(
            parse_date("2018-02-26 19:58:54.25", &f).unwrap().0 - parse_date("2018-02-26 19:58:54", &f).unwrap().0,
            250_000
        );
        let eu = [parse_format("%d/%m/%Y").unwrap()];
        assert_eq!(parse_date("26/02/2018", &eu).unwrap(), day);
        for bad in ["2018-02-30", "26/02/2018", "yesterday", "", "2018-13-01 10:00"] {
            assert_eq!(parse_date(bad, &f), None, "{bad}");
        }
    }

    #[test]
    fn amounts_are_exact_cents() {
        assert_eq!(parse_amount("1200"), Some(120_000));
        assert_eq!(parse_amount("1200.5"), Some(120_050));
        assert_eq!(parse_amount("0.0"), Some(0));
        assert_eq!(parse_amount("-3.75"), Some(-375));
        assert_eq!(parse_amount(".5"), Some(50));
        assert_eq!(parse_amount("12,500.50"), Some(1_250_050), "thousands apart, as report exports write them");
        assert_eq!(parse_amount("1,234,567"), Some(123_456_700));
        for bad in ["1,200", "1,20", "12,50.00", ",500.00", "1.005", "abc", "", "-", "1e3", "99999999999999999999"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn flags_and_numbers() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("No"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_number("2.5"), Some(2.5));
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("1,005"), None);
    }

    #[test]
    fn bad_formats_are_explained() {
        assert!(parse_format("%Q").unwrap_err().contains("%Q"));
    }
}
