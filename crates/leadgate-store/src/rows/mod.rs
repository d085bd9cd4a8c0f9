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

fn corrupt(what: &str, value: &str) -> StoreError {
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
    /// `NULL` when a read leaves them out (see [`crate::SubjectParts::stage`]), as
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

/// A stage change with its row id, for exports read in pages.
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
}

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

/// The query of [`crate::Store::subjects`] up to its `WHERE`: [`CONTACT_COLUMNS`] of
/// `contacts c`, then the qualification, and the account's domain, name and creation
/// and the stored scores of `accounts a` and `contact_scores s` joined to it, when
/// `parts` asks for them (the columns are `NULL` otherwise).
pub(crate) fn subject_select(parts: crate::SubjectParts) -> String {
    let (account, account_join) = match parts.account {
        crate::AccountPart::Joined => (
            "a.domain AS account_domain, a.name AS account_name, a.created_at AS account_created_at",
            " LEFT JOIN accounts a ON a.id = c.account_id",
        ),
        crate::AccountPart::Id | crate::AccountPart::Nothing => {
            ("NULL AS account_domain, NULL AS account_name, NULL AS account_created_at", "")
        }
    };
    let scores = |assessment: &str| {
        format!(
            "s.fit AS stored_fit, s.funnel_position AS stored_funnel, s.pain AS stored_pain, \
             {assessment} AS assessment, s.as_of AS scored_at, s.likelihood AS likelihood"
        )
    };
    let (stored, stored_join) = match parts.stored {
        crate::StoredParts::None => (
            "NULL AS stored_fit, NULL AS stored_funnel, NULL AS stored_pain, NULL AS assessment, NULL AS scored_at, \
             NULL AS likelihood"
                .to_owned(),
            "",
        ),
        crate::StoredParts::Scores => (scores("NULL"), " LEFT JOIN contact_scores s ON s.contact_id = c.id"),
        crate::StoredParts::WithAssessment => {
            (scores("s.assessment"), " LEFT JOIN contact_scores s ON s.contact_id = c.id")
        }
    };
    // The columns left out are read as NULL, so that the row structs stay the same.
    let read = |column: &str| match column {
        "custom" => parts.custom,
        "qualification" => parts.qualification,
        "account_id" => parts.account != crate::AccountPart::Nothing,
        "stage" | "stage_at" | "updated_at" => parts.stage,
        "stage_steps" => parts.stage_steps,
        "responses_brief" => parts.responses_in_brief(),
        detail => parts.details.reads(detail),
    };
    let contact =
        columns_of("c.", CONTACT_COLUMNS.split(", ").chain(["qualification", "stage_steps", "responses_brief"]), read);
    // The one numbered parameter of its own, when there is one (`statements`' lead).
    let created = if parts.created_by.is_some() { "c.created_at <= $1 AND " } else { "" };
    format!("SELECT {contact}, {account}, {stored} FROM contacts c{account_join}{stored_join} WHERE {created}")
}

/// [`CONTACT_COLUMNS`] prefixed with `c.`, for joins.
pub(crate) fn contact_columns_of_c() -> String {
    columns_of("c.", CONTACT_COLUMNS.split(", "), |_| true)
}

/// [`RESPONSE_COLUMNS`], those `details` leaves out as `NULL`.
pub(crate) fn response_columns(details: crate::ResponseDetails) -> String {
    columns_of("", RESPONSE_COLUMNS.split(", "), |c| details.reads(c))
}

