//! Model quality and fairness metrics against scikit-learn, Fairlearn and
//! statsmodels: the values in tests/fixtures/quality/expected.json, written
//! by scripts/make_quality_fixtures.py from the CSV files beside it.
//!
//! Every accumulator is fed the data in chunks, in separate accumulators
//! merged in a tree, as windows and partitions are; then its finished
//! metrics must equal the reference values to 1e-9.

use std::collections::BTreeMap;

use arrow::array::{ArrayRef, Float64Array, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema};
use assay::quality::cbpe::Estimator;
use assay::quality::report::{Basis, QualityReport, Summary};
use assay::quality::{
    FairnessAccumulator, QualityAccumulator, QualitySpec, ScoreColumns, Task, TaskEvidence,
};
use assay::sources::{self, ReadOptions};
use serde_json::Value;
use std::sync::Arc;

const TOLERANCE: f64 = 1e-9;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/quality/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("json")
}

fn read_csv(name: &str) -> RecordBatch {
    let dataset =
        sources::open(&[fixture(name)], &ReadOptions::default()).expect("open the fixture");
    let mut batches = Vec::new();
    for partition in dataset.partitions {
        for batch in (partition.open)().expect("partition") {
            batches.push(batch.expect("batch"));
        }
    }
    concat_batches(&dataset.schema, &batches).expect("concat")
}

/// Feeds `batch` in chunks of `chunk` rows to separate accumulators and
/// merges them pairwise, as a tree.
fn quality(batch: &RecordBatch, spec: &QualitySpec, task: Task) -> QualityReport {
    let chunk = 701;
    let mut parts: Vec<QualityAccumulator> = (0..batch.num_rows())
        .step_by(chunk)
        .map(|start| {
            let mut acc = QualityAccumulator::new(spec, task).expect("spec");
            let len = chunk.min(batch.num_rows() - start);
            acc.update(&batch.slice(start, len)).expect("update");
            acc
        })
        .collect();
    while parts.len() > 1 {
        let mut next = Vec::new();
        for pair in parts.chunks(2) {
            let mut a = pair[0].clone();
            if let Some(b) = pair.get(1) {
                a.merge(b).expect("merge");
            }
            next.push(a);
        }
        parts = next;
    }
    parts.pop().expect("one").finish()
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= TOLERANCE * expected.abs().max(1.0),
        "{what}: assay {actual} vs reference {expected} (diff {:e})",
        (actual - expected).abs()
    );
}

fn metric(summary: &Summary, name: &str) -> f64 {
    summary
        .metrics
        .get(name)
        .unwrap_or_else(|| panic!("metric {name} missing or null: {:?}", summary.metrics))
}

fn check_metrics(summary: &Summary, expected: &Value, names: &[&str], case: &str) {
    for name in names {
        let want = expected[*name]
            .as_f64()
            .unwrap_or_else(|| panic!("{case}: no expected {name}"));
        close(metric(summary, name), want, &format!("{case}: {name}"));
    }
}

