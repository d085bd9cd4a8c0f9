//! The predictive score: how likely a contact is to reach a target stage (by default
//! `customer`) within a horizon, learned from the contacts whose outcome is known, with
//! the features that weighed most for each contact.
//!
//! The learning is gradient boosting ([`perpetual`], which tunes itself from one
//! `budget`), its scores made probabilities by an isotonic map fitted on out-of-fold
//! predictions ([`calibration`]). Quality is measured, not asserted: stratified k-fold
//! cross-validation gives the ROC AUC, Brier score and reliability table a trained model
//! is reported with. Categorical values are one-hot encoded (see [`encoding`]) with an
//! explicit "not known" column.

pub mod calibration;
pub mod encoding;
pub mod features;
pub mod leakage;
pub mod metrics;
pub mod outcome;

use crate::Stage;
use calibration::{Calibration, ReliabilityBin};
use encoding::{Encoding, describe};
use features::Row;
use perpetual::booster::config::ContributionsMethod;
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use serde::{Deserialize, Serialize};

/// How many folds cross-validation uses.
pub const FOLDS: usize = 5;
/// The default horizon: reaching the target later than this after creation counts as not.
pub const DEFAULT_HORIZON_DAYS: i64 = 365;
/// The learner's budget by default: more fits longer and can fit better.
pub const DEFAULT_BUDGET: f32 = 1.0;
/// At most this many features explain a likelihood.
pub const FACTORS: usize = 3;
/// Rows of the reliability table: deciles.
pub const RELIABILITY_BINS: usize = 10;
/// Fewer rows than this are predicted on the calling thread: handing a few rows to the
/// thread pool costs more than it saves (an event scores one contact).
const PARALLEL_ROWS: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainOptions {
    pub target: Stage,
    pub horizon_days: i64,
    /// Feature names (or prefixes ending in `*`) left out, against leakage.
    pub exclude: Vec<String>,
    pub budget: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { target: Stage::Customer, horizon_days: DEFAULT_HORIZON_DAYS, exclude: vec![], budget: DEFAULT_BUDGET }
    }
}

/// What a model learns from: the features of each contact whose outcome is known, and
/// whether it reached the target; the others are only counted (their features are not
/// kept, so that a history of mostly open contacts costs little memory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Examples {
    pub known: Vec<(Row, bool)>,
    pub unknown: u64,
}

/// How well a model predicts, measured on contacts it was not trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// Cross-validated ROC AUC: 0.5 is a coin, 1 a perfect ranking.
    pub roc_auc: f64,
    /// Cross-validated Brier score: lower is better.
    pub brier: f64,
    /// The Brier score of always predicting the base rate, to compare with.
    pub brier_base_rate: f64,
    /// Cross-validated deciles of likelihood, lowest first: how many contacts, what they
    /// were given on average, how many of them reached the target. Empty for models
    /// trained before likelihoods were calibrated.
    #[serde(default)]
    pub reliability: Vec<ReliabilityBin>,
    pub folds: usize,
    /// Contacts learned from: reached the target, known not to have.
    pub positives: u64,
    pub negatives: u64,
    /// Contacts whose outcome is not known yet: scored, not learned from.
    pub unknown: u64,
    /// Features, and the matrix columns they became.
    pub features: usize,
    pub columns: usize,
    /// Features that alone rank the outcome almost perfectly: most likely recorded after
    /// it was known ([`leakage`]).
    #[serde(default)]
    pub suspect_features: Vec<leakage::FeatureAuc>,
    /// What the figures above call for before the model is trusted, in words: the
    /// suspect features to exclude, a cross-validated ROC AUC too good to be true.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// At most this many suspect features are named in a warning.
const NAMED_SUSPECTS: usize = 5;

