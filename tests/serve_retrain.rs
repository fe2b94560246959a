//! The daemon's side of the retraining loop, end to end on loopback: the
//! real `assay serve`, a real axum receiver that checks the HMAC
//! signature, the example data with its ages shifted (drift) — one signed
//! webhook with the payload the job runner reads, the same delivery id on
//! every retry, in flight and cooldown suppressing (and counted), the
//! policy's state surviving a restart, a retrain by hand; and
//! `POST /v1/models/NAME/baseline` replacing the baseline (a bad profile
//! refused, the old one kept), also after a restart.

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alerts::Hook;
use arrow::array::{AsArray, Int64Array, RecordBatch};
use arrow::datatypes::Int64Type;
use daemon::{Daemon, json_rows, path_of};
use serde_json::Value;

const SECRET: &str = "retrain-hook-secret";
const WINDOW_ROWS: usize = 1000;

fn config(dir: &Path, hook: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("hook.secret"), format!("{SECRET}\n")).unwrap();
    let path = dir.join("assay.toml");
    std::fs::write(
        &path,
        format!(
            r#"[models.credit]
baseline = "{train}"
suites = ["{suite}"]

[models.credit.window]
rows = {WINDOW_ROWS}

[models.credit.checks]
per_batch = []
per_window = ["skew"]

[models.credit.retrain]
on = ["skew", "manual"]
features = ["age"]
cooldown = "1h"
url = "{hook}"
secret_file = "hook.secret"
{extra}
"#,
            train = path_of("examples/data/train.parquet"),
            suite = path_of("expectations/credit.toml"),
        ),
    )
    .unwrap();
    path
}

