//! Labels joined to predictions by the real daemon over HTTP: predictions
//! stored at ingest, labels in JSON, NDJSON and CSV joined to the window
//! their prediction was made in, duplicates, unknown ids, bad bodies
//! rejected whole, quality equal to the library's on the same rows, a
//! degradation inside one slice found, the metrics, and a `kill -9` that
//! loses no acknowledged prediction or label.

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use assay::quality::{QualityAccumulator, QualitySpec, ScoreColumns, Task, UnlabelledRows};
use daemon::{Daemon, json_rows, path_of};
use serde_json::Value;

const WINDOW_ROWS: usize = 1000;

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("assay.toml");
    std::fs::write(
        &path,
        format!(
            r#"[limits]
max_body_bytes = 16000000

[models.credit]
baseline = "{train}"
request_id_column = "application_id"

[models.credit.window]
rows = {WINDOW_ROWS}

[models.credit.checks]
per_batch = []
per_window = []

[models.credit.quality]
label = "label"
score = "prediction"
slices = [["sex"]]
sensitive = ["sex"]
label_ttl = "1d"
"#,
            train = path_of("examples/data/train.parquet"),
        ),
    )
    .unwrap();
    path
}

/// The first `n` training rows (they have labels and scores).
fn rows(n: usize) -> RecordBatch {
    let file = std::fs::File::open(path_of("examples/data/train.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(n)
        .build()
        .unwrap();
    reader.into_iter().next().unwrap().unwrap().slice(0, n)
}

fn without_label(batch: &RecordBatch) -> RecordBatch {
    let i = batch.schema().index_of("label").unwrap();
    let mut b = batch.clone();
    b.remove_column(i);
    b
}

struct Truth {
    ids: Vec<String>,
    labels: Vec<i64>,
    sex: Vec<String>,
}

fn truth(batch: &RecordBatch) -> Truth {
    let ids = batch
        .column_by_name("application_id")
        .unwrap()
        .as_string::<i32>();
    let labels = batch
        .column_by_name("label")
        .unwrap()
        .as_primitive::<Int64Type>();
    let sex = batch.column_by_name("sex").unwrap().as_string::<i32>();
    Truth {
        ids: (0..batch.num_rows())
            .map(|i| ids.value(i).to_string())
            .collect(),
        labels: labels.values().to_vec(),
        sex: (0..batch.num_rows())
            .map(|i| sex.value(i).to_string())
            .collect(),
    }
}

fn json_labels(pairs: &[(String, i64)]) -> Vec<u8> {
    let rows: Vec<Value> = pairs
        .iter()
        .map(|(id, l)| serde_json::json!({"request_id": id, "label": l}))
        .collect();
    serde_json::to_vec(&rows).unwrap()
}

fn ndjson_labels(pairs: &[(String, i64)]) -> Vec<u8> {
    let mut out = String::new();
    for (id, l) in pairs {
        out.push_str(&format!(
            "{{\"application_id\": \"{id}\", \"label\": {l}}}\n"
        ));
    }
    out.into_bytes()
}

fn csv_labels(pairs: &[(String, Option<i64>)]) -> Vec<u8> {
    let mut out = String::from("request_id,label\n");
    for (id, l) in pairs {
        out.push_str(&format!(
            "{id},{}\n",
            l.map(|v| v.to_string()).unwrap_or_default()
        ));
    }
    out.into_bytes()
}

/// The samples of metric `name` whose labels include `want`.
fn sample(metrics: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = rest.rsplit_once("} ")?;
        want.iter()
            .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")))
            .then(|| value.parse().unwrap())
    })
}

fn quality(daemon: &Daemon) -> Value {
    daemon.get_json("/v1/models/credit/quality")
}

fn window(q: &Value, i: usize) -> &Value {
    &q["windows"][i]
}

/// What the joins did since the daemon started, as `GET /quality` reports
/// it (the request joins every label acknowledged before it): joined,
/// replaced, unknown, expired, duplicate.
fn join_totals(daemon: &Daemon) -> [u64; 5] {
    let l = &quality(daemon)["labels"];
    [
        l["joined"].as_u64().unwrap(),
        l["replaced"].as_u64().unwrap(),
        l["unmatched"]["unknown"].as_u64().unwrap(),
        l["unmatched"]["expired"].as_u64().unwrap(),
        l["unmatched"]["duplicate"].as_u64().unwrap(),
    ]
}

