//! A problem with one field of some input, as reported to whoever sent it.

use std::fmt;

/// The broad kind of a failure; each has one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request could not be read at all (malformed JSON, bad encoding).
    Malformed,
    /// The request was read but a value is wrong or missing.
    Invalid,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// What was asked for existed once and was removed (a change feed cursor whose
    /// entries were pruned).
    Gone,
    Conflict,
    UnsupportedMediaType,
    TooLarge,
    /// The request took too long to arrive (its body, sent too slowly).
    Timeout,
    /// The caller sent too many requests of this kind; try again later.
    RateLimited,
    /// The server is doing as much of this kind of work as it may at once; try again
    /// later.
    Busy,
    /// The database is unreachable or overloaded; try again.
    Unavailable,
    /// A fault on our side that retrying will not fix (logged with its details).
    Internal,
}

impl ErrorKind {
    /// The HTTP status an error of this kind is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Malformed => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Timeout => 408,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::TooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::Invalid => 422,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Busy | ErrorKind::Unavailable => 503,
        }
    }

    /// Whether trying again later may succeed (the answer says when, in `Retry-After`).
    pub fn retry_later(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Busy | ErrorKind::Unavailable)
    }
}

/// One table gives every code its name on the wire and its kind, so that a code cannot
/// be answered with two statuses.
macro_rules! error_codes {
    ($($variant:ident = $text:literal => $kind:ident,)*) => {
        /// Every error code leadgate answers with: what API clients program against.
        /// The API description lists each with its status (a test compares them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as API clients see it, e.g. `invalid_email`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }

            pub fn kind(self) -> ErrorKind {
                match self {
                    $(ErrorCode::$variant => ErrorKind::$kind,)*
                }
            }
        }
    };
}

