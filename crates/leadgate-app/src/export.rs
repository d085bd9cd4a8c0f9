//! Exporting contacts, responses, stage changes and events, as CSV or JSON Lines.
//!
//! Records are read in pages of [`PAGE`] and encoded page by page, so an export of ten
//! million rows holds one page at a time, and the HTTP answer streams as it is read.
//! The CSV columns are those the `leadgate-*` import presets read back: exporting and
//! importing into another database gives the same contacts (same ids), the same
//! responses and events, and the same stage history.

use crate::ErrorCode;
use crate::{App, AppError};
use leadgate_core::model::{Contact, Response, StoredEvent};
use leadgate_core::{StageChange, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Records read (and encoded) at a time.
pub const PAGE: i64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Contacts,
    Responses,
    StageChanges,
    Events,
}

impl ExportKind {
    pub const ALL: [ExportKind; 4] =
        [ExportKind::Contacts, ExportKind::Responses, ExportKind::StageChanges, ExportKind::Events];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Contacts => "contacts",
            ExportKind::Responses => "responses",
            ExportKind::StageChanges => "stage_changes",
            ExportKind::Events => "events",
        }
    }

    pub fn parse(s: &str) -> Result<Self, AppError> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            AppError::new(
                ErrorCode::UnknownExport,
                "exports are contacts, responses, stage_changes and events (e.g. /v1/exports/contacts.csv)",
            )
        })
    }

    /// The import preset that reads this export back.
    pub fn preset(self) -> &'static str {
        match self {
            ExportKind::Contacts => "leadgate-contacts",
            ExportKind::Responses => "leadgate-responses",
            ExportKind::StageChanges => "leadgate-stage-changes",
            ExportKind::Events => "leadgate-events",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            ExportKind::Contacts => &[
                "id",
                "email",
                "first_name",
                "last_name",
                "company",
                "title",
                "phone",
                "country",
                "website",
                "owner",
                "direction",
                "channel",
                "stage",
                "stage_at",
                "arrived_as",
                "do_not_email",
                "do_not_call",
                "created_at",
                "updated_at",
                "custom",
            ],
            ExportKind::Responses => &[
                "contact_id",
                "email",
                "at",
                "direction",
                "channel",
                "campaign",
                "placement",
                "referrer",
                "vendor",
                "action",
                "obtained_via",
                "offer",
                "message",
                "fields",
                "contact_fields",
                "junk",
                "form_id",
            ],
            ExportKind::StageChanges => {
                &["contact_id", "email", "from_stage", "to_stage", "at", "cause", "detail", "actor", "value"]
            }
            ExportKind::Events => &["contact_id", "email", "kind", "at", "url", "props"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            _ => Err(AppError::new(ErrorCode::InvalidValue, "the format must be csv or jsonl").field("format")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }
}

/// Where an export has got to: the next page comes after this.
#[derive(Debug, Clone, Copy)]
enum Position {
    Start,
    AfterUuid(Uuid),
    AfterRow(i64),
    Done,
}

/// An export being read, page by page. It holds a place among the server's heavy work
/// until it is dropped.
pub struct Export {
    kind: ExportKind,
    format: ExportFormat,
    cells: Cells,
    position: Position,
    rows: u64,
    _ration: crate::Ration,
}

/// How CSV cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// A cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, a tab or a
    /// carriage return first) is written with a `'` before it, which spreadsheets show
    /// as text; leadgate's import presets take it off again.
    SpreadsheetSafe,
    /// Every cell as it is, for programs.
    Raw,
}

impl Export {
    /// Records written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

fn t(at: Timestamp) -> String {
    at.to_rfc3339()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn json_text(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Minor units as a decimal amount: 123456 → `1234.56`.
pub fn amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (cents / 100).unsigned_abs(), (cents % 100).unsigned_abs())
}

impl App {
    /// Starts an export, if the server may run one more.
    pub fn start_export(&self, kind: ExportKind, format: ExportFormat, cells: Cells) -> Result<Export, AppError> {
        let ration = self.ration(crate::HeavyWork::Export)?;
        Ok(Export { kind, format, cells, position: Position::Start, rows: 0, _ration: ration })
    }

