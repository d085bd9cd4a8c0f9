//! Reading one row of a file through a mapping bound to the file's header.

use super::mapping::{Field, Mapping, MappingError, Unmapped, ValueType};
use super::value::{builtin_formats, parse_amount, parse_bool, parse_date, parse_format, parse_number};
use crate::ident::truncate;
use crate::inquiry::has_control_chars;
use crate::response::{Direction, ObtainedVia};
use crate::{Domain, Email, Ident, Stage, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use time::format_description::OwnedFormatItem;
use uuid::Uuid;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

/// Longest text kept in one cell; longer cells are refused, not cut.
pub const CELL_MAX: usize = 10_000;

/// A problem with one row: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line of the file where the row starts (the header is line 1).
    pub row: u64,
    pub column: Option<String>,
    pub code: Cow<'static, str>,
    pub message: String,
}

/// What one row says about its contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRow {
    /// Names this row as read through this mapping: the same cells under the same
    /// mapping give the same fingerprint, so that a re-import recognises a row it has
    /// applied before without reading the contact (see `Binding::fingerprint`).
    pub fingerprint: i64,
    /// leadgate's own id for the contact.
    pub id: Option<Uuid>,
    pub email: Option<Email>,
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub owner: Option<String>,
    pub direction: Option<Direction>,
    pub channel: Option<Ident>,
    pub website: Option<Domain>,
    pub do_not_email: Option<bool>,
    pub do_not_call: Option<bool>,
    pub created_at: Option<Timestamp>,
    pub custom: Map<String, Value>,
    pub response: Option<ResponseDraft>,
    pub stages: Vec<StageDraft>,
    pub events: Vec<EventDraft>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseDraft {
    /// `None` when the file gives no time; the import's time is used.
    pub at: Option<Timestamp>,
    pub direction: Option<Direction>,
    pub channel: Option<Ident>,
    pub campaign: Option<String>,
    pub placement: Option<String>,
    pub referrer: Option<String>,
    pub vendor: Option<String>,
    pub action: Option<Ident>,
    pub obtained_via: Option<ObtainedVia>,
    pub offer: Option<String>,
    pub message: Option<String>,
    pub fields: Map<String, Value>,
    pub contact_fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageDraft {
    pub stage: Stage,
    pub at: Option<Timestamp>,
    pub reason: Option<String>,
    /// Minor units (cents).
    pub value: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub kind: Ident,
    pub at: Option<Timestamp>,
    pub url: Option<String>,
    pub props: Map<String, Value>,
}

/// A field of the mapping, resolved against the header.
#[derive(Debug, Clone)]
struct MappedField {
    /// The column's index and name in the file.
    column: Option<(usize, String)>,
    /// The mapping names a column (which an optional field may not find).
    names_column: bool,
    value: Option<String>,
    map: HashMap<String, String>,
    map_folded: HashMap<String, String>,
    unmapped: Unmapped,
    formats: Vec<OwnedFormatItem>,
    kind: ValueType,
    /// The value is the row's number in the file (`row_number = true`).
    row_number: bool,
}

#[derive(Debug, Clone, Default)]
struct MappedContact {
    id: Option<MappedField>,
    custom_json: Option<MappedField>,
    email: Option<MappedField>,
    external_id: Option<MappedField>,
    first_name: Option<MappedField>,
    last_name: Option<MappedField>,
    company: Option<MappedField>,
    title: Option<MappedField>,
    phone: Option<MappedField>,
    country: Option<MappedField>,
    owner: Option<MappedField>,
    direction: Option<MappedField>,
    channel: Option<MappedField>,
    website: Option<MappedField>,
    do_not_email: Option<MappedField>,
    do_not_call: Option<MappedField>,
    created_at: Option<MappedField>,
    custom: Vec<(String, MappedField)>,
}

#[derive(Debug, Clone, Default)]
struct MappedResponse {
    at: Option<MappedField>,
    direction: Option<MappedField>,
    channel: Option<MappedField>,
    campaign: Option<MappedField>,
    placement: Option<MappedField>,
    referrer: Option<MappedField>,
    vendor: Option<MappedField>,
    action: Option<MappedField>,
    obtained_via: Option<MappedField>,
    offer: Option<MappedField>,
    message: Option<MappedField>,
    fields: Vec<(String, MappedField)>,
    fields_json: Option<MappedField>,
    contact_fields_json: Option<MappedField>,
}

#[derive(Debug, Clone)]
struct MappedStage {
    stage: MappedField,
    at: Option<MappedField>,
    reason: Option<MappedField>,
    value: Option<MappedField>,
}

#[derive(Debug, Clone)]
struct MappedEvent {
    kind: MappedField,
    at: Option<MappedField>,
    url: Option<MappedField>,
    props: Vec<(String, MappedField)>,
    props_json: Option<MappedField>,
}

/// A mapping bound to one file's columns: reads its rows.
#[derive(Debug, Clone)]
pub struct Binding {
    pub system: Option<String>,
    pub existing_only: bool,
    /// Splits the email and external id cells into several contacts.
    split: Option<String>,
    footer: Vec<String>,
    spreadsheet_safe: bool,
    /// Hash of the mapping and the header: what a row's cells are read through.
    fingerprint_seed: u64,
    header: Vec<String>,
    columns: usize,
    empty: Vec<String>,
    contact: MappedContact,
    response: Option<MappedResponse>,
    stages: Vec<MappedStage>,
    events: Vec<MappedEvent>,
}

impl Mapping {
    /// Resolves every column the mapping names against `header`; refuses, naming them
    /// all, columns the file does not have (unless marked optional).
    pub fn bind(&self, header: &[String]) -> Result<Binding, MappingError> {
        let globals: Vec<OwnedFormatItem> = self
            .date_formats
            .iter()
            .map(|f| parse_format(f).map_err(MappingError::Invalid))
            .collect::<Result<_, _>>()?;
        let index: HashMap<&str, usize> =
            header.iter().enumerate().rev().map(|(i, h)| (h.trim().trim_start_matches('\u{feff}'), i)).collect();
        let mut missing = Vec::new();
        let mut bind = |f: &Field| -> MappedField {
            let spec = f.spec();
            let column = spec.column.as_ref().and_then(|cols| {
                let found = cols.names().iter().find_map(|c| index.get(c.trim()).map(|&i| (i, c.trim().to_owned())));
                if found.is_none() && !spec.optional {
                    missing.push(cols.names()[0].clone());
                }
                found
            });
            let mut formats: Vec<OwnedFormatItem> = spec.format.iter().filter_map(|f| parse_format(f).ok()).collect();
            formats.extend(globals.iter().cloned());
            formats.extend(builtin_formats());
            MappedField {
                column,
                names_column: spec.column.is_some(),
                value: spec.value.clone(),
                map_folded: spec.map.iter().map(|(k, v)| (k.trim().to_lowercase(), v.clone())).collect(),
                map: spec.map.clone().into_iter().collect(),
                unmapped: spec.unmapped,
                formats,
                kind: spec.kind,
                row_number: spec.row_number,
            }
        };
        let opt = |f: &Option<Field>, bind: &mut dyn FnMut(&Field) -> MappedField| f.as_ref().map(bind);
        let c = &self.contact;
        let contact = MappedContact {
            id: opt(&c.id, &mut bind),
            custom_json: opt(&c.custom_json, &mut bind),
            email: opt(&c.email, &mut bind),
            external_id: opt(&c.external_id, &mut bind),
            first_name: opt(&c.first_name, &mut bind),
            last_name: opt(&c.last_name, &mut bind),
            company: opt(&c.company, &mut bind),
            title: opt(&c.title, &mut bind),
            phone: opt(&c.phone, &mut bind),
            country: opt(&c.country, &mut bind),
            owner: opt(&c.owner, &mut bind),
            direction: opt(&c.direction, &mut bind),
            channel: opt(&c.channel, &mut bind),
            website: opt(&c.website, &mut bind),
            do_not_email: opt(&c.do_not_email, &mut bind),
            do_not_call: opt(&c.do_not_call, &mut bind),
            created_at: opt(&c.created_at, &mut bind),
            custom: c.custom.iter().map(|(k, f)| (k.clone(), bind(f))).collect(),
        };
        let response = self.response.as_ref().map(|r| MappedResponse {
            at: opt(&r.at, &mut bind),
            direction: opt(&r.direction, &mut bind),
            channel: opt(&r.channel, &mut bind),
            campaign: opt(&r.campaign, &mut bind),
            placement: opt(&r.placement, &mut bind),
            referrer: opt(&r.referrer, &mut bind),
            vendor: opt(&r.vendor, &mut bind),
            action: opt(&r.action, &mut bind),
            obtained_via: opt(&r.obtained_via, &mut bind),
            offer: opt(&r.offer, &mut bind),
            message: opt(&r.message, &mut bind),
            fields: r.fields.iter().map(|(k, f)| (k.clone(), bind(f))).collect(),
            fields_json: opt(&r.fields_json, &mut bind),
            contact_fields_json: opt(&r.contact_fields_json, &mut bind),
        });
        let stages = self
            .stages
            .iter()
            .map(|s| MappedStage {
                stage: bind(&s.stage),
                at: opt(&s.at, &mut bind),
                reason: opt(&s.reason, &mut bind),
                value: opt(&s.value, &mut bind),
            })
            .collect();
        let events = self
            .events
            .iter()
            .map(|e| MappedEvent {
                kind: bind(&e.kind),
                at: opt(&e.at, &mut bind),
                url: opt(&e.url, &mut bind),
                props: e.props.iter().map(|(k, f)| (k.clone(), bind(f))).collect(),
                props_json: opt(&e.props_json, &mut bind),
            })
            .collect();
        if !missing.is_empty() {
            let used = self.delimiter.unwrap_or(',');
            if let Some((looks, columns)) = super::mapping::likely_delimiter(header, used) {
                return Err(MappingError::WrongDelimiter { looks, used, columns });
            }
            missing.sort();
            missing.dedup();
            return Err(MappingError::MissingColumns { missing, available: header.to_vec() });
        }
        if let Some(f) =
            self.stages.iter().map(|s| s.stage.spec()).find(|f| f.unmapped == Unmapped::Value && f.value.is_none())
        {
            let column = f.column.as_ref().map_or(String::new(), |c| c.names()[0].clone());
            return Err(MappingError::Invalid(format!(
                "the stage read from {column:?} has unmapped = \"value\" but no value to use: add value = \"…\""
            )));
        }
        for (name, _) in contact.custom.iter().chain(response.iter().flat_map(|r| r.fields.iter())) {
            if Ident::parse(name).is_none() {
                return Err(MappingError::Invalid(format!(
                    "custom field name {name:?} must be an identifier (lower-case letters, digits, _)"
                )));
            }
        }
        // The mapping's debug form is deterministic (its maps are ordered); should it
        // change between versions, a re-import merely reads every contact once more.
        let fingerprint_seed = xxh3_64(format!("{self:?}\u{0}{}", header.join("\u{0}")).as_bytes());
        Ok(Binding {
            spreadsheet_safe: self.spreadsheet_safe,
            fingerprint_seed,
            system: self.system.as_ref().map(|s| s.trim().to_owned()),
            existing_only: c.existing_only,
            split: c.split.clone().filter(|s| !s.is_empty()),
            footer: self.footer.iter().map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect(),
            header: header.to_vec(),
            columns: header.len(),
            empty: self.empty.iter().map(|e| e.trim().to_owned()).collect(),
            contact,
            response,
            stages,
            events,
        })
    }
}

/// Collects a row's errors so that one bad cell does not hide the next.
struct Reader<'a> {
    binding: &'a Binding,
    cells: &'a [&'a str],
    line: u64,
    /// The row's number among the file's rows, the header not counted.
    number: u64,
    errors: Vec<RowError>,
}

