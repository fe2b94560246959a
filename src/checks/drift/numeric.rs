//! Numeric drift methods on raw samples (definitions in the module docs).

use statrs::function::beta::beta_reg;

use super::categorical::{frequencies_binned, hellinger_freq, js_freq, kl_freq, psi_freq};
use super::special::{cvm_cdf_inf, cvm_exact_sf, ks_exact_sf, kstwo_sf};
use super::{DriftError, Method, MethodResult, PValueMethod, Side};

/// Above this size on either side `ks` uses the finite-n Kolmogorov
/// distribution instead of the exact two-sample one (SciPy's `MAX_AUTO_N`).
const KS_MAX_EXACT_N: usize = 10_000;
/// Up to this size on both sides `cramer_von_mises` enumerates the exact
/// null distribution (SciPy's `auto` rule).
const CVM_MAX_EXACT_N: usize = 20;

/// Checks a sample and returns it sorted.
fn sorted(method: Method, side: Side, values: &[f64]) -> Result<Vec<f64>, DriftError> {
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
    let mut out = values.to_vec();
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn both_sorted(
    method: Method,
    reference: &[f64],
    current: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), DriftError> {
    Ok((
        sorted(method, Side::Reference, reference)?,
        sorted(method, Side::Current, current)?,
    ))
}

/// Number of values in sorted `s` that are <= x.
fn count_le(s: &[f64], x: f64) -> usize {
    s.partition_point(|v| *v <= x)
}

/// Number of values in sorted `s` that are < x.
fn count_lt(s: &[f64], x: f64) -> usize {
    s.partition_point(|v| *v < x)
}

/// Two-sample Kolmogorov–Smirnov test (`scipy.stats.ks_2samp`, two-sided).
pub fn ks(reference: &[f64], current: &[f64]) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(Method::Ks, reference, current)?;
    let (n1, n2) = (a.len(), b.len());
    // The largest ECDF gap is attained at one of the observed values.
    let mut d = 0.0f64;
    for &x in a.iter().chain(&b) {
        let gap = (count_le(&a, x) as f64 / n1 as f64 - count_le(&b, x) as f64 / n2 as f64).abs();
        d = d.max(gap);
    }
    Ok(ks_result(d, n1, n2))
}

