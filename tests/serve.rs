//! The daemon end to end: the real `assay serve` binary on loopback, driven
//! by a real HTTP client (ureq) with the example data — ingest, windows,
//! reports, metrics, limits, authentication, and crash safety (SIGKILL in
//! the middle of ingest, damaged state files, SIGTERM).

mod common;
#[path = "common/daemon.rs"]
mod daemon;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{AsArray, Int64Array, RecordBatch};
use arrow::datatypes::Int64Type;
use common::{SERVING, TRAIN, read_parquet, replace_column};
use daemon::{Daemon, agent, json_rows, path_of};
use serde_json::Value;

/// Sends SIGTERM and waits for the exit.
fn terminate(daemon: &mut Daemon) -> std::process::ExitStatus {
    let pid = daemon.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes a config for the credit model into `dir`.
fn config(dir: &Path, window_rows: u64, extra_top: &str) -> PathBuf {
    let path = dir.join("assay.toml");
    let text = format!(
        r#"{extra_top}
[limits]
max_body_bytes = 4000000
queue_depth = 16

[models.credit]
baseline = "{train}"
suites = ["{suite}"]

[models.credit.window]
rows = {window_rows}

[models.credit.checks]
per_batch = ["expectations"]
per_window = ["expectations", "skew", "drift"]
"#,
        train = path_of(TRAIN),
        suite = path_of("expectations/credit.toml"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The serving data in batches of `rows`, `age` shifted by `shift`.
fn serving_batches(rows: usize, shift: i64) -> Vec<RecordBatch> {
    let serving = read_parquet(SERVING);
    let age = serving
        .column_by_name("age")
        .unwrap()
        .as_primitive::<Int64Type>();
    let shifted: Int64Array = age.iter().map(|v| v.map(|v| v + shift)).collect();
    let serving = replace_column(&serving, "age", Arc::new(shifted));
    (0..serving.num_rows())
        .step_by(rows)
        .map(|start| serving.slice(start, rows.min(serving.num_rows() - start)))
        .collect()
}

#[test]
fn ingest_closes_windows_with_skew_reports_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4000, "");
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    let batches = serving_batches(1000, 8);
    for batch in &batches {
        let (status, body) = daemon.post(
            "/v1/models/credit/batches",
            "application/json",
            &json_rows(batch),
            None,
        );
        assert_eq!(status, 200, "{body}\n{}", daemon.log());
        assert_eq!(body["batch"]["rows"], 1000);
        assert!(body.get("success").is_some(), "validate's shape: {body}");
    }
    let windows = daemon.get_json("/v1/windows");
    let list = windows["windows"].as_array().unwrap();
    let closed: Vec<&Value> = list.iter().filter(|w| w["state"] == "closed").collect();
    assert_eq!(closed.len(), 2, "{windows}");
    for w in &closed {
        assert_eq!(w["rows"], 4000);
        for key in ["id", "model", "start", "end"] {
            assert!(w[key].is_string(), "{key} in {w}");
        }
    }
    let open = list.iter().find(|w| w["state"] == "open").unwrap();
    assert_eq!(open["rows"], 2000);
    let latest = daemon.get_json("/v1/reports/latest");
    let drifted: Vec<&str> = latest["skew"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["drifted"] == true)
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, vec!["age"], "{}", latest["skew"]);
    assert!(
        latest["drift"].is_object(),
        "second window drifts against the first"
    );
    // The window runs the suite's table and aggregate expectations (the
    // row-level ones ran per batch): every one is answered from the
    // window's profile, none raises.
    let results = latest["validation"]["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{}", latest["validation"]);
    for r in results {
        assert_eq!(r["exception_info"]["raised_exception"], false, "{r}");
    }
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["expectation_config"]["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"expect_column_mean_to_be_between"),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&"expect_column_values_to_be_between"),
        "{kinds:?}"
    );
    let id = closed[0]["id"].as_str().unwrap();
    let first = daemon.get_json(&format!("/v1/reports/{id}"));
    assert_eq!(first["id"], id);
    assert!(first["drift"].is_null(), "no previous window for the first");
    let (status, metrics) = daemon.get("/metrics", None);
    assert_eq!(status, 200);
    for want in [
        "assay_rows_ingested_total{model=\"credit\"} 10000",
        "assay_batches_ingested_total{model=\"credit\"} 10",
        "assay_window_closes_total{model=\"credit\"} 2",
        "assay_window_rows{model=\"credit\"} 2000",
        "process_resident_memory_bytes",
        "assay_ingest_latency_seconds_bucket",
        "assay_window_close_duration_seconds_count{model=\"credit\"} 2",
    ] {
        assert!(metrics.contains(want), "{want} not in:\n{metrics}");
    }
    let age_skew = metrics
        .lines()
        .find(|l| {
            l.starts_with("assay_feature_drifted{")
                && l.contains("feature=\"age\"")
                && l.contains("check=\"skew\"")
                && l.contains("slice=\"\"")
        })
        .unwrap_or_else(|| panic!("no age skew verdict in:\n{metrics}"));
    assert!(age_skew.ends_with(" 1"), "{age_skew}");
}

/// Window closes run on the model's closer thread, after the filling batch
/// is answered; a read that follows the answer still sees the window closed,
/// its report and its metrics.
#[test]
fn a_read_right_after_the_filling_batch_sees_the_closed_window() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1000, "");
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    let batches = serving_batches(500, 0);
    for (i, pair) in batches.chunks(2).take(6).enumerate() {
        for batch in pair {
            let (status, body) =
                daemon.post("/v1/batches", "application/json", &json_rows(batch), None);
            assert_eq!(status, 200, "{body}\n{}", daemon.log());
        }
        let window = format!("credit-{:06}", i + 1);
        let latest = daemon.get_json("/v1/reports/latest");
        assert_eq!(latest["id"], window.as_str(), "{latest}");
        assert_eq!(latest["rows"], 1000);
        let (status, _) = daemon.get(&format!("/v1/reports/{window}"), None);
        assert_eq!(status, 200);
        let windows = daemon.get_json("/v1/windows");
        let closed = windows["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["state"] == "closed")
            .count();
        assert_eq!(closed, i + 1, "{windows}");
        let (_, metrics) = daemon.get("/metrics", None);
        assert_eq!(
            metric(&metrics, "assay_window_closes_total{model=\"credit\"}"),
            Some((i + 1) as f64),
            "{metrics}"
        );
    }
}

