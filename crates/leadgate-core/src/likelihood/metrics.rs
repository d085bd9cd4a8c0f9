//! How good a probability is: ROC AUC (how well it ranks buyers above the others) and
//! the Brier score (how close it is to what happened), and the folds they are measured on.

/// The area under the ROC curve: the chance that a random positive is scored above a
/// random negative, ties counting half. `None` without both classes.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let (mut rank_sum, mut positives) = (0.0, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum += rank;
                positives += 1;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The mean squared difference between probability and outcome (0 is perfect; always
/// guessing the base rate `r` scores `r(1-r)`).
pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    let sum: f64 = probabilities.iter().zip(labels).map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2)).sum();
    sum / probabilities.len().max(1) as f64
}

/// Assigns each example to one of `k` folds, each class spread evenly over the folds,
/// in an order shuffled by `seed` (the same seed, the same folds).
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; labels.len()];
    for class in [true, false] {
        let mut members: Vec<usize> = (0..labels.len()).filter(|i| labels[*i] == class).collect();
        members.sort_by_key(|i| xxhash_rust::xxh3::xxh3_64_with_seed(&(*i as u64).to_le_bytes(), seed));
        for (n, i) in members.into_iter().enumerate() {
            fold[i] = n % k;
        }
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_one_for_a_perfect_ranking_a_half_for_ties_and_none_for_one_class() {
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        // One of the four positive-negative pairs is ranked the wrong way round.
        assert_eq!(roc_auc(&[0.1, 0.6, 0.5, 0.9], &[false, false, true, true]), Some(0.75));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn brier_of_the_base_rate_is_its_variance() {
        let labels = [true, false, false, false];
        assert!((brier(&[0.25; 4], &labels) - 0.1875).abs() < 1e-12);
        assert_eq!(brier(&[1.0, 0.0, 0.0, 0.0], &labels), 0.0);
    }

    #[test]
    fn folds_keep_the_classes_balanced_and_are_repeatable() {
        let labels: Vec<bool> = (0..100).map(|i| i % 4 == 0).collect();
        let folds = stratified_folds(&labels, 5, 0);
        assert_eq!(folds, stratified_folds(&labels, 5, 0));
        assert_ne!(folds, stratified_folds(&labels, 5, 1));
        for k in 0..5 {
            let (pos, all) =
                (0..100).filter(|i| folds[*i] == k).fold((0, 0), |(p, a), i| (p + usize::from(labels[i]), a + 1));
            assert_eq!((pos, all), (5, 20));
        }
    }
}