/// The `ks` result for an ECDF gap `d` between samples of sizes n1 and n2:
/// SciPy's `auto` choice of the exact or the finite-n Kolmogorov p-value
/// (shared with sketch mode).
pub(super) fn ks_result(d: f64, n1: usize, n2: usize) -> MethodResult {
    if n1.max(n2) <= KS_MAX_EXACT_N {
        let g = gcd(n1, n2);
        let lcm = (n1 / g) as f64 * n2 as f64;
        let h = (d * lcm).round_ties_even();
        let d_lattice = h / lcm;
        let p = ks_exact_sf(n1, n2, h as u64);
        return MethodResult::test(
            Method::Ks,
            d_lattice,
            p.clamp(0.0, 1.0),
            PValueMethod::Exact,
        );
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even() as u64;
    let p = kstwo_sf(en.max(1), d);
    MethodResult::test(Method::Ks, d, p, PValueMethod::Asymptotic)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// ∫ |F_a − F_b|^p between the two ECDFs, the core of SciPy's
/// `_cdf_distance`; returns the integral without the 1/p root.
fn cdf_distance_integral(a: &[f64], b: &[f64], p: i32) -> f64 {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mut total = 0.0;
    for w in all.windows(2) {
        let delta = w[1] - w[0];
        if delta == 0.0 {
            continue;
        }
        let diff = (count_le(a, w[0]) as f64 / na - count_le(b, w[0]) as f64 / nb).abs();
        total += diff.powi(p) * delta;
    }
    total
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sum of squared deviations from the mean.
fn sum_sq_dev(values: &[f64]) -> f64 {
    let m = mean(values);
    values.iter().map(|v| (v - m) * (v - m)).sum()
}

/// Wasserstein-1 distance divided by the reference's standard deviation
/// (ddof = 0).
pub fn wasserstein(reference: &[f64], current: &[f64]) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(Method::Wasserstein, reference, current)?;
    let std = (sum_sq_dev(&a) / a.len() as f64).sqrt();
    if std == 0.0 {
        return Err(DriftError::Undefined {
            method: Method::Wasserstein,
            reason: "the reference sample is constant (standard deviation 0)",
        });
    }
    Ok(MethodResult::distance(
        Method::Wasserstein,
        cdf_distance_integral(&a, &b, 1) / std,
    ))
}

/// Energy distance (`scipy.stats.energy_distance`): √2 · (∫ (F_a − F_b)²)^½.
pub fn energy(reference: &[f64], current: &[f64]) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(Method::Energy, reference, current)?;
    let value = std::f64::consts::SQRT_2 * cdf_distance_integral(&a, &b, 2).sqrt();
    Ok(MethodResult::distance(Method::Energy, value))
}

/// Welch's t-test (`scipy.stats.ttest_ind(equal_var=False)`), two-sided.
pub fn t_test(reference: &[f64], current: &[f64]) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(Method::TTest, reference, current)?;
    if a.len() < 2 || b.len() < 2 {
        return Err(DriftError::TooFewValues {
            method: Method::TTest,
            needed: "at least 2 values on each side",
            got: format!("{} and {}", a.len(), b.len()),
        });
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    Ok(welch(
        (n1, mean(&a), sum_sq_dev(&a)),
        (n2, mean(&b), sum_sq_dev(&b)),
    ))
}

/// Welch's t-test from each side's (count, mean, sum of squared deviations),
/// counts at least 2 (shared with sketch mode, which has exact moments).
pub(super) fn welch(reference: (f64, f64, f64), current: (f64, f64, f64)) -> MethodResult {
    let ((n1, mean1, ss1), (n2, mean2, ss2)) = (reference, current);
    let (v1, v2) = (ss1 / (n1 - 1.0), ss2 / (n2 - 1.0));
    let (s1, s2) = (v1 / n1, v2 / n2);
    let diff = mean1 - mean2;
    let se2 = s1 + s2;
    if se2 == 0.0 {
        // Both constant: SciPy returns NaN; a report needs a verdict.
        return if diff == 0.0 {
            MethodResult::test(Method::TTest, 0.0, 1.0, PValueMethod::Exact)
        } else {
            MethodResult::test(
                Method::TTest,
                diff.signum() * f64::INFINITY,
                0.0,
                PValueMethod::Exact,
            )
        };
    }
    let t = diff / se2.sqrt();
    let df = se2 * se2 / (s1 * s1 / (n1 - 1.0) + s2 * s2 / (n2 - 1.0));
    // Two-sided tail of Student's t: I_{df/(df+t²)}(df/2, 1/2), computed
    // directly so tiny p-values keep their digits.
    let p = beta_reg(df / 2.0, 0.5, df / (df + t * t));
    MethodResult::test(Method::TTest, t, p.clamp(0.0, 1.0), PValueMethod::Exact)
}

/// Average ranks (1-based) of the pooled sorted sample `z`, ties averaged.
fn average_ranks(z: &[f64]) -> Vec<f64> {
    let mut ranks = vec![0.0; z.len()];
    let mut i = 0;
    while i < z.len() {
        let mut j = i;
        while j + 1 < z.len() && z[j + 1] == z[i] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        ranks[i..=j].iter_mut().for_each(|x| *x = r);
        i = j + 1;
    }
    ranks
}

/// Two-sample Cramér–von Mises test (`scipy.stats.cramervonmises_2samp`).
pub fn cramer_von_mises(reference: &[f64], current: &[f64]) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(Method::CramerVonMises, reference, current)?;
    let (nx, ny) = (a.len(), b.len());
    if nx < 2 || ny < 2 {
        return Err(DriftError::TooFewValues {
            method: Method::CramerVonMises,
            needed: "at least 2 values on each side",
            got: format!("{nx} and {ny}"),
        });
    }
    // Ranks of each sample's values in the pooled sample (ties averaged).
    let mut pooled: Vec<f64> = a.iter().chain(&b).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let ranks = average_ranks(&pooled);
    let rank_of = |x: f64| ranks[count_lt(&pooled, x)];
    let sum_x: f64 = a
        .iter()
        .enumerate()
        .map(|(i, &x)| (rank_of(x) - (i + 1) as f64).powi(2))
        .sum();
    let sum_y: f64 = b
        .iter()
        .enumerate()
        .map(|(i, &y)| (rank_of(y) - (i + 1) as f64).powi(2))
        .sum();
    let (nxf, nyf) = (nx as f64, ny as f64);
    let u = nxf * sum_x + nyf * sum_y;
    let k = nxf * nyf;
    let n = nxf + nyf;
    let t = u / (k * n) - (4.0 * k - 1.0) / (6.0 * n);
    if nx.max(ny) <= CVM_MAX_EXACT_N {
        let p = cvm_exact_sf(u, nx, ny);
        return Ok(MethodResult::test(
            Method::CramerVonMises,
            t,
            p,
            PValueMethod::Exact,
        ));
    }
    Ok(MethodResult::test(
        Method::CramerVonMises,
        t,
        cvm_asymptotic_p(t, nxf, nyf),
        PValueMethod::Asymptotic,
    ))
}