/// The warnings an evaluation calls for, given how well each feature alone ranks the
/// outcome (`ranking`, best first) and what the model was trained without already
/// (`excluded`, kept in the list it suggests).
fn warnings(roc_auc: f64, ranking: &[leakage::FeatureAuc], excluded: &[String]) -> Vec<String> {
    let suspect = leakage::suspect(ranking);
    let mut said = Vec::new();
    let named = |of: &[&leakage::FeatureAuc]| {
        let mut named: Vec<String> = of
            .iter()
            .take(NAMED_SUSPECTS)
            .map(|s| format!("{} (ROC AUC {:.3} on its own)", s.feature, s.roc_auc))
            .collect();
        if of.len() > NAMED_SUSPECTS {
            named.push(format!("and {} more", of.len() - NAMED_SUSPECTS));
        }
        format!("{} rank{}", named.join(", "), if of.len() == 1 { "s" } else { "" })
    };
    // Engagement is counted by leadgate itself, as of the moment each contact is read:
    // a buyer's the moment it bought, when what it did to buy is recent.
    let (engagement, fields): (Vec<&leakage::FeatureAuc>, Vec<&leakage::FeatureAuc>) =
        suspect.iter().partition(|s| s.feature.starts_with("engagement."));
    if !fields.is_empty() {
        said.push(format!(
            "{} the outcome almost perfectly alone: most likely recorded after the outcome was known",
            named(&fields)
        ));
    }
    if !engagement.is_empty() {
        said.push(format!(
            "{} the outcome almost perfectly alone: contacts that reached the target are read as of that moment, so \
             activity recorded as part of reaching it (a meeting, a trial, a purchase page) gives it away",
            named(&engagement)
        ));
    }
    if !suspect.is_empty() {
        let mut exclude: Vec<&str> = excluded.iter().map(String::as_str).collect();
        exclude.extend(suspect.iter().map(|s| s.feature.as_str()));
        said.push(format!(
            "unless those are known when a person first responds, train again excluding {}",
            exclude.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if roc_auc >= leakage::SUSPECT_AUC {
        let best: Vec<String> = ranking.iter().take(3).map(|f| format!("{} ({:.3})", f.feature, f.roc_auc)).collect();
        said.push(format!(
            "a cross-validated ROC AUC of {roc_auc:.3} is suspiciously high for what is known of a person when they \
             first respond: look for fields filled in after contact (a sales team's status, tags, quality grades) \
             and exclude them; the features that rank the outcome best alone are {}",
            best.join(", ")
        ));
    }
    said
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(
        "no contact has a known outcome yet: a model learns from contacts that reached the target or are known not to have"
    )]
    NoOutcomes,
    #[error("all {count} contacts with a known outcome {what}: a model needs contacts of both kinds; {unknown} {hint}")]
    OneClass { count: u64, what: &'static str, unknown: u64, hint: String },
    #[error(
        "{positives} contacts reached the target and {negatives} are known not to have: cross-validation needs at least {needed} of each"
    )]
    TooFew { positives: u64, negatives: u64, needed: u64 },
    #[error("no feature varies among the contacts with a known outcome: there is nothing to learn from")]
    NoFeatures,
    #[error("the learner failed: {0}")]
    Learner(String),
}

/// One feature's part in a contact's likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Factor {
    pub feature: String,
    /// How much it moved the likelihood (a change in probability, -1 to 1).
    pub weight: f64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Prediction {
    pub likelihood: f64,
    pub factors: Vec<Factor>,
}

/// A trained model: the columns it reads, the boosted trees, and the map from their
/// score to a calibrated probability (absent in models trained before there was one).
#[derive(Serialize, Deserialize)]
pub struct Predictor {
    pub encoding: Encoding,
    booster: PerpetualBooster,
    #[serde(default)]
    calibration: Option<Calibration>,
}

impl std::fmt::Debug for Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor").field("features", &self.encoding.features.len()).finish_non_exhaustive()
    }
}

fn fit(rows: &[&Row], labels: &[bool], budget: f32) -> Result<Predictor, TrainError> {
    let encoding = Encoding::learn(rows, labels);
    if encoding.features.is_empty() {
        return Err(TrainError::NoFeatures);
    }
    let data = encoding.training_matrix(rows, labels);
    let y: Vec<f64> = labels.iter().map(|l| f64::from(u8::from(*l))).collect();
    let mut booster = PerpetualBooster::default().set_objective(Objective::LogLoss).set_budget(budget).set_seed(0);
    booster
        .fit(&Matrix::new(&data, rows.len(), encoding.width()), &y, None, None)
        .map_err(|e| TrainError::Learner(e.to_string()))?;
    Ok(Predictor { encoding, booster, calibration: None })
}

