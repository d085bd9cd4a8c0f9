//! Rows as both databases return them, and their conversion into domain records.
//! Derived `FromRow` is generic over the database, so one definition serves both.

use crate::StoreError;
use leadgate_core::dedupe::Candidate;
use leadgate_core::import::RowError;
use leadgate_core::merge::{Before, Merge, Moved};
use leadgate_core::model::{
    Account, ApiKey, Contact, ContactChange, Form, ImportCounts, ImportJob, ImportStatus, InboxItem, InboxStatus,
    Response, StoredEvent,
};
use leadgate_core::{CauseKind, Direction, Role, Stage, StageChange, Timestamp};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// Each of `rows` converted by `convert`, or the first error: into a vector of their
/// number made at once. Collected into a `Result`, the rows' number is not known, and
/// the vector grew a step at a time, a batch's large records copied at every step.
pub(crate) fn convert_all<R, T>(
    rows: Vec<R>,
    convert: impl FnMut(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut converted = Vec::with_capacity(rows.len());
    for row in rows.into_iter().map(convert) {
        converted.push(row?);
    }
    Ok(converted)
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?} in the database"))
}

pub(crate) fn stage(s: &str) -> Result<Stage, StoreError> {
    Stage::from_name(s).map_or_else(|| s.parse().map_err(|_| corrupt("stage", s)), Ok)
}

/// A value of the domain stored as its name (a stage, a direction), as a column:
/// decoded from the name in place, without a copy of it first (a batch of contacts'
/// history holds millions).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Named<T>(pub(crate) T);

/// A value of the domain read from its stored name.
pub(crate) trait FromName: Sized {
    fn from_name(name: &str) -> Result<Self, StoreError>;
}

impl FromName for Stage {
    fn from_name(name: &str) -> Result<Self, StoreError> {
        stage(name)
    }
}

impl FromName for Direction {
    fn from_name(name: &str) -> Result<Self, StoreError> {
        direction(name)
    }
}

impl<T: FromName> crate::direct::Column for Named<T> {
    fn column<I: rusqlite::RowIndex>(row: &rusqlite::Row<'_>, at: I) -> rusqlite::Result<Self> {
        Named::of(row.get_ref(at)?)
    }
}

impl<T: FromName> crate::direct::Column for Option<Named<T>> {
    fn column<I: rusqlite::RowIndex>(row: &rusqlite::Row<'_>, at: I) -> rusqlite::Result<Self> {
        match row.get_ref(at)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            value => Named::of(value).map(Some),
        }
    }

    fn null() -> rusqlite::Result<Self> {
        Ok(None)
    }
}

impl<T: FromName> Named<T> {
    fn of(value: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<Self> {
        let text = rusqlite::types::Type::Text;
        T::from_name(value.as_str()?)
            .map(Named)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, text, Box::new(e)))
    }
}

crate::direct::typed_as_text!(Named<T>, T);

impl<'r, T: FromName, DB: sqlx::Database> sqlx::Decode<'r, DB> for Named<T>
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let name = <&str as sqlx::Decode<DB>>::decode(value)?;
        Ok(Named(T::from_name(name)?))
    }
}

fn direction(s: &str) -> Result<Direction, StoreError> {
    Direction::parse(s).ok_or_else(|| corrupt("direction", s))
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: Uuid,
    domain: String,
    name: Option<String>,
    created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account { id: r.id, domain: r.domain, name: r.name, created_at: Timestamp(r.created_at) }
    }
}

