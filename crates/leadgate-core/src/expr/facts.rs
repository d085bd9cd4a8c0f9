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
use std::sync::{Arc, OnceLock};

const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// One event of a contact, as far as expressions read it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFact {
    /// Shared: a contact's events repeat a few kinds and pages, and a store reading
    /// many events gives the same text once rather than a copy for every event.
    pub kind: Arc<str>,
    pub at: Timestamp,
    pub url: Option<Arc<str>>,
    pub props: Json,
}

impl From<&crate::NewEvent> for EventFact {
    fn from(e: &crate::NewEvent) -> Self {
        EventFact {
            kind: e.kind.as_str().into(),
            at: e.at,
            url: e.url.as_deref().map(Arc::from),
            props: e.props.clone(),
        }
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

/// A field's value as the facts hold it, before it becomes a value of the language:
/// what the interpreter converts ([`Self::into_val`]) and the compiled evaluation
/// ([`super::compiled`]) reads directly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(&'a str),
    Null,
    /// Custom fields, form fields.
    Map(&'a serde_json::Map<String, Json>),
    /// Event properties.
    Json(&'a Json),
}

impl<'a> Value<'a> {
    fn into_val(self) -> Val<'a> {
        match self {
            Value::Bool(b) => boolean(b),
            Value::Int(i) => int(i),
            Value::Double(d) => Box::new(CelDouble::from(d)),
            Value::Text(s) => string(s),
            Value::Null => Box::new(CelNull),
            Value::Map(m) => json_map(m),
            Value::Json(j) => json(j),
        }
    }

    /// Text that may be missing reads as `""`.
    fn text(s: &'a Option<String>) -> Self {
        Value::Text(s.as_deref().unwrap_or(""))
    }
}

/// A record of the language (`contact`, `activity`, `scores`, …) whose fields are read
/// from the facts when an expression reads them, borrowing their text: what no
/// expression reads is never converted, and no text is copied. Which fields each has
/// is [`super::schema`]'s to say; the type check refuses any other before this is
/// ever asked for one.
#[derive(Debug, Clone)]
pub(super) enum Record<'a> {
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
    pub(super) fn read(&self, name: &str) -> Option<Value<'a>> {
        use Value::{Bool, Int, Text};
        Some(match *self {
            Record::Contact(c, now) => match name {
                "email" => Value::text(&c.email),
                "free_mail" => Bool(email_domain(c).is_some_and(is_free_mail_domain)),
                "domain" => Text(email_domain(c).unwrap_or("")),
                "first_name" => Value::text(&c.first_name),
                "last_name" => Value::text(&c.last_name),
                "company" => Value::text(&c.company),
                "title" => Value::text(&c.title),
                "phone" => Value::text(&c.phone),
                "country" => Value::text(&c.country),
                "owner" => Value::text(&c.owner),
                "direction" => Text(c.direction.as_str()),
                "channel" => Value::text(&c.channel),
                "stage" => Text(c.stage.as_str()),
                "days_in_stage" => Int(days_between(c.stage_at, now)),
                "age_days" => Int(days_between(c.created_at, now)),
                "do_not_email" => Bool(c.do_not_email),
                "do_not_call" => Bool(c.do_not_call),
                "custom" => Value::Map(&c.custom),
                _ => return None,
            },
            Record::Account(a) => match name {
                "domain" => Text(a.map_or("", |a| a.domain.as_str())),
                "name" => Text(a.and_then(|a| a.name.as_deref()).unwrap_or("")),
                _ => return None,
            },
            Record::Response(r, now) => match name {
                "days_ago" => Int(days_between(r.at, now)),
                "direction" => Text(r.direction.as_str()),
                "channel" => Value::text(&r.channel),
                "campaign" => Value::text(&r.campaign),
                "placement" => Value::text(&r.placement),
                "referrer" => Value::text(&r.referrer),
                "vendor" => Value::text(&r.vendor),
                "action" => Text(&r.action),
                "obtained_via" => Text(&r.obtained_via),
                "offer" => Value::text(&r.offer),
                "fields" => Value::Map(&r.fields),
                _ => return None,
            },
            Record::Engagement(e) => Int(e.figure(name)?),
            Record::Qualification(q) => match name {
                "budget" => Value::text(&q.budget),
                "authority" => Value::text(&q.authority),
                "need" => Value::text(&q.need),
                "timeline" => Value::text(&q.timeline),
                _ => return None,
            },
            Record::Scores(s) => match name {
                "fit" => Int(s.fit),
                "engagement" => Value::Double(s.engagement),
                "likelihood" => s.likelihood.map_or(Value::Null, Value::Double),
                _ => return None,
            },
            Record::Activity(ref a, now) => match name {
                "props" => match a.props {
                    Props::Json(j) => Value::Json(j),
                    Props::Fields(m) => Value::Map(m),
                },
                _ => match a.plain(name, now)? {
                    Plain::Text(s) => Text(s),
                    Plain::Int(i) => Int(i),
                },
            },
        })
    }

