//! Default `assay drift` and `assay skew` (sketch mode, default methods and
//! thresholds) through the library entry points the CLI and the daemon use
//! (`profile_inputs` on Parquet files or windows merged from per-request
//! profiles, then `compare::plan` and `compare::compare`):
//!
//! - independent samples of one distribution flag nothing, at 10³–10⁶ rows
//!   (and 2,000, just past the switch from tests to distances), for normal,
//!   uniform, lognormal, zero-inflated heavy-tailed, Pareto, Poisson count
//!   and categorical columns, several seeds;
//! - a 0.5-std mean shift, a ×1.5 scale change and a new category taking
//!   20% of the rows are caught, on exactly the feature that moved.

mod sketch_paths;

use rayon::prelude::*;

use arrow::record_batch::RecordBatch;
use assay::checks::compare::{self, CompareOptions, Comparison, ComparisonReport, Side, Verdict};
use assay::profile::Profile;
use sketch_paths::{
    Route, Shape, float_column, int_column, request_rows, rng, string_column, table,
};

const SIZES: [usize; 5] = [1_000, 2_000, 10_000, 100_000, 1_000_000];

fn seeds(n: usize) -> u64 {
    if n >= 1_000_000 { 2 } else { 3 }
}

/// The numeric features and their shapes.
const NUMERIC: [(&str, Shape); 6] = [
    ("normal", Shape::Normal),
    ("uniform", Shape::Uniform),
    ("lognormal", Shape::LogNormal),
    ("zero_inflated", Shape::ZeroInflated),
    ("pareto", Shape::Pareto),
    ("visits", Shape::Poisson),
];

/// Twelve categories with skewed shares.
const CATEGORIES: [&str; 12] = [
    "US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", "ES", "IT", "MX", "NL",
];

/// What changes in the current side.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Change {
    None,
    /// Add half the distribution's standard deviation.
    MeanShift(&'static str),
    /// Multiply by 1.5.
    Scale(&'static str),
    /// A category never seen before takes 20% of the rows.
    NewCategory,
}

impl Change {
    fn feature(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::MeanShift(f) | Self::Scale(f) => Some(f),
            Self::NewCategory => Some("country"),
        }
    }
}

/// The standard deviation of each shape (for the 0.5-std shift).
fn std_of(shape: Shape) -> f64 {
    match shape {
        Shape::Normal => 1.0,
        Shape::Uniform => (1.0f64 / 12.0).sqrt(),
        // sqrt((e^{σ²} − 1) e^{σ²}) with σ = 1
        Shape::LogNormal => ((1f64.exp() - 1.0) * 1f64.exp()).sqrt(),
        Shape::Poisson => 2.0,
        _ => unreachable!("not shifted"),
    }
}

/// One side: `n` rows, stream `side` (0 = reference, 1 = current).
fn side(n: usize, seed: u64, stream: u64, change: Change) -> RecordBatch {
    let mut columns = Vec::new();
    for (i, (name, shape)) in NUMERIC.iter().enumerate() {
        let mut values = shape.draw(n, &mut rng(100 * stream + i as u64, n, seed));
        match change {
            Change::MeanShift(f) if f == *name => {
                let delta = 0.5 * std_of(*shape);
                values.iter_mut().for_each(|v| *v += delta);
            }
            Change::Scale(f) if f == *name => values.iter_mut().for_each(|v| *v *= 1.5),
            _ => {}
        }
        let array = if *shape == Shape::Poisson {
            int_column(&values)
        } else {
            float_column(&values)
        };
        columns.push((*name, array));
    }
    let mut pick = rng(100 * stream + 50, n, seed);
    let weights: Vec<f64> = (0..CATEGORIES.len())
        .map(|i| 1.0 / (i + 1) as f64)
        .collect();
    let dist = rand::distr::weighted::WeightedIndex::new(&weights).unwrap();
    let countries: Vec<String> = (0..n)
        .map(|_| {
            if change == Change::NewCategory && rand::Rng::random::<f64>(&mut pick) < 0.2 {
                "ZZ".to_string()
            } else {
                CATEGORIES[rand::distr::Distribution::sample(&dist, &mut pick)].to_string()
            }
        })
        .collect();
    columns.push(("country", string_column(&countries)));
    table(columns)
}