/// What the library computes on the labelled rows.
fn expected_metrics(
    batch: &RecordBatch,
    labelled: &[bool],
    labels: &[i64],
) -> BTreeMap<String, f64> {
    let mut spec = QualitySpec::new("label");
    spec.scores = ScoreColumns::Single("prediction".into());
    spec.unlabelled = UnlabelledRows::Skip;
    spec.slices = vec![vec!["sex".into()]];
    spec.sensitive = vec!["sex".into()];
    let scores = batch
        .column_by_name("prediction")
        .unwrap()
        .as_primitive::<Float64Type>();
    let label: arrow::array::Int64Array = (0..batch.num_rows())
        .map(|i| labelled[i].then_some(labels[i]))
        .collect();
    let b = RecordBatch::try_from_iter(vec![
        (
            "label",
            std::sync::Arc::new(label) as arrow::array::ArrayRef,
        ),
        ("prediction", std::sync::Arc::new(scores.clone()) as _),
        ("sex", batch.column_by_name("sex").unwrap().clone()),
    ])
    .unwrap();
    let mut acc = QualityAccumulator::new(&spec, Task::Binary).unwrap();
    acc.update(&b).unwrap();
    acc.finish()
        .summary
        .metrics
        .iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect()
}

#[test]
fn labels_join_to_their_windows_and_survive_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, &state);

    // Two windows of 1,000 predictions, without labels.
    let batch = rows(2 * WINDOW_ROWS);
    let t = truth(&batch);
    for chunk in daemon::chunks(&without_label(&batch), 500) {
        let (status, body) =
            daemon.post("/v1/batches", "application/json", &json_rows(&chunk), None);
        assert_eq!(status, 200, "{body}");
    }

    // A bad body: a missing label on row 2 (0-based) is a 400 naming the
    // row and the column, and none of its labels is joined.
    let mut bad: Vec<(String, Option<i64>)> = (0..5)
        .map(|i| (t.ids[i].clone(), Some(t.labels[i])))
        .collect();
    bad[2].1 = None;
    let (status, body) = daemon.post("/v1/labels", "text/csv", &csv_labels(&bad), None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["row"], 2, "{body}");
    assert_eq!(body["column"], "label", "{body}");
    let (status, body) = daemon.post(
        "/v1/labels",
        "application/json",
        br#"[{"request_id": "x", "label": "not a number"}]"#,
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["column"], "label", "{body}");
    let q = quality(&daemon);
    assert_eq!(window(&q, 0)["labelled"], 0, "{q}");

    // Window 1: labels in three formats, with three unknown ids and a
    // duplicate whose later value wins.
    let pairs = |r: std::ops::Range<usize>| -> Vec<(String, i64)> {
        r.map(|i| (t.ids[i].clone(), t.labels[i])).collect()
    };
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &json_labels(&pairs(0..400)),
        None,
    );
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(400)), "{b}");
    let (s, b) = daemon.post(
        "/v1/models/credit/labels",
        "application/x-ndjson",
        &ndjson_labels(&pairs(400..700)),
        None,
    );
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(300)), "{b}");
    let mut csv: Vec<(String, Option<i64>)> = (700..WINDOW_ROWS)
        .map(|i| (t.ids[i].clone(), Some(t.labels[i])))
        .collect();
    for k in 0..3 {
        csv.push((format!("no-such-id-{k}"), Some(1)));
    }
    // Row 0 labelled wrong first, then right: the last label wins.
    csv.push((t.ids[0].clone(), Some(1 - t.labels[0])));
    csv.push((t.ids[0].clone(), Some(t.labels[0])));
    let (s, b) = daemon.post("/v1/labels", "text/csv", &csv_labels(&csv), None);
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(305)), "{b}");
    // Joined after they were acknowledged: 1,000 joined, the two labels of
    // row 0 replaced, three unknown.
    assert_eq!(join_totals(&daemon), [WINDOW_ROWS as u64, 2, 3, 0, 0]);

    // Window 1 is fully labelled: its quality is the library's on its rows.
    let q = quality(&daemon);
    let w1 = window(&q, 0);
    assert_eq!(w1["predictions"], WINDOW_ROWS as u64, "{w1}");
    assert_eq!(w1["labelled"], WINDOW_ROWS as u64, "{w1}");
    assert_eq!(w1["final"], true, "{w1}");
    let first = batch.slice(0, WINDOW_ROWS);
    let all = vec![true; WINDOW_ROWS];
    let expected = expected_metrics(&first, &all, &t.labels[..WINDOW_ROWS]);
    for metric in [
        "accuracy",
        "precision",
        "recall",
        "roc_auc",
        "log_loss",
        "brier",
    ] {
        let got = w1["metrics"][metric].as_f64().unwrap();
        assert!(
            (got - expected[metric]).abs() < 1e-12,
            "{metric}: {got} vs {}",
            expected[metric]
        );
    }
    // The baseline is the reference; a sample of it raises nothing.
    assert_eq!(w1["findings"], serde_json::json!([]), "{w1}");
    assert!(w1["estimated"]["metrics"]["accuracy"].is_f64(), "{w1}");
    assert!(
        w1["fairness"]["by_group"].as_array().unwrap().len() >= 2,
        "{w1}"
    );

    // Window 2: half its labels, acknowledged, then kill -9.
    let half = WINDOW_ROWS + WINDOW_ROWS / 2;
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &json_labels(&pairs(WINDOW_ROWS..half)),
        None,
    );
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(500)), "{b}");
    daemon.kill9();
    let daemon = Daemon::start(&config, &state);
    let q = quality(&daemon);
    assert_eq!(window(&q, 0)["labelled"], WINDOW_ROWS as u64, "{q}");
    assert_eq!(window(&q, 1)["labelled"], 500, "{q}");
    assert_eq!(window(&q, 1)["label_coverage"], 0.5, "{q}");
    assert_eq!(window(&q, 1)["final"], false, "{q}");

    // The rest of window 2, with the model made worse inside one slice:
    // for sex=F every label is the opposite of the predicted class.
    let scores = batch
        .column_by_name("prediction")
        .unwrap()
        .as_primitive::<Float64Type>();
    let rest: Vec<(String, i64)> = (half..2 * WINDOW_ROWS)
        .map(|i| {
            let label = if t.sex[i] == "F" {
                i64::from(scores.value(i) < 0.5)
            } else {
                t.labels[i]
            };
            (t.ids[i].clone(), label)
        })
        .collect();
    let (s, b) = daemon.post("/v1/labels", "application/json", &json_labels(&rest), None);
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(500)), "{b}");
    let q = quality(&daemon);
    let w2 = window(&q, 1);
    assert_eq!(w2["labelled"], WINDOW_ROWS as u64, "{w2}");
    let findings = w2["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "quality_degraded" && f["slice"] == "sex=F"),
        "{w2}"
    );
    assert!(
        !findings.iter().any(|f| f["slice"] == "sex=M"),
        "a finding in the slice that did not change: {w2}"
    );
    // The rollup merges both windows.
    assert_eq!(q["rollup"]["labelled"], 2 * WINDOW_ROWS as u64, "{q}");
    assert_eq!(q["rollup"]["windows"].as_array().unwrap().len(), 2, "{q}");

    // Metrics: after the restart the counters start at 0 again (the 500
    // labels acknowledged before the kill count again if the kill came
    // before they were joined); the gauges show the newest labelled window.
    let (_, metrics) = daemon.get("/metrics", None);
    let totals = join_totals(&daemon);
    assert!(totals[0] == 500 || totals[0] == 1000, "{totals:?}");
    assert_eq!(
        sample(
            &metrics,
            "assay_labels_joined_total",
            &[("model", "credit")]
        ),
        Some(totals[0] as f64)
    );
    assert_eq!(
        sample(
            &metrics,
            "assay_labels_unmatched_total",
            &[("reason", "unknown")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&metrics, "assay_label_coverage", &[("model", "credit")]),
        Some(1.0)
    );
    let accuracy = sample(
        &metrics,
        "assay_model_quality",
        &[("metric", "accuracy"), ("slice", "")],
    )
    .unwrap();
    assert_eq!(accuracy, w2["metrics"]["accuracy"].as_f64().unwrap());
    assert!(
        sample(
            &metrics,
            "assay_fairness_rate",
            &[("group", "sex=F"), ("rate", "selection_rate")]
        )
        .is_some()
    );
    assert!(
        sample(
            &metrics,
            "assay_findings_total",
            &[("check", "quality"), ("kind", "quality_degraded")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{metrics}"
    );
}

#[test]
fn bad_scores_are_rejected_with_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let batch = without_label(&rows(20));
    let mut body: Vec<Value> = serde_json::from_slice(&json_rows(&batch)).unwrap();
    body[7]["prediction"] = serde_json::json!(1.5);
    let (status, b) = daemon.post(
        "/v1/batches",
        "application/json",
        &serde_json::to_vec(&body).unwrap(),
        None,
    );
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["row"], 7, "{b}");
    assert_eq!(b["column"], "prediction", "{b}");
    let q = quality(&daemon);
    assert_eq!(q["windows"], serde_json::json!([]), "nothing stored: {q}");
}

