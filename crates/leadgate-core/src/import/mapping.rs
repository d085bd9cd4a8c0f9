//! The mapping format: which column of a file becomes which field of leadgate.
//!
//! A mapping is TOML (documented with examples in `docs/import.md`). Each field is
//! either a column name, or a table:
//!
//! ```toml
//! channel = { column = "Lead Source", map = { "Google" = "paid_search" }, unmapped = "keep" }
//! direction = { value = "outbound" }                 # a constant
//! created_at = { column = ["Create Date", "CreatedDate"], format = "%d/%m/%Y", optional = true }
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The system the file comes from; names the namespace of its external ids.
    pub system: Option<String>,
    /// Date formats (strftime style, e.g. `%d/%m/%Y %H:%M`) tried in order after RFC 3339
    /// and `YYYY-MM-DD[ HH:MM[:SS]]`, which are always understood.
    #[serde(default)]
    pub date_formats: Vec<String>,
    /// Cell values meaning "no value" in every column (a blank cell always does).
    #[serde(default)]
    pub empty: Vec<String>,
    /// The field separator; `,` unless set.
    pub delimiter: Option<char>,
    /// The file was written spreadsheet-safe (as leadgate exports CSV for people): a
    /// `'` before a cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return
    /// or `'` is taken off.
    #[serde(default)]
    pub spreadsheet_safe: bool,
    /// A report export's footer: a row of fewer cells than the header whose first cell
    /// starts with one of these (`Grand Totals`, `Copyright`) is not data, and skipped.
    #[serde(default)]
    pub footer: Vec<String>,
    pub contact: ContactMap,
    pub response: Option<ResponseMap>,
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageMap>,
    #[serde(default, rename = "event")]
    pub events: Vec<EventMap>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactMap {
    /// leadgate's own contact id (a file exported by leadgate): the row is that contact,
    /// created with this id if it does not exist.
    pub id: Option<Field>,
    pub email: Option<Field>,
    pub external_id: Option<Field>,
    pub first_name: Option<Field>,
    pub last_name: Option<Field>,
    pub company: Option<Field>,
    pub title: Option<Field>,
    pub phone: Option<Field>,
    pub country: Option<Field>,
    pub owner: Option<Field>,
    pub direction: Option<Field>,
    /// The channel the contact first came through (else its response's channel).
    pub channel: Option<Field>,
    /// The company's web site or domain, for contacts whose email does not name it.
    pub website: Option<Field>,
    pub do_not_email: Option<Field>,
    pub do_not_call: Option<Field>,
    pub created_at: Option<Field>,
    #[serde(default)]
    pub custom: BTreeMap<String, Field>,
    /// A column holding custom fields as one JSON object (as leadgate exports them).
    pub custom_json: Option<Field>,
    /// Rows must name contacts imported before (a file of outcomes); a row naming an
    /// unknown contact is an error instead of a new contact.
    #[serde(default)]
    pub existing_only: bool,
    /// A row may name several contacts (a deal's associated contacts): its email and
    /// external id cells are split at this separator (`51234;51299`), and the row
    /// applies to each contact named. Where both are given, they pair in order.
    pub split: Option<String>,
}

/// The contact's first response: where, what and why, and when.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseMap {
    pub at: Option<Field>,
    pub direction: Option<Field>,
    pub channel: Option<Field>,
    pub campaign: Option<Field>,
    pub placement: Option<Field>,
    pub referrer: Option<Field>,
    pub vendor: Option<Field>,
    pub action: Option<Field>,
    pub obtained_via: Option<Field>,
    pub offer: Option<Field>,
    pub message: Option<Field>,
    #[serde(default)]
    pub fields: BTreeMap<String, Field>,
    /// A column holding the form's fields as one JSON object.
    pub fields_json: Option<Field>,
    /// A column holding what the response said of the contact's own fields, as one
    /// JSON object (as leadgate exports them).
    pub contact_fields_json: Option<Field>,
}

/// A stage change or outcome. It applies when `stage` has a value and, if `at` names a
/// column, that column has one too (so "Became a Customer Date" can stay blank).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageMap {
    pub stage: Field,
    pub at: Option<Field>,
    pub reason: Option<Field>,
    /// The deal value (for `customer`, `opportunity`, `lost`), a decimal amount.
    pub value: Option<Field>,
}

