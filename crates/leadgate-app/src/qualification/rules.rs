//! Managing scoring models and lead definitions, recording qualification, rescoring.

use crate::ErrorCode;
use crate::import::Progress;
use crate::qualification::assess::AssessReport;
use crate::{App, AppError};
use leadgate_core::definition::{self, Definition, DefinitionKind, MAX_NOTE};
use leadgate_core::ident::truncate;
use leadgate_core::lifecycle::Actor;
use leadgate_core::model::{Activation, Qualification};
use leadgate_core::scoring::{Model, ModelSpec, ModelVersion};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Longest model document accepted, in bytes.
pub const MAX_MODEL: usize = 256 * 1024;
const MAX_QUALIFICATION: usize = 200;

fn check_name(name: &str, field: &str) -> Result<(), AppError> {
    definition::check_name(name).map_err(|m| AppError::new(ErrorCode::InvalidName, m).field(field))
}

/// A lead definition as written: what `PUT /v1/definitions/{name}` takes.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionInput {
    pub expression: String,
    pub kind: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedModel {
    #[serde(flatten)]
    pub model: ModelVersion,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoringModels {
    pub models: Vec<ModelVersion>,
    /// The active model, or `null` while contacts are graded by the built-in rules.
    pub active: Option<Activation>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DefinitionVersions {
    pub name: String,
    pub versions: Vec<Definition>,
    pub active_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DefinitionSummary {
    #[serde(flatten)]
    pub latest: Definition,
    pub active_version: Option<i64>,
}

/// What rescoring every contact did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RescoreReport {
    #[serde(flatten)]
    pub assessed: AssessReport,
    pub model: String,
    pub seconds: f64,
}

impl App {
    /// Saves a new version of scoring model `name` from TOML or JSON text. The first
    /// model saved, and a new version of the active model, become active at once (and
    /// every contact is rescored in the background); others wait for `activate`.
    pub async fn save_scoring_model(
        self: &Arc<Self>,
        name: &str,
        text: &str,
        actor: &Actor,
    ) -> Result<SavedModel, AppError> {
        check_name(name, "name")?;
        if text.len() > MAX_MODEL {
            return Err(AppError::new(ErrorCode::BodyTooLarge, format!("a model is at most {MAX_MODEL} bytes")));
        }
        let spec = ModelSpec::parse(text).map_err(model_error)?;
        Model::compile(spec.clone()).map_err(model_error)?;
        let active = self.store.activations("scoring").await?.into_iter().next();
        let activate = active.as_ref().is_none_or(|a| a.target == name);
        let mut tx = self.store.begin().await?;
        let now = self.now();
        let result = async {
            let version = tx.next_model_version(name).await?;
            let model = ModelVersion {
                name: name.to_owned(),
                version,
                spec,
                source: text.to_owned(),
                author: actor.label(),
                created_at: now,
            };
            tx.insert_scoring_model(&model).await?;
            if activate {
                tx.activate(&scoring_activation(&model, now, actor)).await?;
            }
            Ok::<_, leadgate_store::StoreError>(model)
        }
        .await
        .map_err(AppError::from);
        let model = crate::finish(tx, result).await?;
        if activate {
            self.rules_changed();
        }
        Ok(SavedModel { model, active: activate })
    }

    pub async fn scoring_model(&self, name: &str, version: Option<i64>) -> Result<ModelVersion, AppError> {
        self.store.scoring_model(name, version).await?.ok_or_else(|| {
            AppError::new(
                ErrorCode::UnknownModel,
                match version {
                    Some(v) => format!("scoring model {:?} has no version {v}", truncate(name, 60)),
                    None => format!("there is no scoring model {:?}", truncate(name, 60)),
                },
            )
        })
    }

    pub async fn scoring_models(&self) -> Result<ScoringModels, AppError> {
        Ok(ScoringModels {
            models: self.store.scoring_models().await?,
            active: self.store.activations("scoring").await?.into_iter().next(),
        })
    }

    /// Makes a version of a model (its latest when none is given) the one that scores
    /// contacts, and rescores every contact in the background.
    pub async fn activate_scoring(
        self: &Arc<Self>,
        name: &str,
        version: Option<i64>,
        actor: &Actor,
    ) -> Result<Activation, AppError> {
        let model = self.scoring_model(name, version).await?;
        let activation = scoring_activation(&model, self.now(), actor);
        let mut tx = self.store.begin().await?;
        let result = tx.activate(&activation).await.map_err(AppError::from);
        crate::finish(tx, result).await?;
        self.rules_changed();
        Ok(activation)
    }

    /// Saves a new version of definition `name`; it moves contacts once activated.
    pub async fn save_definition(
        &self,
        name: &str,
        input: DefinitionInput,
        actor: &Actor,
    ) -> Result<Definition, AppError> {
        check_name(name, "name")?;
        let kind = DefinitionKind::parse(&input.kind)
            .ok_or_else(|| AppError::new(ErrorCode::InvalidKind, "kind must be mql, sql or junk").field("kind"))?;
        let note = input.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(n) = &note
            && (n.chars().count() > MAX_NOTE
                || leadgate_core::inquiry::has_control_chars(n.replace('\n', " ").as_str()))
        {
            return Err(AppError::new(
                ErrorCode::InvalidNote,
                format!("note must be at most {MAX_NOTE} printable characters"),
            )
            .field("note"));
        }
        definition::compile_expression(&input.expression).map_err(expression_error)?;
        let mut tx = self.store.begin().await?;
        let now = self.now();
        let result = async {
            let version = tx.next_definition_version(name).await?;
            let d = Definition {
                name: name.to_owned(),
                version,
                kind,
                expression: input.expression.clone(),
                note,
                author: actor.label(),
                created_at: now,
            };
            tx.insert_definition(&d).await?;
            Ok::<_, leadgate_store::StoreError>(d)
        }
        .await
        .map_err(AppError::from);
        crate::finish(tx, result).await
    }

    pub async fn definition_versions(&self, name: &str) -> Result<DefinitionVersions, AppError> {
        let versions = self.store.definition_versions(name).await?;
        if versions.is_empty() {
            return Err(AppError::new(
                ErrorCode::UnknownDefinition,
                format!("there is no definition {:?}", truncate(name, 60)),
            ));
        }
        let active_version = self.active_definition_version(name).await?;
        Ok(DefinitionVersions { name: name.to_owned(), versions, active_version })
    }

    async fn active_definition_version(&self, name: &str) -> Result<Option<i64>, AppError> {
        Ok(self.store.activations("definition").await?.into_iter().find(|a| a.name == name).map(|a| a.version))
    }

    pub async fn definitions(&self) -> Result<Vec<DefinitionSummary>, AppError> {
        let active = self.store.activations("definition").await?;
        Ok(self
            .store
            .definitions()
            .await?
            .into_iter()
            .map(|d| {
                let active_version = active.iter().find(|a| a.name == d.name).map(|a| a.version);
                DefinitionSummary { latest: d, active_version }
            })
            .collect())
    }

    pub async fn definition(&self, name: &str, version: Option<i64>) -> Result<Definition, AppError> {
        self.store.definition(name, version).await?.ok_or_else(|| {
            AppError::new(
                ErrorCode::UnknownDefinition,
                match version {
                    Some(v) => format!("definition {:?} has no version {v}", truncate(name, 60)),
                    None => format!("there is no definition {:?}", truncate(name, 60)),
                },
            )
        })
    }

    /// Makes a version of a definition (its latest when none is given) the one in force:
    /// activating an earlier version rolls back. Contacts are requalified in the
    /// background.
    pub async fn activate_definition(
        self: &Arc<Self>,
        name: &str,
        version: Option<i64>,
        actor: &Actor,
    ) -> Result<Activation, AppError> {
        let d = self.definition(name, version).await?;
        let activation = Activation {
            kind: "definition".into(),
            name: d.name.clone(),
            target: d.name.clone(),
            version: d.version,
            at: self.now(),
            actor: actor.label(),
        };
        let mut tx = self.store.begin().await?;
        let result = tx.activate(&activation).await.map_err(AppError::from);
        crate::finish(tx, result).await?;
        self.rules_changed();
        Ok(activation)
    }

    /// Takes a definition out of force; it keeps its versions.
    pub async fn deactivate_definition(&self, name: &str, actor: &Actor) -> Result<(), AppError> {
        self.definition(name, None).await?;
        let mut tx = self.store.begin().await?;
        let result = tx.deactivate("definition", name, self.now(), &actor.label()).await.map_err(AppError::from);
        let was = crate::finish(tx, result).await?;
        if !was {
            return Err(AppError::new(ErrorCode::NotActive, format!("definition {name:?} is not active")));
        }
        self.assessor.forget_rules();
        Ok(())
    }

    /// Records what a qualifier or seller learnt (each field replaces what was known;
    /// `null` or `""` clears it), then requalifies the contact.
    pub async fn set_qualification(
        &self,
        id: Uuid,
        q: Qualification,
        actor: &Actor,
    ) -> Result<Qualification, AppError> {
        let q = clean_qualification(q)?;
        let before = self.store.qualifications(&[id]).await?.into_iter().next().map(|(_, q)| q);
        if before.is_none() {
            return Err(AppError::new(ErrorCode::UnknownContact, format!("no contact {id}")));
        }
        let mut tx = self.store.begin().await?;
        let result = async {
            let written = self.write_qualification(tx.as_mut(), id, &q, actor).await?;
            // A person acting on a contact handed to them stops its SLA clock.
            if written {
                self.note_first_action(tx.as_mut(), id, actor).await?;
            }
            Ok::<_, AppError>(())
        }
        .await;
        let ((), last_change) = crate::finish_in_feed(tx, result).await?;
        // Sales' answer may qualify the contact: it is scored before this returns.
        self.wait_until_scored(last_change).await;
        Ok(q)
    }

    /// Writes `q` as `id`'s qualification in `tx` with the change it makes, when it
    /// changes anything; whether it did.
    pub(crate) async fn write_qualification(
        &self,
        tx: &mut dyn leadgate_store::Tx,
        id: Uuid,
        q: &Qualification,
        actor: &Actor,
    ) -> Result<bool, AppError> {
        let before = tx.qualification_of(id).await?;
        if before == *q {
            return Ok(false);
        }
        let mut changes = serde_json::Map::new();
        for (field, from, to) in [
            ("budget", &before.budget, &q.budget),
            ("authority", &before.authority, &q.authority),
            ("need", &before.need, &q.need),
            ("timeline", &before.timeline, &q.timeline),
        ] {
            if from != to {
                changes.insert(format!("qualification.{field}"), json!({"from": from, "to": to}));
            }
        }
        let change = leadgate_core::model::ContactChange {
            contact_id: id,
            at: self.now(),
            cause: "qualification".into(),
            actor: actor.label(),
            changes,
        };
        tx.set_qualification(id, q).await?;
        tx.insert_contact_change(&change).await?;
        Ok(true)
    }

    /// Scores, grades and requalifies every contact, in batches; `progress` hears of
    /// each batch (contacts done, as both figures).
    pub async fn rescore(&self, progress: &dyn Progress) -> Result<RescoreReport, AppError> {
        let _one_at_a_time = self.rescoring.lock().await;
        let started = std::time::Instant::now();
        self.assessor.forget_rules();
        let model = self.assessor.rules().await?.model.0.clone();
        let mut contacts = 0;
        let report = self
            .assessor
            .assess_every(|batch| {
                contacts += batch.contacts;
                progress.advance(contacts, contacts);
            })
            .await?;
        Ok(RescoreReport { assessed: report, model, seconds: started.elapsed().as_secs_f64() })
    }

    /// The rules in force changed: read them again, and rescore every contact in the
    /// background (after a rescore already running, so that the latest rules win).
    fn rules_changed(self: &Arc<Self>) {
        self.assessor.forget_rules();
        let app = self.clone();
        tokio::spawn(async move {
            match app.rescore(&()).await {
                Ok(r) => tracing::info!(
                    contacts = r.assessed.contacts,
                    moved = r.assessed.moved,
                    seconds = r.seconds,
                    "rescored"
                ),
                Err(e) => tracing::error!(error = %e, "rescoring stopped; run `leadgate rescore`"),
            }
        });
    }
}

fn scoring_activation(m: &ModelVersion, at: leadgate_core::Timestamp, actor: &Actor) -> Activation {
    Activation {
        kind: "scoring".into(),
        name: String::new(),
        target: m.name.clone(),
        version: m.version,
        at,
        actor: actor.label(),
    }
}

fn model_error(e: leadgate_core::scoring::ModelError) -> AppError {
    let (line, column) = e.expression.as_ref().map_or((None, None), |x| (x.line, x.column));
    AppError::new(ErrorCode::InvalidModel, e.to_string()).field(e.field.clone()).at(line, column)
}

fn expression_error(e: leadgate_core::expr::ExprError) -> AppError {
    AppError::new(ErrorCode::InvalidExpression, e.to_string()).field("expression").at(e.line, e.column)
}

/// `q` trimmed, blanks as none; refused where a field is too long or holds control
/// characters.
pub(crate) fn clean_qualification(q: Qualification) -> Result<Qualification, AppError> {
    let clean = |field: &'static str, v: Option<String>| -> Result<Option<String>, AppError> {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match &v {
            Some(s) if s.chars().count() > MAX_QUALIFICATION || leadgate_core::inquiry::has_control_chars(s) => {
                Err(AppError::new(
                    ErrorCode::InvalidValue,
                    format!("{field} must be at most {MAX_QUALIFICATION} printable characters"),
                )
                .field(field))
            }
            _ => Ok(v),
        }
    };
    Ok(Qualification {
        budget: clean("budget", q.budget)?,
        authority: clean("authority", q.authority)?,
        need: clean("need", q.need)?,
        timeline: clean("timeline", q.timeline)?,
    })
}
