//! Accounts: companies, keyed by their email domain.

use serde::Serialize;
use std::fmt;

/// A lower-case DNS domain name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if s.len() > 253 || !s.contains('.') {
            return None;
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let tld = s.rsplit('.').next()?;
        let tld_ok = tld.len() >= 2 && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--"));
        (s.split('.').all(label_ok) && tld_ok).then_some(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether addresses at this domain belong to people rather than to one company, so
    /// that they must not create or join an account.
    pub fn is_free_mail(&self) -> bool {
        is_free_mail_domain(&self.0)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free-mail and ISP domains: an address there says nothing about the employer.
const FREE_MAIL: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "aol.com",
    "att.net",
    "bellsouth.net",
    "btinternet.com",
    "comcast.net",
    "cox.net",
    "earthlink.net",
    "fastmail.com",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.fr",
    "hushmail.com",
    "icloud.com",
    "inbox.com",
    "laposte.net",
    "libero.it",
    "live.co.uk",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "orange.fr",
    "outlook.com",
    "outlook.de",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "rocketmail.com",
    "sbcglobal.net",
    "seznam.cz",
    "sky.com",
    "t-online.de",
    "tutanota.com",
    "uol.com.br",
    "verizon.net",
    "virgilio.it",
    "wanadoo.fr",
    "web.de",
    "yahoo.co.in",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.com.br",
    "yahoo.de",
    "yahoo.fr",
    "yandex.com",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
    "zohomail.com",
];

pub fn is_free_mail_domain(domain: &str) -> bool {
    FREE_MAIL.binary_search(&domain).is_ok()
}

/// A readable account name from a domain when the contact gave no company name:
/// `acme-tools.co.uk` → `Acme-tools`.
pub fn name_from_domain(domain: &Domain) -> String {
    let first = domain.as_str().split('.').next().unwrap_or_default();
    let mut chars = first.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_mail_list_is_sorted_for_binary_search() {
        assert!(FREE_MAIL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn free_mail_domains_create_no_account() {
        assert!(Domain::parse("gmail.com").unwrap().is_free_mail());
        assert!(Domain::parse("GMAIL.com.").unwrap().is_free_mail());
        assert!(!Domain::parse("acme.com").unwrap().is_free_mail());
        assert_eq!(name_from_domain(&Domain::parse("acme.co.uk").unwrap()), "Acme");
    }
}
