//! Email addresses, the identity of a contact.

use crate::ErrorCode;
use crate::FieldError;
use crate::account::Domain;
use crate::ident::truncate;
use serde::Serialize;
use std::fmt;

/// A normalised email address: trimmed and lower-cased, checked for a plausible shape.
///
/// Lower-casing the local part is a product decision: real mailboxes that differ only by
/// case are vanishingly rare, while the same person typing `Ann@X.com` and `ann@x.com`
/// is common, and a duplicate contact is the worse failure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Email(String);

pub const EMAIL_MAX: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("is empty");
        }
        if s.len() > EMAIL_MAX {
            return Err("is longer than 254 characters");
        }
        if !s.is_ascii() {
            return Err("has characters outside ASCII (use the punycode form of the domain)");
        }
        if s.chars().any(|c| c.is_ascii_whitespace() || c.is_ascii_control()) {
            return Err("contains spaces or control characters");
        }
        let (local, domain) = s.rsplit_once('@').ok_or("has no @")?;
        if local.is_empty() || local.len() > 64 {
            return Err("has an empty or over-long part before the @");
        }
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
        if !local.chars().all(atext) || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err("has characters that are not allowed before the @");
        }
        // The stored form uses the parsed domain, so that `ann@example.com.` and
        // `ann@example.com` are one address, not two contacts.
        let domain = Domain::parse(domain).ok_or("has no valid domain after the @")?;
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn field(raw: &str, field: &str) -> Result<Self, FieldError> {
        Self::parse(raw).map_err(|why| {
            FieldError::new(
                ErrorCode::InvalidEmail,
                field,
                format!("{:?} is not a valid email address: it {why}", truncate(raw, 80)),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or("")
    }

    pub fn domain(&self) -> Domain {
        let d = self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        Domain::parse(d).expect("validated at construction")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_by_trimming_and_lower_casing() {
        let e = Email::parse("  Ann.Lee@Example.COM \n").unwrap();
        assert_eq!(e.as_str(), "ann.lee@example.com");
        assert_eq!(e.domain().as_str(), "example.com");
        assert_eq!(e.local_part(), "ann.lee");
        assert_eq!(Email::parse("ann.lee@example.com.").unwrap(), e, "a trailing dot is the same address");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a b@example.com",
            "ann@exa mple.com",
            "ann@-example.com",
            "ann..lee@example.com",
            "ann@example.c",
            "'; DROP TABLE contacts; --",
            "<script>@x.com",
            "ann@例え.jp",
            "ann@ example.com",
            "ann@\texample.com",
            "ann\u{0}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn accepts_real_world_shapes() {
        for good in ["o'brien@example.ie", "first+tag@sub.example.co.uk", "x@xn--e1afmkfd.xn--p1ai"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
    }
}