/// An activity event; it applies when `kind` has a value (and `at`, if it names a column).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMap {
    pub kind: Field,
    pub at: Option<Field>,
    pub url: Option<Field>,
    #[serde(default)]
    pub props: BTreeMap<String, Field>,
    /// A column holding the properties as one JSON object.
    pub props_json: Option<Field>,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Field {
    Column(String),
    Spec(FieldSpec),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The column, or several names for it of which the first present is used.
    pub column: Option<Columns>,
    /// A constant; with `column`, the value used when the cell is empty.
    pub value: Option<String>,
    /// Replaces cell values (matched exactly, then ignoring case); an empty target
    /// means "no value".
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// What a value missing from `map` becomes.
    #[serde(default)]
    pub unmapped: Unmapped,
    /// A date format for this column only, tried before the mapping's `date_formats`.
    pub format: Option<String>,
    /// The column may be absent from the file (used by presets).
    #[serde(default)]
    pub optional: bool,
    /// For custom fields and props: how to store the value.
    #[serde(default, rename = "type")]
    pub kind: ValueType,
    /// For `contact.external_id` of a file with neither emails nor ids: the row's
    /// number in the file (1 for the first row under the header), the same each time
    /// the same file is imported.
    #[serde(default)]
    pub row_number: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    One(String),
    Any(Vec<String>),
}

