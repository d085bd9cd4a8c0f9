//! Turning named features into the columns of a matrix, as learned from the training
//! contacts: a number stays a number (absent: missing), a text becomes one column per
//! value seen often enough plus one that says it was absent, and, when it has more
//! values than get a column, one more with the rate at which each value's contacts
//! reached the target (each training contact's learned without its own outcome).

use super::features::{Raw, Row};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A text value must be seen this often among the training contacts to get a column.
pub const MIN_LEVEL_COUNT: usize = 5;
/// At most this many values of one text feature get a column; rarer ones count as none.
pub const MAX_LEVELS: usize = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Feature {
    Number {
        name: String,
    },
    Text {
        name: String,
        levels: Vec<String>,
        /// For a feature of more values than get a column each: one more column, the
        /// rate at which contacts of each value reached the target.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rates: Option<Rates>,
    },
}

/// How often contacts with each value of a text feature reached the target, pulled
/// toward the rate of all (`prior`) the fewer contacts had it: one column that tells
/// apart hundreds of landing pages where a column each would be thin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rates {
    pub prior: f64,
    pub by_value: std::collections::BTreeMap<String, f64>,
}

/// How many contacts' worth of the overall rate a value's rate starts from: a landing
/// page seen by 100 contacts is read halfway between its own rate and everyone's. On
/// Olist's 495 landing pages 100 to 400 ranked alike (docs/benchmarks.md); 5 to 20
/// trusted a few contacts' outcomes too far.
const RATE_SMOOTHING: f64 = 100.0;

impl Rates {
    /// From each contact's value (absent ones skipped) and outcome; only values at
    /// least `min_count` contacts had.
    fn learn<'a>(values: impl Iterator<Item = (&'a str, bool)>, prior: f64, min_count: usize) -> Self {
        let mut counts: HashMap<&str, (f64, f64)> = HashMap::new();
        for (v, reached) in values {
            let c = counts.entry(v).or_default();
            c.0 += 1.0;
            c.1 += f64::from(u8::from(reached));
        }
        let by_value = counts
            .into_iter()
            .filter(|(_, (n, _))| *n >= min_count as f64)
            .map(|(v, (n, reached))| (v.to_owned(), (reached + RATE_SMOOTHING * prior) / (n + RATE_SMOOTHING)))
            .collect();
        Self { prior, by_value }
    }

    fn of(&self, value: &str) -> f64 {
        self.by_value.get(value).copied().unwrap_or(self.prior)
    }
}

/// The rates of training contacts are each learned without the contact's own fold of
/// this many: a rate learned with its own outcome in it would tell the learner more
/// than it will know of a new contact.
const RATE_FOLDS: usize = 5;

impl Feature {
    pub fn name(&self) -> &str {
        match self {
            Feature::Number { name } | Feature::Text { name, .. } => name,
        }
    }

    fn width(&self) -> usize {
        match self {
            Feature::Number { .. } => 1,
            Feature::Text { levels, rates, .. } => levels.len() + 1 + usize::from(rates.is_some()),
        }
    }
}

/// The columns a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Encoding {
    pub features: Vec<Feature>,
}