/// The `[quality]` config of [`config`] with `extra` lines added to the
/// model (before its sections).
fn config_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = config(dir);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "request_id_column = \"application_id\"\n",
        &format!("request_id_column = \"application_id\"\n{extra}\n"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Posts the first `n` rows' predictions (without labels); their truth.
fn predictions(daemon: &Daemon, n: usize) -> Truth {
    let batch = rows(n);
    let (status, body) = daemon.post(
        "/v1/batches",
        "application/json",
        &json_rows(&without_label(&batch)),
        None,
    );
    assert_eq!(status, 200, "{body}");
    truth(&batch)
}

/// Nothing of a refused body was joined.
fn assert_none_labelled(daemon: &Daemon) {
    let q = quality(daemon);
    assert_eq!(window(&q, 0)["labelled"], 0, "{q}");
}

#[test]
fn a_third_class_of_a_binary_model_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&config(dir.path()), &dir.path().join("state"));
    let t = predictions(&daemon, 10);
    // The baseline made the task binary with classes 0 and 1: a `2` on
    // row 3 refuses the whole body, rows 0-2 included.
    let mut pairs: Vec<(String, i64)> = (0..5).map(|i| (t.ids[i].clone(), t.labels[i])).collect();
    pairs[3].1 = 2;
    for (ct, body) in [
        ("application/json", json_labels(&pairs)),
        ("application/x-ndjson", ndjson_labels(&pairs)),
    ] {
        let (status, b) = daemon.post("/v1/labels", ct, &body, None);
        assert_eq!(status, 400, "{b}");
        assert_eq!(b["row"], 3, "{b}");
        assert_eq!(b["column"], "label", "{b}");
        assert!(b["error"].as_str().unwrap().contains("third class"), "{b}");
    }
    // A non-integral float is not a class either.
    let (status, b) = daemon.post(
        "/v1/labels",
        "text/csv",
        format!("request_id,label\n{},1\n{},0.5\n", t.ids[0], t.ids[1]).as_bytes(),
        None,
    );
    assert_eq!(status, 400, "{b}");
    assert_eq!(
        (b["row"].as_u64(), b["column"].as_str()),
        (Some(1), Some("label")),
        "{b}"
    );
    assert_none_labelled(&daemon);

    // Inline labels in a batch are checked the same way: the batch is refused.
    let batch = rows(20).slice(10, 10);
    let mut body: Vec<Value> = serde_json::from_slice(&json_rows(&batch)).unwrap();
    body[4]["label"] = serde_json::json!(7);
    let (status, b) = daemon.post(
        "/v1/batches",
        "application/json",
        &serde_json::to_vec(&body).unwrap(),
        None,
    );
    assert_eq!(status, 400, "{b}");
    assert_eq!(
        (b["row"].as_u64(), b["column"].as_str()),
        (Some(4), Some("label")),
        "{b}"
    );

    // The right labels are joined.
    let good: Vec<(String, i64)> = (0..10).map(|i| (t.ids[i].clone(), t.labels[i])).collect();
    let (status, b) = daemon.post("/v1/labels", "application/json", &json_labels(&good), None);
    assert_eq!((status, b["accepted"].as_u64()), (200, Some(10)), "{b}");
    assert_eq!(join_totals(&daemon), [10, 0, 0, 0, 0]);
}

