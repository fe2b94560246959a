//! Merge laws of the profile accumulators (create / update / merge / finish),
//! checked with property tests over random Arrow batches.
//!
//! Every comparison is also made against statistics computed here, naively,
//! from the generated rows ("truth"), so a law cannot hold by both sides
//! being equally wrong:
//! - counts, null/NaN/inf counts, zeros, negatives, min, max, true/false
//!   counts, empty counts, string length min/max, exact distinct counts and
//!   exact top values are compared exactly;
//! - sum, mean, variance and stddev to 1e-9 relative, with an absolute floor
//!   scaled by the column's largest finite magnitude (rounding errors of a
//!   sum over values bounded by M are of order n·ε·M);
//! - quantiles by the rank of the returned value among the true sorted data,
//!   within the reported `quantile_rank_error`;
//! - sketched distinct counts within the HLL bounds of the true count.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use assay::profile::io::{parse, to_json};
use assay::profile::{ColumnProfile, Profile, ProfileOptions, TableAccumulator};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

/// Tolerance of floating-point aggregates (sum, mean, variance, stddev).
const REL: f64 = 1e-9;
/// Values in `top` when the frequencies are exact (docs/profiles.md: "up to 100").
const TOP_VALUES: usize = 100;
/// The exact-distinct bound documented in docs/profiles.md.
const EXACT_DISTINCT_LIMIT: usize = 4096;

// ---------------------------------------------------------------------------
// Generated data

#[derive(Debug, Clone)]
struct Row {
    f: Option<f64>,
    i: Option<i64>,
    s: Option<String>,
    u: Option<String>,
    b: Option<bool>,
    t: Option<i64>,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("f", DataType::Float64, true),
        Field::new("i", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("u", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]))
}

fn to_batch(rows: &[Row]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.f).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.i).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.s.clone()).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.u.clone()).collect::<Vec<_>>(),
        )),
        Arc::new(BooleanArray::from(
            rows.iter().map(|r| r.b).collect::<Vec<_>>(),
        )),
        Arc::new(TimestampMicrosecondArray::from(
            rows.iter().map(|r| r.t).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema(), columns).expect("valid batch")
}

/// Floats. `extreme` adds huge and tiny magnitudes (kept below 1e150 so that
/// sums of squares of a few hundred values stay finite).
fn float_value(extreme: bool) -> BoxedStrategy<Option<f64>> {
    let special = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
    ];
    let magnitudes = prop_oneof![
        Just(1e150),
        Just(-1e150),
        Just(1e-300),
        Just(-1e-300),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        (-1e150..1e150f64),
    ];
    let ordinary = prop_oneof![(-1e6..1e6f64), (-3i32..4).prop_map(f64::from)];
    if extreme {
        prop_oneof![
            2 => Just(None),
            2 => special.prop_map(Some),
            3 => magnitudes.prop_map(Some),
            6 => ordinary.prop_map(Some),
        ]
        .boxed()
    } else {
        prop_oneof![
            2 => Just(None),
            2 => special.prop_map(Some),
            8 => ordinary.prop_map(Some),
        ]
        .boxed()
    }
}

/// Integers: mostly few distinct values; `extreme` adds the i64 bounds.
fn int_value(extreme: bool) -> BoxedStrategy<Option<i64>> {
    let few = (-3i64..4).prop_map(Some);
    let wide = (-1_000_000_000i64..1_000_000_000).prop_map(Some);
    if extreme {
        prop_oneof![
            2 => Just(None),
            6 => few,
            2 => wide,
            2 => prop_oneof![
                Just(i64::MIN),
                Just(i64::MAX),
                Just(i64::MIN + 1),
                Just(i64::MAX - 1),
                any::<i64>(),
            ]
            .prop_map(Some),
        ]
        .boxed()
    } else {
        prop_oneof![2 => Just(None), 6 => few, 2 => wide].boxed()
    }
}

/// Low-cardinality strings, with empty and non-ASCII values.
fn category() -> impl Strategy<Value = Option<String>> {
    prop::sample::select(vec![
        None,
        Some(String::new()),
        Some("a".to_string()),
        Some("b".to_string()),
        Some("ñandú".to_string()),
        Some("日本".to_string()),
        Some("🦀 crab".to_string()),
    ])
}