/// `WINDOW_ROWS` serving rows, `age` shifted by `shift` years.
fn window_rows(skip: usize, shift: i64) -> RecordBatch {
    let file = std::fs::File::open(path_of("examples/data/serving.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(8192)
        .build()
        .unwrap();
    let all: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let serving = arrow::compute::concat_batches(&all[0].schema(), &all).unwrap();
    let batch = serving.slice(skip % (serving.num_rows() - WINDOW_ROWS), WINDOW_ROWS);
    let age = batch
        .column_by_name("age")
        .unwrap()
        .as_primitive::<Int64Type>();
    let shifted: Int64Array = age.iter().map(|v| v.map(|v| v + shift)).collect();
    let i = batch.schema().index_of("age").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[i] = Arc::new(shifted);
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

fn send_window(daemon: &Daemon, n: usize, shift: i64) {
    let (status, body) = daemon.post(
        "/v1/models/credit/batches",
        "application/json",
        &json_rows(&window_rows(n * WINDOW_ROWS, shift)),
        None,
    );
    assert_eq!(status, 200, "{body}");
    // The close (and the policy's judgement) is published before reads.
    daemon.get_json("/v1/windows");
}

fn metric(daemon: &Daemon, series: &str) -> f64 {
    let (_, text) = daemon.get("/metrics", None);
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

fn triggers(daemon: &Daemon, reason: &str, outcome: &str) -> f64 {
    metric(
        daemon,
        &format!(
            "assay_retrain_triggers_total{{model=\"credit\",outcome=\"{outcome}\",reason=\"{reason}\"}}"
        ),
    )
}

#[test]
fn drift_fires_one_signed_webhook_then_in_flight_and_cooldown_suppress() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some(SECRET));
    // The receiver is down at first: retries carry the same delivery id.
    hook.state.status.store(503, Ordering::SeqCst);
    let config = config(dir.path(), &hook.url(), "");
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, &state);

    // Two clean windows: nothing fires.
    send_window(&daemon, 0, 0);
    send_window(&daemon, 1, 0);
    assert_eq!(triggers(&daemon, "skew", "fired"), 0.0);
    assert!(hook.received().is_empty());

    // The two clean windows' partitions are written (by the state writer,
    // after their closes).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while daemon.get_json("/v1/models/credit/data")["partitions"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Ages ten years up: the skew on `age` fires one retrain.
    send_window(&daemon, 2, 10);
    assert_eq!(triggers(&daemon, "skew", "fired"), 1.0, "{}", daemon.log());
    let got = hook.wait_for(Duration::from_secs(20), |r| r.len() >= 2);
    assert!(got.len() >= 2, "retried: {got:?}");
    hook.state.status.store(200, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while metric(
        &daemon,
        "assay_retrain_webhooks_total{model=\"credit\",outcome=\"sent\"}",
    ) < 1.0
    {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = hook.received();
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|r| r.delivery_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one delivery id across retries: {ids:?}");
    for r in &got {
        assert!(r.signature_ok, "HMAC-SHA256 of timestamp.body: {r:?}");
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!((r.received_unix - ts).abs() <= 5, "a fresh timestamp");
        assert_eq!(r.raw, got[0].raw, "the same body on every retry");
    }

    // The payload the retrain job reads.
    let p = &got[0].body;
    assert_eq!(p["version"], 1, "{p}");
    assert_eq!(p["model"], "credit");
    assert_eq!(p["delivery_id"], got[0].delivery_id.as_str());
    assert_eq!(p["reason"]["trigger"], "skew");
    let features: Vec<&str> = p["reason"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["feature"].as_str())
        .collect();
    assert_eq!(features, ["age"], "{p}");
    let windows = daemon.get_json("/v1/windows");
    let third = &windows["windows"][2];
    assert_eq!(p["windows"]["from"], third["start"], "{p}");
    assert_eq!(p["windows"]["to"], third["end"], "{p}");
    let data: Vec<&str> = p["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    // The clean windows' partitions at least (the third's is written just
    // after its close), each a file of the data directory.
    assert!(data.len() >= 2, "{p}");
    for d in &data {
        assert!(Path::new(d).is_file(), "{d}");
        assert!(d.contains("/models/credit/data/date="), "{d}");
    }
    assert_eq!(p["baseline"], path_of("examples/data/train.parquet"));
    assert_eq!(p["schema"], Value::Null);
    assert_eq!(p["suites"][0], path_of("expectations/credit.toml"));
    assert_eq!(p["champion"], Value::Null);
    let callback = p["callback_url"].as_str().unwrap();
    assert_eq!(
        callback,
        format!(
            "http://127.0.0.1:{}/v1/models/credit/retrain/result",
            daemon.port
        )
    );

    // Still skewed, not answered: suppressed as in flight.
    send_window(&daemon, 3, 10);
    assert_eq!(triggers(&daemon, "skew", "suppressed_in_flight"), 1.0);
    assert_eq!(
        metric(&daemon, "assay_retrain_in_flight{model=\"credit\"}"),
        1.0
    );
    // The job answers on the callback: within the cooldown now.
    let (status, body) = daemon.post(
        "/v1/models/credit/retrain/result",
        "application/json",
        format!(
            r#"{{"delivery_id": "{}", "outcome": "rejected"}}"#,
            got[0].delivery_id
        )
        .as_bytes(),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["was_in_flight"], true);
    send_window(&daemon, 4, 10);
    assert_eq!(triggers(&daemon, "skew", "suppressed_cooldown"), 1.0);
    assert_eq!(triggers(&daemon, "skew", "fired"), 1.0);
    assert!(
        daemon.log().contains("retrain suppressed cooldown"),
        "logged"
    );

    // The cooldown survives a restart.
    daemon.kill9();
    let daemon = Daemon::start(&config, &state);
    send_window(&daemon, 5, 10);
    assert_eq!(
        triggers(&daemon, "skew", "suppressed_cooldown"),
        1.0,
        "{}",
        daemon.log()
    );
    assert_eq!(
        triggers(&daemon, "skew", "fired"),
        0.0,
        "counters start over"
    );
    let status = daemon.get_json("/v1/models/credit/retrain");
    assert_eq!(status["in_flight"], Value::Null, "{status}");

    // By hand: the cooldown does not apply, a retrain in flight does.
    let (s, b) = daemon.post("/v1/models/credit/retrain", "application/json", b"", None);
    assert_eq!(s, 202, "{b}");
    let manual_id = b["delivery_id"].as_str().unwrap().to_string();
    let (s, b) = daemon.post("/v1/models/credit/retrain", "application/json", b"", None);
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["outcome"], "suppressed_in_flight");
    let got = hook.wait_for(Duration::from_secs(20), |r| {
        r.iter().any(|r| r.delivery_id == manual_id)
    });
    let manual = got.iter().find(|r| r.delivery_id == manual_id).unwrap();
    assert!(manual.signature_ok);
    assert_eq!(manual.body["reason"]["trigger"], "manual");
    assert_eq!(manual.body["reason"]["findings"], serde_json::json!([]));
    assert!(manual.body["windows"]["to"].is_string());
    assert_eq!(triggers(&daemon, "manual", "fired"), 1.0);
    assert_eq!(triggers(&daemon, "manual", "suppressed_in_flight"), 1.0);
}

/// Fires a retrain by hand and returns the webhook's body.
fn manual_retrain(daemon: &Daemon, hook: &Hook) -> Value {
    let (s, b) = daemon.post("/v1/models/credit/retrain", "application/json", b"", None);
    assert_eq!(s, 202, "{b}");
    let id = b["delivery_id"].as_str().unwrap().to_string();
    let got = hook.wait_for(Duration::from_secs(20), |r| {
        r.iter().any(|r| r.delivery_id == id)
    });
    got.into_iter().find(|r| r.delivery_id == id).unwrap().body
}

fn answer(daemon: &Daemon, body: &str) {
    let (status, b) = daemon.post(
        "/v1/models/credit/retrain/result",
        "application/json",
        body.as_bytes(),
        None,
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["was_in_flight"], true, "{b}");
}

#[test]
fn the_webhook_names_the_config_champion_then_the_last_promoted_one() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some(SECRET));
    let config = config(
        dir.path(),
        &hook.url(),
        r#"champion = { version = "v7", path = "/models/credit/v7" }"#,
    );
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, &state);

    let p = manual_retrain(&daemon, &hook);
    assert_eq!(
        p["champion"],
        serde_json::json!({"version": "v7", "path": "/models/credit/v7", "metrics": null, "source": "config"}),
        "{p}"
    );
    // A rejected challenger changes nothing.
    answer(
        &daemon,
        &format!(
            r#"{{"delivery_id": "{}", "outcome": "rejected", "version": 3}}"#,
            p["delivery_id"].as_str().unwrap()
        ),
    );
    let status = daemon.get_json("/v1/models/credit/retrain");
    assert_eq!(status["champion"]["version"], "v7", "{status}");

    // A promoted one is the champion from now on, across a restart.
    let p = manual_retrain(&daemon, &hook);
    assert_eq!(p["champion"]["source"], "config");
    answer(
        &daemon,
        &format!(
            r#"{{"delivery_id": "{}", "outcome": "promoted", "version": 8,
                "model_dir": "/registry/models/credit/versions/8", "metrics": {{"roc_auc": 0.91}}}}"#,
            p["delivery_id"].as_str().unwrap()
        ),
    );
    daemon.kill9();
    let daemon = Daemon::start(&config, &state);
    let p = manual_retrain(&daemon, &hook);
    let c = &p["champion"];
    assert_eq!(c["version"], 8, "{p}");
    assert_eq!(c["path"], "/registry/models/credit/versions/8");
    assert_eq!(c["metrics"]["roc_auc"], 0.91);
    assert_eq!(c["source"], "result");
    assert_eq!(
        c["delivery_id"],
        daemon.get_json("/v1/models/credit/retrain")["champion"]["delivery_id"]
    );
}

