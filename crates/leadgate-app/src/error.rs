//! Errors of the use cases, each with a stable code for API clients.

pub use leadgate_core::{ErrorCode, ErrorKind};
use leadgate_core::{FieldError, Timestamp};
use leadgate_store::StoreError;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// Per-item problems of a batch, when the whole batch was refused.
    pub details: Vec<crate::Rejected>,
    /// Where in a written expression the problem is: 1-based line and column.
    pub position: Option<(u32, u32)>,
    /// For a fault on our side: the id it was logged under, which the answer gives so
    /// that an operator can find the details.
    pub incident: Option<Box<uuid::Uuid>>,
    /// Seconds after which trying again may succeed (rate limits, busy, unavailable).
    pub retry_after: Option<u32>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            details: Vec::new(),
            position: None,
            incident: None,
            retry_after: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same error, reported under `prefix` (`entries[2]`, `line 3`): its field
    /// becomes `entries[2].amount`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }

    /// The kind of failure, which its code decides.
    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }

    fn from_field(e: FieldError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            field: e.field,
            details: Vec::new(),
            position: None,
            incident: None,
            retry_after: None,
        }
    }

    /// Says when trying again may succeed.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// Points at a line and column of the expression the error is about.
    pub fn at(mut self, line: Option<u32>, column: Option<u32>) -> Self {
        if let (Some(l), Some(c)) = (line, column) {
            self.position = Some((l, c));
        }
        self
    }
}

/// A value of the request is wrong: `field` names it.
pub(crate) fn invalid(code: ErrorCode, field: &str, message: impl Into<String>) -> AppError {
    AppError::new(code, message).field(field)
}

/// `2026-01-01` (midnight UTC) or an RFC 3339 instant.
pub(crate) fn date(s: &str, field: &str) -> Result<Timestamp, AppError> {
    let s = s.trim();
    Timestamp::parse_rfc3339(s).or_else(|| Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z"))).ok_or_else(|| {
        invalid(ErrorCode::InvalidDate, field, format!("{field} must be a date (2026-01-01) or an RFC 3339 instant"))
    })
}

/// An optional text field: trimmed, blank as none, at most `max` characters and no
/// control characters.
pub(crate) fn optional_text(v: &Option<String>, field: &str, max: usize) -> Result<Option<String>, AppError> {
    let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if v.is_some_and(|s| s.chars().count() > max) {
        return Err(invalid(ErrorCode::TooLong, field, format!("{field} is longer than {max} characters")));
    }
    if v.is_some_and(leadgate_core::inquiry::has_control_chars) {
        return Err(invalid(ErrorCode::InvalidValue, field, format!("{field} contains control characters")));
    }
    Ok(v.map(str::to_owned))
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for AppError {}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        Self::from_field(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        // Details go to the log, not to the client.
        match e {
            StoreError::Conflict(_) => {
                tracing::info!(error = %e, "store conflict");
                AppError::new(ErrorCode::Conflict, "a concurrent change got there first; try again")
            }
            // Retried already where it can happen (`crate::retry`); still failing, it is
            // the load, and the client may try again.
            StoreError::Contention(_) => {
                tracing::warn!(error = %e, "transaction aborted by the database after retries");
                AppError::new(ErrorCode::Unavailable, "the database is busy; try again shortly")
            }
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "store unavailable");
                AppError::new(ErrorCode::Unavailable, "the database is unavailable; try again shortly")
            }
            StoreError::Corrupt(_)
            | StoreError::Database(_)
            | StoreError::Sqlite(_)
            | StoreError::Migrate(_)
            | StoreError::InvalidUrl(_) => {
                let incident = uuid::Uuid::now_v7();
                tracing::error!(error_id = %incident, error = %e, "store error");
                AppError {
                    incident: Some(Box::new(incident)),
                    ..AppError::new(
                        ErrorCode::Internal,
                        format!("an unexpected database error occurred; it has been logged with the id {incident}"),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the client is told of each kind of store failure: a conflict and the load
    /// are for retrying, a fault is logged under an id the answer gives, and no
    /// database message reaches the client.
    #[test]
    fn store_failures_are_answered_by_what_the_client_can_do() {
        let secret = "duplicate key value violates unique constraint \"contacts_email_key\"";
        let cases = [
            (StoreError::Conflict(secret.into()), ErrorCode::Conflict, 409),
            (StoreError::Contention(secret.into()), ErrorCode::Unavailable, 503),
            (StoreError::Unavailable(secret.into()), ErrorCode::Unavailable, 503),
            (StoreError::Corrupt(secret.into()), ErrorCode::Internal, 500),
        ];
        for (store_error, code, status) in cases {
            let e = AppError::from(store_error);
            assert_eq!((e.code, e.code.status()), (code, status));
            assert!(!e.message.contains("contacts_email_key"), "{}", e.message);
            assert_eq!(e.incident.is_some(), code == ErrorCode::Internal);
        }
    }
}
