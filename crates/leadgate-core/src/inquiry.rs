//! Inquiries: a response the contact chose to make, as posted by a web form or an API.
//!
//! Input arrives as a flat or nested map of fields (JSON, or a plain HTML form). Known
//! fields are validated; everything else is kept as custom fields, so nothing a form
//! asks for is lost.

use crate::ErrorCode;
use crate::ident::truncate;
use crate::response::{Direction, ObtainedVia, Source};
use crate::{Email, FieldError, Ident};
use serde_json::{Map, Value};

/// The hidden field that people never see and bots fill in.
pub const HONEYPOT_FIELD: &str = "_gotcha";
pub const CUSTOM_FIELDS_MAX: usize = 50;
pub const CUSTOM_VALUE_MAX: usize = 2_000;
pub const NAME_MAX: usize = 200;
pub const MESSAGE_MAX: usize = 10_000;

/// A validated inquiry, before it is matched to a contact.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inquiry {
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub message: Option<String>,
    pub visitor_id: Option<String>,
    pub action: Option<Ident>,
    pub offer: Option<String>,
    pub source: Source,
    pub direction: Option<Direction>,
    pub obtained_via: Option<ObtainedVia>,
    /// Every field the form sent that leadgate does not know by name.
    pub custom: Map<String, Value>,
    pub honeypot_filled: bool,
    /// What the person asked us not to do (an unsubscribe or do-not-call box).
    pub opt_out: OptOut,
    /// What the form said of consent, by purpose (`consent.newsletter=no`): a public
    /// form can withdraw consent, never give it (see `capture::plan`).
    pub consent: Vec<(Ident, bool)>,
}

/// Ways of being reached the person asked us not to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptOut {
    pub email: bool,
    pub call: bool,
}

impl Inquiry {
    pub fn new(email: Email) -> Self {
        Self { email: Some(email), ..Self::default() }
    }

    pub fn with_message(mut self, m: &str) -> Self {
        self.message = Some(m.to_owned());
        self
    }

    pub fn email(&self) -> &Email {
        self.email.as_ref().expect("parse guarantees an email")
    }
}

const SOURCE_KEYS: [&str; 5] = ["channel", "campaign", "placement", "referrer", "vendor"];

