//! Every sketch-backed number of a profile against the exact answer, on
//! the paths production takes (a Parquet file through `assay profile`'s
//! pipeline; a daemon window merged from per-request sketches), at 10³–10⁶
//! rows, several seeds:
//!
//! - the reported quantiles: each within the profile's own
//!   `quantile_rank_error` ε of its exact rank;
//! - histogram bins (equal-width and decile): each bin's share of the
//!   values within 2ε of the exact share of the same bin (a share is the
//!   difference of two CDF estimates, each within ε);
//! - the counts a schema range check reports past a bound: within ε·n
//!   (plus one for rounding) of the exact count, bounds placed in the tails
//!   and the body, and on a value with many ties;
//! - distinct counts: exact up to 4,096 distinct values; past that the HLL
//!   estimate within 3 relative standard errors (3 × 1.04/√4096 = 4.9%);
//! - top values: exact counts up to 4,096 distinct values; past that each
//!   listed count between the exact count and the exact count plus the
//!   frequent-items sketch's error (3.5/1024 of the column's count), and
//!   every value more frequent than twice that error listed.
//!
//! The bounds are the ones `docs/accuracy.md` states; the table printed at
//! the end (`cargo test --test profile_accuracy -- --nocapture`) gives the
//! worst error measured as a share of its bound.

mod sketch_paths;

use std::collections::HashMap;

use rayon::prelude::*;
use serde_json::Value;

use assay::checks::anomalies::schema_anomalies;
use assay::checks::finding::FindingKind;
use assay::profile::{ColumnProfile, HistogramBin, LogicalType, Profile};
use assay::schema::{Bounds, FeatureSchema, Schema};
use sketch_paths::{
    FLOAT_SHAPES, Route, Shape, float_column, int_column, request_rows, rng, sorted, string_column,
    table, zipf_codes,
};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// HLL with 2^12 buckets: relative standard error 1.04/√4096.
const HLL_RSE: f64 = 1.04 / 64.0;
/// The frequent-items sketch's error as a share of the count (map size 1024).
const FREQUENT_EPSILON: f64 = 3.5 / 1024.0;

fn seeds(n: usize) -> u64 {
    if n >= 1_000_000 { 2 } else { 3 }
}

/// The raw values of one table, kept for the exact answers.
struct Data {
    numeric: Vec<(String, Vec<f64>)>,
    text: Vec<(String, Vec<String>)>,
}

fn data(n: usize, seed: u64) -> (Data, arrow::record_batch::RecordBatch) {
    let mut numeric: Vec<(String, Vec<f64>)> = FLOAT_SHAPES
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name().to_string(), s.draw(n, &mut rng(i as u64, n, seed))))
        .collect();
    numeric.push((
        "poisson".into(),
        Shape::Poisson.draw(n, &mut rng(10, n, seed)),
    ));
    // Ids: about 0.9 n distinct values, past 4,096 from 10⁴ rows.
    let mut ids = rng(11, n, seed);
    numeric.push((
        "ids".into(),
        (0..n)
            .map(|_| rand::Rng::random_range(&mut ids, 0..4 * n as i64) as f64)
            .collect(),
    ));
    let text = vec![(
        "codes".to_string(),
        zipf_codes(n, 50_000, 1.1, &mut rng(12, n, seed)),
    )];
    let mut columns = Vec::new();
    for (name, values) in &numeric {
        let array = if name == "poisson" || name == "ids" {
            int_column(values)
        } else {
            float_column(values)
        };
        columns.push((name.as_str(), array));
    }
    for (name, values) in &text {
        columns.push((name.as_str(), string_column(values)));
    }
    let batch = table(columns);
    (Data { numeric, text }, batch)
}

/// The worst error of one kind of number, as a share of its bound.
#[derive(Default)]
struct Worst {
    /// check name → (worst error / bound, where).
    by_check: HashMap<&'static str, (f64, String)>,
    failures: Vec<String>,
}

