//! Turning named features into the columns of a matrix, as learned from the training
//! contacts: a number stays a number (absent: missing), a text becomes one column per
//! value seen often enough plus one that says it was absent.

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
    Number { name: String },
    Text { name: String, levels: Vec<String> },
}

impl Feature {
    pub fn name(&self) -> &str {
        match self {
            Feature::Number { name } | Feature::Text { name, .. } => name,
        }
    }

    fn width(&self) -> usize {
        match self {
            Feature::Number { .. } => 1,
            Feature::Text { levels, .. } => levels.len() + 1,
        }
    }
}

/// The columns a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Encoding {
    pub features: Vec<Feature>,
}

impl Encoding {
    /// Learns the columns from the training rows. A feature that never varies tells the
    /// model nothing and gets none; a name used both for numbers and texts is read as text.
    pub fn learn(rows: &[&Row]) -> Self {
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
                let mut levels: Vec<(String, usize)> =
                    s.texts.into_iter().filter(|(_, n)| *n >= MIN_LEVEL_COUNT).collect();
                levels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                levels.truncate(MAX_LEVELS);
                let varies = levels.len() > 1 || (levels.len() == 1 && levels[0].1 < rows.len());
                varies
                    .then(|| Feature::Text { name: name.to_owned(), levels: levels.into_iter().map(|l| l.0).collect() })
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
                Feature::Text { levels, .. } => {
                    let text = match value {
                        Some(Raw::Text(t)) => Some(t.as_str()),
                        Some(Raw::Number(_)) | None => None,
                    };
                    for (i, level) in levels.iter().enumerate() {
                        columns[col + i].push(f64::from(u8::from(text == Some(level.as_str()))));
                    }
                    columns[col + levels.len()].push(f64::from(u8::from(text.is_none())));
                }
            }
            col += f.width();
        }
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

/// How a row's value of a feature reads in an explanation.
pub fn describe(feature: &Feature, row: &Row) -> String {
    let value = row.iter().find(|(n, _)| n == feature.name()).map(|(_, v)| v);
    match value {
        None => format!("{} is not known", feature.name()),
        Some(Raw::Number(n)) => format!("{} is {}", feature.name(), crate::scoring::round1(*n)),
        Some(Raw::Text(t)) => format!("{} is {t}", feature.name()),
    }
}