#[test]
fn bad_requests_get_clear_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 100_000, "");
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    // Malformed JSON: 400 naming where.
    let (status, body) = daemon.post(
        "/v1/batches",
        "application/json",
        b"[{\"age\": 1}, {\"age\": ",
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("line"), "{body}");
    // A value of the wrong type: 400 naming the row and column.
    let (status, body) = daemon.post(
        "/v1/batches",
        "application/json",
        br#"[{"age": 31}, {"age": "old"}]"#,
        None,
    );
    assert_eq!(status, 400, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("row 1") && msg.contains("age"), "{msg}");
    // Unknown model, unknown content type.
    let (status, _) = daemon.post("/v1/models/nope/batches", "application/json", b"[{}]", None);
    assert_eq!(status, 404);
    let (status, body) = daemon.post("/v1/batches", "image/png", b"\x89PNG", None);
    assert_eq!(status, 400, "{body}");
    // Too large: 413.
    assert_eq!(post_oversized(&daemon, 5_000_000), 413);
    // A bad batch does not poison the window: a good one still goes in.
    let batch = &serving_batches(500, 0)[0];
    let (status, body) = daemon.post("/v1/batches", "application/json", &json_rows(batch), None);
    assert_eq!(status, 200, "{body}");
    let windows = daemon.get_json("/v1/windows");
    assert_eq!(windows["windows"][0]["rows"], 500, "{windows}");
    let (_, metrics) = daemon.get("/metrics", None);
    assert!(
        metrics.contains("assay_batches_rejected_total{model=\"credit\",reason=\"malformed\"} 3"),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "assay_batches_rejected_total{model=\"credit\",reason=\"too_large\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
}

