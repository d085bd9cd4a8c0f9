//! Scores that explain themselves: fit, engagement, funnel position and pain.
//!
//! A scoring model is a document (TOML or JSON) of rules, each an expression:
//!
//! - **fit** rules look at who the contact is (`contact`, `account`, `qualification`,
//!   `responses`, …); each that holds adds its points (negative points take away);
//! - **engagement** rules look at one thing the contact did (`activity`): every event and
//!   response that satisfies a rule earns its points, which halve every
//!   `half_life_days`; a rule's `cap` bounds what it contributes;
//! - **funnel** and **pain** rules, tried in order, put the contact at `tofu`, `mofu` or
//!   `bofu` and grade its pain `low`, `medium` or `acute`; the first that holds decides,
//!   with its reason. Without any, the built-in rules of [`default_funnel`] and
//!   [`default_pain`] apply.
//!
//! Every score keeps the rules behind it ([`Assessment`]), and engagement is kept as the
//! undecayed sum of each rule, so that its value at any later time is exact without
//! reading the history again ([`Assessment::engagement_at`]).

use crate::Timestamp;
use crate::expr::facts::{ActivityFacts, Bindings, ContactFacts, Plain, PlainField};
use crate::expr::{EvalError, EventsRead, ExprError, Expression, Scope, Type};
use crate::time::MICROS_PER_SECOND;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::BuildHasher;

pub const MAX_RULES: usize = 100;
pub const MAX_POINTS: i64 = 1_000;
const MAX_NAME: usize = 80;
const MAX_REASON: usize = 200;
const MICROS_PER_DAY: f64 = 86_400.0 * MICROS_PER_SECOND as f64;

/// A scoring model as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Days after which an engagement point counts half.
    #[serde(default = "default_half_life")]
    pub half_life_days: f64,
    #[serde(default)]
    pub fit: Vec<RuleSpec>,
    #[serde(default)]
    pub engagement: Vec<RuleSpec>,
    #[serde(default)]
    pub funnel: Vec<GradeSpec>,
    #[serde(default)]
    pub pain: Vec<GradeSpec>,
}

fn default_half_life() -> f64 {
    30.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    pub when: String,
    pub points: i64,
    /// Most points the rule may contribute (engagement rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<i64>,
}

/// A funnel or pain rule: the grade it gives (`position` for funnel rules, `level` for
/// pain rules), when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeSpec {
    #[serde(alias = "position", alias = "level")]
    pub grade: String,
    pub when: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FunnelPosition {
    Tofu,
    Mofu,
    Bofu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pain {
    Low,
    Medium,
    Acute,
}

impl FunnelPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            FunnelPosition::Tofu => "tofu",
            FunnelPosition::Mofu => "mofu",
            FunnelPosition::Bofu => "bofu",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        [Self::Tofu, Self::Mofu, Self::Bofu].into_iter().find(|p| p.as_str() == s)
    }
}

impl Pain {
    pub fn as_str(self) -> &'static str {
        match self {
            Pain::Low => "low",
            Pain::Medium => "medium",
            Pain::Acute => "acute",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::Acute].into_iter().find(|p| p.as_str() == s)
    }
}

/// A part of a model that is wrong: where, and what.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelError {
    /// `fit[2].when`, `half_life_days`, …
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<ExprError>,
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.expression {
            Some(e) => write!(f, "{}: {e}", self.field),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: Expression,
    pub points: i64,
    pub cap: Option<i64>,
}

/// For an engagement rule that reads nothing but these fields of the activity (not its
/// properties, not the contact, no event counts): what it gives for one activity it
/// gives for any activity alike in them (see [`RuleResultCache`]).
fn plain_fields(when: &Expression) -> Option<Vec<PlainField>> {
    if when.reads("contact", None) || !when.event_counts().is_empty() {
        return None;
    }
    // `props` is the one field that is not plain: it names none.
    when.fields_read("activity")?.iter().map(|f| PlainField::named(f)).collect()
}

/// Engagement rules whose results are remembered together (see [`RuleResultCache`]): each
/// reads nothing of an activity but some of `fields`, so that what they give for one
/// activity they give for any activity alike in all of them.
#[derive(Debug, Clone)]
struct SameFieldRules {
    fields: Vec<PlainField>,
    /// Their places among the model's engagement rules.
    rules: Vec<usize>,
}

