//! Isotonic regression of outcomes on scores: the calibration map of CBPE.
//!
//! The same fit and prediction as scikit-learn's
//! `IsotonicRegression(out_of_bounds="clip")` (NannyML's calibrator):
//! equal scores are pooled first (their mean outcome, weighted by their
//! rows), the pool-adjacent-violators algorithm makes the means
//! non-decreasing, and a score is mapped by linear interpolation between
//! the fitted points (`numpy.interp`), clipped to the fitted range.
//! (scikit-learn also pools scores closer than 1e-15; scores here are
//! pooled only when equal.)

use serde::{Deserialize, Serialize};

/// A fitted non-decreasing map from scores to probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    /// Distinct scores, increasing.
    pub x: Vec<f64>,
    /// Fitted values, non-decreasing.
    pub y: Vec<f64>,
}

impl Isotonic {
    /// Fits `(score, positives, rows)` points with increasing, distinct
    /// scores. `None` without rows.
    pub fn fit(points: &[(f64, f64, f64)]) -> Option<Self> {
        // Blocks of pooled points: (Σ w·y, Σ w, points in the block).
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(points.len());
        for &(_, positives, rows) in points {
            if rows <= 0.0 {
                continue;
            }
            blocks.push((positives, rows, 1));
            while blocks.len() > 1 {
                let (s2, w2, c2) = blocks[blocks.len() - 1];
                let (s1, w1, c1) = blocks[blocks.len() - 2];
                if s1 / w1 > s2 / w2 {
                    blocks.pop();
                    let last = blocks.len() - 1;
                    blocks[last] = (s1 + s2, w1 + w2, c1 + c2);
                } else {
                    break;
                }
            }
        }
        if blocks.is_empty() {
            return None;
        }
        let x: Vec<f64> = points.iter().filter(|p| p.2 > 0.0).map(|p| p.0).collect();
        let mut y = Vec::with_capacity(x.len());
        for (s, w, c) in blocks {
            y.extend(std::iter::repeat_n(s / w, c));
        }
        Some(Self { x, y })
    }

    /// The calibrated probability of `score`.
    pub fn predict(&self, score: f64) -> f64 {
        let n = self.x.len();
        if score <= self.x[0] {
            return self.y[0];
        }
        if score >= self.x[n - 1] {
            return self.y[n - 1];
        }
        // First x strictly greater than score; score lies in [x[j-1], x[j]).
        let j = self.x.partition_point(|&v| v <= score);
        let (x0, x1, y0, y1) = (self.x[j - 1], self.x[j], self.y[j - 1], self.y[j]);
        if score == x0 {
            return y0;
        }
        let slope = (y1 - y0) / (x1 - x0);
        slope * (score - x0) + y0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_violators_and_interpolates() {
        // Means 0, 1, 0, 1 at x = 1..4 with unit weights: 2 and 3 pool to 0.5.
        let fit = Isotonic::fit(&[
            (1.0, 0.0, 1.0),
            (2.0, 1.0, 1.0),
            (3.0, 0.0, 1.0),
            (4.0, 1.0, 1.0),
        ])
        .unwrap();
        assert_eq!(fit.y, vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(fit.predict(0.0), 0.0);
        assert_eq!(fit.predict(1.5), 0.25);
        assert_eq!(fit.predict(2.5), 0.5);
        assert_eq!(fit.predict(3.5), 0.75);
        assert_eq!(fit.predict(9.0), 1.0);
    }
}