/// A large JSON body posted alone is decoded on two cores (in halves): the
/// window gets every row once, and a bad value in the second half is still
/// reported at its row of the whole body.
#[test]
fn a_large_json_body_alone_counts_every_row_and_reports_bad_rows_by_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 100_000, "");
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    let all = read_parquet(SERVING);
    let serving = all.slice(0, 3000.min(all.num_rows()));
    let body = json_rows(&serving);
    assert!(body.len() > 64 << 10, "large enough to be cut in halves");
    let (status, answer) = daemon.post("/v1/batches", "application/json", &body, None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["batch"]["rows"], serving.num_rows(), "{answer}");
    let windows = daemon.get_json("/v1/windows");
    assert_eq!(
        windows["windows"][0]["rows"],
        serving.num_rows(),
        "{windows}"
    );

    // The same body with row 1,500's age not a number.
    let mut rows: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let bad = 1500.min(rows.len() - 1);
    rows[bad]["age"] = Value::from("old");
    let (status, answer) = daemon.post(
        "/v1/batches",
        "application/json",
        &serde_json::to_vec(&rows).unwrap(),
        None,
    );
    assert_eq!(status, 400, "{answer}");
    let msg = answer["error"].as_str().unwrap();
    assert!(
        msg.contains(&format!("row {bad}")) && msg.contains("age"),
        "{msg}"
    );
    let windows = daemon.get_json("/v1/windows");
    assert_eq!(
        windows["windows"][0]["rows"],
        serving.num_rows(),
        "{windows}"
    );
}

#[test]
fn a_token_guards_every_route_but_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let cfg = config(
        dir.path(),
        100_000,
        &format!("[auth]\ntoken_file = \"{}\"\n", token_file.display()),
    );
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    let body = json_rows(&serving_batches(100, 0)[0]);
    assert_eq!(
        daemon
            .post("/v1/batches", "application/json", &body, None)
            .0,
        401
    );
    assert_eq!(
        daemon
            .post("/v1/batches", "application/json", &body, Some("wrong"))
            .0,
        401
    );
    assert_eq!(
        daemon
            .post(
                "/v1/batches",
                "application/json",
                &body,
                Some("s3cret-token")
            )
            .0,
        200
    );
    assert_eq!(daemon.get("/v1/windows", None).0, 401);
    assert_eq!(daemon.get("/v1/windows", Some("s3cret-token")).0, 200);
    assert_eq!(daemon.get("/healthz", None).0, 200);
    assert_eq!(daemon.get("/metrics", None).0, 200);
    assert!(
        !daemon.log().contains("s3cret"),
        "the token is never logged"
    );
}