#[test]
fn a_label_outside_the_schema_domain_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let schema = path_of("examples/demo/schema.toml");
    let config = config_with(dir.path(), &format!("schema = \"{schema}\""));
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let t = predictions(&daemon, 10);
    // The schema's label domain is [0, 1].
    let mut pairs: Vec<(String, Option<i64>)> = (0..6)
        .map(|i| (t.ids[i].clone(), Some(t.labels[i])))
        .collect();
    pairs[5].1 = Some(-1);
    let (status, b) = daemon.post("/v1/labels", "text/csv", &csv_labels(&pairs), None);
    assert_eq!(status, 400, "{b}");
    assert_eq!(
        (b["row"].as_u64(), b["column"].as_str()),
        (Some(5), Some("label")),
        "{b}"
    );
    assert!(b["error"].as_str().unwrap().contains("domain"), "{b}");
    assert_none_labelled(&daemon);
}

#[test]
fn a_regression_label_must_be_a_number() {
    let dir = tempfile::tempdir().unwrap();
    // A regression baseline: the label is a float.
    let baseline = dir.path().join("baseline.csv");
    let mut csv = String::from("id,x,predicted,target\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "b{i},{},{},{}\n",
            i % 7,
            i as f64 * 0.5,
            i as f64 * 0.5 + 0.25
        ));
    }
    std::fs::write(&baseline, csv).unwrap();
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!(
            r#"[models.price]
baseline = "{}"
request_id_column = "id"

[models.price.checks]
per_batch = []
per_window = []

[models.price.quality]
label = "target"
prediction = "predicted"
task = "regression"
"#,
            baseline.display()
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let (status, b) = daemon.post(
        "/v1/batches?model=price",
        "application/json",
        br#"[{"id": "a", "x": 1, "predicted": 2.5}, {"id": "b", "x": 2, "predicted": 3.0}]"#,
        None,
    );
    assert_eq!(status, 200, "{b}");
    for (ct, body) in [
        (
            "application/json",
            &br#"[{"request_id": "a", "label": 2.0}, {"request_id": "b", "label": "high"}]"#[..],
        ),
        ("text/csv", &b"id,target\na,2.0\nb,high\n"[..]),
    ] {
        let (status, b) = daemon.post("/v1/models/price/labels", ct, body, None);
        assert_eq!(status, 400, "{ct}: {b}");
        assert_eq!(b["row"], 1, "{ct}: {b}");
        assert!(
            b["column"] == "label" || b["column"] == "target",
            "{ct}: {b}"
        );
    }
    let q = daemon.get_json("/v1/models/price/quality");
    assert_eq!(q["windows"][0]["labelled"], 0, "{q}");
    let (status, b) = daemon.post(
        "/v1/models/price/labels",
        "text/csv",
        b"id,target\na,2.0\nb,3.5\n",
        None,
    );
    assert_eq!((status, b["accepted"].as_u64()), (200, Some(2)), "{b}");
    let q = daemon.get_json("/v1/models/price/quality");
    assert_eq!(q["labels"]["joined"], 2, "{q}");
}

