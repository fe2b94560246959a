//! Sketch-mode (profile) numeric drift methods against exact mode on the
//! same raw values: every method must stay within the error bound stated
//! under "Sketch mode" in `src/checks/drift/mod.rs`, and the verdicts at
//! the default thresholds must agree on clearly-same and clearly-different
//! samples. Samples come from fixed seeds.

use assay::checks::drift::{self, Method, MethodResult, PValueMethod};
use assay::profile::numeric::NumericState;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};

// The documented bounds: absolute, plus a share of the exact value.
const WASSERSTEIN_BOUND: f64 = 0.06;
const ENERGY_BOUND: f64 = 0.04;
const PSI_BOUND: f64 = 0.04;
const KL_DIV_BOUND: f64 = 0.015;
const HELLINGER_JS_BOUND: f64 = 0.05;
const RELATIVE_BOUND: f64 = 0.05;
/// Limiting standard deviation of the 2-sample A², √(2(π² − 9)/3), to turn
/// the normalised `anderson` statistic back into A² (within 1% for N ≥ 1000).
const AD_SIGMA: f64 = 0.761_426;

const WASSERSTEIN_THRESHOLD: f64 = 0.1;
const P_THRESHOLD: f64 = 0.05;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Clearly no drift: both sides from the same distribution.
    Same,
    /// Clearly drifted at every size tested.
    Different,
    /// Drift that the verdict may or may not flag; only the bounds apply.
    Borderline,
}

struct Case {
    name: &'static str,
    kind: Kind,
    reference: Vec<f64>,
    current: Vec<f64>,
}

fn draw(n: usize, rng: &mut StdRng, f: impl Fn(&mut StdRng) -> f64) -> Vec<f64> {
    (0..n).map(|_| f(rng)).collect()
}

fn cases(n: usize, seed: u64) -> Vec<Case> {
    let normal = Normal::new(0.0, 1.0).unwrap();
    let lognormal = LogNormal::new(0.0, 1.0).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut case = |name, kind, r: &dyn Fn(&mut StdRng) -> f64, c: &dyn Fn(&mut StdRng) -> f64| {
        let reference = draw(n, &mut rng, r);
        let current = draw(n, &mut rng, c);
        Case {
            name,
            kind,
            reference,
            current,
        }
    };
    vec![
        case("normal same", Kind::Same, &|g| normal.sample(g), &|g| {
            normal.sample(g)
        }),
        case(
            "normal shifted 0.1 std",
            Kind::Borderline,
            &|g| normal.sample(g),
            &|g| normal.sample(g) + 0.1,
        ),
        case(
            "normal shifted 0.5 std",
            Kind::Different,
            &|g| normal.sample(g),
            &|g| normal.sample(g) + 0.5,
        ),
        case(
            "normal scaled 1.5",
            Kind::Different,
            &|g| normal.sample(g),
            &|g| 1.5 * normal.sample(g),
        ),
        case(
            "lognormal same",
            Kind::Same,
            &|g| lognormal.sample(g),
            &|g| lognormal.sample(g),
        ),
        case(
            "lognormal scaled 1.1",
            Kind::Borderline,
            &|g| lognormal.sample(g),
            &|g| 1.1 * lognormal.sample(g),
        ),
        case(
            "integers same",
            Kind::Same,
            &|g| (1.5 * normal.sample(g)).round(),
            &|g| (1.5 * normal.sample(g)).round(),
        ),
        case(
            "integers shifted",
            Kind::Borderline,
            &|g| (1.5 * normal.sample(g)).round(),
            &|g| (1.5 * normal.sample(g) + 0.3).round(),
        ),
        case(
            "few distinct values shifted",
            Kind::Different,
            &|g| f64::from(g.random_range(0..5u8)),
            &|g| f64::from(g.random_range(1..6u8)),
        ),
    ]
}

fn state(values: &[f64]) -> NumericState {
    let mut s = NumericState::default();
    s.update_values(values.iter().copied(), true);
    s
}

/// Sum of both sides' normalised rank errors (each side's KLL bound).
fn rank_errors(r: &NumericState, c: &NumericState) -> f64 {
    assert!(r.kll.is_estimation_mode() && c.kll.is_estimation_mode());
    r.kll.rank_error() + c.kll.rank_error()
}

fn sqrt_effective_n(n: usize, m: usize) -> f64 {
    (n as f64 * m as f64 / (n + m) as f64).sqrt()
}

fn a2(r: &MethodResult) -> f64 {
    (1.0 + AD_SIGMA * r.statistic).max(0.0)
}

