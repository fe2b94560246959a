//! Categorical drift methods on exact counts (definitions in the module
//! docs), and the frequency-vector distances the numeric histogram methods
//! share.

use std::collections::{BTreeMap, BTreeSet};

use statrs::distribution::{ChiSquared, ContinuousCDF};
use statrs::function::erf::erfc;

use super::{DriftError, FREQUENCY_FLOOR, Method, MethodResult, PValueMethod, Side};

/// Exact counts per category value.
pub type CategoryCounts = BTreeMap<String, u64>;

type CategoricalMethod = fn(&CategoryCounts, &CategoryCounts) -> Result<MethodResult, DriftError>;

/// Pseudo-count added to every reference count for `chisquare` when some
/// category has no reference count (see the module docs).
const CHISQUARE_PSEUDO_COUNT: f64 = 0.5;

/// Aligned counts over the union of categories, dropping categories with a
/// zero count on both sides. Errors when a side has no counts at all.
fn aligned(
    method: Method,
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<(Vec<f64>, Vec<f64>), DriftError> {
    if reference.values().all(|c| *c == 0) {
        return Err(DriftError::EmptySample {
            method,
            side: Side::Reference,
        });
    }
    if current.values().all(|c| *c == 0) {
        return Err(DriftError::EmptySample {
            method,
            side: Side::Current,
        });
    }
    let keys: BTreeSet<&String> = reference.keys().chain(current.keys()).collect();
    let (mut r, mut c) = (Vec::new(), Vec::new());
    for k in keys {
        let (rc, cc) = (
            reference.get(k).copied().unwrap_or(0),
            current.get(k).copied().unwrap_or(0),
        );
        if rc == 0 && cc == 0 {
            continue;
        }
        r.push(rc as f64);
        c.push(cc as f64);
    }
    Ok((r, c))
}

fn normalise(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| c / total).collect()
}

/// Frequencies of two aligned count vectors, dropping bins empty on both
/// sides.
pub(crate) fn frequencies_binned(reference: &[f64], current: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let keep: Vec<usize> = (0..reference.len())
        .filter(|&i| reference[i] > 0.0 || current[i] > 0.0)
        .collect();
    let r: Vec<f64> = keep.iter().map(|&i| reference[i]).collect();
    let c: Vec<f64> = keep.iter().map(|&i| current[i]).collect();
    (normalise(&r), normalise(&c))
}

/// x·ln(x/y) with the 0·ln 0 = 0 convention (SciPy's `rel_entr`).
fn rel_entr(x: f64, y: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x * (x / y).ln() }
}

pub(crate) fn js_freq(p: &[f64], q: &[f64]) -> f64 {
    let mut total = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let m = (a + b) / 2.0;
        total += rel_entr(a, m) + rel_entr(b, m);
    }
    (total / 2.0).max(0.0).sqrt()
}

pub(crate) fn hellinger_freq(p: &[f64], q: &[f64]) -> f64 {
    let s: f64 = p
        .iter()
        .zip(q)
        .map(|(a, b)| (a.sqrt() - b.sqrt()).powi(2))
        .sum();
    s.sqrt() / std::f64::consts::SQRT_2
}

pub(crate) fn psi_freq(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(a, b)| {
            let (a, b) = (a.max(FREQUENCY_FLOOR), b.max(FREQUENCY_FLOOR));
            (b - a) * (b / a).ln()
        })
        .sum()
}

pub(crate) fn kl_freq(p: &[f64], q: &[f64]) -> f64 {
    let a = normalise(&p.iter().map(|v| v.max(FREQUENCY_FLOOR)).collect::<Vec<_>>());
    let b = normalise(&q.iter().map(|v| v.max(FREQUENCY_FLOOR)).collect::<Vec<_>>());
    a.iter().zip(&b).map(|(x, y)| rel_entr(*x, *y)).sum()
}