/// Validates the fields of one inquiry. The first problem found is returned, naming its
/// field. Keys starting with `_` are control fields and never stored, and `form_key`
/// names the form rather than describing the person.
pub fn parse(fields: &Map<String, Value>) -> Result<Inquiry, FieldError> {
    let mut q = Inquiry::default();
    let mut source: Map<String, Value> = Map::new();
    for (key, value) in fields {
        let key = key.as_str();
        if let Some(inner) =
            key.strip_prefix("source.").or_else(|| key.strip_prefix("source[").and_then(|k| k.strip_suffix(']')))
        {
            source.insert(inner.to_owned(), value.clone());
            continue;
        }
        if let Some(purpose) =
            key.strip_prefix("consent.").or_else(|| key.strip_prefix("consent[").and_then(|k| k.strip_suffix(']')))
        {
            let purpose = Ident::field(purpose, key, "purpose")?;
            if let Some(given) = flag(value, key)? {
                q.consent.push((purpose, given));
            }
            continue;
        }
        match key {
            HONEYPOT_FIELD => q.honeypot_filled = !is_blank(value),
            "form_key" => {}
            k if k.starts_with('_') => {}
            "email" => {
                let s = text(value, "email", 400)?.unwrap_or_default();
                q.email = Some(Email::field(&s, "email")?);
            }
            "first_name" => q.first_name = text(value, key, NAME_MAX)?,
            "last_name" => q.last_name = text(value, key, NAME_MAX)?,
            "name" => {
                if let Some(full) = text(value, key, NAME_MAX)? {
                    let (first, last) = full.split_once(' ').unwrap_or((&full, ""));
                    q.first_name.get_or_insert_with(|| first.trim().to_owned());
                    if !last.trim().is_empty() {
                        q.last_name.get_or_insert_with(|| last.trim().to_owned());
                    }
                }
            }
            "do_not_email" | "unsubscribe" => q.opt_out.email |= flag(value, key)?.unwrap_or(false),
            "do_not_call" => q.opt_out.call |= flag(value, key)?.unwrap_or(false),
            "company" => q.company = text(value, key, NAME_MAX)?,
            "title" => q.title = text(value, key, NAME_MAX)?,
            "phone" => q.phone = text(value, key, 50)?,
            "country" => q.country = text(value, key, 100)?,
            "message" => q.message = text(value, key, MESSAGE_MAX)?,
            "visitor_id" => {
                q.visitor_id = text(value, key, 400)?.map(|v| crate::event::parse_visitor_id(&v, key)).transpose()?
            }
            "action" => q.action = text(value, key, 100)?.map(|a| Ident::field(&a, key, "action")).transpose()?,
            "offer" => q.offer = text(value, key, NAME_MAX)?,
            "direction" => {
                q.direction = text(value, key, 20)?
                    .map(|d| {
                        Direction::parse(&d).ok_or_else(|| {
                            FieldError::new(ErrorCode::InvalidValue, key, "direction must be inbound or outbound")
                        })
                    })
                    .transpose()?
            }
            "obtained_via" => {
                q.obtained_via = text(value, key, 40)?
                    .map(|d| {
                        ObtainedVia::parse(&d).ok_or_else(|| {
                            let all: Vec<_> = ObtainedVia::ALL.iter().map(|v| v.as_str()).collect();
                            FieldError::new(
                                ErrorCode::InvalidValue,
                                key,
                                format!("obtained_via must be one of {}", all.join(", ")),
                            )
                        })
                    })
                    .transpose()?
            }
            "source" => match value {
                Value::Object(m) => source.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                Value::Null => {}
                _ => return Err(FieldError::new(ErrorCode::InvalidType, "source", "source must be an object")),
            },
            k if SOURCE_KEYS.contains(&k) => {
                source.entry(k.to_owned()).or_insert_with(|| value.clone());
            }
            "utm_campaign" => {
                source.entry("campaign".to_owned()).or_insert_with(|| value.clone());
                custom(&mut q.custom, key, value)?;
            }
            // `topics[]`, as HTML forms name multi-valued fields.
            k if k.ends_with("[]") => custom(&mut q.custom, &k[..k.len() - 2], value)?,
            _ => custom(&mut q.custom, key, value)?,
        }
    }
    if q.email.is_none() {
        return Err(FieldError::new(ErrorCode::MissingField, "email", "email is required"));
    }
    q.source = parse_source(&source)?;
    Ok(q)
}

fn parse_source(m: &Map<String, Value>) -> Result<Source, FieldError> {
    let mut s = Source::default();
    for (k, v) in m {
        let field = format!("source.{k}");
        match k.as_str() {
            "channel" => s.channel = text(v, &field, 100)?.map(|c| Ident::field(&c, &field, "channel")).transpose()?,
            "campaign" => s.campaign = text(v, &field, NAME_MAX)?,
            "placement" => s.placement = text(v, &field, NAME_MAX)?,
            "referrer" => s.referrer = text(v, &field, 2_048)?,
            "vendor" => s.vendor = text(v, &field, NAME_MAX)?,
            _ => {
                return Err(FieldError::new(
                    ErrorCode::UnknownField,
                    field,
                    format!("source has no field {:?}; it takes {}", truncate(k, 40), SOURCE_KEYS.join(", ")),
                ));
            }
        }
    }
    Ok(s)
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.iter().all(is_blank),
        _ => false,
    }
}

