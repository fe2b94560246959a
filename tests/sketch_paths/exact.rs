//! Exact mode's numeric statistics computed in one merge pass over both
//! sorted samples, for the accuracy suites at 10⁵–10⁶ rows per side: exact
//! mode's own functions sort, count by binary search and loop over the
//! pooled sample, which in the dev profile costs about half a minute per
//! column at 10⁶ rows. These are the same definitions (SciPy's, which
//! `tests/drift_exact.rs` holds exact mode to); `drift_accuracy` asserts
//! that they agree with exact mode to 1e-9 at 10³–10⁴ rows before it uses
//! them at larger sizes.

use assay::checks::drift::{self, CategoryCounts, Method};

/// Both samples pooled: each distinct value with its count on each side.
pub struct Pooled {
    values: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
    na: f64,
    nb: f64,
}

impl Pooled {
    /// `reference` and `current` must be sorted.
    pub fn new(reference: &[f64], current: &[f64]) -> Self {
        let (mut values, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < reference.len() || j < current.len() {
            let z = match (reference.get(i), current.get(j)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => break,
            };
            let (mut ca, mut cb) = (0.0, 0.0);
            while reference.get(i) == Some(&z) {
                ca += 1.0;
                i += 1;
            }
            while current.get(j) == Some(&z) {
                cb += 1.0;
                j += 1;
            }
            values.push(z);
            a.push(ca);
            b.push(cb);
        }
        Self {
            values,
            a,
            b,
            na: reference.len() as f64,
            nb: current.len() as f64,
        }
    }

    /// ECDF gaps F_ref − F_cur just after each distinct value.
    fn gaps(&self) -> Vec<f64> {
        let (mut ca, mut cb) = (0.0, 0.0);
        self.a
            .iter()
            .zip(&self.b)
            .map(|(a, b)| {
                ca += a;
                cb += b;
                ca / self.na - cb / self.nb
            })
            .collect()
    }

    pub fn ks(&self) -> f64 {
        self.gaps().iter().fold(0.0, |m, g| m.max(g.abs()))
    }

    /// ∫ |F_ref − F_cur|^p dx.
    fn cdf_integral(&self, p: i32) -> f64 {
        let gaps = self.gaps();
        self.values
            .windows(2)
            .zip(&gaps)
            .map(|(w, g)| g.abs().powi(p) * (w[1] - w[0]))
            .sum()
    }

    /// `scipy.stats.wasserstein_distance` over the reference's standard
    /// deviation (ddof 0).
    pub fn wasserstein(&self, reference_std: f64) -> f64 {
        self.cdf_integral(1) / reference_std
    }

    /// `scipy.stats.energy_distance`.
    pub fn energy(&self) -> f64 {
        std::f64::consts::SQRT_2 * self.cdf_integral(2).sqrt()
    }

    /// `scipy.stats.cramervonmises_2samp`'s T (ranks averaged over ties).
    pub fn cramer_von_mises(&self) -> f64 {
        let (nx, ny) = (self.na, self.nb);
        // Σ over a run of `count` values of one side, at positions
        // below+1 ..= below+count within that side, all at pooled midrank
        // `rank`: Σ (rank − i)².
        let run = |rank: f64, below: f64, count: f64| {
            let c = rank - below;
            count * c * c - c * count * (count + 1.0)
                + count * (count + 1.0) * (2.0 * count + 1.0) / 6.0
        };
        let (mut below_a, mut below_b) = (0.0, 0.0);
        let (mut sum_x, mut sum_y) = (0.0, 0.0);
        for (a, b) in self.a.iter().zip(&self.b) {
            let l = a + b;
            let midrank = below_a + below_b + (l + 1.0) / 2.0;
            sum_x += run(midrank, below_a, *a);
            sum_y += run(midrank, below_b, *b);
            below_a += a;
            below_b += b;
        }
        let u = nx * sum_x + ny * sum_y;
        let k = nx * ny;
        let n = nx + ny;
        u / (k * n) - (4.0 * k - 1.0) / (6.0 * n)
    }

    /// `scipy.stats.anderson_ksamp([ref, cur], midrank=True)`'s normalised
    /// statistic.
    pub fn anderson(&self) -> f64 {
        let (n1, n2) = (self.na, self.nb);
        let nf = n1 + n2;
        let all_distinct = self.values.len() as f64 == nf;
        let mut a2 = 0.0;
        let (mut below, mut below_a, mut below_b) = (0.0, 0.0, 0.0);
        for (a, b) in self.a.iter().zip(&self.b) {
            let l = a + b;
            let lj = if all_distinct { 1.0 } else { l };
            let bj = below + lj / 2.0;
            let denom = bj * (nf - bj) - nf * lj / 4.0;
            let m1 = below_a + a - a / 2.0;
            let m2 = below_b + b - b / 2.0;
            a2 += lj / nf * (nf * m1 - bj * n1).powi(2) / denom / n1;
            a2 += lj / nf * (nf * m2 - bj * n2).powi(2) / denom / n2;
            below += l;
            below_a += a;
            below_b += b;
        }
        a2 *= (nf - 1.0) / nf;
        let big_n = nf as usize;
        let h: f64 = (1..big_n).map(|i| 1.0 / i as f64).sum();
        let mut g = 0.0;
        let mut tail = 0.0;
        for i in (1..big_n - 1).rev() {
            tail += 1.0 / (i + 1) as f64;
            g += tail / (big_n - i) as f64;
        }
        let k = 2.0f64;
        let hh = 1.0 / n1 + 1.0 / n2;
        let ca = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * hh;
        let cb = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * hh - 8.0 * h
            + 4.0 * g
            - 6.0;
        let cc = (6.0 * h + 2.0 * g - 2.0) * k * k
            + (4.0 * h - 4.0 * g + 6.0) * k
            + (2.0 * h - 6.0) * hh
            + 4.0 * h;
        let cd = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
        let sigmasq = (ca * nf.powi(3) + cb * nf * nf + cc * nf + cd)
            / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0));
        (a2 - (k - 1.0)) / sigmasq.sqrt()
    }
}

