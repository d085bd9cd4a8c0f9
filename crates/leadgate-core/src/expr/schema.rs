//! The variables an expression may read, and their types.
//!
//! Two scopes: a **contact** scope (lead definitions, fit rules, funnel and pain
//! rules), which sees one contact with its account, responses, engagement,
//! qualification and scores; and an **activity** scope (engagement rules), which sees
//! one thing the contact did, and the contact.

use std::fmt;

/// The type of a value in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Bool,
    Int,
    Double,
    String,
    Null,
    List(Box<Type>),
    /// Maps are keyed by strings; `Dyn` values are whatever a file or form sent.
    Map(Box<Type>),
    Object(&'static Object),
    /// Known only when evaluated (custom fields, form fields, event properties).
    Dyn,
}

impl Type {
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Double)
    }

    /// Whether a value of this type may stand where `other` is expected.
    pub fn fits(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Dyn, _) | (_, Type::Dyn) => true,
            (Type::List(a), Type::List(b)) | (Type::Map(a), Type::Map(b)) => a.fits(b),
            (Type::Object(a), Type::Object(b)) => a.name == b.name,
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::Null => f.write_str("null"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Map(t) => write!(f, "map(string, {t})"),
            Type::Object(o) => f.write_str(o.name),
            Type::Dyn => f.write_str("dyn"),
        }
    }
}

/// A record with named fields, such as `contact` or `activity`.
#[derive(Debug, PartialEq)]
pub struct Object {
    pub name: &'static str,
    pub fields: &'static [Field],
}

#[derive(Debug, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub doc: &'static str,
}

/// Field types as written in the static tables (`Type` owns boxes).
#[derive(Debug, PartialEq)]
pub enum FieldType {
    Bool,
    Int,
    Double,
    String,
    MapOfDyn,
}

impl FieldType {
    pub fn ty(&self) -> Type {
        match self {
            FieldType::Bool => Type::Bool,
            FieldType::Int => Type::Int,
            FieldType::Double => Type::Double,
            FieldType::String => Type::String,
            FieldType::MapOfDyn => Type::Map(Box::new(Type::Dyn)),
        }
    }
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn field(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    Field { name, ty, doc }
}

use FieldType::{Bool as B, Double as D, Int as I, MapOfDyn as M, String as S};

/// Days a contact "has not done anything" when it never did anything: a century, so
/// that `days_since_last_activity > 90` holds for it and `< 7` does not.
pub const NEVER_DAYS: i64 = 36_500;

pub static CONTACT: Object = Object {
    name: "contact",
    fields: &[
        field("email", S, "normalised email, \"\" when none"),
        field("domain", S, "the email's domain"),
        field("first_name", S, ""),
        field("last_name", S, ""),
        field("company", S, ""),
        field("title", S, "job title"),
        field("phone", S, ""),
        field("country", S, ""),
        field("owner", S, "the owner's name or id"),
        field("direction", S, "inbound or outbound"),
        field("channel", S, "the channel it first came through"),
        field(
            "stage",
            S,
            "lifecycle stage: suspect, prospect, mql, sal, sql, opportunity, customer, nurture, lost, disqualified",
        ),
        field("days_in_stage", I, "whole days since it reached its stage"),
        field("age_days", I, "whole days since it was created"),
        field("do_not_email", B, ""),
        field("do_not_call", B, ""),
        field("free_mail", B, "its email is at a free mail provider (gmail.com, …)"),
        field("custom", M, "custom fields, by name (values as imported: text, numbers, true/false)"),
    ],
};

pub static ACCOUNT: Object = Object {
    name: "account",
    fields: &[
        field("domain", S, "the company's domain, \"\" when the contact has no account"),
        field("name", S, "the company's name"),
    ],
};

pub static RESPONSE: Object = Object {
    name: "response",
    fields: &[
        field("days_ago", I, "whole days since it arrived"),
        field("direction", S, "inbound or outbound"),
        field("channel", S, "where: organic_search, paid_search, event, purchased_list, …"),
        field("campaign", S, ""),
        field("placement", S, ""),
        field("referrer", S, ""),
        field("vendor", S, "the list or pay-per-lead vendor"),
        field("action", S, "what: form_fill, download, demo_request, list_entry, …"),
        field(
            "obtained_via",
            S,
            "own_form, third_party_form, category_list, competitor_list, list_import, logged, api",
        ),
        field("offer", S, "why: the offer that moved them"),
        field("fields", M, "the form's other fields, by name"),
    ],
};

pub static ENGAGEMENT: Object = Object {
    name: "engagement",
    fields: &[
        field("visits_7d", I, "page views in the last 7 days"),
        field("visits_30d", I, "page views in the last 30 days"),
        field("visits_90d", I, "page views in the last 90 days"),
        field("downloads_7d", I, "downloads (events and responses) in the last 7 days"),
        field("downloads_30d", I, ""),
        field("downloads_90d", I, ""),
        field("emails_opened_7d", I, "email_open events in the last 7 days"),
        field("emails_opened_30d", I, ""),
        field("emails_opened_90d", I, ""),
        field("emails_clicked_7d", I, "email_click events in the last 7 days"),
        field("emails_clicked_30d", I, ""),
        field("emails_clicked_90d", I, ""),
        field("return_visits", I, "days on which it came back to the site after its first visit"),
        field("days_since_last_activity", I, "whole days since its last event or response (36500 when none)"),
    ],
};

pub static QUALIFICATION: Object = Object {
    name: "qualification",
    fields: &[
        field("budget", S, "as a qualifier recorded it, \"\" when not yet known"),
        field("authority", S, ""),
        field("need", S, ""),
        field("timeline", S, ""),
    ],
};

pub static SCORES: Object = Object {
    name: "scores",
    fields: &[
        field("fit", I, "points from the fit rules"),
        field("engagement", D, "points from the engagement rules, decayed to now"),
        field("likelihood", D, "predicted probability of conversion; null until a model is trained"),
    ],
};

pub static ACTIVITY: Object = Object {
    name: "activity",
    fields: &[
        field("source", S, "event or response"),
        field("kind", S, "the event's kind (page_view, download, email_open, …) or the response's action"),
        field("days_ago", I, "whole days since it happened"),
        field("url", S, "the page, \"\" when none"),
        field("channel", S, "a response's channel"),
        field("campaign", S, ""),
        field("offer", S, ""),
        field("vendor", S, ""),
        field("props", M, "the event's properties, or the response's form fields"),
    ],
};

/// Where an expression is evaluated, which decides what it may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One contact: lead definitions and fit rules.
    Contact,
    /// One contact, before its funnel position and pain are known: the rules that
    /// decide them.
    ContactBeforeGrades,
    /// One thing a contact did: engagement rules.
    Activity,
}

