//! Medians and quantiles of expectations are exact, as GE computes them:
//! numpy's values for every interpolation method (GE's pandas
//! `allow_relative_error`), on columns of 1 to 1,000,000 values read in
//! batches, in memory and from several Parquet files (partitions merged).
//! The reference values come from scripts/make_quantile_fixtures.py
//! (tests/fixtures/quantiles/numpy.json).

use std::fs::File;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use assay::expectations::{
    SuiteResult, evaluate_batches, evaluate_profile, parse_json, validate_suite,
};
use assay::profile::{ProfileOptions, TableAccumulator};
use assay::sources::ReadOptions;
use parquet::arrow::ArrowWriter;
use serde::Deserialize;
use serde_json::{Value, json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/quantiles/numpy.json"
);
const METHODS: [&str; 5] = ["linear", "lower", "higher", "midpoint", "nearest"];

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    kind: String,
    n: usize,
    median: f64,
    quantiles: Vec<f64>,
    values: std::collections::BTreeMap<String, Vec<f64>>,
}

/// The fixture's columns, made exactly as the script makes them.
fn column(kind: &str, n: usize) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let u = ((i.wrapping_mul(2_654_435_761) % (1 << 32)) as f64 + 0.5) / 2f64.powi(32);
            match kind {
                "uniform" => u,
                "skewed" => -u.ln(),
                "ties" => (u * 50.0).floor(),
                other => panic!("unknown column kind {other}"),
            }
        })
        .collect()
}

fn batches(values: &[f64], rows_per_batch: usize) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    values
        .chunks(rows_per_batch)
        .map(|chunk| {
            let array: ArrayRef = Arc::new(Float64Array::from(chunk.to_vec()));
            RecordBatch::try_new(schema.clone(), vec![array]).unwrap()
        })
        .collect()
}

/// A median expectation and one quantile expectation per method.
fn suite(quantiles: &[f64]) -> assay::expectations::Suite {
    let open: Vec<Value> = quantiles.iter().map(|_| json!([null, null])).collect();
    let mut expectations = vec![json!({
        "type": "expect_column_median_to_be_between",
        "kwargs": {"column": "x"},
    })];
    for method in METHODS {
        expectations.push(json!({
            "type": "expect_column_quantile_values_to_be_between",
            "kwargs": {
                "column": "x",
                "allow_relative_error": method,
                "quantile_ranges": {"quantiles": quantiles, "value_ranges": open},
            },
        }));
    }
    let text = json!({"name": "exact", "expectations": expectations}).to_string();
    parse_json(&text, "exact.json").unwrap()
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-12 * expected.abs().max(1e-300)
}

fn check(case: &Case, result: &SuiteResult, path: &str) {
    let what = format!("{} n={} ({path})", case.kind, case.n);
    let median = result.results[0].result["observed_value"].as_f64().unwrap();
    assert!(
        close(median, case.median),
        "{what}: median {median} != {}",
        case.median
    );
    for (i, method) in METHODS.iter().enumerate() {
        let observed = &result.results[i + 1].result["observed_value"]["values"];
        let expected = &case.values[*method];
        for (j, (a, e)) in observed
            .as_array()
            .unwrap()
            .iter()
            .zip(expected)
            .enumerate()
        {
            let a = a.as_f64().unwrap();
            assert!(
                close(a, *e),
                "{what}: {method} quantile {}: {a} != {e}",
                case.quantiles[j]
            );
        }
    }
}

#[test]
fn medians_and_quantiles_match_numpy_in_memory() {
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    for case in &fixture.cases {
        let values = column(&case.kind, case.n);
        let data = batches(&values, 8192);
        let result = evaluate_batches(&suite(&case.quantiles), &data).unwrap();
        check(case, &result, "in memory");
        // A column whose only exact statistic is its median keeps just its
        // middle values.
        let text = json!({"name": "m", "expectations": [{
            "type": "expect_column_median_to_be_between", "kwargs": {"column": "x"}}]});
        let median_only = parse_json(&text.to_string(), "m.json").unwrap();
        let result = evaluate_batches(&median_only, &data).unwrap();
        let median = result.results[0].result["observed_value"].as_f64().unwrap();
        assert!(
            close(median, case.median),
            "{} n={}: median alone {median}",
            case.kind,
            case.n
        );
    }
}

#[test]
fn medians_and_quantiles_match_numpy_across_parquet_partitions() {
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for case in fixture.cases.iter().filter(|c| c.n >= 1001) {
        let values = column(&case.kind, case.n);
        // Three files of unequal sizes, each of several row groups.
        let cuts = [0, case.n / 5, case.n / 2, case.n];
        let mut inputs = Vec::new();
        for (f, w) in cuts.windows(2).enumerate() {
            let path = dir
                .path()
                .join(format!("{}_{}_{f}.parquet", case.kind, case.n));
            let parts = batches(&values[w[0]..w[1]], 10_000);
            let mut writer =
                ArrowWriter::try_new(File::create(&path).unwrap(), parts[0].schema(), None)
                    .unwrap();
            for batch in &parts {
                writer.write(batch).unwrap();
            }
            writer.close().unwrap();
            inputs.push(path.display().to_string());
        }
        let result =
            validate_suite(&inputs, &ReadOptions::default(), &suite(&case.quantiles)).unwrap();
        check(case, &result, "3 Parquet files");
    }
}

/// A saved profile has no values: medians, quantiles and binned KL
/// divergences come from its sketch, close to the exact answer.
#[test]
fn a_profile_answers_from_its_sketch_near_the_exact_values() {
    let values = column("skewed", 100_000);
    let data = batches(&values, 8192);
    let text = json!({"name": "kl", "expectations": [
        {"type": "expect_column_median_to_be_between", "kwargs": {"column": "x"}},
        {"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {
            "column": "x", "threshold": 0.1,
            "partition_object": {"bins": [0, 0.5, 1, 2, 4], "weights": [0.4, 0.2, 0.25, 0.15]},
            "tail_weight_holdout": 0.01}},
    ]})
    .to_string();
    let suite = parse_json(&text, "kl.json").unwrap();
    let exact = evaluate_batches(&suite, &data).unwrap();
    let mut acc = TableAccumulator::new(&data[0].schema(), &ProfileOptions::default()).unwrap();
    for batch in &data {
        acc.update(batch).unwrap();
    }
    let sketched = evaluate_profile(&suite, &acc.finish());
    let observed = |r: &SuiteResult, i: usize| r.results[i].result["observed_value"].as_f64();
    let (m_exact, m_sketch) = (
        observed(&exact, 0).unwrap(),
        observed(&sketched, 0).unwrap(),
    );
    // The median of Exp(1) is ln 2; the sketch is within its rank error.
    assert!((m_exact - 2f64.ln()).abs() < 0.01, "{m_exact}");
    assert!((m_sketch - m_exact).abs() < 0.05, "{m_sketch} vs {m_exact}");
    let (kl_exact, kl_sketch) = (
        observed(&exact, 1).unwrap(),
        observed(&sketched, 1).unwrap(),
    );
    assert!(kl_exact > 0.0 && kl_exact.is_finite(), "{kl_exact}");
    assert!(
        (kl_sketch - kl_exact).abs() < 0.02,
        "KL from the sketch {kl_sketch}, exact {kl_exact}"
    );
}
