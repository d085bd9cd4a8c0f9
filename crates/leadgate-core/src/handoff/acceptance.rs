//! Sales' answer to a contact handed over: accept it (`mql` → `sal`) or reject it with a
//! reason (→ `nurture`, never deleted). The reason stays in the contact's history as
//! the rejection's detail (`no_budget: spending frozen until Q3`), where the "rejected,
//! then won" report reads it.

use crate::ident::truncate;

/// The reasons Sales may give unless the workspace sets its own.
pub const DEFAULT_REASONS: [&str; 10] = [
    "not_ready",
    "no_budget",
    "no_authority",
    "no_need",
    "bad_timing",
    "wrong_person",
    "bad_data",
    "duplicate",
    "competitor",
    "other",
];

/// Longest note a rejection may carry.
pub const MAX_NOTE: usize = 900;
/// Most reason codes a workspace may set.
pub const MAX_REASONS: usize = 100;

/// Checks a list of reason codes a workspace sets: 1 to [`MAX_REASONS`] distinct codes
/// of lower-case letters, digits and `_`.
pub fn check_reasons(codes: &[String]) -> Result<(), String> {
    if codes.is_empty() || codes.len() > MAX_REASONS {
        return Err(format!("give 1 to {MAX_REASONS} reason codes"));
    }
    let mut seen = std::collections::HashSet::new();
    for code in codes {
        let ok = !code.is_empty()
            && code.len() <= 40
            && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(format!(
                "{:?} is not a reason code: 1 to 40 lower-case letters, digits or '_'",
                truncate(code, 60)
            ));
        }
        if !seen.insert(code) {
            return Err(format!("{code:?} is listed twice"));
        }
    }
    Ok(())
}

/// The detail a rejection records: the code, then the note when there is one.
pub fn rejection_detail(code: &str, note: Option<&str>) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{code}: {note}"),
        None => code.to_owned(),
    }
}

/// The reason code of a rejection's detail, as [`rejection_detail`] wrote it.
pub fn reason_code(detail: &str) -> &str {
    detail.split_once(": ").map_or(detail, |(code, _)| code).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_keeps_its_code_and_note_and_gives_the_code_back() {
        assert_eq!(rejection_detail("no_budget", Some(" frozen until Q3 ")), "no_budget: frozen until Q3");
        assert_eq!(rejection_detail("no_need", Some("  ")), "no_need");
        assert_eq!(reason_code("no_budget: frozen: really"), "no_budget");
        assert_eq!(reason_code("no_need"), "no_need");
    }

    #[test]
    fn reason_codes_are_checked() {
        let codes = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_reasons(&codes(&DEFAULT_REASONS)).is_ok());
        assert!(check_reasons(&codes(&[])).is_err());
        assert!(check_reasons(&codes(&["No Budget"])).is_err());
        assert!(check_reasons(&codes(&["a", "a"])).is_err());
    }
}
