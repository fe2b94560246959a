//! Merge laws of the quality and fairness accumulators, checked with
//! property tests over random labelled predictions:
//! - merging is associative and commutative, and equal to one accumulator
//!   fed all the rows, including across the switch of score histograms from
//!   exact to binned (parts of 3,000 to 4,000 rows with continuous scores
//!   stay exact; in their union both label classes pass the 4,096 distinct
//!   scores of the exact histogram);
//! - a state saved with serde and restored finishes and merges as the
//!   original;
//! - and against truth computed here naively from the rows: counts,
//!   accuracy and the base rate exactly, ROC AUC by brute force over all
//!   pairs (exact while exact, else within the reported bound).
//!
//! Finished reports are compared field by field: integers and strings
//! exactly, floats to 1e-9 relative (compensated sums merged in another
//! order differ in their last bits).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use assay::quality::{FairnessAccumulator, QualityAccumulator, QualitySpec, ScoreColumns, Task};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

#[derive(Debug, Clone)]
struct Row {
    label: i64,
    score: f64,
    group: &'static str,
    target: f64,
    estimate: f64,
}

fn row(continuous: bool) -> impl Strategy<Value = Row> {
    (
        0.0f64..1.0,
        0.0f64..1.0,
        prop::sample::select(vec!["a", "b", "c"]),
        -50.0f64..50.0,
        -5.0f64..5.0,
    )
        .prop_map(move |(u, v, group, target, noise)| {
            let label = i64::from(u < 0.3 + 0.4 * v);
            let score = if continuous {
                v
            } else {
                (v * 20.0).round() / 20.0
            };
            Row {
                label,
                score,
                group,
                target,
                estimate: target + noise,
            }
        })
}

fn batch(rows: &[Row]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
        Field::new("group", DataType::Utf8, false),
        Field::new("target", DataType::Float64, false),
        Field::new("estimate", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.label))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.score))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.group))),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.target),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.estimate),
        )),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn binary_spec() -> QualitySpec {
    QualitySpec {
        scores: ScoreColumns::Single("score".into()),
        slices: vec![vec!["group".into()]],
        sensitive: vec!["group".into()],
        min_group_size: 1,
        ..QualitySpec::new("label")
    }
}

fn regression_spec() -> QualitySpec {
    QualitySpec {
        prediction: Some("estimate".into()),
        slices: vec![vec!["group".into()]],
        sensitive: vec!["group".into()],
        min_group_size: 1,
        ..QualitySpec::new("target")
    }
}

