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

    /// The assessment's JSON as the stores keep it: as made ahead, or made now.
    pub fn stored_json(&self) -> serde_json::Result<std::borrow::Cow<'_, serde_json::value::RawValue>> {
        match self.stored_form.json() {
            Some(json) => Ok(std::borrow::Cow::Borrowed(json)),
            None => serde_json::value::to_raw_value(&self.assessment).map(std::borrow::Cow::Owned),
        }
    }
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
