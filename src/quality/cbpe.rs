//! Performance estimated without labels: confidence-based performance
//! estimation (CBPE, as NannyML does it) for binary classifiers with scores.
//!
//! # Method
//!
//! [`Estimator::fit`] calibrates the scores on a labelled reference with
//! isotonic regression ([`super::isotonic`]): `p(s)` is the probability
//! that a row with score `s` is positive. On unlabelled data every row is
//! then a positive with probability `p(s)`, so the expected confusion
//! matrix at the threshold is `E[TP] = Σ_{s ≥ t} p(s)`, `E[FP] = Σ_{s ≥ t}
//! (1 − p(s))`, `E[FN] = Σ_{s < t} p(s)`, `E[TN] = Σ_{s < t} (1 − p(s))`, and
//! accuracy, precision, recall and F1 follow from it. ROC AUC is the AUC
//! with each row counted `p(s)` as a positive and `1 − p(s)` as a negative
//! (the expected ROC curve).
//!
//! # Bands
//!
//! The 95% band is the sampling spread of the realized metric if the
//! calibration holds: the outcomes are independent Bernoulli(`p(s)`), so
//! accuracy has variance `Σ p(1 − p) / n²`, precision `Σ_{s ≥ t} p(1 − p) /
//! n_pp²`, recall and F1 theirs by the delta method, and ROC AUC the
//! Hanley–McNeil variance at the expected class sizes. The band does not
//! cover a calibration that no longer holds (concept drift: `P(y | s)`
//! changed), which no label-free method can see; docs/quality.md gives the
//! errors measured on the example data and on a covariate-shift scenario.
//!
//! # Inputs
//!
//! Scores come as a [`ScoreHistogram`] (mergeable; any window's). On an
//! exact histogram the estimate is exact arithmetic on every distinct
//! score; on a binned one each bin is taken at its mean score.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::accumulator::{QualityAccumulator, TaskState};
use super::intervals::Z95;
use super::isotonic::Isotonic;
use super::ranking::ScoreHistogram;
use super::report::{Metrics, names};
use super::{QualityError, ScoreColumns, Task};

/// A calibration fitted on a labelled reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimator {
    pub calibration: Isotonic,
    /// A score at or above it predicts the positive class.
    pub threshold: f64,
    /// Reference rows the calibration was fitted on.
    pub reference_rows: u64,
}

/// Estimated metrics with their 95% bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// `"cbpe"`.
    pub method: String,
    /// Rows the estimate is for.
    pub rows: u64,
    /// accuracy, precision, recall, f1, roc_auc (and the expected base rate
    /// and positive prediction rate).
    pub metrics: Metrics,
    pub intervals: BTreeMap<String, [f64; 2]>,
}

impl Estimator {
    /// Fits on a binary quality accumulator of labelled reference data with
    /// a score column.
    pub fn fit(reference: &QualityAccumulator) -> Result<Self, QualityError> {
        let spec = reference.spec();
        if reference.task() != Task::Binary || !matches!(spec.scores, ScoreColumns::Single(_)) {
            return Err(QualityError::Spec(
                "CBPE needs a binary task with a score column".into(),
            ));
        }
        let TaskState::Binary(state) = reference.state() else {
            return Err(QualityError::Spec("CBPE needs a binary state".into()));
        };
        let resolved = state.resolve(spec);
        let mut negatives = ScoreHistogram::default();
        let mut positives = ScoreHistogram::default();
        for (label, scores) in &state.scores {
            if *label == resolved.positive {
                positives.merge(&scores.histogram);
            } else {
                negatives.merge(&scores.histogram);
            }
        }
        Self::fit_scores(&positives, &negatives, spec.threshold)
    }

    /// Fits on the scores of the positive and of the negative reference rows.
    pub fn fit_scores(
        positives: &ScoreHistogram,
        negatives: &ScoreHistogram,
        threshold: f64,
    ) -> Result<Self, QualityError> {
        let (groups, _) = super::ranking::aligned(positives, negatives);
        if groups.is_empty() {
            return Err(QualityError::Spec(
                "CBPE needs labelled reference rows with scores".into(),
            ));
        }
        let points: Vec<(f64, f64, f64)> = groups
            .iter()
            .map(|g| {
                (
                    g.score,
                    g.positives as f64,
                    (g.positives + g.negatives) as f64,
                )
            })
            .collect();
        let calibration = Isotonic::fit(&points).ok_or_else(|| {
            QualityError::Spec("CBPE needs labelled reference rows with scores".into())
        })?;
        Ok(Self {
            calibration,
            threshold,
            reference_rows: positives.count() + negatives.count(),
        })
    }

    /// The calibrated probability of a score.
    pub fn probability(&self, score: f64) -> f64 {
        self.calibration.predict(score)
    }

