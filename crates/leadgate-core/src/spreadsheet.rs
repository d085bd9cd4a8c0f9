//! CSV cells safe to open in a spreadsheet. A cell that begins with `=`, `+`, `-`, `@`,
//! a tab or a carriage return is read by spreadsheets as a formula (which may fetch a
//! URL or run a command: "CSV injection"); written with a `'` before it, it is shown as
//! the text it is. A cell that begins with `'` gets one more, so that taking the first
//! `'` off ([`restore`]) gives back exactly what was written; numbers (`-12.50`) are
//! left as they are, since a spreadsheet reads them as the numbers they are.

use std::borrow::Cow;

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn is_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && fraction.is_empty())
}

/// `cell` as it is written to a CSV file meant for people.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('\'') => Cow::Owned(format!("'{cell}")),
        Some(c) if FORMULA_STARTS.contains(&c) && !is_number(cell) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A cell [`neutralise`] wrote, as it was before.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(|c: char| c == '\'' || FORMULA_STARTS.contains(&c)) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formulas_are_written_as_text_and_numbers_as_numbers() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\",\"click\")", "'=HYPERLINK(\"http://x\",\"click\")"),
            ("=1+1", "'=1+1"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'quoted", "''quoted"),
            ("+1 555 0100", "'+1 555 0100"),
            ("-12.50", "-12.50"),
            ("-7", "-7"),
            ("-", "'-"),
            ("-1.", "'-1."),
            ("Ann", "Ann"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
            assert_eq!(restore(written), cell, "{written:?}");
        }
        // A cell of another program that happens to start with `'` is kept.
        assert_eq!(restore("'hello"), "'hello");
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back_exactly(cell in "['=+@\\t\\r-]{0,3}[a-z0-9 .'=-]{0,6}") {
            let written = neutralise(&cell);
            prop_assert_eq!(restore(&written), cell.as_str());
            let first = written.chars().next();
            prop_assert!(first.is_none_or(|c| !FORMULA_STARTS.contains(&c) || is_number(&written)));
        }
    }
}
