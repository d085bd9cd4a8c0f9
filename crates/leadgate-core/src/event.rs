//! Activity events: page views, email opens and clicks, downloads, meetings…

use crate::ErrorCode;
use crate::ident::truncate;
use crate::{Email, FieldError, Ident, Timestamp};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Event kinds leadgate knows by name. Any other identifier is accepted as a custom kind;
/// a kind that is not an identifier is refused.
pub const KNOWN_EVENT_KINDS: &[&str] = &[
    "page_view",
    "email_open",
    "email_click",
    "download",
    "webinar_registered",
    "webinar_attended",
    "proposal_requested",
    "meeting",
    "call",
    "form_view",
    "pricing_view",
    "demo_request",
    "trial_signup",
    "unsubscribe",
];

/// Events may be at most this far in the future, to tolerate clock skew between servers.
pub const FUTURE_SKEW_MICROS: i64 = 5 * 60 * 1_000_000;
/// Events before 1990 are certainly a unit mistake (seconds taken for milliseconds…).
pub const EARLIEST_EVENT: Timestamp = Timestamp(631_152_000_000_000);
pub const URL_MAX: usize = 2_048;
pub const PROPS_MAX_BYTES: usize = 16 * 1024;
pub const VISITOR_ID_MAX: usize = 128;

/// One event as sent to `POST /v1/events`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub contact_id: Option<Uuid>,
    pub email: Option<Email>,
    pub visitor_id: Option<String>,
    pub kind: Ident,
    pub at: Timestamp,
    pub url: Option<String>,
    /// A JSON object (possibly empty).
    pub props: Value,
}

/// Validates one event. `now` fills a missing `at` and bounds a future one.
pub fn parse_event(input: &Value, now: Timestamp) -> Result<NewEvent, FieldError> {
    let obj = input.as_object().ok_or_else(|| FieldError {
        code: ErrorCode::InvalidEvent,
        message: "an event must be a JSON object".into(),
        field: None,
    })?;
    for key in obj.keys() {
        if !["email", "contact_id", "visitor_id", "kind", "at", "url", "props"].contains(&key.as_str()) {
            return Err(FieldError::new(
                ErrorCode::UnknownField,
                key.as_str(),
                format!("unknown field {:?}; put custom data under \"props\"", truncate(key, 40)),
            ));
        }
    }
    let email = opt_str(obj, "email")?.map(|s| Email::field(s, "email")).transpose()?;
    let contact_id = opt_str(obj, "contact_id")?
        .map(|s| {
            Uuid::parse_str(s)
                .map_err(|_| FieldError::new(ErrorCode::InvalidId, "contact_id", "contact_id is not a valid id"))
        })
        .transpose()?;
    let visitor_id = opt_str(obj, "visitor_id")?.map(|s| parse_visitor_id(s, "visitor_id")).transpose()?;
    if email.is_none() && contact_id.is_none() && visitor_id.is_none() {
        return Err(FieldError::new(
            ErrorCode::MissingIdentity,
            "email",
            "an event needs an email, a contact_id or a visitor_id",
        ));
    }
    let kind = match opt_str(obj, "kind")? {
        Some(k) => Ident::field(k, "kind", "kind")?,
        None => return Err(FieldError::new(ErrorCode::MissingField, "kind", "kind is required (e.g. page_view)")),
    };
    let at = match opt_str(obj, "at")? {
        None => now,
        Some(s) => parse_instant(s, "at", now)?,
    };
    let url = opt_str(obj, "url")?.map(str::to_owned);
    if url.as_ref().is_some_and(|u| u.len() > URL_MAX) {
        return Err(FieldError::new(ErrorCode::TooLong, "url", format!("url is longer than {URL_MAX} bytes")));
    }
    if url.as_ref().is_some_and(|u| u.chars().any(char::is_control)) {
        return Err(FieldError::new(ErrorCode::InvalidValue, "url", "url contains control characters"));
    }
    let props = match obj.get("props") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > PROPS_MAX_BYTES {
                return Err(FieldError::new(
                    ErrorCode::TooLong,
                    "props",
                    format!("props is larger than {PROPS_MAX_BYTES} bytes"),
                ));
            }
            // NUL cannot be stored as text by PostgreSQL; JSON writes it as \u0000.
            if text.contains("\\u0000") {
                return Err(FieldError::new(ErrorCode::InvalidValue, "props", "props contains a NUL character"));
            }
            v.clone()
        }
        Some(_) => return Err(FieldError::new(ErrorCode::InvalidType, "props", "props must be a JSON object")),
    };
    Ok(NewEvent { contact_id, email, visitor_id, kind, at, url, props })
}