fn check_calibration(summary: &Summary, expected: &Value, case: &str) {
    let curve = summary.calibration.as_ref().expect("calibration");
    let floats = |k: &str| -> Vec<f64> {
        expected[k]
            .as_array()
            .expect(k)
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (pt, pp) = (
        floats("calibration_prob_true"),
        floats("calibration_prob_pred"),
    );
    let counts: Vec<u64> = expected["calibration_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(curve.bins.len(), pt.len(), "{case}: calibration bins");
    for (i, bin) in curve.bins.iter().enumerate() {
        assert_eq!(bin.count, counts[i], "{case}: bin {i} count");
        close(bin.prob_true, pt[i], &format!("{case}: bin {i} prob_true"));
        close(bin.prob_pred, pp[i], &format!("{case}: bin {i} prob_pred"));
    }
}

fn check_confusion(summary: &Summary, expected: &Value, case: &str) {
    let cm = summary.confusion_matrix.as_ref().expect("confusion matrix");
    let labels: Vec<String> = expected["confusion_matrix"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cm.labels, labels, "{case}: confusion labels");
    let matrix: Vec<Vec<u64>> =
        serde_json::from_value(expected["confusion_matrix"]["matrix"].clone()).unwrap();
    assert_eq!(cm.matrix, matrix, "{case}: confusion matrix");
}

const BINARY_CLASS: [&str; 6] = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "positive_prediction_rate",
];
const BINARY_SCORE: [&str; 6] = [
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
    "ece",
    "base_rate",
];

fn check_binary(report: &QualityReport, expected: &Value, case: &str) {
    check_metrics(&report.summary, expected, &BINARY_CLASS, case);
    check_metrics(&report.summary, expected, &BINARY_SCORE, case);
    check_calibration(&report.summary, expected, case);
    check_confusion(&report.summary, expected, case);
    // DeLong's variance against the midrank implementation.
    match report.summary.basis.get("roc_auc") {
        Some(Basis::Auc {
            value, variance, ..
        }) => {
            close(
                *value,
                expected["delong_auc"].as_f64().unwrap(),
                "delong auc",
            );
            close(
                *variance,
                expected["delong_variance"].as_f64().unwrap(),
                &format!("{case}: DeLong variance"),
            );
        }
        other => panic!("{case}: no AUC basis: {other:?}"),
    }
    let ranking = report.summary.ranking.expect("ranking");
    assert!(ranking.exact, "{case}: the fixture's scores are exact");
    assert_eq!(
        report.positive_class.as_deref(),
        expected["positive"].as_str()
    );
}

fn binary_spec(prediction: Option<&str>, threshold: f64) -> QualitySpec {
    QualitySpec {
        prediction: prediction.map(str::to_string),
        scores: ScoreColumns::Single("score".into()),
        threshold,
        ..QualitySpec::new("label")
    }
}

#[test]
fn binary_metrics_equal_scikit_learn() {
    let e = expected();
    let batch = read_csv("binary.csv");
    for (case, prediction, threshold) in [
        ("score_threshold_0.5", None, 0.5),
        ("score_threshold_0.3", None, 0.3),
        ("prediction_column", Some("prediction"), 0.5),
    ] {
        let report = quality(&batch, &binary_spec(prediction, threshold), Task::Binary);
        check_binary(&report, &e["binary"][case], case);
    }
}

#[test]
fn binary_metrics_with_the_other_positive_class() {
    let e = expected();
    let batch = read_csv("binary.csv");
    // The positive class 0's probability is 1 − score.
    let score = batch
        .column_by_name("score")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let flipped: Float64Array = score.iter().map(|s| s.map(|s| 1.0 - s)).collect();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("score_0", DataType::Float64, true));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(flipped));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let spec = QualitySpec {
        prediction: Some("prediction".into()),
        scores: ScoreColumns::Single("score_0".into()),
        positive: Some("0".into()),
        ..QualitySpec::new("label")
    };
    let report = quality(&batch, &spec, Task::Binary);
    check_binary(&report, &e["binary"]["positive_0"], "positive_0");
}

#[test]
fn string_labels_take_the_last_class_as_positive() {
    let e = expected();
    let batch = read_csv("binary_text.csv");
    let spec = QualitySpec {
        prediction: Some("predicted".into()),
        scores: ScoreColumns::Single("score".into()),
        ..QualitySpec::new("income")
    };
    let mut evidence = TaskEvidence::default();
    evidence.update(&batch, &spec).unwrap();
    assert_eq!(evidence.decide(&spec), Task::Binary);
    let report = quality(&batch, &spec, Task::Binary);
    check_binary(&report, &e["binary_text"], "binary_text");
    assert_eq!(report.positive_class.as_deref(), Some(">50K"));
}

#[test]
fn a_single_class_window_matches_zero_division_and_leaves_auc_undefined() {
    let e = &expected()["binary_one_class"];
    let batch = read_csv("binary_one_class.csv");
    let report = quality(&batch, &binary_spec(None, 0.5), Task::Binary);
    check_metrics(
        &report.summary,
        e,
        &["accuracy", "precision", "recall", "f1", "log_loss", "brier"],
        "one class",
    );
    // scikit-learn: ROC AUC NaN, AP 0.0 (with warnings); assay: null.
    assert_eq!(e["sklearn_roc_auc"].as_str(), Some("nan"));
    assert!(report.summary.metrics.contains("roc_auc"));
    assert_eq!(report.summary.metrics.get("roc_auc"), None);
    assert_eq!(report.summary.metrics.get("average_precision"), None);
    assert!(report.summary.notes.iter().any(|n| n.contains("roc_auc")));
}

