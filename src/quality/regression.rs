//! The state of a regression's quality, and its metrics.
//!
//! # Definitions (scikit-learn 1.9; error e = prediction − label)
//!
//! - mae: `mean_absolute_error`; mse: `mean_squared_error`; rmse:
//!   `root_mean_squared_error`;
//! - mape: `mean_absolute_percentage_error`: mean of `|e| / max(|y|, ε)`,
//!   ε = `f64::EPSILON` (so a label of 0 gives a huge value, as there);
//! - r2: `r2_score`: `1 − Σe² / Σ(y − ȳ)²`; with constant labels 1 when
//!   every prediction is exact, else 0 (`force_finite=True`);
//! - mean_error: mean of `prediction − label` (bias: positive means the
//!   model over-predicts); mean_label, mean_prediction;
//! - residual quantiles: quantiles of `e` at 5, 25, 50, 75 and 95% from the
//!   KLL sketch of the profiles (exact up to a few hundred rows, then
//!   within its rank error, ~1.65% at 99% confidence).

use serde::{Deserialize, Serialize};

use super::columns::{BatchRows, Truth};
use super::intervals::{Z95, mean_interval};
use super::report::{Basis, Metrics, ResidualQuantile, Summary, names};
use super::sums::{Moments, Sum};
use crate::profile::kll::Kll;

/// The residual quantiles reported.
pub const RESIDUAL_QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A regression's quality state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegressionState {
    pub n: u64,
    /// Σ e.
    pub error: Sum,
    /// Σ |e|.
    pub abs_error: Sum,
    /// Σ e².
    pub sq_error: Sum,
    /// Σ e⁴ (the spread of squared errors, for the MSE test).
    pub sq_error_sq: Sum,
    /// Σ |e| / max(|y|, ε).
    pub ape: Sum,
    pub label: Moments,
    pub prediction: Moments,
    pub residuals: Kll,
}

impl RegressionState {
    /// Counts `selection` of `rows` (labels and predictions are finite:
    /// [`super::columns::read`] checked).
    pub fn apply(&mut self, rows: &BatchRows, selection: &[u32]) {
        let (Truth::Numbers(y), Some(Truth::Numbers(p))) = (&rows.label, &rows.prediction) else {
            return;
        };
        for &row in selection {
            let r = row as usize;
            let e = p[r] - y[r];
            self.n += 1;
            self.error.add(e);
            self.abs_error.add(e.abs());
            self.sq_error.add(e * e);
            self.sq_error_sq.add(e * e * e * e);
            self.ape.add(e.abs() / y[r].abs().max(f64::EPSILON));
            self.residuals.update(e);
        }
        fn pick<'a>(v: &'a [f64], rows: &'a [u32]) -> impl Iterator<Item = f64> + Clone + 'a {
            rows.iter().map(move |&r| v[r as usize])
        }
        self.label.merge(&Moments::of(pick(y, selection)));
        self.prediction.merge(&Moments::of(pick(p, selection)));
    }

    pub fn merge(&mut self, other: &RegressionState) {
        self.n += other.n;
        self.error.merge(&other.error);
        self.abs_error.merge(&other.abs_error);
        self.sq_error.merge(&other.sq_error);
        self.sq_error_sq.merge(&other.sq_error_sq);
        self.ape.merge(&other.ape);
        self.label.merge(&other.label);
        self.prediction.merge(&other.prediction);
        self.residuals.merge(&other.residuals);
    }

    pub fn finish(&self) -> Summary {
        let mut out = Summary {
            labelled: self.n,
            ..Summary::default()
        };
        let mut metrics = Metrics::default();
        if self.n == 0 {
            for name in [
                names::MAE,
                names::MSE,
                names::RMSE,
                names::MAPE,
                names::R2,
                names::MEAN_ERROR,
                names::MEAN_LABEL,
                names::MEAN_PREDICTION,
            ] {
                metrics.push(name, None);
            }
            out.metrics = metrics;
            return out;
        }
        let n = self.n as f64;
        let mae = self.abs_error.value() / n;
        let sse = self.sq_error.value();
        let mse = sse / n;
        let r2 = if self.label.m2 > 0.0 {
            1.0 - sse / self.label.m2
        } else if sse == 0.0 {
            1.0
        } else {
            0.0
        };
        if self.label.m2 == 0.0 {
            out.notes.push("the labels are constant: r2 is 1 for exact predictions and 0 otherwise (scikit-learn's force_finite)".into());
        }
        metrics.push(names::MAE, Some(mae));
        metrics.push(names::MSE, Some(mse));
        metrics.push(names::RMSE, Some(mse.sqrt()));
        metrics.push(names::MAPE, Some(self.ape.value() / n));
        metrics.push(names::R2, Some(r2));
        metrics.push(names::MEAN_ERROR, Some(self.error.value() / n));
        metrics.push(names::MEAN_LABEL, Some(self.label.mean));
        metrics.push(names::MEAN_PREDICTION, Some(self.prediction.mean));
        let sd = |sum_sq: f64, mean: f64| {
            if self.n > 1 {
                ((sum_sq - n * mean * mean) / (n - 1.0)).max(0.0).sqrt()
            } else {
                f64::NAN
            }
        };
        let bases = [
            (names::MAE, mae, sd(sse, mae)),
            (names::MSE, mse, sd(self.sq_error_sq.value(), mse)),
            (
                names::MEAN_ERROR,
                self.error.value() / n,
                sd(sse, self.error.value() / n),
            ),
            (
                names::MEAN_LABEL,
                self.label.mean,
                self.label.sample_variance().unwrap_or(f64::NAN).sqrt(),
            ),
            (
                names::MEAN_PREDICTION,
                self.prediction.mean,
                self.prediction.sample_variance().unwrap_or(f64::NAN).sqrt(),
            ),
        ];
        for (name, mean, sd) in bases {
            if self.n >= 2 {
                out.basis.insert(
                    name.into(),
                    Basis::Mean {
                        n: self.n,
                        mean,
                        sd,
                    },
                );
                if let Some(ci) = mean_interval(self.n, mean, sd, Z95) {
                    out.intervals.insert(name.into(), ci);
                }
            }
        }
        if let Some([lo, hi]) = out.intervals.get(names::MSE).copied() {
            out.intervals
                .insert(names::RMSE.into(), [lo.max(0.0).sqrt(), hi.max(0.0).sqrt()]);
        }
        let view = self.residuals.view();
        out.residual_quantiles = RESIDUAL_QUANTILES
            .iter()
            .filter_map(|&q| {
                view.quantile(q)
                    .map(|value| ResidualQuantile { quantile: q, value })
            })
            .collect();
        out.metrics = metrics;
        out
    }
}
