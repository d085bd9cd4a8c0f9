//! Identifiers chosen by users: event kinds, actions, channels, custom field names.

use crate::ErrorCode;
use crate::FieldError;
use serde::Serialize;
use std::fmt;

/// A lower-case identifier: a letter, then letters, digits or `_`, at most 64 long.
///
/// Event kinds, actions and channels outside the documented lists are accepted when
/// they are identifiers (so integrators can add their own), and refused otherwise (so
/// that free text, markup or injection attempts never become a category in reports).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Ident(String);

pub const IDENT_MAX: usize = 64;

impl Ident {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let mut chars = s.chars();
        let first = chars.next()?;
        let ok = first.is_ascii_lowercase()
            && s.len() <= IDENT_MAX
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        ok.then(|| Self(s.to_owned()))
    }

    /// Parses a user-given value, lower-casing it and turning spaces and dashes into
    /// `_` first, so `Paid Search` and `paid-search` both become `paid_search`.
    pub fn parse_lenient(s: &str) -> Option<Self> {
        let folded: String =
            s.trim().chars().map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() }).collect();
        Self::parse(&folded)
    }

    pub fn field(value: &str, field: &str, what: &str) -> Result<Self, FieldError> {
        Self::parse_lenient(value).ok_or_else(|| {
            FieldError::new(
                ErrorCode::InvalidIdentifier,
                field,
                format!(
                    "{what} must be an identifier (a letter, then letters, digits or _, \
                     at most {IDENT_MAX} characters); got {:?}",
                    truncate(value, 80)
                ),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// At most `max` characters of `s`, for quoting user input back in messages.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max).collect::<String>() + "…" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(Ident::parse("page_view").unwrap().as_str(), "page_view");
        assert_eq!(Ident::parse_lenient("Paid Search").unwrap().as_str(), "paid_search");
        for bad in ["", "1abc", "drop table;", "<script>", "a".repeat(65).as_str(), "é"] {
            assert!(Ident::parse_lenient(bad).is_none(), "{bad}");
        }
    }
}