/// Starts a daemon with windows of `window_rows`, sends 200-row batches
/// until at least `rows` are acknowledged, kills it with SIGKILL mid-ingest
/// and starts it again: the restarted daemon and the rows acknowledged.
fn sigkill_mid_ingest(dir: &Path, window_rows: u64, rows: u64) -> (Daemon, u64) {
    let state = dir.join("state");
    let cfg = config(dir, window_rows, "");
    let mut daemon = Daemon::start(&cfg, &state);
    let batches: Vec<Vec<u8>> = serving_batches(200, 0).iter().map(json_rows).collect();
    let acked = Arc::new(AtomicU64::new(0));
    let base = daemon.base.clone();
    let sender = {
        let acked = acked.clone();
        std::thread::spawn(move || {
            for body in batches.iter().cycle() {
                let r = agent()
                    .post(format!("{base}/v1/batches"))
                    .header("Content-Type", "application/json")
                    .send(&body[..]);
                match r {
                    Ok(resp) if resp.status() == 200 => {
                        acked.fetch_add(200, Ordering::SeqCst);
                    }
                    _ => return,
                }
            }
        })
    };
    while acked.load(Ordering::SeqCst) < rows {
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.kill9();
    sender.join().unwrap();
    let acknowledged = acked.load(Ordering::SeqCst);
    (Daemon::start(&cfg, &state), acknowledged)
}

#[test]
fn sigkill_mid_ingest_loses_no_acknowledged_batch_and_counts_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, acknowledged) = sigkill_mid_ingest(dir.path(), 1_000_000_000, 4000);
    let windows = daemon.get_json("/v1/windows");
    let rows = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["state"] == "open")
        .unwrap()["rows"]
        .as_u64()
        .unwrap();
    // Every acknowledged batch is there; at most the one batch whose
    // response was cut by the kill is there without an acknowledgement.
    assert!(
        rows >= acknowledged && rows <= acknowledged + 200,
        "rows {rows}, acknowledged {acknowledged}\n{}",
        daemon.log()
    );
    // The counter agrees with the window: it did not restart at 0.
    let (_, metrics) = daemon.get("/metrics", None);
    assert_eq!(
        metric(&metrics, "assay_rows_ingested_total{model=\"credit\"}"),
        Some(rows as f64),
        "{metrics}"
    );
}

/// The same with windows closing every 1,000 rows, so that the kill can
/// land in a close or before the state writer has synced a closed window's
/// files (its log then waits as `closing-ID.wal`, settled at the restart).
#[test]
fn sigkill_while_windows_close_loses_no_acknowledged_batch_and_counts_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, acknowledged) = sigkill_mid_ingest(dir.path(), 1000, 8000);
    let windows = daemon.get_json("/v1/windows");
    let windows = windows["windows"].as_array().unwrap();
    let rows: u64 = windows.iter().map(|w| w["rows"].as_u64().unwrap()).sum();
    assert!(
        rows >= acknowledged && rows <= acknowledged + 200,
        "rows {rows}, acknowledged {acknowledged}\n{}",
        daemon.log()
    );
    let closed: Vec<&Value> = windows.iter().filter(|w| w["state"] == "closed").collect();
    assert!(closed.len() >= 7, "{windows:?}");
    for w in &closed {
        let id = w["id"].as_str().unwrap();
        let report = daemon.get_json(&format!("/v1/reports/{id}"));
        assert_eq!(report["rows"], w["rows"], "{report}");
    }
    let (_, metrics) = daemon.get("/metrics", None);
    assert_eq!(
        metric(&metrics, "assay_rows_ingested_total{model=\"credit\"}"),
        Some(rows as f64),
        "{metrics}"
    );
    let model_dir = dir.path().join("state/models/credit");
    let left: Vec<String> = std::fs::read_dir(&model_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("closing-"))
        .collect();
    assert!(left.is_empty(), "closing logs settled at start: {left:?}");
}

/// POSTs a body of `len` bytes with `Expect: 100-continue` over a raw
/// socket and returns the final status. An HTTP client that writes the whole
/// body first (ureq) races the daemon's early 413 and its closing of the
/// connection (a broken pipe, now and then); announcing the body and sending
/// it only when asked does not.
fn post_oversized(daemon: &Daemon, len: usize) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {status_line:?}"));
        // Skip the headers.
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        if status != 100 {
            return status;
        }
        // Asked for the body: send it (the daemon may stop reading early).
        let _ = stream.write_all(&vec![b' '; len]);
    }
}