/// Waits until `dir` holds no file ready to process (dot- and .tmp files
/// aside), at most 30 s.
fn wait_drained(dir: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            e.file_type().unwrap().is_file() && !name.starts_with('.') && !name.ends_with(".tmp")
        })
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{} not drained",
            dir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn labels_from_spool_files_are_joined_or_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let config = config(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[spool]\ndir = \"{}\"\npoll_interval_ms = 50\n",
        spool.display()
    ));
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let t = predictions(&daemon, 30);
    let labels = spool.join("labels");
    let pairs = |r: std::ops::Range<usize>| -> Vec<(String, i64)> {
        r.map(|i| (t.ids[i].clone(), t.labels[i])).collect()
    };
    // Written under a .tmp name, then renamed in.
    let tmp = labels.join("a.json.tmp");
    std::fs::create_dir_all(&labels).unwrap();
    std::fs::write(&tmp, json_labels(&pairs(0..10))).unwrap();
    std::fs::rename(&tmp, labels.join("a.json")).unwrap();
    std::fs::write(labels.join("b.ndjson"), ndjson_labels(&pairs(10..20))).unwrap();
    // A third class on row 4: refused whole (rows 20-23 are not joined).
    let mut bad: Vec<(String, Option<i64>)> = (20..30)
        .map(|i| (t.ids[i].clone(), Some(t.labels[i])))
        .collect();
    bad[4].1 = Some(2);
    std::fs::write(labels.join("c.csv"), csv_labels(&bad)).unwrap();
    std::fs::write(labels.join("d.txt"), "hello").unwrap();
    wait_drained(&labels);
    assert!(labels.join("done/a.json").exists(), "{}", daemon.log());
    assert!(labels.join("done/b.ndjson").exists(), "{}", daemon.log());
    let why = std::fs::read_to_string(labels.join("failed/c.csv.error.txt")).unwrap();
    assert!(
        why.contains("row 4") && why.contains("`label`") && why.contains("third class"),
        "{why}"
    );
    let why = std::fs::read_to_string(labels.join("failed/d.txt.error.txt")).unwrap();
    assert!(why.contains("unknown file type"), "{why}");
    let q = quality(&daemon);
    assert_eq!(window(&q, 0)["labelled"], 20, "{q}");
    let (_, metrics) = daemon.get("/metrics", None);
    assert_eq!(
        sample(
            &metrics,
            "assay_labels_joined_total",
            &[("model", "credit")]
        ),
        Some(20.0)
    );
}