/// Learns from the examples with a known outcome, measuring the model by
/// cross-validation first.
pub fn train(examples: &Examples, options: &TrainOptions) -> Result<(Predictor, Evaluation), TrainError> {
    let known = &examples.known;
    let positives = known.iter().filter(|(_, l)| *l).count() as u64;
    let negatives = known.len() as u64 - positives;
    match (positives, negatives) {
        (0, 0) => return Err(TrainError::NoOutcomes),
        (0, n) => {
            let hint = format!(
                "others are not known yet. Record those that reached {target} as a stage change to {target} (an \
                 import's [[stage]], or POST /v1/contacts/{{id}}/stage)",
                target = options.target
            );
            return Err(TrainError::OneClass {
                count: n,
                what: "did not reach the target",
                unknown: examples.unknown,
                hint,
            });
        }
        (p, 0) => {
            let hint = format!(
                "others are not known yet: they have not reached {target}, and {days} days (the horizon) have not \
                 passed since they came. A contact counts as not reaching it once the horizon has passed, or at once \
                 when it is moved to lost or disqualified: record those outcomes as stage changes (an import's \
                 [[stage]] with stage = \"lost\"), or train with a shorter horizon (--horizon-days, horizon_days)",
                target = options.target,
                days = options.horizon_days
            );
            return Err(TrainError::OneClass { count: p, what: "reached the target", unknown: examples.unknown, hint });
        }
        (p, n) if p.min(n) < FOLDS as u64 * 2 => {
            return Err(TrainError::TooFew { positives: p, negatives: n, needed: FOLDS as u64 * 2 });
        }
        _ => {}
    }
    let labels: Vec<bool> = known.iter().map(|(_, l)| *l).collect();
    let rows: Vec<&Row> = known.iter().map(|(r, _)| r).collect();
    let folds = folds(&labels);
    // The learner's score of each contact by the model trained without its fold.
    let mut held_out = vec![0.0; rows.len()];
    for k in 0..FOLDS {
        let (train_rows, train_labels): (Vec<&Row>, Vec<bool>) =
            (0..rows.len()).filter(|i| folds[*i] != k).map(|i| (rows[i], labels[i])).unzip();
        let test: Vec<usize> = (0..rows.len()).filter(|i| folds[*i] == k).collect();
        let model = fit(&train_rows, &train_labels, options.budget)?;
        let test_rows: Vec<&Row> = test.iter().map(|i| rows[*i]).collect();
        for (i, p) in test.iter().zip(model.scores(&test_rows)) {
            held_out[*i] = p;
        }
    }
    let calibrated = cross_calibrated(&held_out, &labels, &folds);
    let base_rate = positives as f64 / known.len() as f64;
    let mut model = fit(&rows, &labels, options.budget)?;
    model.calibration = Some(Calibration::fit(&held_out, &labels));
    // The ranking of the scores themselves: the model's likelihoods are one monotone map
    // of them, while the folds' own calibrations, each a little different, would mix
    // the folds' orders and understate it.
    let roc_auc = metrics::roc_auc(&held_out, &labels).unwrap_or(0.5);
    let ranking = leakage::ranking_alone(&rows, &labels, &folds);
    let evaluation = Evaluation {
        warnings: warnings(roc_auc, &ranking, &options.exclude),
        suspect_features: leakage::suspect(&ranking).to_vec(),
        roc_auc,
        brier: metrics::brier(&calibrated, &labels),
        brier_base_rate: base_rate * (1.0 - base_rate),
        reliability: calibration::reliability(&calibrated, &labels, RELIABILITY_BINS),
        folds: FOLDS,
        positives,
        negatives,
        unknown: examples.unknown,
        features: model.encoding.features.len(),
        columns: model.encoding.width(),
    };
    Ok((model, evaluation))
}

/// The cross-validation fold of each example, by its outcome: the same examples, the
/// same folds.
pub fn folds(labels: &[bool]) -> Vec<usize> {
    metrics::stratified_folds(labels, FOLDS, 0)
}

