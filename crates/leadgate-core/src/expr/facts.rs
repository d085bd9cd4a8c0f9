//! What an expression sees: a contact and what it did, as values of the language.

use super::EventCount;
use super::schema::NEVER_DAYS;
use crate::Timestamp;
use crate::account::is_free_mail_domain;
use crate::model::{Account, Contact, Qualification, Response};
use crate::time::MICROS_PER_SECOND;
use cel::ExecutionError;
use cel::common::traits::Indexer;
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, Type as CelType};
use cel::common::value::CowVal;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::OnceLock;

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

/// The context every evaluation starts from: the standard functions, built once.
fn root() -> &'static cel::Context<'static, 'static> {
    static ROOT: OnceLock<cel::Context<'static, 'static>> = OnceLock::new();
    ROOT.get_or_init(cel::Context::default)
}

/// A value of the language that borrows its text from the facts.
type Val<'a> = Box<dyn cel::common::value::Val + 'a>;

fn string<'a>(s: &'a str) -> Val<'a> {
    Box::new(CelString::from(s))
}

/// Text that may be missing reads as `""`.
fn text(s: &Option<String>) -> Val<'_> {
    string(s.as_deref().unwrap_or(""))
}

fn int(i: i64) -> Val<'static> {
    Box::new(CelInt::from(i))
}

fn boolean(b: bool) -> Val<'static> {
    Box::new(CelBool::from(b))
}

/// A JSON value (custom fields, form fields, event properties) as a value of the
/// language, its text borrowed.
fn json(v: &Json) -> Val<'_> {
    match v {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => int(i),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Json::String(s) => string(s),
        Json::Array(items) => Box::new(CelList::from(items.iter().map(json).collect::<Vec<_>>())),
        Json::Object(m) => json_map(m),
    }
}

fn json_map(m: &serde_json::Map<String, Json>) -> Val<'_> {
    let map: HashMap<CelMapKey<'_>, Val<'_>> = m.iter().map(|(k, v)| (CelMapKey::from(k.as_str()), json(v))).collect();
    Box::new(CelMap::from(map))
}