/// The reference's standard deviation (ddof 0).
pub fn std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Every numeric method's exact statistic (no p-values), in exact mode's
/// definitions, from sorted samples: the merge pass above for the ECDF and
/// rank statistics; exact mode's own bins (`numeric_bins`, linear on sorted
/// input) and categorical formulas for the binned ones; exact mode's
/// `t_test`.
pub fn statistics(reference: &[f64], current: &[f64]) -> Vec<(Method, f64)> {
    let pooled = Pooled::new(reference, current);
    let bins = drift::numeric_bins(reference, current).expect("bins");
    let counts = |share: fn(&drift::BinShare) -> f64, n: usize| -> CategoryCounts {
        bins.iter()
            .enumerate()
            .map(|(i, b)| (format!("{i:03}"), (share(b) * n as f64).round() as u64))
            .collect()
    };
    let (r, c) = (
        counts(|b| b.reference, reference.len()),
        counts(|b| b.current, current.len()),
    );
    let binned = |m: Method| {
        match m {
            Method::Psi => drift::psi(&r, &c),
            Method::KlDiv => drift::kl_div(&r, &c),
            Method::Hellinger => drift::hellinger(&r, &c),
            _ => drift::jensenshannon(&r, &c),
        }
        .expect("binned")
        .statistic
    };
    vec![
        (Method::Ks, pooled.ks()),
        (Method::Wasserstein, pooled.wasserstein(std(reference))),
        (Method::Energy, pooled.energy()),
        (Method::Anderson, pooled.anderson()),
        (Method::CramerVonMises, pooled.cramer_von_mises()),
        (
            Method::TTest,
            drift::t_test(reference, current).expect("t").statistic,
        ),
        (Method::Psi, binned(Method::Psi)),
        (Method::KlDiv, binned(Method::KlDiv)),
        (Method::Hellinger, binned(Method::Hellinger)),
        (Method::JensenShannon, binned(Method::JensenShannon)),
    ]
}
