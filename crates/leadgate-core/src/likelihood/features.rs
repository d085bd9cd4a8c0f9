//! What a contact looks like to the predictive model: named values taken from its
//! fields, custom fields, first response and engagement, as of a moment.
//!
//! A contact's features are read as of a cutoff: for a contact whose outcome is known,
//! the moment it became known (so that what it did after buying does not teach the model
//! that buyers are busy); for the others, now.

use crate::Timestamp;
use crate::account::is_free_mail_domain;
use crate::expr::facts::{ContactFacts, Engagement, EventFact};
use crate::model::Response;
use serde_json::Value;
use std::borrow::Cow;

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
    let responses: Cow<[Response]> = if f.responses.iter().all(|r| r.at <= cutoff) {
        Cow::Borrowed(&f.responses)
    } else {
        Cow::Owned(f.responses.iter().filter(|r| r.at <= cutoff).cloned().collect())
    };
    if let Some(first) = responses.first() {
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
    put("responses.count".into(), Raw::Number(responses.len() as f64));

    // Engagement as the expressions' `engagement` variables give it, as of the cutoff.
    let engagement = if cutoff >= f.now {
        Engagement::of(&f.events, &f.responses, f.last_activity, f.now)
    } else {
        let events: Vec<EventFact> = f.events.iter().filter(|e| e.at <= cutoff).cloned().collect();
        let last = events.iter().map(|e| e.at).chain(responses.iter().map(|r| r.at)).max();
        Engagement::of(&events, &responses, last, cutoff)
    };
    for (name, n) in engagement.named() {
        put(format!("engagement.{name}"), Raw::Number(n as f64));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::tests::{DAY, NOW, ann};

    fn value<'r>(row: &'r Row, name: &str) -> Option<&'r Raw> {
        row.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn a_contact_read_as_of_a_cutoff_does_not_see_what_it_did_after() {
        let f = ann();
        let now = row(&f, NOW, &Exclusions::default());
        assert_eq!(value(&now, "engagement.visits_7d"), Some(&Raw::Number(4.0)));
        assert_eq!(value(&now, "responses.count"), Some(&Raw::Number(2.0)));
        // Four days ago Ann had viewed one page in a week and not yet downloaded anything.
        let before = row(&f, Timestamp(NOW.0 - 4 * DAY), &Exclusions::default());
        assert_eq!(value(&before, "engagement.visits_7d"), Some(&Raw::Number(1.0)));
        assert_eq!(value(&before, "responses.count"), Some(&Raw::Number(1.0)));
        assert_eq!(value(&before, "engagement.days_since_last_activity"), Some(&Raw::Number(1.0)));
        assert_eq!(value(&before, "response.action"), Some(&Raw::Text("form_fill".into())));
    }

    #[test]
    fn excluded_names_and_prefixes_are_left_out() {
        let all = row(&ann(), NOW, &Exclusions::default());
        assert!(value(&all, "custom.employees").is_some() && value(&all, "contact.title").is_some());
        let some = row(&ann(), NOW, &Exclusions::new(&["custom.*".into(), " contact.title ".into()]));
        assert!(some.iter().all(|(n, _)| !n.starts_with("custom.") && n != "contact.title"), "{some:?}");
        assert_eq!(value(&some, "contact.direction"), Some(&Raw::Text("inbound".into())));
    }
}