pub(crate) const CONTACT_COLUMNS: &str = "id, email, first_name, last_name, company, title, phone, country, \
     account_id, direction, channel, stage, stage_at, owner, do_not_email, do_not_call, custom, created_at, updated_at, merged_into";

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    id: Uuid,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    title: Option<String>,
    phone: Option<String>,
    country: Option<String>,
    account_id: Option<Uuid>,
    direction: Named<Direction>,
    channel: Option<String>,
    /// `NULL` when a read leaves them out (see [`crate::SnapshotParts::stage`]), as
    /// `updated_at` is.
    stage: Option<Named<Stage>>,
    stage_at: Option<i64>,
    owner: Option<String>,
    /// `NULL` when a read leaves them out (see [`crate::Details`]): not asked.
    do_not_email: Option<bool>,
    do_not_call: Option<bool>,
    /// `NULL` when a read leaves them out.
    custom: Option<Json<Value>>,
    created_at: i64,
    updated_at: Option<i64>,
    merged_into: Option<Uuid>,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;
    fn try_from(r: ContactRow) -> Result<Self, StoreError> {
        Ok(Contact {
            id: r.id,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            company: r.company,
            title: r.title,
            phone: r.phone,
            country: r.country,
            account_id: r.account_id,
            direction: r.direction.0,
            channel: r.channel,
            stage: r.stage.map_or(Stage::Suspect, |s| s.0),
            stage_at: Timestamp(r.stage_at.unwrap_or(r.created_at)),
            owner: r.owner,
            do_not_email: r.do_not_email.unwrap_or(false),
            do_not_call: r.do_not_call.unwrap_or(false),
            custom: r.custom.map_or_else(Map::new, |c| object(c.0)),
            created_at: Timestamp(r.created_at),
            updated_at: Timestamp(r.updated_at.unwrap_or(r.created_at)),
            merged_into: r.merged_into,
        })
    }
}

pub(crate) const RESPONSE_COLUMNS: &str = "id, contact_id, at, direction, channel, campaign, placement, referrer, \
     vendor, action, obtained_via, offer, form_id, message, fields, contact_fields, junk, inbox_id";

#[derive(sqlx::FromRow)]
pub(crate) struct ResponseRow {
    id: Uuid,
    contact_id: Uuid,
    at: i64,
    direction: Named<Direction>,
    channel: Option<String>,
    campaign: Option<String>,
    placement: Option<String>,
    referrer: Option<String>,
    vendor: Option<String>,
    action: String,
    /// `NULL` when a read leaves it out, as `fields` may be.
    obtained_via: Option<String>,
    offer: Option<String>,
    form_id: Option<Uuid>,
    message: Option<String>,
    fields: Option<Json<Value>>,
    contact_fields: Option<Json<Value>>,
    junk: Option<String>,
    inbox_id: Option<Uuid>,
}