/// The variables of a scope and their types.
pub fn variables(scope: Scope) -> Vec<(&'static str, Type)> {
    let obj = |o: &'static Object| Type::Object(o);
    let mut v = vec![("contact", obj(&CONTACT))];
    match scope {
        Scope::Activity => v.push(("activity", obj(&ACTIVITY))),
        Scope::Contact | Scope::ContactBeforeGrades => {
            v.push(("account", obj(&ACCOUNT)));
            v.push(("responses", Type::List(Box::new(obj(&RESPONSE)))));
            v.push(("engagement", obj(&ENGAGEMENT)));
            v.push(("qualification", obj(&QUALIFICATION)));
            v.push(("scores", obj(&SCORES)));
            if scope == Scope::Contact {
                v.push(("funnel_position", Type::String));
                v.push(("pain", Type::String));
            }
        }
    }
    v
}

/// The functions an expression may call besides operators: `(name, method?, doc)`.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("size", "size(x) or x.size(): the length of a string, list or map"),
    ("contains", "s.contains(t): whether string s contains t"),
    ("startsWith", "s.startsWith(t)"),
    ("endsWith", "s.endsWith(t)"),
    ("matches", "s.matches(re): whether s matches the regular expression re"),
    ("int", "int(x): x as a whole number"),
    ("double", "double(x): x as a number with a fraction"),
    ("string", "string(x): x as text"),
    ("events", "events(kind, days): how many events of that kind in the last days (contact scope)"),
    ("exists", "list.exists(x, cond): whether some element satisfies cond"),
    ("all", "list.all(x, cond)"),
    ("exists_one", "list.exists_one(x, cond)"),
    ("filter", "list.filter(x, cond): the elements that satisfy cond"),
    ("map", "list.map(x, expr)"),
    ("has", "has(x.field): whether a map has the key"),
];