/// The engagement rules remembered together, and the places of those evaluated for
/// every activity. Rules reading only plain fields are remembered together, keyed by
/// the fields any of them reads. Reading the activity's age as well, an interpreted
/// rule is still remembered (with the other such, keyed by the age too), while a
/// compiled one costs less to evaluate than to look up among activities of every age.
fn alike(engagement: &[Rule]) -> (Vec<SameFieldRules>, Vec<usize>) {
    let mut groups =
        [SameFieldRules { fields: vec![], rules: vec![] }, SameFieldRules { fields: vec![], rules: vec![] }];
    let mut direct = Vec::new();
    for (i, r) in engagement.iter().enumerate() {
        let Some(fields) = plain_fields(&r.when) else {
            direct.push(i);
            continue;
        };
        let aged = fields.contains(&PlainField::DaysAgo);
        let group = match (aged, r.when.is_compiled()) {
            (false, _) => &mut groups[0],
            (true, false) => &mut groups[1],
            (true, true) => {
                direct.push(i);
                continue;
            }
        };
        group.rules.push(i);
        for f in fields {
            if !group.fields.contains(&f) {
                group.fields.push(f);
            }
        }
    }
    (groups.into_iter().filter(|g| !g.rules.is_empty()).collect(), direct)
}

#[derive(Debug, Clone)]
pub struct GradeRule<G> {
    pub grade: G,
    pub when: Expression,
    pub reason: String,
}

/// A scoring model whose every expression compiled.
#[derive(Debug, Clone)]
pub struct Model {
    pub spec: ModelSpec,
    pub half_life_days: f64,
    pub fit: Vec<Rule>,
    pub engagement: Vec<Rule>,
    pub funnel: Vec<GradeRule<FunnelPosition>>,
    pub pain: Vec<GradeRule<Pain>>,
    /// What of the scores stored before its rules read (see [`Self::reads_stored`]):
    /// found once, when compiled, as every assessment asks.
    stored: StoredRead,
    /// The engagement rules remembered together, and those evaluated for every
    /// activity (see [`alike`]).
    alike: Vec<SameFieldRules>,
    direct: Vec<usize>,
}

/// What of a contact's stored scores an assessment reads: they are read with the
/// contact only when a rule reads them, as their table is wide (every assessment
/// with its factors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredRead {
    Nothing,
    /// Fit, likelihood and grades.
    Scores,
    /// Those and the engagement score, decayed from the stored assessment.
    WithEngagement,
}

fn model_error(field: String, message: impl Into<String>) -> ModelError {
    ModelError { field, message: message.into(), expression: None }
}

impl ModelSpec {
    /// Reads a model from TOML or JSON text (JSON when it starts with `{`).
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| model_error("model".into(), format!("not a valid model: {e}")))
        } else {
            toml::from_str(text).map_err(|e| model_error("model".into(), format!("not a valid model: {}", e.message())))
        }
    }
}

/// The built-in funnel rules, used when a model gives none.
pub fn default_funnel() -> Vec<GradeSpec> {
    vec![
        GradeSpec {
            grade: "bofu".into(),
            when: "responses.exists(r, r.action in ['demo_request', 'proposal_request', 'quote_request', \
                   'contact_sales', 'trial_signup']) || events('pricing_view', 30) > 0"
                .into(),
            reason: "asked for a demo, a trial, a proposal or a quote, or viewed pricing in the last 30 days".into(),
        },
        GradeSpec {
            grade: "mofu".into(),
            when: "engagement.return_visits >= 2 || engagement.downloads_90d > 0 || size(responses) > 1".into(),
            reason: "came back, downloaded, or responded more than once".into(),
        },
        GradeSpec { grade: "tofu".into(), when: "true".into(), reason: "no sign of evaluating a purchase yet".into() },
    ]
}