impl Encoding {
    /// Learns the columns from the training rows and their outcomes. A feature that
    /// never varies tells the model nothing and gets none; a name used both for numbers
    /// and texts is read as text.
    pub fn learn(rows: &[&Row], labels: &[bool]) -> Self {
        #[derive(Default)]
        struct FeatureValues {
            rows: usize,
            numbers: Vec<f64>,
            texts: HashMap<String, usize>,
        }
        let mut seen: HashMap<&str, FeatureValues> = HashMap::new();
        for row in rows {
            for (name, value) in row.iter() {
                let s = seen.entry(name.as_str()).or_default();
                s.rows += 1;
                match value {
                    Raw::Number(n) if s.numbers.len() < 2 && !s.numbers.contains(n) => s.numbers.push(*n),
                    Raw::Number(_) => {}
                    Raw::Text(t) => *s.texts.entry(t.clone()).or_default() += 1,
                }
            }
        }
        let mut features: Vec<Feature> = seen
            .into_iter()
            .filter_map(|(name, s)| {
                if s.texts.is_empty() {
                    // Constant when every row has the same number, unless some lack it.
                    let varies = s.numbers.len() > 1 || (s.rows < rows.len() && !s.numbers.is_empty());
                    return varies.then(|| Feature::Number { name: name.to_owned() });
                }
                let values = s.texts.len();
                let mut levels: Vec<(String, usize)> =
                    s.texts.into_iter().filter(|(_, n)| *n >= MIN_LEVEL_COUNT).collect();
                levels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                // More values than get a column each: their rates say what the columns cannot.
                let rated = values > MAX_LEVELS;
                levels.truncate(MAX_LEVELS);
                let varies = rated || levels.len() > 1 || (levels.len() == 1 && levels[0].1 < rows.len());
                let rates = rated.then(|| {
                    let prior = labels.iter().filter(|l| **l).count() as f64 / labels.len().max(1) as f64;
                    // Kept in the model: a value fewer contacts had reads as everyone's
                    // rate within a few points anyway, and one person's text (a title, a
                    // note) is not kept.
                    let values = rows.iter().zip(labels).filter_map(|(r, l)| text_of(r, name).map(|t| (t, *l)));
                    Rates::learn(values, prior, MIN_LEVEL_COUNT)
                });
                varies.then(|| Feature::Text {
                    name: name.to_owned(),
                    levels: levels.into_iter().map(|l| l.0).collect(),
                    rates,
                })
            })
            .collect();
        features.sort_by(|a, b| a.name().cmp(b.name()));
        Self { features }
    }

    pub fn width(&self) -> usize {
        self.features.iter().map(Feature::width).sum()
    }

    /// The feature each column belongs to, by column.
    pub fn owners(&self) -> Vec<usize> {
        self.features.iter().enumerate().flat_map(|(i, f)| std::iter::repeat_n(i, f.width())).collect()
    }

    /// Appends `row`'s columns to `columns` (one vector per column: the matrix is
    /// column-major).
    pub fn push(&self, row: &Row, columns: &mut [Vec<f64>]) {
        let values: HashMap<&str, &Raw> = row.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let mut col = 0;
        for f in &self.features {
            let value = values.get(f.name()).copied();
            match f {
                Feature::Number { .. } => {
                    let n = match value {
                        Some(Raw::Number(n)) => *n,
                        _ => f64::NAN,
                    };
                    columns[col].push(n);
                }
                Feature::Text { levels, rates, .. } => {
                    let text = match value {
                        Some(Raw::Text(t)) => Some(t.as_str()),
                        Some(Raw::Number(_)) | None => None,
                    };
                    for (i, level) in levels.iter().enumerate() {
                        columns[col + i].push(f64::from(u8::from(text == Some(level.as_str()))));
                    }
                    columns[col + levels.len()].push(f64::from(u8::from(text.is_none())));
                    if let Some(rates) = rates {
                        columns[col + levels.len() + 1].push(text.map_or(f64::NAN, |t| rates.of(t)));
                    }
                }
            }
            col += f.width();
        }
    }

    /// The columns of the rows the encoding was learned from, as [`Self::matrix`] but
    /// with each row's rates learned without its own fold ([`RATE_FOLDS`]).
    pub fn training_matrix(&self, rows: &[&Row], labels: &[bool]) -> Vec<f64> {
        let mut data = self.matrix(rows);
        let n = rows.len();
        let prior = labels.iter().filter(|l| **l).count() as f64 / n.max(1) as f64;
        let mut col = 0;
        for f in &self.features {
            if let Feature::Text { name, levels, rates: Some(_) } = f {
                let column = col + levels.len() + 1;
                for k in 0..RATE_FOLDS {
                    let others = (0..n).filter(|i| i % RATE_FOLDS != k);
                    let rates =
                        Rates::learn(others.filter_map(|i| text_of(rows[i], name).map(|t| (t, labels[i]))), prior, 1);
                    for i in (k..n).step_by(RATE_FOLDS) {
                        data[column * n + i] = text_of(rows[i], name).map_or(f64::NAN, |t| rates.of(t));
                    }
                }
            }
            col += f.width();
        }
        data
    }