#[test]
fn quality_findings_of_a_final_window_go_through_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let hook = alerts::Hook::start(0, None);
    let config = config(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        r#"
[alerts]
base_url = "http://assay.example:9464"

[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "500ms"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{}"

[[alerts.routes]]
name = "model-quality"
receivers = ["hook"]
checks = ["quality"]
group_by = ["model", "check", "slice"]
"#,
        hook.url()
    ));
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    // One window of predictions; every label in, the model wrong inside
    // sex=F: the window turns final with a quality degradation there.
    let batch = rows(WINDOW_ROWS);
    let t = truth(&batch);
    for chunk in daemon::chunks(&without_label(&batch), 500) {
        let (status, body) =
            daemon.post("/v1/batches", "application/json", &json_rows(&chunk), None);
        assert_eq!(status, 200, "{body}");
    }
    let scores = batch
        .column_by_name("prediction")
        .unwrap()
        .as_primitive::<Float64Type>();
    let labels: Vec<(String, i64)> = (0..WINDOW_ROWS)
        .map(|i| {
            let label = if t.sex[i] == "F" {
                i64::from(scores.value(i) < 0.5)
            } else {
                t.labels[i]
            };
            (t.ids[i].clone(), label)
        })
        .collect();
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &json_labels(&labels),
        None,
    );
    assert_eq!(
        (s, b["accepted"].as_u64()),
        (200, Some(WINDOW_ROWS as u64)),
        "{b}"
    );
    let got = hook.wait_for(std::time::Duration::from_secs(30), |r| {
        r.iter().any(|r| r.body["group"]["slice"] == "sex=F")
    });
    let bodies: Vec<&Value> = got.iter().map(|r| &r.body).collect();
    let degraded = bodies
        .iter()
        .find(|b| b["group"]["slice"] == "sex=F")
        .unwrap_or_else(|| panic!("no quality alert for sex=F: {bodies:?}\n{}", daemon.log()));
    assert_eq!(degraded["status"], "firing", "{degraded}");
    assert_eq!(degraded["model"], "credit", "{degraded}");
    assert_eq!(degraded["group"]["check"], "quality", "{degraded}");
    let findings = degraded["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f["check"] == "quality" && f["slice"] == "sex=F"),
        "{degraded}"
    );
    assert!(
        findings.iter().any(|f| f["kind"] == "quality_degraded"),
        "{degraded}"
    );
    // Only quality findings reach this route: nothing for sex=M, nothing
    // of fairness.
    for b in &bodies {
        assert_eq!(b["group"]["check"], "quality", "{b}");
        assert_ne!(b["group"]["slice"], "sex=M", "{b}");
    }
    // And the alert is listed.
    let listed = daemon.get_json("/v1/alerts");
    assert!(
        listed["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["route"] == "model-quality" && a["state"] == "firing"),
        "{listed}"
    );
}