/// Strings with many distinct values (unicode of 1 to 4 UTF-8 bytes).
fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.85, "[a-cé日🦀 ]{0,6}")
}

/// Timestamps in µs: 1906 to 2096, with repeats; `extreme` adds far values.
fn timestamp_value(extreme: bool) -> BoxedStrategy<Option<i64>> {
    let ordinary = prop_oneof![
        (-2_000_000_000_000_000i64..4_000_000_000_000_000),
        Just(0i64),
        Just(1_704_067_200_000_000),
    ];
    if extreme {
        prop_oneof![
            1 => Just(None),
            5 => ordinary.prop_map(Some),
            1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64)].prop_map(Some),
        ]
        .boxed()
    } else {
        prop_oneof![1 => Just(None), 5 => ordinary.prop_map(Some)].boxed()
    }
}

fn row(extreme: bool) -> impl Strategy<Value = Row> {
    (
        float_value(extreme),
        int_value(extreme),
        category(),
        text(),
        prop::option::weighted(0.8, any::<bool>()),
        timestamp_value(extreme),
    )
        .prop_map(|(f, i, s, u, b, t)| Row { f, i, s, u, b, t })
}

fn rows(max: usize) -> impl Strategy<Value = Vec<Row>> {
    // One regime per case, so that most cases have moderate magnitudes and
    // the moment tolerances stay tight.
    prop_oneof![3 => Just(false), 1 => Just(true)]
        .prop_flat_map(move |extreme| prop::collection::vec(row(extreme), 0..=max))
}

// ---------------------------------------------------------------------------
// Accumulating

fn accumulate(batches: &[RecordBatch], options: &ProfileOptions) -> TableAccumulator {
    let mut acc = TableAccumulator::new(&schema(), options).expect("accumulator");
    for b in batches {
        acc.update(b).expect("update");
    }
    acc
}

fn merged(a: &TableAccumulator, b: &TableAccumulator) -> TableAccumulator {
    let mut m = a.clone();
    m.merge(b).expect("merge");
    m
}

// ---------------------------------------------------------------------------
// Truth, computed naively from the rows

#[derive(Debug, Default)]
struct NumericTruth {
    count: u64,
    nulls: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    zeros: u64,
    negatives: u64,
    /// Finite values, sorted.
    sorted: Vec<f64>,
    /// Largest finite magnitude: the scale of rounding errors.
    scale: f64,
}

impl NumericTruth {
    fn new(values: impl Iterator<Item = Option<f64>>) -> Self {
        let mut t = NumericTruth::default();
        for v in values {
            match v {
                None => t.nulls += 1,
                Some(v) => {
                    t.count += 1;
                    if v.is_nan() {
                        t.nan += 1;
                    } else if v == f64::INFINITY {
                        t.pos_inf += 1;
                    } else if v == f64::NEG_INFINITY {
                        t.neg_inf += 1;
                    } else {
                        if v == 0.0 {
                            t.zeros += 1;
                        } else if v < 0.0 {
                            t.negatives += 1;
                        }
                        t.sorted.push(v);
                        t.scale = t.scale.max(v.abs());
                    }
                }
            }
        }
        t.sorted.sort_by(f64::total_cmp);
        t
    }

    fn min(&self) -> Option<f64> {
        self.sorted.first().copied()
    }

    fn max(&self) -> Option<f64> {
        self.sorted.last().copied()
    }
}