/// Floats to 1e-9 relative, everything else exactly.
fn same(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-3) {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{path}: {} vs {} items", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (x, y))| same(x, y, &format!("{path}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) => {
            // KLL merges are not exactly associative once the sketch
            // compacts: quantiles are checked against the truth instead.
            let x: serde_json::Map<String, Value> = x
                .iter()
                .filter(|(k, _)| *k != "residual_quantiles")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let y: serde_json::Map<String, Value> = y
                .iter()
                .filter(|(k, _)| *k != "residual_quantiles")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if x.len() != y.len() {
                return Err(format!("{path}: keys {:?} vs {:?}", x.keys(), y.keys()));
            }
            x.iter().try_for_each(|(k, v)| match y.get(k) {
                Some(w) => same(v, w, &format!("{path}.{k}")),
                None => Err(format!("{path}.{k} missing")),
            })
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

trait Acc: Clone + serde::Serialize + serde::de::DeserializeOwned {
    fn fresh(spec: &QualitySpec, task: Task) -> Self;
    fn feed(&mut self, batch: &RecordBatch);
    fn join(&mut self, other: &Self);
    fn report(&self) -> Value;
}

impl Acc for QualityAccumulator {
    fn fresh(spec: &QualitySpec, task: Task) -> Self {
        QualityAccumulator::new(spec, task).unwrap()
    }
    fn feed(&mut self, batch: &RecordBatch) {
        self.update(batch).unwrap();
    }
    fn join(&mut self, other: &Self) {
        self.merge(other).unwrap();
    }
    fn report(&self) -> Value {
        serde_json::to_value(self.finish()).unwrap()
    }
}

impl Acc for FairnessAccumulator {
    fn fresh(spec: &QualitySpec, task: Task) -> Self {
        FairnessAccumulator::new(spec, task).unwrap()
    }
    fn feed(&mut self, batch: &RecordBatch) {
        self.update(batch).unwrap();
    }
    fn join(&mut self, other: &Self) {
        self.merge(other).unwrap();
    }
    fn report(&self) -> Value {
        serde_json::to_value(self.finish()).unwrap()
    }
}

/// The laws for one kind of accumulator over three parts.
fn laws<A: Acc>(spec: &QualitySpec, task: Task, parts: [&[Row]; 3]) -> Result<A, TestCaseError> {
    let fed = |rows: &[Row]| {
        let mut acc = A::fresh(spec, task);
        if !rows.is_empty() {
            acc.feed(&batch(rows));
        }
        acc
    };
    let [a, b, c] = parts.map(fed);
    let mut left = a.clone();
    left.join(&b);
    left.join(&c);
    let mut bc = b.clone();
    bc.join(&c);
    let mut right = a.clone();
    right.join(&bc);
    let mut swapped = b.clone();
    swapped.join(&a);
    let mut ab = a.clone();
    ab.join(&b);
    let all: Vec<Row> = parts.concat();
    let whole = fed(&all);
    let report = left.report();
    same(&report, &right.report(), "associativity").map_err(TestCaseError::fail)?;
    same(&ab.report(), &swapped.report(), "commutativity").map_err(TestCaseError::fail)?;
    same(&report, &whole.report(), "merged vs one accumulator").map_err(TestCaseError::fail)?;
    // Saved and restored state: finishes and merges the same.
    let restored: A = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    same(&restored.report(), &a.report(), "restored").map_err(TestCaseError::fail)?;
    let mut restored_left = restored;
    restored_left.join(&bc);
    same(&restored_left.report(), &report, "restored then merged").map_err(TestCaseError::fail)?;
    Ok(left)
}

/// ROC AUC over all pairs.
fn brute_auc(rows: &[Row]) -> Option<f64> {
    let pos: Vec<f64> = rows
        .iter()
        .filter(|r| r.label == 1)
        .map(|r| r.score)
        .collect();
    let neg: Vec<f64> = rows
        .iter()
        .filter(|r| r.label == 0)
        .map(|r| r.score)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut u = 0.0;
    for p in &pos {
        for n in &neg {
            u += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(u / (pos.len() * neg.len()) as f64)
}

fn parts(continuous: bool, sizes: std::ops::Range<usize>) -> impl Strategy<Value = [Vec<Row>; 3]> {
    let part = move || prop::collection::vec(row(continuous), sizes.clone());
    (part(), part(), part()).prop_map(|(a, b, c)| [a, b, c])
}

proptest! {
    #![proptest_config(Config { cases: 24, ..Config::default() })]

    #[test]
    fn binary_quality_merges_lawfully(parts in parts(false, 0..300)) {
        let spec = binary_spec();
        let acc: QualityAccumulator =
            laws(&spec, Task::Binary, [&parts[0], &parts[1], &parts[2]])?;
        let all: Vec<Row> = parts.concat();
        let report = acc.finish();
        prop_assert_eq!(report.summary.labelled, all.len() as u64);
        if !all.is_empty() {
            let correct = all.iter().filter(|r| i64::from(r.score >= 0.5) == r.label).count();
            prop_assert_eq!(report.summary.metrics.get("accuracy"), Some(correct as f64 / all.len() as f64));
            let positives = all.iter().filter(|r| r.label == 1).count();
            prop_assert_eq!(report.summary.metrics.get("base_rate"), Some(positives as f64 / all.len() as f64));
        }
        let auc = report.summary.metrics.get("roc_auc");
        match brute_auc(&all) {
            Some(truth) => prop_assert!((auc.unwrap() - truth).abs() < 1e-12, "{:?} vs {}", auc, truth),
            None => prop_assert_eq!(auc, None),
        }
    }

    #[test]
    fn fairness_merges_lawfully(parts in parts(false, 0..300)) {
        let _: FairnessAccumulator =
            laws(&binary_spec(), Task::Binary, [&parts[0], &parts[1], &parts[2]])?;
        let _: FairnessAccumulator =
            laws(&regression_spec(), Task::Regression, [&parts[0], &parts[1], &parts[2]])?;
    }

    #[test]
    fn regression_quality_merges_lawfully(parts in parts(true, 0..300)) {
        let acc: QualityAccumulator =
            laws(&regression_spec(), Task::Regression, [&parts[0], &parts[1], &parts[2]])?;
        let all: Vec<Row> = parts.concat();
        if !all.is_empty() {
            let report = acc.finish();
            let mae = all.iter().map(|r| (r.estimate - r.target).abs()).sum::<f64>() / all.len() as f64;
            let got = report.summary.metrics.get("mae").unwrap();
            prop_assert!((got - mae).abs() <= 1e-9 * mae.max(1.0));
            // Residual quantiles within the sketch's rank error of the truth.
            let mut residuals: Vec<f64> = all.iter().map(|r| r.estimate - r.target).collect();
            residuals.sort_by(f64::total_cmp);
            for q in &report.summary.residual_quantiles {
                let below = residuals.partition_point(|v| *v < q.value) as f64;
                let at_most = residuals.partition_point(|v| *v <= q.value) as f64;
                let n = residuals.len() as f64;
                let slack = 0.0165 + 1.0 / n;
                prop_assert!(below / n <= q.quantile + slack && at_most / n >= q.quantile - slack,
                    "quantile {} = {} has ranks {}..{}", q.quantile, q.value, below / n, at_most / n);
            }
        }
    }
}

proptest! {
    // Big parts: each label class's histogram stays exact in a part (3,000
    // to 4,000 rows), and bins in their union of 9,000 to 12,000 rows, where
    // both classes pass 4,096 distinct scores. Fewer cases: each is
    // thousands of rows.
    #![proptest_config(Config { cases: 6, ..Config::default() })]

    #[test]
    fn merges_stay_lawful_across_the_switch_to_bins(parts in parts(true, 3000..4000)) {
        let spec = QualitySpec { slices: Vec::new(), ..binary_spec() };
        let acc: QualityAccumulator =
            laws(&spec, Task::Binary, [&parts[0], &parts[1], &parts[2]])?;
        let all: Vec<Row> = parts.concat();
        let report = acc.finish();
        let ranking = report.summary.ranking.unwrap();
        let positives = all.iter().filter(|r| r.label == 1).count();
        prop_assert_eq!(ranking.exact, positives <= 4096 && all.len() - positives <= 4096);
        // 9,000 rows and more: the switch happened (each part was exact).
        prop_assert!(!ranking.exact);
        if let (Some(truth), Some(auc)) = (brute_auc(&all), report.summary.metrics.get("roc_auc")) {
            prop_assert!((auc - truth).abs() <= ranking.roc_auc_error_bound + 1e-12,
                "{} vs {} (bound {})", auc, truth, ranking.roc_auc_error_bound);
            prop_assert!(ranking.roc_auc_error_bound <= 0.002);
        }
    }
}
