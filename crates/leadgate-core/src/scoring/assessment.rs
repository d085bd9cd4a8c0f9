//! What a scoring model says of one contact and why: the assessment, its factors, and
//! the scores as stored.

use super::{FunnelPosition, ModelSpec, Pain, decay};
use crate::Timestamp;
use crate::expr::facts::{ScoreFacts, days_between};
use serde::{Deserialize, Serialize};

/// A fit rule that holds for the contact. Stored as `[rule, points]`, and read
/// from that or from an object with those fields (as assessments were first stored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FitFactor {
    pub rule: String,
    pub points: i64,
}

/// What one engagement rule has earned, undecayed as of the assessment. Stored as
/// `[rule, sum, cap, activities]`, and read from that or from an object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EngagementPart {
    pub rule: String,
    /// The rule's points over every activity it matched, decayed to `as_of`, before the cap.
    pub sum: f64,
    pub cap: Option<i64>,
    /// How many activities matched.
    pub activities: u32,
}

// Every contact's assessment is stored, with these repeated in it: without the
// field names, a rescore writes a third less (docs/benchmarks.md).
impl Serialize for FitFactor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.rule, self.points).serialize(s)
    }
}

impl Serialize for EngagementPart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.rule, self.sum, self.cap, self.activities).serialize(s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grade<G> {
    pub grade: G,
    pub reason: String,
}

/// A rule that could not be evaluated for this contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleFailure {
    pub rule: String,
    pub message: String,
}

/// What a scoring model says of one contact, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub fit: i64,
    pub fit_factors: Vec<FitFactor>,
    pub engagement: Vec<EngagementPart>,
    /// The moment it was made. Stored in a column of its own beside the assessment, not
    /// in it: the store sets it from there (assessments first stored held it as well).
    #[serde(skip_serializing, default = "stored_apart")]
    pub as_of: Timestamp,
    pub half_life_days: f64,
    pub funnel: Grade<FunnelPosition>,
    pub pain: Grade<Pain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RuleFailure>,
}

/// An assessment's moment before the store sets it from its column.
fn stored_apart() -> Timestamp {
    Timestamp(0)
}

/// One line of a score's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Factor {
    pub rule: String,
    pub points: f64,
    pub reason: String,
}

impl Assessment {
    /// The scores as expressions read them, as of the assessment, with `likelihood`.
    pub fn score_facts(&self, likelihood: Option<f64>) -> ScoreFacts {
        ScoreFacts { fit: self.fit, engagement: self.engagement_at(self.as_of), likelihood }
    }

    /// The funnel position and pain, by name.
    pub fn grades(&self) -> (&'static str, &'static str) {
        (self.funnel.grade.as_str(), self.pain.grade.as_str())
    }

    /// The engagement score at `at`: each rule's sum decayed from `as_of`, then capped.
    pub fn engagement_at(&self, at: Timestamp) -> f64 {
        self.parts_at(at).map(|(_, v)| v).sum()
    }

    fn parts_at(&self, at: Timestamp) -> impl Iterator<Item = (&EngagementPart, f64)> {
        let d = decay(at.0 - self.as_of.0, self.half_life_days);
        self.engagement.iter().map(move |p| {
            let v = p.sum * d;
            (p, p.cap.map_or(v, |c| v.min(c as f64)))
        })
    }

    /// Every rule that contributed, with its points at `at` and why.
    pub fn factors(&self, at: Timestamp) -> Vec<Factor> {
        let mut out: Vec<Factor> = self
            .fit_factors
            .iter()
            .map(|f| Factor {
                rule: f.rule.clone(),
                points: f.points as f64,
                reason: format!("fit rule {:?} holds", f.rule),
            })
            .collect();
        for (p, v) in self.parts_at(at).filter(|(p, _)| p.activities > 0) {
            let capped = p.cap.is_some_and(|c| (p.sum * decay(at.0 - self.as_of.0, self.half_life_days)) > c as f64);
            out.push(Factor {
                rule: p.rule.clone(),
                points: round1(v),
                reason: format!(
                    "{} matching activit{}, each worth less with age (half-life {} days){}",
                    p.activities,
                    if p.activities == 1 { "y" } else { "ies" },
                    self.half_life_days,
                    if capped { ", capped" } else { "" }
                ),
            });
        }
        out
    }

    /// Days since the assessment was made (for callers deciding to refresh it).
    pub fn age_days(&self, now: Timestamp) -> i64 {
        days_between(self.as_of, now)
    }
}

/// One saved version of a scoring model.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub spec: ModelSpec,
    /// The model as it was written (TOML or JSON).
    pub source: String,
    pub author: String,
    pub created_at: Timestamp,
}

impl ModelVersion {
    /// `name@version`, as contacts' scores record it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// The scores a contact carries, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactScores {
    pub contact_id: uuid::Uuid,
    /// The model (`name@version`) that made the assessment.
    pub model: String,
    pub assessment: Assessment,
    /// The predicted probability of conversion, once a predictive model scored it.
    pub likelihood: Option<f64>,
    /// Why: the features that weighed most, as the predictive model explains them.
    pub likelihood_factors: Option<serde_json::Value>,
    /// The likelihood model (`likelihood@version`) that made the likelihood.
    pub likelihood_model: Option<String>,
    /// The assessment as the store keeps it, when made already ([`Self::ready_to_store`]).
    #[serde(skip)]
    pub stored_form: StoredForm,
}