/// `columns` prefixed with `prefix`, those `read` refuses as `NULL` under their names.
fn columns_of<'c>(prefix: &str, columns: impl Iterator<Item = &'c str>, read: impl Fn(&str) -> bool) -> String {
    let column = |c: &str| match read(c) {
        true => format!("{prefix}{c}"),
        false => format!("NULL AS {c}"),
    };
    columns.map(|c| column(c.trim())).collect::<Vec<_>>().join(", ")
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubjectRow {
    #[sqlx(flatten)]
    contact: ContactRow,
    /// `NULL` when a read leaves them out.
    qualification: Option<Json<leadgate_core::model::Qualification>>,
    account_domain: Option<String>,
    account_name: Option<String>,
    account_created_at: Option<i64>,
    stored_fit: Option<i64>,
    stored_funnel: Option<String>,
    stored_pain: Option<String>,
    assessment: Option<Json<leadgate_core::scoring::Assessment>>,
    scored_at: Option<i64>,
    likelihood: Option<f64>,
    /// Packed (`crate::stage_steps`); `NULL` when a read leaves them out.
    stage_steps: Option<Vec<u8>>,
    /// Packed (`crate::responses_brief`); `NULL` when a read leaves them out.
    responses_brief: Option<Vec<u8>>,
}

impl TryFrom<SubjectRow> for crate::Subject {
    type Error = StoreError;
    fn try_from(r: SubjectRow) -> Result<Self, StoreError> {
        let contact = Contact::try_from(r.contact)?;
        let account = match (contact.account_id, r.account_domain, r.account_created_at) {
            (Some(id), Some(domain), Some(created_at)) => {
                Some(Account { id, domain, name: r.account_name, created_at: Timestamp(created_at) })
            }
            _ => None,
        };
        Ok(crate::Subject {
            account,
            qualification: r.qualification.map(|q| q.0).unwrap_or_default(),
            stored: match (r.stored_fit, r.stored_funnel, r.stored_pain) {
                (Some(fit), Some(funnel_position), Some(pain)) => Some(crate::StoredScores {
                    fit,
                    funnel_position,
                    pain,
                    likelihood: r.likelihood,
                    assessment: r.assessment.map(|a| made_at(a.0, r.scored_at)),
                }),
                _ => None,
            },
            stage_steps: match r.stage_steps {
                Some(pack) => crate::stage_steps::decode(&pack).map_err(|_| {
                    StoreError::Corrupt(format!("the stage steps packed for contact {} are damaged", contact.id))
                })?,
                None => Vec::new(),
            },
            responses: match r.responses_brief {
                Some(pack) => crate::responses_brief::decode(contact.id, &pack).map_err(|_| {
                    StoreError::Corrupt(format!("the responses packed for contact {} are damaged", contact.id))
                })?,
                None => Vec::new(),
            },
            contact,
        })
    }
}

/// A stored assessment with its moment, which is stored in a column of its own.
fn made_at(mut a: leadgate_core::scoring::Assessment, as_of: Option<i64>) -> leadgate_core::scoring::Assessment {
    if let Some(at) = as_of {
        a.as_of = Timestamp(at);
    }
    a
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScoresRow {
    contact_id: Uuid,
    model: String,
    assessment: Json<leadgate_core::scoring::Assessment>,
    as_of: i64,
    likelihood: Option<f64>,
    likelihood_factors: Option<Json<Value>>,
}

impl From<ScoresRow> for leadgate_core::scoring::ContactScores {
    fn from(r: ScoresRow) -> Self {
        Self {
            contact_id: r.contact_id,
            model: r.model,
            assessment: made_at(r.assessment.0, Some(r.as_of)),
            likelihood: r.likelihood,
            likelihood_factors: r.likelihood_factors.map(|j| j.0),
            stored_form: Default::default(),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LikelihoodModelRow {
    version: i64,
    options: Json<leadgate_core::likelihood::TrainOptions>,
    evaluation: Json<leadgate_core::likelihood::Evaluation>,
    predictor: String,
    author: String,
    trained_at: i64,
}

impl From<LikelihoodModelRow> for (leadgate_core::likelihood::TrainedModel, String) {
    fn from(r: LikelihoodModelRow) -> Self {
        let model = leadgate_core::likelihood::TrainedModel {
            version: r.version,
            options: r.options.0,
            evaluation: r.evaluation.0,
            author: r.author,
            trained_at: Timestamp(r.trained_at),
        };
        (model, r.predictor)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ModelRow {
    name: String,
    version: i64,
    spec: Json<leadgate_core::scoring::ModelSpec>,
    source: String,
    author: String,
    created_at: i64,
}

impl From<ModelRow> for leadgate_core::scoring::ModelVersion {
    fn from(r: ModelRow) -> Self {
        Self {
            name: r.name,
            version: r.version,
            spec: r.spec.0,
            source: r.source,
            author: r.author,
            created_at: Timestamp(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DefinitionRow {
    name: String,
    version: i64,
    kind: String,
    expression: String,
    note: Option<String>,
    author: String,
    created_at: i64,
}

impl TryFrom<DefinitionRow> for leadgate_core::definition::Definition {
    type Error = StoreError;
    fn try_from(r: DefinitionRow) -> Result<Self, StoreError> {
        Ok(Self {
            kind: leadgate_core::definition::DefinitionKind::parse(&r.kind)
                .ok_or_else(|| corrupt("definition kind", &r.kind))?,
            name: r.name,
            version: r.version,
            expression: r.expression,
            note: r.note,
            author: r.author,
            created_at: Timestamp(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ActivationRow {
    kind: String,
    name: String,
    target: String,
    version: i64,
    at: i64,
    actor: String,
}

impl From<ActivationRow> for leadgate_core::model::Activation {
    fn from(r: ActivationRow) -> Self {
        Self { kind: r.kind, name: r.name, target: r.target, version: r.version, at: Timestamp(r.at), actor: r.actor }
    }
}

// The rows that bulk reads of SQLite decode directly (crate::direct), by the same names.
crate::direct::from_sqlite!(AccountRow { id, domain, name, created_at });
crate::direct::from_sqlite!(ContactRow {
    id,
    email,
    first_name,
    last_name,
    company,
    title,
    phone,
    country,
    account_id,
    direction,
    channel,
    stage,
    stage_at,
    owner,
    do_not_email,
    do_not_call,
    custom,
    created_at,
    updated_at,
    merged_into,
});
crate::direct::from_sqlite!(ResponseRow {
    id,
    contact_id,
    at,
    direction,
    channel,
    campaign,
    placement,
    referrer,
    vendor,
    action,
    obtained_via,
    offer,
    form_id,
    message,
    fields,
    contact_fields,
    junk,
    inbox_id,
});
crate::direct::from_sqlite!(StageChangeRow { contact_id, from_stage, to_stage, at, cause, detail, actor, value });
crate::direct::from_sqlite!(NumberedStageChangeRow { id, change: flatten });
crate::direct::from_sqlite!(ContactChangeRow { contact_id, at, cause, actor, changes });
crate::direct::from_sqlite!(NumberedContactChangeRow { id, change: flatten });
crate::direct::from_sqlite!(SubjectRow {
    contact: flatten,
    qualification,
    account_domain,
    account_name,
    account_created_at,
    stored_fit,
    stored_funnel,
    stored_pain,
    assessment,
    scored_at,
    likelihood,
    stage_steps,
    responses_brief,
});
