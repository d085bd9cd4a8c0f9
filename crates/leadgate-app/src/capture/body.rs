//! Reading inquiry bodies: JSON, or the `application/x-www-form-urlencoded` that a
//! plain HTML form posts. Lives here (not in the HTTP layer) because the inbox replays
//! stored raw bodies without any HTTP around them.

use crate::AppError;
use crate::ErrorCode;
use leadgate_core::ident::truncate;
use serde_json::{Map, Value};

/// The body formats an inquiry may use.
pub const ACCEPTED_TYPES: &str = "application/json, application/x-www-form-urlencoded or text/plain (JSON)";

/// Turns a raw body into a map of fields, strictly: invalid UTF-8 or malformed JSON is
/// an error, never silently replaced.
pub fn fields(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, AppError> {
    let mime = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" | "text/plain" => json_object(body),
        "application/x-www-form-urlencoded" => urlencoded(body),
        "" => Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!("a Content-Type header is required: {ACCEPTED_TYPES}"),
        )),
        other => Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!("Content-Type {:?} is not accepted; use {ACCEPTED_TYPES}", truncate(other, 60)),
        )),
    }
}

/// Parses a JSON object, reporting where a syntax error is.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, AppError> {
    match json_value(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(AppError::new(ErrorCode::InvalidJson, "the body must be a JSON object")),
    }
}

pub fn json_value(body: &[u8]) -> Result<Value, AppError> {
    if std::str::from_utf8(body).is_err() {
        return Err(AppError::new(ErrorCode::InvalidEncoding, "the body is not valid UTF-8"));
    }
    serde_json::from_slice(body).map_err(|e| {
        AppError::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {e} (line {}, column {})", e.line(), e.column()),
        )
    })
}

fn urlencoded(body: &[u8]) -> Result<Map<String, Value>, AppError> {
    let mut out: Map<String, Value> = Map::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let key = decode_component(kv.next().unwrap_or_default())?;
        let value = Value::String(decode_component(kv.next().unwrap_or_default())?);
        match out.get_mut(&key) {
            None => {
                out.insert(key, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    Ok(out)
}

/// Decodes one `+`/percent-encoded component, refusing bytes that are not UTF-8.
pub fn decode_component(raw: &[u8]) -> Result<String, AppError> {
    let plus_as_space: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| AppError::new(ErrorCode::InvalidEncoding, "the form data is not valid UTF-8 once decoded"))
}

/// The value of `name` in a query string, if present.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k.as_bytes()).ok()? == name).then(|| decode_component(v.as_bytes()).ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plain_html_form_is_read_with_repeated_fields_as_lists() {
        let f = fields(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"email=ann%40acme.com&name=Ann+Lee&topic=crm&topic=api&note=caf%C3%A9",
        )
        .unwrap();
        assert_eq!(f["email"], json!("ann@acme.com"));
        assert_eq!(f["name"], json!("Ann Lee"));
        assert_eq!(f["topic"], json!(["crm", "api"]));
        assert_eq!(f["note"], json!("café"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_not_replaced() {
        let e = fields(Some("application/x-www-form-urlencoded"), b"email=%FF%FE").unwrap_err();
        assert_eq!(e.code, "invalid_encoding");
        let e = fields(Some("application/json"), b"{\"email\": \"\xff\"}").unwrap_err();
        assert_eq!(e.code, "invalid_encoding");
    }

    #[test]
    fn wrong_or_missing_content_types_are_named() {
        assert_eq!(fields(None, b"{}").unwrap_err().kind(), crate::ErrorKind::UnsupportedMediaType);
        let e = fields(Some("application/xml"), b"<a/>").unwrap_err();
        assert!(e.message.contains("application/xml"), "{}", e.message);
        assert_eq!(fields(Some("application/json"), b"[1]").unwrap_err().code, "invalid_json");
        assert!(fields(Some("application/json"), b"{\"a\":").unwrap_err().message.contains("line 1"));
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(query_param(Some("a=1&form_key=f%5F1"), "form_key").as_deref(), Some("f_1"));
        assert_eq!(query_param(Some("a=1"), "form_key"), None);
        assert_eq!(query_param(None, "form_key"), None);
    }
}