impl Reader<'_> {
    fn column_name(b: &MappedField) -> Option<String> {
        b.column.as_ref().map(|(_, n)| n.clone())
    }

    fn fail(&mut self, b: &MappedField, code: &'static str, message: String) {
        self.errors.push(RowError { row: self.line, column: Self::column_name(b), code: code.into(), message });
    }

    /// The cell's text after `empty`, `map` and `value` are applied.
    fn text(&mut self, b: Option<&MappedField>) -> Option<String> {
        let b = b?;
        if b.row_number {
            return Some(self.number.to_string());
        }
        let raw = b.column.as_ref().and_then(|(i, _)| self.cells.get(*i)).map(|s| s.trim());
        let raw = raw.filter(|s| !s.is_empty() && !self.binding.empty.iter().any(|e| e == s));
        let mapped = match raw {
            None => None,
            Some(s) if b.map.is_empty() && b.unmapped != Unmapped::Value => Some(s.to_owned()),
            Some(s) => match b.map.get(s).or_else(|| b.map_folded.get(&s.to_lowercase())) {
                Some(to) => Some(to.clone()).filter(|t| !t.trim().is_empty()),
                None => match b.unmapped {
                    Unmapped::Keep => Some(s.to_owned()),
                    Unmapped::Empty => None,
                    Unmapped::Value => b.value.clone(),
                    Unmapped::Error => {
                        let known: Vec<_> = b.map.keys().map(|k| format!("{k:?}")).collect();
                        self.fail(
                            b,
                            "unmapped_value",
                            format!("{:?} is not one of {}", truncate(s, 60), known.join(", ")),
                        );
                        return None;
                    }
                },
            },
        };
        let text = mapped.or_else(|| b.value.clone())?;
        if text.len() > CELL_MAX {
            self.fail(b, "too_long", format!("the value is longer than {CELL_MAX} bytes"));
            return None;
        }
        if has_control_chars(&text) {
            self.fail(b, "invalid_value", "the value contains control characters".into());
            return None;
        }
        Some(text)
    }

    /// A cell's text, split into the places of the contacts it names where the
    /// mapping splits it (each trimmed; a blank place none; blanks at the end dropped,
    /// as a separator left after the last); else the text alone.
    fn several(&mut self, b: Option<&MappedField>) -> Vec<Option<String>> {
        let Some(text) = self.text(b) else { return Vec::new() };
        match &self.binding.split {
            None => vec![Some(text)],
            Some(sep) => {
                let mut parts: Vec<Option<String>> =
                    text.split(sep.as_str()).map(str::trim).map(|p| (!p.is_empty()).then(|| p.to_owned())).collect();
                while parts.last().is_some_and(Option::is_none) {
                    parts.pop();
                }
                parts
            }
        }
    }

    fn parsed<T>(
        &mut self,
        b: Option<&MappedField>,
        what: &str,
        parse: impl Fn(&str, &MappedField) -> Option<T>,
    ) -> Option<T> {
        let bound = b?;
        let text = self.text(b)?;
        let value = parse(&text, bound);
        if value.is_none() {
            self.fail(bound, "invalid_value", format!("{:?} is not {what}", truncate(&text, 60)));
        }
        value
    }

    fn date(&mut self, b: Option<&MappedField>) -> Option<Timestamp> {
        self.parsed(b, "a date this mapping understands", |s, b| parse_date(s, &b.formats))
    }

    fn flag(&mut self, b: Option<&MappedField>) -> Option<bool> {
        self.parsed(b, "yes or no", |s, _| parse_bool(s))
    }

    fn ident(&mut self, b: Option<&MappedField>, what: &str) -> Option<Ident> {
        self.parsed(b, what, |s, _| Ident::parse_lenient(s))
    }

    fn typed(&mut self, b: &MappedField) -> Option<Value> {
        match b.kind {
            ValueType::Text => self.text(Some(b)).map(Value::String),
            ValueType::Number => self.parsed(Some(b), "a number", |s, _| parse_number(s)).map(Value::from),
            ValueType::Bool => self.flag(Some(b)).map(Value::Bool),
            ValueType::Date => self.date(Some(b)).map(|t| Value::String(t.to_rfc3339())),
        }
    }

    /// Named fields, after those of a JSON-object column (`json`), which they override.
    fn fields(&mut self, fields: &[(String, MappedField)], json: Option<&MappedField>) -> Map<String, Value> {
        let mut all = self
            .parsed(json, "a JSON object", |s, _| match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        all.extend(fields.iter().filter_map(|(k, b)| self.typed(b).map(|v| (k.clone(), v))));
        all
    }

    /// Whether an entry with this `at` applies: not when `at` names a column that is
    /// blank, or absent from the file.
    /// When a stage or event happened, or `Err` when it does not apply: a constant
    /// applies only when its `at` column has a value ("Became a Customer Date"); one
    /// read from a column of its own is undated when the file lacks an optional `at`
    /// column, and does not apply when the file has it blank.
    fn at_given(&mut self, at: Option<&MappedField>, read_from_column: bool) -> Result<Option<Timestamp>, ()> {
        match at {
            None => Ok(None),
            Some(b) => match self.date(Some(b)) {
                Some(t) => Ok(Some(t)),
                None if b.column.is_none() && b.names_column && read_from_column => Ok(None),
                None if b.names_column || b.value.is_some() => Err(()),
                None => Ok(None),
            },
        }
    }
}