fn compare_profiles(
    comparison: Comparison,
    reference: &Profile,
    current: &Profile,
) -> ComparisonReport {
    let plan =
        compare::plan(reference, current, None, &CompareOptions::new(comparison)).expect("a plan");
    compare::compare(
        &plan,
        Side {
            label: "reference",
            profile: reference,
            exact: None,
        },
        Side {
            label: "current",
            profile: current,
            exact: None,
        },
    )
    .expect("a report")
}

#[derive(Clone)]
struct Outcome {
    label: String,
    change: Change,
    flagged: Vec<String>,
    /// (feature, method, statistic, adjusted p-value of its test or gate).
    rows: Vec<(String, String, f64, Option<f64>)>,
}

/// Skew and drift of `current` against `reference`.
fn outcomes(label: &str, change: Change, reference: &Profile, current: &Profile) -> Vec<Outcome> {
    [Comparison::Drift, Comparison::Skew]
        .into_iter()
        .map(|comparison| {
            let report = compare_profiles(comparison, reference, current);
            assert_eq!(report.skipped.len(), 0, "{:?}", report.skipped);
            let all: Vec<_> = report.features.iter().chain(&report.predictions).collect();
            assert_eq!(all.len(), NUMERIC.len() + 1);
            for f in &all {
                assert!(
                    matches!(f.verdict, Verdict::Drift | Verdict::NoDrift),
                    "{}: {:?} {:?}",
                    f.name,
                    f.verdict,
                    f.error
                );
            }
            Outcome {
                label: format!("{label} {comparison:?} {change:?}"),
                change,
                flagged: all
                    .iter()
                    .filter(|f| f.drifted)
                    .map(|f| f.name.clone())
                    .collect(),
                rows: all
                    .iter()
                    .map(|f| {
                        let p = match (f.p_value, f.significance) {
                            (Some(p), _) => Some(f.p_value_adjusted.unwrap_or(p)),
                            (None, Some(s)) => Some(s.p_value_adjusted.unwrap_or(s.p_value)),
                            (None, None) => None,
                        };
                        (
                            f.name.clone(),
                            f.method.as_str().to_string(),
                            f.statistic.unwrap_or(f64::NAN),
                            p,
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

fn profile(route: Route, dir: &std::path::Path, name: &str, batch: &RecordBatch) -> Profile {
    sketch_paths::profile(route, dir, name, batch)
}

/// `current`'s profile with the column that `change` moved profiled again
/// from the moved values: the other columns are the same draws as
/// unchanged (each column has its own random stream), so one profile of
/// the unchanged side serves every change.
fn with_change(
    unchanged: &Profile,
    route: Route,
    dir: &std::path::Path,
    (n, seed): (usize, u64),
    change: Change,
) -> Profile {
    let moved = side(n, seed, 1, change);
    let name = change.feature().expect("a change");
    let column = moved.schema().index_of(name).unwrap();
    let one = moved.project(&[column]).unwrap();
    let profiled = profile(route, dir, &format!("moved_{name}"), &one);
    let mut out = unchanged.clone();
    let slot = out.columns.iter_mut().find(|c| c.name == name).unwrap();
    *slot = profiled.columns.into_iter().next().unwrap();
    out
}

fn routes(n: usize) -> [Route; 2] {
    [Route::Profiler, Route::Daemon(request_rows(n))]
}

fn check(outcomes: &[Outcome]) {
    let failures = misses(outcomes);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The outcomes that flagged something else than the moved feature.
fn misses(outcomes: &[Outcome]) -> Vec<String> {
    let mut failures = Vec::new();
    for o in outcomes {
        let want: Vec<String> = o.change.feature().into_iter().map(String::from).collect();
        if o.flagged != want {
            let detail: Vec<String> = o
                .rows
                .iter()
                .map(|(f, m, s, p)| format!("  {f} {m} {s:.4} p={p:?}"))
                .collect();
            failures.push(format!(
                "{}: flagged {:?}, want {:?}\n{}",
                o.label,
                o.flagged,
                want,
                detail.join("\n")
            ));
        }
    }
    failures
}

#[test]
fn independent_samples_of_one_distribution_flag_nothing() {
    // Every size with several seeds on both routes; at 10⁶ one seed per
    // route (profiling 10⁶ rows twice per side is most of the run time).
    let cases: Vec<(usize, u64, Route)> = SIZES
        .iter()
        .flat_map(|&n| {
            let routes = routes(n);
            (0..seeds(n)).flat_map(move |seed| {
                let per_seed: Vec<Route> = if n >= 1_000_000 {
                    vec![routes[seed as usize % 2]]
                } else {
                    routes.to_vec()
                };
                per_seed.into_iter().map(move |r| (n, seed, r))
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = cases
        .into_par_iter()
        .rev()
        .flat_map(|(n, seed, route)| {
            let dir = tempfile::tempdir().unwrap();
            let r = profile(
                route,
                dir.path(),
                "reference",
                &side(n, seed, 0, Change::None),
            );
            let c = profile(
                route,
                dir.path(),
                "current",
                &side(n, seed, 1, Change::None),
            );
            outcomes(
                &format!("n={n} seed {seed} {route:?}"),
                Change::None,
                &r,
                &c,
            )
        })
        .collect();
    // The largest statistic per feature and method, for the record.
    let mut worst: Vec<(String, String, f64)> = Vec::new();
    for o in &outcomes {
        for (f, m, s, _) in &o.rows {
            match worst.iter_mut().find(|(wf, wm, _)| wf == f && wm == m) {
                Some(w) => w.2 = w.2.max(*s),
                None => worst.push((f.clone(), m.clone(), *s)),
            }
        }
    }
    eprintln!("largest statistic on identical distributions:");
    for (f, m, s) in &worst {
        eprintln!("  {f:<14} {m:<16} {s:.4}");
    }
    check(&outcomes);
}

const CHANGES: [Change; 8] = [
    Change::MeanShift("normal"),
    Change::MeanShift("uniform"),
    Change::MeanShift("lognormal"),
    Change::MeanShift("visits"),
    Change::Scale("normal"),
    Change::Scale("uniform"),
    Change::Scale("lognormal"),
    Change::NewCategory,
];

/// Every change on one unchanged pair of sides.
fn changed(n: usize, seed: u64, route: Route) -> Vec<Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let r = profile(
        route,
        dir.path(),
        "reference",
        &side(n, seed, 0, Change::None),
    );
    let c = profile(
        route,
        dir.path(),
        "current",
        &side(n, seed, 1, Change::None),
    );
    CHANGES
        .iter()
        .flat_map(|&change| {
            let moved = with_change(&c, route, dir.path(), (n, seed), change);
            outcomes(&format!("n={n} seed {seed} {route:?}"), change, &r, &moved)
        })
        .collect()
}

#[test]
fn shifts_are_caught_on_exactly_their_feature() {
    // 2,000 rows and more (1,000 rows: the next test). Three seeds on the
    // profiler's route, one on the daemon's; one seed at 10⁶.
    let cases: Vec<(usize, u64, Route)> = SIZES
        .iter()
        .filter(|&&n| n > 1_000)
        .flat_map(|&n| {
            let mut v = vec![(n, 0, Route::Profiler)];
            if n < 1_000_000 {
                v.extend([
                    (n, 1, Route::Profiler),
                    (n, 2, Route::Profiler),
                    (n, 0, Route::Daemon(request_rows(n))),
                ]);
            }
            v
        })
        .collect();
    let outcomes: Vec<Outcome> = cases
        .into_par_iter()
        .rev()
        .flat_map(|(n, seed, route)| changed(n, seed, route))
        .collect();
    check(&outcomes);
}

/// At 1,000 rows per side the default is a test (`ks`), whose sketch-mode
/// p-value is conservative: it is taken at the ECDF gap shrunk by both
/// sketches' rank errors (about 0.027), which costs power on the smallest
/// changes. Measured over 20 seeds: every change caught on exactly its
/// feature in 20 of 20 seeds, except the ×1.5 scale change of the normal
/// feature, caught in 18 of 20 (the gap of N(0, 1) against N(0, 1.5²) is
/// 0.097, so 0.07 is left after shrinking; exact mode catches it in 20 of
/// 20 but also flags an unchanged feature in 3 of the 20).
#[test]
fn at_1000_rows_changes_are_caught_as_documented() {
    let n = 1_000;
    let outcomes: Vec<Outcome> = (0..20u64)
        .into_par_iter()
        .flat_map(|seed| changed(n, seed, Route::Profiler))
        .collect();
    let mut failures = Vec::new();
    for change in CHANGES {
        let of: Vec<Outcome> = outcomes
            .iter()
            .filter(|o| o.change == change)
            .cloned()
            .collect();
        let missed = misses(&of);
        let allowed = if change == Change::Scale("normal") {
            2 * 2
        } else {
            0
        };
        eprintln!(
            "{change:?}: {} of {} comparisons caught exactly",
            of.len() - missed.len(),
            of.len()
        );
        if missed.len() > allowed {
            failures.extend(missed);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The issue's reproduction: two independent samples of 100,000 rows of one
/// distribution — lognormal amounts, uniform scores and five more features
/// — through the real binary. Default `assay drift` flags nothing in
/// profile mode or with `--exact`; each distance carries the `ks` gate.
/// (Before the KLL batch fix, profile mode flagged 2 of 7 such features.)
#[test]
fn the_issues_reproduction_flags_nothing_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = (0..2u64)
        .map(|stream| {
            let path = dir.path().join(format!("sample{stream}.parquet"));
            sketch_paths::write_parquet(&path, &issue_sample(100_000, stream));
            path.display().to_string()
        })
        .collect();
    for extra in [None, Some("--exact")] {
        let mut args = vec!["drift", &paths[0], &paths[1], "--format", "json"];
        args.extend(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(&args)
            .output()
            .expect("run assay");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        let features: Vec<&serde_json::Value> = report["features"]
            .as_array()
            .unwrap()
            .iter()
            .chain(report["predictions"].as_array().unwrap())
            .collect();
        assert_eq!(features.len(), 7, "{report}");
        for f in &features {
            eprintln!(
                "{:?} {} {} {} gate p {}",
                extra, f["name"], f["method"], f["statistic"], f["significance"]["p_value"]
            );
            assert_eq!(f["verdict"], "no_drift", "{extra:?}: {f}");
            assert!(f["significance"]["method"].is_string(), "{f}");
        }
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
    }
}

/// Seven features of a payments table: lognormal amounts and balances,
/// a uniform score (the model output), a normal age, a Poisson count of
/// visits, a zero-inflated refund amount and a country.
fn issue_sample(n: usize, stream: u64) -> RecordBatch {
    let draw = |i: u64, shape: Shape| shape.draw(n, &mut rng(1000 * stream + i, n, 7));
    let scaled =
        |v: Vec<f64>, a: f64, b: f64| -> Vec<f64> { v.iter().map(|x| a + b * x).collect() };
    let countries = side(n, 7, 10 + stream, Change::None);
    table(vec![
        (
            "amount",
            float_column(&scaled(draw(0, Shape::LogNormal), 0.0, 40.0)),
        ),
        (
            "balance",
            float_column(&scaled(draw(1, Shape::LogNormal), 0.0, 900.0)),
        ),
        ("score", float_column(&draw(2, Shape::Uniform))),
        (
            "age",
            float_column(&scaled(draw(3, Shape::Normal), 41.0, 12.0)),
        ),
        ("visits", int_column(&draw(4, Shape::Poisson))),
        ("refund", float_column(&draw(5, Shape::ZeroInflated))),
        (
            "country",
            countries.column_by_name("country").unwrap().clone(),
        ),
    ])
}
