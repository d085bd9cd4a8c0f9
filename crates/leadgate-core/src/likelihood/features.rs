//! What a contact looks like to the predictive model: named values taken from its
//! fields, custom fields, first response and engagement, as of a moment.
//!
//! A contact's features are read as of a cutoff: for a contact whose outcome is known,
//! the moment it became known (so that what it did after buying does not teach the model
//! that buyers are busy); for the others, now.

use crate::Timestamp;
use crate::account::is_free_mail_domain;
use crate::expr::facts::{ContactFacts, days_between};
use crate::time::MICROS_PER_DAY as DAY;
use serde_json::Value;

/// One value of a feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Number(f64),
    Text(String),
}

/// A contact's features, by name (`contact.country`, `custom.occupation`, …).
pub type Row = Vec<(String, Raw)>;

/// Names that may be excluded: exact, or a prefix ending in `*` (`custom.sales_*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exclusions(Vec<String>);

impl Exclusions {
    pub fn new(patterns: &[String]) -> Self {
        Self(patterns.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect())
    }

    pub fn excludes(&self, name: &str) -> bool {
        self.0.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == p,
        })
    }
}

/// The features of a contact as of `cutoff`, without the excluded ones.
pub fn row(f: &ContactFacts, cutoff: Timestamp, exclude: &Exclusions) -> Row {
    let mut row = Row::new();
    let mut put = |name: String, value: Raw| {
        if !exclude.excludes(&name) {
            row.push((name, value));
        }
    };
    let text =
        |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| Raw::Text(s.to_owned()));
    let flag = |b: bool| Raw::Number(f64::from(u8::from(b)));
    let c = &f.contact;
    for (name, value) in [
        ("contact.country", text(&c.country)),
        ("contact.title", text(&c.title)),
        ("contact.channel", text(&c.channel)),
        ("contact.direction", Some(Raw::Text(c.direction.as_str().to_owned()))),
    ] {
        if let Some(v) = value {
            put(name.to_owned(), v);
        }
    }
    let domain = c.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
    put("contact.has_email".into(), flag(domain.is_some()));
    if let Some(d) = domain {
        put("contact.free_mail".into(), flag(is_free_mail_domain(d)));
    }
    put("contact.has_phone".into(), flag(c.phone.is_some()));
    put("contact.has_company".into(), flag(c.company.is_some() || f.account.is_some()));
    put("contact.do_not_email".into(), flag(c.do_not_email));
    put("contact.do_not_call".into(), flag(c.do_not_call));
    for (key, value) in &c.custom {
        let v = match value {
            Value::Number(n) => n.as_f64().map(Raw::Number),
            Value::Bool(b) => Some(flag(*b)),
            Value::String(s) if !s.trim().is_empty() => Some(Raw::Text(s.trim().to_owned())),
            _ => None,
        };
        if let Some(v) = v {
            put(format!("custom.{key}"), v);
        }
    }

    // Where, what and why of the first response; how many came before the cutoff.
    let before: Vec<_> = f.responses.iter().filter(|r| r.at <= cutoff).collect();
    if let Some(first) = before.first() {
        for (name, value) in [
            ("response.channel", text(&first.channel)),
            ("response.campaign", text(&first.campaign)),
            ("response.placement", text(&first.placement)),
            ("response.vendor", text(&first.vendor)),
            ("response.offer", text(&first.offer)),
            ("response.action", Some(Raw::Text(first.action.clone()))),
            ("response.obtained_via", Some(Raw::Text(first.obtained_via.clone()))),
        ] {
            if let Some(v) = value {
                put(name.to_owned(), v);
            }
        }
    }
    put("responses.count".into(), Raw::Number(before.len() as f64));

    // Engagement in the 30 and 90 days before the cutoff.
    let mut counts = [0u32; 10];
    let mut last = before.last().map(|r| r.at);
    for e in f.events.iter().filter(|e| e.at <= cutoff) {
        last = last.max(Some(e.at));
        let recent = cutoff.0 - e.at.0 <= 30 * DAY;
        if cutoff.0 - e.at.0 > 90 * DAY {
            continue;
        }
        let kind = match e.kind.as_str() {
            "page_view" if e.url.as_deref().is_some_and(|u| u.contains("pricing")) => 1,
            "page_view" => 0,
            "download" => 2,
            "email_open" => 3,
            "email_click" => 4,
            _ => continue,
        };
        counts[kind * 2] += 1;
        if recent {
            counts[kind * 2 + 1] += 1;
        }
    }
    for (i, kind) in ["page_views", "pricing_views", "downloads", "email_opens", "email_clicks"].iter().enumerate() {
        put(format!("engagement.{kind}_90d"), Raw::Number(f64::from(counts[i * 2])));
        put(format!("engagement.{kind}_30d"), Raw::Number(f64::from(counts[i * 2 + 1])));
    }
    if let Some(at) = last {
        put("engagement.days_since_last_activity".into(), Raw::Number(days_between(at, cutoff) as f64));
    }
    row
}
