//! Training the likelihood model on the contacts whose outcome is known, and putting it
//! in force: every contact is then rescored with its likelihood, and each contact
//! assessed afterwards (an inquiry, an event) gets one as part of its scores.

use crate::ErrorCode;
use crate::batch::{AccountBook, LiveContacts};
use crate::error::invalid;
use crate::export::Cells;
use crate::import::Progress;
use crate::qualification::assess::{Reads, read_facts};
use crate::qualification::rules::RescoreReport;
use crate::{App, AppError};
use leadgate_core::backtest::set_back_after;
use leadgate_core::expr::facts::ContactFacts;
use leadgate_core::lifecycle::StageChange;
use leadgate_core::likelihood::features::{self, Exclusions};
use leadgate_core::likelihood::outcome::{Outcome, ReachedAges, outcome, recorded_by_import};
use leadgate_core::likelihood::{self, Examples, TrainError, TrainOptions, TrainedModel};
use leadgate_core::model::ContactChange;
use leadgate_core::spreadsheet::neutralise;
use leadgate_core::{Actor, Stage, Timestamp};
use leadgate_store::{AccountPart, Contacts, Details, SnapshotParts, Store, StoredParts};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// What `POST /v1/likelihood/train` takes; every field has a default.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainInput {
    /// The stage to predict reaching (default `customer`).
    pub target: Option<String>,
    /// Reaching it later than this many days after creation counts as not (default 365).
    pub horizon_days: Option<i64>,
    /// Features left out: names such as `custom.tags`, or prefixes such as `custom.sales_*`.
    pub exclude: Option<Vec<String>>,
    /// The learner's budget (default 1.0; 0.1 to 3): more fits longer and may fit better.
    pub budget: Option<f32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainReport {
    pub model: TrainedModel,
    /// The rescore that gave every contact its likelihood.
    pub rescored: RescoreReport,
    /// Seconds spent reading the contacts, learning (with cross-validation), and in all.
    pub seconds_reading: f64,
    pub seconds_learning: f64,
    pub seconds: f64,
}

const MAX_EXCLUDE: usize = 200;

fn options(input: TrainInput) -> Result<TrainOptions, AppError> {
    let mut o = TrainOptions::default();
    if let Some(t) = input.target {
        o.target = t.trim().parse::<Stage>().map_err(|e| invalid(ErrorCode::InvalidStage, "target", e))?;
        if o.target.rank().is_none_or(|r| r < 2) {
            return Err(invalid(
                ErrorCode::InvalidStage,
                "target",
                format!(
                    "target must be a stage on the way to customer after prospect (mql … customer), not {}",
                    o.target
                ),
            ));
        }
    }
    if let Some(h) = input.horizon_days {
        if !(1..=3650).contains(&h) {
            return Err(invalid(ErrorCode::InvalidValue, "horizon_days", "horizon_days must be from 1 to 3650"));
        }
        o.horizon_days = h;
    }
    if let Some(exclude) = input.exclude {
        if exclude.len() > MAX_EXCLUDE {
            return Err(invalid(
                ErrorCode::InvalidValue,
                "exclude",
                format!("exclude takes at most {MAX_EXCLUDE} names"),
            ));
        }
        for name in &exclude {
            let n = name.trim();
            if n.is_empty() || n.len() > 200 || n.chars().any(char::is_control) {
                return Err(invalid(ErrorCode::InvalidValue, "exclude", format!("{name:?} is not a feature name")));
            }
        }
        o.exclude = exclude.iter().map(|n| n.trim().to_owned()).collect();
    }
    if let Some(b) = input.budget {
        if !(0.1..=3.0).contains(&b) {
            return Err(invalid(ErrorCode::InvalidValue, "budget", "budget must be from 0.1 to 3"));
        }
        o.budget = b;
    }
    Ok(o)
}

fn refused(e: TrainError) -> AppError {
    let code = match e {
        TrainError::NoOutcomes => ErrorCode::NoOutcomes,
        TrainError::OneClass { .. } => ErrorCode::OneOutcome,
        TrainError::TooFew { .. } => ErrorCode::TooFewOutcomes,
        TrainError::NoFeatures => ErrorCode::NoFeatures,
        TrainError::Learner(_) => return AppError::new(ErrorCode::Internal, e.to_string()),
    };
    AppError::new(code, e.to_string())
}