    fn field(&self, name: &str) -> Option<Val<'a>> {
        self.read(name).map(Value::into_val)
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
        // One pass over the events, each counted in every window it falls in.
        let count = |counts: &mut [i64; 3], days: i64| {
            for (c, window) in counts.iter_mut().zip(Self::WINDOWS) {
                *c += (days < window) as i64;
            }
        };
        let (mut visits, mut downloads, mut emails_opened, mut emails_clicked) = ([0; 3], [0; 3], [0; 3], [0; 3]);
        let mut visit_days = Vec::new();
        for e in events {
            let days = days_between(e.at, now);
            let counts = match &*e.kind {
                "page_view" => {
                    if days < Self::LONGEST_WINDOW {
                        visit_days.push(e.at.0.div_euclid(MICROS_PER_DAY));
                    }
                    &mut visits
                }
                "download" => &mut downloads,
                "email_open" => &mut emails_opened,
                "email_click" => &mut emails_clicked,
                _ => continue,
            };
            count(counts, days);
        }
        for r in responses.iter().filter(|r| r.action == "download") {
            count(&mut downloads, days_between(r.at, now));
        }
        visit_days.sort_unstable();
        visit_days.dedup();
        Engagement {
            visits,
            downloads,
            emails_opened,
            emails_clicked,
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
    pub fn bind(&self) -> Bindings<'_> {
        let engagement = Engagement::of(&self.events, &self.responses, self.last_activity, self.now);
        Bindings::new(View {
            contact: &self.contact,
            now: self.now,
            of_contact: Some(ContactVars {
                account: self.account.as_ref(),
                responses: &self.responses,
                engagement,
                qualification: &self.qualification,
                scores: self.scores,
                grades: self.grades.as_ref().map(|(f, p)| (f.as_str(), p.as_str())),
                events: &self.events,
            }),
            activity: None,
        })
    }
}

/// The properties of an activity: an event's, or the fields of a response's form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Props<'a> {
    Json(&'a Json),
    Fields(&'a serde_json::Map<String, Json>),
}

/// One thing a contact did, as an engagement rule sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
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

/// The fields of an activity other than its properties, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainField {
    Source,
    Kind,
    DaysAgo,
    Url,
    Channel,
    Campaign,
    Offer,
    Vendor,
}

