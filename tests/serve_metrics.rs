//! Counters with a closed set of label values, with the real binary: a
//! fresh daemon exports every one of them at 0 on its first `/metrics`
//! (each rejection reason, each finding kind each check can report with each
//! severity it can have, each expectation type of the suites, labels, spool
//! outcomes), and traffic that breaks many rules creates no series that
//! was not there at the start: the set really is closed.

mod common;
#[path = "common/daemon.rs"]
mod daemon;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use daemon::{Daemon, chunks, json_rows, path_of};

const REASONS: [&str; 6] = [
    "malformed",
    "too_large",
    "queue_full",
    "unauthorized",
    "not_ready",
    "internal",
];

/// Every kind a schema check reports (checks::FindingKind, written out
/// here independently of the daemon's own list).
const SCHEMA_KINDS: [&str; 19] = [
    "missing_column",
    "new_column",
    "unexpected_type",
    "feature_too_few_present",
    "feature_all_missing",
    "out_of_domain",
    "string_values_are_booleans",
    "string_values_are_numbers",
    "unexpected_nan",
    "unexpected_infinity",
    "value_too_small",
    "value_too_large",
    "value_count_too_small",
    "value_count_too_large",
    "too_few_rows",
    "too_many_rows",
    "feature_in_wrong_environment",
    "too_few_distinct_values",
    "too_many_distinct_values",
];

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("assay.toml");
    std::fs::write(
        &path,
        format!(
            r#"[spool]
dir = "{spool}"

[models.credit]
baseline = "{train}"
schema = "{schema}"
suites = ["{credit}", "{demo}"]

[models.credit.window]
rows = 2000

[models.credit.checks]
per_batch = ["schema", "expectations"]
per_window = ["schema", "expectations", "skew", "drift"]
"#,
            spool = dir.join("spool").display(),
            train = path_of("examples/data/train.parquet"),
            schema = path_of("examples/demo/schema.toml"),
            credit = path_of("expectations/credit.toml"),
            demo = path_of("examples/demo/suite.toml"),
        ),
    )
    .unwrap();
    path
}

/// The samples of the metric `name`: labels (as a map) → value.
fn samples(text: &str, name: &str) -> BTreeMap<BTreeMap<String, String>, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('{') else {
            continue;
        };
        let (labels, value) = rest.rsplit_once("} ").unwrap();
        let labels = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once("=\"").unwrap();
                (k.to_string(), v.trim_end_matches('"').to_string())
            })
            .collect();
        out.insert(labels, value.parse().unwrap());
    }
    out
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The expectation types of a suite file.
fn suite_types(relative: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path_of(relative)).unwrap();
    let suite: toml::Value = toml::from_str(&text).unwrap();
    suite["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// The serving data broken in many ways at once: a new `purpose`, an empty
/// `credit_score`, `age` out of range, a string column that is not in the
/// schema.
fn broken_serving() -> RecordBatch {
    let serving = common::read_parquet(common::SERVING);
    let n = serving.num_rows();
    let purpose: StringArray = (0..n)
        .map(|i| Some(if i % 3 == 0 { "crypto" } else { "car" }))
        .collect();
    let age = cast(serving.column_by_name("age").unwrap(), &DataType::Int64).unwrap();
    let age: Int64Array = age
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map(|v| v + 60))
        .collect();
    let batch = common::replace_column(&serving, "purpose", Arc::new(purpose));
    let batch = common::replace_column(&batch, "age", Arc::new(age));
    let score = serving.column_by_name("credit_score").unwrap();
    let batch = common::replace_column(
        &batch,
        "credit_score",
        arrow::array::new_null_array(score.data_type(), n),
    );
    let mut fields: Vec<arrow::datatypes::Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(arrow::datatypes::Field::new(
        "surprise",
        DataType::Utf8,
        true,
    ));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("x{i}")),
    )));
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap()
}

