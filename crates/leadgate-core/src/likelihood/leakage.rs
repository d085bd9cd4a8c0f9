//! Signs that a model learned from what was recorded after the outcome was known: a
//! feature that on its own ranks the outcome almost perfectly (a sales team's status
//! tag, a closing note), or a cross-validated ROC AUC too good for what is known of a
//! person when they first respond. Such a model looks excellent and predicts nothing at
//! capture time, so training says so, naming the features, instead of reporting the
//! flattering figure alone.

use super::features::{Raw, Row};
use super::metrics::roc_auc;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// A feature, or a model, that ranks the outcome at least this well is suspect.
pub const SUSPECT_AUC: f64 = 0.95;

/// How strongly a category's rate is pulled toward the base rate: as if each category
/// had this many more contacts, at the base rate (a category of one contact says little).
const SMOOTHING: f64 = 10.0;

/// How well a feature alone ranks the outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureAuc {
    pub feature: String,
    /// Its ROC AUC on its own, measured on held-out folds (0.5 is a coin, 1 perfect;
    /// a feature that ranks the outcome backwards counts as well as one that ranks it
    /// forwards).
    pub roc_auc: f64,
}

/// How well each feature of `rows` alone ranks `labels`, best first. A number ranks by
/// its value (a missing one lowest), either way round; a text by the rate at which its
/// category reached the target in the other folds (`folds[i]` is row `i`'s fold), so
/// that a value unique to each contact (an id) is not mistaken for a perfect predictor.
pub fn ranking_alone(rows: &[&Row], labels: &[bool], folds: &[usize]) -> Vec<FeatureAuc> {
    let mut columns: HashMap<&str, Vec<Option<&Raw>>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        for (name, value) in row.iter() {
            columns.entry(name.as_str()).or_insert_with(|| vec![None; rows.len()])[i] = Some(value);
        }
    }
    let mut ranking: Vec<FeatureAuc> = columns
        .into_iter()
        .filter_map(|(name, values)| {
            let auc = if values.iter().flatten().all(|v| matches!(v, Raw::Number(_))) {
                let scores: Vec<f64> =
                    values.iter().map(|v| if let Some(Raw::Number(n)) = v { *n } else { f64::NEG_INFINITY }).collect();
                // A number may rank the outcome either way round (fewer days to a
                // refund for buyers).
                roc_auc(&scores, labels).map(|a| a.max(1.0 - a))?
            } else {
                // A rate already points the right way: ranked backwards, it only shows
                // how far held-out rates of small categories fall from their own.
                roc_auc(&held_out_rates(&values, labels, folds), labels)?
            };
            Some(FeatureAuc { feature: name.to_owned(), roc_auc: auc })
        })
        .collect();
    ranking.sort_by(|a, b| b.roc_auc.total_cmp(&a.roc_auc).then_with(|| a.feature.cmp(&b.feature)));
    ranking
}

/// Those of a [`ranking_alone`] (best first) that rank the outcome at least as well as
/// [`SUSPECT_AUC`].
pub fn suspect(ranking: &[FeatureAuc]) -> &[FeatureAuc] {
    &ranking[..ranking.partition_point(|f| f.roc_auc >= SUSPECT_AUC)]
}

