//! Numeric drift methods in sketch (profile) mode: the same statistics as
//! exact mode, computed from two [`NumericState`]s (exact moments and a KLL
//! sketch per side) instead of raw values. See "Sketch mode" in the module
//! docs for the approximation and its error bounds.

use std::sync::Arc;

use serde::Serialize;

use super::categorical::{hellinger_freq, js_freq, kl_freq, psi_freq};
use super::numeric::{
    Bins, NUMERIC_METHODS, anderson, anderson_result, cramer_von_mises, cvm_asymptotic_p, energy,
    ks, ks_result, numeric_binned, reference_bins, wasserstein, welch,
};
use super::{DriftError, Method, MethodResult, Side};
use crate::profile::numeric::{NumericState, SortedItems};

/// Above this pooled size the Anderson–Darling sums `h` and `g` come from
/// their asymptotic expansions instead of an O(N) loop.
const HARMONIC_LOOP_MAX_N: u64 = 1_000_000;

/// One bin of the reference's decile histogram and each side's share of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinShare {
    /// Lower edge (`-inf` for the bin below the reference minimum).
    pub low: f64,
    /// Upper edge (`inf` for the bin above the reference maximum).
    pub high: f64,
    /// Fraction of the reference in the bin.
    pub reference: f64,
    /// Fraction of the current sample in the bin.
    pub current: f64,
}

/// A side as a weighted sample: the sketch's sorted items (distinct values,
/// each with the stream weight it stands for, whether that weight is tied
/// copies of the value, and running sums), shared with the profile state
/// that caches them rather than copied per comparison.
struct Pseudo {
    items: Arc<SortedItems>,
    /// Sum of the weights (the sketch's n).
    total: f64,
    /// The sketch still holds every value (not in estimation mode), so the
    /// weights are the true multiplicities.
    exact: bool,
    /// The sketch's normalised rank error (0 when exact).
    rank_error: f64,
}

impl std::ops::Deref for Pseudo {
    type Target = SortedItems;

    fn deref(&self) -> &SortedItems {
        &self.items
    }
}

/// Retained items with weights, sorted, equal values merged.
fn merge_items(mut items: Vec<(f64, u64)>) -> (Vec<f64>, Vec<f64>, u64) {
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut values, mut weights): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut total = 0u64;
    for (v, w) in items {
        total += w;
        match values.last() {
            Some(last) if *last == v => {
                if let Some(lw) = weights.last_mut() {
                    *lw += w as f64;
                }
            }
            _ => {
                values.push(v);
                weights.push(w as f64);
            }
        }
    }
    (values, weights, total)
}

impl Pseudo {
    fn from_state(method: Method, side: Side, state: &NumericState) -> Result<Self, DriftError> {
        let sketch = &state.kll;
        if state.finite == 0 || sketch.n() == 0 {
            return Err(DriftError::EmptySample { method, side });
        }
        let exact = !sketch.is_estimation_mode();
        let items = state.sorted_items.get_or_init(|| {
            let (values, weights, total) = merge_items(sketch.weighted_items());
            let cumulative = weights
                .iter()
                .scan(0.0, |cum, w| {
                    *cum += w;
                    Some(*cum)
                })
                .collect();
            // Exact: a weight above 1 is copies of the value. Otherwise a
            // single retained item weighs 2^level, so a weight that is not
            // a power of two is several items holding the same value.
            let tied = weights
                .iter()
                .map(|w| *w > 1.0 && (exact || !(*w as u64).is_power_of_two()))
                .collect();
            SortedItems {
                values,
                weights,
                total,
                tied,
                cumulative,
            }
        });
        Ok(Self {
            total: items.total as f64,
            exact,
            rank_error: if exact { 0.0 } else { sketch.rank_error() },
            items,
        })
    }

    /// The raw sample (only meaningful when `exact`).
    fn expand(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.total as usize);
        for (&v, &w) in self.values.iter().zip(&self.weights) {
            out.extend(std::iter::repeat_n(v, w as usize));
        }
        out
    }

    /// NumPy's linear quantile of the sample the weights stand for.
    fn quantile_linear(&self, q: f64) -> f64 {
        let pos = q * (self.total - 1.0);
        let lo = pos.floor();
        let frac = pos - lo;
        let (a, b) = (
            self.value_at(lo),
            self.value_at((lo + 1.0).min(self.total - 1.0)),
        );
        let diff = b - a;
        if frac >= 0.5 {
            b - diff * (1.0 - frac)
        } else {
            a + diff * frac
        }
    }

    /// The value at 0-based position `index` of the expanded sorted sample.
    fn value_at(&self, index: f64) -> f64 {
        let at = self.cumulative.partition_point(|&cum| cum <= index);
        self.values[at.min(self.values.len() - 1)]
    }
}