/// The built-in pain rules, used when a model gives none.
pub fn default_pain() -> Vec<GradeSpec> {
    vec![
        GradeSpec {
            grade: "acute".into(),
            when: "responses.exists(r, r.days_ago <= 30 && r.action in ['demo_request', 'proposal_request', \
                   'quote_request', 'contact_sales']) || qualification.timeline in ['now', 'urgent', 'this_month']"
                .into(),
            reason: "asked for a seller in the last 30 days, or needs a solution now".into(),
        },
        GradeSpec {
            grade: "medium".into(),
            when: "engagement.return_visits >= 2 || engagement.downloads_30d > 0 || events('pricing_view', 90) > 0"
                .into(),
            reason: "keeps coming back to read about the problem".into(),
        },
        GradeSpec { grade: "low".into(), when: "true".into(), reason: "no sign of urgency yet".into() },
    ]
}

impl Model {
    /// Compiles every rule of `spec`, refusing the first that is wrong.
    pub fn compile(spec: ModelSpec) -> Result<Self, ModelError> {
        if !(spec.half_life_days.is_finite() && (0.5..=3650.0).contains(&spec.half_life_days)) {
            return Err(model_error("half_life_days".into(), "half_life_days must be from 0.5 to 3650"));
        }
        let fit = rules("fit", &spec.fit, Scope::Contact, false)?;
        let engagement = rules("engagement", &spec.engagement, Scope::Activity, true)?;
        let funnel_specs = if spec.funnel.is_empty() { default_funnel() } else { spec.funnel.clone() };
        let pain_specs = if spec.pain.is_empty() { default_pain() } else { spec.pain.clone() };
        let funnel = grades("funnel", &funnel_specs, FunnelPosition::parse, "tofu, mofu or bofu")?;
        let pain = grades("pain", &pain_specs, Pain::parse, "low, medium or acute")?;
        // A fit rule may read the stored scores and grades; grading rules read the fresh
        // fit and engagement, and the stored likelihood; every later rule reads the
        // fresh ones.
        let fit_reads = |variable: &str, field: Option<&str>| fit.iter().any(|r| r.when.reads(variable, field));
        let mut graded = funnel.iter().map(|g| &g.when).chain(pain.iter().map(|g| &g.when));
        let stored = if fit_reads("scores", Some("engagement")) {
            StoredRead::WithEngagement
        } else if fit_reads("scores", None)
            || fit_reads("funnel_position", None)
            || fit_reads("pain", None)
            || graded.any(|e| e.reads("scores", Some("likelihood")))
        {
            StoredRead::Scores
        } else {
            StoredRead::Nothing
        };
        let (alike, direct) = alike(&engagement);
        Ok(Self { half_life_days: spec.half_life_days, spec, fit, engagement, funnel, pain, stored, alike, direct })
    }

    /// What of the scores and grades the contact had before this assessment its rules
    /// read.
    pub fn reads_stored(&self) -> StoredRead {
        self.stored
    }

    /// What of a contact's events an assessment computing `needs` reads
    /// ([`Self::assess_only`]): the engagement score counts every activity of the
    /// window (their properties only if an engagement rule reads them), and the
    /// grades read it; fit rules read what their expressions read.
    pub fn events_read(&self, needs: Needs) -> EventsRead {
        if needs.engagement || needs.grades {
            let window = EventsRead { props: false, ..EventsRead::ALL };
            return self.engagement.iter().fold(window, |read, r| read.and(r.when.events_read()));
        }
        self.fit.iter().filter(|_| needs.fit).fold(EventsRead::default(), |read, r| read.and(r.when.events_read()))
    }

    /// Whether any rule an assessment computing `needs` evaluates reads `variable`
    /// (`account`, say), or its `field` when one is given, so that a caller reads it
    /// only when one does.
    pub fn reads(&self, variable: &str, field: Option<&str>, needs: Needs) -> bool {
        let needs = if needs.grades { Needs::ALL } else { needs };
        let fit = self.fit.iter().filter(|_| needs.fit).map(|r| &r.when);
        let engagement = self.engagement.iter().filter(|_| needs.engagement).map(|r| &r.when);
        let graded = self.funnel.iter().map(|g| &g.when).chain(self.pain.iter().map(|g| &g.when));
        fit.chain(engagement).chain(graded.filter(|_| needs.grades)).any(|e| e.reads(variable, field))
    }

    /// Scores and grades a contact, as of `facts.now`.
    pub fn assess(&self, facts: &ContactFacts) -> Assessment {
        self.assess_bound(facts, &facts.bind())
    }