    /// The next page of `export`, encoded (the CSV header comes with the first); `None`
    /// when everything was written.
    pub async fn export_page(&self, export: &mut Export) -> Result<Option<Vec<u8>>, AppError> {
        let (after_uuid, after_row) = match export.position {
            Position::Done => return Ok(None),
            Position::Start => (None, 0),
            Position::AfterUuid(id) => (Some(id), 0),
            Position::AfterRow(id) => (None, id),
        };
        let mut out = Vec::new();
        if matches!(export.position, Position::Start) && export.format == ExportFormat::Csv {
            out.extend_from_slice(export.kind.columns().join(",").as_bytes());
            out.push(b'\n');
        }
        let (records, next): (Vec<(Vec<String>, Value)>, Position) = match export.kind {
            ExportKind::Contacts => {
                let page = self.store.contacts_page(after_uuid, PAGE).await?;
                let next = page.last().map_or(Position::Done, |c| Position::AfterUuid(c.id));
                (self.contact_records(&page).await?, next)
            }
            ExportKind::Responses => {
                let page = self.store.responses_page(after_uuid, PAGE).await?;
                let next = page.last().map_or(Position::Done, |r| Position::AfterUuid(r.id));
                let emails = self.emails_of(page.iter().map(|r| r.contact_id)).await?;
                (page.iter().map(|r| response_record(r, &emails)).collect(), next)
            }
            ExportKind::StageChanges => {
                let page = self.store.stage_changes_page(after_row, PAGE).await?;
                let next = page.last().map_or(Position::Done, |(id, _)| Position::AfterRow(*id));
                let emails = self.emails_of(page.iter().map(|(_, c)| c.contact_id)).await?;
                (page.iter().map(|(_, c)| stage_change_record(c, &emails)).collect(), next)
            }
            ExportKind::Events => {
                let page = self.store.events_page(after_row, PAGE).await?;
                let next = page.last().map_or(Position::Done, |e| Position::AfterRow(e.id));
                let emails = self.emails_of(page.iter().filter_map(|e| e.contact_id)).await?;
                (page.iter().map(|e| event_record(e, &emails)).collect(), next)
            }
        };
        let full = records.len() as i64 == PAGE;
        export.rows += records.len() as u64;
        match export.format {
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(&mut out);
                for (cells, _) in &records {
                    let written = match export.cells {
                        Cells::Raw => w.write_record(cells),
                        Cells::SpreadsheetSafe => {
                            w.write_record(cells.iter().map(|c| leadgate_core::spreadsheet::neutralise(c).into_owned()))
                        }
                    };
                    written.map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
                }
                w.flush().map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
            }
            ExportFormat::Jsonl => {
                for (_, value) in &records {
                    out.extend_from_slice(value.to_string().as_bytes());
                    out.push(b'\n');
                }
            }
        }
        export.position = if full { next } else { Position::Done };
        if out.is_empty() && matches!(export.position, Position::Done) {
            return Ok(None);
        }
        Ok(Some(out))
    }

