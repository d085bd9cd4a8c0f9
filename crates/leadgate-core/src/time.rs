//! Instants, stored as microseconds since the Unix epoch in both databases.
//!
//! One integer representation keeps ordering exact and identical on SQLite and
//! PostgreSQL; conversion to RFC 3339 happens only at the edges.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Serialized as an RFC 3339 instant in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(value_type = String, format = DateTime)]
pub struct Timestamp(pub i64);

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

impl Timestamp {
    pub fn plus_micros(self, d: i64) -> Self {
        Self(self.0.saturating_add(d))
    }

    /// Parses an RFC 3339 instant such as `2026-03-01T10:05:00Z` or
    /// `2026-03-01T10:05:00.123+02:00`.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let dt = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
        let micros = dt.unix_timestamp_nanos() / 1_000;
        i64::try_from(micros).ok().map(Self)
    }

    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(dt) => dt.format(&Rfc3339).unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 instant")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_microseconds_and_offsets() {
        let t = Timestamp::parse_rfc3339("2026-03-01T10:05:00.123456+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T08:05:00.123456Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
    }

    #[test]
    fn garbage_is_not_an_instant() {
        for s in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-03-01", "1700000000"] {
            assert_eq!(Timestamp::parse_rfc3339(s), None, "{s}");
        }
    }
}