impl Binding {
    /// The name of column `i` in the file's header.
    pub fn column_name(&self, i: usize) -> Option<String> {
        self.header.get(i).cloned()
    }

    /// Whether rows may carry activity events.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The fingerprint of a row with these cells (see [`ImportRow::fingerprint`]).
    pub fn fingerprint(&self, cells: &[&str]) -> i64 {
        let mut h = Xxh3::with_seed(self.fingerprint_seed);
        for cell in cells {
            // Length-prefixed, so that moving text from one cell to the next changes it.
            h.update(&(cell.len() as u64).to_le_bytes());
            h.update(cell.as_bytes());
        }
        h.digest() as i64
    }

    /// Reads one row: its cells, the line it starts on (for messages) and its number
    /// among the file's rows, the header not counted (for `row_number`). Returns every
    /// problem found in the row, or what it says of each contact it names: one, or
    /// several where the mapping splits its identity cells.
    pub fn read(&self, cells: &[&str], line: u64, number: u64) -> Result<Vec<ImportRow>, Vec<RowError>> {
        let restored: Vec<&str>;
        let cells = if self.spreadsheet_safe {
            restored = cells.iter().map(|c| crate::spreadsheet::restore(c)).collect();
            &restored[..]
        } else {
            cells
        };
        let first = cells.first().map_or("", |c| c.trim());
        if cells.len() < self.columns && self.footer.iter().any(|f| first.starts_with(f.as_str())) {
            return Ok(Vec::new());
        }
        if cells.len() != self.columns {
            return Err(vec![RowError {
                row: line,
                column: None,
                code: "column_count".into(),
                message: format!(
                    "the row has {} columns where the header has {} (a missing or extra separator, \
                     or a quote left open)",
                    cells.len(),
                    self.columns
                ),
            }]);
        }
        let mut r = Reader { binding: self, cells, line, number, errors: Vec::new() };
        let c = &self.contact;
        let mut row = ImportRow { fingerprint: self.fingerprint(cells), ..ImportRow::default() };
        // Each contact the row names: the email and external id at the same place in
        // their cells (one place each, unless the mapping splits them).
        let email_parts = r.several(c.email.as_ref());
        let id_parts = r.several(c.external_id.as_ref());
        if !email_parts.is_empty() && !id_parts.is_empty() && email_parts.len() != id_parts.len() {
            r.errors.push(RowError {
                row: line,
                column: None,
                code: "identity_mismatch".into(),
                message: format!(
                    "the row names {} emails and {} external ids; where both name several contacts, they pair in order",
                    email_parts.len(),
                    id_parts.len()
                ),
            });
        }
        let mut named: Vec<(Option<Email>, Option<String>)> = Vec::new();
        for i in 0..email_parts.len().max(id_parts.len()) {
            let email = match (c.email.as_ref(), email_parts.get(i).cloned().flatten()) {
                (Some(b), Some(text)) => match Email::parse(&text) {
                    Ok(e) => Some(e),
                    Err(why) => {
                        r.fail(b, "invalid_email", format!("{:?} is not an email address: {why}", truncate(&text, 80)));
                        None
                    }
                },
                _ => None,
            };
            let id = id_parts.get(i).cloned().flatten();
            // A blank place names no one; the same contact written twice (an address
            // in two cases) is one.
            let pair = (email, id);
            if (pair.0.is_some() || pair.1.is_some()) && !named.contains(&pair) {
                named.push(pair);
            }
        }
        let (emails, external_ids): (Vec<Option<Email>>, Vec<Option<String>>) = named.into_iter().unzip();
        row.email = emails.first().cloned().flatten();
        row.external_id = external_ids.first().cloned().flatten();
        row.id = r.parsed(c.id.as_ref(), "a contact id (a UUID)", |s, _| Uuid::parse_str(s).ok());
        if row.email.is_none() && row.external_id.is_none() && row.id.is_none() && r.errors.is_empty() {
            r.errors.push(RowError {
                row: line,
                column: c.email.as_ref().or(c.external_id.as_ref()).and_then(Reader::column_name),
                code: "missing_identity".into(),
                message: "the row has neither an email nor an external id nor a contact id".into(),
            });
        }
        row.first_name = r.text(c.first_name.as_ref());
        row.last_name = r.text(c.last_name.as_ref());
        row.company = r.text(c.company.as_ref());
        row.title = r.text(c.title.as_ref());
        row.phone = r.text(c.phone.as_ref());
        row.country = r.text(c.country.as_ref());
        row.owner = r.text(c.owner.as_ref());
        row.direction = r.parsed(c.direction.as_ref(), "inbound or outbound", |s, _| Direction::parse(s));
        row.channel = r.ident(c.channel.as_ref(), "a channel name (letters, digits, _)");
        row.website = r.parsed(c.website.as_ref(), "a web site or domain", |s, _| website_domain(s));
        row.do_not_email = r.flag(c.do_not_email.as_ref());
        row.do_not_call = r.flag(c.do_not_call.as_ref());
        row.created_at = r.date(c.created_at.as_ref());
        row.custom = r.fields(&c.custom, c.custom_json.as_ref());

        if let Some(m) = &self.response {
            row.response = Some(ResponseDraft {
                at: r.date(m.at.as_ref()),
                direction: r.parsed(m.direction.as_ref(), "inbound or outbound", |s, _| Direction::parse(s)),
                channel: r.ident(m.channel.as_ref(), "a channel name (letters, digits, _)"),
                campaign: r.text(m.campaign.as_ref()),
                placement: r.text(m.placement.as_ref()),
                referrer: r.text(m.referrer.as_ref()),
                vendor: r.text(m.vendor.as_ref()),
                action: r.ident(m.action.as_ref(), "an action name (letters, digits, _)"),
                obtained_via: r.parsed(
                    m.obtained_via.as_ref(),
                    "one of own_form, third_party_form, category_list, competitor_list, list_import, logged, api",
                    |s, _| ObtainedVia::parse(s),
                ),
                offer: r.text(m.offer.as_ref()),
                message: r.text(m.message.as_ref()),
                fields: r.fields(&m.fields, m.fields_json.as_ref()),
                contact_fields: r.fields(&[], m.contact_fields_json.as_ref()),
            });
        }
        for s in &self.stages {
            let stage =
                r.parsed(Some(&s.stage), "a lifecycle stage", |s, _| s.trim().to_lowercase().parse::<Stage>().ok());
            let at = r.at_given(s.at.as_ref(), s.stage.column.is_some());
            let reason = r.text(s.reason.as_ref());
            let value = r.parsed(s.value.as_ref(), "an amount such as 1200.50", |s, _| parse_amount(s));
            if let (Some(stage), Ok(at)) = (stage, at) {
                row.stages.push(StageDraft { stage, at, reason, value });
            }
        }
        for e in &self.events {
            let kind = r.ident(Some(&e.kind), "an event kind (letters, digits, _)");
            let at = r.at_given(e.at.as_ref(), e.kind.column.is_some());
            let url = r.text(e.url.as_ref());
            let props = r.fields(&e.props, e.props_json.as_ref());
            if let (Some(kind), Ok(at)) = (kind, at) {
                row.events.push(EventDraft { kind, at, url, props });
            }
        }
        if !r.errors.is_empty() {
            return Err(r.errors);
        }
        // One row for each contact named, the nth email with the nth external id; a
        // deal's value shared among them, so that it is won once.
        let named = emails.len().max(external_ids.len()).max(1);
        Ok((0..named)
            .map(|i| {
                let stages = row
                    .stages
                    .iter()
                    .map(|s| StageDraft { value: s.value.map(|v| share(v, named, i)), ..s.clone() })
                    .collect();
                ImportRow {
                    email: emails.get(i).cloned().flatten(),
                    external_id: external_ids.get(i).cloned().flatten(),
                    stages,
                    ..row.clone()
                }
            })
            .collect())
    }
}