impl App {
    /// Learns the likelihood of reaching the target from every contact whose outcome is
    /// known, measures it by cross-validation, keeps it as the next version and
    /// rescores every contact with it. Nothing is kept when it cannot be trained.
    pub async fn train_likelihood(
        self: &Arc<Self>,
        input: TrainInput,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<TrainReport, AppError> {
        let options = options(input)?;
        let Ok(_one_at_a_time) = self.training.try_lock() else {
            return Err(AppError::new(
                ErrorCode::Training,
                "a model is being trained already; try again when it is done",
            ));
        };
        let started = std::time::Instant::now();
        let now = self.now();
        let examples = self.read_examples(&options, now, progress).await?;
        let reading = started.elapsed().as_secs_f64();
        let trained_options = options.clone();
        let (predictor, evaluation) =
            crate::off_runtime("training", move || likelihood::train(&examples, &trained_options))
                .await?
                .map_err(refused)?;
        let learning = started.elapsed().as_secs_f64() - reading;
        let json = predictor.to_json().map_err(refused)?;
        let mut model = TrainedModel { version: 0, options, evaluation, author: actor.label(), trained_at: now };
        let mut tx = self.store.begin().await?;
        let saved = tx.insert_likelihood_model(&model, &json).await.map_err(AppError::from);
        model.version = crate::finish(tx, saved).await?;
        // The warnings themselves go to whoever trained it (the report, the CLI's stderr):
        // logged too, a command would show each twice.
        let e = &model.evaluation;
        tracing::info!(model = %model.label(), roc_auc = e.roc_auc, brier = e.brier, warnings = e.warnings.len(), "likelihood model trained");
        let rescored = self.rescore(progress).await?;
        Ok(TrainReport {
            model,
            rescored,
            seconds_reading: reading,
            seconds_learning: learning,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Reads what a model learns from: the features of every contact whose outcome is
    /// known, as of the moment it is read ([`ReachedAges::read_at`]) (its fields too,
    /// [`Self::fields_as_of`]), with it; the others counted. An exclusion that leaves
    /// out none of their features is refused, not ignored.
    async fn read_examples(
        &self,
        options: &TrainOptions,
        now: Timestamp,
        progress: &dyn Progress,
    ) -> Result<Examples, AppError> {
        // First each contact's outcome, from its stage steps alone, and how long those
        // that reached the target took: the others are read at those ages. Only the
        // known outcomes are kept; a contact without one is counted as open.
        let mut known = HashMap::new();
        let mut ages = Vec::new();
        let mut batches = LiveContacts::new(self.store.as_ref());
        while let Some(ids) = batches.next().await? {
            for (id, (created, o)) in outcomes_of(self.store.as_ref(), Contacts::Run(&ids), options, now).await? {
                if let Outcome::Reached(at) = o {
                    ages.push(at.0 - created.0);
                }
                if o.label().is_some() {
                    known.insert(id, (created, o));
                }
            }
        }
        let ages = ReachedAges::new(ages);
        let exclude = Exclusions::new(&options.exclude);
        // Every feature the known contacts have, excluded or not.
        let mut features_seen = std::collections::BTreeSet::new();
        let mut examples = Examples::default();
        let mut read = 0u64;
        // What the model learns from reads no scores: the rules in force only decide
        // whether the stored ones are read.
        let rules = self.assessor.rules().await?;
        let mut batches = LiveContacts::new(self.store.as_ref());
        let accounts = AccountBook::default();
        while let Some(ids) = batches.next().await? {
            let batch = Contacts::Run(&ids);
            let (facts, mut changes) = tokio::try_join!(
                read_facts(self.store.as_ref(), batch, now, &rules, Reads::ALL, Some(&accounts)),
                async { Ok(self.store.contact_changes_of(batch).await?) },
            )?;
            // Each known contact, the moment it is read at, and what changed on it.
            let mut reads = Vec::with_capacity(facts.len());
            for f in &facts {
                let Some(&(created, o)) = known.get(&f.contact.id) else {
                    examples.unknown += 1;
                    continue;
                };
                let at = ages.read_at(o, created, f.contact.id.as_bytes(), now);
                reads.push((f, at, (created, o), changes.take(&f.contact.id)));
            }
            // Only a contact an import changed after its outcome needs its stage history.
            let changed_by_import: Vec<Uuid> = reads
                .iter()
                .filter(|(_, at, _, changes)| changes.iter().any(|c| c.at > *at && c.cause.starts_with("import ")))
                .map(|(f, ..)| f.contact.id)
                .collect();
            let mut histories = match changed_by_import.is_empty() {
                true => None,
                false => Some(self.store.stage_histories_of(Contacts::Ids(&changed_by_import)).await?),
            };
            for (f, at, known, changes) in reads {
                let history = histories.as_mut().map(|h| h.take(&f.contact.id)).unwrap_or_default();
                let as_of = fields_as_of(f, &changes, at, known, options.target, &history);
                if let std::borrow::Cow::Owned(_) = as_of {
                    // A field written after the outcome is not learned from, but it is
                    // one the contact has: excluding it is not a mistake.
                    features_seen.extend(features::row(f, at, &Exclusions::default()).into_iter().map(|(n, _)| n));
                }
                let mut row = features::row(&as_of, at, &Exclusions::default());
                for (name, _) in &row {
                    if !features_seen.contains(name) {
                        features_seen.insert(name.clone());
                    }
                }
                row.retain(|(name, _)| !exclude.excludes(name));
                examples.known.push((row, known.1.label() == Some(true)));
            }
            read += facts.len() as u64;
            progress.advance(read, read);
        }
        let unmatched = exclude.matching_nothing(&features_seen);
        if !examples.known.is_empty() && !unmatched.is_empty() {
            let message = features::matching_nothing_message(&unmatched, &features_seen, examples.known.len());
            return Err(invalid(ErrorCode::InvalidValue, "exclude", message));
        }
        Ok(examples)
    }

    /// What `leadgate model examples` writes: the rows a training with `input` would
    /// learn from, as CSV (a column per feature, then `outcome` and the cross-validation
    /// `fold`), to check the figures with another tool on the same rows and folds. Texts
    /// come from people (forms, imports): unless `cells` is raw, a cell a spreadsheet
    /// would run as a formula is written as text, as exports are. A reader that stops
    /// early (`| head`) has what it wanted: that is not an error.
    pub async fn likelihood_examples(
        &self,
        input: TrainInput,
        cells: Cells,
        out: &mut dyn std::io::Write,
        progress: &dyn Progress,
    ) -> Result<u64, AppError> {
        let options = options(input)?;
        let examples = self.read_examples(&options, self.now(), progress).await?;
        let mut csv = csv::Writer::from_writer(out);
        let written = likelihood::examples_table(&examples).try_for_each(|record| match cells {
            Cells::Raw => csv.write_record(&record),
            Cells::SpreadsheetSafe => csv.write_record(record.iter().map(|c| neutralise(c).into_owned())),
        });
        let written = written.and_then(|()| csv.flush().map_err(csv::Error::from));
        match written {
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe) => {}
            Err(e) => {
                return Err(AppError::new(ErrorCode::Internal, format!("writing the examples failed: {e}")));
            }
            Ok(()) => {}
        }
        Ok(examples.known.len() as u64)
    }

    /// The likelihood model in force, if one was trained.
    pub async fn likelihood_model(&self) -> Result<TrainedModel, AppError> {
        self.store
            .likelihood_model(None)
            .await?
            .map(|(m, _)| m)
            .ok_or_else(|| AppError::new(ErrorCode::NoModel, "no likelihood model has been trained yet"))
    }
}

/// The outcome of each of these contacts, from its stage, when it came and its stage
/// steps (packed on its row), read with nothing else of it.
async fn outcomes_of(
    store: &dyn Store,
    batch: Contacts<'_>,
    options: &TrainOptions,
    now: Timestamp,
) -> Result<HashMap<Uuid, (Timestamp, Outcome)>, AppError> {
    let parts = SnapshotParts {
        details: Details::NONE,
        qualification: false,
        account: AccountPart::Nothing,
        custom: false,
        stage: true,
        stage_steps: true,
        responses: None,
        stored: StoredParts::None,
        created_by: None,
    };
    let subjects = store.contact_snapshots(batch, parts).await?;
    Ok(subjects
        .into_iter()
        .map(|s| {
            let c = &s.contact;
            let o = outcome(c.created_at, c.stage, &s.stage_steps, options.target, options.horizon_days, now);
            (c.id, (c.created_at, o))
        })
        .collect())
}

/// The contact as `f` has it, its fields set back to what they were at `at` where
/// `changes` (its own, oldest first) changed them later: what was written after the
/// outcome (a sales team's notes) must not teach the model. What the import that
/// recorded the outcome (found in `history`, its stage changes) set in the same row is
/// kept: the file states them together.
fn fields_as_of<'f>(
    f: &'f ContactFacts,
    changes: &[ContactChange],
    at: Timestamp,
    (created, outcome): (Timestamp, Outcome),
    target: Stage,
    history: &[StageChange],
) -> std::borrow::Cow<'f, ContactFacts> {
    if changes.iter().all(|c| c.at <= at) {
        return std::borrow::Cow::Borrowed(f);
    }
    let by_import = recorded_by_import(outcome, target, created, history);
    let mut f = f.clone();
    set_back_after(&mut f.contact, &mut f.qualification, changes, at, |c| Some(c.cause.as_str()) == by_import);
    if f.contact.account_id.is_none() {
        f.account = None;
    }
    std::borrow::Cow::Owned(f)
}