impl Worst {
    fn record(&mut self, check: &'static str, error: f64, bound: f64, at: impl Fn() -> String) {
        let ratio = if bound > 0.0 {
            error / bound
        } else if error == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        if ratio > 1.0 {
            self.failures
                .push(format!("{check} {}: error {error} > bound {bound}", at()));
        }
        let entry = self.by_check.entry(check).or_insert((0.0, String::new()));
        if ratio > entry.0 {
            *entry = (ratio, at());
        }
    }

    fn absorb(&mut self, other: Worst) {
        self.failures.extend(other.failures);
        for (check, (ratio, at)) in other.by_check {
            let entry = self.by_check.entry(check).or_insert((0.0, String::new()));
            if ratio > entry.0 {
                *entry = (ratio, at);
            }
        }
    }
}

/// The distance from rank `q` to the ranks `v` holds in `sorted`.
fn rank_error(sorted: &[f64], v: f64, q: f64) -> f64 {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|x| *x < v) as f64 / n;
    let upto = sorted.partition_point(|x| *x <= v) as f64 / n;
    if q > upto {
        q - upto
    } else if q < below {
        below - q
    } else {
        0.0
    }
}

/// Values in a histogram bin as the profile defines them: the first bin
/// `[low, high]`, the others `(low, high]` (counts are CDF differences).
fn exact_bin_count(sorted: &[f64], bin: &HistogramBin, first: bool) -> f64 {
    let start = if first {
        sorted.partition_point(|x| *x < bin.low)
    } else {
        sorted.partition_point(|x| *x <= bin.low)
    };
    let end = sorted.partition_point(|x| *x <= bin.high);
    end.saturating_sub(start) as f64
}

fn check_numeric(column: &ColumnProfile, sorted: &[f64], worst: &mut Worst, at: &str) {
    let n = sorted.len() as f64;
    let eps = column.quantile_rank_error.expect("a rank error");
    for (q, v) in column.quantiles.as_ref().expect("quantiles") {
        let q: f64 = q.parse().unwrap();
        worst.record("quantile rank", rank_error(sorted, *v, q), eps, || {
            format!("{at} q={q}")
        });
    }
    let histograms = column.histogram.as_ref().expect("histograms");
    for (kind, bins) in [
        ("histogram equi-width share", &histograms.equi_width),
        ("histogram decile share", &histograms.quantile),
    ] {
        let total: f64 = bins.iter().map(|b| b.count).sum();
        worst.record("histogram total", (total - n).abs(), 1e-6 * n, || {
            format!("{at} {kind}")
        });
        for (i, bin) in bins.iter().enumerate() {
            let exact = exact_bin_count(sorted, bin, i == 0) / n;
            worst.record(kind, (bin.count / n - exact).abs(), 2.0 * eps, || {
                format!("{at} bin [{}, {}]", bin.low, bin.high)
            });
        }
    }
}

/// The range bounds tried: pairs of exact values at these ranks, and for
/// columns with a value held by many rows, that value as the maximum.
const RANGE_RANKS: [(f64, f64); 3] = [(0.001, 0.999), (0.02, 0.98), (0.3, 0.7)];