#[test]
fn multiclass_metrics_equal_scikit_learn() {
    let e = expected();
    let batch = read_csv("multiclass.csv");
    let classes: Vec<String> = serde_json::from_value(e["multiclass"]["classes"].clone()).unwrap();
    let scores = ScoreColumns::PerClass(
        classes
            .iter()
            .map(|c| (c.clone(), format!("p_{c}")))
            .collect(),
    );
    let names = [
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_micro",
        "recall_micro",
        "f1_micro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
        "roc_auc",
        "roc_auc_weighted",
        "average_precision",
        "log_loss",
        "brier",
        "ece",
    ];
    for (case, prediction) in [("prediction_column", Some("prediction")), ("argmax", None)] {
        let spec = QualitySpec {
            prediction: prediction.map(str::to_string),
            scores: scores.clone(),
            ..QualitySpec::new("label")
        };
        let mut evidence = TaskEvidence::default();
        evidence.update(&batch, &spec).unwrap();
        assert_eq!(evidence.decide(&spec), Task::Multiclass);
        let report = quality(&batch, &spec, Task::Multiclass);
        let want = &e["multiclass"][case];
        check_metrics(&report.summary, want, &names, case);
        check_confusion(&report.summary, want, case);
    }
}

#[test]
fn regression_metrics_equal_scikit_learn() {
    let e = &expected()["regression"];
    let batch = read_csv("regression.csv");
    let spec = QualitySpec {
        prediction: Some("prediction".into()),
        ..QualitySpec::new("label")
    };
    let mut evidence = TaskEvidence::default();
    evidence.update(&batch, &spec).unwrap();
    assert_eq!(evidence.decide(&spec), Task::Regression);
    let report = quality(&batch, &spec, Task::Regression);
    check_metrics(
        &report.summary,
        e,
        &["mae", "mse", "rmse", "mape", "r2", "mean_error"],
        "regression",
    );
    // 2,000 residuals: beyond the sketch's exact capacity, so within its
    // rank error of NumPy's inverted-CDF quantiles.
    let mut residuals: Vec<f64> = {
        let col = |n: &str| {
            batch
                .column_by_name(n)
                .unwrap()
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        col("prediction")
            .iter()
            .zip(col("label"))
            .map(|(p, y)| p - y)
            .collect()
    };
    residuals.sort_by(f64::total_cmp);
    for q in &report.summary.residual_quantiles {
        let want = e["residual_quantiles"][q.quantile.to_string()]
            .as_f64()
            .unwrap();
        let rank = residuals.partition_point(|v| *v < q.value) as f64 / residuals.len() as f64;
        assert!(
            (rank - q.quantile).abs() <= 0.0165 + 1.0 / residuals.len() as f64,
            "residual quantile {}: {} has rank {rank} (numpy: {want})",
            q.quantile,
            q.value
        );
    }
}

#[test]
fn regression_fairness_equals_fairlearn() {
    let e = &expected()["regression"];
    let batch = read_csv("regression.csv");
    let spec = QualitySpec {
        prediction: Some("prediction".into()),
        sensitive: vec!["group".into()],
        min_group_size: 1,
        ..QualitySpec::new("label")
    };
    let mut acc = FairnessAccumulator::new(&spec, Task::Regression).unwrap();
    acc.update(&batch).unwrap();
    let report = acc.finish();
    for want in e["by_group"].as_array().unwrap() {
        let key: BTreeMap<String, Option<String>> =
            serde_json::from_value(want["group"].clone()).unwrap();
        let got = report
            .by_group
            .iter()
            .find(|g| g.group == key)
            .expect("group");
        assert_eq!(got.count as f64, want["count"].as_f64().unwrap());
        for m in ["mae", "mean_prediction", "mean_label"] {
            close(
                got.metrics.get(m).unwrap(),
                want[m].as_f64().unwrap(),
                &format!("{key:?} {m}"),
            );
        }
    }
    for m in ["mae_difference", "mean_prediction_difference"] {
        close(
            report.disparities.values.get(m).unwrap(),
            e[m].as_f64().unwrap(),
            m,
        );
    }
}

#[test]
fn fairness_equals_fairlearn_metric_frame_and_disparities() {
    let e = expected();
    let batch = read_csv("binary.csv");
    for case in e["fairness"].as_array().unwrap() {
        let sensitive: Vec<String> = serde_json::from_value(case["sensitive"].clone()).unwrap();
        let spec = QualitySpec {
            prediction: Some("prediction".into()),
            sensitive: sensitive.clone(),
            min_group_size: 1,
            ..QualitySpec::new("label")
        };
        // In two accumulators, merged.
        let mut acc = FairnessAccumulator::new(&spec, Task::Binary).unwrap();
        let mut other = acc.clone();
        acc.update(&batch.slice(0, 1234)).unwrap();
        other
            .update(&batch.slice(1234, batch.num_rows() - 1234))
            .unwrap();
        acc.merge(&other).unwrap();
        let report = acc.finish();
        let case_name = sensitive.join(",");
        for want in case["groups"].as_array().unwrap() {
            let key: BTreeMap<String, Option<String>> =
                serde_json::from_value(want["group"].clone()).unwrap();
            let got = report
                .by_group
                .iter()
                .find(|g| g.group == key)
                .unwrap_or_else(|| panic!("{case_name}: group {key:?} missing"));
            assert_eq!(got.count as f64, want["count"].as_f64().unwrap());
            for m in [
                "base_rate",
                "selection_rate",
                "tpr",
                "fpr",
                "fnr",
                "precision",
                "accuracy",
            ] {
                close(
                    got.metrics.get(m).unwrap(),
                    want[m].as_f64().unwrap(),
                    &format!("{case_name} {key:?} {m}"),
                );
                let ci: [f64; 2] = serde_json::from_value(want["ci"][m].clone()).unwrap();
                let mine = got.ci[m];
                close(
                    mine[0],
                    ci[0],
                    &format!("{case_name} {key:?} {m} Wilson lower"),
                );
                close(
                    mine[1],
                    ci[1],
                    &format!("{case_name} {key:?} {m} Wilson upper"),
                );
            }
        }
        // Over all the sensitive columns together: their intersections
        // when there are several, as MetricFrame with several features.
        let d = &report.disparities;
        for (name, want) in case["disparities"].as_object().unwrap() {
            close(
                d.values.get(name).unwrap(),
                want.as_f64().unwrap(),
                &format!("{case_name}: {name}"),
            );
        }
        let ci: [f64; 2] =
            serde_json::from_value(case["demographic_parity_difference_ci"].clone()).unwrap();
        let mine = d.ci["demographic_parity_difference"];
        close(mine[0], ci[0], &format!("{case_name}: Newcombe lower"));
        close(mine[1], ci[1], &format!("{case_name}: Newcombe upper"));
    }
}

#[test]
fn cbpe_calibration_equals_scikit_learn_isotonic_regression() {
    let e = &expected()["isotonic"];
    let batch = read_csv("binary.csv");
    let mut acc = QualityAccumulator::new(&binary_spec(None, 0.5), Task::Binary).unwrap();
    acc.update(&batch).unwrap();
    let estimator = Estimator::fit(&acc).unwrap();
    let xs = e["x"].as_array().unwrap();
    let ys = e["y"].as_array().unwrap();
    for (x, y) in xs.iter().zip(ys) {
        let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
        close(estimator.probability(x), y, &format!("isotonic at {x}"));
    }
}

#[test]
fn a_list_score_column_equals_one_column_per_class() {
    use arrow::array::{Float64Builder, ListBuilder};
    let e = expected();
    let batch = read_csv("multiclass.csv");
    let classes: Vec<String> = serde_json::from_value(e["multiclass"]["classes"].clone()).unwrap();
    let columns: Vec<&Float64Array> = classes
        .iter()
        .map(|c| {
            batch
                .column_by_name(&format!("p_{c}"))
                .unwrap()
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
        })
        .collect();
    let mut list = ListBuilder::new(Float64Builder::new());
    for row in 0..batch.num_rows() {
        for c in &columns {
            list.values().append_value(c.value(row));
        }
        list.append(true);
    }
    let label = batch.column_by_name("label").unwrap().clone();
    let probs: ArrayRef = Arc::new(list.finish());
    let schema = Schema::new(vec![
        Field::new("label", DataType::Utf8, true),
        Field::new("probs", probs.data_type().clone(), true),
    ]);
    let listed = RecordBatch::try_new(Arc::new(schema), vec![label, probs]).unwrap();
    let spec = QualitySpec {
        scores: ScoreColumns::List("probs".into()),
        classes: Some(classes.clone()),
        ..QualitySpec::new("label")
    };
    let report = quality(&listed, &spec, Task::Multiclass);
    check_metrics(
        &report.summary,
        &e["multiclass"]["argmax"],
        &[
            "accuracy",
            "f1_macro",
            "roc_auc",
            "average_precision",
            "log_loss",
            "brier",
            "ece",
        ],
        "list column",
    );
}
