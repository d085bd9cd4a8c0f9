//! Turning the learner's scores into probabilities that mean what they say.
//!
//! Boosted trees rank well, but the number they give is not the rate at which contacts
//! given it reach the target: trained on a history where 11 % converted, the learner's
//! probabilities averaged twice that. So the score is mapped through an isotonic
//! regression fitted on predictions made for contacts the model was not trained on (the
//! folds of cross-validation): among contacts scored alike, the share that reached the
//! target. Isotonic rather than a logistic (Platt) curve because the learner's errors
//! are not symmetric in log-odds (far too high at the bottom, somewhat too high at the
//! top). Between the pooled blocks the map is linear, so that contacts scored
//! differently stay ordered differently; only below the lowest block's mean and above
//! the highest's do they share a likelihood. It never reverses an order.

use serde::{Deserialize, Serialize};

/// No calibrated likelihood is quite 0 or 1: a few hundred contacts of which none
/// converted say "rarely", not "never".
const FLOOR: f64 = 0.001;

/// A monotone map from the learner's score (a probability of its own) to a calibrated
/// probability: the knots of a piecewise-linear curve, scores increasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Knots")]
pub struct Calibration {
    scores: Vec<f64>,
    probabilities: Vec<f64>,
}

/// A calibration as stored, checked before it is used: `apply` relies on it.
#[derive(Deserialize)]
struct Knots {
    scores: Vec<f64>,
    probabilities: Vec<f64>,
}

impl TryFrom<Knots> for Calibration {
    type Error = String;

    fn try_from(k: Knots) -> Result<Self, String> {
        let increasing = k.scores.windows(2).all(|w| w[0] < w[1]);
        let probabilities = k.probabilities.iter().all(|p| (0.0..=1.0).contains(p));
        if k.scores.len() != k.probabilities.len() || !increasing || !probabilities {
            return Err("a calibration needs as many probabilities (0 to 1) as scores, scores increasing".into());
        }
        Ok(Self { scores: k.scores, probabilities: k.probabilities })
    }
}

impl Calibration {
    /// Fits the map by pooling adjacent violators: contacts sorted by score, blocks
    /// merged until their rates of reaching the target rise with the score. Each block
    /// becomes a knot at its mean score and its rate.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Self {
        struct Block {
            score_sum: f64,
            positives: f64,
            count: f64,
        }
        impl Block {
            fn rate(&self) -> f64 {
                self.positives / self.count
            }
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
        let mut blocks: Vec<Block> = Vec::new();
        let mut last_score = None;
        for i in order {
            let (s, y) = (scores[i], f64::from(u8::from(labels[i])));
            match blocks.last_mut() {
                // Contacts scored the same are one block: the map cannot tell them apart.
                Some(b) if last_score == Some(s) => {
                    b.score_sum += s;
                    b.positives += y;
                    b.count += 1.0;
                }
                _ => blocks.push(Block { score_sum: s, positives: y, count: 1.0 }),
            }
            last_score = Some(s);
            while blocks.len() > 1 && blocks[blocks.len() - 2].rate() >= blocks[blocks.len() - 1].rate() {
                let b = blocks.pop().expect("two blocks");
                let a = blocks.last_mut().expect("one block");
                a.score_sum += b.score_sum;
                a.positives += b.positives;
                a.count += b.count;
            }
        }
        Self {
            scores: blocks.iter().map(|b| b.score_sum / b.count).collect(),
            probabilities: blocks.iter().map(|b| b.rate().clamp(FLOOR, 1.0 - FLOOR)).collect(),
        }
    }

    /// The calibrated probability of a score: interpolated between the knots, and the
    /// first or last knot's beyond them.
    pub fn apply(&self, score: f64) -> f64 {
        let (xs, ys) = (&self.scores, &self.probabilities);
        let Some(last) = xs.len().checked_sub(1) else { return score };
        if score.is_nan() {
            return ys[0];
        }
        let upper = xs.partition_point(|x| *x < score);
        if upper == 0 {
            return ys[0];
        }
        if upper > last {
            return ys[last];
        }
        let (x0, x1, y0, y1) = (xs[upper - 1], xs[upper], ys[upper - 1], ys[upper]);
        y0 + (y1 - y0) * (score - x0) / (x1 - x0)
    }

    /// How much the calibrated probability changes per unit of score between `a` and `b`
    /// (at least 0.02 apart, widened around their middle): what turns a change the
    /// learner attributes to a feature into a change of the calibrated likelihood.
    pub fn slope(&self, a: f64, b: f64) -> f64 {
        const WIDTH: f64 = 0.02;
        let (mut lo, mut hi) = (a.min(b), a.max(b));
        if hi - lo < WIDTH {
            let middle = (lo + hi) / 2.0;
            (lo, hi) = (middle - WIDTH / 2.0, middle + WIDTH / 2.0);
        }
        (self.apply(hi) - self.apply(lo)) / (hi - lo)
    }
}