/// Labels are acknowledged (appended, synced) and joined afterwards: a
/// `kill -9` right after the 200 loses none of them, `duplicates =
/// "first"` keeps the first label of an id across bodies and restarts,
/// unknown ids are counted once, and a window restarted mid-maturation
/// goes on maturing.
#[test]
fn acknowledged_labels_survive_kill9_before_they_are_joined() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "label_ttl = \"1d\"",
        "label_ttl = \"1d\"\nduplicates = \"first\"",
    );
    std::fs::write(&config, text).unwrap();
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, &state);
    let n = 40;
    let batch = rows(n);
    let t = predictions(&daemon, n);
    let pairs = |r: std::ops::Range<usize>| -> Vec<(String, i64)> {
        r.map(|i| (t.ids[i].clone(), t.labels[i])).collect()
    };
    // Rows 0..10, then a wrong second label of row 0 and two unknown ids,
    // each body acknowledged and the daemon killed at once.
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &json_labels(&pairs(0..10)),
        None,
    );
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(10)), "{b}");
    let mut second = vec![(t.ids[0].clone(), 1 - t.labels[0])];
    second.push(("nobody-1".into(), 1));
    second.push(("nobody-2".into(), 0));
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &json_labels(&second),
        None,
    );
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(3)), "{b}");
    daemon.kill9();

    let mut daemon = Daemon::start(&config, &state);
    // Joined after the restart (or before the kill, by the timer): the
    // totals of this run are all or nothing of them.
    let totals = join_totals(&daemon);
    assert!(totals == [10, 0, 2, 0, 1] || totals == [0; 5], "{totals:?}");
    let q = quality(&daemon);
    let w = window(&q, 0);
    assert_eq!(w["predictions"], n as u64, "{w}");
    assert_eq!(w["labelled"], 10, "{w}");
    assert_eq!(w["final"], false, "{w}");
    // The first label of row 0 was kept: the window's quality is the
    // library's on rows 0..10 with their true labels.
    let labelled: Vec<bool> = (0..n).map(|i| i < 10).collect();
    let expected = expected_metrics(&batch, &labelled, &t.labels);
    for metric in ["accuracy", "log_loss", "brier"] {
        let got = w["metrics"][metric].as_f64().unwrap();
        assert!(
            (got - expected[metric]).abs() < 1e-12,
            "{metric}: {got} vs {}",
            expected[metric]
        );
    }

    // Mid-maturation: rows 10..25 acknowledged, kill -9, restart.
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &json_labels(&pairs(10..25)),
        None,
    );
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(15)), "{b}");
    daemon.kill9();
    let daemon = Daemon::start(&config, &state);
    let q = quality(&daemon);
    let w = window(&q, 0);
    assert_eq!(w["labelled"], 25, "{w}");
    assert_eq!(w["label_coverage"], 25.0 / n as f64, "{w}");
    // The rest, and again row 0 (a duplicate: the first stays).
    let mut rest = pairs(25..n);
    rest.push((t.ids[0].clone(), 1 - t.labels[0]));
    let (s, _) = daemon.post("/v1/labels", "application/json", &json_labels(&rest), None);
    assert_eq!(s, 200);
    // Rows 10..25 count in this run's totals unless the timer joined them
    // before the kill.
    let totals = join_totals(&daemon);
    assert!(
        totals == [30, 0, 0, 0, 1] || totals == [15, 0, 0, 0, 1],
        "{totals:?}"
    );
    let q = quality(&daemon);
    let w = window(&q, 0);
    assert_eq!(w["labelled"], n as u64, "{w}");
    assert_eq!(w["final"], true, "{w}");
    let expected = expected_metrics(&batch, &vec![true; n], &t.labels);
    let got = w["metrics"]["accuracy"].as_f64().unwrap();
    assert!((got - expected["accuracy"]).abs() < 1e-12, "{got}");
}