/// Each row's category's rate of reaching the target among the rows of the other folds,
/// smoothed toward their base rate; a missing value is a category of its own.
fn held_out_rates(values: &[Option<&Raw>], labels: &[bool], folds: &[usize]) -> Vec<f64> {
    // Borrowed: a text column's values are not copied to be counted.
    let keys: Vec<Option<Cow<str>>> = values
        .iter()
        .map(|v| match *v {
            Some(Raw::Text(t)) => Some(Cow::Borrowed(t.as_str())),
            Some(Raw::Number(n)) => Some(Cow::Owned(n.to_string())),
            None => None,
        })
        .collect();
    let k = folds.iter().max().map_or(1, |m| m + 1);
    // Counts per fold and category: (contacts, reached the target).
    type Counts<'k> = HashMap<&'k Option<Cow<'k, str>>, (f64, f64)>;
    let mut by_fold: Vec<Counts> = vec![HashMap::new(); k];
    let mut all = Counts::new();
    let (mut fold_sizes, mut fold_positives) = (vec![0.0; k], vec![0.0; k]);
    for ((key, &label), &fold) in keys.iter().zip(labels).zip(folds) {
        let y = f64::from(u8::from(label));
        for counts in [by_fold[fold].entry(key).or_default(), all.entry(key).or_default()] {
            counts.0 += 1.0;
            counts.1 += y;
        }
        fold_sizes[fold] += 1.0;
        fold_positives[fold] += y;
    }
    let (size, positives) = (labels.len() as f64, labels.iter().filter(|l| **l).count() as f64);
    keys.iter()
        .zip(folds)
        .map(|(key, &fold)| {
            let (n_all, y_all) = all[key];
            let (n_in, y_in) = by_fold[fold][key];
            let (n, y) = (n_all - n_in, y_all - y_in);
            let base = (positives - fold_positives[fold]) / (size - fold_sizes[fold]).max(1.0);
            (y + SMOOTHING * base) / (n + SMOOTHING)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::likelihood::metrics::stratified_folds;

    fn row(values: &[(&str, Raw)]) -> Row {
        values.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()
    }

    #[test]
    fn a_feature_recorded_after_the_outcome_is_suspect_and_an_id_or_an_honest_one_is_not() {
        // 400 contacts, a quarter of whom bought. `custom.sales_status` says "won" for
        // buyers and one of three other words for the rest; `custom.lead_number` is
        // unique to each; `custom.visits` leans toward buyers without giving them away.
        let labels: Vec<bool> = (0..400).map(|i| i % 4 == 0).collect();
        let rows: Vec<Row> = (0..400)
            .map(|i| {
                let bought = labels[i];
                let status = if bought { "won" } else { ["open", "lost", "nurture"][i % 3] };
                let visits = (i % 7) as f64 + if bought { 2.0 } else { 0.0 };
                row(&[
                    ("custom.sales_status", Raw::Text(status.into())),
                    ("custom.lead_number", Raw::Text(format!("L{i}"))),
                    ("custom.visits", Raw::Number(visits)),
                    ("custom.refund_days", Raw::Number(if bought { -(i as f64) } else { 1_000.0 + i as f64 })),
                ])
            })
            .collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let folds = stratified_folds(&labels, 5, 0);
        let ranking = ranking_alone(&refs, &labels, &folds);
        assert_eq!(ranking.len(), 4, "every feature is ranked: {ranking:?}");
        let suspect = suspect(&ranking);
        let names: Vec<&str> = suspect.iter().map(|s| s.feature.as_str()).collect();
        // Ranked backwards (a lower number for buyers) counts as well as forwards.
        assert_eq!(names, ["custom.refund_days", "custom.sales_status"], "{suspect:?}");
        assert!(suspect.iter().all(|s| s.roc_auc >= SUSPECT_AUC && s.roc_auc <= 1.0));
    }

    #[test]
    fn small_categories_ranked_backwards_by_their_held_out_rates_are_not_suspect() {
        // Accounts of three contacts, one of whom bought: each contact's account rate
        // among the other folds is lower for the buyer (its two colleagues did not buy)
        // than for the others, so the ranking is backwards, and means nothing.
        let labels: Vec<bool> = (0..300).map(|i| i % 3 == 0).collect();
        let rows: Vec<Row> =
            (0..300).map(|i| row(&[("custom.company", Raw::Text(format!("acme-{}", i / 3)))])).collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let ranking = ranking_alone(&refs, &labels, &stratified_folds(&labels, 5, 0));
        assert!(ranking[0].roc_auc < 0.5, "{ranking:?}");
        assert!(suspect(&ranking).is_empty(), "{ranking:?}");
    }

    #[test]
    fn a_missing_value_is_a_category_of_its_own() {
        // Only the buyers have a closing note: its absence gives the rest away.
        let labels: Vec<bool> = (0..200).map(|i| i % 2 == 0).collect();
        let rows: Vec<Row> = (0..200)
            .map(|i| if labels[i] { row(&[("custom.note", Raw::Text(format!("closed {i}")))]) } else { Row::new() })
            .collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let ranking = ranking_alone(&refs, &labels, &stratified_folds(&labels, 5, 0));
        let suspect = suspect(&ranking);
        // Every note is different, so no note's category teaches anything, but having
        // one at all does: the rows without are one category, all of them not buyers.
        assert_eq!(suspect.len(), 1, "{suspect:?}");
        assert_eq!(suspect[0].feature, "custom.note");
    }
}