/// The value of one sample line of the Prometheus text format.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn counters_rollups_and_kept_windows_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = config(dir.path(), 1000, "");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("rows = 1000\n", "rows = 1000\nkeep = 2\n"),
    )
    .unwrap();
    let send = |daemon: &Daemon, batch: &RecordBatch| {
        let (status, body) =
            daemon.post("/v1/batches", "application/json", &json_rows(batch), None);
        assert_eq!(status, 200, "{body}\n{}", daemon.log());
    };
    let batches = serving_batches(500, 0);
    {
        let mut daemon = Daemon::start(&cfg, &state);
        // Ten batches of 500 rows: five windows of 1000 close.
        for batch in &batches[..10] {
            send(&daemon, batch);
        }
        assert!(terminate(&mut daemon).success(), "{}", daemon.log());
    }
    let daemon = Daemon::start(&cfg, &state);
    send(&daemon, &batches[10]);
    let (_, metrics) = daemon.get("/metrics", None);
    for (series, want) in [
        ("assay_rows_ingested_total{model=\"credit\"}", 5500.0),
        ("assay_batches_ingested_total{model=\"credit\"}", 11.0),
        ("assay_window_closes_total{model=\"credit\"}", 5.0),
        ("assay_window_rows{model=\"credit\"}", 500.0),
    ] {
        assert_eq!(metric(&metrics, series), Some(want), "{series}\n{metrics}");
    }
    // Only the newest two closed windows are kept, with their files.
    let windows = daemon.get_json("/v1/windows");
    let closed: Vec<&str> = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "closed")
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(closed, ["credit-000004", "credit-000005"], "{windows}");
    let model_dir = state.join("models/credit");
    let mut reports: Vec<String> = std::fs::read_dir(model_dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    reports.sort();
    assert_eq!(reports, ["credit-000004.json", "credit-000005.json"]);
    assert_eq!(daemon.get("/v1/reports/credit-000001", None).0, 404);
    // The rollups hold every closed window's rows, the forgotten ones too
    // (windows closed within the same day; the minute may have turned).
    let rollups: Vec<(String, u64)> = std::fs::read_dir(model_dir.join("rollups"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let rows = assay::profile::io::load(&path).unwrap().rows;
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                rows,
            )
        })
        .collect();
    let level = |prefix: &str| -> u64 {
        rollups
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, rows)| rows)
            .sum()
    };
    for prefix in ["minute-", "hour-", "day-"] {
        assert_eq!(level(prefix), 5000, "{prefix}: {rollups:?}");
    }
}

#[test]
fn damaged_state_is_quarantined_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = config(dir.path(), 1_000_000, "");
    {
        let daemon = Daemon::start(&cfg, &state);
        let body = json_rows(&serving_batches(300, 0)[0]);
        assert_eq!(
            daemon
                .post("/v1/batches", "application/json", &body, None)
                .0,
            200
        );
    }
    let model_dir = state.join("models/credit");
    // Flip bytes inside the log's first batch frame, and break the index.
    let wal = model_dir.join("open.wal");
    let mut bytes = std::fs::read(&wal).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x5a;
    std::fs::write(&wal, &bytes).unwrap();
    std::fs::write(model_dir.join("windows.json"), b"{ not json").unwrap();
    let mut daemon = Daemon::start(&cfg, &state);
    let log = daemon.log();
    assert!(log.contains("damaged"), "{log}");
    let quarantined = std::fs::read_dir(&model_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .count();
    assert_eq!(quarantined, 2, "log and index moved aside");
    let body = json_rows(&serving_batches(300, 0)[0]);
    assert_eq!(
        daemon
            .post("/v1/batches", "application/json", &body, None)
            .0,
        200
    );
    let status = terminate(&mut daemon);
    assert!(
        status.success(),
        "SIGTERM exits 0: {status:?}\n{}",
        daemon.log()
    );
    let mut log = String::new();
    std::fs::File::open(&daemon.stderr_path)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn spool_files_are_ingested_and_moved() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let cfg = config(
        dir.path(),
        1_000_000,
        &format!(
            "[spool]\ndir = \"{}\"\npoll_interval_ms = 50\n",
            spool.display()
        ),
    );
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    // Written under a .tmp name, then renamed in, as a producer should.
    let tmp = spool.join("batch-1.json.tmp");
    std::fs::write(&tmp, json_rows(&serving_batches(250, 0)[0])).unwrap();
    std::fs::rename(&tmp, spool.join("batch-1.json")).unwrap();
    std::fs::write(spool.join("broken.csv"), "age,income\n31,\"unterminated\n").unwrap();
    std::fs::write(spool.join("notes.txt"), "hello").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && std::fs::read_dir(&spool)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.path().is_file())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(spool.join("done/batch-1.json").exists(), "{}", daemon.log());
    for failed in ["broken.csv", "notes.txt"] {
        assert!(spool.join("failed").join(failed).exists(), "{failed}");
        let why = std::fs::read_to_string(spool.join("failed").join(format!("{failed}.error.txt")))
            .unwrap();
        assert!(!why.trim().is_empty());
    }
    let windows = daemon.get_json("/v1/windows");
    assert_eq!(windows["windows"][0]["rows"], 250, "{windows}");
    let (_, metrics) = daemon.get("/metrics", None);
    assert!(
        metrics.contains("assay_spool_files_total{model=\"credit\",outcome=\"failed\"} 2"),
        "{metrics}"
    );
}

