//! Finding likely duplicates: pairs of contacts that are probably one person.
//!
//! Three signs, each a reason shown with the pair:
//! - **same mailbox**: the addresses differ but deliver to one inbox (`+tags`, and dots
//!   in Gmail addresses);
//! - **same name at the same account**: first and last name equal, ignoring case;
//! - **similar email**: at one company domain, local parts that name the same person
//!   (`john.smith`, `jsmith`, `smith.john`, `john.smith2`), unless they contradict each
//!   other (`jane.smith` against `john.smith`, `sales1` against `sales2`).
//!
//! Contacts are grouped by key (a hash map per sign), never compared all against all,
//! so a million contacts take seconds. A group larger than [`GROUP_MAX`] says nothing
//! about any one pair in it (a common name at a huge account) and is left out.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Groups of more contacts than this are too common to suggest a duplicate.
pub const GROUP_MAX: usize = 20;

/// What the duplicate search needs to know of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub account_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    SameMailbox,
    SameNameAtAccount,
    SimilarEmail,
}

impl DuplicateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateReason::SameMailbox => "same_mailbox",
            DuplicateReason::SameNameAtAccount => "same_name_at_account",
            DuplicateReason::SimilarEmail => "similar_email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::SameMailbox, Self::SameNameAtAccount, Self::SimilarEmail].into_iter().find(|r| r.as_str() == s)
    }
}

/// Two contacts that are probably one person (`contact_id < other_id`), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DuplicatePair {
    pub contact_id: Uuid,
    pub other_id: Uuid,
    /// Strongest first.
    pub reasons: Vec<DuplicateReason>,
}

/// The mailbox an address delivers to: without a `+tag`, and for Gmail without dots.
pub fn mailbox(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_owned(), domain),
    };
    Some(format!("{local}@{domain}"))
}

/// A local part read as a person's name: its letter tokens (`john.smith2` → `john`,
/// `smith`) and its digits.
struct LocalName {
    tokens: Vec<String>,
    digits: String,
}

impl LocalName {
    fn parse(local: &str) -> Self {
        let local = local.split('+').next().unwrap_or(local);
        let tokens = local
            .split(['.', '_', '-'])
            .map(|t| t.chars().filter(char::is_ascii_alphabetic).collect::<String>())
            .filter(|t| !t.is_empty())
            .collect();
        Self { tokens, digits: local.chars().filter(char::is_ascii_digit).collect() }
    }

    /// Keys under which the same person's other addresses would also be found.
    fn keys(&self) -> Vec<String> {
        match self.tokens.as_slice() {
            [] => Vec::new(),
            [one] if one.len() < 3 => Vec::new(),
            [one] => vec![one.clone()],
            [first, .., last] => {
                let initial = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
                let mut keys = vec![
                    format!("{first}{last}"),
                    format!("{}{last}", initial(first)),
                    format!("{last}{first}"),
                    format!("{}{first}", initial(last)),
                ];
                keys.sort_unstable();
                keys.dedup();
                keys
            }
        }
    }

    /// Whether two local parts sharing a key could still be two different people.
    fn contradicts(&self, other: &LocalName) -> bool {
        if !self.digits.is_empty() && !other.digits.is_empty() && self.digits != other.digits {
            return true; // sales1 and sales2
        }
        match (self.tokens.as_slice(), other.tokens.as_slice()) {
            ([a1, .., a2], [b1, .., b2]) => {
                // The same two names, in either order, each possibly an initial.
                let fits = |x: &str, y: &str| x == y || (x.len() == 1 || y.len() == 1) && x[..1] == y[..1];
                !((fits(a1, b1) && fits(a2, b2)) || (fits(a1, b2) && fits(a2, b1)))
            }
            _ => false,
        }
    }
}