/// One distinct value of the pooled pseudo-sample.
struct Group {
    z: f64,
    /// Reference and current weight at z.
    a: f64,
    b: f64,
    /// Weights below z.
    a_below: f64,
    b_below: f64,
    /// Whether the weights at z are ties of one value.
    tied: bool,
}

/// Both sides as weighted samples, pooled.
struct Pair {
    reference: Pseudo,
    current: Pseudo,
    groups: Vec<Group>,
}

impl Pair {
    fn new(
        method: Method,
        reference: &NumericState,
        current: &NumericState,
    ) -> Result<Self, DriftError> {
        let r = Pseudo::from_state(method, Side::Reference, reference)?;
        let c = Pseudo::from_state(method, Side::Current, current)?;
        let mut groups = Vec::with_capacity(r.values.len() + c.values.len());
        let (mut i, mut j) = (0, 0);
        let (mut a_below, mut b_below) = (0.0, 0.0);
        while i < r.values.len() || j < c.values.len() {
            let z = match (r.values.get(i), c.values.get(j)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => break,
            };
            // Weight at z on each side, and whether it is ties of z.
            let (mut a, mut b, mut tied) = (0.0, 0.0, false);
            if r.values.get(i) == Some(&z) {
                (a, tied) = (r.weights[i], r.tied[i]);
                i += 1;
            }
            if c.values.get(j) == Some(&z) {
                // A value on both sides is a tie across the samples.
                (b, tied) = (c.weights[j], tied || c.tied[j] || a > 0.0);
                j += 1;
            }
            groups.push(Group {
                z,
                a,
                b,
                a_below,
                b_below,
                tied,
            });
            a_below += a;
            b_below += b;
        }
        Ok(Self {
            reference: r,
            current: c,
            groups,
        })
    }

    fn exact(&self) -> bool {
        self.reference.exact && self.current.exact
    }

    /// Bound on the sup-distance between each side's sketched and true
    /// ECDF, summed over the sides.
    fn rank_error(&self) -> f64 {
        self.reference.rank_error + self.current.rank_error
    }

    /// ECDF gap F_ref − F_cur just after z (weights at z included).
    fn gap(&self, g: &Group) -> f64 {
        (g.a_below + g.a) / self.reference.total - (g.b_below + g.b) / self.current.total
    }

    /// ECDF gap at the middle of z's weights (midranks).
    fn mid_gap(&self, g: &Group) -> f64 {
        (g.a_below + g.a / 2.0) / self.reference.total
            - (g.b_below + g.b / 2.0) / self.current.total
    }

    fn ks_distance(&self) -> f64 {
        self.groups
            .iter()
            .map(|g| self.gap(g).abs())
            .fold(0.0, f64::max)
    }

    /// ∫ |F_ref − F_cur|^p dx.
    fn cdf_integral(&self, p: i32) -> f64 {
        self.groups
            .windows(2)
            .map(|w| self.gap(&w[0]).abs().powi(p) * (w[1].z - w[0].z))
            .sum()
    }

    /// Cramér–von Mises T by the rank formula of exact mode with the
    /// weights as tie counts (midranks for tied groups, a spread of
    /// distinct ranks otherwise).
    fn cvm_statistic(&self) -> f64 {
        let (nx, ny) = (self.reference.total, self.current.total);
        let (mut sum_x, mut sum_y) = (0.0, 0.0);
        for g in &self.groups {
            // Pooled midrank minus the side's own midrank = the other side's
            // weight below the middle of the group.
            let (ex, ey) = (g.b_below + g.b / 2.0, g.a_below + g.a / 2.0);
            sum_x += g.a * ex * ex;
            sum_y += g.b * ey * ey;
            if g.tied {
                sum_x += g.a * (g.a * g.a - 1.0) / 12.0;
                sum_y += g.b * (g.b * g.b - 1.0) / 12.0;
            }
        }
        let u = nx * sum_x + ny * sum_y;
        let k = nx * ny;
        let n = nx + ny;
        u / (k * n) - (4.0 * k - 1.0) / (6.0 * n)
    }