    /// Estimates the metrics of rows with these scores.
    pub fn estimate(&self, current: &ScoreHistogram) -> Estimate {
        let points = current.points();
        let n: u64 = points.iter().map(|p| p.1).sum();
        // Expected counts and Bernoulli variances, predicted positive / negative.
        let (mut tp, mut fn_, mut tn) = (0.0, 0.0, 0.0);
        let (mut var_pp, mut var_pn) = (0.0, 0.0);
        let mut n_pp = 0.0;
        let mut weights = Vec::with_capacity(points.len());
        for &(s, c) in &points {
            let p = self.probability(s);
            let c = c as f64;
            weights.push((c * p, c * (1.0 - p)));
            if s >= self.threshold {
                tp += c * p;
                var_pp += c * p * (1.0 - p);
                n_pp += c;
            } else {
                fn_ += c * p;
                tn += c * (1.0 - p);
                var_pn += c * p * (1.0 - p);
            }
        }
        let mut metrics = Metrics::default();
        let mut intervals = BTreeMap::new();
        let mut band = |name: &str, value: Option<f64>, var: f64| {
            metrics.push(name, value);
            if let Some(v) = value
                && var.is_finite()
            {
                let half = Z95 * var.max(0.0).sqrt();
                intervals.insert(name.to_string(), [(v - half).max(0.0), (v + half).min(1.0)]);
            }
        };
        let nf = n as f64;
        band(
            names::ACCURACY,
            (n > 0).then(|| (tp + tn) / nf),
            (var_pp + var_pn) / (nf * nf),
        );
        band(
            names::PRECISION,
            (n_pp > 0.0).then(|| tp / n_pp),
            var_pp / (n_pp * n_pp),
        );
        let positives = tp + fn_;
        band(
            names::RECALL,
            (positives > 0.0).then(|| tp / positives),
            (fn_ * fn_ * var_pp + tp * tp * var_pn) / positives.powi(4),
        );
        let d = n_pp + tp + fn_;
        band(names::F1, (d > 0.0).then(|| 2.0 * tp / d), {
            let da = 2.0 * (n_pp + fn_) / (d * d);
            let db = -2.0 * tp / (d * d);
            da * da * var_pp + db * db * var_pn
        });
        // Expected AUC over fractional positives/negatives (ties count ½).
        let (wp, wn): (f64, f64) = weights
            .iter()
            .fold((0.0, 0.0), |(a, b), w| (a + w.0, b + w.1));
        let auc = (wp > 0.0 && wn > 0.0).then(|| {
            let mut below = 0.0;
            let mut u = 0.0;
            for &(pos, neg) in &weights {
                u += pos * (below + 0.5 * neg);
                below += neg;
            }
            u / (wp * wn)
        });
        let auc_var = auc.map_or(f64::NAN, |a| {
            let q1 = a / (2.0 - a);
            let q2 = 2.0 * a * a / (1.0 + a);
            (a * (1.0 - a) + (wp - 1.0) * (q1 - a * a) + (wn - 1.0) * (q2 - a * a)) / (wp * wn)
        });
        band(names::ROC_AUC, auc, auc_var);
        metrics.push(names::BASE_RATE, (n > 0).then(|| positives / nf));
        metrics.push(names::POSITIVE_PREDICTION_RATE, (n > 0).then(|| n_pp / nf));
        Estimate {
            method: "cbpe".into(),
            rows: n,
            metrics,
            intervals,
        }
    }
}

/// Every score of a binary quality accumulator's whole data (labels
/// ignored): what CBPE estimates from.
pub fn scores_of(acc: &QualityAccumulator) -> ScoreHistogram {
    let mut out = ScoreHistogram::default();
    if let TaskState::Binary(state) = acc.state() {
        for s in state.scores.values() {
            out.merge(&s.histogram);
        }
    }
    out
}

/// A mergeable histogram of one score column's values, for windows whose
/// labels have not arrived: update with batches, merge, then
/// [`Estimator::estimate`] its [`ScoreAccumulator::histogram`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreAccumulator {
    pub column: String,
    pub histogram: ScoreHistogram,
}

impl ScoreAccumulator {
    pub fn new(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            histogram: ScoreHistogram::default(),
        }
    }

    /// Adds every row's score (a null, NaN or out-of-range score is an error
    /// naming the row; nothing of the batch is added then).
    pub fn update(&mut self, batch: &arrow::array::RecordBatch) -> Result<(), QualityError> {
        let array = super::columns::column(batch, &self.column)?;
        let rows: Vec<u32> = (0..batch.num_rows() as u32).collect();
        let mut scores = super::columns::scores(array, &self.column, &rows)?;
        self.histogram.add_all(&mut scores);
        Ok(())
    }

    pub fn merge(&mut self, other: &ScoreAccumulator) -> Result<(), QualityError> {
        if self.column != other.column {
            return Err(QualityError::Merge(format!(
                "score columns differ (`{}` and `{}`)",
                self.column, other.column
            )));
        }
        self.histogram.merge(&other.histogram);
        Ok(())
    }
}