/// An instant given by a client: RFC 3339, not in the future beyond clock skew, not
/// absurdly old.
pub fn parse_instant(s: &str, field: &str, now: Timestamp) -> Result<Timestamp, FieldError> {
    let at = Timestamp::parse_rfc3339(s).ok_or_else(|| {
        FieldError::new(
            ErrorCode::InvalidTimestamp,
            field,
            format!("{field} must be an RFC 3339 instant such as 2026-03-01T10:05:00Z; got {:?}", truncate(s, 60)),
        )
    })?;
    if at > now.plus_micros(FUTURE_SKEW_MICROS) {
        return Err(FieldError::new(ErrorCode::FutureTimestamp, field, format!("{field} is in the future ({at})")));
    }
    if at < EARLIEST_EVENT {
        return Err(FieldError::new(ErrorCode::InvalidTimestamp, field, format!("{field} is before 1990 ({at})")));
    }
    Ok(at)
}

/// A visitor id set by our tracking snippet or the company's site.
pub fn parse_visitor_id(s: &str, field: &str) -> Result<String, FieldError> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= VISITOR_ID_MAX
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            ErrorCode::InvalidVisitorId,
            field,
            format!("{field} must be 1 to {VISITOR_ID_MAX} letters, digits, '-', '_', '.' or ':'"),
        ))
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(ErrorCode::InvalidType, key, format!("{key} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Timestamp = Timestamp(1_790_000_000_000_000);

    #[test]
    fn a_minimal_event_takes_now() {
        let e = parse_event(&json!({"email": "Ann@Acme.com", "kind": "page_view"}), NOW).unwrap();
        assert_eq!(e.at, NOW);
        assert_eq!(e.email.unwrap().as_str(), "ann@acme.com");
        assert_eq!(e.props, json!({}));
    }

    #[test]
    fn bad_events_name_their_field() {
        let cases = [
            (json!({"kind": "page_view"}), "missing_identity", "email"),
            (json!({"email": "x@acme.com"}), "missing_field", "kind"),
            (json!({"email": "x@acme.com", "kind": "Page View!"}), "invalid_identifier", "kind"),
            (json!({"email": "x@acme.com", "kind": "page_view", "at": "tuesday"}), "invalid_timestamp", "at"),
            (
                json!({"email": "x@acme.com", "kind": "page_view", "at": "2099-01-01T00:00:00Z"}),
                "future_timestamp",
                "at",
            ),
            (json!({"email": "x@acme.com", "kind": "page_view", "props": [1]}), "invalid_type", "props"),
            (json!({"email": "x@acme.com", "kind": "page_view", "colour": "red"}), "unknown_field", "colour"),
            (json!({"contact_id": "42", "kind": "page_view"}), "invalid_id", "contact_id"),
            (json!({"visitor_id": "a b", "kind": "page_view"}), "invalid_visitor_id", "visitor_id"),
            (json!({"email": 7, "kind": "page_view"}), "invalid_type", "email"),
            (
                json!({"email": "x@acme.com", "kind": "page_view", "url": "https://a.example/\u{0}"}),
                "invalid_value",
                "url",
            ),
            (json!({"email": "x@acme.com", "kind": "page_view", "props": {"k": "a\u{0}b"}}), "invalid_value", "props"),
        ];
        for (input, code, field) in cases {
            let err = parse_event(&input, NOW).unwrap_err();
            assert_eq!((err.code.as_str(), err.field.as_deref()), (code, Some(field)), "{input}");
        }
    }

    #[test]
    fn custom_kinds_are_accepted_when_they_are_identifiers() {
        let e = parse_event(&json!({"visitor_id": "v-1", "kind": "roi_calculator_used"}), NOW).unwrap();
        assert_eq!(e.kind.as_str(), "roi_calculator_used");
        assert!(!KNOWN_EVENT_KINDS.contains(&e.kind.as_str()));
    }
}