    /// (k/N²) Σ l (|Δ| − shrink)₊² over the pooled groups: the
    /// Cramér–von Mises statistic in ECDF form with every gap shrunk by
    /// `shrink` (0 gives the plain ECDF form).
    fn cvm_ecdf_form(&self, shrink: f64) -> f64 {
        let (nx, ny) = (self.reference.total, self.current.total);
        let n = nx + ny;
        let sum: f64 = self
            .groups
            .iter()
            .map(|g| (g.a + g.b) * (self.mid_gap(g).abs() - shrink).max(0.0).powi(2))
            .sum();
        nx * ny / (n * n) * sum
    }

    /// Scholz & Stephens' midrank A² for two samples, written with the
    /// midrank ECDF gap Δ: ((N−1)/N) n₁n₂ Σ l Δ² / (B(N−B) − N l'/4), where
    /// l' is the tie count (1 for a group of distinct values). Each |Δ| is
    /// first shrunk by `shrink`.
    fn anderson_a2(&self, shrink: f64) -> f64 {
        let (n1, n2) = (self.reference.total, self.current.total);
        let nf = n1 + n2;
        let mut sum = 0.0;
        for g in &self.groups {
            let l = g.a + g.b;
            let b = g.a_below + g.b_below + l / 2.0;
            let ties = if g.tied { l } else { 1.0 };
            let d = (self.mid_gap(g).abs() - shrink).max(0.0);
            let denom = b * (nf - b) - nf * ties / 4.0;
            if denom > 0.0 {
                sum += l * d * d / denom;
            }
        }
        (nf - 1.0) / nf * n1 * n2 * sum
    }
}

/// `h = Σ_{i<N} 1/i` and `g = Σ_{i=1}^{N-2} Σ_{j=i+1}^{N-1} 1/((N−i)j)` of
/// the Anderson–Darling variance: the loop of exact mode up to
/// [`HARMONIC_LOOP_MAX_N`], asymptotic expansions above.
fn harmonic_sums(big_n: u64) -> (f64, f64) {
    if big_n <= HARMONIC_LOOP_MAX_N {
        let n = big_n as usize;
        let h: f64 = (1..n).map(|i| 1.0 / i as f64).sum();
        let mut g = 0.0;
        let mut tail = 0.0;
        for i in (1..n.saturating_sub(1)).rev() {
            tail += 1.0 / (i + 1) as f64;
            g += tail / (n - i) as f64;
        }
        (h, g)
    } else {
        harmonic_sums_asymptotic(big_n as f64)
    }
}

/// Closed forms of [`harmonic_sums`]: h = H_{N−1} and
/// g = H⁽²⁾_N − 2 H_{N−1}/N − 1/N² (g sums 1/(s·j) over s, j < N with
/// s + j > N; subtracting the pairs with s + j ≤ N from H_{N−1}² and using
/// Σ_{t≤K} H_{t−1}/t = (H_K² − H⁽²⁾_K)/2 leaves this). The harmonic
/// numbers come from their Euler–Maclaurin expansions, whose truncation
/// error is below 1e-30 for N > 10⁶.
fn harmonic_sums_asymptotic(nf: f64) -> (f64, f64) {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    let harmonic = |n: f64| {
        n.ln() + EULER_GAMMA + 1.0 / (2.0 * n) - 1.0 / (12.0 * n * n) + 1.0 / (120.0 * n.powi(4))
    };
    let harmonic2 = |n: f64| {
        std::f64::consts::PI.powi(2) / 6.0 - 1.0 / n + 1.0 / (2.0 * n * n) - 1.0 / (6.0 * n.powi(3))
            + 1.0 / (30.0 * n.powi(5))
    };
    let h = harmonic(nf - 1.0);
    let g = harmonic2(nf) - 2.0 * h / nf - 1.0 / (nf * nf);
    (h, g)
}

/// Sample sizes for p-values: the profiles' finite counts.
fn counts(reference: &NumericState, current: &NumericState) -> (u64, u64) {
    (reference.finite, current.finite)
}