impl Columns {
    pub fn names(&self) -> &[String] {
        match self {
            Columns::One(c) => std::slice::from_ref(c),
            Columns::Any(cs) => cs,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmapped {
    /// CachedValue as it is in the file.
    #[default]
    Keep,
    /// Treated as no value.
    Empty,
    /// The row is refused with an error naming the value.
    Error,
    /// The field's `value` constant (a deal stage not listed is an open deal:
    /// `opportunity`).
    Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    #[default]
    Text,
    Number,
    Bool,
    Date,
}

impl Field {
    pub fn spec(&self) -> FieldSpec {
        match self {
            Field::Column(c) => FieldSpec { column: Some(Columns::One(c.clone())), ..FieldSpec::default() },
            Field::Spec(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the mapping is not valid TOML for an import mapping: {0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the file has no column {}; its columns are: {}", quoted(.missing), .available.join(", "))]
    MissingColumns { missing: Vec<String>, available: Vec<String> },
    #[error(
        "the file looks {}-separated: its header is one column under {}, the delimiter the mapping \
         reads it with, but {} columns under {} ({}); set `delimiter = {}` at the top of the mapping \
         (a preset's is in crates/leadgate-core/presets/) to read it",
        separator_name(*.looks), separator_name(*.used), .columns.len(), separator_name(*.looks), first_columns(.columns),
        toml_char(*.looks)
    )]
    WrongDelimiter { looks: char, used: char, columns: Vec<String> },
}

/// The separators files are written with: when a header is one column under the
/// mapping's delimiter and several under another of these, the mapping names the
/// wrong one.
const OTHER_SEPARATORS: [char; 4] = [';', '\t', '|', ','];

/// The separator `header` (read with `used`) looks written with, and its columns then:
/// the one that splits its single column into the most parts, two at least.
pub fn likely_delimiter(header: &[String], used: char) -> Option<(char, Vec<String>)> {
    let [only] = header else { return None };
    OTHER_SEPARATORS
        .into_iter()
        .filter(|&c| c != used)
        // Read under the wrong separator, the quotes around names stay in them.
        .map(|c| (c, only.split(c).map(|s| s.trim().trim_matches('"').to_owned()).collect::<Vec<_>>()))
        .filter(|(_, columns)| columns.len() > 1)
        .max_by_key(|(_, columns)| columns.len())
}

fn separator_name(c: char) -> String {
    match c {
        '\t' => "tab".into(),
        c => format!("`{c}`"),
    }
}

fn toml_char(c: char) -> String {
    match c {
        '\t' => r#""\t""#.into(),
        c => format!("{:?}", c.to_string()),
    }
}

/// The first few of many columns, for a message.
fn first_columns(columns: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut text = columns.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if columns.len() > SHOWN {
        text.push_str(", …");
    }
    text
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

impl Mapping {
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        let m: Mapping = toml::from_str(text).map_err(|e| MappingError::Syntax(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    /// Rules serde cannot express.
    fn check(&self) -> Result<(), MappingError> {
        let invalid = |m: String| Err(MappingError::Invalid(m));
        if self.contact.email.is_none() && self.contact.external_id.is_none() && self.contact.id.is_none() {
            return invalid(
                "[contact] needs `email`, `external_id` or `id`: how else would a row find its person?".into(),
            );
        }
        if self.contact.external_id.is_some() && self.system.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return invalid("`system` must name where the file comes from when [contact] maps `external_id`".into());
        }
        let mut fields: Vec<(String, &Field)> = Vec::new();
        self.each_field(|name, f| fields.push((name, f)));
        for (name, field) in fields {
            let spec = field.spec();
            if spec.row_number {
                if name != "contact.external_id" {
                    return invalid(format!("{name}: `row_number` is for contact.external_id only"));
                }
                if spec.column.is_some()
                    || spec.value.is_some()
                    || !spec.map.is_empty()
                    || spec.format.is_some()
                    || spec.kind != ValueType::Text
                {
                    return invalid(format!(
                        "{name}: `row_number = true` takes no `column`, `value`, `map`, `format` or `type`"
                    ));
                }
                continue;
            }
            if spec.column.is_none() && spec.value.is_none() {
                return invalid(format!("{name}: give a `column`, a `value`, or both"));
            }
            if let Some(cols) = &spec.column
                && cols.names().iter().any(|c| c.is_empty())
            {
                return invalid(format!("{name}: a column name cannot be empty"));
            }
            if let Some(format) = &spec.format {
                super::value::parse_format(format).map_err(|e| MappingError::Invalid(format!("{name}: {e}")))?;
            }
        }
        for format in &self.date_formats {
            super::value::parse_format(format).map_err(|e| MappingError::Invalid(format!("date_formats: {e}")))?;
        }
        Ok(())
    }

    /// Every field with a name for messages, such as `contact.email` or `stage[1].at`.
    pub fn each_field<'a>(&'a self, mut f: impl FnMut(String, &'a Field)) {
        let c = &self.contact;
        let contact = [
            ("id", &c.id),
            ("custom_json", &c.custom_json),
            ("email", &c.email),
            ("external_id", &c.external_id),
            ("first_name", &c.first_name),
            ("last_name", &c.last_name),
            ("company", &c.company),
            ("title", &c.title),
            ("phone", &c.phone),
            ("country", &c.country),
            ("owner", &c.owner),
            ("direction", &c.direction),
            ("channel", &c.channel),
            ("website", &c.website),
            ("do_not_email", &c.do_not_email),
            ("do_not_call", &c.do_not_call),
            ("created_at", &c.created_at),
        ];
        for (name, field) in contact {
            if let Some(field) = field {
                f(format!("contact.{name}"), field);
            }
        }
        for (name, field) in &c.custom {
            f(format!("contact.custom.{name}"), field);
        }
        if let Some(r) = &self.response {
            let response = [
                ("at", &r.at),
                ("direction", &r.direction),
                ("channel", &r.channel),
                ("campaign", &r.campaign),
                ("placement", &r.placement),
                ("referrer", &r.referrer),
                ("vendor", &r.vendor),
                ("action", &r.action),
                ("obtained_via", &r.obtained_via),
                ("offer", &r.offer),
                ("message", &r.message),
                ("fields_json", &r.fields_json),
                ("contact_fields_json", &r.contact_fields_json),
            ];
            for (name, field) in response {
                if let Some(field) = field {
                    f(format!("response.{name}"), field);
                }
            }
            for (name, field) in &r.fields {
                f(format!("response.fields.{name}"), field);
            }
        }
        for (i, s) in self.stages.iter().enumerate() {
            f(format!("stage[{i}].stage"), &s.stage);
            for (name, field) in [("at", &s.at), ("reason", &s.reason), ("value", &s.value)] {
                if let Some(field) = field {
                    f(format!("stage[{i}].{name}"), field);
                }
            }
        }
        for (i, e) in self.events.iter().enumerate() {
            f(format!("event[{i}].kind"), &e.kind);
            for (name, field) in [("at", &e.at), ("url", &e.url), ("props_json", &e.props_json)] {
                if let Some(field) = field {
                    f(format!("event[{i}].{name}"), field);
                }
            }
            for (name, field) in &e.props {
                f(format!("event[{i}].props.{name}"), field);
            }
        }
    }
}
