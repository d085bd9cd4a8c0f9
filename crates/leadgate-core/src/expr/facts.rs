//! What an expression sees: a contact and what it did, as values of the language.

use super::EventCount;
use super::schema::NEVER_DAYS;
use crate::Timestamp;
use crate::account::is_free_mail_domain;
use crate::model::{Account, Contact, Qualification, Response};
use crate::time::MICROS_PER_SECOND;
use cel::Value;
use cel::objects::{Key, Map};
use serde_json::Value as Json;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// One event of a contact, as far as expressions read it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFact {
    pub kind: String,
    pub at: Timestamp,
    pub url: Option<String>,
    pub props: Json,
}

impl From<&crate::NewEvent> for EventFact {
    fn from(e: &crate::NewEvent) -> Self {
        EventFact { kind: e.kind.to_string(), at: e.at, url: e.url.clone(), props: e.props.clone() }
    }
}

/// The scores a contact had, for expressions that read them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoreFacts {
    pub fit: i64,
    pub engagement: f64,
    pub likelihood: Option<f64>,
}

/// Everything known of a contact that expressions may read.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactFacts {
    pub contact: Contact,
    pub account: Option<Account>,
    pub responses: Vec<Response>,
    /// Its events of the last [`super::MAX_EVENT_DAYS`] days (older ones count only
    /// for `days_since_last_activity`, through `last_activity`).
    pub events: Vec<EventFact>,
    /// When it last did anything, events and responses alike.
    pub last_activity: Option<Timestamp>,
    pub qualification: Qualification,
    pub scores: ScoreFacts,
    /// Its funnel position and pain, once graded.
    pub grades: Option<(String, String)>,
    pub now: Timestamp,
}

/// Whole days from `at` to `now` (0 for the future).
pub fn days_between(at: Timestamp, now: Timestamp) -> i64 {
    ((now.0 - at.0) / MICROS_PER_DAY).max(0)
}

fn text(s: &Option<String>) -> Value {
    Value::String(Arc::new(s.clone().unwrap_or_default()))
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_owned()))
}

fn object(fields: Vec<(&'static str, Value)>) -> Value {
    let map: HashMap<Key, Value> = fields.into_iter().map(|(k, v)| (Key::String(Arc::new(k.to_owned())), v)).collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// A JSON value (custom fields, form fields, event properties) as a value of the
/// language.
pub fn json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => string(s),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(json).collect())),
        Json::Object(m) => {
            let map: HashMap<Key, Value> = m.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), json(v))).collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

fn json_map(m: &serde_json::Map<String, Json>) -> Value {
    let map: HashMap<Key, Value> = m.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), json(v))).collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// The context every evaluation starts from: the standard functions, built once.
fn root() -> &'static cel::Context<'static, 'static> {
    static ROOT: OnceLock<cel::Context<'static, 'static>> = OnceLock::new();
    ROOT.get_or_init(cel::Context::default)
}

/// The `contact` variable of a contact.
pub fn contact_value(c: &Contact, now: Timestamp) -> Value {
    let domain = c.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_owned());
    object(vec![
        ("email", text(&c.email)),
        ("free_mail", Value::Bool(domain.as_deref().is_some_and(is_free_mail_domain))),
        ("domain", text(&domain)),
        ("first_name", text(&c.first_name)),
        ("last_name", text(&c.last_name)),
        ("company", text(&c.company)),
        ("title", text(&c.title)),
        ("phone", text(&c.phone)),
        ("country", text(&c.country)),
        ("owner", text(&c.owner)),
        ("direction", string(c.direction.as_str())),
        ("channel", text(&c.channel)),
        ("stage", string(c.stage.as_str())),
        ("days_in_stage", Value::Int(days_between(c.stage_at, now))),
        ("age_days", Value::Int(days_between(c.created_at, now))),
        ("do_not_email", Value::Bool(c.do_not_email)),
        ("do_not_call", Value::Bool(c.do_not_call)),
        ("custom", json_map(&c.custom)),
    ])
}

fn response_value(r: &Response, now: Timestamp) -> Value {
    object(vec![
        ("days_ago", Value::Int(days_between(r.at, now))),
        ("direction", string(r.direction.as_str())),
        ("channel", text(&r.channel)),
        ("campaign", text(&r.campaign)),
        ("placement", text(&r.placement)),
        ("referrer", text(&r.referrer)),
        ("vendor", text(&r.vendor)),
        ("action", string(&r.action)),
        ("obtained_via", string(&r.obtained_via)),
        ("offer", text(&r.offer)),
        ("fields", json_map(&r.fields)),
    ])
}

