//! Linear models fitted to convergence by L-BFGS: logistic regression
//! (binary), softmax regression (multiclass), least squares (regression).
//!
//! The objective is scikit-learn's (`LinearModelLoss` in 1.x): the weighted
//! mean loss plus `‖W‖² / (2·C·Σw)`, the intercept not penalised, so `C`
//! means what it means in `LogisticRegression(C=…)` (default 1.0) and the
//! same data gives the same minimum. Rows and parameters are f64 here (as
//! in scikit-learn): sums over a million rows in f32 would be too noisy
//! for the line search and the stopping rule.

use candle_core::{D, DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::features::Matrix;
use super::lbfgs::{self, Minimum, Stop};
use super::network::Network;
use crate::quality::Task;

/// What the fit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearFit {
    /// The objective at the minimum (mean loss plus the penalty).
    pub objective: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub stop: Stop,
}

/// Options of the linear fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearOptions {
    /// Inverse L2 strength, as scikit-learn's `C`.
    pub c: f64,
    pub lbfgs: lbfgs::Options,
}

impl Default for LinearOptions {
    fn default() -> Self {
        Self {
            c: 1.0,
            lbfgs: lbfgs::Options::default(),
        }
    }
}

/// Fits `outputs` linear functions of `x` to `y` (binary: 0/1; multiclass:
/// class index; regression: value) with row weights `weights`.
pub fn fit(
    x: &Matrix,
    y: &[f32],
    weights: &[f64],
    task: Task,
    outputs: usize,
    options: &LinearOptions,
) -> Result<(Network, LinearFit), TrainError> {
    if !(options.c > 0.0 && options.c.is_finite()) {
        return Err(TrainError::Options(format!(
            "C = {}: expected a positive number",
            options.c
        )));
    }
    let (n, d, k) = (x.rows, x.cols, outputs);
    let dev = Device::Cpu;
    let xs = Tensor::from_slice(&x.values, (n, d), &dev)?.to_dtype(DType::F64)?;
    let sw_sum: f64 = weights.iter().sum();
    let sw = Tensor::from_slice(weights, (n, 1), &dev)?;
    // The target as the loss needs it: a column (binary, regression) or
    // one-hot rows (multiclass).
    let target = match task {
        Task::Multiclass => {
            let mut onehot = vec![0.0f64; n * k];
            for (i, c) in y.iter().enumerate() {
                onehot[i * k + *c as usize] = 1.0;
            }
            Tensor::from_vec(onehot, (n, k), &dev)?
        }
        _ => Tensor::from_iter(y.iter().map(|v| f64::from(*v)), &dev)?.reshape((n, 1))?,
    };
    let penalty = 1.0 / (options.c * sw_sum);
    let objective = |p: &[f64]| -> Result<(f64, Vec<f64>), TrainError> {
        let w = Tensor::from_slice(&p[..k * d], (k, d), &dev)?;
        let b = Tensor::from_slice(&p[k * d..], k, &dev)?;
        let z = xs.matmul(&w.t()?)?.broadcast_add(&b)?; // n × k
        let (loss, residual) = match task {
            Task::Binary => {
                // softplus(z) − y·z, computed without overflow.
                let softplus = (z.relu()? + ((z.abs()?.neg()?.exp()? + 1.0)?.log()?))?;
                let loss = (softplus - (&target * &z)?)?;
                let p = candle_nn::ops::sigmoid(&z)?;
                (loss, (p - &target)?)
            }
            Task::Multiclass => {
                let logp = candle_nn::ops::log_softmax(&z, D::Minus1)?;
                let loss = (&logp * &target)?.sum_keepdim(1)?.neg()?;
                (loss, (logp.exp()? - &target)?)
            }
            Task::Regression => {
                let r = (&z - &target)?;
                ((r.sqr()? * 0.5)?, r)
            }
        };
        let mean_loss = loss.broadcast_mul(&sw)?.sum_all()?.to_scalar::<f64>()? / sw_sum;
        let r = (residual.broadcast_mul(&sw)? / sw_sum)?; // n × k
        let gw = r.t()?.matmul(&xs)?; // k × d
        let gb = r.sum(0)?; // k
        let mut grad = gw.flatten_all()?.to_vec1::<f64>()?;
        let norm: f64 = p[..k * d].iter().map(|v| v * v).sum();
        for (g, wv) in grad.iter_mut().zip(&p[..k * d]) {
            *g += penalty * wv;
        }
        grad.extend(gb.to_vec1::<f64>()?);
        Ok((mean_loss + 0.5 * penalty * norm, grad))
    };
    let Minimum {
        x: params,
        value,
        iterations,
        evaluations,
        stop,
    } = lbfgs::minimize(objective, vec![0.0; k * (d + 1)], &options.lbfgs)?;
    let w = Tensor::from_slice(&params[..k * d], (k, d), &dev)?;
    let b = Tensor::from_slice(&params[k * d..], k, &dev)?;
    Ok((
        Network::linear(w, b)?,
        LinearFit {
            objective: value,
            iterations,
            evaluations,
            stop,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On separable-ish 1-D data the fitted logistic regression matches the
    /// minimum found by a fine grid search of the same objective.
    #[test]
    fn binary_minimum_matches_a_grid_search() {
        let xs = [-2.0f32, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 0.2];
        let ys = [0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let m = Matrix {
            rows: xs.len(),
            cols: 1,
            values: xs.to_vec(),
        };
        let weights = vec![1.0; xs.len()];
        let options = LinearOptions {
            lbfgs: lbfgs::Options {
                gtol: 1e-10,
                ftol: 0.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let (net, fit) = fit(&m, &ys, &weights, Task::Binary, 1, &options).unwrap();
        let f = |w: f64, b: f64| {
            let loss: f64 = xs
                .iter()
                .zip(&ys)
                .map(|(x, y)| {
                    let z = w * f64::from(*x) + b;
                    (1.0 + z.exp()).ln() - f64::from(*y) * z
                })
                .sum::<f64>()
                / 8.0;
            loss + w * w / (2.0 * 8.0)
        };
        let mut best = (f64::INFINITY, 0.0, 0.0);
        for i in 0..=400 {
            for j in 0..=400 {
                let (w, b) = (i as f64 * 0.01, -2.0 + j as f64 * 0.01);
                let v = f(w, b);
                if v < best.0 {
                    best = (v, w, b);
                }
            }
        }
        let weights = net.flat_weights().unwrap();
        assert!(
            (f64::from(weights[0]) - best.1).abs() < 0.011,
            "{weights:?} {best:?}"
        );
        assert!(
            (f64::from(weights[1]) - best.2).abs() < 0.011,
            "{weights:?} {best:?}"
        );
        assert!(fit.objective <= best.0 + 1e-12, "{fit:?} {best:?}");
    }

    /// Least squares with a negligible penalty recovers exact coefficients.
    #[test]
    fn regression_recovers_a_known_line() {
        let n = 200;
        let mut values = Vec::new();
        let mut ys = Vec::new();
        for i in 0..n {
            let (a, b) = ((i % 17) as f32 / 8.0 - 1.0, (i % 11) as f32 / 5.0 - 1.0);
            values.extend([a, b]);
            ys.push(3.0 * a - 2.0 * b + 0.5);
        }
        let m = Matrix {
            rows: n,
            cols: 2,
            values,
        };
        let options = LinearOptions {
            c: 1e12,
            lbfgs: lbfgs::Options {
                gtol: 1e-10,
                ftol: 0.0,
                ..Default::default()
            },
        };
        let (net, _) = fit(&m, &ys, &vec![1.0; n], Task::Regression, 1, &options).unwrap();
        let w = net.flat_weights().unwrap();
        for (got, want) in w.iter().zip([3.0f32, -2.0, 0.5]) {
            assert!((got - want).abs() < 1e-4, "{w:?}");
        }
    }

    /// Softmax regression separates three well-separated classes.
    #[test]
    fn multiclass_separates_three_clusters() {
        let centres = [(-3.0f32, 0.0f32), (3.0, 0.0), (0.0, 3.0)];
        let mut values = Vec::new();
        let mut ys = Vec::new();
        for i in 0..300 {
            let c = i % 3;
            let jitter = ((i * 7919) % 100) as f32 / 100.0 - 0.5;
            values.extend([centres[c].0 + jitter, centres[c].1 - jitter]);
            ys.push(c as f32);
        }
        let m = Matrix {
            rows: 300,
            cols: 2,
            values: values.clone(),
        };
        let (net, _) = fit(
            &m,
            &ys,
            &vec![1.0; 300],
            Task::Multiclass,
            3,
            &LinearOptions::default(),
        )
        .unwrap();
        let x = Tensor::from_vec(values, (300, 2), &Device::Cpu).unwrap();
        let p = candle_nn::ops::softmax(&net.forward(&x, None).unwrap(), D::Minus1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (row, y) in p.iter().zip(&ys) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let best = (0..3).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap();
            assert_eq!(best, *y as usize, "{row:?}");
        }
    }
}