fn check_ranges(profile: &Profile, name: &str, sorted: &[f64], worst: &mut Worst, at: &str) {
    let column = profile.column(name).unwrap();
    let eps = column.quantile_rank_error.unwrap();
    let n = sorted.len();
    let at_rank = |r: f64| sorted[((r * n as f64) as usize).min(n - 1)];
    let mut ranges: Vec<(f64, f64)> = RANGE_RANKS
        .iter()
        .map(|&(lo, hi)| (at_rank(lo), at_rank(hi)))
        .collect();
    // The most common value as the maximum (zeros, a Poisson count).
    let median = at_rank(0.5);
    ranges.push((sorted[0], median));
    for (min, max) in ranges {
        let mut schema = Schema::new();
        let mut feature = FeatureSchema::new(name, column.logical_type, column.role);
        feature.range = Some(Bounds {
            min: Some(min),
            max: Some(max),
        });
        schema.features.push(feature);
        let findings = schema_anomalies(profile, &schema, None);
        let exact_below = sorted.partition_point(|x| *x < min);
        let exact_above = n - sorted.partition_point(|x| *x <= max);
        for (kind, exact) in [
            (FindingKind::ValueTooSmall, exact_below),
            (FindingKind::ValueTooLarge, exact_above),
        ] {
            let finding = findings.iter().find(|f| f.kind == kind);
            match (finding, exact) {
                (None, 0) => {}
                (None, _) => worst.failures.push(format!(
                    "{at} {name} range [{min}, {max}]: {exact} values past it, no {kind:?} finding"
                )),
                (Some(f), _) => {
                    let estimated = f.observed["estimated_count"].as_u64().unwrap() as f64;
                    worst.record(
                        "range count",
                        (estimated - exact as f64).abs(),
                        eps * n as f64 + 1.0,
                        || format!("{at} {name} {kind:?} past [{min}, {max}]: exact {exact}, estimated {estimated}"),
                    );
                }
            }
        }
    }
}

/// Distinct count and top values of an int or string column against the
/// exact counts of its values (as text).
fn check_frequencies(
    column: &ColumnProfile,
    exact: &HashMap<String, u64>,
    worst: &mut Worst,
    at: &str,
) {
    let n: u64 = exact.values().sum();
    let distinct = column.distinct.expect("a distinct count");
    let truly = exact.len() as f64;
    let top = column.top.as_ref().expect("top values");
    if column.distinct_exact == Some(true) {
        worst.record("distinct (exact)", (distinct - truly).abs(), 0.0, || {
            at.to_string()
        });
    } else {
        worst.record(
            "distinct (HLL)",
            (distinct / truly - 1.0).abs(),
            3.0 * HLL_RSE,
            || format!("{at}: exact {truly}, estimated {distinct}"),
        );
    }
    let listed: HashMap<&str, u64> = top.iter().map(|v| (v.value.as_str(), v.count)).collect();
    if column.top_exact == Some(true) {
        // Each listed count exact, and nothing unlisted more frequent than
        // the least frequent listed value (ties may go either way).
        assert_eq!(top.len(), exact.len().min(100), "{at}");
        for v in top {
            let truth = exact.get(&v.value).copied().unwrap_or(0);
            worst.record(
                "top count (exact)",
                v.count.abs_diff(truth) as f64,
                0.0,
                || format!("{at} {}", v.value),
            );
        }
        let least = top.iter().map(|v| v.count).min().unwrap_or(0);
        for (value, count) in exact {
            if *count > least && !listed.contains_key(value.as_str()) {
                worst.failures.push(format!(
                    "{at} {value} ({count}) is not listed, yet more frequent than a listed value"
                ));
            }
        }
        return;
    }
    let bound = FREQUENT_EPSILON * n as f64;
    for v in top {
        let truth = exact.get(&v.value).copied().unwrap_or(0);
        if v.count < truth {
            worst.failures.push(format!(
                "{at} {}: estimated {} below the exact {truth} (the sketch's estimate is an upper bound)",
                v.value, v.count
            ));
        }
        worst.record(
            "top count (frequent items)",
            v.count.abs_diff(truth) as f64,
            bound,
            || format!("{at} {}: exact {truth}, estimated {}", v.value, v.count),
        );
    }
    if top.len() < 100 {
        for (value, count) in exact {
            if *count as f64 > 2.0 * bound && !listed.contains_key(value.as_str()) {
                worst.failures.push(format!(
                    "{at} {value} ({count} of {n}) is more frequent than twice the sketch's error but not listed"
                ));
            }
        }
    }
}

