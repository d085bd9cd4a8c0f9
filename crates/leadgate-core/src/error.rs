//! A problem with one field of some input, as reported to whoever sent it.

use std::fmt;

/// Every error code leadgate answers with: what API clients program against. The API
/// description lists the same (a test compares them), and an error made with a code
/// not here fails in debug builds, so that none goes undocumented.
pub const CODES: &[&str] = &[
    "already_erased",
    "already_merged",
    "already_processed",
    "already_undone",
    "batch_too_large",
    "body_removed",
    "body_timeout",
    "body_too_large",
    "busy",
    "conflict",
    "cursor_expired",
    "definition_invalid",
    "empty_batch",
    "empty_file",
    "forbidden",
    "future_timestamp",
    "internal",
    "invalid_body",
    "invalid_cursor",
    "invalid_date",
    "invalid_email",
    "invalid_encoding",
    "invalid_event",
    "invalid_expression",
    "invalid_field",
    "invalid_field_name",
    "invalid_id",
    "invalid_identifier",
    "invalid_json",
    "invalid_kind",
    "invalid_limit",
    "invalid_mapping",
    "invalid_model",
    "invalid_name",
    "invalid_note",
    "invalid_origin",
    "invalid_query",
    "invalid_stage",
    "invalid_timestamp",
    "invalid_type",
    "invalid_url",
    "invalid_value",
    "invalid_visitor_id",
    "invalid_wait",
    "legal_hold",
    "mapping_mismatch",
    "merged_since",
    "method_not_allowed",
    "missing_field",
    "missing_file",
    "missing_identity",
    "missing_mapping",
    "no_change",
    "no_features",
    "no_model",
    "no_outcomes",
    "no_valid_events",
    "not_active",
    "not_csv",
    "not_found",
    "not_utf8",
    "one_outcome",
    "origin_not_allowed",
    "rate_limited",
    "reason_required",
    "same_contact",
    "too_few_outcomes",
    "too_long",
    "too_many_fields",
    "training",
    "transition_not_allowed",
    "unauthenticated",
    "unavailable",
    "unknown_api_key",
    "unknown_contact",
    "unknown_definition",
    "unknown_export",
    "unknown_field",
    "unknown_form",
    "unknown_import",
    "unknown_inbox_item",
    "unknown_kind",
    "unknown_merge",
    "unknown_model",
    "unknown_preset",
    "unsupported_media_type",
];

/// Whether `code` is one of [`CODES`].
pub fn is_code(code: &str) -> bool {
    CODES.contains(&code)
}

/// A validation failure: a stable machine-readable `code`, a sentence for a person, and
/// the field it concerns (dotted path, e.g. `source.channel` or `events[3].at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl FieldError {
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        debug_assert!(is_code(code), "the error code {code:?} is not in leadgate_core::error::CODES");
        Self { code, message: message.into(), field: Some(field.into()) }
    }

    /// The same error, reported under `prefix` (e.g. `events[3]`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FieldError {}