#[test]
fn a_fresh_daemon_exports_every_closed_label_value_at_0_and_traffic_adds_none() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&config(dir.path()), &dir.path().join("state"));
    let (status, first) = daemon.get("/metrics", None);
    assert_eq!(status, 200);

    let rejected = samples(&first, "assay_batches_rejected_total");
    for reason in REASONS {
        assert_eq!(
            rejected.get(&labels(&[("model", "credit"), ("reason", reason)])),
            Some(&0.0),
            "rejections for {reason} at 0:\n{first}"
        );
    }
    for reason in ["unknown_model", "unauthorized", "not_ready"] {
        assert_eq!(
            rejected.get(&labels(&[("model", ""), ("reason", reason)])),
            Some(&0.0),
            "rejections for models not watched, {reason}, at 0:\n{first}"
        );
    }

    let findings = samples(&first, "assay_findings_total");
    assert!(findings.values().all(|v| *v == 0.0), "{first}");
    let at = |check: &str, kind: &str, severity: &str| {
        findings.contains_key(&labels(&[
            ("model", "credit"),
            ("check", check),
            ("kind", kind),
            ("severity", severity),
        ]))
    };
    for check in ["batch_schema", "window_schema"] {
        for kind in SCHEMA_KINDS {
            assert!(at(check, kind, "error"), "{check} {kind} error at 0");
        }
        for kind in ["out_of_domain", "value_too_small", "value_too_large"] {
            assert!(at(check, kind, "warning"), "{check} {kind} warning at 0");
        }
        assert!(!at(check, "missing_column", "warning"), "never a warning");
    }
    for (check, kinds) in [
        ("skew", ["feature_skew", "prediction_skew", "dataset_skew"]),
        (
            "drift",
            ["feature_drift", "prediction_drift", "dataset_drift"],
        ),
    ] {
        for kind in kinds {
            assert!(at(check, kind, "error"), "{check} {kind} at 0");
        }
        assert!(at(check, "missing_share_changed", "warning"));
    }
    // Each expectation type of the suites, checked per batch (row-level
    // ones) or per window (aggregate ones): in exactly one of the two.
    let mut types = suite_types("expectations/credit.toml");
    types.extend(suite_types("examples/demo/suite.toml"));
    let of = |check: &str| -> BTreeSet<String> {
        findings
            .keys()
            .filter(|l| l["check"] == check)
            .map(|l| l["kind"].clone())
            .collect()
    };
    let (batch, window) = (of("batch_expectations"), of("window_expectations"));
    assert!(batch.is_disjoint(&window), "{batch:?} / {window:?}");
    assert_eq!(
        batch.union(&window).cloned().collect::<BTreeSet<_>>(),
        types
    );
    assert!(batch.contains("expect_column_values_to_be_in_set"));
    assert!(window.contains("expect_column_mean_to_be_between"));

    for (metric, want) in [
        ("assay_labels_received_total{model=\"credit\"}", 0.0),
        ("assay_rows_ingested_total{model=\"credit\"}", 0.0),
        (
            "assay_spool_files_total{model=\"credit\",outcome=\"done\"}",
            0.0,
        ),
        (
            "assay_spool_files_total{model=\"credit\",outcome=\"failed\"}",
            0.0,
        ),
        ("assay_ingest_latency_seconds_count{model=\"credit\"}", 0.0),
        (
            "assay_window_close_duration_seconds_count{model=\"credit\"}",
            0.0,
        ),
    ] {
        let got = first
            .lines()
            .find_map(|l| l.strip_prefix(metric)?.trim().parse::<f64>().ok());
        assert_eq!(got, Some(want), "{metric}:\n{first}");
    }

    // Traffic that breaks the schema and the suites per batch and per
    // window, and rejected requests: counters move, no series is new.
    let clean = common::read_parquet(common::SERVING);
    let broken = broken_serving();
    for batch in chunks(&clean, 1000).iter().chain(&chunks(&broken, 1000)) {
        let (status, reply) = daemon.post(
            "/v1/models/credit/batches",
            "application/json",
            &json_rows(batch),
            None,
        );
        assert_eq!(status, 200, "{reply}");
    }
    let rejections = [
        (
            "/v1/models/credit/batches",
            &b"[{\"age\": \"old\"}]"[..],
            400,
        ),
        ("/v1/models/nobody/batches", &b"[{\"age\": 1}]"[..], 404),
        (
            "/v1/models/someone-else/batches",
            &b"[{\"age\": 1}]"[..],
            404,
        ),
    ];
    for (path, body, want) in rejections {
        assert_eq!(daemon.post(path, "application/json", body, None).0, want);
    }
    let (_, after) = daemon.get("/metrics", None);
    for name in ["assay_findings_total", "assay_batches_rejected_total"] {
        let (before, now) = (samples(&first, name), samples(&after, name));
        let new: Vec<_> = now.keys().filter(|k| !before.contains_key(k)).collect();
        assert!(
            new.is_empty(),
            "{name}: series not there at the start: {new:?}"
        );
        let moved = now
            .iter()
            .filter(|(k, v)| before.get(*k).is_some_and(|b| *v > b))
            .count();
        assert!(moved > 0, "{name}: nothing counted\n{after}");
    }
    let findings = samples(&after, "assay_findings_total");
    let counted = |check: &str, kind: &str| {
        findings
            .iter()
            .filter(|(l, _)| l["check"] == check && l["kind"] == kind)
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    for (check, kind) in [
        ("batch_schema", "out_of_domain"),
        ("batch_schema", "new_column"),
        ("window_schema", "feature_all_missing"),
        ("window_schema", "value_too_large"),
        ("batch_expectations", "expect_column_values_to_not_be_null"),
        ("window_expectations", "expect_column_mean_to_be_between"),
        ("skew", "feature_skew"),
        ("drift", "feature_drift"),
    ] {
        assert!(
            counted(check, kind) > 0.0,
            "{check} {kind} counted:\n{after}"
        );
    }
    let rejected = samples(&after, "assay_batches_rejected_total");
    assert_eq!(
        rejected[&labels(&[("model", "credit"), ("reason", "malformed")])],
        1.0
    );
    // Two names this daemon does not watch: one series, no model label.
    assert_eq!(
        rejected[&labels(&[("model", ""), ("reason", "unknown_model")])],
        2.0
    );
}