    /// [`Self::assess`], with the contact's variables already bound (`facts.bind()`),
    /// for a caller that goes on evaluating expressions on them.
    pub fn assess_bound(&self, facts: &ContactFacts, bound: &Bindings<'_>) -> Assessment {
        self.assess_only(facts, bound, Needs::ALL, &mut RuleResultCache::default())
    }

    /// [`Self::assess_bound`], computing only what `needs` names: the other parts of
    /// the assessment are left empty (no fit points, no engagement, the lowest
    /// grades), for a caller that reads none of them, such as a backtest of a
    /// definition that reads only the fit score. `remembered` carries what engagement
    /// rules gave for activities from one contact to the next.
    pub fn assess_only(
        &self,
        facts: &ContactFacts,
        bound: &Bindings<'_>,
        needs: Needs,
        remembered: &mut RuleResultCache,
    ) -> Assessment {
        // Grading rules read both scores.
        let needs = if needs.grades { Needs::ALL } else { needs };
        let mut errors = Vec::new();
        let mut fit_factors = Vec::new();
        for r in self.fit.iter().filter(|_| needs.fit) {
            match r.when.test(bound) {
                Ok(true) => fit_factors.push(FitFactor { rule: r.name.clone(), points: r.points }),
                Ok(false) => {}
                Err(e) => errors.push(RuleFailure { rule: format!("fit: {}", r.name), message: e.0 }),
            }
        }
        let mut earned = vec![Earned::default(); if needs.engagement { self.engagement.len() } else { 0 }];
        if needs.engagement && !self.engagement.is_empty() {
            let activities = facts
                .events
                .iter()
                .map(ActivityFacts::of_event)
                .chain(facts.responses.iter().map(ActivityFacts::of_response));
            for a in activities {
                self.add(&mut earned, bound, &a, facts.now, remembered, &mut errors);
            }
        }
        // A rule that no activity satisfied contributes nothing, now or later: it is not
        // kept (most contacts satisfy few rules, and every contact's assessment is stored),
        // and its name is not copied into the assessment to be dropped again.
        let parts = (self.engagement.iter().zip(earned))
            .filter(|(_, e)| e.activities > 0)
            .map(|(r, e)| EngagementPart { rule: r.name.clone(), sum: e.sum, cap: r.cap, activities: e.activities })
            .collect();
        let mut assessment = Assessment {
            fit: fit_factors.iter().map(|f| f.points).sum(),
            fit_factors,
            engagement: parts,
            as_of: facts.now,
            half_life_days: self.half_life_days,
            funnel: Grade { grade: FunnelPosition::Tofu, reason: String::new() },
            pain: Grade { grade: Pain::Low, reason: String::new() },
            errors,
        };
        if !needs.grades {
            return assessment;
        }
        // Grading rules read the scores just given (and the grades last stored).
        let bound = bound.with_scores(&assessment.score_facts(facts.scores.likelihood), None);
        assessment.funnel = first_grade(&self.funnel, &bound, FunnelPosition::Tofu, "funnel", &mut assessment.errors);
        assessment.pain = first_grade(&self.pain, &bound, Pain::Low, "pain", &mut assessment.errors);
        assessment
    }

    /// Adds what one activity earns to `parts`, as of `now`. The activity is made a
    /// variable of `contact`'s only when a rule is evaluated for it: not for a rule
    /// that cannot hold for its kind, nor for rules that gave their results for an
    /// activity alike before.
    fn add(
        &self,
        earned: &mut [Earned],
        contact: &Bindings<'_>,
        activity: &ActivityFacts<'_>,
        now: Timestamp,
        remembered: &mut RuleResultCache,
        errors: &mut Vec<RuleFailure>,
    ) {
        let decay = decay(now.0 - activity.at.0, self.half_life_days);
        let mut bound = None;
        let mut test = |r: &Rule| {
            if r.when.required_kind().is_some_and(|kind| kind != activity.kind) {
                return Ok(false);
            }
            r.when.test(bound.get_or_insert_with(|| contact.with_activity(activity)))
        };
        let mut credit = |i: usize, result: &Result<bool, EvalError>| match result {
            Ok(true) => {
                earned[i].sum += self.engagement[i].points as f64 * decay;
                earned[i].activities += 1;
            }
            Ok(false) => {}
            Err(e) => {
                if errors.len() < 20 {
                    errors.push(RuleFailure {
                        rule: format!("engagement: {}", self.engagement[i].name),
                        message: e.0.clone(),
                    });
                }
            }
        };
        for (g, alike) in self.alike.iter().enumerate() {
            let results = remembered
                .results(g, alike, activity, now, || alike.rules.iter().map(|i| test(&self.engagement[*i])).collect());
            for (i, result) in alike.rules.iter().zip(results.iter()) {
                credit(*i, result);
            }
        }
        for i in &self.direct {
            credit(*i, &test(&self.engagement[*i]));
        }
    }
}