/// A record of the language (`contact`, `activity`, `scores`, …) whose fields are read
/// from the facts when an expression reads them, borrowing their text: what no
/// expression reads is never converted, and no text is copied. Which fields each has
/// is [`super::schema`]'s to say; the type check refuses any other before this is
/// ever asked for one.
#[derive(Debug, Clone)]
enum Record<'a> {
    Contact(&'a Contact, Timestamp),
    Account(Option<&'a Account>),
    Response(&'a Response, Timestamp),
    Engagement(Engagement),
    Qualification(&'a Qualification),
    Scores(ScoreFacts),
    Activity(ActivityFacts<'a>, Timestamp),
}

static RECORD: CelType = CelType::new_struct_type("record");

impl<'a> Record<'a> {
    fn boxed(self) -> Val<'a> {
        Box::new(self)
    }

    /// The field `name`, or `None` for a field the record does not have.
    fn field(&self, name: &str) -> Option<Val<'a>> {
        Some(match *self {
            Record::Contact(c, now) => match name {
                "email" => text(&c.email),
                "free_mail" => boolean(email_domain(c).is_some_and(is_free_mail_domain)),
                "domain" => string(email_domain(c).unwrap_or("")),
                "first_name" => text(&c.first_name),
                "last_name" => text(&c.last_name),
                "company" => text(&c.company),
                "title" => text(&c.title),
                "phone" => text(&c.phone),
                "country" => text(&c.country),
                "owner" => text(&c.owner),
                "direction" => string(c.direction.as_str()),
                "channel" => text(&c.channel),
                "stage" => string(c.stage.as_str()),
                "days_in_stage" => int(days_between(c.stage_at, now)),
                "age_days" => int(days_between(c.created_at, now)),
                "do_not_email" => boolean(c.do_not_email),
                "do_not_call" => boolean(c.do_not_call),
                "custom" => json_map(&c.custom),
                _ => return None,
            },
            Record::Account(a) => match name {
                "domain" => string(a.map_or("", |a| a.domain.as_str())),
                "name" => string(a.and_then(|a| a.name.as_deref()).unwrap_or("")),
                _ => return None,
            },
            Record::Response(r, now) => match name {
                "days_ago" => int(days_between(r.at, now)),
                "direction" => string(r.direction.as_str()),
                "channel" => text(&r.channel),
                "campaign" => text(&r.campaign),
                "placement" => text(&r.placement),
                "referrer" => text(&r.referrer),
                "vendor" => text(&r.vendor),
                "action" => string(&r.action),
                "obtained_via" => string(&r.obtained_via),
                "offer" => text(&r.offer),
                "fields" => json_map(&r.fields),
                _ => return None,
            },
            Record::Engagement(e) => int(e.figure(name)?),
            Record::Qualification(q) => match name {
                "budget" => text(&q.budget),
                "authority" => text(&q.authority),
                "need" => text(&q.need),
                "timeline" => text(&q.timeline),
                _ => return None,
            },
            Record::Scores(s) => match name {
                "fit" => int(s.fit),
                "engagement" => Box::new(CelDouble::from(s.engagement)),
                "likelihood" => {
                    s.likelihood.map_or_else(|| Box::new(CelNull) as Val<'a>, |l| Box::new(CelDouble::from(l)))
                }
                _ => return None,
            },
            Record::Activity(ref a, now) => match name {
                "props" => match a.props {
                    Props::Json(j) => json(j),
                    Props::Fields(m) => json_map(m),
                },
                _ => match a.plain(name, now)? {
                    Plain::Text(s) => string(s),
                    Plain::Int(i) => int(i),
                },
            },
        })
    }
}

fn email_domain(c: &Contact) -> Option<&str> {
    c.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d)
}

impl cel::common::value::Val for Record<'_> {
    fn get_type(&self) -> &CelType {
        &RECORD
    }

    fn cel_type() -> &'static CelType {
        &RECORD
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn cel::common::value::Val + 'v>
    where
        Self: 'v,
    {
        Box::new(self.clone())
    }
}

impl Indexer for Record<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn cel::common::value::Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let name = idx.downcast_ref::<CelString>().map(CelString::inner).unwrap_or_default();
        self.field(name).map(CowVal::from).ok_or_else(|| ExecutionError::no_such_key(name))
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn cel::common::value::Val) -> Result<Val<'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
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
    /// The longest of them, over which return visits are counted too.
    pub const LONGEST_WINDOW: i64 = 90;

    /// The days of events the figure `name` counts, or `None` for
    /// `days_since_last_activity`, which reads the last activity, however old.
    pub fn window_of(name: &str) -> Option<i64> {
        // NAMES: each of the four counts by window, then return visits and the last
        // activity.
        let windowed = 4 * Self::WINDOWS.len();
        match Self::NAMES.iter().position(|n| *n == name) {
            Some(i) if i < windowed => Some(Self::WINDOWS[i % Self::WINDOWS.len()]),
            _ if name == "days_since_last_activity" => None,
            _ => Some(Self::LONGEST_WINDOW),
        }
    }

    /// Counted from `events` and `responses` as of `now`; `last_activity` is when the
    /// contact last did anything (older events included).
    pub fn of(events: &[EventFact], responses: &[Response], last_activity: Option<Timestamp>, now: Timestamp) -> Self {
        let within = |kind: &str, days: i64| {
            events.iter().filter(|e| e.kind == kind && days_between(e.at, now) < days).count() as i64
        };
        let by_window = |count: &dyn Fn(i64) -> i64| Self::WINDOWS.map(count);
        let mut visit_days: Vec<i64> = events
            .iter()
            .filter(|e| e.kind == "page_view" && days_between(e.at, now) < Self::LONGEST_WINDOW)
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

    /// The variable names of the figures, in the order of [`Self::figures`].
    pub const NAMES: [&'static str; 14] = [
        "visits_7d",
        "visits_30d",
        "visits_90d",
        "downloads_7d",
        "downloads_30d",
        "downloads_90d",
        "emails_opened_7d",
        "emails_opened_30d",
        "emails_opened_90d",
        "emails_clicked_7d",
        "emails_clicked_30d",
        "emails_clicked_90d",
        "return_visits",
        "days_since_last_activity",
    ];

    /// Every figure, in the order of [`Self::NAMES`].
    pub fn figures(&self) -> [i64; 14] {
        let [v, d, o, c] = [self.visits, self.downloads, self.emails_opened, self.emails_clicked];
        [
            v[0],
            v[1],
            v[2],
            d[0],
            d[1],
            d[2],
            o[0],
            o[1],
            o[2],
            c[0],
            c[1],
            c[2],
            self.return_visits,
            self.days_since_last_activity,
        ]
    }

    /// Every figure by its variable name (`visits_7d`, …, `days_since_last_activity`).
    pub fn named(&self) -> Vec<(&'static str, i64)> {
        Self::NAMES.into_iter().zip(self.figures()).collect()
    }

    /// The figure of one variable name.
    pub fn figure(&self, name: &str) -> Option<i64> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| self.figures()[i])
    }
}

impl ContactFacts {
    /// The values of the contact scope, for any number of expressions. Fields are read
    /// when an expression reads them; engagement is counted here, once.
    pub fn bind(&self) -> Bound<'_> {
        let engagement = Engagement::of(&self.events, &self.responses, self.last_activity, self.now);
        let responses: Vec<Val<'_>> = self.responses.iter().map(|r| Record::Response(r, self.now).boxed()).collect();
        let mut vars = vec![
            ("contact", Record::Contact(&self.contact, self.now).boxed()),
            ("account", Record::Account(self.account.as_ref()).boxed()),
            ("responses", Box::new(CelList::from(responses)) as Val<'_>),
            ("engagement", Record::Engagement(engagement).boxed()),
            ("qualification", Record::Qualification(&self.qualification).boxed()),
        ];
        vars.extend(scores_vars(&self.scores, self.grades.as_ref().map(|(f, p)| (f.as_str(), p.as_str()))));
        Bound::new(vars, &self.events, self.now)
    }
}