impl ContactScores {
    /// With the assessment's JSON made now, where it was assessed: a rescore's many
    /// contacts are assessed on every core but written by one connection, one batch
    /// after another, which made each one's JSON as it wrote it (a quarter of its work,
    /// docs/benchmarks.md) while the cores waited on it.
    pub fn ready_to_store(mut self) -> Self {
        self.stored_form = StoredForm(serde_json::value::to_raw_value(&self.assessment).ok());
        self
    }

    /// A fingerprint of what these scores tell a reader, apart from the passage of
    /// time: the same for two assessments of a contact that differ only in that the
    /// later one's engagement has decayed further since the earlier, and (all but
    /// certainly) different when anything else differs: the model, a score, a factor,
    /// a grade or its reason, a rule's number of activities, an engagement sum beyond
    /// its decay, a failure, the likelihood or its factors. A store compares it with
    /// the one written before to tell whether the scores changed (`scores_changed`
    /// on the change feed), so that a rescore that finds a contact as it was does not
    /// announce it.
    pub fn digest(&self) -> i64 {
        // Every field named, so that one added is hashed or said not to be.
        let ContactScores {
            contact_id: _,
            model,
            assessment,
            likelihood,
            likelihood_factors,
            likelihood_model,
            stored_form: _,
        } = self;
        let Assessment { fit, fit_factors, engagement, as_of, half_life_days, funnel, pain, errors } = assessment;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let text = |h: &mut xxhash_rust::xxh3::Xxh3, t: &str| {
            h.update(&(t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        };
        h.update(&DIGEST_FORMAT.to_le_bytes());
        text(&mut h, model);
        h.update(&fit.to_le_bytes());
        h.update(&(fit_factors.len() as u64).to_le_bytes());
        for FitFactor { rule, points } in fit_factors {
            text(&mut h, rule);
            h.update(&points.to_le_bytes());
        }
        h.update(&half_life_days.to_bits().to_le_bytes());
        h.update(&(engagement.len() as u64).to_le_bytes());
        for EngagementPart { rule, sum, cap, activities } in engagement {
            text(&mut h, rule);
            h.update(&[u8::from(cap.is_some())]);
            h.update(&cap.unwrap_or(0).to_le_bytes());
            h.update(&activities.to_le_bytes());
            for n in timeless_sum(*sum, *as_of, *half_life_days) {
                h.update(&n.to_le_bytes());
            }
        }
        let (Grade { grade: funnel, reason: funnel_reason }, Grade { grade: pain, reason: pain_reason }) =
            (funnel, pain);
        for (grade, reason) in [(funnel.as_str(), funnel_reason), (pain.as_str(), pain_reason)] {
            text(&mut h, grade);
            text(&mut h, reason);
        }
        h.update(&(errors.len() as u64).to_le_bytes());
        for RuleFailure { rule, message } in errors {
            text(&mut h, rule);
            text(&mut h, message);
        }
        h.update(&[u8::from(likelihood.is_some())]);
        h.update(&likelihood.unwrap_or(0.0).to_bits().to_le_bytes());
        text(&mut h, &likelihood_factors.as_ref().map(|f| f.to_string()).unwrap_or_default());
        text(&mut h, likelihood_model.as_deref().unwrap_or_default());
        h.digest() as i64
    }

    /// The assessment's JSON as the stores keep it: as made ahead, or made now.
    pub fn stored_json(&self) -> serde_json::Result<std::borrow::Cow<'_, serde_json::value::RawValue>> {
        match self.stored_form.json() {
            Some(json) => Ok(std::borrow::Cow::Borrowed(json)),
            None => serde_json::value::to_raw_value(&self.assessment).map(std::borrow::Cow::Owned),
        }
    }
}

/// The version of what [`ContactScores::digest`] hashes and how: changed with it, so
/// that every contact's next scores are written once more rather than compared with a
/// digest made otherwise. 2: the likelihood model is hashed.
const DIGEST_FORMAT: u64 = 2;

/// An engagement sum decayed to `as_of`, as the same numbers whenever it is taken: its
/// sign, and its base-2 logarithm plus the half-lives from the epoch to `as_of`, which
/// decaying it to a later moment leaves unchanged, in millionths (floating-point
/// rounding between two assessments of the same activities stays far below one).
fn timeless_sum(sum: f64, as_of: Timestamp, half_life_days: f64) -> [i64; 2] {
    if sum == 0.0 || !sum.is_finite() || half_life_days.is_nan() || half_life_days <= 0.0 {
        return [0, sum.to_bits() as i64];
    }
    let half_lives = as_of.0 as f64 / super::MICROS_PER_DAY / half_life_days;
    [sum.signum() as i64, ((sum.abs().log2() + half_lives) * 1e6).round() as i64]
}

/// An assessment's JSON as stored, made ahead of writing it; empty until then. It
/// repeats what the assessment says, so it takes no part in comparing scores.
#[derive(Debug, Clone, Default)]
pub struct StoredForm(Option<Box<serde_json::value::RawValue>>);

impl StoredForm {
    /// The JSON, as it is written (serialised as it is, not again).
    pub fn json(&self) -> Option<&serde_json::value::RawValue> {
        self.0.as_deref()
    }
}

impl PartialEq for StoredForm {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Rounded to one decimal, as scores are shown.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