/// What one engagement rule has earned of a contact's activities so far.
#[derive(Debug, Clone, Copy, Default)]
struct Earned {
    /// Its points for each, decayed to the assessment's moment.
    sum: f64,
    activities: u32,
}

/// What engagement rules gave for activities, kept from one contact to the next: rules
/// [`SameFieldRules`] give the same for any two activities alike in the fields they read, and
/// activities are alike far more often than not (the same pages and kinds), so such
/// rules are evaluated once for each distinct activity, together, rather than for
/// every one: one look-up of the activity gives what all of them gave.
#[derive(Default)]
pub struct RuleResultCache {
    /// By group of rules alike, by the hash of the activity's fields they read.
    seen: Vec<HashMap<u64, Vec<CachedResults>>>,
    kept: usize,
}

/// The fields of an activity that rules alike read, and what each of them gave.
type CachedResults = (Vec<CachedValue>, Vec<Result<bool, EvalError>>);

/// A remembered field value.
#[derive(PartialEq)]
enum CachedValue {
    Text(String),
    Int(i64),
}

impl CachedValue {
    fn is(&self, p: &Plain<'_>) -> bool {
        match (self, p) {
            (CachedValue::Text(a), Plain::Text(b)) => a == b,
            (CachedValue::Int(a), Plain::Int(b)) => a == b,
            _ => false,
        }
    }
}

/// Activities remembered at most: beyond, rules are evaluated without remembering.
const REMEMBERED: usize = 100_000;

impl RuleResultCache {
    /// What the rules of `alike` (group `group` of the model) gave for an activity
    /// alike to `activity`, or `evaluate()`, in the order of `alike.rules`.
    fn results<'r>(
        &'r mut self,
        group: usize,
        alike: &SameFieldRules,
        activity: &ActivityFacts<'_>,
        now: Timestamp,
        evaluate: impl FnOnce() -> Vec<Result<bool, EvalError>>,
    ) -> std::borrow::Cow<'r, [Result<bool, EvalError>]> {
        // The fields read, on the stack: no activity has more than these.
        let mut key = [Plain::Int(0); PlainField::ALL.len()];
        for (k, f) in key.iter_mut().zip(&alike.fields) {
            *k = activity.field(*f, now);
        }
        let key = &key[..alike.fields.len()];
        let hash = foldhash::fast::FixedState::default().hash_one(key);
        if self.seen.len() <= group {
            self.seen.resize_with(group + 1, HashMap::new);
        }
        let same = |(kept, _): &CachedResults| kept.iter().zip(key).all(|(k, f)| k.is(f));
        // Found again by its place, for the borrow to end in either branch.
        if let Some(at) = self.seen[group].get(&hash).and_then(|seen| seen.iter().position(same)) {
            return std::borrow::Cow::Borrowed(&self.seen[group][&hash][at].1);
        }
        let results = evaluate();
        if self.kept >= REMEMBERED {
            return std::borrow::Cow::Owned(results);
        }
        self.kept += 1;
        let kept = key
            .iter()
            .map(|f| match f {
                Plain::Text(s) => CachedValue::Text((*s).to_owned()),
                Plain::Int(i) => CachedValue::Int(*i),
            })
            .collect();
        let seen = self.seen[group].entry(hash).or_default();
        seen.push((kept, results));
        std::borrow::Cow::Borrowed(&seen[seen.len() - 1].1)
    }
}

/// The parts of an assessment a caller reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub fit: bool,
    pub engagement: bool,
    /// The funnel position and pain, which need both scores.
    pub grades: bool,
}

impl Needs {
    pub const ALL: Needs = Needs { fit: true, engagement: true, grades: true };