/// A text field: strings as given (trimmed; blank means absent), numbers as their text.
fn text(v: &Value, field: &str, max: usize) -> Result<Option<String>, FieldError> {
    let s = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) if a.len() == 1 => return text(&a[0], field, max),
        _ => return Err(FieldError::new(ErrorCode::InvalidType, field, format!("{field} must be a string"))),
    };
    if s.chars().count() > max {
        return Err(FieldError::new(ErrorCode::TooLong, field, format!("{field} is longer than {max} characters")));
    }
    if has_control_chars(&s) {
        return Err(FieldError::new(ErrorCode::InvalidValue, field, format!("{field} contains control characters")));
    }
    Ok((!s.is_empty()).then_some(s))
}

/// A yes or no as forms send it: a JSON boolean, `1`/`0`, or the text `true`, `yes`,
/// `on`, `1` (a ticked checkbox) or `false`, `no`, `off`, `0`; blank is no answer.
fn flag(v: &Value, field: &str) -> Result<Option<bool>, FieldError> {
    let refused =
        || FieldError::new(ErrorCode::InvalidValue, field, format!("{field} must be yes or no (true or false)"));
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Ok(Some(true)),
            Some(0) => Ok(Some(false)),
            _ => Err(refused()),
        },
        Value::Array(a) if a.len() == 1 => flag(&a[0], field),
        Value::Null => Ok(None),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "yes" | "on" | "1" => Ok(Some(true)),
            "false" | "no" | "off" | "0" => Ok(Some(false)),
            _ => Err(refused()),
        },
        _ => Err(refused()),
    }
}

/// Control characters other than line breaks and tabs (NUL above all, which PostgreSQL
/// cannot store in text).
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}