/// The examples as a table, header first: a column per feature (by name; a number as
/// written, a text as it is, empty when the contact has none), then `outcome` (1 when
/// the target was reached) and the cross-validation `fold` training puts it in.
pub fn examples_table(examples: &Examples) -> impl Iterator<Item = Vec<String>> + '_ {
    let names: Vec<&str> = examples
        .known
        .iter()
        .flat_map(|(row, _)| row.iter().map(|(n, _)| n.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels: Vec<bool> = examples.known.iter().map(|(_, l)| *l).collect();
    let folds = folds(&labels);
    let header = names.iter().map(|n| (*n).to_owned()).chain(["outcome".into(), "fold".into()]).collect();
    let rows = examples.known.iter().zip(folds).map(move |((row, label), fold)| {
        let mut cells = vec![String::new(); names.len()];
        for (name, value) in row {
            if let Ok(i) = names.binary_search(&name.as_str()) {
                cells[i] = match value {
                    features::Raw::Number(n) => n.to_string(),
                    features::Raw::Text(t) => t.clone(),
                };
            }
        }
        cells.push(u8::from(*label).to_string());
        cells.push(fold.to_string());
        cells
    });
    std::iter::once(header).chain(rows)
}

/// Each contact's calibrated likelihood as measured: its fold's scores mapped by a
/// calibration fitted on the other folds only, so that the figures reported are those of
/// contacts neither the model nor its calibration saw.
fn cross_calibrated(held_out: &[f64], labels: &[bool], folds: &[usize]) -> Vec<f64> {
    let mut calibrated = vec![0.0; held_out.len()];
    for k in 0..FOLDS {
        let (scores, outcomes): (Vec<f64>, Vec<bool>) =
            (0..held_out.len()).filter(|i| folds[*i] != k).map(|i| (held_out[i], labels[i])).unzip();
        let calibration = Calibration::fit(&scores, &outcomes);
        for i in (0..held_out.len()).filter(|i| folds[*i] == k) {
            calibrated[i] = calibration.apply(held_out[i]);
        }
    }
    calibrated
}

fn sigmoid(log_odds: f64) -> f64 {
    1.0 / (1.0 + (-log_odds).exp())
}

impl Predictor {
    /// The learner's own probability of each row, before calibration: the sigmoid of
    /// its trees' log-odds (what its per-feature contributions add up to).
    fn scores(&self, rows: &[&Row]) -> Vec<f64> {
        if rows.is_empty() {
            return vec![];
        }
        let data = self.encoding.matrix(rows);
        let matrix = Matrix::new(&data, rows.len(), self.encoding.width());
        self.booster.predict(&matrix, rows.len() >= PARALLEL_ROWS).into_iter().map(sigmoid).collect()
    }

    /// The likelihood of each row, with the features that moved it most.
    pub fn predict(&self, rows: &[&Row]) -> Vec<Prediction> {
        if rows.is_empty() {
            return vec![];
        }
        let width = self.encoding.width();
        let data = self.encoding.matrix(rows);
        let matrix = Matrix::new(&data, rows.len(), width);
        let parallel = rows.len() >= PARALLEL_ROWS;
        // A model trained before calibration keeps the learner's probabilities it was
        // reported with until it is trained again.
        let uncalibrated = match self.calibration {
            None => self.booster.predict_proba(&matrix, parallel, false),
            Some(_) => vec![],
        };
        let contributions =
            self.booster.predict_contributions(&matrix, ContributionsMethod::ProbabilityChange, parallel);
        let owners = self.encoding.owners();
        let mut by_feature = vec![0.0; self.encoding.features.len()];
        rows.iter()
            .enumerate()
            .map(|(r, row)| {
                by_feature.iter_mut().for_each(|w| *w = 0.0);
                // One row's contributions: a change of the learner's probability per
                // column, then the bias (its probability for a contact it knows nothing
                // of); they add up to the row's score.
                let row_contributions = &contributions[r * (width + 1)..(r + 1) * (width + 1)];
                let (bias, score) = (row_contributions[width], row_contributions.iter().sum::<f64>());
                // In calibrated units: scaled by how much the calibrated likelihood moves
                // between the bias and the score.
                let scale = self.calibration.as_ref().map_or(1.0, |c| c.slope(bias, score));
                for (c, w) in row_contributions[..width].iter().enumerate() {
                    by_feature[owners[c]] += w * scale;
                }
                let mut order: Vec<usize> = (0..by_feature.len()).filter(|i| by_feature[*i].abs() >= 0.005).collect();
                order.sort_by(|a, b| by_feature[*b].abs().total_cmp(&by_feature[*a].abs()));
                let factors = order
                    .into_iter()
                    .take(FACTORS)
                    .map(|i| {
                        let f = &self.encoding.features[i];
                        let w = by_feature[i];
                        let direction = if w > 0.0 { "raises" } else { "lowers" };
                        Factor {
                            feature: f.name().to_owned(),
                            weight: (w * 1000.0).round() / 1000.0,
                            reason: format!(
                                "{}: {direction} the likelihood by {:.0} points",
                                describe(f, row),
                                w.abs() * 100.0
                            ),
                        }
                    })
                    .collect();
                let likelihood = self.calibration.as_ref().map_or_else(|| uncalibrated[r], |c| c.apply(score));
                Prediction { likelihood: likelihood.clamp(0.0, 1.0), factors }
            })
            .collect()
    }

    pub fn to_json(&self) -> Result<String, TrainError> {
        serde_json::to_string(self).map_err(|e| TrainError::Learner(e.to_string()))
    }

    pub fn from_json(json: &str) -> Result<Self, TrainError> {
        serde_json::from_str(json).map_err(|e| TrainError::Learner(e.to_string()))
    }
}

/// A trained model as kept: what it was trained for, how it measured, who trained it
/// and when. The latest version is the one in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainedModel {
    pub version: i64,
    pub options: TrainOptions,
    pub evaluation: Evaluation,
    pub author: String,
    pub trained_at: crate::Timestamp,
}