/// A contact's engagement as of a moment: the `engagement` variables of expressions,
/// and the engagement features of the likelihood model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engagement {
    /// By window (7, 30 and 90 days): page views, downloads (events and responses),
    /// emails opened, emails clicked.
    pub visits: [i64; 3],
    pub downloads: [i64; 3],
    pub emails_opened: [i64; 3],
    pub emails_clicked: [i64; 3],
    /// Days with a page view in the last 90, less the first.
    pub return_visits: i64,
    pub days_since_last_activity: i64,
}

impl Engagement {
    /// The windows, in days.
    pub const WINDOWS: [i64; 3] = [7, 30, 90];

    /// Counted from `events` and `responses` as of `now`; `last_activity` is when the
    /// contact last did anything (older events included).
    pub fn of(events: &[EventFact], responses: &[Response], last_activity: Option<Timestamp>, now: Timestamp) -> Self {
        let within = |kind: &str, days: i64| {
            events.iter().filter(|e| e.kind == kind && days_between(e.at, now) < days).count() as i64
        };
        let by_window = |count: &dyn Fn(i64) -> i64| Self::WINDOWS.map(count);
        let mut visit_days: Vec<i64> = events
            .iter()
            .filter(|e| e.kind == "page_view" && days_between(e.at, now) < 90)
            .map(|e| e.at.0.div_euclid(MICROS_PER_DAY))
            .collect();
        visit_days.sort_unstable();
        visit_days.dedup();
        Engagement {
            visits: by_window(&|d| within("page_view", d)),
            downloads: by_window(&|d| {
                within("download", d)
                    + responses.iter().filter(|r| r.action == "download" && days_between(r.at, now) < d).count() as i64
            }),
            emails_opened: by_window(&|d| within("email_open", d)),
            emails_clicked: by_window(&|d| within("email_click", d)),
            return_visits: visit_days.len().saturating_sub(1) as i64,
            days_since_last_activity: last_activity.map_or(NEVER_DAYS, |at| days_between(at, now)),
        }
    }

    /// Every figure by its variable name (`visits_7d`, …, `days_since_last_activity`).
    pub fn named(&self) -> Vec<(&'static str, i64)> {
        const NAMES: [[&str; 3]; 4] = [
            ["visits_7d", "visits_30d", "visits_90d"],
            ["downloads_7d", "downloads_30d", "downloads_90d"],
            ["emails_opened_7d", "emails_opened_30d", "emails_opened_90d"],
            ["emails_clicked_7d", "emails_clicked_30d", "emails_clicked_90d"],
        ];
        let mut named = Vec::with_capacity(14);
        for (names, counts) in NAMES.iter().zip([self.visits, self.downloads, self.emails_opened, self.emails_clicked])
        {
            named.extend(names.iter().copied().zip(counts));
        }
        named.push(("return_visits", self.return_visits));
        named.push(("days_since_last_activity", self.days_since_last_activity));
        named
    }
}

impl ContactFacts {
    /// The `engagement` variables.
    fn engagement(&self) -> Value {
        let e = Engagement::of(&self.events, &self.responses, self.last_activity, self.now);
        object(e.named().into_iter().map(|(name, n)| (name, Value::Int(n))).collect())
    }

    /// The values of the contact scope, computed once for any number of expressions.
    pub fn bind(&self) -> Bound<'_> {
        let q = &self.qualification;
        let account = self.account.as_ref();
        let mut vars = vec![
            ("contact", contact_value(&self.contact, self.now)),
            (
                "account",
                object(vec![
                    ("domain", string(account.map_or("", |a| a.domain.as_str()))),
                    ("name", string(account.and_then(|a| a.name.as_deref()).unwrap_or(""))),
                ]),
            ),
            ("responses", Value::List(Arc::new(self.responses.iter().map(|r| response_value(r, self.now)).collect()))),
            ("engagement", self.engagement()),
            (
                "qualification",
                object(vec![
                    ("budget", text(&q.budget)),
                    ("authority", text(&q.authority)),
                    ("need", text(&q.need)),
                    ("timeline", text(&q.timeline)),
                ]),
            ),
        ];
        vars.extend(scores_vars(&self.scores, self.grades.as_ref().map(|(f, p)| (f.as_str(), p.as_str()))));
        Bound::new(vars, &self.events, self.now)
    }
}

/// The `scores` variable, and `funnel_position` and `pain` once graded.
fn scores_vars(scores: &ScoreFacts, grades: Option<(&str, &str)>) -> Vec<(&'static str, Value)> {
    let mut vars = vec![(
        "scores",
        object(vec![
            ("fit", Value::Int(scores.fit)),
            ("engagement", Value::Float(scores.engagement)),
            ("likelihood", scores.likelihood.map_or(Value::Null, Value::Float)),
        ]),
    )];
    if let Some((funnel, pain)) = grades {
        vars.push(("funnel_position", string(funnel)));
        vars.push(("pain", string(pain)));
    }
    vars
}