/// The `scores` variable, and `funnel_position` and `pain` once graded.
fn scores_vars<'a>(scores: &ScoreFacts, grades: Option<(&'a str, &'a str)>) -> Vec<(&'static str, Val<'a>)> {
    let mut vars = vec![("scores", Record::Scores(*scores).boxed())];
    if let Some((funnel, pain)) = grades {
        vars.push(("funnel_position", string(funnel)));
        vars.push(("pain", string(pain)));
    }
    vars
}

/// The properties of an activity: an event's, or the fields of a response's form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Props<'a> {
    Json(&'a Json),
    Fields(&'a serde_json::Map<String, Json>),
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
    pub props: Props<'a>,
}

/// A field of an activity other than its properties: text or a whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plain<'a> {
    Text(&'a str),
    Int(i64),
}

impl<'a> ActivityFacts<'a> {
    /// The field `name` as of `now`, for every field but `props`.
    pub fn plain(&self, name: &str, now: Timestamp) -> Option<Plain<'a>> {
        let text = |s: Option<&'a str>| Plain::Text(s.unwrap_or(""));
        Some(match name {
            "source" => Plain::Text(self.source),
            "kind" => Plain::Text(self.kind),
            "days_ago" => Plain::Int(days_between(self.at, now)),
            "url" => text(self.url),
            "channel" => text(self.channel),
            "campaign" => text(self.campaign),
            "offer" => text(self.offer),
            "vendor" => text(self.vendor),
            _ => return None,
        })
    }

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
            props: Props::Json(&e.props),
        }
    }

    pub fn of_response(r: &'a Response) -> Self {
        Self {
            source: "response",
            kind: &r.action,
            at: r.at,
            url: None,
            channel: r.channel.as_deref(),
            campaign: r.campaign.as_deref(),
            offer: r.offer.as_deref(),
            vendor: r.vendor.as_deref(),
            props: Props::Fields(&r.fields),
        }
    }
}

/// Variables ready to evaluate expressions with: a contact's, or some of them in place
/// of its (`with_activity`, `with_scores`), in a scope inside the contact's.
pub struct Bound<'a> {
    ctx: cel::Context<'a, 'a>,
    events: &'a [EventFact],
    now: Timestamp,
}

impl std::fmt::Debug for Bound<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound").field("events", &self.events.len()).field("now", &self.now).finish()
    }
}

impl<'a> Bound<'a> {
    fn new(vars: Vec<(&'static str, Val<'a>)>, events: &'a [EventFact], now: Timestamp) -> Self {
        Bound { ctx: with_vars(root().new_inner_scope(), vars), events, now }
    }

    /// The activity scope: `contact` and one `activity`.
    pub fn activity(contact: &'a Contact, activity: &ActivityFacts<'a>, now: Timestamp) -> Bound<'a> {
        let vars = vec![
            ("contact", Record::Contact(contact, now).boxed()),
            ("activity", Record::Activity(activity.clone(), now).boxed()),
        ];
        Bound::new(vars, &[], now)
    }

    /// The same variables with `activity` set (or replaced): what engagement rules read.
    pub fn with_activity<'b>(&'b self, activity: &ActivityFacts<'b>) -> Bound<'b> {
        self.child(vec![("activity", Record::Activity(activity.clone(), self.now).boxed())])
    }

    /// The same variables with these scores in place of the stored ones, and these
    /// grades when given (without, the stored grades stay).
    pub fn with_scores<'b>(&'b self, scores: &ScoreFacts, grades: Option<(&'b str, &'b str)>) -> Bound<'b> {
        self.child(scores_vars(scores, grades))
    }

    fn child<'b>(&'b self, vars: Vec<(&'static str, Val<'b>)>) -> Bound<'b> {
        Bound { ctx: with_vars(self.ctx.new_inner_scope(), vars), events: self.events, now: self.now }
    }

    /// Evaluates `ast`, with the `events(kind, days)` counts it reads (`counts`) as
    /// variables of a scope of their own; an expression without any is evaluated in
    /// these variables' own scope, one fewer for every name it looks up.
    pub(super) fn resolve(
        &self,
        ast: &cel::common::ast::IdedExpr,
        counts: &[EventCount],
    ) -> Result<cel::Value, ExecutionError> {
        if counts.is_empty() {
            return self.ctx.resolve(ast);
        }
        let mut ctx = self.ctx.new_inner_scope();
        for (n, c) in counts.iter().enumerate() {
            let count =
                self.events.iter().filter(|e| e.kind == c.kind && days_between(e.at, self.now) < c.days).count();
            ctx.add_variable_as_val(format!("@events_{n}"), int(count as i64));
        }
        ctx.resolve(ast)
    }
}

fn with_vars<'p, 'a>(mut ctx: cel::Context<'p, 'a>, vars: Vec<(&'static str, Val<'a>)>) -> cel::Context<'p, 'a> {
    for (name, value) in vars {
        ctx.add_variable_as_val(name, value);
    }
    ctx
}
