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
use crate::expr::facts::{ActivityFacts, Bound, ContactFacts, Plain, PlainField, ScoreFacts, days_between};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeSpec {
    #[serde(alias = "position", alias = "level")]
    pub grade: String,
    pub when: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunnelPosition {
    Tofu,
    Mofu,
    Bofu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
/// gives for any activity alike in them (see [`Remembered`]).
fn plain_fields(when: &Expression) -> Option<Vec<PlainField>> {
    if when.reads("contact", None) || !when.event_counts().is_empty() {
        return None;
    }
    // `props` is the one field that is not plain: it names none.
    when.fields_read("activity")?.iter().map(|f| PlainField::named(f)).collect()
}

/// Engagement rules whose results are remembered together (see [`Remembered`]): each
/// reads nothing of an activity but some of `fields`, so that what they give for one
/// activity they give for any activity alike in all of them.
#[derive(Debug, Clone)]
struct Alike {
    fields: Vec<PlainField>,
    /// Their places among the model's engagement rules.
    rules: Vec<usize>,
}

/// The engagement rules remembered together, and the places of those evaluated for
/// every activity. Rules reading only plain fields are remembered together, keyed by
/// the fields any of them reads. Reading the activity's age as well, an interpreted
/// rule is still remembered (with the other such, keyed by the age too), while a
/// compiled one costs less to evaluate than to look up among activities of every age.
fn alike(engagement: &[Rule]) -> (Vec<Alike>, Vec<usize>) {
    let mut groups = [Alike { fields: vec![], rules: vec![] }, Alike { fields: vec![], rules: vec![] }];
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
    alike: Vec<Alike>,
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
    pub fn assess_bound(&self, facts: &ContactFacts, bound: &Bound<'_>) -> Assessment {
        self.assess_only(facts, bound, Needs::ALL, &mut Remembered::default())
    }

    /// [`Self::assess_bound`], computing only what `needs` names: the other parts of
    /// the assessment are left empty (no fit points, no engagement, the lowest
    /// grades), for a caller that reads none of them, such as a backtest of a
    /// definition that reads only the fit score. `remembered` carries what engagement
    /// rules gave for activities from one contact to the next.
    pub fn assess_only(
        &self,
        facts: &ContactFacts,
        bound: &Bound<'_>,
        needs: Needs,
        remembered: &mut Remembered,
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
        contact: &Bound<'_>,
        activity: &ActivityFacts<'_>,
        now: Timestamp,
        remembered: &mut Remembered,
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
/// [`Alike`] give the same for any two activities alike in the fields they read, and
/// activities are alike far more often than not (the same pages and kinds), so such
/// rules are evaluated once for each distinct activity, together, rather than for
/// every one: one look-up of the activity gives what all of them gave.
#[derive(Default)]
pub struct Remembered {
    /// By group of rules alike, by the hash of the activity's fields they read.
    seen: Vec<HashMap<u64, Vec<Seen>>>,
    kept: usize,
}

/// The fields of an activity that rules alike read, and what each of them gave.
type Seen = (Vec<Kept>, Vec<Result<bool, EvalError>>);

/// A remembered field value.
#[derive(PartialEq)]
enum Kept {
    Text(String),
    Int(i64),
}

impl Kept {
    fn is(&self, p: &Plain<'_>) -> bool {
        match (self, p) {
            (Kept::Text(a), Plain::Text(b)) => a == b,
            (Kept::Int(a), Plain::Int(b)) => a == b,
            _ => false,
        }
    }
}

/// Activities remembered at most: beyond, rules are evaluated without remembering.
const REMEMBERED: usize = 100_000;

impl Remembered {
    /// What the rules of `alike` (group `group` of the model) gave for an activity
    /// alike to `activity`, or `evaluate()`, in the order of `alike.rules`.
    fn results<'r>(
        &'r mut self,
        group: usize,
        alike: &Alike,
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
        let same = |(kept, _): &Seen| kept.iter().zip(key).all(|(k, f)| k.is(f));
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
                Plain::Text(s) => Kept::Text((*s).to_owned()),
                Plain::Int(i) => Kept::Int(*i),
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
    bound: &Bound<'_>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade<G> {
    pub grade: G,
    pub reason: String,
}

/// A rule that could not be evaluated for this contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::tests::{DAY, NOW, ann};

    const MODEL: &str = r#"
half_life_days = 10

[[fit]]
name = "director or above"
when = "contact.title.matches('(?i)(director|vp|chief|head)')"
points = 20

[[fit]]
name = "big company"
when = "contact.custom.employees > 200"
points = 15

[[fit]]
name = "free mail"
when = "contact.free_mail"
points = -10

[[engagement]]
name = "page views"
when = "activity.kind == 'page_view'"
points = 2

[[engagement]]
name = "pricing"
when = "activity.kind == 'pricing_view'"
points = 10
cap = 8

[[engagement]]
name = "white paper"
when = "activity.source == 'response' && activity.offer == 'white paper'"
points = 5
"#;

    fn model() -> Model {
        Model::compile(ModelSpec::parse(MODEL).unwrap()).unwrap()
    }

    #[test]
    fn fit_adds_the_points_of_every_rule_that_holds_and_says_which() {
        let a = model().assess(&ann());
        assert_eq!(a.fit, 35);
        let rules: Vec<_> = a.fit_factors.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["director or above", "big company"]);
        assert!(a.errors.is_empty(), "{:?}", a.errors);
    }

    #[test]
    fn an_assessment_is_stored_without_its_repeated_names_and_read_back_whole() {
        let a = model().assess(&ann());
        assert!(!a.fit_factors.is_empty() && !a.engagement.is_empty(), "{a:?}");
        let stored = serde_json::to_string(&a).unwrap();
        assert!(!stored.contains("\"rule\"") && !stored.contains("\"errors\""), "{stored}");
        assert!(stored.contains(r#"["director or above",20]"#), "{stored}");
        // Its moment is the store's column, not repeated in it.
        assert!(!stored.contains("as_of"), "{stored}");
        let mut read = serde_json::from_str::<Assessment>(&stored).unwrap();
        read.as_of = a.as_of;
        assert_eq!(read, a);
        // As assessments were first stored: parts as objects, and the errors listed.
        let first = r#"{"fit":20,"fit_factors":[{"rule":"director or above","points":20}],
            "engagement":[{"rule":"pricing","sum":7.5,"cap":20,"activities":2}],
            "as_of":"2026-03-01T00:00:00Z","half_life_days":30.0,
            "funnel":{"grade":"mofu","reason":"came back"},"pain":{"grade":"low","reason":"none"},"errors":[]}"#;
        let read: Assessment = serde_json::from_str(first).unwrap();
        assert_eq!(read.as_of, Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap());
        assert_eq!(read.fit_factors, [FitFactor { rule: "director or above".into(), points: 20 }]);
        assert_eq!(
            read.engagement,
            [EngagementPart { rule: "pricing".into(), sum: 7.5, cap: Some(20), activities: 2 }]
        );
        assert_eq!(read.engagement_at(read.as_of), 7.5);
        // A stored part of the wrong shape is refused, not half read.
        let wrong =
            first.replace(r#"{"rule":"pricing","sum":7.5,"cap":20,"activities":2}"#, r#"[7.5, "pricing", 20, 2]"#);
        assert_ne!(wrong, first);
        assert!(serde_json::from_str::<Assessment>(&wrong).is_err());
    }

    #[test]
    fn only_the_scores_a_definition_reads_are_computed_and_they_are_the_full_ones() {
        let compile = |s: &str| crate::definition::compile_expression(s).unwrap();
        let fit_only = compile("scores.fit > 30 && contact.country != ''");
        let needs = Needs::of([&fit_only]);
        assert_eq!(needs, Needs { fit: true, engagement: false, grades: false });
        let engaged = compile("scores.engagement > 1.0 || responses.exists(r, r.offer == 'x')");
        assert_eq!(Needs::of([&engaged]), Needs { fit: false, engagement: true, grades: false });
        assert_eq!(Needs::of([&compile("pain == 'acute'")]), Needs { fit: false, engagement: false, grades: true });
        assert_eq!(Needs::of([&fit_only, &engaged]), Needs { fit: true, engagement: true, grades: false });
        let (model, facts) = (model(), ann());
        let bound = facts.bind();
        let full = model.assess_bound(&facts, &bound);
        let fit = model.assess_only(&facts, &bound, Needs::of([&fit_only]), &mut Remembered::default());
        assert_eq!((fit.fit, &fit.fit_factors), (full.fit, &full.fit_factors));
        assert_eq!(fit.engagement_at(NOW), 0.0, "engagement was not computed");
        let needs = Needs { fit: false, engagement: false, grades: true };
        let grades = model.assess_only(&facts, &bound, needs, &mut Remembered::default());
        assert_eq!(grades, full, "grading needs both scores: everything is computed");
        // And only the events they read: the fit rules here read none.
        use crate::expr::EventsRead;
        assert_eq!(model.events_read(Needs::of([&fit_only])), EventsRead::default());
        let window = EventsRead { props: false, ..EventsRead::ALL };
        assert_eq!(model.events_read(Needs::of([&engaged])), window, "every activity of the window");
        assert_eq!(model.events_read(needs), window, "no rule reads their properties");
        let props = ModelSpec::parse(&format!(
            "{MODEL}\n[[engagement]]\nname = \"pro\"\nwhen = \"activity.props.plan == 'pro'\"\npoints = 1\n"
        ));
        let props = Model::compile(props.unwrap()).unwrap();
        assert_eq!(props.events_read(needs), EventsRead::ALL, "a rule reads their properties");
        let recent = ModelSpec::parse("[[fit]]\nname = \"back\"\nwhen = \"engagement.visits_7d > 1\"\npoints = 1\n");
        let recent = Model::compile(recent.unwrap()).unwrap();
        assert_eq!(recent.events_read(Needs::of([&fit_only])), EventsRead { days: 7, ..EventsRead::default() });
    }

    #[test]
    fn rules_remembered_across_contacts_give_what_each_contact_earns() {
        let text = r#"
[[engagement]]
name = "recent views"
when = "activity.kind == 'page_view' && activity.days_ago < 3 && activity.url.matches('/page_view$')"
points = 2

[[engagement]]
name = "directors reading"
when = "activity.kind == 'page_view' && contact.title.contains('Director')"
points = 5

[[engagement]]
name = "anything with properties"
when = "activity.props.size() >= 0"
points = 1
"#;
        let model = Model::compile(ModelSpec::parse(text).unwrap()).unwrap();
        let plain: Vec<_> = model.engagement.iter().map(|r| plain_fields(&r.when)).collect();
        assert_eq!(plain[0].as_deref(), Some(&[PlainField::Kind, PlainField::DaysAgo, PlainField::Url][..]));
        assert_eq!(plain[1], None, "it reads the contact");
        assert_eq!(plain[2], None, "it reads the properties");
        // The interpreted rule reads the activity's age: remembered, keyed by it too.
        let groups: Vec<_> = model.alike.iter().map(|g| (g.fields.clone(), g.rules.clone())).collect();
        assert_eq!(groups, [(vec![PlainField::Kind, PlainField::DaysAgo, PlainField::Url], vec![0])]);
        assert_eq!(model.direct, [1, 2]);
        let compiled = ModelSpec::parse(
            "[[engagement]]\nname = \"v\"\nwhen = \"activity.kind == 'page_view'\"\npoints = 1\n\n\
             [[engagement]]\nname = \"p\"\nwhen = \"activity.url.contains('pricing') || activity.source == 'response'\"\npoints = 1\n\n\
             [[engagement]]\nname = \"r\"\nwhen = \"activity.kind == 'page_view' && activity.days_ago < 3\"\npoints = 1\n",
        );
        let compiled = Model::compile(compiled.unwrap()).unwrap();
        let groups: Vec<_> = compiled.alike.iter().map(|g| (g.fields.clone(), g.rules.clone())).collect();
        assert_eq!(
            groups,
            [(vec![PlainField::Kind, PlainField::Url, PlainField::Source], vec![0, 1])],
            "compiled rules are remembered together, keyed by every field either reads"
        );
        assert_eq!(compiled.direct, [2], "compiled and reading the age: evaluated for every activity");
        // Each rule evaluated for every activity is what remembering must give.
        let unremembered = Model { alike: vec![], direct: vec![0, 1, 2], ..compiled.clone() };
        let mut remembered = Remembered::default();
        for facts in [&ann(), &ContactFacts { responses: vec![], ..ann() }, &ann()] {
            let shared = compiled.assess_only(facts, &facts.bind(), Needs::ALL, &mut remembered);
            let alone = unremembered.assess(facts);
            assert!(alone.engagement.iter().any(|p| p.activities > 0));
            assert_eq!(shared, alone);
        }
        let director = ann();
        let mut other = ann();
        other.contact.title = Some("Student".into());
        // One memory for both, in either order, gives what each is given alone.
        for (first, second) in [(&director, &other), (&other, &director)] {
            let mut remembered = Remembered::default();
            for facts in [first, second] {
                let shared = model.assess_only(facts, &facts.bind(), Needs::ALL, &mut remembered);
                assert_eq!(shared, model.assess(facts));
            }
        }
        let part = |facts: &ContactFacts, rule: &str| {
            model.assess(facts).engagement.iter().find(|p| p.rule == rule).map_or(0, |p| p.activities)
        };
        assert_eq!((part(&director, "directors reading"), part(&other, "directors reading")), (4, 0));
        assert_eq!(part(&director, "recent views"), 3, "views 1, 1 and 2 days ago, not 5");
    }

    #[test]
    fn engagement_decays_with_age_and_stops_at_its_cap() {
        let a = model().assess(&ann());
        let part = |name: &str| a.engagement.iter().find(|p| p.rule == name).unwrap();
        // Four page views, 1, 1, 2 and 5 days ago, at half-life 10 days.
        let views = 2.0 * (0.5f64.powf(0.1) * 2.0 + 0.5f64.powf(0.2) + 0.5f64.powf(0.5));
        assert!((part("page views").sum - views).abs() < 1e-9);
        assert_eq!(part("page views").activities, 4);
        // Pricing: 10 points 10 days ago (5) and 40 days ago (0.625), capped at 8.
        assert!((part("pricing").sum - 5.625).abs() < 1e-9);
        assert!((part("white paper").sum - 5.0 * 0.5f64.powf(0.3)).abs() < 1e-9);
        let expected = views + 5.625 + 5.0 * 0.5f64.powf(0.3);
        assert!((a.engagement_at(NOW) - expected).abs() < 1e-9);
        // Ten days later every part is worth half; the cap still bounds the pricing part.
        let later = Timestamp(NOW.0 + 10 * DAY);
        assert!((a.engagement_at(later) - expected / 2.0).abs() < 1e-9);
        let factors = a.factors(NOW);
        let pricing = factors.iter().find(|f| f.rule == "pricing").unwrap();
        assert_eq!(pricing.points, 5.6);
        assert!(pricing.reason.contains("2 matching activities"), "{}", pricing.reason);
        let model = model();
        let mut capped = ann();
        capped.events.push(crate::expr::facts::EventFact {
            kind: "pricing_view".into(),
            at: NOW,
            url: None,
            props: serde_json::json!({}),
        });
        let c = model.assess(&capped);
        let f = c.factors(NOW);
        let pricing = f.iter().find(|f| f.rule == "pricing").unwrap();
        assert_eq!(pricing.points, 8.0);
        assert!(pricing.reason.ends_with("capped"), "{}", pricing.reason);
    }

    #[test]
    fn the_built_in_grades_read_what_the_contact_did() {
        let a = model().assess(&ann());
        // Ann viewed pricing 10 days ago: bottom of the funnel; she keeps coming back.
        assert_eq!(a.funnel.grade, FunnelPosition::Bofu);
        assert!(a.funnel.reason.contains("pricing"));
        assert_eq!(a.pain.grade, Pain::Medium);
        let mut quiet = ann();
        quiet.events.clear();
        quiet.responses.truncate(1);
        quiet.responses[0].action = "form_fill".into();
        let q = model().assess(&quiet);
        assert_eq!((q.funnel.grade, q.pain.grade), (FunnelPosition::Tofu, Pain::Low));
    }

    #[test]
    fn a_model_says_which_stored_scores_its_rules_read() {
        let with = |extra: &str| Model::compile(ModelSpec::parse(&format!("{MODEL}\n{extra}")).unwrap()).unwrap();
        let fit = |when: &str| format!("[[fit]]\nname = \"x\"\nwhen = \"{when}\"\npoints = 1\n");
        assert_eq!(with("").reads_stored(), StoredRead::Nothing);
        assert_eq!(with(&fit("scores.fit > 3")).reads_stored(), StoredRead::Scores);
        assert_eq!(with(&fit("pain == 'acute'")).reads_stored(), StoredRead::Scores);
        assert_eq!(with(&fit("scores.engagement > 3.0")).reads_stored(), StoredRead::WithEngagement);
        let graded = "[[funnel]]\nposition = \"bofu\"\nwhen = \"scores.likelihood > 0.5\"\nreason = \"likely\"\n\
                      [[funnel]]\nposition = \"tofu\"\nwhen = \"true\"\nreason = \"default\"\n";
        assert_eq!(with(graded).reads_stored(), StoredRead::Scores, "grades read the stored likelihood");
        let fresh = "[[funnel]]\nposition = \"bofu\"\nwhen = \"scores.fit > 30\"\nreason = \"fits\"\n\
                     [[funnel]]\nposition = \"tofu\"\nwhen = \"true\"\nreason = \"default\"\n";
        assert_eq!(with(fresh).reads_stored(), StoredRead::Nothing, "grades read the fresh fit");
    }

    #[test]
    fn a_model_may_bring_its_own_grades_and_they_may_read_the_scores() {
        let text = format!(
            "{MODEL}\n[[funnel]]\nposition = \"bofu\"\nwhen = \"scores.fit >= 35\"\nreason = \"fits\"\n\
             [[funnel]]\nposition = \"tofu\"\nwhen = \"true\"\nreason = \"default\"\n\
             [[pain]]\nlevel = \"acute\"\nwhen = \"qualification.budget == 'confirmed'\"\nreason = \"budget\"\n"
        );
        let m = Model::compile(ModelSpec::parse(&text).unwrap()).unwrap();
        let a = m.assess(&ann());
        assert_eq!((a.funnel.grade, a.funnel.reason.as_str()), (FunnelPosition::Bofu, "fits"));
        assert_eq!((a.pain.grade, a.pain.reason.as_str()), (Pain::Acute, "budget"));
    }

    #[test]
    fn json_models_read_the_same() {
        let spec = ModelSpec::parse(MODEL).unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(ModelSpec::parse(&json).unwrap(), spec);
    }

    #[test]
    fn a_rule_that_fails_for_one_contact_is_reported_and_the_others_still_count() {
        let text = MODEL.replace("contact.custom.employees > 200", "contact.custom.missing > 200");
        let a = Model::compile(ModelSpec::parse(&text).unwrap()).unwrap().assess(&ann());
        assert_eq!(a.fit, 20);
        assert_eq!(a.errors.len(), 1);
        assert_eq!(a.errors[0].rule, "fit: big company");
    }

    #[test]
    fn rules_skipped_for_other_kinds_count_what_evaluating_them_would() {
        // `(…) == true` says the same without beginning with the kind: evaluated for
        // every activity.
        let unguarded = MODEL
            .replace("\"activity.kind == 'page_view'\"", "\"(activity.kind == 'page_view') == true\"")
            .replace("\"activity.kind == 'pricing_view'\"", "\"(activity.kind == 'pricing_view') == true\"");
        assert_ne!(unguarded, MODEL);
        let assess = |text: &str| Model::compile(ModelSpec::parse(text).unwrap()).unwrap().assess(&ann());
        let (guarded, unguarded) = (assess(MODEL), assess(&unguarded));
        assert_eq!(guarded.engagement, unguarded.engagement);
        assert!(guarded.engagement.iter().all(|p| p.activities > 0), "{:?}", guarded.engagement);
        // A rule that fails on the activities of its kind is still reported.
        let failing =
            MODEL.replace("activity.kind == 'pricing_view'", "activity.kind == 'pricing_view' && activity.props.nope");
        let errors = assess(&failing).errors;
        assert!(!errors.is_empty() && errors.iter().all(|e| e.rule == "engagement: pricing"), "{errors:?}");
    }

    #[test]
    fn a_wrong_model_names_the_rule_and_the_field() {
        let cases = [
            (MODEL.replace("half_life_days = 10", "half_life_days = 0"), "half_life_days"),
            (MODEL.replace("points = 15", "points = 5000"), "fit[1].points"),
            (MODEL.replace("name = \"big company\"", "name = \"director or above\""), "fit[1].name"),
            (MODEL.replace("activity.kind == 'pricing_view'", "activity.knd == 'pricing_view'"), "engagement[1].when"),
            (MODEL.replace("contact.free_mail", "activity.kind == 'x'"), "fit[2].when"),
            (format!("{MODEL}\n[[fit]]\nname = \"x\"\nwhen = \"true\"\npoints = 1\ncap = 3\n"), "fit[3].cap"),
            (format!("{MODEL}\n[[pain]]\nlevel = \"severe\"\nwhen = \"true\"\nreason = \"r\"\n"), "pain[0].grade"),
            (format!("{MODEL}\n[[pain]]\nlevel = \"low\"\nwhen = \"pain == 'low'\"\nreason = \"r\"\n"), "pain[0].when"),
        ];
        for (text, field) in cases {
            assert_ne!(text, MODEL, "the case for {field} changes the model");
            let err = ModelSpec::parse(&text).and_then(Model::compile).expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
        let err = ModelSpec::parse("[[fit]]\nname = \"x\"\nwhen = \"true\"\npoints = 1\ncolour = 2\n").unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
        // Parsing reads the model's shape; a field an expression misspells is found when
        // it is compiled, which says where.
        let misspelt = MODEL.replace("activity.kind == 'pricing_view'", "activity.knd == 'pricing_view'");
        assert_ne!(misspelt, MODEL);
        let spec = ModelSpec::parse(&misspelt).expect("the shape of the model is right");
        let e = Model::compile(spec).unwrap_err();
        assert_eq!(e.field, "engagement[1].when", "{e}");
        let at = e.expression.unwrap();
        assert_eq!((at.line, at.column), (Some(1), Some(9)));
        assert!(at.message.contains("did you mean `kind`?"));
    }
}
