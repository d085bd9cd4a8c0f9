//! Rows of what assessment reads and writes: a contact with what it is judged on
//! (`ContactSnapshot`), stored scores, scoring models, definitions, activations, the likelihood
//! model; and the columns SQLite's bulk reads decode directly.

use super::*;

/// The query of [`crate::Store::contact_snapshots`] up to its `WHERE`: [`CONTACT_COLUMNS`] of
/// `contacts c`, then the qualification, and the account's domain, name and creation
/// and the stored scores of `accounts a` and `contact_scores s` joined to it, when
/// `parts` asks for them (the columns are `NULL` otherwise).
pub(crate) fn subject_select(parts: crate::SnapshotParts) -> String {
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

impl TryFrom<SubjectRow> for crate::ContactSnapshot {
    type Error = StoreError;
    fn try_from(r: SubjectRow) -> Result<Self, StoreError> {
        let contact = Contact::try_from(r.contact)?;
        let account = match (contact.account_id, r.account_domain, r.account_created_at) {
            (Some(id), Some(domain), Some(created_at)) => {
                Some(Account { id, domain, name: r.account_name, created_at: Timestamp(created_at) })
            }
            _ => None,
        };
        Ok(crate::ContactSnapshot {
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
    likelihood_model: Option<String>,
}

impl From<ScoresRow> for leadgate_core::scoring::ContactScores {
    fn from(r: ScoresRow) -> Self {
        Self {
            contact_id: r.contact_id,
            model: r.model,
            assessment: made_at(r.assessment.0, Some(r.as_of)),
            likelihood: r.likelihood,
            likelihood_factors: r.likelihood_factors.map(|j| j.0),
            likelihood_model: r.likelihood_model,
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