fn custom(into: &mut Map<String, Value>, key: &str, value: &Value) -> Result<(), FieldError> {
    let key_ok =
        !key.is_empty() && key.len() <= 64 && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c));
    if !key_ok {
        return Err(FieldError::new(
            ErrorCode::InvalidFieldName,
            truncate(key, 64),
            "custom field names are 1 to 64 letters, digits, spaces, '_', '-' or '.'",
        ));
    }
    let scalar_ok = |v: &Value| match v {
        Value::String(s) => s.chars().count() <= CUSTOM_VALUE_MAX && !has_control_chars(s),
        Value::Number(_) | Value::Bool(_) | Value::Null => true,
        _ => false,
    };
    let ok = match value {
        Value::Array(items) => items.len() <= 100 && items.iter().all(scalar_ok),
        v => scalar_ok(v),
    };
    if !ok {
        return Err(FieldError::new(
            ErrorCode::InvalidValue,
            key,
            format!(
                "custom field {key} must be text (at most {CUSTOM_VALUE_MAX} characters), a number, a boolean or a list of them"
            ),
        ));
    }
    if is_blank(value) {
        return Ok(());
    }
    if into.len() >= CUSTOM_FIELDS_MAX {
        return Err(FieldError::new(
            ErrorCode::TooManyFields,
            key,
            format!("at most {CUSTOM_FIELDS_MAX} custom fields"),
        ));
    }
    into.insert(key.to_owned(), value.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<Inquiry, FieldError> {
        parse(v.as_object().unwrap())
    }

    #[test]
    fn known_fields_custom_fields_and_source_in_either_shape() {
        let q = parse_json(json!({
            "email": " Ann@ACME.com ", "name": "Ann Lee", "company": "Acme",
            "source": {"channel": "Paid Search", "campaign": "q3-whitepaper"},
            "vendor": "TechLeads", "team_size": 40, "interests": ["crm", "api"], "_gotcha": ""
        }))
        .unwrap();
        assert_eq!(q.email().as_str(), "ann@acme.com");
        assert_eq!((q.first_name.as_deref(), q.last_name.as_deref()), (Some("Ann"), Some("Lee")));
        assert_eq!(q.source.channel.as_ref().unwrap().as_str(), "paid_search");
        assert_eq!(q.source.vendor.as_deref(), Some("TechLeads"));
        assert_eq!(q.custom.get("team_size"), Some(&json!(40)));
        assert_eq!(q.custom.get("interests"), Some(&json!(["crm", "api"])));
        assert!(!q.custom.contains_key("_gotcha") && !q.honeypot_filled);

        let flat =
            parse_json(json!({"email": "a@b.co", "source[channel]": "referral", "source.campaign": "x"})).unwrap();
        assert_eq!(flat.source.channel.unwrap().as_str(), "referral");
        assert_eq!(flat.source.campaign.as_deref(), Some("x"));
    }

    #[test]
    fn injection_strings_are_kept_literally() {
        let q = parse_json(json!({"email": "a@b.co", "company": "Robert'); DROP TABLE contacts;--",
                                  "message": "<script>alert(1)</script>"}))
        .unwrap();
        assert_eq!(q.company.as_deref(), Some("Robert'); DROP TABLE contacts;--"));
        assert_eq!(q.message.as_deref(), Some("<script>alert(1)</script>"));
    }

    #[test]
    fn bad_inquiries_name_their_field() {
        let cases = [
            (json!({}), "missing_field", "email"),
            (json!({"email": ""}), "invalid_email", "email"),
            (json!({"email": "not-an-email"}), "invalid_email", "email"),
            (json!({"email": {"a": 1}}), "invalid_type", "email"),
            (json!({"email": "a@b.co", "first_name": "x".repeat(201)}), "too_long", "first_name"),
            (json!({"email": "a@b.co", "source": {"colour": "red"}}), "unknown_field", "source.colour"),
            (json!({"email": "a@b.co", "channel": "<b>bold</b>"}), "invalid_identifier", "source.channel"),
            (json!({"email": "a@b.co", "direction": "sideways"}), "invalid_value", "direction"),
            (json!({"email": "a@b.co", "nested": {"deep": true}}), "invalid_value", "nested"),
            (json!({"email": "a@b.co", "first_name": "a\u{0}b"}), "invalid_value", "first_name"),
            (json!({"email": "a@b.co", "bad<key>": "x"}), "invalid_field_name", "bad<key>"),
            (json!({"email": "a@b.co", "note": "a\u{0}b"}), "invalid_value", "note"),
        ];
        let mut crowded = json!({"email": "a@b.co"});
        for i in 0..=CUSTOM_FIELDS_MAX {
            crowded[format!("field {i:02}")] = json!("x");
        }
        let too_many = (crowded, "too_many_fields", "field 50");
        for (input, code, field) in cases.into_iter().chain([too_many]) {
            let err = parse_json(input.clone()).unwrap_err();
            assert_eq!((err.code.as_str(), err.field.as_deref()), (code, Some(field)), "{input}");
        }
    }

    #[test]
    fn opt_outs_and_consent_are_read_as_yes_or_no() {
        let q = parse_json(json!({"email": "a@b.co", "unsubscribe": "on", "do_not_call": "no",
                                  "consent.newsletter": "false", "consent[events]": true}))
        .unwrap();
        assert_eq!(q.opt_out, OptOut { email: true, call: false });
        let mut consent: Vec<(&str, bool)> = q.consent.iter().map(|(p, g)| (p.as_str(), *g)).collect();
        consent.sort();
        assert_eq!(consent, [("events", true), ("newsletter", false)]);
        assert!(q.custom.is_empty(), "{:?}", q.custom);
        let err = parse_json(json!({"email": "a@b.co", "do_not_email": "maybe"})).unwrap_err();
        assert_eq!((err.code.as_str(), err.field.as_deref()), ("invalid_value", Some("do_not_email")));
        let err = parse_json(json!({"email": "a@b.co", "consent.<b>": "no"})).unwrap_err();
        assert_eq!((err.code.as_str(), err.field.as_deref()), ("invalid_identifier", Some("consent.<b>")));
    }

    #[test]
    fn a_filled_honeypot_is_noticed() {
        assert!(parse_json(json!({"email": "a@b.co", "_gotcha": "http://spam"})).unwrap().honeypot_filled);
    }
}