/// Distinct values and their counts, as (display text, count) sorted the
/// documented way: most frequent first, ties by value.
fn top_of<K: Ord + Clone + std::hash::Hash + ToString>(
    values: impl Iterator<Item = Option<K>>,
) -> (usize, Vec<(String, u64)>) {
    let mut counts: HashMap<K, u64> = HashMap::new();
    for v in values.flatten() {
        *counts.entry(v).or_default() += 1;
    }
    let mut rows: Vec<(K, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let distinct = rows.len();
    let top = rows
        .into_iter()
        .take(TOP_VALUES)
        .map(|(k, c)| (k.to_string(), c))
        .collect();
    (distinct, top)
}

#[derive(Debug)]
struct StringTruth {
    count: u64,
    nulls: u64,
    empty: u64,
    min_len: Option<u64>,
    max_len: Option<u64>,
    distinct: usize,
    top: Vec<(String, u64)>,
}

impl StringTruth {
    fn new<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> Self {
        let lens: Vec<u64> = values
            .clone()
            .flatten()
            .map(|s| s.chars().count() as u64)
            .collect();
        let (distinct, top) = top_of(values.clone().map(|v| v.map(str::to_string)));
        StringTruth {
            count: lens.len() as u64,
            nulls: values.filter(Option::is_none).count() as u64,
            empty: lens.iter().filter(|&&l| l == 0).count() as u64,
            min_len: lens.iter().min().copied(),
            max_len: lens.iter().max().copied(),
            distinct,
            top,
        }
    }
}

struct Truth {
    f: NumericTruth,
    i: NumericTruth,
    i_top: (usize, Vec<(String, u64)>),
    s: StringTruth,
    u: StringTruth,
    b: (u64, u64, u64),
    t: NumericTruth,
}

impl Truth {
    fn new<'a>(rows: impl Iterator<Item = &'a Row> + Clone) -> Self {
        let bools = rows.clone().map(|r| r.b);
        Truth {
            f: NumericTruth::new(rows.clone().map(|r| r.f)),
            i: NumericTruth::new(rows.clone().map(|r| r.i.map(|v| v as f64))),
            i_top: top_of(rows.clone().map(|r| r.i)),
            s: StringTruth::new(rows.clone().map(|r| r.s.as_deref())),
            u: StringTruth::new(rows.clone().map(|r| r.u.as_deref())),
            b: (
                bools.clone().filter(|b| *b == Some(true)).count() as u64,
                bools.clone().filter(|b| *b == Some(false)).count() as u64,
                bools.filter(Option::is_none).count() as u64,
            ),
            t: NumericTruth::new(rows.map(|r| r.t.map(|v| v as f64))),
        }
    }
}

// ---------------------------------------------------------------------------
// Checks

fn close(ctx: &str, field: &str, got: Option<f64>, want: Option<f64>, scale: f64) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) => {
            // Below the smallest normal f64, one rounding step is 100%
            // relative error: differences there are noise, not a broken law.
            let tol = (REL * g.abs().max(w.abs()).max(scale)).max(f64::MIN_POSITIVE);
            assert!(
                (g - w).abs() <= tol,
                "{ctx}: {field} {g:e} vs {w:e} (difference {:e} > tolerance {tol:e})",
                (g - w).abs()
            );
        }
        _ => panic!("{ctx}: {field} {got:?} vs {want:?}"),
    }
}

/// Each reported quantile is a data value whose rank among the true sorted
/// finite values is within the reported rank error of its probability.
fn check_quantiles(ctx: &str, p: &ColumnProfile, truth: &NumericTruth) {
    let Some(quantiles) = &p.quantiles else {
        assert!(
            truth.sorted.is_empty(),
            "{ctx}: no quantiles for {} finite values",
            truth.sorted.len()
        );
        return;
    };
    let eps = p
        .quantile_rank_error
        .unwrap_or_else(|| panic!("{ctx}: quantiles without quantile_rank_error"));
    assert!(eps > 0.0 && eps < 0.05, "{ctx}: rank error {eps}");
    let keys: Vec<&str> = quantiles.keys().map(String::as_str).collect();
    for key in ["0.01", "0.25", "0.5", "0.75", "0.99"] {
        assert!(
            keys.contains(&key),
            "{ctx}: quantile {key} missing: {keys:?}"
        );
    }
    let n = truth.sorted.len() as f64;
    for (key, &v) in quantiles {
        let q: f64 = key.parse().expect("quantile key is a probability");
        assert!(
            truth.sorted.binary_search_by(|x| x.total_cmp(&v)).is_ok() || truth.sorted.contains(&v),
            "{ctx}: quantile {key} = {v:e} is not a data value"
        );
        let below = truth.sorted.partition_point(|x| *x < v) as f64 / n;
        let at_or_below = truth.sorted.partition_point(|x| *x <= v) as f64 / n;
        assert!(
            below <= q + eps && at_or_below >= q - eps,
            "{ctx}: quantile {key} = {v:e} has rank [{below}, {at_or_below}], \
             not within {eps} of {q}"
        );
    }
}

