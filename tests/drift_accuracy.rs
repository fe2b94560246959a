//! Every drift/skew statistic of profile (sketch) mode against exact mode,
//! for every method (`--all-methods`), on the paths production takes: both
//! sides profiled from Parquet files by `assay profile`'s pipeline, or as
//! daemon windows merged from per-request profiles. 10³–10⁶ rows per side,
//! several seeds; normal, uniform, lognormal, zero-inflated heavy-tailed
//! (90% zeros, the rest lognormal σ = 2), Pareto (tail index 2.5) and count
//! columns, unchanged and moved.
//!
//! The exact side: at 10³ and 10⁴ rows, `assay drift --exact`'s own path
//! (`exact_sample` reading the same files, `compare` in exact mode); at 10⁵
//! and 10⁶, the same statistics from one merge pass over the sorted samples
//! (`sketch_paths::exact`), held to exact mode at the smaller sizes first.
//!
//! Each statistic must stay within the bound `docs/accuracy.md` states (the
//! numbers are below); the rank tests' p-values must not be below exact
//! mode's (where exact mode's p-value is above 1e-6: smaller ones are at
//! the limit of the asymptotic series' precision, in SciPy too); `t_test`
//! and the categorical methods (exact counts below 4,096 distinct values)
//! must equal exact mode. The worst error of each method as a share of its
//! bound is printed (`cargo test --test drift_accuracy -- --nocapture`).

mod sketch_paths;

use std::collections::HashMap;

use rayon::prelude::*;

use assay::checks::compare::{
    self, CompareOptions, Comparison, ComparisonReport, ExactSample, FeatureComparison,
    FeatureKind, Side,
};
use assay::checks::drift::Method;
use assay::pipeline::exact_sample;
use assay::profile::Profile;
use assay::sources::ReadOptions;
use sketch_paths::{Route, Shape, float_column, int_column, request_rows, rng, sorted, table};

/// Sizes checked against exact mode itself, and against the merge-pass
/// reference.
const EXACT_SIZES: [usize; 2] = [1_000, 10_000];
const REFERENCE_SIZES: [usize; 2] = [100_000, 1_000_000];

fn seeds(n: usize) -> u64 {
    match n {
        1_000_000 => 1,
        100_000 => 2,
        _ => 3,
    }
}

/// The stated bounds of the distances on light-tailed data: absolute, plus
/// a share of the exact value.
fn distance_bound(method: Method) -> f64 {
    match method {
        Method::Wasserstein => 0.06,
        Method::Energy => 0.04,
        Method::Psi => 0.04,
        Method::KlDiv => 0.015,
        Method::Hellinger | Method::JensenShannon => 0.05,
        _ => unreachable!("{method:?} is not a distance"),
    }
}
const RELATIVE_BOUND: f64 = 0.05;
/// Limiting standard deviation of the 2-sample A², to turn the normalised
/// `anderson` statistic back into A².
const AD_SIGMA: f64 = 0.761_426;

/// A compared column: its shape on both sides and how the current side moved.
struct Column {
    name: &'static str,
    shape: Shape,
    /// Applied to every current value.
    change: fn(f64) -> f64,
}

fn same(v: f64) -> f64 {
    v
}

const COLUMNS: [Column; 11] = [
    Column {
        name: "normal",
        shape: Shape::Normal,
        change: same,
    },
    Column {
        name: "uniform",
        shape: Shape::Uniform,
        change: same,
    },
    Column {
        name: "lognormal",
        shape: Shape::LogNormal,
        change: same,
    },
    Column {
        name: "zero_inflated",
        shape: Shape::ZeroInflated,
        change: same,
    },
    Column {
        name: "pareto",
        shape: Shape::Pareto,
        change: same,
    },
    Column {
        name: "visits",
        shape: Shape::Poisson,
        change: same,
    },
    Column {
        name: "normal_shifted",
        shape: Shape::Normal,
        change: |v| v + 0.5,
    },
    Column {
        name: "normal_scaled",
        shape: Shape::Normal,
        change: |v| 1.5 * v,
    },
    Column {
        name: "lognormal_scaled",
        shape: Shape::LogNormal,
        change: |v| 1.5 * v,
    },
    Column {
        name: "zero_inflated_scaled",
        shape: Shape::ZeroInflated,
        change: |v| 1.5 * v,
    },
    Column {
        name: "pareto_shifted",
        shape: Shape::Pareto,
        change: |v| v + 0.3,
    },
];

fn column(name: &str) -> &'static Column {
    COLUMNS.iter().find(|c| c.name == name).unwrap()
}