#[test]
fn a_wrong_secret_is_what_receivers_catch_and_a_refusal_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    // The receiver knows another secret, and refuses (401) what it cannot
    // verify; a refusal is not retried, and the retrain is not in flight.
    let hook = Hook::start(0, Some("another secret"));
    hook.state.status.store(401, Ordering::SeqCst);
    let config = config(dir.path(), &hook.url(), "");
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let (s, b) = daemon.post("/v1/models/credit/retrain", "application/json", b"", None);
    assert_eq!(s, 202, "{b}");
    let got = hook.wait_for(Duration::from_secs(20), |r| !r.is_empty());
    assert_eq!(got.len(), 1);
    assert!(!got[0].signature_ok);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while metric(
        &daemon,
        "assay_retrain_webhooks_total{model=\"credit\",outcome=\"dead_lettered\"}",
    ) < 1.0
    {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        metric(&daemon, "assay_retrain_in_flight{model=\"credit\"}"),
        0.0
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hook.received().len(), 1, "a refusal is not retried");
    assert!(dir.path().join("state/retrain/dead/credit").is_dir());
}

/// A profile as `assay profile --format json` writes it, of the serving
/// rows with ages shifted.
fn shifted_profile(dir: &Path) -> Vec<u8> {
    let data = dir.join("shifted.parquet");
    let batch = window_rows(0, 10);
    let file = std::fs::File::create(&data).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let out = dir.join("shifted.profile.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["profile", "-o"])
        .arg(&out)
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[test]
fn a_posted_training_profile_becomes_the_baseline_and_a_bad_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let config = config(dir.path(), "http://127.0.0.1:9/hook", "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("[auth]\ntoken_file = \"{}\"\n{text}", token.display()),
    )
    .unwrap();
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, &state);
    let post = |d: &Daemon, body: &[u8], tok: Option<&str>| {
        d.post("/v1/models/credit/baseline", "application/json", body, tok)
    };
    let profile = shifted_profile(dir.path());

    assert_eq!(post(&daemon, &profile, None).0, 401, "the bearer token");
    let (s, b) = post(&daemon, b"{not json", Some("t0ken"));
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap().contains("not valid JSON"),
        "{b}"
    );
    // A profile without the model's columns.
    let mut thin: Value = serde_json::from_slice(&profile).unwrap();
    thin["columns"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] != "age");
    let (s, b) = post(&daemon, thin.to_string().as_bytes(), Some("t0ken"));
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap().contains("no column `age`"),
        "{b}"
    );
    // The old baseline stays: shifted ages are skewed against it.
    let send = |d: &Daemon, n: usize| {
        let (status, body) = d.post(
            "/v1/models/credit/batches",
            "application/json",
            &json_rows(&window_rows(n * WINDOW_ROWS, 10)),
            Some("t0ken"),
        );
        assert_eq!(status, 200, "{body}");
    };
    let latest = |d: &Daemon| -> Value {
        let (s, text) = d.get("/v1/reports/latest", Some("t0ken"));
        assert_eq!(s, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    let age_skewed = |v: &Value| {
        v["skew"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "age" && f["drifted"] == true)
    };
    send(&daemon, 0);
    assert!(age_skewed(&latest(&daemon)));

    // The shifted profile: shifted windows are no longer skewed on age.
    let (s, b) = post(&daemon, &profile, Some("t0ken"));
    assert_eq!(s, 200, "{b}");
    let kept = state.join("models/credit/baseline.profile.json");
    assert_eq!(b["baseline"], kept.display().to_string());
    assert!(kept.is_file());
    send(&daemon, 1);
    assert!(!age_skewed(&latest(&daemon)), "{}", latest(&daemon)["skew"]);
    assert!(daemon.log().contains("baseline replaced"));

    // A restart keeps it, and the next webhook names it.
    daemon.kill9();
    let daemon = Daemon::start(&config, &state);
    send(&daemon, 2);
    assert!(!age_skewed(&latest(&daemon)));
    let (s, b) = daemon.get("/v1/models/credit/retrain", Some("t0ken"));
    assert_eq!(s, 200, "{b}");
}

#[test]
fn a_window_whose_final_quality_degraded_fires_a_quality_retrain() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some(SECRET));
    let config = config(dir.path(), &hook.url(), "");
    // Quality instead of skew: labels joined to predictions.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("on = [\"skew\", \"manual\"]", "on = [\"quality\"]")
        .replace(
            "[models.credit]\n",
            "[models.credit]\nrequest_id_column = \"application_id\"\n",
        );
    std::fs::write(
        &config,
        format!(
            "{text}\n[models.credit.quality]\nlabel = \"label\"\nscore = \"prediction\"\nlabel_ttl = \"1d\"\n"
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let file = std::fs::File::open(path_of("examples/data/train.parquet")).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(2 * WINDOW_ROWS)
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let ids = batch
        .column_by_name("application_id")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let labels = batch
        .column_by_name("label")
        .unwrap()
        .as_primitive::<Int64Type>()
        .clone();
    let mut unlabelled = batch.clone();
    unlabelled.remove_column(batch.schema().index_of("label").unwrap());
    for w in 0..2 {
        let (s, b) = daemon.post(
            "/v1/models/credit/batches",
            "application/json",
            &json_rows(&unlabelled.slice(w * WINDOW_ROWS, WINDOW_ROWS)),
            None,
        );
        assert_eq!(s, 200, "{b}");
    }
    // Window 1 labelled as it was; window 2 with every label flipped.
    let body: Vec<Value> = (0..2 * WINDOW_ROWS)
        .map(|i| {
            let l = labels.value(i);
            serde_json::json!({
                "request_id": ids.value(i),
                "label": if i < WINDOW_ROWS { l } else { 1 - l },
            })
        })
        .collect();
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &serde_json::to_vec(&body).unwrap(),
        None,
    );
    assert_eq!(s, 200, "{b}");
    let got = hook.wait_for(Duration::from_secs(30), |r| !r.is_empty());
    assert_eq!(got.len(), 1, "{}", daemon.log());
    let p = &got[0].body;
    assert!(got[0].signature_ok);
    assert_eq!(p["reason"]["trigger"], "quality", "{p}");
    assert!(
        p["reason"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] == "quality_degraded"),
        "{p}"
    );
    // The window's predictions, first to last.
    assert!(
        p["windows"]["from"].is_string() && p["windows"]["to"].is_string(),
        "{p}"
    );
    // The decision is counted once it is queued and saved; the webhook can
    // arrive first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while triggers(&daemon, "quality", "fired") < 1.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(triggers(&daemon, "quality", "fired"), 1.0);
    // Window 1 raised nothing to decide on.
    assert_eq!(triggers(&daemon, "quality", "skipped"), 0.0);
}
