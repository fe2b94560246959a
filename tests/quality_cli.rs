//! `assay quality` and `assay fairness` through the real binary: JSON
//! shapes, values against the scikit-learn / Fairlearn fixtures, exit codes,
//! references (data and saved reports), and bad input (exit 2 naming file,
//! row and column).

mod common;

use std::path::Path;

use common::{assay, code, input_error, json, stderr, stdout};
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!("tests/fixtures/quality/{name}")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(common::root().join(fixture("expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn close(a: &Value, b: &Value, what: &str) {
    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn quality_json_has_the_documented_shape_and_scikit_learn_values() {
    let out = assay(&[
        "quality",
        &fixture("binary.csv"),
        "--label",
        "label",
        "--score",
        "score",
        "--slice",
        "sex",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["task"], "binary");
    assert_eq!(report["rows"], 3000);
    assert_eq!(report["labelled"], 3000);
    assert_eq!(report["positive_class"], "1");
    assert_eq!(report["threshold"], 0.5);
    let want = &expected()["binary"]["score_threshold_0.5"];
    for m in [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
        "ece",
        "base_rate",
    ] {
        close(&report["metrics"][m], &want[m], m);
    }
    let slices = report["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 2);
    assert_eq!(slices[0]["slice"], "sex=F");
    assert!(slices[0]["rows"].as_u64().unwrap() > 1000);
    assert!(slices[0]["metrics"]["accuracy"].as_f64().is_some());
    assert_eq!(report["findings"], Value::Array(vec![]));
}

#[test]
fn quality_table_by_default() {
    let out = assay(&[
        "quality",
        &fixture("regression.csv"),
        "--label",
        "label",
        "--prediction",
        "prediction",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("regression, 2,000 rows"), "{text}");
    assert!(text.contains("mae") && text.contains("residuals"), "{text}");
}

#[test]
fn multiclass_scores_per_class() {
    let out = assay(&[
        "quality",
        &fixture("multiclass.csv"),
        "--label",
        "label",
        "--score",
        "ant=p_ant",
        "--score",
        "bee=p_bee",
        "--score",
        "cat=p_cat",
        "--score",
        "dog=p_dog",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["task"], "multiclass");
    let want = &expected()["multiclass"]["argmax"];
    for m in ["accuracy", "f1_macro", "roc_auc", "log_loss", "brier"] {
        close(&report["metrics"][m], &want[m], m);
    }
}

#[test]
fn fairness_json_has_the_documented_shape_and_fairlearn_values() {
    let out = assay(&[
        "fairness",
        &fixture("binary.csv"),
        "--label",
        "label",
        "--prediction",
        "prediction",
        "--sensitive",
        "sex,race",
        "--min-group-size",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    let want = &expected()["fairness"][2];
    for (name, value) in want["disparities"].as_object().unwrap() {
        close(&report["disparities"][name], value, name);
    }
    let groups = report["by_group"].as_array().unwrap();
    // 2 + 5 single-column groups and 10 intersections.
    assert_eq!(groups.len(), 17);
    let female = groups
        .iter()
        .find(|g| g["group"] == serde_json::json!({"sex": "F"}))
        .expect("sex=F");
    for key in [
        "count",
        "base_rate",
        "selection_rate",
        "tpr",
        "fpr",
        "fnr",
        "precision",
        "accuracy",
    ] {
        assert!(female.get(key).is_some(), "no {key} in {female}");
    }
    let ci = female["ci"]["selection_rate"].as_array().unwrap();
    assert_eq!(ci.len(), 2);
    assert!(report["disparities_by_column"]["sex"]["demographic_parity_difference"].is_number());
}

#[test]
fn fairness_without_predictions_reports_base_rates_only() {
    let out = assay(&[
        "fairness",
        &fixture("binary.csv"),
        "--label",
        "label",
        "--sensitive",
        "sex",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    let group = &report["by_group"][0];
    assert!(group["base_rate"].is_number());
    assert!(group.get("selection_rate").is_none(), "{group}");
}

#[test]
fn a_reference_of_the_same_data_finds_nothing_and_a_degraded_model_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("reference.json").display().to_string();
    let base = [
        "quality",
        &fixture("binary.csv"),
        "--label",
        "label",
        "--score",
        "score",
    ];
    // Save the report, then use it as the reference.
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["-o", &saved, "--quiet"]);
    let out = assay(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--reference", &saved, "--format", "json"]);
    let out = assay(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["findings"], Value::Array(vec![]));

    // A model whose scores lost their signal: flip a third of the scores.
    let text = std::fs::read_to_string(common::root().join(fixture("binary.csv"))).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut degraded = format!("{header}\n");
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        if i % 3 == 0 {
            let s: f64 = cells[1].parse().unwrap();
            cells[1] = format!("{}", ((1.0 - s) * 1000.0).round() / 1000.0);
        }
        degraded.push_str(&cells.join(","));
        degraded.push('\n');
    }
    let current = write(dir.path(), "degraded.csv", &degraded);
    let out = assay(&[
        "quality",
        &current,
        "--label",
        "label",
        "--score",
        "score",
        "--reference",
        &fixture("binary.csv"),
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "quality_degraded" && f["observed"]["metric"] == "roc_auc"),
        "{findings:?}"
    );
    // With reference data, CBPE's estimate sits beside the realized metrics.
    assert!(report["estimated"]["metrics"]["accuracy"].is_number());
}

#[test]
fn bad_values_exit_2_naming_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "label,score\n1,0.2\n0,0.4\n1,1.7\n",
            "`score`",
            "row 3",
            "outside [0, 1]",
        ),
        ("label,score\n1,0.2\n,0.4\n", "`label`", "row 2", "missing"),
        ("label,score\n1,0.2\n0,NaN\n", "`score`", "row 2", "NaN"),
        (
            "label,score\n1,0.2\n0,0.4\n2,0.3\n",
            "`label`",
            "row 3",
            "third class",
        ),
    ];
    for (i, (text, column, row, what)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.csv"), text);
        let out = assay(&[
            "quality", &file, "--label", "label", "--score", "score", "--task", "binary",
        ]);
        let err = input_error(&out);
        for needle in [file.as_str(), column, row, what] {
            assert!(err.contains(needle), "case {i}: `{needle}` not in:\n{err}");
        }
    }
    // A label outside the declared classes.
    let file = write(
        dir.path(),
        "domain.csv",
        "label,score\n1,0.2\n0,0.4\n7,0.3\n",
    );
    let err = input_error(&assay(&[
        "quality",
        &file,
        "--label",
        "label",
        "--score",
        "score",
        "--classes",
        "0,1",
    ]));
    for needle in [file.as_str(), "`label`", "row 3", "declared classes"] {
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
    // A regression label that is not a number (the CSV column is then
    // text) is named by its row.
    let file = write(
        dir.path(),
        "regression.csv",
        "label,pred\n1.5,1.0\nhigh,2.0\n3,3.1\n",
    );
    let err = input_error(&assay(&[
        "quality",
        &file,
        "--label",
        "label",
        "--prediction",
        "pred",
        "--task",
        "regression",
    ]));
    for needle in [file.as_str(), "`label`", "row 2", "`high` is not a number"] {
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
}

#[test]
fn a_string_score_column_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.csv", "label,score\n1,high\n0,low\n");
    let err = input_error(&assay(&[
        "quality", &file, "--label", "label", "--score", "score",
    ]));
    assert!(err.contains("`score`") && err.contains("numbers"), "{err}");
}

#[test]
fn a_sensitive_column_the_data_lacks_is_bad_input() {
    let err = input_error(&assay(&[
        "fairness",
        &fixture("binary.csv"),
        "--label",
        "label",
        "--prediction",
        "prediction",
        "--sensitive",
        "religion",
    ]));
    assert!(err.contains("religion"), "{err}");
}

#[test]
fn an_unknown_task_or_missing_label_is_bad_input() {
    let err = input_error(&assay(&[
        "quality",
        &fixture("binary.csv"),
        "--label",
        "label",
        "--task",
        "ranking",
    ]));
    assert!(err.contains("--task ranking"), "{err}");
    let err = input_error(&assay(&[
        "quality",
        &fixture("binary.csv"),
        "--label",
        "outcome",
    ]));
    assert!(
        err.contains("`outcome`") && err.contains("not in the data"),
        "{err}"
    );
}

#[test]
fn unlabelled_rows_are_skipped_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "partial.csv",
        "label,score\n1,0.9\n,0.4\n0,0.2\n,0.7\n",
    );
    let out = assay(&[
        "quality",
        &file,
        "--label",
        "label",
        "--score",
        "score",
        "--skip-unlabelled",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["rows"], 4);
    assert_eq!(report["labelled"], 2);
    assert_eq!(report["metrics"]["accuracy"], 1.0);
}