/// One side's values per column (stream 0: reference, 1: current).
fn values(n: usize, seed: u64, stream: u64) -> Vec<Vec<f64>> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut values = c.shape.draw(n, &mut rng(100 * stream + i as u64, n, seed));
            if stream == 1 {
                values.iter_mut().for_each(|v| *v = (c.change)(*v));
            }
            values
        })
        .collect()
}

fn batch(values: &[Vec<f64>]) -> arrow::record_batch::RecordBatch {
    table(
        COLUMNS
            .iter()
            .zip(values)
            .map(|(c, v)| {
                let array = if c.shape == Shape::Poisson {
                    int_column(v)
                } else {
                    float_column(v)
                };
                (c.name, array)
            })
            .collect(),
    )
}

fn report(
    plan: &compare::Plan,
    profiles: (&Profile, &Profile),
    exact: Option<(&ExactSample, &ExactSample)>,
) -> ComparisonReport {
    compare::compare(
        plan,
        Side {
            label: "reference",
            profile: profiles.0,
            exact: exact.map(|e| e.0),
        },
        Side {
            label: "current",
            profile: profiles.1,
            exact: exact.map(|e| e.1),
        },
    )
    .expect("a report")
}

fn all_methods_plan(r: &Profile, c: &Profile) -> compare::Plan {
    let options = CompareOptions {
        all_methods: true,
        ..CompareOptions::new(Comparison::Drift)
    };
    compare::plan(r, c, None, &options).expect("a plan")
}

/// An exact statistic (and p-value, where exact mode ran).
#[derive(Clone, Copy)]
struct Exact {
    statistic: f64,
    p_value: Option<f64>,
}

/// Exact results per feature and method.
type ExactTable = HashMap<(String, Method), Exact>;

fn features(r: &ComparisonReport) -> impl Iterator<Item = &FeatureComparison> {
    r.features.iter().chain(&r.predictions)
}

fn exact_from_report(report: &ComparisonReport) -> ExactTable {
    let mut out = ExactTable::new();
    for f in features(report) {
        for m in f.methods.as_ref().expect("all methods") {
            if let Some(statistic) = m.statistic {
                out.insert(
                    (f.name.clone(), m.method),
                    Exact {
                        statistic,
                        p_value: m.p_value,
                    },
                );
            }
        }
    }
    out
}

/// The worst error per method (and tail class) as a share of its bound.
#[derive(Default)]
struct Tally {
    worst: HashMap<String, (f64, String)>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, key: String, error: f64, bound: f64, at: String) {
        let ratio = if bound > 0.0 {
            error / bound
        } else if error == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        if ratio > 1.0 {
            self.failures
                .push(format!("{key} {at}: error {error:.6} > bound {bound:.6}"));
        }
        let entry = self.worst.entry(key).or_insert((0.0, String::new()));
        if ratio > entry.0 {
            *entry = (ratio, at);
        }
    }

    fn absorb(&mut self, other: Tally) {
        self.failures.extend(other.failures);
        for (k, (ratio, at)) in other.worst {
            let entry = self.worst.entry(k).or_insert((0.0, String::new()));
            if ratio > entry.0 {
                *entry = (ratio, at);
            }
        }
    }
}

fn a2(statistic: f64) -> f64 {
    (1.0 + AD_SIGMA * statistic).max(0.0)
}

/// The guaranteed bounds of `wasserstein` and `energy`, which follow from
/// each sketch's CDF being within its rank error ε of the true one: the
/// integrand moves by at most ε_ref + ε_cur over the span of the data.
fn guaranteed(method: Method, eps: f64, span: f64, reference_std: f64) -> f64 {
    match method {
        Method::Wasserstein => eps * span / reference_std,
        Method::Energy => std::f64::consts::SQRT_2 * eps * span.sqrt(),
        _ => unreachable!(),
    }
}

