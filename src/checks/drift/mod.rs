//! Drift and skew statistics in exact mode: pure functions on raw samples
//! (numeric) or exact category counts (categorical). Each returns a
//! [`MethodResult`]; the values equal SciPy's to 1e-6 relative, as
//! `tests/drift_exact.rs` proves against fixtures written by
//! `scripts/make_drift_fixtures.py`.
//!
//! Inputs are already cleaned: numeric samples hold finite values only (the
//! caller drops nulls and NaN and reports the missing share separately).
//! A non-finite value or an empty side is an error, never a panic.
//!
//! # Numeric methods (reference sample first, current second)
//!
//! - `ks`: `scipy.stats.ks_2samp(ref, cur)` two-sided. The statistic is the
//!   largest gap between the two empirical CDFs. P-value as SciPy's `auto`
//!   mode: exact when `max(n1, n2) <= 10000` (the statistic is then rounded to
//!   the lattice `h / lcm(n1, n2)` as SciPy does; equal sizes use the
//!   reflection-principle sum, unequal sizes a lattice-path recursion of the
//!   probability of staying inside the band, subtracted from 1), otherwise
//!   the finite-n Kolmogorov distribution `kstwo.sf(d, round(n1*n2/(n1+n2)))`
//!   (Birnbaum–Tingey sum for the tail `n·d² >= 2.2`, the Durbin matrix for
//!   tiny `d`, the Pelz–Good series otherwise; the same regions SciPy uses).
//!   Where SciPy would use Pomeranz's recursion (`n <= 140`), we use the
//!   Durbin matrix, which computes the same exact probability.
//! - `wasserstein`: `scipy.stats.wasserstein_distance(ref, cur)` divided by
//!   the reference's standard deviation (ddof = 0), as Evidently normalises
//!   it. A constant reference (std 0) is an error: the normalised distance is
//!   undefined.
//! - `energy`: `scipy.stats.energy_distance(ref, cur)`.
//! - `anderson`: `scipy.stats.anderson_ksamp([ref, cur], variant='midrank')`:
//!   the normalised k-sample statistic of Scholz and Stephens (1987) and its
//!   p-value from the quadratic fit in log-significance through the seven
//!   tabulated critical values, which SciPy caps to `[0.001, 0.25]`; we cap
//!   the same way (the p-value is flagged [`PValueMethod::Interpolated`]).
//!   Needs at least 4 observations in all and two distinct values.
//! - `cramer_von_mises`: `scipy.stats.cramervonmises_2samp(ref, cur)`; exact
//!   p-value (Xiao, Gordon & Yakovlev's enumeration) when both samples have at
//!   most 20 values, else the asymptotic Csörgő–Faraway limit. Each sample
//!   needs at least 2 values.
//! - `t_test`: Welch's `scipy.stats.ttest_ind(ref, cur, equal_var=False)`,
//!   statistic (mean_ref − mean_cur) / se and two-sided p. When both samples
//!   have zero variance SciPy returns NaN; we return statistic 0 and p = 1
//!   for equal means and ±∞ with p = 0 for different means.
//! - `psi`, `kl_div`, `hellinger`, `jensenshannon` on histograms over shared
//!   bins ([`reference_bins`]): the edges are the distinct values of the
//!   reference's 0%, 10%, …, 100% quantiles (NumPy's default linear
//!   interpolation). The bins are: below the reference minimum `(-∞, e0)`,
//!   `[e_i, e_{i+1})` between consecutive edges with the last one closed
//!   `[e_{k-2}, e_{k-1}]` (a single `[e0, e0]` bin for a constant reference),
//!   and above the reference maximum `(e_{k-1}, ∞)`. Bins empty on both
//!   sides are dropped; the frequencies then go to the categorical
//!   definitions below.
//!
//! # Categorical methods (frequencies over the union of categories)
//!
//! `p` are the reference frequencies, `q` the current ones; categories with
//! a zero count on both sides are dropped.
//! - `jensenshannon`: `scipy.spatial.distance.jensenshannon(p, q)` (natural
//!   log): `sqrt((KL(p‖m) + KL(q‖m)) / 2)` with `m = (p + q) / 2`. No smoothing.
//! - `hellinger`: `sqrt(Σ (√p − √q)²) / √2`, in `[0, 1]`. No smoothing.
//! - `linf`: `max |p − q|` (TFDV's L-infinity distance). No smoothing.
//! - `psi`: `Σ (q − p) ln(q / p)` with every frequency below
//!   [`FREQUENCY_FLOOR`] (1e-4) raised to it first, without renormalising
//!   (Evidently's convention), so an empty bin costs a bounded amount.
//! - `kl_div`: `scipy.stats.entropy(p', q')` = KL(reference ‖ current) where
//!   `p'`, `q'` are the floored frequencies (entropy renormalises them).
//! - `chisquare`: `scipy.stats.chisquare(f_obs = current counts, f_exp =
//!   reference proportions × current total)`, `k − 1` degrees of freedom.
//!   A category the reference never saw would have an expected count of 0
//!   (an infinite statistic), so when any category has a zero reference
//!   count, 0.5 is added to every reference count before taking proportions
//!   (additive smoothing, which keeps the expected counts summing to the
//!   current total). Without such categories no smoothing is applied.
//! - `z_test`: two-proportion z-test for a binary feature, pooled variance:
//!   `z = (p_ref − p_cur) / sqrt(p̂(1 − p̂)(1/n_ref + 1/n_cur))`, two-sided
//!   `p = 2·(1 − Φ(|z|))`. The "success" category is the larger label in
//!   byte order (so `1`, `true`, `yes` for the usual encodings).

