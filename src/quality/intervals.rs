//! Confidence intervals and the tests the comparisons run.
//!
//! - [`wilson`]: the Wilson score interval of a proportion (equal to
//!   statsmodels' `proportion_confint(method="wilson")`).
//! - [`newcombe`]: Newcombe's hybrid score interval of a difference of two
//!   independent proportions (Newcombe 1998, method 10; statsmodels'
//!   `confint_proportions_2indep(method="newcomb")`), built from the two
//!   Wilson intervals.
//! - [`mean_interval`]: `mean ± z·sd/√n` (normal; the populations here are
//!   hundreds of rows and more).
//! - [`two_proportion_test`]: the pooled two-proportion z-test.
//! - [`welch_test`]: Welch's z-test of two means from their summaries
//!   (the normal limit of Welch's t; fine at the sizes compared here).
//! - [`auc_test`]: the z-test of two independent AUCs with DeLong variances.
//!
//! Tests return the statistic `z = (current − reference) / se` and the
//! p-value of the alternative asked for.

use statrs::function::erf::erfc;

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Φ(x), the standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The Wilson score interval of `successes` of `trials` at `z`; `None`
/// without trials.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<[f64; 2]> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some([(center - half).max(0.0), (center + half).min(1.0)])
}

/// Newcombe's hybrid score interval of `p1 − p2` (independent samples).
pub fn newcombe(s1: u64, n1: u64, s2: u64, n2: u64, z: f64) -> Option<[f64; 2]> {
    let [l1, u1] = wilson(s1, n1, z)?;
    let [l2, u2] = wilson(s2, n2, z)?;
    let p1 = s1 as f64 / n1 as f64;
    let p2 = s2 as f64 / n2 as f64;
    let d = p1 - p2;
    let lower = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Some([lower, upper])
}

/// `mean ± z·sd/√n`; `None` below two values.
pub fn mean_interval(n: u64, mean: f64, sd: f64, z: f64) -> Option<[f64; 2]> {
    if n < 2 || !sd.is_finite() {
        return None;
    }
    let half = z * sd / (n as f64).sqrt();
    Some([mean - half, mean + half])
}

/// Which change a test looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// current < reference
    Less,
    /// current > reference
    Greater,
    TwoSided,
}

/// A test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// `(current − reference) / se`.
    pub z: f64,
    pub p_value: f64,
}

fn p_value(z: f64, alternative: Alternative) -> f64 {
    match alternative {
        Alternative::Less => normal_cdf(z),
        Alternative::Greater => normal_cdf(-z),
        Alternative::TwoSided => (2.0 * normal_cdf(-z.abs())).min(1.0),
    }
}

fn z_result(diff: f64, se: f64, alternative: Alternative) -> Option<TestResult> {
    if se.is_nan() || se <= 0.0 || !se.is_finite() || !diff.is_finite() {
        // No spread: no evidence either way unless the values differ.
        if diff == 0.0 {
            return Some(TestResult {
                z: 0.0,
                p_value: 1.0,
            });
        }
        return None;
    }
    let z = diff / se;
    Some(TestResult {
        z,
        p_value: p_value(z, alternative),
    })
}

/// Pooled two-proportion z-test of current `s2/n2` against reference
/// `s1/n1`; `None` when either side has no trials or the pooled rate is 0
/// or 1 with equal rates (nothing to test).
pub fn two_proportion_test(
    s1: u64,
    n1: u64,
    s2: u64,
    n2: u64,
    alternative: Alternative,
) -> Option<TestResult> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let p1 = s1 as f64 / a;
    let p2 = s2 as f64 / b;
    let pooled = (s1 + s2) as f64 / (a + b);
    let se = (pooled * (1.0 - pooled) * (1.0 / a + 1.0 / b)).sqrt();
    z_result(p2 - p1, se, alternative)
}

/// Welch's z-test of the current mean against the reference mean.
pub fn welch_test(
    reference: (u64, f64, f64),
    current: (u64, f64, f64),
    alternative: Alternative,
) -> Option<TestResult> {
    let ((n1, m1, sd1), (n2, m2, sd2)) = (reference, current);
    if n1 < 2 || n2 < 2 {
        return None;
    }
    let se = (sd1 * sd1 / n1 as f64 + sd2 * sd2 / n2 as f64).sqrt();
    z_result(m2 - m1, se, alternative)
}

/// z-test of two independent AUCs with their DeLong variances.
pub fn auc_test(
    reference: (f64, f64),
    current: (f64, f64),
    alternative: Alternative,
) -> Option<TestResult> {
    let se = (reference.1 + current.1).sqrt();
    z_result(current.0 - reference.0, se, alternative)
}

/// z-test of a change in a difference of two proportions between two
/// independent samples: `(p_a − p_b)` now against `(p_a − p_b)` in the
/// reference, with unpooled variances.
pub fn difference_change_test(
    reference: [(u64, u64); 2],
    current: [(u64, u64); 2],
    alternative: Alternative,
) -> Option<TestResult> {
    let rate_var = |(s, n): (u64, u64)| -> Option<(f64, f64)> {
        (n > 0).then(|| {
            let p = s as f64 / n as f64;
            (p, p * (1.0 - p) / n as f64)
        })
    };
    let (ra, va) = rate_var(reference[0])?;
    let (rb, vb) = rate_var(reference[1])?;
    let (ca, wa) = rate_var(current[0])?;
    let (cb, wb) = rate_var(current[1])?;
    let change = (ca - cb) - (ra - rb);
    z_result(change, (va + vb + wa + wb).sqrt(), alternative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_hand_computed_interval() {
        // 81 of 263 (Newcombe 1998's example): 0.2553 to 0.3662.
        let [lo, hi] = wilson(81, 263, Z95).unwrap();
        assert!((lo - 0.2553).abs() < 1e-4, "{lo}");
        assert!((hi - 0.3662).abs() < 1e-4, "{hi}");
        assert_eq!(wilson(0, 0, Z95), None);
        let [lo, hi] = wilson(0, 10, Z95).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 0.35);
    }

    #[test]
    fn newcombe_matches_the_paper() {
        // Newcombe 1998, example (a): 56/70 − 48/80 = 0.2, method 10:
        // 0.0524 to 0.3339.
        let [lo, hi] = newcombe(56, 70, 48, 80, Z95).unwrap();
        assert!((lo - 0.0524).abs() < 1e-4, "{lo}");
        assert!((hi - 0.3339).abs() < 1e-4, "{hi}");
    }

    #[test]
    fn tests_point_the_right_way() {
        let drop = two_proportion_test(900, 1000, 850, 1000, Alternative::Less).unwrap();
        assert!(drop.z < 0.0 && drop.p_value < 0.001);
        let rise = two_proportion_test(900, 1000, 850, 1000, Alternative::Greater).unwrap();
        assert!(rise.p_value > 0.99);
        let same = two_proportion_test(0, 100, 0, 100, Alternative::TwoSided).unwrap();
        assert_eq!(same.p_value, 1.0);
    }
}