impl TrainedModel {
    pub fn label(&self) -> String {
        format!("likelihood@{}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use features::Raw;
    use leakage::FeatureAuc;

    #[test]
    fn warnings_name_the_suspects_with_why_and_an_exclusion_that_keeps_the_earlier_ones() {
        let f = |feature: &str, roc_auc: f64| FeatureAuc { feature: feature.into(), roc_auc };
        let ranking = [f("custom.sales_status", 0.99), f("engagement.visits_30d", 0.97), f("contact.country", 0.6)];
        let said = warnings(0.98, &ranking, &["custom.lead_number".into()]);
        assert_eq!(said.len(), 4, "{said:?}");
        assert!(
            said[0].starts_with("custom.sales_status (ROC AUC 0.990 on its own) ranks the outcome almost perfectly")
        );
        assert!(
            said[1].starts_with("engagement.visits_30d (ROC AUC 0.970 on its own) ranks")
                && said[1].contains("recorded as part of reaching it")
        );
        assert!(
            said[2].ends_with(r#"excluding "custom.lead_number", "custom.sales_status", "engagement.visits_30d""#),
            "{}",
            said[2]
        );
        assert!(
            said[3].contains("ROC AUC of 0.980 is suspiciously high") && said[3].ends_with("contact.country (0.600)")
        );
        // An honest model is not warned of.
        assert!(warnings(0.8, &ranking[2..], &[]).is_empty());
    }

    #[test]
    fn an_evaluation_stored_before_leakage_was_looked_for_reads_as_warning_of_nothing() {
        let stored = r#"{"roc_auc": 0.8, "brier": 0.1, "brier_base_rate": 0.2, "folds": 5, "positives": 20,
            "negatives": 20, "unknown": 0, "features": 3, "columns": 4}"#;
        let e: Evaluation = serde_json::from_str(stored).unwrap();
        assert_eq!((e.roc_auc, e.suspect_features.len(), e.warnings.len()), (0.8, 0, 0));
    }

    /// A uniform number in [0, 1) drawn from `i` and `stream`: repeatable.
    fn uniform(i: u64, stream: u64) -> f64 {
        (xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), stream) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Contacts whose true likelihood is known: it rises steeply with `custom.fit` and is
    /// doubled for one of three segments; about 12 % reach the target.
    fn synthetic(from: u64, count: u64) -> Vec<(Row, f64, bool)> {
        (from..from + count)
            .map(|i| {
                let fit = uniform(i, 1);
                let segment = ["smb", "mid", "enterprise"][(uniform(i, 2) * 3.0) as usize];
                let truth = (0.01 + 0.3 * fit.powi(3)) * if segment == "enterprise" { 2.0 } else { 1.0 };
                let row = vec![
                    ("custom.fit".to_owned(), Raw::Number(fit)),
                    ("custom.segment".to_owned(), Raw::Text(segment.to_owned())),
                    ("custom.noise".to_owned(), Raw::Number(uniform(i, 3))),
                ];
                (row, truth, uniform(i, 4) < truth)
            })
            .collect()
    }

    #[test]
    fn likelihoods_are_probabilities_that_match_the_rate_they_stand_for() {
        let history = synthetic(0, 6000);
        let examples = Examples { known: history.iter().map(|(r, _, y)| (r.clone(), *y)).collect(), unknown: 0 };
        let (model, evaluation) = train(&examples, &TrainOptions::default()).unwrap();
        let rate = evaluation.positives as f64 / 6000.0;
        // Measured on held-out folds: every decile's likelihood is about its rate.
        assert_eq!(evaluation.reliability.len(), RELIABILITY_BINS);
        assert_eq!(evaluation.reliability.iter().map(|b| b.contacts).sum::<u64>(), 6000);
        let mean: f64 =
            evaluation.reliability.iter().map(|b| b.mean_predicted * b.contacts as f64).sum::<f64>() / 6000.0;
        assert!((mean / rate - 1.0).abs() < 0.1, "mean {mean} against a rate of {rate}");
        for bin in &evaluation.reliability {
            assert!((bin.mean_predicted - bin.observed_rate).abs() < 0.05, "{:?}", evaluation.reliability);
        }
        // Hardly worse than knowing the true likelihoods, and far better than the base rate.
        let truth_brier = history.iter().map(|(_, t, y)| (t - f64::from(u8::from(*y))).powi(2)).sum::<f64>() / 6000.0;
        assert!(evaluation.brier < truth_brier + 0.005, "{} against {truth_brier}", evaluation.brier);
        assert!(evaluation.brier < evaluation.brier_base_rate - 0.005);
        // Contacts it has never seen: their mean likelihood is their true mean, and those
        // given the most are as likely as it says.
        let fresh = synthetic(100_000, 6000);
        let rows: Vec<&Row> = fresh.iter().map(|(r, _, _)| r).collect();
        let predicted = model.predict(&rows);
        let mean_predicted = predicted.iter().map(|p| p.likelihood).sum::<f64>() / 6000.0;
        let mean_truth = fresh.iter().map(|(_, t, _)| t).sum::<f64>() / 6000.0;
        assert!((mean_predicted / mean_truth - 1.0).abs() < 0.1, "{mean_predicted} against {mean_truth}");
        let likelihoods: Vec<f64> = predicted.iter().map(|p| p.likelihood).collect();
        let truth: Vec<bool> = fresh.iter().map(|(_, _, y)| *y).collect();
        for bin in calibration::reliability(&likelihoods, &truth, RELIABILITY_BINS) {
            assert!((bin.mean_predicted - bin.observed_rate).abs() < 0.05, "{bin:?}");
        }
        // A factor is a change of that same probability: the fit of a contact the model
        // rates highest raises it by most of what it has above the typical contact.
        let best = predicted.iter().max_by(|a, b| a.likelihood.total_cmp(&b.likelihood)).unwrap();
        let fit = best.factors.iter().find(|f| f.feature == "custom.fit").expect("fit explains the best contact");
        assert!(fit.weight > 0.1 && fit.weight < best.likelihood, "{best:?}");
        assert!(fit.reason.contains("raises the likelihood by"), "{}", fit.reason);
    }

    #[test]
    fn a_model_trained_before_calibration_keeps_the_learners_probabilities() {
        let history = synthetic(0, 600);
        let examples = Examples { known: history.iter().map(|(r, _, y)| (r.clone(), *y)).collect(), unknown: 0 };
        let (model, _) = train(&examples, &TrainOptions::default()).unwrap();
        let mut stored: serde_json::Value = serde_json::from_str(&model.to_json().unwrap()).unwrap();
        stored.as_object_mut().unwrap().remove("calibration");
        let old = Predictor::from_json(&stored.to_string()).unwrap();
        let rows: Vec<&Row> = history.iter().take(50).map(|(r, _, _)| r).collect();
        let data = old.encoding.matrix(&rows);
        let learner = old.booster.predict_proba(&Matrix::new(&data, rows.len(), old.encoding.width()), false, false);
        let likelihoods: Vec<f64> = old.predict(&rows).iter().map(|p| p.likelihood).collect();
        assert_eq!(likelihoods, learner);
        assert_ne!(likelihoods, model.predict(&rows).iter().map(|p| p.likelihood).collect::<Vec<_>>());
    }

    #[test]
    fn a_history_of_one_outcome_is_refused_saying_how_to_record_the_other() {
        let options = TrainOptions::default();
        let none_bought = Examples { known: vec![(Row::new(), false); 12], unknown: 3 };
        let message = train(&none_bought, &options).err().unwrap().to_string();
        assert!(message.starts_with("all 12 contacts with a known outcome did not reach the target"), "{message}");
        assert!(
            message.contains(
                "3 others are not known yet. Record those that reached customer as a stage change to customer"
            ),
            "{message}"
        );
        let all_bought = Examples { known: vec![(Row::new(), true); 12], unknown: 40 };
        let message = train(&all_bought, &options).err().unwrap().to_string();
        assert!(
            message.contains("40 others are not known yet: they have not reached customer, and 365 days"),
            "{message}"
        );
    }
}