/// A label that comes more than `label_ttl` after its window's last
/// prediction is `expired`, and the window is final.
#[test]
fn labels_after_the_ttl_are_expired() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("label_ttl = \"1d\"", "label_ttl = \"1s\"");
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let t = predictions(&daemon, 20);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let late: Vec<(String, i64)> = (0..20).map(|i| (t.ids[i].clone(), t.labels[i])).collect();
    let (s, b) = daemon.post("/v1/labels", "application/json", &json_labels(&late), None);
    assert_eq!((s, b["accepted"].as_u64()), (200, Some(20)), "{b}");
    assert_eq!(join_totals(&daemon), [0, 0, 0, 20, 0]);
    let q = quality(&daemon);
    let w = window(&q, 0);
    assert_eq!(
        (w["labelled"].as_u64(), w["final"].as_bool()),
        (Some(0), Some(true)),
        "{w}"
    );
    let (_, metrics) = daemon.get("/metrics", None);
    assert_eq!(
        sample(
            &metrics,
            "assay_labels_unmatched_total",
            &[("reason", "expired")]
        ),
        Some(20.0)
    );
}

/// Final windows are rolled up per minute, hour and day in the state
/// directory; after the windows left the store (two `label_ttl`s) and the
/// daemon restarted, `GET /quality` still answers for them, from their
/// reports and the rollups, with the same figures.
#[test]
fn quality_answers_from_rollups_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("label_ttl = \"1d\"", "label_ttl = \"1s\"");
    std::fs::write(&config, text).unwrap();
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, &state);
    let batch = rows(2 * WINDOW_ROWS);
    let t = truth(&batch);
    for chunk in daemon::chunks(&without_label(&batch), 500) {
        let (status, body) =
            daemon.post("/v1/batches", "application/json", &json_rows(&chunk), None);
        assert_eq!(status, 200, "{body}");
    }
    let all: Vec<(String, i64)> = (0..2 * WINDOW_ROWS)
        .map(|i| (t.ids[i].clone(), t.labels[i]))
        .collect();
    let (s, b) = daemon.post("/v1/labels", "application/json", &json_labels(&all), None);
    assert_eq!(s, 200, "{b}");
    let before = quality(&daemon);
    assert_eq!(
        before["rollup"]["labelled"],
        2 * WINDOW_ROWS as u64,
        "{before}"
    );
    assert_eq!(window(&before, 1)["final"], true, "{before}");
    // The rollup equals the library's on all the rows.
    let expected = expected_metrics(&batch, &vec![true; 2 * WINDOW_ROWS], &t.labels);
    let got = before["rollup"]["quality"]["metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!((got - expected["accuracy"]).abs() < 1e-12, "{got}");
    let rollups = state.join("models/credit/quality/rollups");
    let days: Vec<String> = std::fs::read_dir(&rollups)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("day-"))
        .collect();
    assert!(!days.is_empty(), "no day rollup in {}", rollups.display());
    // Two label_ttls later the windows leave the store.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = quality(&daemon);
    daemon.kill9();
    let pending = state.join("models/credit/quality/pending");
    let left: Vec<String> = std::fs::read_dir(&pending)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pred"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let daemon = Daemon::start(&config, &state);
    let after = quality(&daemon);
    assert_eq!(after["windows"].as_array().unwrap().len(), 2, "{after}");
    assert_eq!(
        after["rollup"]["labelled"], before["rollup"]["labelled"],
        "{after}"
    );
    assert_eq!(
        after["rollup"]["quality"]["metrics"], before["rollup"]["quality"]["metrics"],
        "{after}"
    );
}
