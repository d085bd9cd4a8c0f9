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
use std::collections::BTreeSet;

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
        self.0.iter().any(|p| matches(p, name))
    }

    /// Those of the names and prefixes that leave out none of `features`: a typo, or a
    /// column of another data set (`Lead Quality` where the feature is
    /// `custom.lead_quality`), which would otherwise leave in, without a word, the very
    /// feature it was meant to keep out.
    pub fn matching_nothing<'a>(&'a self, features: &BTreeSet<String>) -> Vec<&'a str> {
        self.0.iter().filter(|p| !features.iter().any(|f| matches(p, f))).map(String::as_str).collect()
    }
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// Features shown by name in a message before the rest are only counted.
const NAMED_IN_MESSAGES: usize = 40;

/// What a training refused for exclusions that match no feature says: each with the
/// features closest to it, then the features there are.
/// `known`: how many contacts with a known outcome (those a model learns from) have
/// `features`.
pub fn matching_nothing_message(unmatched: &[&str], features: &BTreeSet<String>, known: usize) -> String {
    let each: Vec<String> = unmatched
        .iter()
        .map(|p| match closest(p, features).as_slice() {
            [] => format!("{p:?}"),
            near => format!("{p:?} (did you mean {}?)", near.join(" or ")),
        })
        .collect();
    let mut named: Vec<&str> = features.iter().map(String::as_str).take(NAMED_IN_MESSAGES).collect();
    if features.len() > NAMED_IN_MESSAGES {
        named.push("…");
    }
    format!(
        "exclude names no feature of the {known} contacts with a known outcome: {}; the {} features are {} (a name \
         ending in * leaves out every feature beginning with it)",
        each.join(", "),
        features.len(),
        named.join(", ")
    )
}

/// The features most like `pattern`, best first: compared whole, and from after the dot
/// or after any underscore on (`lead_quality` in `custom.sales_lead_quality`), ignoring
/// case and taking spaces and dashes for underscores, so that a spreadsheet's column
/// name finds the feature it became.
fn closest<'a>(pattern: &str, features: &'a BTreeSet<String>) -> Vec<&'a str> {
    let plain = |s: &str| s.trim_end_matches('*').to_lowercase().replace([' ', '-'], "_");
    let wanted = plain(pattern);
    let mut scored: Vec<(f64, &str)> = features
        .iter()
        .map(|f| {
            let name = plain(f);
            let tails = name.match_indices(['.', '_']).map(|(at, _)| &name[at + 1..]);
            let score = std::iter::once(name.as_str())
                .chain(tails)
                .map(|part| strsim::jaro_winkler(&wanted, part))
                .fold(0.0, f64::max);
            (score, f.as_str())
        })
        .filter(|(score, _)| *score >= 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, f)| f).collect()
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
    fn exclusions_that_leave_out_nothing_are_named_with_the_features_closest_to_them() {
        let features: BTreeSet<String> = [
            "contact.country",
            "custom.sales_lead_quality",
            "custom.tags",
            "custom.sales_stage",
            "engagement.visits_7d",
        ]
        .map(String::from)
        .into();
        let exclude = Exclusions::new(&[
            "Tags".into(),
            "Lead Quality".into(),
            "custom.sales_*".into(),
            "contact.country".into(),
            "budget".into(),
        ]);
        let unmatched = exclude.matching_nothing(&features);
        assert_eq!(unmatched, ["Tags", "Lead Quality", "budget"]);
        let message = matching_nothing_message(&unmatched, &features, 12);
        assert!(message.starts_with("exclude names no feature of the 12 contacts with a known outcome: "), "{message}");
        assert!(message.contains(r#""Tags" (did you mean custom.tags?)"#), "{message}");
        assert!(message.contains(r#""Lead Quality" (did you mean custom.sales_lead_quality?)"#), "{message}");
        assert!(
            message.contains(r#""budget"; the 5 features are contact.country, custom.sales_lead_quality"#),
            "{message}"
        );
        // A prefix that matches something is fine, as is an exact name.
        assert!(
            Exclusions::new(&["custom.*".into(), "engagement.visits_7d".into()]).matching_nothing(&features).is_empty()
        );
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