fn linf_freq(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn distance(
    method: Method,
    reference: &CategoryCounts,
    current: &CategoryCounts,
    f: fn(&[f64], &[f64]) -> f64,
) -> Result<MethodResult, DriftError> {
    let (r, c) = aligned(method, reference, current)?;
    Ok(MethodResult::distance(
        method,
        f(&normalise(&r), &normalise(&c)),
    ))
}

/// Jensen–Shannon distance of the two frequency vectors (natural log).
pub fn jensenshannon(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    distance(Method::JensenShannon, reference, current, js_freq)
}

/// Hellinger distance of the two frequency vectors.
pub fn hellinger(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    distance(Method::Hellinger, reference, current, hellinger_freq)
}

/// Population Stability Index with the frequency floor.
pub fn psi(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    distance(Method::Psi, reference, current, psi_freq)
}

/// KL(reference ‖ current) with the frequency floor.
pub fn kl_div(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    distance(Method::KlDiv, reference, current, kl_freq)
}

/// Largest absolute difference of category frequencies (TFDV).
pub fn linf(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    distance(Method::Linf, reference, current, linf_freq)
}

/// Pearson's chi-squared goodness of fit of the current counts to the
/// reference proportions.
pub fn chisquare(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    let method = Method::ChiSquare;
    let (mut r, c) = aligned(method, reference, current)?;
    if r.len() < 2 {
        return Err(DriftError::TooFewValues {
            method,
            needed: "at least 2 categories",
            got: format!("{}", r.len()),
        });
    }
    if r.contains(&0.0) {
        r.iter_mut().for_each(|v| *v += CHISQUARE_PSEUDO_COUNT);
    }
    let p = normalise(&r);
    let total: f64 = c.iter().sum();
    let stat: f64 = p
        .iter()
        .zip(&c)
        .map(|(pi, obs)| {
            let exp = pi * total;
            (obs - exp).powi(2) / exp
        })
        .sum();
    chi2_result(method, stat, r.len())
}

/// A chi-squared statistic over `categories` categories and its upper-tail
/// p-value (`categories − 1` degrees of freedom).
fn chi2_result(method: Method, stat: f64, categories: usize) -> Result<MethodResult, DriftError> {
    let dist = ChiSquared::new((categories - 1) as f64).map_err(|_| DriftError::Undefined {
        method,
        reason: "invalid degrees of freedom",
    })?;
    Ok(MethodResult::test(
        method,
        stat,
        dist.sf(stat),
        PValueMethod::Asymptotic,
    ))
}

/// Pearson's chi-squared test of homogeneity of the two samples
/// (`scipy.stats.chi2_contingency` on the 2 × k table of reference and
/// current counts, with SciPy's default Yates correction when k = 2).
/// Unlike [`chisquare`], which takes the reference proportions as the truth,
/// it accounts for the sampling noise of both sides: on two random halves of
/// one dataset `chisquare`'s statistic is about twice its null expectation,
/// this one's is not. The default categorical test.
pub fn chi2_contingency(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    let method = Method::Chi2Contingency;
    let (r, c) = aligned(method, reference, current)?;
    if r.len() < 2 {
        return Err(DriftError::TooFewValues {
            method,
            needed: "at least 2 categories",
            got: format!("{}", r.len()),
        });
    }
    let (rt, ct): (f64, f64) = (r.iter().sum(), c.iter().sum());
    let total = rt + ct;
    let yates = r.len() == 2;
    let mut stat = 0.0;
    for (&rc, &cc) in r.iter().zip(&c) {
        let column = rc + cc;
        for (observed, row_total) in [(rc, rt), (cc, ct)] {
            let expected = row_total * column / total;
            let mut diff = observed - expected;
            if yates {
                // SciPy moves each cell half a count towards its expectation.
                diff = diff.signum() * (diff.abs() - 0.5).max(0.0);
            }
            stat += diff * diff / expected;
        }
    }
    chi2_result(method, stat, r.len())
}

/// Two-proportion z-test (pooled) from success counts and totals.
pub fn z_test_proportions(
    ref_successes: u64,
    ref_total: u64,
    cur_successes: u64,
    cur_total: u64,
) -> Result<MethodResult, DriftError> {
    let method = Method::ZTest;
    if ref_total == 0 {
        return Err(DriftError::EmptySample {
            method,
            side: Side::Reference,
        });
    }
    if cur_total == 0 {
        return Err(DriftError::EmptySample {
            method,
            side: Side::Current,
        });
    }
    if ref_successes > ref_total || cur_successes > cur_total {
        return Err(DriftError::TooFewValues {
            method,
            needed: "successes no larger than the total",
            got: format!("{ref_successes}/{ref_total} and {cur_successes}/{cur_total}"),
        });
    }
    let (n1, n2) = (ref_total as f64, cur_total as f64);
    let (p1, p2) = (ref_successes as f64 / n1, cur_successes as f64 / n2);
    let pooled = (ref_successes + cur_successes) as f64 / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        // Both sides all one category: identical proportions.
        return Ok(MethodResult::test(
            method,
            0.0,
            1.0,
            PValueMethod::Asymptotic,
        ));
    }
    let z = (p1 - p2) / se;
    let p = erfc(z.abs() / std::f64::consts::SQRT_2);
    Ok(MethodResult::test(method, z, p, PValueMethod::Asymptotic))
}

/// z-test for a binary categorical feature; the success category is the
/// larger label in byte order.
pub fn z_test(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    let labels: BTreeSet<&String> = reference.keys().chain(current.keys()).collect();
    if labels.len() > 2 {
        return Err(DriftError::NotApplicable {
            method: Method::ZTest,
            kind: "non-binary",
        });
    }
    let success = labels.last().map(|s| s.as_str()).unwrap_or_default();
    let get = |m: &CategoryCounts| m.get(success).copied().unwrap_or(0);
    z_test_proportions(
        get(reference),
        reference.values().sum(),
        get(current),
        current.values().sum(),
    )
}

/// Every categorical method, each with its own result or error (`z_test`
/// only for binary features).
pub fn categorical_all(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Vec<(Method, Result<MethodResult, DriftError>)> {
    let methods: [(Method, CategoricalMethod); 8] = [
        (Method::Linf, linf),
        (Method::JensenShannon, jensenshannon),
        (Method::ChiSquare, chisquare),
        (Method::Chi2Contingency, chi2_contingency),
        (Method::Psi, psi),
        (Method::Hellinger, hellinger),
        (Method::KlDiv, kl_div),
        (Method::ZTest, z_test),
    ];
    methods
        .into_iter()
        .map(|(m, f)| (m, f(reference, current)))
        .collect()
}