mod categorical;
mod numeric;
mod special;

use serde::Serialize;
use thiserror::Error;

pub use categorical::{
    CategoryCounts, categorical_all, chisquare, hellinger, jensenshannon, kl_div, linf, psi,
    z_test, z_test_proportions,
};
pub use numeric::{
    Bins, anderson, cramer_von_mises, energy, ks, numeric_all, numeric_binned, reference_bins,
    t_test, wasserstein,
};

/// Frequencies below this are raised to it for `psi` and `kl_div`, which
/// divide by frequencies (Evidently uses the same floor).
pub const FREQUENCY_FLOOR: f64 = 1e-4;

/// The method names used on the command line, in reports and in the
/// schema's `[features.NAME.drift]` sections: one enum for all of them.
pub use crate::schema::DriftMethod as Method;

/// How a p-value was obtained, so reports can say when it is approximate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PValueMethod {
    /// The exact null distribution.
    Exact,
    /// A large-sample (limiting or series) approximation.
    Asymptotic,
    /// Interpolated from a table and capped to its range (`anderson`).
    Interpolated,
}

/// One method's outcome on one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodResult {
    pub method: Method,
    /// The test statistic or distance.
    pub statistic: f64,
    /// `None` for distances, which have no p-value.
    pub p_value: Option<f64>,
    pub p_value_method: Option<PValueMethod>,
}

impl MethodResult {
    fn distance(method: Method, statistic: f64) -> Self {
        Self {
            method,
            statistic,
            p_value: None,
            p_value_method: None,
        }
    }

    fn test(method: Method, statistic: f64, p_value: f64, how: PValueMethod) -> Self {
        Self {
            method,
            statistic,
            p_value: Some(p_value),
            p_value_method: Some(how),
        }
    }
}

/// Why a method could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DriftError {
    #[error("{method}: the {side} sample is empty")]
    EmptySample { method: Method, side: Side },
    #[error("{method}: the {side} sample has a non-finite value at index {index}")]
    NonFinite {
        method: Method,
        side: Side,
        index: usize,
    },
    #[error("{method}: needs {needed}, got {got}")]
    TooFewValues {
        method: Method,
        needed: &'static str,
        got: String,
    },
    #[error("{method}: undefined because {reason}")]
    Undefined {
        method: Method,
        reason: &'static str,
    },
    #[error("{method} does not apply to {kind} features")]
    NotApplicable { method: Method, kind: &'static str },
}

/// Which input a [`DriftError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Reference,
    Current,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reference => "reference",
            Self::Current => "current",
        })
    }
}
