//! How a command that failed ends: one line on stderr saying what to fix, never a
//! backtrace, and an exit status that tells a script whose the problem is (the values
//! of sysexits.h):
//!
//! - 2: the command was given wrongly (a flag, its value, the configuration);
//! - 65: the data it was given is wrong (a file, a mapping, a name or id that does not
//!   exist, a value the use case refuses);
//! - 1: anything else (the database unreachable, a disk full, a fault).

use leadgate_app::{AppError, ErrorKind};
use std::fmt;

pub(crate) const USAGE: u8 = 2;
pub(crate) const BAD_INPUT: u8 = 65;
pub(crate) const OTHER: u8 = 1;

/// A failure whose exit status is known where it happens.
#[derive(Debug)]
pub(crate) struct Failure {
    status: u8,
    message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub(crate) fn usage(message: impl fmt::Display) -> anyhow::Error {
    Failure { status: USAGE, message: message.to_string() }.into()
}

pub(crate) fn bad_input(message: impl fmt::Display) -> anyhow::Error {
    Failure { status: BAD_INPUT, message: message.to_string() }.into()
}

/// A use case's refusal, as a person at the command line reads it: its message, and the
/// status its kind calls for.
pub(crate) fn app(e: AppError) -> anyhow::Error {
    // The field says where: `line 3.amount` of a file, `group_by` of a report.
    let message = match &e.field {
        Some(field) => format!("{field}: {}", e.message),
        None => e.message.clone(),
    };
    Failure { status: status_of_kind(e.kind()), message }.into()
}

fn status_of_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Malformed
        | ErrorKind::Invalid
        | ErrorKind::NotFound
        | ErrorKind::Gone
        | ErrorKind::Conflict
        | ErrorKind::UnsupportedMediaType
        | ErrorKind::TooLarge => BAD_INPUT,
        ErrorKind::Unauthenticated
        | ErrorKind::Forbidden
        | ErrorKind::MethodNotAllowed
        | ErrorKind::Timeout
        | ErrorKind::RateLimited
        | ErrorKind::Busy
        | ErrorKind::Unavailable
        | ErrorKind::Internal => OTHER,
    }
}

/// The exit status for `e`: the first cause that knows it, else [`OTHER`].
pub(crate) fn status(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|cause| {
            if let Some(f) = cause.downcast_ref::<Failure>() {
                Some(f.status)
            } else {
                cause.downcast_ref::<AppError>().map(|a| status_of_kind(a.kind()))
            }
        })
        .unwrap_or(OTHER)
}

/// `e` and its causes on one line, the way `anyhow` joins them with `{:#}`.
pub(crate) fn line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use leadgate_app::ErrorCode;

    #[test]
    fn the_status_is_found_under_the_context_added_on_the_way() {
        let e = Err::<(), _>(bad_input("the file has no column \"email\""))
            .context("data.csv was not imported")
            .unwrap_err();
        assert_eq!(status(&e), BAD_INPUT);
        assert_eq!(line(&e), "data.csv was not imported: the file has no column \"email\"");
        let unknown = AppError::new(ErrorCode::NotFound, "no contact has this email");
        assert_eq!(status(&anyhow::Error::from(unknown.clone())), BAD_INPUT, "an AppError passed on with ?");
        assert_eq!(status(&app(unknown)), BAD_INPUT);
        let down = AppError::new(ErrorCode::Unavailable, "the database is unavailable");
        assert_eq!(status(&app(down)), OTHER);
        assert_eq!(status(&anyhow::anyhow!("disk full")), OTHER);
        assert_eq!(status(&usage("give ids or --all")), USAGE);
    }
}