impl PlainField {
    pub const ALL: [(&'static str, PlainField); 8] = [
        ("source", PlainField::Source),
        ("kind", PlainField::Kind),
        ("days_ago", PlainField::DaysAgo),
        ("url", PlainField::Url),
        ("channel", PlainField::Channel),
        ("campaign", PlainField::Campaign),
        ("offer", PlainField::Offer),
        ("vendor", PlainField::Vendor),
    ];

    /// The field `name`; `None` for `props` and any name an activity does not have.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

impl<'a> ActivityFacts<'a> {
    /// The field `name` as of `now`, for every field but `props`.
    pub fn plain(&self, name: &str, now: Timestamp) -> Option<Plain<'a>> {
        PlainField::named(name).map(|f| self.field(f, now))
    }

    /// The field `f` as of `now`; missing text reads as `""`.
    pub fn field(&self, f: PlainField, now: Timestamp) -> Plain<'a> {
        let text = |s: Option<&'a str>| Plain::Text(s.unwrap_or(""));
        match f {
            PlainField::Source => Plain::Text(self.source),
            PlainField::Kind => Plain::Text(self.kind),
            PlainField::DaysAgo => Plain::Int(days_between(self.at, now)),
            PlainField::Url => text(self.url),
            PlainField::Channel => text(self.channel),
            PlainField::Campaign => text(self.campaign),
            PlainField::Offer => text(self.offer),
            PlainField::Vendor => text(self.vendor),
        }
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

/// A variable of a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    Contact,
    Activity,
    Account,
    Responses,
    Engagement,
    Qualification,
    Scores,
    FunnelPosition,
    Pain,
}

impl Var {
    const NAMED: [(&'static str, Var); 9] = [
        ("contact", Var::Contact),
        ("activity", Var::Activity),
        ("account", Var::Account),
        ("responses", Var::Responses),
        ("engagement", Var::Engagement),
        ("qualification", Var::Qualification),
        ("scores", Var::Scores),
        ("funnel_position", Var::FunnelPosition),
        ("pain", Var::Pain),
    ];

    pub(super) fn named(name: &str) -> Option<Var> {
        Self::NAMED.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// What a variable holds.
pub(super) enum Variable<'a> {
    Record(Record<'a>),
    Responses(&'a [Response], Timestamp),
    Text(&'a str),
}

impl<'a> Variable<'a> {
    fn into_val(self) -> Val<'a> {
        match self {
            Variable::Record(r) => r.boxed(),
            Variable::Responses(rs, now) => {
                Box::new(CelList::from(rs.iter().map(|r| Record::Response(r, now).boxed()).collect::<Vec<_>>()))
            }
            Variable::Text(s) => string(s),
        }
    }
}

/// The facts of a scope, by variable: what both ways of evaluating read.
#[derive(Debug, Clone, Copy)]
pub(super) struct View<'a> {
    contact: &'a Contact,
    now: Timestamp,
    /// The contact scope's variables besides `contact`; `None` in the activity scope.
    of_contact: Option<ContactVars<'a>>,
    activity: Option<ActivityFacts<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct ContactVars<'a> {
    account: Option<&'a Account>,
    responses: &'a [Response],
    engagement: Engagement,
    qualification: &'a Qualification,
    scores: ScoreFacts,
    /// Funnel position and pain, once graded.
    grades: Option<(&'a str, &'a str)>,
    /// For `events(kind, days)`.
    events: &'a [EventFact],
}

impl<'a> View<'a> {
    /// The variable `var`, or `None` where the scope has none such.
    pub(super) fn variable(&self, var: Var) -> Option<Variable<'a>> {
        let now = self.now;
        if let Var::Contact = var {
            return Some(Variable::Record(Record::Contact(self.contact, now)));
        }
        if let Var::Activity = var {
            return self.activity.map(|a| Variable::Record(Record::Activity(a, now)));
        }
        let c = self.of_contact.as_ref()?;
        Some(match var {
            Var::Account => Variable::Record(Record::Account(c.account)),
            Var::Responses => Variable::Responses(c.responses, now),
            Var::Engagement => Variable::Record(Record::Engagement(c.engagement)),
            Var::Qualification => Variable::Record(Record::Qualification(c.qualification)),
            Var::Scores => Variable::Record(Record::Scores(c.scores)),
            Var::FunnelPosition => Variable::Text(c.grades?.0),
            Var::Pain => Variable::Text(c.grades?.1),
            Var::Contact | Var::Activity => return None,
        })
    }

    pub(super) fn now(&self) -> Timestamp {
        self.now
    }

    /// The value of `events(kind, days)`.
    pub(super) fn count(&self, c: &EventCount) -> i64 {
        let events = self.of_contact.as_ref().map_or(&[][..], |v| v.events);
        events.iter().filter(|e| *e.kind == *c.kind && days_between(e.at, self.now) < c.days).count() as i64
    }

    /// Every variable of the scope, as the interpreter is given them.
    fn variables(&self) -> Vec<(&'static str, Val<'a>)> {
        Var::NAMED.iter().filter_map(|(name, var)| Some((*name, self.variable(*var)?.into_val()))).collect()
    }
}

/// Variables ready to evaluate expressions with: a contact's, or some of them in place
/// of its (`with_activity`, `with_scores`). The interpreter's context is made the
/// first time an expression needs the interpreter: a compiled expression reads the
/// facts without it.
pub struct Bindings<'a> {
    view: View<'a>,
    ctx: std::cell::OnceCell<cel::Context<'a, 'a>>,
}

impl std::fmt::Debug for Bindings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bindings").field("view", &self.view).finish()
    }
}

impl<'a> Bindings<'a> {
    fn new(view: View<'a>) -> Self {
        Bindings { view, ctx: std::cell::OnceCell::new() }
    }

    /// The activity scope: `contact` and one `activity`.
    pub fn activity(contact: &'a Contact, activity: &ActivityFacts<'a>, now: Timestamp) -> Bindings<'a> {
        Bindings::new(View { contact, now, of_contact: None, activity: Some(*activity) })
    }

    /// The activity scope of this contact, with `activity`: what engagement rules read.
    pub fn with_activity<'b>(&self, activity: &ActivityFacts<'b>) -> Bindings<'b>
    where
        'a: 'b,
    {
        Bindings::activity(self.view.contact, activity, self.view.now)
    }

    /// The same variables with these scores in place of the stored ones, and these
    /// grades when given (without, the stored grades stay).
    pub fn with_scores<'b>(&self, scores: &ScoreFacts, grades: Option<(&'b str, &'b str)>) -> Bindings<'b>
    where
        'a: 'b,
    {
        let mut view: View<'b> = self.view;
        if let Some(c) = view.of_contact.as_mut() {
            c.scores = *scores;
            c.grades = grades.or(c.grades);
        }
        Bindings::new(view)
    }

    pub(super) fn view(&self) -> &View<'a> {
        &self.view
    }

    /// Evaluates `ast` in the interpreter, with the `events(kind, days)` counts it
    /// reads (`counts`) as variables of a scope of their own; an expression without
    /// any is evaluated in these variables' own scope, one fewer for every name it
    /// looks up.
    pub(super) fn resolve(
        &self,
        ast: &cel::common::ast::IdedExpr,
        counts: &[EventCount],
    ) -> Result<cel::Value, ExecutionError> {
        let ctx = self.ctx.get_or_init(|| with_vars(root().new_inner_scope(), self.view.variables()));
        if counts.is_empty() {
            return ctx.resolve(ast);
        }
        let mut ctx = ctx.new_inner_scope();
        for (n, c) in counts.iter().enumerate() {
            ctx.add_variable_as_val(format!("@events_{n}"), int(self.view.count(c)));
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