fn check_numeric_truth(ctx: &str, p: &ColumnProfile, t: &NumericTruth, float: bool) {
    assert_eq!(p.count, t.count, "{ctx}: count");
    assert_eq!(p.null_count, t.nulls, "{ctx}: null_count");
    if float {
        assert_eq!(p.nan_count, Some(t.nan), "{ctx}: nan_count");
        assert_eq!(p.pos_inf_count, Some(t.pos_inf), "{ctx}: pos_inf_count");
        assert_eq!(p.neg_inf_count, Some(t.neg_inf), "{ctx}: neg_inf_count");
    }
    if p.zeros.is_some() || p.negatives.is_some() {
        assert_eq!(p.zeros, Some(t.zeros), "{ctx}: zeros");
        assert_eq!(p.negatives, Some(t.negatives), "{ctx}: negatives");
    }
    assert_eq!(p.min, t.min(), "{ctx}: min");
    assert_eq!(p.max, t.max(), "{ctx}: max");
    check_quantiles(ctx, p, t);
}

/// Distinct counts and top values: exact when the profile says so, else
/// within the HLL bound (5% ≈ 3 standard errors at lg k = 12).
fn check_frequency_truth(ctx: &str, p: &ColumnProfile, distinct: usize, top: &[(String, u64)]) {
    let exact = p
        .distinct_exact
        .unwrap_or_else(|| panic!("{ctx}: no distinct_exact"));
    let got = p.distinct.unwrap_or_else(|| panic!("{ctx}: no distinct"));
    assert_eq!(
        exact,
        distinct <= EXACT_DISTINCT_LIMIT,
        "{ctx}: distinct_exact"
    );
    if exact {
        assert_eq!(got, distinct as f64, "{ctx}: distinct");
        assert_eq!(p.top_exact, Some(true), "{ctx}: top_exact");
        let got_top: Vec<(String, u64)> = p
            .top
            .iter()
            .flatten()
            .map(|v| (v.value.clone(), v.count))
            .collect();
        assert_eq!(got_top, top, "{ctx}: top");
    } else {
        let rel = (got - distinct as f64).abs() / distinct as f64;
        assert!(rel <= 0.05, "{ctx}: HLL distinct {got} vs {distinct}");
    }
}

fn check_string_truth(ctx: &str, p: &ColumnProfile, t: &StringTruth) {
    assert_eq!(p.count, t.count, "{ctx}: count");
    assert_eq!(p.null_count, t.nulls, "{ctx}: null_count");
    assert_eq!(p.empty_count, Some(t.empty), "{ctx}: empty_count");
    assert_eq!(
        p.length.as_ref().map(|l| l.min),
        t.min_len,
        "{ctx}: length.min"
    );
    assert_eq!(
        p.length.as_ref().map(|l| l.max),
        t.max_len,
        "{ctx}: length.max"
    );
    check_frequency_truth(ctx, p, t.distinct, &t.top);
}

fn column<'a>(p: &'a [ColumnProfile], name: &str) -> &'a ColumnProfile {
    p.iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// Checks the columns of one profile against the truth.
fn check_columns_truth(ctx: &str, columns: &[ColumnProfile], truth: &Truth) {
    check_numeric_truth(&format!("{ctx} f"), column(columns, "f"), &truth.f, true);
    let i = column(columns, "i");
    check_numeric_truth(&format!("{ctx} i"), i, &truth.i, false);
    check_frequency_truth(&format!("{ctx} i"), i, truth.i_top.0, &truth.i_top.1);
    check_string_truth(&format!("{ctx} s"), column(columns, "s"), &truth.s);
    check_string_truth(&format!("{ctx} u"), column(columns, "u"), &truth.u);
    let b = column(columns, "b");
    assert_eq!(b.true_count, Some(truth.b.0), "{ctx} b: true_count");
    assert_eq!(b.false_count, Some(truth.b.1), "{ctx} b: false_count");
    assert_eq!(b.null_count, truth.b.2, "{ctx} b: null_count");
    assert_eq!(b.count, truth.b.0 + truth.b.1, "{ctx} b: count");
    check_numeric_truth(&format!("{ctx} t"), column(columns, "t"), &truth.t, false);
}