/// Asymptotic p-value of the two-sample Cramér–von Mises statistic `t` for
/// sample sizes nx, ny (shared with sketch mode).
pub(super) fn cvm_asymptotic_p(t: f64, nxf: f64, nyf: f64) -> f64 {
    let k = nxf * nyf;
    let n = nxf + nyf;
    // Anderson (1962): mean and variance of T, then the limiting law.
    let et = (1.0 + 1.0 / n) / 6.0;
    let vt = (n + 1.0) * (4.0 * k * n - 3.0 * (nxf * nxf + nyf * nyf) - 2.0 * k)
        / (45.0 * n * n * 4.0 * k);
    let tn = 1.0 / 6.0 + (t - et) / (45.0 * vt).sqrt();
    // Below 0.003 the limiting CDF is under 1e-18.
    if tn < 0.003 {
        1.0
    } else {
        (1.0 - cvm_cdf_inf(tn)).max(0.0)
    }
}

/// Anderson–Darling k-sample test for k = 2 (`scipy.stats.anderson_ksamp`,
/// midrank variant), normalised statistic and capped interpolated p-value.
pub fn anderson(reference: &[f64], current: &[f64]) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(Method::Anderson, reference, current)?;
    let mut z: Vec<f64> = a.iter().chain(&b).copied().collect();
    z.sort_by(f64::total_cmp);
    let mut distinct = z.clone();
    distinct.dedup();
    let big_n = z.len();
    if big_n < 4 || distinct.len() < 2 {
        return Err(DriftError::TooFewValues {
            method: Method::Anderson,
            needed: "at least 4 values in all and 2 distinct values",
            got: format!("{big_n} values, {} distinct", distinct.len()),
        });
    }
    let nf = big_n as f64;
    // Scholz & Stephens (1987) eq. 7, with midranks for ties.
    let mut a2 = 0.0;
    for sample in [&a, &b] {
        let ni = sample.len() as f64;
        let mut inner = 0.0;
        for &zj in &distinct {
            let left = count_lt(&z, zj) as f64;
            let lj = count_le(&z, zj) as f64 - left;
            let bj = left + lj / 2.0;
            let fij = (count_le(sample, zj) - count_lt(sample, zj)) as f64;
            let mij = count_le(sample, zj) as f64 - fij / 2.0;
            inner += lj / nf * (nf * mij - bj * ni).powi(2) / (bj * (nf - bj) - nf * lj / 4.0);
        }
        a2 += inner / ni;
    }
    a2 *= (nf - 1.0) / nf;

    // h = Σ_{i=1}^{N-1} 1/i ; g = Σ_{i=1}^{N-2} Σ_{j=i+1}^{N-1} 1/((N−i)j).
    let h: f64 = (1..big_n).map(|i| 1.0 / i as f64).sum();
    let mut g = 0.0;
    let mut tail = 0.0; // Σ_{j=i+1}^{N-1} 1/j, built from the top
    for i in (1..big_n - 1).rev() {
        tail += 1.0 / (i + 1) as f64;
        g += tail / (big_n - i) as f64;
    }
    Ok(anderson_result(a2, (a.len() as f64, b.len() as f64), h, g))
}