/// Checks one method's sketch result against exact mode; returns failures.
fn check(
    case: &Case,
    eps: f64,
    method: Method,
    exact: &MethodResult,
    sketch: &MethodResult,
) -> Vec<String> {
    let (e, s) = (exact.statistic, sketch.statistic);
    let label = format!("{} n={} {method:?}", case.name, case.reference.len());
    let mut bad = Vec::new();
    if sketch.approximate != (method != Method::TTest) {
        bad.push(format!("{label}: approximate = {}", sketch.approximate));
    }
    let delta = sqrt_effective_n(case.reference.len(), case.current.len()) * eps;
    let within = match method {
        Method::Ks => (s - e).abs() <= eps,
        Method::CramerVonMises => (s.max(0.0).sqrt() - e.max(0.0).sqrt()).abs() <= delta,
        Method::Anderson => (a2(sketch).sqrt() - a2(exact).sqrt()).abs() <= delta,
        Method::Wasserstein => (s - e).abs() <= WASSERSTEIN_BOUND + RELATIVE_BOUND * e,
        Method::Energy => (s - e).abs() <= ENERGY_BOUND + RELATIVE_BOUND * e,
        Method::Psi => (s - e).abs() <= PSI_BOUND + RELATIVE_BOUND * e,
        Method::KlDiv => (s - e).abs() <= KL_DIV_BOUND + RELATIVE_BOUND * e,
        Method::Hellinger | Method::JensenShannon => {
            (s - e).abs() <= HELLINGER_JS_BOUND + RELATIVE_BOUND * e
        }
        Method::TTest => {
            (s - e).abs() <= 1e-9 * e.abs().max(1.0)
                && (sketch.p_value.unwrap() - exact.p_value.unwrap()).abs() <= 1e-9
        }
        _ => false,
    };
    if !within {
        bad.push(format!("{label}: exact {e} vs sketch {s} (eps {eps})"));
    }
    // Verdicts at the default thresholds.
    let drifted = |r: &MethodResult| match r.p_value {
        Some(p) => p < P_THRESHOLD,
        None => r.statistic >= WASSERSTEIN_THRESHOLD,
    };
    // t_test is exact; the rank tests' verdicts are compared on clearly
    // different cases (on same cases their conservative p-values are
    // checked at 1e6 rows below).
    let verdict_method = matches!(method, Method::Ks | Method::Wasserstein)
        || (method.is_test() && method != Method::TTest && case.kind == Kind::Different);
    // KLL compaction is randomised (each run's sketch differs), so a
    // distance within its documented error of the threshold may land on
    // either side: verdicts must agree only beyond that margin.
    let near_threshold = method == Method::Wasserstein
        && (e - WASSERSTEIN_THRESHOLD).abs() <= WASSERSTEIN_BOUND + RELATIVE_BOUND * e;
    if verdict_method
        && case.kind != Kind::Borderline
        && !near_threshold
        && drifted(exact) != drifted(sketch)
    {
        bad.push(format!(
            "{label}: verdicts differ, exact {exact:?} vs sketch {sketch:?}"
        ));
    }
    // The fixed seeds must give cases that are what they claim to be.
    if case.kind == Kind::Different && !drifted(exact) && verdict_method {
        bad.push(format!("{label}: not a clearly different case: {exact:?}"));
    }
    if case.kind == Kind::Same && method == Method::Ks && exact.p_value.unwrap() < 0.1 {
        bad.push(format!("{label}: not a clearly same case: {exact:?}"));
    }
    bad
}

fn compare_all(n: usize, seed: u64, names: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for case in cases(n, seed)
        .into_iter()
        .filter(|c| names.is_empty() || names.contains(&c.name))
    {
        let (r, c) = (state(&case.reference), state(&case.current));
        let eps = rank_errors(&r, &c);
        let exact = drift::numeric_all(&case.reference, &case.current);
        let sketch = drift::numeric_sketch_all(&r, &c);
        assert_eq!(exact.len(), sketch.len());
        for ((m, e), (m2, s)) in exact.into_iter().zip(sketch) {
            assert_eq!(m, m2);
            bad.extend(check(&case, eps, m, &e.unwrap(), &s.unwrap()));
        }
    }
    bad
}