/// Two profiles of the same data (e.g. whole vs merged halves) agree:
/// exactly on counts and exact statistics, within tolerance on moments,
/// and both within the sketch bounds of the truth on sketched statistics.
fn check_same_columns(ctx: &str, a: &[ColumnProfile], b: &[ColumnProfile], truth: &Truth) {
    assert_eq!(a.len(), b.len(), "{ctx}: number of columns");
    for (x, y) in a.iter().zip(b) {
        let c = format!("{ctx} column {}", x.name);
        assert_eq!(x.name, y.name, "{c}: name");
        assert_eq!(x.logical_type, y.logical_type, "{c}: type");
        assert_eq!(x.arrow_type, y.arrow_type, "{c}: arrow_type");
        assert_eq!(x.role, y.role, "{c}: role");
        assert_eq!(x.count, y.count, "{c}: count");
        assert_eq!(x.null_count, y.null_count, "{c}: null_count");
        assert_eq!(x.nan_count, y.nan_count, "{c}: nan_count");
        assert_eq!(x.pos_inf_count, y.pos_inf_count, "{c}: pos_inf_count");
        assert_eq!(x.neg_inf_count, y.neg_inf_count, "{c}: neg_inf_count");
        assert_eq!(x.zeros, y.zeros, "{c}: zeros");
        assert_eq!(x.negatives, y.negatives, "{c}: negatives");
        assert_eq!(x.min, y.min, "{c}: min");
        assert_eq!(x.max, y.max, "{c}: max");
        assert_eq!(x.min_text, y.min_text, "{c}: min_text");
        assert_eq!(x.max_text, y.max_text, "{c}: max_text");
        assert_eq!(x.true_count, y.true_count, "{c}: true_count");
        assert_eq!(x.false_count, y.false_count, "{c}: false_count");
        assert_eq!(x.empty_count, y.empty_count, "{c}: empty_count");
        assert_eq!(x.length, y.length, "{c}: length");
        assert_eq!(x.distinct_exact, y.distinct_exact, "{c}: distinct_exact");
        assert_eq!(x.top_exact, y.top_exact, "{c}: top_exact");
        if x.distinct_exact == Some(true) {
            assert_eq!(x.distinct, y.distinct, "{c}: distinct");
            assert_eq!(x.top, y.top, "{c}: top");
        }
        let scale = match x.name.as_str() {
            "f" => truth.f.scale,
            "i" => truth.i.scale,
            "t" => truth.t.scale,
            _ => 0.0,
        };
        close(&c, "sum", x.sum, y.sum, scale);
        close(&c, "mean", x.mean, y.mean, scale);
        close(&c, "stddev", x.stddev, y.stddev, scale);
        close(&c, "variance", x.variance, y.variance, scale * scale);
        assert_eq!(
            x.quantiles
                .as_ref()
                .map(|q| q.keys().cloned().collect::<Vec<_>>()),
            y.quantiles
                .as_ref()
                .map(|q| q.keys().cloned().collect::<Vec<_>>()),
            "{c}: quantile keys"
        );
        assert_eq!(
            x.quantile_rank_error, y.quantile_rank_error,
            "{c}: quantile_rank_error"
        );
    }
    // Sketched statistics are compared through the truth, each side within
    // its own bounds.
    check_columns_truth(&format!("{ctx} (first)"), a, truth);
    check_columns_truth(&format!("{ctx} (second)"), b, truth);
}

fn check_same(ctx: &str, a: &Profile, b: &Profile, truth: &Truth) {
    assert_eq!(a.rows, b.rows, "{ctx}: rows");
    assert_eq!(a.format, b.format, "{ctx}: format");
    check_same_columns(ctx, &a.columns, &b.columns, truth);
}

/// The profile JSON without what the randomized KLL compaction decides
/// (sketch images, quantiles, histograms): what remains must be identical.
fn deterministic_part(profile: &Profile) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("kll");
                map.remove("quantiles");
                map.remove("histogram");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(&to_json(profile)).expect("profile JSON");
    strip(&mut v);
    v
}

fn config() -> Config {
    Config {
        cases: 48,
        // Keep the checkout clean: no regression files next to the test.
        failure_persistence: None,
        ..Config::default()
    }
}