    async fn emails_of(&self, ids: impl Iterator<Item = Uuid>) -> Result<HashMap<Uuid, String>, AppError> {
        let mut ids: Vec<Uuid> = ids.collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self.store.contact_emails(&ids).await?.into_iter().collect())
    }

    async fn contact_records(&self, page: &[Contact]) -> Result<Vec<(Vec<String>, Value)>, AppError> {
        let mut account_ids: Vec<Uuid> = page.iter().filter_map(|c| c.account_id).collect();
        account_ids.sort_unstable();
        account_ids.dedup();
        let domains: HashMap<Uuid, String> =
            self.store.accounts_by_ids(&account_ids).await?.into_iter().map(|a| (a.id, a.domain)).collect();
        let ids: Vec<Uuid> = page.iter().map(|c| c.id).collect();
        let arrivals: HashMap<Uuid, &'static str> =
            self.store.arrivals(&ids).await?.into_iter().map(|(c, s)| (c, s.as_str())).collect();
        Ok(page
            .iter()
            .map(|c| {
                let website = c.account_id.and_then(|a| domains.get(&a)).cloned();
                let arrived = arrivals.get(&c.id).copied();
                let cells = vec![
                    c.id.to_string(),
                    opt(&c.email),
                    opt(&c.first_name),
                    opt(&c.last_name),
                    opt(&c.company),
                    opt(&c.title),
                    opt(&c.phone),
                    opt(&c.country),
                    opt(&website),
                    opt(&c.owner),
                    c.direction.as_str().to_owned(),
                    opt(&c.channel),
                    c.stage.as_str().to_owned(),
                    t(c.stage_at),
                    arrived.unwrap_or_default().to_owned(),
                    c.do_not_email.to_string(),
                    c.do_not_call.to_string(),
                    t(c.created_at),
                    t(c.updated_at),
                    json_text(&c.custom),
                ];
                let mut value = serde_json::to_value(c).unwrap_or_default();
                value["website"] = json!(website);
                value["arrived_as"] = json!(arrived);
                (cells, value)
            })
            .collect())
    }
}

fn email_of(emails: &HashMap<Uuid, String>, id: Uuid) -> String {
    emails.get(&id).cloned().unwrap_or_default()
}

fn response_record(r: &Response, emails: &HashMap<Uuid, String>) -> (Vec<String>, Value) {
    let email = email_of(emails, r.contact_id);
    let cells = vec![
        r.contact_id.to_string(),
        email.clone(),
        t(r.at),
        r.direction.as_str().to_owned(),
        opt(&r.channel),
        opt(&r.campaign),
        opt(&r.placement),
        opt(&r.referrer),
        opt(&r.vendor),
        r.action.clone(),
        r.obtained_via.clone(),
        opt(&r.offer),
        opt(&r.message),
        json_text(&r.fields),
        json_text(&r.contact_fields),
        opt(&r.junk),
        r.form_id.map(|f| f.to_string()).unwrap_or_default(),
    ];
    let mut value = serde_json::to_value(r).unwrap_or_default();
    value["email"] = json!(email);
    (cells, value)
}

fn stage_change_record(c: &StageChange, emails: &HashMap<Uuid, String>) -> (Vec<String>, Value) {
    let email = email_of(emails, c.contact_id);
    let cells = vec![
        c.contact_id.to_string(),
        email.clone(),
        c.from.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        c.to.as_str().to_owned(),
        t(c.at),
        c.cause.as_str().to_owned(),
        c.detail.clone(),
        c.actor.clone(),
        c.value.map(amount).unwrap_or_default(),
    ];
    let mut value = serde_json::to_value(c).unwrap_or_default();
    value["email"] = json!(email);
    (cells, value)
}

fn event_record(e: &StoredEvent, emails: &HashMap<Uuid, String>) -> (Vec<String>, Value) {
    let email = e.contact_id.map(|c| email_of(emails, c)).unwrap_or_default();
    let cells = vec![
        e.contact_id.map(|c| c.to_string()).unwrap_or_default(),
        email.clone(),
        e.kind.clone(),
        t(e.at),
        opt(&e.url),
        json_text(&e.props),
    ];
    let mut value = serde_json::to_value(e).unwrap_or_default();
    value["email"] = json!(email);
    (cells, value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_read_as_decimals() {
        assert_eq!(super::amount(123_456), "1234.56");
        assert_eq!(super::amount(5), "0.05");
        assert_eq!(super::amount(-250), "-2.50");
    }
}