#[test]
fn every_method_within_bounds_at_1e3() {
    let bad = compare_all(1_000, 11, &[]);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_method_within_bounds_at_1e5() {
    // Exact anderson / cramer_von_mises / ks cost seconds at this size in
    // the dev profile: a subset of the cases.
    let bad = compare_all(
        100_000,
        21,
        &[
            "normal same",
            "normal shifted 0.5 std",
            "few distinct values shifted",
        ],
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn distances_within_bounds_at_1e6() {
    // Exact mode costs seconds per method at this size in the dev profile:
    // the cheap exact methods only, on a few cases.
    let mut bad = Vec::new();
    for case in cases(1_000_000, 13)
        .into_iter()
        .filter(|c| c.name == "lognormal same" || c.name == "few distinct values shifted")
    {
        let (r, c) = (state(&case.reference), state(&case.current));
        let eps = rank_errors(&r, &c);
        for m in [Method::Psi, Method::TTest] {
            let e = match m {
                Method::TTest => drift::t_test(&case.reference, &case.current),
                _ => drift::numeric_binned(m, &case.reference, &case.current),
            }
            .unwrap();
            let s = drift::numeric_sketch(m, &r, &c).unwrap();
            bad.extend(check(&case, eps, m, &e, &s));
        }
        // The rank tests need no exact run to check the conservative
        // p-value: clearly same samples must not be flagged at 1e6 rows,
        // where the sketch error alone is far beyond the tests' resolution.
        for m in [Method::Ks, Method::CramerVonMises, Method::Anderson] {
            let s = drift::numeric_sketch(m, &r, &c).unwrap();
            let p = s.p_value.unwrap();
            let flagged = p < P_THRESHOLD;
            let want = case.kind == Kind::Different;
            if case.kind != Kind::Borderline && flagged != want {
                bad.push(format!("{} 1e6 {m:?}: p = {p}", case.name));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn ks_p_value_follows_exact_mode_size_rule() {
    // Up to 10 000 values per side the exact null distribution is used, as
    // in exact mode; the statistic stays the sketch's estimate.
    let cs = cases(5_000, 14);
    let case = &cs[2];
    let (r, c) = (state(&case.reference), state(&case.current));
    let s = drift::numeric_sketch(Method::Ks, &r, &c).unwrap();
    assert_eq!(s.p_value_method, Some(PValueMethod::Exact));
    let cs = cases(20_000, 14);
    let (r, c) = (state(&cs[2].reference), state(&cs[2].current));
    let s = drift::numeric_sketch(Method::Ks, &r, &c).unwrap();
    assert_eq!(s.p_value_method, Some(PValueMethod::Asymptotic));
}

#[test]
fn sketch_bins_match_exact_bins() {
    for case in cases(50_000, 15) {
        let (r, c) = (state(&case.reference), state(&case.current));
        let eps = rank_errors(&r, &c);
        let exact = drift::numeric_bins(&case.reference, &case.current).unwrap();
        let sketch = drift::numeric_sketch_bins(&r, &c).unwrap();
        let sum =
            |f: fn(&drift::BinShare) -> f64, v: &[drift::BinShare]| v.iter().map(f).sum::<f64>();
        for v in [&exact, &sketch] {
            assert!(
                (sum(|b| b.reference, v) - 1.0).abs() < 1e-9,
                "{}",
                case.name
            );
            assert!((sum(|b| b.current, v) - 1.0).abs() < 1e-9, "{}", case.name);
            assert!(v.windows(2).all(|w| w[0].high <= w[1].low), "{}", case.name);
            let last = v.len() - 1;
            assert!(
                v[0].low.is_finite() || v[0].high.is_finite(),
                "{}",
                case.name
            );
            assert!(
                v[last].high == f64::INFINITY || v[last].high.is_finite(),
                "{}",
                case.name
            );
        }
        // Inner bins pair up; an outer bin may hold a handful of values
        // the sketch did not retain.
        let inner = |v: &[drift::BinShare]| -> Vec<drift::BinShare> {
            v.iter()
                .filter(|b| b.low.is_finite() && b.high.is_finite())
                .cloned()
                .collect()
        };
        let outer = |v: &[drift::BinShare]| -> (f64, f64) {
            v.iter()
                .filter(|b| !(b.low.is_finite() && b.high.is_finite()))
                .fold((0.0, 0.0), |(r, c), b| (r + b.reference, c + b.current))
        };
        let (ei, si) = (inner(&exact), inner(&sketch));
        assert_eq!(ei.len(), si.len(), "{}: {exact:?} vs {sketch:?}", case.name);
        let (eo, so) = (outer(&exact), outer(&sketch));
        assert!(
            (eo.0 - so.0).abs() <= 2.0 * eps && (eo.1 - so.1).abs() <= 2.0 * eps,
            "{}: {exact:?} vs {sketch:?}",
            case.name
        );
        for (e, s) in ei.iter().zip(&si) {
            // Each share is a difference of two CDF values at edges that
            // are themselves estimated: within twice the rank errors.
            assert!(
                (e.reference - s.reference).abs() <= 2.0 * eps
                    && (e.current - s.current).abs() <= 2.0 * eps,
                "{}: {e:?} vs {s:?}",
                case.name
            );
        }
    }
}