fn ks_sketch(pair: &Pair, n1: u64, n2: u64) -> MethodResult {
    let d = pair.ks_distance();
    let low = (d - pair.rank_error()).max(0.0);
    let at_low = ks_result(low, n1 as usize, n2 as usize);
    MethodResult {
        statistic: d,
        ..at_low
    }
    .approximated()
}

fn cvm_sketch(pair: &Pair, n1: u64, n2: u64) -> Result<MethodResult, DriftError> {
    if n1 < 2 || n2 < 2 {
        return Err(DriftError::TooFewValues {
            method: Method::CramerVonMises,
            needed: "at least 2 values on each side",
            got: format!("{n1} and {n2}"),
        });
    }
    let t = pair.cvm_statistic();
    // The p-value is taken at a lower bound of the statistic: the ECDF form
    // with every gap shrunk by the sketches' rank error, scaled to the rank
    // form so both agree when nothing is shrunk.
    let plain = pair.cvm_ecdf_form(0.0);
    let shrunk = pair.cvm_ecdf_form(pair.rank_error());
    let low = if plain > 0.0 {
        (t * shrunk / plain).min(t)
    } else {
        t
    };
    let p = cvm_asymptotic_p(low, n1 as f64, n2 as f64);
    Ok(MethodResult::test(
        Method::CramerVonMises,
        t,
        p,
        super::PValueMethod::Asymptotic,
    )
    .approximated())
}

fn anderson_sketch(pair: &Pair, n1: u64, n2: u64) -> Result<MethodResult, DriftError> {
    let big_n = n1 + n2;
    let distinct = pair.groups.len();
    if big_n < 4 || distinct < 2 {
        return Err(DriftError::TooFewValues {
            method: Method::Anderson,
            needed: "at least 4 values in all and 2 distinct values",
            got: format!("{big_n} values, {distinct} distinct"),
        });
    }
    let (h, g) = harmonic_sums(big_n);
    let sizes = (n1 as f64, n2 as f64);
    let estimate = anderson_result(pair.anderson_a2(0.0), sizes, h, g);
    let at_low = anderson_result(pair.anderson_a2(pair.rank_error()), sizes, h, g);
    Ok(MethodResult {
        statistic: estimate.statistic,
        ..at_low
    }
    .approximated())
}

fn reference_std(method: Method, reference: &NumericState) -> Result<f64, DriftError> {
    let std = (reference.m2 / reference.finite as f64).sqrt();
    if !std.is_finite() {
        return Err(DriftError::Undefined {
            method,
            reason: "the reference moments overflowed",
        });
    }
    if std == 0.0 {
        return Err(DriftError::Undefined {
            method,
            reason: "the reference sample is constant (standard deviation 0)",
        });
    }
    Ok(std)
}

fn t_test_sketch(
    reference: &NumericState,
    current: &NumericState,
) -> Result<MethodResult, DriftError> {
    let method = Method::TTest;
    if reference.finite == 0 {
        return Err(DriftError::EmptySample {
            method,
            side: Side::Reference,
        });
    }
    if current.finite == 0 {
        return Err(DriftError::EmptySample {
            method,
            side: Side::Current,
        });
    }
    if reference.finite < 2 || current.finite < 2 {
        return Err(DriftError::TooFewValues {
            method,
            needed: "at least 2 values on each side",
            got: format!("{} and {}", reference.finite, current.finite),
        });
    }
    let moments = |s: &NumericState| (s.finite as f64, s.mean, s.m2);
    let (r, c) = (moments(reference), moments(current));
    if [r.1, r.2, c.1, c.2].iter().any(|v| !v.is_finite()) {
        return Err(DriftError::Undefined {
            method,
            reason: "the moments overflowed",
        });
    }
    Ok(welch(r, c))
}

/// Decile bins of a weighted reference, with the exact minimum and maximum
/// as the outer edges.
fn sketch_bins(reference: &Pseudo, state: &NumericState) -> Bins {
    let mut edges: Vec<f64> = (0..=10)
        .map(|i| match i {
            0 => state.min.unwrap_or(reference.values[0]),
            10 => state
                .max
                .unwrap_or(reference.values[reference.values.len() - 1]),
            _ => reference.quantile_linear(i as f64 / 10.0),
        })
        .collect();
    // Quantiles of a sketch are within its range, but keep the edges sorted
    // whatever the inputs.
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    Bins { edges }
}