/// The per-batch schema check answers as `assay validate` does on the same
/// batch: for the columns that reach the window unchanged (their profile is
/// taken from the window's) and for those that do not — a column the schema
/// does not know and a missing one. (A column sent as another type is
/// converted to the expected one while the body is decoded, or refused.)
#[test]
fn per_batch_schema_findings_are_validates() {
    use arrow::array::ArrayRef;
    use arrow::datatypes::{DataType, Field, Schema};
    use common::{assay, code, write_parquet};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (profile, schema) = (d.join("train.profile.json"), d.join("schema.toml"));
    let out = assay(&[
        "profile".as_ref(),
        "-q".as_ref(),
        path_of(TRAIN).as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
    ]);
    assert_eq!(code(&out), 0, "{out:?}");
    let out = assay(&[
        "infer".as_ref(),
        "-q".as_ref(),
        "--ranges".as_ref(),
        profile.as_os_str(),
        "-o".as_ref(),
        schema.as_os_str(),
    ]);
    assert_eq!(code(&out), 0, "{out:?}");

    let serving = read_parquet(SERVING).slice(0, 400);
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in serving.schema().fields().iter().zip(serving.columns()) {
        match field.name().as_str() {
            "credit_score" => continue,
            // Older than any applicant in training.
            "age" => columns.push(Arc::new(
                column
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(|v| v + 200))
                    .collect::<Int64Array>(),
            )),
            _ => columns.push(column.clone()),
        }
        fields.push(field.as_ref().clone());
    }
    fields.push(Field::new("extra", DataType::Int64, true));
    columns.push(Arc::new(Int64Array::from_iter_values(0..400)));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();

    let cfg = daemon::write_config(
        d,
        1_000_000,
        16,
        "",
        &format!("schema = {:?}", schema.display().to_string()),
        "per_batch = [\"schema\"]\nper_window = [\"skew\"]",
    );
    let daemon = Daemon::start(&cfg, &d.join("state"));
    let mut body = Vec::new();
    {
        let mut writer =
            arrow::ipc::writer::StreamWriter::try_new(&mut body, &batch.schema()).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
    }
    let (status, answer) = daemon.post(
        "/v1/models/credit/batches",
        "application/vnd.apache.arrow.stream",
        &body,
        None,
    );
    assert_eq!(status, 200, "{answer}\n{}", daemon.log());

    let data = d.join("batch.parquet");
    write_parquet(&data, &batch);
    let out = assay(&[
        "validate".as_ref(),
        data.as_os_str(),
        "--schema".as_ref(),
        schema.as_os_str(),
        "--environment".as_ref(),
        "serving".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(code(&out), 1, "{out:?}");
    let validated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["schema_findings"], validated["schema_findings"]);
    let found: Vec<(&str, &str)> = answer["schema_findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| Some((f["feature"].as_str()?, f["kind"].as_str()?)))
        .collect();
    assert_eq!(
        found,
        [
            ("age", "value_too_large"),
            ("credit_score", "missing_column"),
            ("extra", "new_column")
        ]
    );
}