/// One row of a reliability table: contacts given about the same likelihood, what they
/// were given on average, and how many of them reached the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReliabilityBin {
    pub contacts: u64,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// The reliability table of `probabilities`: contacts sorted by likelihood and cut into
/// `bins` groups of (nearly) equal size, lowest first. A well calibrated model's mean
/// predicted is close to the observed rate in every row.
pub fn reliability(probabilities: &[f64], labels: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|a, b| probabilities[*a].total_cmp(&probabilities[*b]));
    let n = order.len();
    (0..bins)
        .map(|b| &order[b * n / bins..(b + 1) * n / bins])
        .filter(|members| !members.is_empty())
        .map(|members| {
            let count = members.len() as f64;
            ReliabilityBin {
                contacts: members.len() as u64,
                mean_predicted: members.iter().map(|i| probabilities[*i]).sum::<f64>() / count,
                observed_rate: members.iter().filter(|i| labels[**i]).count() as f64 / count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_twice_too_high_is_brought_down_to_the_rate_it_stands_for() {
        // Scores of 0.2 reach the target 10 % of the time, 0.6 half the time.
        let mut scores = vec![0.2; 100];
        scores.extend([0.6; 100]);
        let labels: Vec<bool> = (0..100).map(|i| i < 10).chain((0..100).map(|i| i < 50)).collect();
        let c = Calibration::fit(&scores, &labels);
        assert!((c.apply(0.2) - 0.1).abs() < 1e-12);
        assert!((c.apply(0.6) - 0.5).abs() < 1e-12);
        // Between the knots, in order; beyond them, the nearest.
        assert!((c.apply(0.4) - 0.3).abs() < 1e-12);
        assert!((c.apply(0.0) - 0.1).abs() < 1e-12 && (c.apply(0.9) - 0.5).abs() < 1e-12);
        assert!(c.slope(0.2, 0.6) > 0.9 && c.slope(0.2, 0.6) < 1.1);
    }

    #[test]
    fn rates_that_fall_as_the_score_rises_are_pooled_and_none_is_zero_or_one() {
        let scores = [0.1, 0.2, 0.3, 0.4];
        let labels = [false, true, false, true];
        let c = Calibration::fit(&scores, &labels);
        // 0.2 (converted) and 0.3 (did not) pool into one block at 0.25 with rate 0.5.
        assert_eq!(c.scores, vec![0.1, 0.25, 0.4]);
        assert_eq!(c.probabilities, vec![FLOOR, 0.5, 1.0 - FLOOR]);
    }

    #[test]
    fn a_missing_score_an_empty_map_and_a_single_knot_give_a_probability() {
        let one = Calibration::fit(&[0.3, 0.3], &[true, false]);
        assert_eq!((one.apply(0.0), one.apply(0.3), one.apply(0.9), one.apply(f64::NAN)), (0.5, 0.5, 0.5, 0.5));
        assert_eq!(one.slope(0.1, 0.9), 0.0);
        let none = Calibration::fit(&[], &[]);
        assert_eq!(none.apply(0.42), 0.42);
        // Two scores closer than 0.02: the slope is taken over 0.02 around them.
        let c = Calibration::fit(&[0.2, 0.2, 0.6, 0.6], &[false, true, true, true]);
        assert!((c.slope(0.4, 0.4) - (0.999 - 0.5) / 0.4).abs() < 1e-9, "{}", c.slope(0.4, 0.4));
    }

    #[test]
    fn a_stored_map_that_would_not_be_monotone_is_refused_when_read() {
        let good: Calibration =
            serde_json::from_str(r#"{"scores": [0.1, 0.5], "probabilities": [0.05, 0.4]}"#).unwrap();
        assert!((good.apply(0.3) - 0.225).abs() < 1e-12);
        for bad in [
            r#"{"scores": [0.1, 0.5], "probabilities": [0.05]}"#,
            r#"{"scores": [0.5, 0.1], "probabilities": [0.05, 0.4]}"#,
            r#"{"scores": [0.1, 0.5], "probabilities": [0.05, 1.4]}"#,
        ] {
            assert!(serde_json::from_str::<Calibration>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_reliability_table_cuts_contacts_into_equal_groups_by_likelihood() {
        let probabilities: Vec<f64> = (0..20).map(|i| f64::from(i) / 20.0).collect();
        let labels: Vec<bool> = (0..20).map(|i| i >= 15).collect();
        let table = reliability(&probabilities, &labels, 4);
        assert_eq!(table.iter().map(|b| b.contacts).collect::<Vec<_>>(), vec![5; 4]);
        assert!((table[0].mean_predicted - 0.1).abs() < 1e-12);
        assert_eq!(table.iter().map(|b| b.observed_rate).collect::<Vec<_>>(), vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(reliability(&probabilities[..3], &labels[..3], 10).len(), 3);
    }
}