/// Each bin's weight. The values are sorted, so each bin holds a run of
/// them: its end is found by binary search (a bin index per run instead of
/// one per item) and its weights summed in order, as adding them one by one
/// would.
fn weighted_counts(bins: &Bins, side: &Pseudo) -> Vec<f64> {
    let mut out = vec![0.0; bins.len()];
    let mut start = 0;
    for (bin, slot) in out.iter_mut().enumerate() {
        let end = start + side.values[start..].partition_point(|&v| bins.index(v) <= bin);
        *slot = side.weights[start..end].iter().fold(0.0, |sum, w| sum + w);
        start = end;
    }
    out
}

/// Bin shares from per-bin counts, bins empty on both sides dropped.
fn shares(bins: &Bins, reference: &[f64], current: &[f64]) -> Vec<BinShare> {
    let (rt, ct) = (reference.iter().sum::<f64>(), current.iter().sum::<f64>());
    let e = &bins.edges;
    let last = bins.len() - 1;
    (0..bins.len())
        .filter(|&i| reference[i] > 0.0 || current[i] > 0.0)
        .map(|i| {
            let (low, high) = if i == 0 {
                (f64::NEG_INFINITY, e[0])
            } else if i == last {
                (e[e.len() - 1], f64::INFINITY)
            } else if e.len() == 1 {
                (e[0], e[0])
            } else {
                (e[i - 1], e[i])
            };
            BinShare {
                low,
                high,
                reference: reference[i] / rt,
                current: current[i] / ct,
            }
        })
        .collect()
}

fn binned_value(method: Method, shares: &[BinShare]) -> Result<f64, DriftError> {
    let p: Vec<f64> = shares.iter().map(|s| s.reference).collect();
    let q: Vec<f64> = shares.iter().map(|s| s.current).collect();
    Ok(match method {
        Method::Psi => psi_freq(&p, &q),
        Method::KlDiv => kl_freq(&p, &q),
        Method::Hellinger => hellinger_freq(&p, &q),
        Method::JensenShannon => js_freq(&p, &q),
        _ => {
            return Err(DriftError::NotApplicable {
                method,
                kind: "binned numeric",
            });
        }
    })
}

/// Checks an exact-mode sample (the errors of exact mode).
fn check_sample(method: Method, side: Side, values: &[f64]) -> Result<(), DriftError> {
    if values.is_empty() {
        return Err(DriftError::EmptySample { method, side });
    }
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(DriftError::NonFinite {
            method,
            side,
            index,
        });
    }
    Ok(())
}

/// The reference decile bins and both sides' shares per bin from raw
/// samples (exact mode; the bins of `psi`, `kl_div`, `hellinger` and
/// `jensenshannon`).
pub fn numeric_bins(reference: &[f64], current: &[f64]) -> Result<Vec<BinShare>, DriftError> {
    check_sample(Method::Psi, Side::Reference, reference)?;
    check_sample(Method::Psi, Side::Current, current)?;
    let bins = reference_bins(reference)?;
    Ok(shares(
        &bins,
        &bins.counts(reference),
        &bins.counts(current),
    ))
}

/// The reference decile bins and both sides' shares per bin, from two
/// profile states (sketch mode; exact when both sketches hold every value).
pub fn numeric_sketch_bins(
    reference: &NumericState,
    current: &NumericState,
) -> Result<Vec<BinShare>, DriftError> {
    SketchPair::new(Method::Psi, reference, current)?.bins()
}

fn binned_shares(pair: &Pair, reference: &NumericState) -> Vec<BinShare> {
    let bins = sketch_bins(&pair.reference, reference);
    shares(
        &bins,
        &weighted_counts(&bins, &pair.reference),
        &weighted_counts(&bins, &pair.current),
    )
}

/// One numeric method computed from two profile states (reference first).
///
/// When both sketches still hold every value (small profiles), the raw
/// samples are rebuilt and the exact-mode function gives the result
/// (`approximate` false). Otherwise the statistic is estimated from the
/// sketches (`approximate` true), except `t_test`, which only needs the
/// exact moments.
pub fn numeric_sketch(
    method: Method,
    reference: &NumericState,
    current: &NumericState,
) -> Result<MethodResult, DriftError> {
    if method == Method::TTest {
        return t_test_sketch(reference, current);
    }
    if !NUMERIC_METHODS.contains(&method) {
        return Err(DriftError::NotApplicable {
            method,
            kind: "numeric",
        });
    }
    SketchPair::new(method, reference, current)?.method(method)
}