/// Sketch mode against the exact results, feature by feature, method by
/// method.
fn check(
    exact: &ExactTable,
    sketch: &ComparisonReport,
    profiles: (&Profile, &Profile),
    n: usize,
    label: &str,
    tally: &mut Tally,
) {
    assert_eq!(features(sketch).count(), COLUMNS.len());
    for f in features(sketch) {
        let name = &f.name;
        let columns = (
            profiles.0.column(name).unwrap(),
            profiles.1.column(name).unwrap(),
        );
        let eps = columns.0.quantile_rank_error.unwrap() + columns.1.quantile_rank_error.unwrap();
        let span = columns.0.max.unwrap().max(columns.1.max.unwrap())
            - columns.0.min.unwrap().min(columns.1.min.unwrap());
        let reference_std = columns.0.stddev.unwrap()
            * ((columns.0.count as f64 - 1.0) / columns.0.count as f64).sqrt();
        // Light tails: normal, uniform, lognormal with σ = 1.
        let heavy = matches!(column(name).shape, Shape::ZeroInflated | Shape::Pareto);
        let class = if heavy { "heavy tails" } else { "light tails" };
        for s in f.methods.as_ref().expect("all methods") {
            let method = s.method;
            let at = format!("{label} {name}");
            let Some(sv) = s.statistic else {
                assert!(
                    !exact.contains_key(&(name.clone(), method)),
                    "{at} {method:?}: exact mode computed it, sketch mode failed: {:?}",
                    s.error
                );
                continue;
            };
            let e = exact
                .get(&(name.clone(), method))
                .unwrap_or_else(|| panic!("{at} {method:?}: no exact result"));
            let ev = e.statistic;
            let at = format!("{at}: exact {ev:.6}, sketch {sv:.6}");
            let key = |what: &str| format!("{} {what}", method.as_str());
            if f.kind == FeatureKind::Categorical || method == Method::TTest {
                // Exact counts and exact moments: the same numbers.
                tally.record(
                    key("(equal)"),
                    (sv - ev).abs(),
                    1e-9 * ev.abs().max(1.0),
                    at,
                );
                continue;
            }
            let root_n = (n as f64 / 2.0).sqrt();
            match method {
                Method::Ks => tally.record(key(""), (sv - ev).abs(), eps, at.clone()),
                Method::CramerVonMises => tally.record(
                    key("(√T)"),
                    (sv.max(0.0).sqrt() - ev.max(0.0).sqrt()).abs(),
                    eps * root_n,
                    at.clone(),
                ),
                Method::Anderson => tally.record(
                    key("(√A²)"),
                    (a2(sv).sqrt() - a2(ev).sqrt()).abs(),
                    eps * root_n,
                    at.clone(),
                ),
                Method::Wasserstein | Method::Energy => {
                    tally.record(
                        key("(guaranteed)"),
                        (sv - ev).abs(),
                        guaranteed(method, eps, span, reference_std),
                        at.clone(),
                    );
                    if !heavy {
                        tally.record(
                            key("(light tails)"),
                            (sv - ev).abs(),
                            distance_bound(method) + RELATIVE_BOUND * ev.abs(),
                            at.clone(),
                        );
                    } else {
                        // Recorded (as the error itself), not bounded.
                        tally.record(
                            key(&format!("({}, measured error)", column(name).shape.name())),
                            (sv - ev).abs(),
                            1.0,
                            at.clone(),
                        );
                    }
                }
                _ => tally.record(
                    key(&format!("({class})")),
                    (sv - ev).abs(),
                    distance_bound(method) + RELATIVE_BOUND * ev.abs(),
                    at.clone(),
                ),
            }
            if matches!(
                method,
                Method::Ks | Method::CramerVonMises | Method::Anderson
            ) && let (Some(ep), Some(sp)) = (e.p_value, s.p_value)
                && ep >= 1e-6
                && sp < ep - 1e-12
            {
                tally.failures.push(format!(
                    "{at} {method:?}: sketch p {sp} below exact p {ep} (not conservative)"
                ));
            }
        }
    }
}

/// Sketch mode on both routes against `exact`.
fn check_routes(
    exact: &ExactTable,
    sides: (&[Vec<f64>], &[Vec<f64>]),
    profiled: (&Profile, &Profile),
    n: usize,
    label: &str,
) -> Tally {
    let mut tally = Tally::default();
    let plan = all_methods_plan(profiled.0, profiled.1);
    let sketch = report(&plan, profiled, None);
    check(
        exact,
        &sketch,
        profiled,
        n,
        &format!("{label} profiler"),
        &mut tally,
    );
    let rows = request_rows(n);
    let (rw, cw) = (
        sketch_paths::profile_window(&batch(sides.0), rows),
        sketch_paths::profile_window(&batch(sides.1), rows),
    );
    let windows = report(&plan, (&rw, &cw), None);
    check(
        exact,
        &windows,
        (&rw, &cw),
        n,
        &format!("{label} {:?}", Route::Daemon(rows)),
        &mut tally,
    );
    tally
}

