//! `assay train` and `assay predict` through the real binary: the model
//! directory, predictions in input order with the documented columns, the
//! holdout metrics equal to `assay quality` on the same predictions, and
//! bad input (exit 2 naming the file or column).

mod common;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use common::{assay, code, input_error, json, read_parquet, stderr, stdout};

const LINEAR: &str = "tests/fixtures/train/linear.csv";
const LINEAR_SCHEMA: &str = "tests/fixtures/train/linear.schema.toml";

fn train_linear(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let model = dir.join("model");
    let mut args = vec![
        "train",
        LINEAR,
        "--schema",
        LINEAR_SCHEMA,
        "--label",
        "y",
        "-o",
        model.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    assay(&args)
}

#[test]
fn train_writes_a_model_directory_that_predict_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_linear(dir.path(), &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let card = json(&out);
    assert_eq!(card["format"], "assay.model/1");
    assert_eq!(card["target"]["task"], "binary");
    assert_eq!(card["target"]["positive"], "1");
    assert_eq!(card["lineage"]["rows"], 20_000);
    assert_eq!(card["lineage"]["holdout_rows"], 4_000);
    assert!(card["schema_sha256"].as_str().unwrap().len() == 64);
    let model = dir.path().join("model");
    assert!(model.join("model.safetensors").is_file());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(saved, card, "model.json is what was printed");

    // Predict the whole file: rows in order, label kept, prediction and score added.
    let preds = dir.path().join("preds.parquet");
    let out = assay(&[
        "predict",
        model.to_str().unwrap(),
        LINEAR,
        "-o",
        preds.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("predicted 20000 rows"),
        "{}",
        stdout(&out)
    );
    let batch = read_parquet(preds.to_str().unwrap());
    assert_eq!(batch.num_rows(), 20_000);
    let names: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(
        names,
        [
            "a",
            "b",
            "c",
            "d",
            "color",
            "flag",
            "y",
            "prediction",
            "score"
        ]
    );
    let input = read_csv_column_c();
    let c = batch
        .column_by_name("c")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(c.values().to_vec(), input, "rows in input order");
    let score = batch
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>();
    let prediction = batch
        .column_by_name("prediction")
        .unwrap()
        .as_primitive::<Int64Type>();
    for i in 0..batch.num_rows() {
        let s = score.value(i);
        assert!((0.0..=1.0).contains(&s));
        assert_eq!(prediction.value(i), i64::from(s >= 0.5));
    }

    // `assay quality` on the holdout rows of these predictions gives the
    // ROC AUC `assay train` reported.
    let holdout = dir.path().join("holdout.parquet");
    common::write_parquet(&holdout, &batch.slice(16_000, 4_000));
    let out = assay(&[
        "quality",
        holdout.to_str().unwrap(),
        "--label",
        "y",
        "--prediction",
        "prediction",
        "--score",
        "score",
        "--format",
        "json",
    ]);
    let report = json(&out);
    let quality_auc = report["metrics"]["roc_auc"].as_f64().unwrap();
    let train_auc = card["holdout"]["metrics"]["roc_auc"].as_f64().unwrap();
    // Scores pass through f32 → f64 either way: equal to the last bits.
    assert!(
        (quality_auc - train_auc).abs() < 1e-9,
        "{quality_auc} vs {train_auc}"
    );
}

fn read_csv_column_c() -> Vec<f64> {
    let text = std::fs::read_to_string(common::root().join(LINEAR)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .collect()
}

#[test]
fn training_table_prints_holdout_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_linear(dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("trained logistic (binary task"), "{text}");
    assert!(text.contains("roc_auc"), "{text}");
}

#[test]
fn a_missing_label_column_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = assay(&[
        "train",
        LINEAR,
        "--schema",
        LINEAR_SCHEMA,
        "--label",
        "target",
        "-o",
        dir.path().join("m").to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(
        err.contains("tests/fixtures/train/linear.csv: no column `target` (the label)"),
        "{err}"
    );
}

#[test]
fn positive_with_a_non_binary_label_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    // `purpose` has more than two classes: not a binary label.
    let out = assay(&[
        "train",
        "examples/data/train.parquet",
        "--schema",
        "examples/demo/schema.toml",
        "--label",
        "purpose",
        "--positive",
        "car",
        "-o",
        dir.path().join("m").to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(
        err.contains("label column `purpose`: --positive needs a binary label, but it has"),
        "{err}"
    );
}

#[test]
fn data_that_does_not_match_the_schema_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    // Train on the linear data, predict the XOR data: no column `a`.
    let out = train_linear(dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = assay(&[
        "predict",
        dir.path().join("model").to_str().unwrap(),
        "tests/fixtures/train/xor.csv",
        "-o",
        dir.path().join("p.parquet").to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(
        err.contains("tests/fixtures/train/xor.csv") && err.contains("no column `a`"),
        "{err}"
    );
    // A feature of the wrong type: `color` as numbers.
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(common::root().join(LINEAR)).unwrap();
    let rewritten: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let mut f: Vec<&str> = l.split(',').collect();
                f[4] = "3";
                format!("{}\n", f.join(","))
            }
        })
        .collect();
    std::fs::write(&bad, rewritten).unwrap();
    let out = assay(&[
        "predict",
        dir.path().join("model").to_str().unwrap(),
        bad.to_str().unwrap(),
        "-o",
        dir.path().join("p.parquet").to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(
        err.contains("column `color` is Int64, expected text"),
        "{err}"
    );
    // Training with a schema feature the data lacks names it too.
    let out = assay(&[
        "train",
        "tests/fixtures/train/xor.csv",
        "--schema",
        LINEAR_SCHEMA,
        "--label",
        "y",
        "-o",
        dir.path().join("m2").to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(err.contains("xor.csv: no column `a`"), "{err}");
}

#[test]
fn an_unreadable_model_directory_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.parquet");
    let out = assay(&[
        "predict",
        dir.path().join("nothing").to_str().unwrap(),
        LINEAR,
        "-o",
        p.to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(
        err.contains("model directory") && err.contains("model.json"),
        "{err}"
    );
    // Weights that do not fit the card.
    let out = train_linear(dir.path(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let model = dir.path().join("model");
    std::fs::write(model.join("model.safetensors"), b"not safetensors").unwrap();
    let out = assay(&[
        "predict",
        model.to_str().unwrap(),
        LINEAR,
        "-o",
        p.to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(
        err.contains("model.safetensors is not valid safetensors"),
        "{err}"
    );
    let _ = std::fs::remove_file(&p);
    assert!(!p.exists());
}

#[test]
fn label_missing_values_name_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let text = std::fs::read_to_string(common::root().join(LINEAR)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Data row 3 (line 4) loses its label.
    let l = &mut lines[3];
    let cut = l.rfind(',').unwrap();
    l.truncate(cut + 1);
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let out = assay(&[
        "train",
        data.to_str().unwrap(),
        "--schema",
        LINEAR_SCHEMA,
        "--label",
        "y",
        "-o",
        dir.path().join("m").to_str().unwrap(),
    ]);
    let err = input_error(&out);
    assert!(err.contains("label column `y`, row 3"), "{err}");
}
