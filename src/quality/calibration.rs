//! Calibration curve and expected calibration error (ECE), 10 equal-width
//! bins.
//!
//! Bins are scikit-learn's `calibration_curve(strategy="uniform",
//! n_bins=10)`: the edges are `numpy.linspace(0, 1, 11)` and a score goes to
//! the bin `searchsorted(inner_edges, score)`, i.e. bins are `[0, 0.1]`,
//! `(0.1, 0.2]`, ..., `(0.9, 1]` (a score equal to an edge belongs to the
//! bin below it). For each non-empty bin the curve has the fraction of
//! positives (`prob_true`) and the mean score (`prob_pred`), exactly as
//! `calibration_curve` returns them.
//!
//! ECE (binary) = `Σ_b (n_b / n) · |prob_true_b − prob_pred_b|` over those
//! bins, the score being the probability of the positive class. For a
//! multiclass model it is the top-label ECE of Guo et al. (2017): the
//! score is the largest class probability and "positive" means the arg-max
//! class is the label. scikit-learn has no ECE; the fixtures compute it
//! from `calibration_curve`'s own bins (binary) and with NumPy (top-label).

use serde::{Deserialize, Serialize};

use super::sums::Sum;

pub const CALIBRATION_BINS: usize = 10;

/// The bin of a score in [0, 1] (scikit-learn's `searchsorted` on the
/// inner edges `i · 0.1`, computed as `numpy.linspace` computes them).
pub fn calibration_bin(score: f64) -> usize {
    // Count of inner edges strictly below the score.
    (1..CALIBRATION_BINS)
        .filter(|&i| (i as f64 * (1.0 / CALIBRATION_BINS as f64)) < score)
        .count()
}

/// Per bin: rows, sum of scores, and rows whose outcome was positive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBins {
    pub count: [u64; CALIBRATION_BINS],
    pub score_sum: [Sum; CALIBRATION_BINS],
    pub hits: [u64; CALIBRATION_BINS],
}

impl CalibrationBins {
    #[inline]
    pub fn add(&mut self, score: f64, hit: bool) {
        let b = calibration_bin(score);
        self.count[b] += 1;
        self.score_sum[b].add(score);
        self.hits[b] += u64::from(hit);
    }

    pub fn merge(&mut self, other: &CalibrationBins) {
        for b in 0..CALIBRATION_BINS {
            self.count[b] += other.count[b];
            self.score_sum[b].merge(&other.score_sum[b]);
            self.hits[b] += other.hits[b];
        }
    }

    /// Adds another label class's bins, counting all its rows as hits or not.
    pub fn absorb(&mut self, other: &CalibrationBins, hits: bool) {
        for b in 0..CALIBRATION_BINS {
            self.count[b] += other.count[b];
            self.score_sum[b].merge(&other.score_sum[b]);
            if hits {
                self.hits[b] += other.count[b];
            }
        }
    }

    pub fn curve(&self) -> Calibration {
        let total: u64 = self.count.iter().sum();
        let mut bins = Vec::new();
        let mut ece = 0.0;
        for b in 0..CALIBRATION_BINS {
            let n = self.count[b];
            if n == 0 {
                continue;
            }
            let prob_true = self.hits[b] as f64 / n as f64;
            let prob_pred = self.score_sum[b].value() / n as f64;
            ece += n as f64 / total as f64 * (prob_true - prob_pred).abs();
            bins.push(CalibrationPoint {
                lower: b as f64 / CALIBRATION_BINS as f64,
                upper: (b + 1) as f64 / CALIBRATION_BINS as f64,
                count: n,
                prob_true,
                prob_pred,
            });
        }
        Calibration {
            ece: (total > 0).then_some(ece),
            bins,
        }
    }
}

/// The curve and its ECE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `None` without rows.
    pub ece: Option<f64>,
    /// Non-empty bins only, in score order.
    pub bins: Vec<CalibrationPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPoint {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    /// Fraction of positives (binary) or of correct arg-max (multiclass).
    pub prob_true: f64,
    /// Mean score.
    pub prob_pred: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_belong_to_the_bin_below_as_in_scikit_learn() {
        assert_eq!(calibration_bin(0.0), 0);
        assert_eq!(calibration_bin(0.1), 0);
        assert_eq!(calibration_bin(0.100_000_001), 1);
        // linspace's third edge is 0.30000000000000004: 0.3 is below it.
        assert_eq!(calibration_bin(0.3), 2);
        assert_eq!(calibration_bin(0.6), 5);
        assert_eq!(calibration_bin(0.7), 6);
        assert_eq!(calibration_bin(1.0), 9);
    }
}