/// 10³–10⁴ rows: exact mode through `--exact`'s path; the merge-pass
/// reference must agree with it.
fn run_exact(n: usize, seed: u64) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let (r_values, c_values) = (values(n, seed, 0), values(n, seed, 1));
    let (r_path, r_profile) =
        sketch_paths::profile_file(dir.path(), "reference", &batch(&r_values));
    let (c_path, c_profile) = sketch_paths::profile_file(dir.path(), "current", &batch(&c_values));
    let plan = all_methods_plan(&r_profile, &c_profile);
    let wanted: Vec<(String, FeatureKind)> = plan
        .features
        .iter()
        .map(|f| (f.name.clone(), f.kind))
        .collect();
    let read = ReadOptions::default();
    let sample = |p: &std::path::Path| {
        exact_sample(&[p.display().to_string()], &read, &wanted).expect("exact sample")
    };
    let (r_exact, c_exact) = (sample(&r_path), sample(&c_path));
    let exact = exact_from_report(&report(
        &plan,
        (&r_profile, &c_profile),
        Some((&r_exact, &c_exact)),
    ));
    let label = format!("n={n} seed {seed}");
    let mut tally = Tally::default();
    for (i, c) in COLUMNS.iter().enumerate() {
        if c.shape == Shape::Poisson {
            continue;
        }
        for (method, value) in
            sketch_paths::exact::statistics(&sorted(&r_values[i]), &sorted(&c_values[i]))
        {
            let want = exact[&(c.name.to_string(), method)].statistic;
            tally.record(
                "merge-pass reference vs exact mode".into(),
                (value - want).abs(),
                1e-9 * want.abs().max(1.0),
                format!(
                    "{label} {} {method:?}: exact mode {want}, reference {value}",
                    c.name
                ),
            );
        }
    }
    tally.absorb(check_routes(
        &exact,
        (&r_values, &c_values),
        (&r_profile, &c_profile),
        n,
        &label,
    ));
    tally
}

/// 10⁵–10⁶ rows: the merge-pass reference (and exact counts for the
/// categorical feature, which profile mode reads exactly).
fn run_reference(n: usize, seed: u64) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let (r_values, c_values) = (values(n, seed, 0), values(n, seed, 1));
    let (_, r_profile) = sketch_paths::profile_file(dir.path(), "reference", &batch(&r_values));
    let (_, c_profile) = sketch_paths::profile_file(dir.path(), "current", &batch(&c_values));
    let mut exact = ExactTable::new();
    for (i, c) in COLUMNS.iter().enumerate() {
        if c.shape == Shape::Poisson {
            continue;
        }
        for (method, statistic) in
            sketch_paths::exact::statistics(&sorted(&r_values[i]), &sorted(&c_values[i]))
        {
            exact.insert(
                (c.name.to_string(), method),
                Exact {
                    statistic,
                    p_value: None,
                },
            );
        }
    }
    // The count column is categorical (20 values or fewer), compared on
    // exact counts in both modes: its exact results are the profile's.
    let plan = all_methods_plan(&r_profile, &c_profile);
    let sketch = report(&plan, (&r_profile, &c_profile), None);
    for f in features(&sketch).filter(|f| f.kind == FeatureKind::Categorical) {
        for m in f.methods.as_ref().unwrap() {
            if let Some(statistic) = m.statistic {
                exact.insert(
                    (f.name.clone(), m.method),
                    Exact {
                        statistic,
                        p_value: m.p_value,
                    },
                );
            }
        }
    }
    check_routes(
        &exact,
        (&r_values, &c_values),
        (&r_profile, &c_profile),
        n,
        &format!("n={n} seed {seed}"),
    )
}

#[test]
fn every_sketch_statistic_is_within_its_bound_of_exact_mode() {
    let cases: Vec<(usize, u64)> = EXACT_SIZES
        .iter()
        .chain(&REFERENCE_SIZES)
        .flat_map(|&n| (0..seeds(n)).map(move |seed| (n, seed)))
        .collect();
    let tallies: Vec<Tally> = cases
        .into_par_iter()
        .rev()
        .map(|(n, seed)| {
            if EXACT_SIZES.contains(&n) {
                run_exact(n, seed)
            } else {
                run_reference(n, seed)
            }
        })
        .collect();
    let mut all = Tally::default();
    for t in tallies {
        all.absorb(t);
    }
    // The heavy-tail rows are measurements, not bounds.
    all.failures
        .retain(|f| !f.contains("(heavy tails, measured error)"));
    let mut rows: Vec<_> = all.worst.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut table =
        String::from("method                               worst error / bound   where\n");
    for (key, (ratio, at)) in rows {
        table.push_str(&format!("{key:<36} {ratio:>8.3}   {at}\n"));
    }
    eprintln!("{table}");
    assert!(
        all.failures.is_empty(),
        "{}\n{table}",
        all.failures.join("\n")
    );
}