/// Normalises the 2-sample A² (Scholz & Stephens' variance with the sums
/// `h`, `g` of the pooled size N) and attaches the interpolated p-value
/// (shared with sketch mode).
pub(super) fn anderson_result(a2: f64, sizes: (f64, f64), h: f64, g: f64) -> MethodResult {
    let nf = sizes.0 + sizes.1;
    let k = 2.0f64;
    let hh: f64 = 1.0 / sizes.0 + 1.0 / sizes.1;
    let ca = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * hh;
    let cb = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * hh - 8.0 * h
        + 4.0 * g
        - 6.0;
    let cc = (6.0 * h + 2.0 * g - 2.0) * k * k
        + (4.0 * h - 4.0 * g + 6.0) * k
        + (2.0 * h - 6.0) * hh
        + 4.0 * h;
    let cd = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    let sigmasq =
        (ca * nf.powi(3) + cb * nf * nf + cc * nf + cd) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0));
    let m = k - 1.0;
    let stat = (a2 - m) / sigmasq.sqrt();
    MethodResult::test(
        Method::Anderson,
        stat,
        anderson_p_value(stat, m),
        PValueMethod::Interpolated,
    )
}

/// Scholz & Stephens' table: critical values b0 + b1/√m + b2/m at these
/// significance levels, fitted by a quadratic in log(significance) and
/// capped to the table's range.
fn anderson_p_value(stat: f64, m: f64) -> f64 {
    const B0: [f64; 7] = [0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085];
    const B1: [f64; 7] = [-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615];
    const B2: [f64; 7] = [-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154];
    const SIG: [f64; 7] = [0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001];
    let crit: Vec<f64> = (0..7)
        .map(|i| B0[i] + B1[i] / m.sqrt() + B2[i] / m)
        .collect();
    let (lo, hi) = (
        crit.iter().copied().fold(f64::INFINITY, f64::min),
        crit.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if stat < lo {
        return 0.25;
    }
    if stat > hi {
        return 0.001;
    }
    let ys: Vec<f64> = SIG.iter().map(|s| s.ln()).collect();
    let [c0, c1, c2] = quadratic_fit(&crit, &ys);
    (c0 + c1 * stat + c2 * stat * stat).exp()
}

/// Least-squares y ≈ c0 + c1 x + c2 x², solved on centred and scaled x for
/// conditioning (the fitted polynomial is the same as NumPy's `polyfit`).
fn quadratic_fit(xs: &[f64], ys: &[f64]) -> [f64; 3] {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let sx = xs.iter().map(|x| (x - mx).abs()).fold(0.0, f64::max);
    let us: Vec<f64> = xs.iter().map(|x| (x - mx) / sx).collect();
    // Normal equations in u.
    let mut m = [[0.0f64; 4]; 3];
    for (u, y) in us.iter().zip(ys) {
        let pw = [1.0, *u, u * u];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] += pw[r] * pw[c];
            }
            m[r][3] += pw[r] * y;
        }
    }
    for col in 0..3 {
        let piv = (col..3)
            .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
            .unwrap_or(col);
        m.swap(col, piv);
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / m[col][col];
                let pivot_row = m[col];
                for (cell, pv) in m[r].iter_mut().zip(pivot_row).skip(col) {
                    *cell -= f * pv;
                }
            }
        }
    }
    let d = [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]];
    // Back from u = (x − mx)/sx to x.
    let c2 = d[2] / (sx * sx);
    let c1 = d[1] / sx - 2.0 * d[2] * mx / (sx * sx);
    let c0 = d[0] - d[1] * mx / sx + d[2] * mx * mx / (sx * sx);
    [c0, c1, c2]
}