    /// The columns of `rows`, flattened column-major as the learner takes them.
    pub fn matrix(&self, rows: &[&Row]) -> Vec<f64> {
        let mut columns = vec![Vec::with_capacity(rows.len()); self.width()];
        for row in rows {
            self.push(row, &mut columns);
        }
        columns.concat()
    }
}

/// A row's text value of a feature.
fn text_of<'r>(row: &'r Row, name: &str) -> Option<&'r str> {
    row.iter().find(|(n, _)| n == name).and_then(|(_, v)| match v {
        Raw::Text(t) => Some(t.as_str()),
        Raw::Number(_) => None,
    })
}

/// How a row's value of a feature reads in an explanation.
pub fn describe(feature: &Feature, row: &Row) -> String {
    let value = row.iter().find(|(n, _)| n == feature.name()).map(|(_, v)| v);
    match value {
        None => format!("{} is not known", feature.name()),
        Some(Raw::Number(n)) => format!("{} is {}", feature.name(), crate::scoring::round1(*n)),
        Some(Raw::Text(t)) => format!("{} is {t}", feature.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[String]) -> Vec<Row> {
        values.iter().map(|v| vec![("response.placement".to_owned(), Raw::Text(v.clone()))]).collect()
    }

    fn rate_column(encoding: &Encoding, data: &[f64], n: usize) -> Vec<f64> {
        let Feature::Text { levels, rates: Some(_), .. } = &encoding.features[0] else { panic!("{encoding:?}") };
        let column = levels.len() + 1;
        data[column * n..(column + 1) * n].to_vec()
    }

    #[test]
    fn a_value_seen_once_tells_nothing_of_its_own_outcome_and_is_not_kept() {
        // Every contact on a page of its own (an id, in effect): learned with its own
        // outcome, each page's rate would give the outcome away.
        let values: Vec<String> = (0..500).map(|i| format!("page-{i}")).collect();
        let labels: Vec<bool> = (0..500).map(|i| i % 3 == 0).collect();
        let rows = rows(&values);
        let refs: Vec<&Row> = rows.iter().collect();
        let encoding = Encoding::learn(&refs, &labels);
        let trained = rate_column(&encoding, &encoding.training_matrix(&refs, &labels), 500);
        let first = trained[0];
        assert!(trained.iter().all(|r| (r - first).abs() < 1e-12), "all read as the overall rate");
        // Nor is what one contact did kept to read a new one with: its page reads as
        // everyone's rate, and the model holds none of the pages' names.
        let predicted = rate_column(&encoding, &encoding.matrix(&refs), 500);
        assert!(predicted.iter().all(|r| (r - first).abs() < 1e-12));
        let Feature::Text { rates: Some(rates), .. } = &encoding.features[0] else { unreachable!() };
        assert!(rates.by_value.is_empty(), "{rates:?}");
    }

    #[test]
    fn a_value_seen_often_reads_close_to_its_own_rate() {
        // 60 pages: page 0 converts 80 % of its 1,000 contacts, the others 10 % of 100.
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..1_000 {
            values.push("page-0".to_owned());
            labels.push(i < 800);
        }
        for i in 0..5_900 {
            values.push(format!("page-{}", 1 + i % 59));
            labels.push(i < 590);
        }
        let rows = rows(&values);
        let refs: Vec<&Row> = rows.iter().collect();
        let encoding = Encoding::learn(&refs, &labels);
        let trained = rate_column(&encoding, &encoding.training_matrix(&refs, &labels), refs.len());
        // Pulled toward everyone's rate (0.2) by as much as 100 contacts of it.
        assert!((trained[0] - 0.8).abs() < 0.1, "{}", trained[0]);
        assert!((trained[1_000] - 0.1).abs() < 0.1, "{}", trained[1_000]);
        // Absent values are missing, not a rate.
        let absent: Vec<Row> = vec![vec![]];
        let data = encoding.matrix(&absent.iter().collect::<Vec<_>>());
        assert!(rate_column(&encoding, &data, 1)[0].is_nan());
    }
}