impl TryFrom<ResponseRow> for Response {
    type Error = StoreError;
    fn try_from(r: ResponseRow) -> Result<Self, StoreError> {
        Ok(Response {
            id: r.id,
            contact_id: r.contact_id,
            at: Timestamp(r.at),
            direction: r.direction.0,
            channel: r.channel,
            campaign: r.campaign,
            placement: r.placement,
            referrer: r.referrer,
            vendor: r.vendor,
            action: r.action,
            obtained_via: r.obtained_via.unwrap_or_default(),
            offer: r.offer,
            form_id: r.form_id,
            message: r.message,
            fields: r.fields.map_or_else(Map::new, |f| object(f.0)),
            contact_fields: r.contact_fields.map_or_else(Map::new, |f| object(f.0)),
            junk: r.junk,
            inbox_id: r.inbox_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StageChangeRow {
    contact_id: Uuid,
    from_stage: Option<String>,
    to_stage: String,
    at: i64,
    cause: String,
    detail: String,
    actor: String,
    value: Option<i64>,
}

impl TryFrom<StageChangeRow> for StageChange {
    type Error = StoreError;
    fn try_from(r: StageChangeRow) -> Result<Self, StoreError> {
        Ok(StageChange {
            contact_id: r.contact_id,
            from: r.from_stage.as_deref().map(stage).transpose()?,
            to: stage(&r.to_stage)?,
            at: Timestamp(r.at),
            cause: CauseKind::parse(&r.cause).ok_or_else(|| corrupt("cause", &r.cause))?,
            detail: r.detail,
            actor: r.actor,
            value: r.value,
        })
    }
}

/// A stage change with its row id, for exports read in pages, and to order changes
/// made at the same instant.
#[derive(sqlx::FromRow)]
pub(crate) struct NumberedStageChangeRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub change: StageChangeRow,
}

#[derive(sqlx::FromRow)]
pub(crate) struct CandidateRow {
    id: Uuid,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    account_id: Option<Uuid>,
}

impl From<CandidateRow> for Candidate {
    fn from(r: CandidateRow) -> Self {
        Candidate {
            id: r.id,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            account_id: r.account_id,
        }
    }
}

pub(crate) const MERGE_COLUMNS: &str = "id, contact_id, other_id, at, actor, before, moved, undone_at, undone_by";

#[derive(sqlx::FromRow)]
pub(crate) struct MergeRow {
    id: Uuid,
    contact_id: Uuid,
    other_id: Uuid,
    at: i64,
    actor: String,
    before: Json<Before>,
    moved: Json<Moved>,
    undone_at: Option<i64>,
    undone_by: Option<String>,
}

impl From<MergeRow> for Merge {
    fn from(r: MergeRow) -> Self {
        Merge {
            id: r.id,
            contact_id: r.contact_id,
            other_id: r.other_id,
            at: Timestamp(r.at),
            actor: r.actor,
            before: r.before.0,
            moved: r.moved.0,
            undone_at: r.undone_at.map(Timestamp),
            undone_by: r.undone_by,
        }
    }
}

/// A contact change with its row id, which orders changes made at the same instant.
#[derive(sqlx::FromRow)]
pub(crate) struct NumberedContactChangeRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub change: ContactChangeRow,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ContactChangeRow {
    contact_id: Uuid,
    at: i64,
    cause: String,
    actor: String,
    changes: Json<Value>,
}

impl From<ContactChangeRow> for ContactChange {
    fn from(r: ContactChangeRow) -> Self {
        ContactChange {
            contact_id: r.contact_id,
            at: Timestamp(r.at),
            cause: r.cause,
            actor: r.actor,
            changes: object(r.changes.0),
        }
    }
}

pub(crate) const IMPORT_COLUMNS: &str = "id, status, dry_run, file_name, mapping, actor, created_at, updated_at, \
     finished_at, counts, errors, error_count, failure";

#[derive(sqlx::FromRow)]
pub(crate) struct ImportJobRow {
    id: Uuid,
    status: String,
    dry_run: bool,
    file_name: Option<String>,
    mapping: String,
    actor: String,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
    counts: Json<ImportCounts>,
    errors: Json<Vec<RowError>>,
    error_count: i64,
    failure: Option<String>,
}

impl TryFrom<ImportJobRow> for ImportJob {
    type Error = StoreError;
    fn try_from(r: ImportJobRow) -> Result<Self, StoreError> {
        Ok(ImportJob {
            id: r.id,
            status: ImportStatus::parse(&r.status).ok_or_else(|| corrupt("import status", &r.status))?,
            dry_run: r.dry_run,
            file_name: r.file_name,
            mapping: r.mapping,
            actor: r.actor,
            created_at: Timestamp(r.created_at),
            updated_at: Timestamp(r.updated_at),
            finished_at: r.finished_at.map(Timestamp),
            counts: r.counts.0,
            errors: r.errors.0,
            error_count: u64::try_from(r.error_count).unwrap_or(0),
            failure: r.failure,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    id: i64,
    contact_id: Option<Uuid>,
    email: Option<String>,
    visitor_id: Option<String>,
    kind: String,
    at: i64,
    url: Option<String>,
    props: Json<Value>,
    received_at: i64,
}

impl From<EventRow> for StoredEvent {
    fn from(r: EventRow) -> Self {
        StoredEvent {
            id: r.id,
            contact_id: r.contact_id,
            email: r.email,
            visitor_id: r.visitor_id,
            kind: r.kind,
            at: Timestamp(r.at),
            url: r.url,
            props: r.props.0,
            received_at: Timestamp(r.received_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FormRow {
    id: Uuid,
    key: String,
    name: String,
    channel: Option<String>,
    offer: Option<String>,
    campaign: Option<String>,
    allowed_origins: Json<Vec<String>>,
    thank_you_url: Option<String>,
    created_at: i64,
}

impl From<FormRow> for Form {
    fn from(r: FormRow) -> Self {
        Form {
            id: r.id,
            key: r.key,
            name: r.name,
            channel: r.channel,
            offer: r.offer,
            campaign: r.campaign,
            allowed_origins: r.allowed_origins.0,
            thank_you_url: r.thank_you_url,
            created_at: Timestamp(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: Uuid,
    name: String,
    role: String,
    key_hash: Vec<u8>,
    created_at: i64,
    revoked_at: Option<i64>,
    user_id: Option<Uuid>,
    user_email: Option<String>,
}

/// The columns of an [`ApiKeyRow`], from `api_keys k` joined to its user `u`.
pub(crate) const API_KEY_COLUMNS: &str = "k.id, k.name, k.role, k.key_hash, k.created_at, k.revoked_at, \
     k.user_id, u.email AS user_email FROM api_keys k LEFT JOIN users u ON u.id = k.user_id";

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: r.id,
            name: r.name,
            role: Role::parse(&r.role).ok_or_else(|| corrupt("role", &r.role))?,
            key_hash: r.key_hash,
            created_at: Timestamp(r.created_at),
            revoked_at: r.revoked_at.map(Timestamp),
            user: r.user_id.zip(r.user_email).map(|(id, email)| leadgate_core::model::KeyUser { id, email }),
        })
    }
}

pub(crate) const INBOX_COLUMNS: &str = "id, received_at, form_key, content_type, query, body, \
     CAST(length(body) AS BIGINT) AS body_bytes, body_removed_at, remote_ip, user_agent, status, error, contact_id, response_id, \
     processed_at, attempts";

/// [`INBOX_COLUMNS`] with only the first bytes of the body: the length goes between
/// the two parts.
pub(crate) const INBOX_PREVIEW_COLUMNS: (&str, &str) = (
    "id, received_at, form_key, content_type, query, substr(body, 1, ",
    ") AS body, CAST(length(body) AS BIGINT) AS body_bytes, body_removed_at, remote_ip, user_agent, status, error, \
     contact_id, response_id, processed_at, attempts",
);

#[derive(sqlx::FromRow)]
pub(crate) struct InboxRow {
    id: Uuid,
    received_at: i64,
    form_key: Option<String>,
    content_type: Option<String>,
    query: Option<String>,
    body: Vec<u8>,
    body_bytes: i64,
    body_removed_at: Option<i64>,
    remote_ip: Option<String>,
    user_agent: Option<String>,
    status: String,
    error: Option<String>,
    contact_id: Option<Uuid>,
    response_id: Option<Uuid>,
    processed_at: Option<i64>,
    attempts: i64,
}

impl TryFrom<InboxRow> for InboxItem {
    type Error = StoreError;
    fn try_from(r: InboxRow) -> Result<Self, StoreError> {
        Ok(InboxItem {
            id: r.id,
            received_at: Timestamp(r.received_at),
            form_key: r.form_key,
            content_type: r.content_type,
            query: r.query,
            body: r.body,
            body_bytes: r.body_bytes,
            body_removed_at: r.body_removed_at.map(Timestamp),
            remote_ip: r.remote_ip,
            user_agent: r.user_agent,
            status: InboxStatus::parse(&r.status).ok_or_else(|| corrupt("inbox status", &r.status))?,
            error: r.error,
            contact_id: r.contact_id,
            response_id: r.response_id,
            processed_at: r.processed_at.map(Timestamp),
            attempts: r.attempts,
        })
    }
}

mod snapshots;
pub(crate) use snapshots::*;

#[derive(sqlx::FromRow)]
pub(crate) struct SpendRow {
    id: Uuid,
    amount: i64,
    currency_given: String,
    amount_given: i64,
    rate: Option<f64>,
    starts_at: i64,
    ends_at: i64,
    direction: Option<String>,
    channel: Option<String>,
    vendor: Option<String>,
    campaign: Option<String>,
    offer: Option<String>,
    note: Option<String>,
    recorded_at: i64,
    recorded_by: String,
}

impl TryFrom<SpendRow> for leadgate_core::spend::Spend {
    type Error = StoreError;
    fn try_from(r: SpendRow) -> Result<Self, StoreError> {
        Ok(leadgate_core::spend::Spend {
            id: r.id,
            amount: r.amount,
            currency_given: r.currency_given,
            amount_given: r.amount_given,
            rate: r.rate,
            from: Timestamp(r.starts_at),
            to: Timestamp(r.ends_at),
            direction: r.direction.as_deref().map(direction).transpose()?,
            channel: r.channel,
            vendor: r.vendor,
            campaign: r.campaign,
            offer: r.offer,
            note: r.note,
            recorded_at: Timestamp(r.recorded_at),
            recorded_by: r.recorded_by,
        })
    }
}