/// Shared bins for the histogram methods, derived from the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Distinct reference quantiles at 0%, 10%, …, 100%, ascending.
    pub edges: Vec<f64>,
}

impl Bins {
    /// Number of bins: below, the inner ones, above.
    pub fn len(&self) -> usize {
        self.inner() + 2
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    fn inner(&self) -> usize {
        (self.edges.len() - 1).max(1)
    }

    /// The bin of a value (0 = below the reference minimum).
    pub fn index(&self, x: f64) -> usize {
        let (first, last) = (self.edges[0], self.edges[self.edges.len() - 1]);
        if x < first {
            0
        } else if x > last {
            self.inner() + 1
        } else {
            // count of edges <= x, in 1..=k; x == last goes to the last inner bin.
            count_le(&self.edges, x).min(self.inner())
        }
    }

    /// Counts of a sample per bin.
    pub fn counts(&self, values: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        for &v in values {
            out[self.index(v)] += 1.0;
        }
        out
    }
}

/// NumPy's default (linear) quantile of sorted data.
fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    let frac = pos - lo as f64;
    // NumPy's lerp form, exact at both ends.
    let (a, b) = (s[lo], s[hi]);
    let diff = b - a;
    if frac >= 0.5 {
        b - diff * (1.0 - frac)
    } else {
        a + diff * frac
    }
}

/// The decile bins of a reference sample (see the module docs).
pub fn reference_bins(reference: &[f64]) -> Result<Bins, DriftError> {
    let s = sorted(Method::Psi, Side::Reference, reference)?;
    let mut edges: Vec<f64> = (0..=10)
        .map(|i| quantile_sorted(&s, i as f64 / 10.0))
        .collect();
    edges.dedup();
    Ok(Bins { edges })
}

/// A histogram method (`psi`, `kl_div`, `hellinger`, `jensenshannon`) on
/// the reference's decile bins.
pub fn numeric_binned(
    method: Method,
    reference: &[f64],
    current: &[f64],
) -> Result<MethodResult, DriftError> {
    let (a, b) = both_sorted(method, reference, current)?;
    let bins = reference_bins(&a)?;
    let (p, q) = frequencies_binned(&bins.counts(&a), &bins.counts(&b));
    let value = match method {
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
    };
    Ok(MethodResult::distance(method, value))
}

/// The numeric methods, in report order (exact and sketch mode alike).
pub(crate) const NUMERIC_METHODS: [Method; 10] = [
    Method::Ks,
    Method::Wasserstein,
    Method::Psi,
    Method::JensenShannon,
    Method::KlDiv,
    Method::Hellinger,
    Method::Anderson,
    Method::CramerVonMises,
    Method::Energy,
    Method::TTest,
];

/// Every numeric method, each with its own result or error.
pub fn numeric_all(
    reference: &[f64],
    current: &[f64],
) -> Vec<(Method, Result<MethodResult, DriftError>)> {
    NUMERIC_METHODS
        .into_iter()
        .map(|m| {
            let r = match m {
                Method::Ks => ks(reference, current),
                Method::Wasserstein => wasserstein(reference, current),
                Method::Anderson => anderson(reference, current),
                Method::CramerVonMises => cramer_von_mises(reference, current),
                Method::Energy => energy(reference, current),
                Method::TTest => t_test(reference, current),
                _ => numeric_binned(m, reference, current),
            };
            (m, r)
        })
        .collect()
}