fn slice_options() -> ProfileOptions {
    ProfileOptions {
        slices: vec![
            vec!["s".to_string()],
            vec!["s".to_string(), "b".to_string()],
        ],
        ..ProfileOptions::default()
    }
}

/// Slice name → the rows in it, computed from the rows (a null value is
/// written `null`, booleans as `true`/`false`).
fn slice_rows(rows: &[Row]) -> BTreeMap<String, Vec<Row>> {
    let mut out: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for r in rows {
        let s = r.s.as_deref().unwrap_or("null");
        let b = r.b.map_or("null".to_string(), |b| b.to_string());
        out.entry(format!("s={s}")).or_default().push(r.clone());
        out.entry(format!("s={s},b={b}"))
            .or_default()
            .push(r.clone());
    }
    out
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config())]

    /// (a) Profiling the whole equals profiling two halves and merging.
    #[test]
    fn whole_equals_merged_halves(data in rows(300), cut in 0.0..=1.0f64) {
        let batch = to_batch(&data);
        let n = batch.num_rows();
        let k = ((n as f64) * cut).round() as usize;
        let options = ProfileOptions::default();
        let whole = accumulate(std::slice::from_ref(&batch), &options);
        let left = accumulate(&[batch.slice(0, k)], &options);
        let right = accumulate(&[batch.slice(k, n - k)], &options);
        let truth = Truth::new(data.iter());
        let whole_p = whole.finish();
        check_columns_truth("whole", &whole_p.columns, &truth);
        check_same("whole vs left+right", &whole_p, &merged(&left, &right).finish(), &truth);
        // Feeding the halves as two batches of one accumulator is the same law.
        let two_batches = accumulate(&[batch.slice(0, k), batch.slice(k, n - k)], &options);
        check_same("whole vs two updates", &whole_p, &two_batches.finish(), &truth);
        // An empty accumulator is the identity of merge.
        let empty = accumulate(&[], &options);
        check_same("empty+whole", &whole_p, &merged(&empty, &whole).finish(), &truth);
        check_same("whole+empty", &whole_p, &merged(&whole, &empty).finish(), &truth);
    }

    /// (b) Merge is commutative and associative.
    #[test]
    fn merge_is_commutative_and_associative(
        a in rows(200),
        b in rows(200),
        c in rows(200),
    ) {
        let options = ProfileOptions::default();
        let (pa, pb, pc) = (
            accumulate(&[to_batch(&a)], &options),
            accumulate(&[to_batch(&b)], &options),
            accumulate(&[to_batch(&c)], &options),
        );
        let truth_ab = Truth::new(a.iter().chain(&b));
        check_same("a+b vs b+a", &merged(&pa, &pb).finish(), &merged(&pb, &pa).finish(), &truth_ab);
        let truth_abc = Truth::new(a.iter().chain(&b).chain(&c));
        let left = merged(&merged(&pa, &pb), &pc).finish();
        let right = merged(&pa, &merged(&pb, &pc)).finish();
        check_same("(a+b)+c vs a+(b+c)", &left, &right, &truth_abc);
        let swapped = merged(&merged(&pc, &pa), &pb).finish();
        check_same("(a+b)+c vs (c+a)+b", &left, &swapped, &truth_abc);
    }

    /// (c) Saving and loading keeps a profile, and loaded profiles merge
    /// like in-memory accumulators.
    #[test]
    fn saved_profiles_round_trip_and_merge(data in rows(300), cut in 0.0..=1.0f64) {
        let batch = to_batch(&data);
        let n = batch.num_rows();
        let k = ((n as f64) * cut).round() as usize;
        // Sliced (coarsely, to keep the JSON small) so slices round-trip too.
        let options = ProfileOptions {
            slices: vec![vec!["b".to_string()]],
            ..ProfileOptions::default()
        };
        let left = accumulate(&[batch.slice(0, k)], &options);
        let right = accumulate(&[batch.slice(k, n - k)], &options);
        let (pl, pr) = (left.finish(), right.finish());

        let json = to_json(&pl);
        let loaded = parse(&json, "left.profile.json").expect("parse a saved profile");
        let original: Value = serde_json::from_str(&json).expect("JSON");
        let reloaded: Value = serde_json::from_str(&to_json(&loaded)).expect("JSON");
        prop_assert_eq!(&original, &reloaded);
        prop_assert_eq!(&loaded, &pl);

        let loaded_right = parse(&to_json(&pr), "right.profile.json").expect("parse");
        let mut from_files = TableAccumulator::from_profile(&loaded, 1000).expect("from_profile");
        let other = TableAccumulator::from_profile(&loaded_right, 1000).expect("from_profile");
        from_files.check_compatible(&other).expect("compatible");
        from_files.merge(&other).expect("merge loaded profiles");
        let from_files = from_files.finish();
        let in_memory = merged(&left, &right).finish();
        let truth = Truth::new(data.iter());
        check_same("loaded merge vs in-memory merge", &from_files, &in_memory, &truth);
        prop_assert_eq!(deterministic_part(&from_files), deterministic_part(&in_memory));
        // A loaded accumulator finishes into the profile it was loaded from.
        let refinished = TableAccumulator::from_profile(&loaded, 1000).expect("from_profile").finish();
        prop_assert_eq!(
            serde_json::from_str::<Value>(&to_json(&refinished)).expect("JSON"),
            original
        );
    }

    /// (d) Slices of merged halves are the slices of the whole.
    #[test]
    fn slices_of_merged_halves(data in rows(300), cut in 0.0..=1.0f64) {
        let batch = to_batch(&data);
        let n = batch.num_rows();
        let k = ((n as f64) * cut).round() as usize;
        let options = slice_options();
        let whole = accumulate(std::slice::from_ref(&batch), &options).finish();
        let halves = merged(
            &accumulate(&[batch.slice(0, k)], &options),
            &accumulate(&[batch.slice(k, n - k)], &options),
        )
        .finish();
        let expected = slice_rows(&data);
        let names = |p: &Profile| p.slices.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let mut want: Vec<String> = expected.keys().cloned().collect();
        want.sort();
        let mut got_whole = names(&whole);
        got_whole.sort();
        prop_assert_eq!(&got_whole, &want);
        prop_assert_eq!(names(&whole), names(&halves), "slice order");
        prop_assert_eq!(&whole.slice_specs, &halves.slice_specs);
        for (w, h) in whole.slices.iter().zip(&halves.slices) {
            let rows = &expected[&w.name];
            prop_assert_eq!(w.rows, rows.len() as u64, "rows of slice {}", &w.name);
            prop_assert_eq!(h.rows, w.rows, "rows of slice {}", &w.name);
            prop_assert_eq!(&w.key, &h.key);
            check_same_columns(
                &format!("slice {}", w.name),
                &w.columns,
                &h.columns,
                &Truth::new(rows.iter()),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Past the exact-distinct bound: sketches

/// A string column with many more distinct values than the exact bound,
/// plus one heavy hitter, split so that the halves are exact+exact,
/// exact+sketched and sketched+sketched.
#[test]
fn sketched_frequencies_merge_within_bounds() {
    let n = 12_000usize;
    let data: Vec<Row> = (0..n)
        .map(|r| Row {
            f: Some(r as f64 * 0.5),
            // 9,000 distinct ints, every third row the same one.
            i: Some(if r % 3 == 0 {
                -7
            } else {
                (r as i64) * 1_000_003
            }),
            s: Some(if r % 5 == 0 {
                "hot".to_string()
            } else {
                format!("v{r}·ü")
            }),
            u: (r % 11 != 0).then(|| format!("{}", r % 5000)),
            b: Some(r % 2 == 0),
            t: Some(r as i64 * 1_000_000),
        })
        .collect();
    let batch = to_batch(&data);
    let options = ProfileOptions::default();
    let whole = accumulate(std::slice::from_ref(&batch), &options).finish();
    let truth = Truth::new(data.iter());
    assert!(truth.s.distinct > 2 * EXACT_DISTINCT_LIMIT);
    assert_eq!(column(&whole.columns, "s").distinct_exact, Some(false));
    assert_eq!(column(&whole.columns, "u").distinct_exact, Some(false));
    check_columns_truth("whole", &whole.columns, &truth);

    for k in [3_000, 6_000, 9_000, 11_990] {
        let left = accumulate(&[batch.slice(0, k)], &options);
        let right = accumulate(&[batch.slice(k, n - k)], &options);
        let ctx = format!("split at {k}");
        check_same(&ctx, &whole, &merged(&left, &right).finish(), &truth);
        check_same(&ctx, &whole, &merged(&right, &left).finish(), &truth);
        // Through saved files, too.
        let reload = |acc: &TableAccumulator| {
            let p = parse(&to_json(&acc.finish()), "mem").expect("parse");
            TableAccumulator::from_profile(&p, 1000).expect("from_profile")
        };
        check_same(
            &format!("{ctx} (saved)"),
            &whole,
            &merged(&reload(&left), &reload(&right)).finish(),
            &truth,
        );
    }

    // The heavy hitters are listed, with counts within the frequent-items
    // a-priori bound (3.5 / 1024 of the column's count).
    for (name, value, want) in [("s", "hot", n / 5), ("i", "-7", n / 3)] {
        let c = column(&whole.columns, name);
        assert_eq!(c.top_exact, Some(false), "{name}: top_exact");
        let top = c.top.as_ref().expect("top");
        let hit = top
            .iter()
            .find(|v| v.value == value)
            .unwrap_or_else(|| panic!("{name}: {value} missing from top {top:?}"));
        let bound = 3.5 / 1024.0 * c.count as f64;
        assert!(
            (hit.count as f64 - want as f64).abs() <= bound,
            "{name}: count of {value} {} vs {want} (bound {bound})",
            hit.count
        );
    }
}

/// Finite values too large to add up: the profile must still be saved and
/// loaded (the sum overflows to infinity; JSON has no infinity).
#[test]
fn huge_finite_values_survive_a_save_and_load() {
    let data: Vec<Row> = [f64::MAX, f64::MAX, -f64::MAX, 1.0]
        .iter()
        .map(|&v| Row {
            f: Some(v),
            i: None,
            s: None,
            u: None,
            b: None,
            t: None,
        })
        .collect();
    let profile = accumulate(&[to_batch(&data)], &ProfileOptions::default()).finish();
    let f = column(&profile.columns, "f");
    assert_eq!(f.min, Some(-f64::MAX));
    assert_eq!(f.max, Some(f64::MAX));
    let loaded = parse(&to_json(&profile), "huge.profile.json");
    assert!(
        loaded.is_ok(),
        "a profile of finite values cannot be loaded back: {}",
        loaded.err().map(|e| e.to_string()).unwrap_or_default()
    );
}

/// The checks above can fail: a merge that lost a batch, or profiles of
/// different data, are caught.
#[test]
fn checks_detect_wrong_merges() {
    let data: Vec<Row> = (0..250)
        .map(|r| Row {
            f: Some(r as f64 - 100.5),
            i: Some(r % 7),
            s: Some(["a", "b", ""][r as usize % 3].to_string()),
            u: Some(format!("u{r}")),
            b: Some(r % 3 == 0),
            t: Some(r * 1_000),
        })
        .collect();
    let batch = to_batch(&data);
    let options = ProfileOptions::default();
    let whole = accumulate(std::slice::from_ref(&batch), &options).finish();
    let truth = Truth::new(data.iter());
    check_same("whole vs whole", &whole, &whole, &truth);
    let left = accumulate(&[batch.slice(0, 100)], &options);
    let right = accumulate(&[batch.slice(100, 150)], &options);
    // Merged with itself instead of with the other half.
    let wrong = merged(&left, &left).finish();
    let caught = std::panic::catch_unwind(|| check_same("wrong", &whole, &wrong, &truth));
    assert!(caught.is_err(), "a merge of the wrong halves passed");
    // Moments off by one value shifted by 1e-3 (a relative change of the
    // mean of about 1.6e-7) are outside the tolerance.
    let mut shifted = data.clone();
    shifted[7].f = shifted[7].f.map(|v| v + 1e-3);
    let other = accumulate(&[to_batch(&shifted)], &options).finish();
    let (a, b) = (column(&whole.columns, "f"), column(&other.columns, "f"));
    for (field, x, y) in [("sum", a.sum, b.sum), ("mean", a.mean, b.mean)] {
        let caught = std::panic::catch_unwind(|| close("shifted", field, x, y, truth.f.scale));
        assert!(caught.is_err(), "{field} {x:?} vs {y:?} passed");
    }
    // And the right merge passes.
    check_same("right", &whole, &merged(&left, &right).finish(), &truth);
}