/// The likely duplicate pairs among `contacts`, ordered by reason then ids.
pub fn find_duplicates(contacts: &[Candidate]) -> Vec<DuplicatePair> {
    let mut found: HashMap<(Uuid, Uuid), Vec<DuplicateReason>> = HashMap::new();
    let mut add = |a: Uuid, b: Uuid, reason: DuplicateReason| {
        let key = if a < b { (a, b) } else { (b, a) };
        let reasons = found.entry(key).or_default();
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    };

    let mut by_mailbox: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_name: HashMap<(Uuid, String, String), Vec<usize>> = HashMap::new();
    let mut by_local_key: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    let mut locals: Vec<Option<LocalName>> = Vec::with_capacity(contacts.len());
    for (i, c) in contacts.iter().enumerate() {
        let mut local_name = None;
        if let Some(email) = c.email.as_deref() {
            if let Some(m) = mailbox(email) {
                by_mailbox.entry(m).or_default().push(i);
            }
            if let Some((local, domain)) = email.rsplit_once('@')
                && !crate::account::is_free_mail_domain(domain)
            {
                let name = LocalName::parse(local);
                for key in name.keys() {
                    by_local_key.entry((domain, key)).or_default().push(i);
                }
                local_name = Some(name);
            }
        }
        locals.push(local_name);
        if let (Some(account), Some(first), Some(last)) = (c.account_id, &c.first_name, &c.last_name) {
            let (first, last) = (first.trim().to_lowercase(), last.trim().to_lowercase());
            if !first.is_empty() && !last.is_empty() {
                by_name.entry((account, first, last)).or_default().push(i);
            }
        }
    }

    let mut pairs_in = |group: &[usize], reason: DuplicateReason, keep: &dyn Fn(usize, usize) -> bool| {
        if group.len() < 2 || group.len() > GROUP_MAX {
            return;
        }
        for (n, &i) in group.iter().enumerate() {
            for &j in &group[n + 1..] {
                if keep(i, j) {
                    add(contacts[i].id, contacts[j].id, reason);
                }
            }
        }
    };
    for group in by_mailbox.values() {
        pairs_in(group, DuplicateReason::SameMailbox, &|_, _| true);
    }
    for group in by_name.values() {
        pairs_in(group, DuplicateReason::SameNameAtAccount, &|_, _| true);
    }
    for group in by_local_key.values() {
        pairs_in(group, DuplicateReason::SimilarEmail, &|i, j| match (&locals[i], &locals[j]) {
            (Some(a), Some(b)) => !a.contradicts(b),
            _ => false,
        });
    }

    let mut pairs: BTreeMap<(DuplicateReason, Uuid, Uuid), DuplicatePair> = BTreeMap::new();
    for ((a, b), mut reasons) in found {
        reasons.sort_unstable();
        pairs.insert((reasons[0], a, b), DuplicatePair { contact_id: a, other_id: b, reasons });
    }
    pairs.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u128, email: &str, first: &str, last: &str, account: Option<u128>) -> Candidate {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Candidate {
            id: Uuid::from_u128(n),
            email: opt(email),
            first_name: opt(first),
            last_name: opt(last),
            account_id: account.map(Uuid::from_u128),
        }
    }

    fn reasons_of(pairs: &[DuplicatePair], a: u128, b: u128) -> Vec<DuplicateReason> {
        let (a, b) = (Uuid::from_u128(a.min(b)), Uuid::from_u128(a.max(b)));
        pairs.iter().find(|p| p.contact_id == a && p.other_id == b).map(|p| p.reasons.clone()).unwrap_or_default()
    }

    #[test]
    fn mailbox_drops_tags_and_gmail_dots_only() {
        assert_eq!(mailbox("john.smith+news@gmail.com").unwrap(), "johnsmith@gmail.com");
        assert_eq!(mailbox("john.smith@googlemail.com").unwrap(), "johnsmith@gmail.com");
        assert_eq!(mailbox("john.smith+crm@acme.com").unwrap(), "john.smith@acme.com");
        assert_eq!(mailbox("john.smith@acme.com").unwrap(), "john.smith@acme.com");
    }

    #[test]
    fn the_three_signs_are_found_with_their_reason() {
        let contacts = vec![
            c(1, "johnsmith@gmail.com", "", "", None),
            c(2, "john.smith+leads@gmail.com", "", "", None),
            c(3, "anna@acme.com", "Anna", "Berg", Some(9)),
            c(4, "a.berg@acme.com", "anna", "berg ", Some(9)),
            c(5, "peter.olsen@initech.com", "", "", None),
            c(6, "polsen@initech.com", "", "", None),
            c(7, "olsen.peter2@initech.com", "", "", None),
        ];
        let pairs = find_duplicates(&contacts);
        assert_eq!(reasons_of(&pairs, 1, 2), vec![DuplicateReason::SameMailbox]);
        assert_eq!(reasons_of(&pairs, 3, 4), vec![DuplicateReason::SameNameAtAccount]);
        assert_eq!(reasons_of(&pairs, 5, 6), vec![DuplicateReason::SimilarEmail]);
        assert_eq!(reasons_of(&pairs, 5, 7), vec![DuplicateReason::SimilarEmail]);
        assert_eq!(reasons_of(&pairs, 6, 7), vec![DuplicateReason::SimilarEmail]);
        assert_eq!(pairs.len(), 5, "{pairs:#?}");
        assert!(pairs.iter().all(|p| p.contact_id < p.other_id));
    }

    #[test]
    fn different_people_are_not_paired() {
        let contacts = vec![
            c(1, "jane.smith@acme.com", "Jane", "Smith", Some(9)),
            c(2, "john.smith@acme.com", "John", "Smith", Some(9)),
            c(3, "sales1@acme.com", "", "", Some(9)),
            c(4, "sales2@acme.com", "", "", Some(9)),
            // Free-mail domains say nothing about one company's people.
            c(5, "jsmith@yahoo.com", "", "", None),
            c(6, "john.smith@yahoo.com", "", "", None),
            // The same name at different accounts.
            c(7, "x@initech.com", "Jane", "Smith", Some(8)),
        ];
        let pairs = find_duplicates(&contacts);
        assert!(pairs.is_empty(), "{pairs:#?}");
    }

    #[test]
    fn a_huge_group_says_nothing() {
        let contacts: Vec<_> =
            (0..=GROUP_MAX as u128).map(|i| c(i, &format!("m{i}@acme.com"), "Maria", "Garcia", Some(1000))).collect();
        assert!(find_duplicates(&contacts).is_empty());
    }
}