fn counts_of<T: ToString>(values: impl Iterator<Item = T>) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for v in values {
        *out.entry(v.to_string()).or_insert(0) += 1;
    }
    out
}

fn run(n: usize, seed: u64, route: Route) -> Worst {
    let dir = tempfile::tempdir().unwrap();
    let (data, batch) = data(n, seed);
    let profile = sketch_paths::profile(route, dir.path(), "table", &batch);
    assert_eq!(profile.rows, n as u64);
    let at = |name: &str| format!("n={n} seed {seed} {route:?} {name}");
    let mut worst = Worst::default();
    for (name, values) in &data.numeric {
        let column = profile.column(name).unwrap();
        let sorted = sorted(values);
        check_numeric(column, &sorted, &mut worst, &at(name));
        check_ranges(&profile, name, &sorted, &mut worst, &at(name));
        if column.logical_type == LogicalType::Int {
            let exact = counts_of(values.iter().map(|&v| v as i64));
            check_frequencies(column, &exact, &mut worst, &at(name));
        }
    }
    for (name, values) in &data.text {
        let column = profile.column(name).unwrap();
        check_frequencies(column, &counts_of(values.iter()), &mut worst, &at(name));
    }
    worst
}

#[test]
fn profile_numbers_are_within_their_bounds_on_production_paths() {
    let cases: Vec<(usize, u64, Route)> = SIZES
        .iter()
        .flat_map(|&n| {
            (0..seeds(n)).flat_map(move |seed| {
                [Route::Profiler, Route::Daemon(request_rows(n))].map(move |r| (n, seed, r))
            })
        })
        .collect();
    // Largest first, so the pool's threads finish together.
    let results: Vec<Worst> = cases
        .into_par_iter()
        .rev()
        .map(|(n, seed, route)| run(n, seed, route))
        .collect();
    let mut all = Worst::default();
    for w in results {
        all.absorb(w);
    }
    let mut checks: Vec<_> = all.by_check.iter().collect();
    checks.sort_by_key(|(k, _)| **k);
    let mut table = String::from("check                          worst error / bound   where\n");
    for (check, (ratio, at)) in checks {
        table.push_str(&format!("{check:<30} {ratio:>8.3}            {at}\n"));
    }
    eprintln!("{table}");
    assert!(
        all.failures.is_empty(),
        "{}\n{table}",
        all.failures.join("\n")
    );
}

/// The range check's counts also when no value is past a bound by much:
/// a bound just below the maximum leaves a handful of values above it, and
/// the finding still says so (at least 1, since the exact maximum is past).
#[test]
fn a_range_passed_by_few_values_is_reported_with_a_small_count() {
    let n = 100_000;
    let values = Shape::LogNormal.draw(n, &mut rng(20, n, 0));
    let sorted = sorted(&values);
    let batch = table(vec![("x", float_column(&values))]);
    let dir = tempfile::tempdir().unwrap();
    let (_, profile) = sketch_paths::profile_file(dir.path(), "x", &batch);
    let eps = profile.columns[0].quantile_rank_error.unwrap();
    for past in [1, 5, 50] {
        let max = sorted[n - past - 1];
        let mut schema = Schema::new();
        let mut feature = FeatureSchema::new("x", LogicalType::Float, Default::default());
        feature.range = Some(Bounds {
            min: None,
            max: Some(max),
        });
        schema.features.push(feature);
        let findings = schema_anomalies(&profile, &schema, None);
        let f = findings
            .iter()
            .find(|f| f.kind == FindingKind::ValueTooLarge)
            .expect("a finding");
        let estimated = f.observed["estimated_count"].as_u64().unwrap();
        assert!(estimated >= 1);
        assert!(
            (estimated as f64 - past as f64).abs() <= eps * n as f64 + 1.0,
            "{past} past: estimated {estimated}"
        );
        assert_eq!(f.observed["max"], Value::from(sorted[n - 1]));
    }
}
