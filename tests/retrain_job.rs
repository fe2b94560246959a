//! `assay retrain run` through the real binary: the first job registers v1
//! and promotes it; a challenger trained on labels flipped loses on the
//! holdout and is not promoted (with the reason); data failing validation
//! stops the job before training; a bad config lists every problem.

mod common;

use std::path::{Path, PathBuf};

use common::{assay, code, input_error, stderr, stdout};
use serde_json::Value;

const LINEAR: &str = "tests/fixtures/train/linear.csv";
const LINEAR_SCHEMA: &str = "tests/fixtures/train/linear.schema.toml";

/// Lines of linear.csv: the header, then 20,000 rows ending in the label `y`.
fn linear_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(common::path(LINEAR)).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

fn write_csv(path: &Path, header: &str, rows: &[String]) {
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn flip_label(row: &str) -> String {
    let (rest, y) = row.rsplit_once(',').unwrap();
    let flipped = if y == "1" { "0" } else { "1" };
    format!("{rest},{flipped}")
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("retrain.toml");
    let text = format!(
        "registry = \"registry\"\nmodel = \"linear\"\nlabel = \"y\"\nschema = {:?}\n\
         holdout_share = 0.2\n{extra}\n[gate]\nmetrics = {{ roc_auc = 0.0 }}\n",
        common::path(LINEAR_SCHEMA)
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn run(config: &Path, id: &str, data: &[&Path]) -> std::process::Output {
    let mut args = vec![
        "retrain".to_string(),
        "run".into(),
        "--config".into(),
        config.display().to_string(),
        "--id".into(),
        id.into(),
    ];
    if !data.is_empty() {
        args.push("--data".into());
        args.extend(data.iter().map(|p| p.display().to_string()));
    }
    assay(&args)
}

fn report(dir: &Path, id: &str) -> Value {
    let path = dir.join("registry/jobs").join(id).join("report.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn champion(dir: &Path) -> Option<Value> {
    std::fs::read_to_string(dir.join("registry/models/linear/champion"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap())
}

fn model_card(dir: &Path, version: u64) -> Value {
    let path = dir.join(format!(
        "registry/models/linear/versions/{version}/model.json"
    ));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn step_names(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn first_job_promotes_v1_and_a_flipped_label_challenger_loses() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = linear_lines();
    let first = dir.path().join("first.csv");
    write_csv(&first, &header, &rows[..10_000]);
    let config = write_config(dir.path(), "");

    // 1. No champion: validated and trained, v1 is promoted.
    let out = run(&config, "job-1", &[&first]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("job-1: promoted (version 1)"),
        "{}",
        stdout(&out)
    );
    let r = report(dir.path(), "job-1");
    assert_eq!(r["outcome"], "promoted");
    assert_eq!(
        step_names(&r),
        [
            "assemble", "validate", "train", "evaluate", "gate", "register"
        ]
    );
    assert_eq!(r["steps"][0]["detail"]["rows"], 10_000);
    assert_eq!(r["gate"]["promote"], true);
    let v1 = dir.path().join("registry/models/linear/versions/1");
    for f in [
        "model.safetensors",
        "model.json",
        "train.profile.json",
        "report.json",
    ] {
        assert!(v1.join(f).is_file(), "{f} in version 1");
    }
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(v1.join("train.profile.json")).unwrap())
            .unwrap();
    assert_eq!(profile["rows"], 10_000);
    assert_eq!(champion(dir.path()).unwrap()["version"], 1);
    let auc_v1 = r["steps"][3]["detail"]["challenger"]["metrics"]["roc_auc"]
        .as_f64()
        .unwrap();
    assert!(auc_v1 > 0.8, "v1's holdout ROC AUC {auc_v1}");
    // The card carries what the job measured and decided.
    let card = model_card(dir.path(), 1)["retrain"].clone();
    assert_eq!(card["job"], "job-1", "{card}");
    assert_eq!(card["trigger"]["trigger"], "run");
    assert_eq!(card["gate"]["promote"], true);
    assert_eq!(card["gate"]["reasons"], r["gate"]["reasons"]);
    assert_eq!(card["holdout"]["challenger"]["metrics"]["roc_auc"], auc_v1);
    assert_eq!(card["holdout"]["champion"], Value::Null, "no champion yet");
    assert_eq!(card["data"]["assembly"]["rows"], 10_000);
    assert_eq!(card["data"]["train_rows"], 8_000);
    assert_eq!(card["data"]["holdout_rows"], 2_000);
    assert_eq!(
        card["data"]["windows"],
        Value::Null,
        "`retrain run` has no window"
    );
    assert!(
        card["training_metrics"]["roc_auc"].as_f64().unwrap() > 0.8,
        "{card}"
    );

    // 2. Sabotage: the training rows' labels flipped (the most recent 4,000
    //    rows, the holdout, are intact). The challenger learns the inverse
    //    and loses to v1 on the same holdout: registered, not promoted.
    let mut sabotaged: Vec<String> = rows[..16_000].iter().map(|r| flip_label(r)).collect();
    sabotaged.extend_from_slice(&rows[16_000..]);
    let bad = dir.path().join("sabotaged.csv");
    write_csv(&bad, &header, &sabotaged);
    let out = run(&config, "job-2", &[&bad]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let r = report(dir.path(), "job-2");
    assert_eq!(r["outcome"], "rejected");
    assert_eq!(r["gate"]["promote"], false);
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("roc_auc") && reasons.contains("lower than champion"),
        "{reasons}"
    );
    let check = &r["gate"]["checks"][0];
    let (challenger, champ) = (
        check["challenger"].as_f64().unwrap(),
        check["champion"].as_f64().unwrap(),
    );
    assert!(
        challenger < 0.5 && champ > 0.8,
        "challenger {challenger}, champion {champ}"
    );
    assert_eq!(r["version"], 2);
    let card = model_card(dir.path(), 2)["retrain"].clone();
    assert_eq!(card["gate"]["promote"], false);
    assert!(
        card["gate"]["reasons"]
            .to_string()
            .contains("lower than champion"),
        "{card}"
    );
    assert_eq!(card["holdout"]["champion"]["version"], 1);
    assert_eq!(card["gate"]["checks"][0]["champion"].as_f64(), Some(champ));
    // Metrics on its own (flipped) training split are good; on the holdout bad.
    let trained = card["training_metrics"]["roc_auc"].as_f64().unwrap();
    assert!(
        trained > 0.8 && challenger < 0.5,
        "train {trained}, holdout {challenger}"
    );
    assert_eq!(
        champion(dir.path()).unwrap()["version"],
        1,
        "v1 stays champion"
    );

    // 3. Clean recent data: the challenger is no worse (tolerance 0.01), promoted.
    let config = write_config(dir.path(), "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("roc_auc = 0.0", "roc_auc = 0.01");
    std::fs::write(&config, text).unwrap();
    let all = dir.path().join("all.csv");
    write_csv(&all, &header, &rows);
    let out = run(&config, "job-3", &[&all]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(champion(dir.path()).unwrap()["version"], 3);
}

#[test]
fn data_failing_validation_stops_the_job_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = linear_lines();
    // `color` outside its domain on every row (min_domain_mass 0.9): the
    // model would train (out-of-vocabulary bucket), validation must stop it.
    let purple: Vec<String> = rows[..5_000]
        .iter()
        .map(|r| {
            r.replace(",green,", ",purple,")
                .replace(",red,", ",purple,")
                .replace(",blue,", ",purple,")
        })
        .collect();
    let data = dir.path().join("purple.csv");
    write_csv(&data, &header, &purple);
    let config = write_config(dir.path(), "");
    let out = run(&config, "bad-data", &[&data]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let r = report(dir.path(), "bad-data");
    assert_eq!(r["outcome"], "rejected");
    assert_eq!(step_names(&r), ["assemble", "validate"], "no training");
    assert_eq!(r["steps"][1]["status"], "failed");
    assert!(
        r["reasons"].to_string().contains("failed validation"),
        "{}",
        r["reasons"]
    );
    assert!(
        r["reasons"].to_string().contains("color"),
        "{}",
        r["reasons"]
    );
    assert!(
        !dir.path()
            .join("registry/models/linear/versions/1")
            .exists()
    );
    assert!(champion(dir.path()).is_none());
}

#[test]
fn a_bad_config_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retrain.toml");
    std::fs::write(
        &path,
        "registry = \"registry\"\nmodel = \"m\"\nlabel = \"y\"\nschema = \"nope.toml\"\n\
         lookback = \"soon\"\nholdout_share = 1.5\nbaseline = [\"missing.csv\"]\ncolour = 1\n\n\
         [train]\nmodel = \"forest\"\n\n[gate]\nmetrics = { roc_auk = 0.0 }\n\n\
         [serve]\nlisten = \"localhost\"\nsecret_file = \"s\"\nsecret_env = \"S\"\nsecrets = 1\n",
    )
    .unwrap();
    // `retrain run` and `check-config` list the same problems, all at once.
    let run_err = input_error(&assay(&[
        "retrain",
        "run",
        "--config",
        path.to_str().unwrap(),
    ]));
    let err = input_error(&assay(&["check-config", path.to_str().unwrap()]));
    assert_eq!(err, run_err);
    let file = path.display().to_string();
    for expected in [
        format!("{file}:20:1: serve: unknown key `secrets`; expected one of `listen`"),
        format!("{file}:8:1: unknown key `colour`"),
        format!("{file}:11:9: train: unknown variant `forest`"),
        format!("{file}:4:10: schema: no such file"),
        format!("{file}:5:12: lookback: expected a duration"),
        format!("{file}:6:17: holdout_share: must be in (0, 1)"),
        format!("{file}:7:12: baseline: no such file"),
        format!("{file}:14:23: gate.metrics.roc_auk: `roc_auk` is not a metric"),
        format!("{file}:17:10: serve.listen: must be IP:PORT"),
        format!("{file}:19:14: serve.secret_env: give `secret_file` or `secret_env`, not both"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_config_accepts_a_good_retrain_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out = assay(&["check-config", config.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok (retrain job for model `linear`"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn gated_disparities_are_measured_for_the_sensitive_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = linear_lines();
    let data = dir.path().join("data.csv");
    write_csv(&data, &header, &rows[..10_000]);
    let config = write_config(dir.path(), "sensitive = [\"color\"]");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[gate]\n",
        "[gate]\ndisparities = { demographic_parity_difference = 0.0 }\n",
    );
    std::fs::write(&config, text).unwrap();
    let out = run(&config, "fair-1", &[&data]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    // The same data again: the same model, the same disparity: not worse.
    let out = run(&config, "fair-2", &[&data]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let r = report(dir.path(), "fair-2");
    let checks = r["gate"]["checks"].as_array().unwrap();
    let dp = checks
        .iter()
        .find(|c| c["name"] == "demographic_parity_difference")
        .unwrap();
    assert_eq!(dp["kind"], "disparity");
    let (a, b) = (
        dp["challenger"].as_f64().unwrap(),
        dp["champion"].as_f64().unwrap(),
    );
    assert!(a > 0.0 && a < 1.0, "{dp}");
    assert_eq!(a, b, "seeded training on the same data: the same model");
}

#[test]
fn predictions_outside_the_prediction_schema_block_promotion() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = linear_lines();
    let data = dir.path().join("data.csv");
    write_csv(&data, &header, &rows[..5_000]);
    let base = std::fs::read_to_string(common::path(LINEAR_SCHEMA)).unwrap();
    // The served model's score column: a probability capped at 0.5 here, so
    // the challenger's confident scores break it.
    let schema = dir.path().join("schema.toml");
    std::fs::write(
        &schema,
        format!(
            "{base}\n[features.prediction]\ntype = \"float\"\nrole = \"prediction\"\n\
             range = {{ min = 0, max = 0.5 }}\nrange_tolerance = 0\n"
        ),
    )
    .unwrap();
    let config = dir.path().join("retrain.toml");
    let text = |schema: &Path| {
        format!(
            "registry = \"registry\"\nmodel = \"linear\"\nlabel = \"y\"\nschema = {:?}\n\
             holdout_share = 0.2\n[gate]\nmetrics = {{ roc_auc = 0.0 }}\n",
            schema.display().to_string()
        )
    };
    std::fs::write(&config, text(&schema)).unwrap();
    let out = run(&config, "capped", &[&data]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let r = report(dir.path(), "capped");
    assert_eq!(r["outcome"], "rejected", "{r}");
    assert_eq!(r["gate"]["promote"], false);
    assert_eq!(
        r["gate"]["prediction_schema"]["checked"][0],
        "prediction <- score"
    );
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("prediction schema: `prediction` (the challenger's `score`)"),
        "{reasons}"
    );
    assert!(champion(dir.path()).is_none(), "nothing promoted");

    // The same model under the probability range [0, 1] is promoted.
    std::fs::write(
        &schema,
        format!(
            "{base}\n[features.prediction]\ntype = \"float\"\nrole = \"prediction\"\n\
             range = {{ min = 0, max = 1 }}\n"
        ),
    )
    .unwrap();
    let out = run(&config, "probability", &[&data]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let r = report(dir.path(), "probability");
    assert_eq!(
        r["gate"]["prediction_schema"]["violations"],
        serde_json::json!([])
    );
}