/// One thing a contact did, as an engagement rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityFacts<'a> {
    /// `event` or `response`.
    pub source: &'static str,
    pub kind: &'a str,
    pub at: Timestamp,
    pub url: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub offer: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub props: &'a Json,
}

impl<'a> ActivityFacts<'a> {
    pub fn of_event(e: &'a EventFact) -> Self {
        Self {
            source: "event",
            kind: &e.kind,
            at: e.at,
            url: e.url.as_deref(),
            channel: None,
            campaign: None,
            offer: None,
            vendor: None,
            props: &e.props,
        }
    }

    pub fn of_response(r: &'a Response, fields: &'a Json) -> Self {
        Self {
            source: "response",
            kind: &r.action,
            at: r.at,
            url: None,
            channel: r.channel.as_deref(),
            campaign: r.campaign.as_deref(),
            offer: r.offer.as_deref(),
            vendor: r.vendor.as_deref(),
            props: fields,
        }
    }

    fn value(&self, now: Timestamp) -> Value {
        let opt = |s: Option<&str>| string(s.unwrap_or(""));
        object(vec![
            ("source", string(self.source)),
            ("kind", string(self.kind)),
            ("days_ago", Value::Int(days_between(self.at, now))),
            ("url", opt(self.url)),
            ("channel", opt(self.channel)),
            ("campaign", opt(self.campaign)),
            ("offer", opt(self.offer)),
            ("vendor", opt(self.vendor)),
            ("props", json(self.props)),
        ])
    }
}

/// Variables ready to evaluate expressions with: a contact's, or some of them in place
/// of its (`with_activity`, `with_scores`), which shares what the contact's already
/// converted.
pub struct Bound<'a> {
    vars: Vec<(&'static str, Value)>,
    events: &'a [EventFact],
    now: Timestamp,
    /// The variables this one adds to or replaces, converted.
    parent: Option<&'a cel::Context<'a, 'static>>,
    /// The variables converted for the interpreter, once for every expression that
    /// reads them: converting a contact's maps costs more than most expressions.
    converted: OnceCell<cel::Context<'a, 'static>>,
}

impl std::fmt::Debug for Bound<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("vars", &self.vars)
            .field("events", &self.events.len())
            .field("now", &self.now)
            .field("child", &self.parent.is_some())
            .finish()
    }
}

impl<'a> Bound<'a> {
    fn new(vars: Vec<(&'static str, Value)>, events: &'a [EventFact], now: Timestamp) -> Self {
        Bound { vars, events, now, parent: None, converted: OnceCell::new() }
    }

    /// The activity scope: `contact` and one `activity`.
    pub fn activity(contact: &Contact, activity: &ActivityFacts<'_>, now: Timestamp) -> Bound<'a> {
        Bound::new(vec![("contact", contact_value(contact, now)), ("activity", activity.value(now))], &[], now)
    }

    /// The same variables with `activity` set (or replaced): what engagement rules read.
    pub fn with_activity(&self, activity: &ActivityFacts<'_>) -> Bound<'_> {
        self.child(vec![("activity", activity.value(self.now))])
    }

    /// The same variables with these scores in place of the stored ones, and these
    /// grades when given (without, the stored grades stay).
    pub fn with_scores(&self, scores: &ScoreFacts, grades: Option<(&str, &str)>) -> Bound<'_> {
        self.child(scores_vars(scores, grades))
    }

    fn child(&self, vars: Vec<(&'static str, Value)>) -> Bound<'_> {
        Bound { vars, events: self.events, now: self.now, parent: Some(self.converted()), converted: OnceCell::new() }
    }

    fn converted(&self) -> &cel::Context<'a, 'static> {
        self.converted.get_or_init(|| {
            let mut ctx = match self.parent {
                Some(parent) => parent.new_inner_scope(),
                None => root().new_inner_scope(),
            };
            for (name, value) in &self.vars {
                ctx.add_variable_from_value(*name, value.clone());
            }
            ctx
        })
    }

    pub(super) fn context(&self, counts: &[EventCount]) -> cel::Context<'_, 'static> {
        let mut ctx = self.converted().new_inner_scope();
        for (n, c) in counts.iter().enumerate() {
            let count =
                self.events.iter().filter(|e| e.kind == c.kind && days_between(e.at, self.now) < c.days).count();
            ctx.add_variable_from_value(format!("@events_{n}"), Value::Int(count as i64));
        }
        ctx
    }
}
