//! L-BFGS for the linear models' smooth, convex objectives.
//!
//! The same stopping rules as SciPy's L-BFGS-B, which scikit-learn's
//! `LogisticRegression(solver="lbfgs")` runs: stop when the largest
//! gradient component is at most `gtol` (scikit-learn's `tol`, 1e-4), or
//! when an iteration lowers the objective by at most `ftol` relative to it
//! (SciPy's `factr = 1e7` times the machine epsilon), or after `max_iter`
//! iterations. The step comes from a backtracking line search on the
//! Armijo condition, and a pair (s, y) is kept only when `s·y > 0`, so the
//! inverse-Hessian estimate stays positive definite.
//!
//! The parameters are few (features × outputs), so the two-loop recursion
//! runs on plain vectors; the objective (the pass over the rows) is where
//! the time goes, and that is the caller's candle code.

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub gtol: f64,
    pub ftol: f64,
    pub max_iter: usize,
    /// Pairs kept (SciPy's `maxcor`, 10 by default).
    pub memory: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            gtol: 1e-4,
            ftol: 1e7 * f64::EPSILON,
            max_iter: 1000,
            memory: 10,
        }
    }
}

/// Why the minimiser stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    Gradient,
    Decrease,
    MaxIter,
    /// The line search found no decrease (at a minimum within float precision).
    LineSearch,
}

/// The result.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub stop: Stop,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Minimises `f` from `x0`; `f` returns the value and the gradient.
pub fn minimize<E>(
    mut f: impl FnMut(&[f64]) -> Result<(f64, Vec<f64>), E>,
    x0: Vec<f64>,
    options: &Options,
) -> Result<Minimum, E> {
    let mut x = x0;
    let (mut fx, mut g) = f(&x)?;
    let mut evaluations = 1;
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::new();
    for iteration in 0..options.max_iter {
        if max_abs(&g) <= options.gtol {
            return Ok(Minimum {
                x,
                value: fx,
                iterations: iteration,
                evaluations,
                stop: Stop::Gradient,
            });
        }
        // Two-loop recursion: d = −H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        let gamma = history
            .back()
            .map_or(1.0 / dot(&g, &g).sqrt().max(1e-300), |(s, y, _)| {
                dot(s, y) / dot(y, y)
            });
        for v in &mut q {
            *v *= gamma;
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from −g.
            history.clear();
            let scale = 1.0 / dot(&g, &g).sqrt().max(1e-300);
            d = g.iter().map(|v| -v * scale).collect();
            slope = dot(&g, &d);
        }
        // Backtracking on the Armijo condition.
        let mut step = 1.0;
        let accepted = loop {
            let candidate: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi + step * di).collect();
            let (fc, gc) = f(&candidate)?;
            evaluations += 1;
            if fc.is_finite() && fc <= fx + 1e-4 * step * slope {
                break Some((candidate, fc, gc));
            }
            step *= 0.5;
            if step < 1e-20 {
                break None;
            }
        };
        let Some((next, f_next, g_next)) = accepted else {
            return Ok(Minimum {
                x,
                value: fx,
                iterations: iteration + 1,
                evaluations,
                stop: Stop::LineSearch,
            });
        };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_next.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            if history.len() == options.memory {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        let decrease = (fx - f_next) / fx.abs().max(f_next.abs()).max(1.0);
        x = next;
        fx = f_next;
        g = g_next;
        if decrease <= options.ftol {
            return Ok(Minimum {
                x,
                value: fx,
                iterations: iteration + 1,
                evaluations,
                stop: Stop::Decrease,
            });
        }
    }
    Ok(Minimum {
        x,
        value: fx,
        iterations: options.max_iter,
        evaluations,
        stop: Stop::MaxIter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosen = |x: &[f64]| -> Result<(f64, Vec<f64>), ()> {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            Ok((f, g))
        };
        let options = Options {
            gtol: 1e-8,
            ftol: 0.0,
            ..Options::default()
        };
        let m = minimize(rosen, vec![-1.2, 1.0], &options).unwrap();
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{m:?}"
        );
        assert_eq!(m.stop, Stop::Gradient);
    }

    #[test]
    fn solves_a_quadratic_exactly() {
        // f = ½ xᵀ A x − bᵀ x with A = diag(1, 10, 100): x* = b / diag.
        let diag = [1.0, 10.0, 100.0];
        let b = [1.0, 2.0, 3.0];
        let f = |x: &[f64]| -> Result<(f64, Vec<f64>), ()> {
            let value = (0..3)
                .map(|i| 0.5 * diag[i] * x[i] * x[i] - b[i] * x[i])
                .sum();
            Ok((value, (0..3).map(|i| diag[i] * x[i] - b[i]).collect()))
        };
        let options = Options {
            gtol: 1e-10,
            ftol: 0.0,
            ..Options::default()
        };
        let m = minimize(f, vec![0.0; 3], &options).unwrap();
        for i in 0..3 {
            assert!((m.x[i] - b[i] / diag[i]).abs() < 1e-9, "{m:?}");
        }
    }
}