/// The `i`th of `n` even shares of `amount` (minor units): the first ones take the
/// cents left over, so that the shares add up to the amount.
fn share(amount: i64, n: usize, i: usize) -> i64 {
    let n = n as i64;
    amount.div_euclid(n) + i64::from((i as i64) < amount.rem_euclid(n))
}

/// The domain of a web site given as `https://www.acme.com/about`, `www.acme.com` or `acme.com`.
pub fn website_domain(s: &str) -> Option<Domain> {
    let s = s.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    Domain::parse(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(toml: &str, header: &str) -> Binding {
        let header: Vec<String> = header.split(',').map(str::to_owned).collect();
        Mapping::from_toml(toml).unwrap().bind(&header).unwrap()
    }

    const DEALS: &str = r#"
        system = "crm"
        [contact]
        external_id = "ids"
        email = { column = "emails", optional = true }
        split = ";"
        [[stage]]
        stage = { column = "stage", map = { "won" = "customer" }, unmapped = "value", value = "opportunity" }
        at = "closed"
        value = "amount"
    "#;

    #[test]
    fn a_row_naming_several_contacts_applies_to_each_and_shares_its_value() {
        let b = binding(DEALS, "ids,stage,closed,amount");
        let rows = b.read(&["7; 8;7;;9", "won", "2024-03-31", "100.00"], 2, 1).unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.external_id.as_deref().unwrap()).collect();
        assert_eq!(ids, ["7", "8", "9"], "trimmed, blanks and repeats left out");
        let values: Vec<_> = rows.iter().map(|r| r.stages[0].value.unwrap()).collect();
        assert_eq!(values, [3_334, 3_333, 3_333], "the shares add up to the deal");
        assert!(rows.iter().all(|r| r.stages[0].stage == Stage::Customer));
        let open = b.read(&["7", "Contract Sent", "2024-06-30", "5"], 3, 2).unwrap();
        assert_eq!((open.len(), open[0].stages[0].stage), (1, Stage::Opportunity), "a stage not listed: the value");
    }

    #[test]
    fn emails_and_ids_that_do_not_pair_are_refused() {
        let b = binding(DEALS, "ids,emails,stage,closed,amount");
        let rows = b.read(&["7;8", "a@x.example;b@y.example", "won", "2024-03-31", "1"], 2, 1).unwrap();
        assert_eq!(rows[1].email.as_ref().map(|e| e.as_str()), Some("b@y.example"), "the second with the second");
        let errors = b.read(&["7;8", "a@x.example", "won", "2024-03-31", "1"], 3, 2).unwrap_err();
        assert_eq!(errors[0].code, "identity_mismatch", "{errors:?}");
        // Places pair, blanks and all: 8 has no email, c@z no id; a separator at the
        // end names no one; an address twice in two cases is one contact.
        let rows =
            b.read(&["7;8;;7;", "a@x.example;;c@z.example;A@x.example", "won", "2024-03-31", "1"], 4, 3).unwrap();
        let pairs: Vec<_> =
            rows.iter().map(|r| (r.external_id.as_deref(), r.email.as_ref().map(|e| e.as_str().to_owned()))).collect();
        assert_eq!(
            pairs,
            [(Some("7"), Some("a@x.example".to_owned())), (Some("8"), None), (None, Some("c@z.example".to_owned()))]
        );
    }

    #[test]
    fn a_report_footer_is_skipped_and_a_short_row_otherwise_refused() {
        let toml = format!("footer = [\"Grand Totals\", \"Copyright\"]\n{DEALS}");
        let b = binding(&toml, "ids,stage,closed,amount");
        assert_eq!(b.read(&["Grand Totals (3 records)"], 9, 8).unwrap(), vec![]);
        assert_eq!(b.read(&["Copyright (c) 2000-2024 salesforce.com, inc."], 10, 9).unwrap(), vec![]);
        assert_eq!(b.read(&["Somebody"], 11, 10).unwrap_err()[0].code, "column_count");
    }
}