/// Two profile states prepared once (both pseudo-samples, pooled) for
/// several sketch-mode computations on the same feature: a method, the
/// effect size, the bins that moved.
pub struct SketchPair<'a> {
    pair: Pair,
    reference: &'a NumericState,
    current: &'a NumericState,
}

impl<'a> SketchPair<'a> {
    /// `method` names the caller in errors (an empty side).
    pub fn new(
        method: Method,
        reference: &'a NumericState,
        current: &'a NumericState,
    ) -> Result<Self, DriftError> {
        Ok(Self {
            pair: Pair::new(method, reference, current)?,
            reference,
            current,
        })
    }

    /// One numeric method, as [`numeric_sketch`].
    pub fn method(&self, method: Method) -> Result<MethodResult, DriftError> {
        if method == Method::TTest {
            return t_test_sketch(self.reference, self.current);
        }
        if !NUMERIC_METHODS.contains(&method) {
            return Err(DriftError::NotApplicable {
                method,
                kind: "numeric",
            });
        }
        let pair = &self.pair;
        if pair.exact() {
            let (r, c) = (pair.reference.expand(), pair.current.expand());
            return match method {
                Method::Ks => ks(&r, &c),
                Method::Wasserstein => wasserstein(&r, &c),
                Method::Anderson => anderson(&r, &c),
                Method::CramerVonMises => cramer_von_mises(&r, &c),
                Method::Energy => energy(&r, &c),
                _ => numeric_binned(method, &r, &c),
            };
        }
        weighted(method, pair, self.reference, self.current)
    }

    /// The bins and shares, as [`numeric_sketch_bins`].
    pub fn bins(&self) -> Result<Vec<BinShare>, DriftError> {
        if self.pair.exact() {
            return numeric_bins(&self.pair.reference.expand(), &self.pair.current.expand());
        }
        Ok(binned_shares(&self.pair, self.reference))
    }
}

/// A method on the weighted pseudo-samples (estimation mode).
fn weighted(
    method: Method,
    pair: &Pair,
    reference: &NumericState,
    current: &NumericState,
) -> Result<MethodResult, DriftError> {
    let (n1, n2) = counts(reference, current);
    match method {
        Method::Ks => Ok(ks_sketch(pair, n1, n2)),
        Method::Wasserstein => {
            let std = reference_std(method, reference)?;
            Ok(MethodResult::distance(method, pair.cdf_integral(1) / std).approximated())
        }
        Method::Energy => {
            let value = std::f64::consts::SQRT_2 * pair.cdf_integral(2).sqrt();
            Ok(MethodResult::distance(method, value).approximated())
        }
        Method::CramerVonMises => cvm_sketch(pair, n1, n2),
        Method::Anderson => anderson_sketch(pair, n1, n2),
        Method::TTest => t_test_sketch(reference, current),
        _ => {
            let value = binned_value(method, &binned_shares(pair, reference))?;
            Ok(MethodResult::distance(method, value).approximated())
        }
    }
}

/// All numeric methods (the list and order of `numeric_all`) from two
/// profile states, each with its own result.
pub fn numeric_sketch_all(
    reference: &NumericState,
    current: &NumericState,
) -> Vec<(Method, Result<MethodResult, DriftError>)> {
    // The pseudo-samples are built once for all the methods.
    let pair = SketchPair::new(Method::Ks, reference, current);
    NUMERIC_METHODS
        .into_iter()
        .map(|m| {
            let r = match &pair {
                _ if m == Method::TTest => t_test_sketch(reference, current),
                Err(e) => Err(with_method(e.clone(), m)),
                Ok(p) => p.method(m),
            };
            (m, r)
        })
        .collect()
}

/// The same error, reported for another method.
pub(crate) fn with_method(e: DriftError, m: Method) -> DriftError {
    match e {
        DriftError::EmptySample { side, .. } => DriftError::EmptySample { method: m, side },
        other => other,
    }
}

#[cfg(test)]
mod tests;