error_codes! {
    AlreadyErased = "already_erased" => Conflict,
    AlreadyHandled = "already_handled" => Conflict,
    AlreadyMerged = "already_merged" => Conflict,
    AlreadyProcessed = "already_processed" => Conflict,
    AlreadyUndone = "already_undone" => Conflict,
    BatchTooLarge = "batch_too_large" => Invalid,
    BodyRemoved = "body_removed" => Conflict,
    BodyTimeout = "body_timeout" => Timeout,
    BodyTooLarge = "body_too_large" => TooLarge,
    Busy = "busy" => Busy,
    Conflict = "conflict" => Conflict,
    CurrencyInUse = "currency_in_use" => Conflict,
    CurrencyMismatch = "currency_mismatch" => Invalid,
    CursorExpired = "cursor_expired" => Gone,
    DefinitionInvalid = "definition_invalid" => Conflict,
    EmptyBatch = "empty_batch" => Invalid,
    EmptyFile = "empty_file" => Invalid,
    Forbidden = "forbidden" => Forbidden,
    FutureTimestamp = "future_timestamp" => Invalid,
    Internal = "internal" => Internal,
    InvalidBody = "invalid_body" => Malformed,
    InvalidCalendar = "invalid_calendar" => Invalid,
    InvalidCursor = "invalid_cursor" => Invalid,
    InvalidDate = "invalid_date" => Invalid,
    InvalidEmail = "invalid_email" => Invalid,
    InvalidEncoding = "invalid_encoding" => Malformed,
    InvalidEvent = "invalid_event" => Invalid,
    InvalidExpression = "invalid_expression" => Invalid,
    InvalidField = "invalid_field" => Invalid,
    InvalidFieldName = "invalid_field_name" => Invalid,
    InvalidId = "invalid_id" => Invalid,
    InvalidIdentifier = "invalid_identifier" => Invalid,
    InvalidJson = "invalid_json" => Malformed,
    InvalidKind = "invalid_kind" => Invalid,
    InvalidLimit = "invalid_limit" => Invalid,
    InvalidMapping = "invalid_mapping" => Invalid,
    InvalidModel = "invalid_model" => Invalid,
    InvalidName = "invalid_name" => Invalid,
    InvalidNote = "invalid_note" => Invalid,
    InvalidOrigin = "invalid_origin" => Invalid,
    InvalidQuery = "invalid_query" => Invalid,
    InvalidReason = "invalid_reason" => Invalid,
    InvalidRouting = "invalid_routing" => Invalid,
    InvalidStage = "invalid_stage" => Invalid,
    InvalidTimestamp = "invalid_timestamp" => Invalid,
    InvalidType = "invalid_type" => Invalid,
    InvalidUrl = "invalid_url" => Invalid,
    InvalidValue = "invalid_value" => Invalid,
    InvalidVisitorId = "invalid_visitor_id" => Invalid,
    InvalidWait = "invalid_wait" => Invalid,
    LegalHold = "legal_hold" => Conflict,
    MappingMismatch = "mapping_mismatch" => Invalid,
    MergedSince = "merged_since" => Conflict,
    MethodNotAllowed = "method_not_allowed" => MethodNotAllowed,
    MissingField = "missing_field" => Invalid,
    MissingFile = "missing_file" => Invalid,
    MissingIdentity = "missing_identity" => Invalid,
    MissingMapping = "missing_mapping" => Invalid,
    NoChange = "no_change" => Conflict,
    NoFeatures = "no_features" => Invalid,
    NoModel = "no_model" => NotFound,
    NoOutcomes = "no_outcomes" => Invalid,
    NoValidEvents = "no_valid_events" => Invalid,
    NotActive = "not_active" => Conflict,
    NotCsv = "not_csv" => Invalid,
    NotInQueue = "not_in_queue" => Conflict,
    NotFound = "not_found" => NotFound,
    NotUtf8 = "not_utf8" => Invalid,
    OneOutcome = "one_outcome" => Invalid,
    OriginNotAllowed = "origin_not_allowed" => Forbidden,
    RateLimited = "rate_limited" => RateLimited,
    ReasonRequired = "reason_required" => Invalid,
    SameContact = "same_contact" => Invalid,
    TooFewOutcomes = "too_few_outcomes" => Invalid,
    TooLong = "too_long" => Invalid,
    TooManyFields = "too_many_fields" => Invalid,
    Training = "training" => Conflict,
    Unauthenticated = "unauthenticated" => Unauthenticated,
    Unavailable = "unavailable" => Unavailable,
    UnknownApiKey = "unknown_api_key" => NotFound,
    UnknownContact = "unknown_contact" => NotFound,
    UnknownDefinition = "unknown_definition" => NotFound,
    UnknownExport = "unknown_export" => NotFound,
    UnknownField = "unknown_field" => Invalid,
    UnknownForm = "unknown_form" => NotFound,
    UnknownImport = "unknown_import" => NotFound,
    UnknownInboxItem = "unknown_inbox_item" => NotFound,
    UnknownKind = "unknown_kind" => Invalid,
    UnknownMerge = "unknown_merge" => NotFound,
    UnknownModel = "unknown_model" => NotFound,
    UnknownPreset = "unknown_preset" => Invalid,
    UnknownQueue = "unknown_queue" => NotFound,
    UnknownSpend = "unknown_spend" => NotFound,
    UnknownTeam = "unknown_team" => Invalid,
    UnknownUser = "unknown_user" => NotFound,
    UnsupportedMediaType = "unsupported_media_type" => UnsupportedMediaType,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        self.kind().status()
    }

    /// The code with this name, if there is one.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let list: Vec<String> = ErrorCode::ALL.iter().map(|c| format!("`{}` ({})", c.as_str(), c.status())).collect();
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "A stable, machine-readable code; each is answered with one HTTP status: {}.",
                list.join(", ")
            )))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A validation failure: a stable machine-readable `code`, a sentence for a person, and
/// the field it concerns (dotted path, e.g. `source.channel` or `events[3].at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl FieldError {
    pub fn new(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
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