    /// What expressions evaluated on the assessment's scores and grades may read.
    pub fn of<'e>(expressions: impl IntoIterator<Item = &'e Expression>) -> Needs {
        let mut needs = Needs { fit: false, engagement: false, grades: false };
        for e in expressions {
            needs.fit |= e.reads("scores", Some("fit"));
            needs.engagement |= e.reads("scores", Some("engagement"));
            needs.grades |= e.reads("funnel_position", None) || e.reads("pain", None);
        }
        needs
    }
}

/// `0.5` to the power of the elapsed half-lives; no growth for the future.
fn decay(elapsed_micros: i64, half_life_days: f64) -> f64 {
    let days = elapsed_micros.max(0) as f64 / MICROS_PER_DAY;
    0.5f64.powf(days / half_life_days)
}

fn first_grade<G: Copy>(
    rules: &[GradeRule<G>],
    bound: &Bindings<'_>,
    fallback: G,
    what: &str,
    errors: &mut Vec<RuleFailure>,
) -> Grade<G> {
    for r in rules {
        match r.when.test(bound) {
            Ok(true) => return Grade { grade: r.grade, reason: r.reason.clone() },
            Ok(false) => {}
            Err(e) => errors.push(RuleFailure { rule: format!("{what}: {}", r.reason), message: e.0 }),
        }
    }
    Grade { grade: fallback, reason: "no rule matched".into() }
}

fn check_name(field: &str, name: &str) -> Result<(), ModelError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || crate::inquiry::has_control_chars(n) {
        return Err(model_error(field.into(), format!("a rule needs a name of 1 to {MAX_NAME} printable characters")));
    }
    Ok(())
}

fn rules(section: &str, specs: &[RuleSpec], scope: Scope, capped: bool) -> Result<Vec<Rule>, ModelError> {
    if specs.len() > MAX_RULES {
        return Err(model_error(section.into(), format!("at most {MAX_RULES} {section} rules")));
    }
    let mut out = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let at = |f: &str| format!("{section}[{i}].{f}");
        check_name(&at("name"), &s.name)?;
        if specs[..i].iter().any(|o| o.name.trim() == s.name.trim()) {
            return Err(model_error(at("name"), format!("two {section} rules are named {:?}", s.name.trim())));
        }
        if !(-MAX_POINTS..=MAX_POINTS).contains(&s.points) {
            return Err(model_error(at("points"), format!("points must be from -{MAX_POINTS} to {MAX_POINTS}")));
        }
        match s.cap {
            Some(_) if !capped => return Err(model_error(at("cap"), "only engagement rules have a cap")),
            Some(c) if !(1..=MAX_POINTS * 100).contains(&c) => {
                return Err(model_error(at("cap"), "a cap must be a positive number of points"));
            }
            _ => {}
        }
        let when = Expression::compile(&s.when, scope, &Type::Bool).map_err(|e| ModelError {
            field: at("when"),
            message: e.message.clone(),
            expression: Some(e),
        })?;
        out.push(Rule { name: s.name.trim().to_owned(), when, points: s.points, cap: s.cap });
    }
    Ok(out)
}

fn grades<G: Copy>(
    section: &str,
    specs: &[GradeSpec],
    parse: fn(&str) -> Option<G>,
    allowed: &str,
) -> Result<Vec<GradeRule<G>>, ModelError> {
    if specs.len() > MAX_RULES {
        return Err(model_error(section.into(), format!("at most {MAX_RULES} {section} rules")));
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at = |f: &str| format!("{section}[{i}].{f}");
            let grade = parse(s.grade.trim())
                .ok_or_else(|| model_error(at("grade"), format!("{:?} is not one of {allowed}", s.grade)))?;
            let reason = s.reason.trim();
            if reason.is_empty() || reason.chars().count() > MAX_REASON || crate::inquiry::has_control_chars(reason) {
                return Err(model_error(at("reason"), format!("a reason of 1 to {MAX_REASON} printable characters")));
            }
            let when = Expression::compile(&s.when, Scope::ContactBeforeGrades, &Type::Bool)
                .map_err(|e| ModelError { field: at("when"), message: e.message.clone(), expression: Some(e) })?;
            Ok(GradeRule { grade, when, reason: reason.to_owned() })
        })
        .collect()
}

mod assessment;
#[cfg(test)]
mod tests;

pub use assessment::*;
