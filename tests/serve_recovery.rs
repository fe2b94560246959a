//! Reads while the daemon recovers its state, with the real binary: rows
//! are acknowledged, the daemon is killed with SIGKILL, and while the
//! restarted daemon replays its write-ahead log (a large one: 80,000 rows
//! in the open window, about a second of recovery in the dev profile, on
//! top of loading the baseline), `GET /v1/windows`, `/v1/reports/latest`,
//! `/v1/reports/{id}` and `/metrics` are polled without pause. Each answer
//! is either 503 with `Retry-After` or the whole recovered state: every
//! acknowledged row, the closed windows' reports. Never a partial answer
//! (an empty window list, a 404 for a report that exists, counters that
//! have not been restored yet).

#[path = "common/daemon.rs"]
mod daemon;

use std::path::Path;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use daemon::{Daemon, agent, path_of};
use serde_json::Value;

const WINDOW_ROWS: u64 = 100_000;
/// 28 bodies of the 10,000 serving rows: two closed windows and 80,000
/// rows in the open one.
const BODIES: u64 = 28;

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("assay.toml");
    std::fs::write(
        &path,
        format!(
            r#"[limits]
max_body_bytes = 64000000

[models.credit]
baseline = "{train}"
suites = ["{suite}"]

[models.credit.window]
rows = {WINDOW_ROWS}
"#,
            train = path_of("examples/data/train.parquet"),
            suite = path_of("expectations/credit.toml"),
        ),
    )
    .unwrap();
    path
}

/// The serving data as one Arrow IPC stream body.
fn ipc_body() -> (Vec<u8>, u64) {
    let file = std::fs::File::open(path_of("examples/data/serving.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let mut out = Vec::new();
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(&mut out, &batches[0].schema()).unwrap();
    let mut rows = 0;
    for b in &batches {
        writer.write(b).unwrap();
        rows += b.num_rows() as u64;
    }
    writer.finish().unwrap();
    drop(writer);
    (out, rows)
}

/// One answer: status, `Retry-After`, body. `None` while nothing listens.
fn get(base: &str, path: &str) -> Option<(u16, Option<String>, String)> {
    let mut resp = agent().get(format!("{base}{path}")).call().ok()?;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Some((status, retry, body))
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// What a complete answer of each route looks like; `Err` explains a
/// partial or wrong one.
struct Expected {
    rows: u64,
    closed: Vec<(String, u64)>,
}

impl Expected {
    fn check(
        &self,
        path: &str,
        status: u16,
        retry: Option<&str>,
        body: &str,
    ) -> Result<bool, String> {
        if status == 503 {
            return match retry {
                Some(r) if r.parse::<u64>().is_ok() => Ok(false),
                other => Err(format!("503 without a Retry-After in seconds ({other:?})")),
            };
        }
        if status != 200 {
            return Err(format!("status {status}: {body}"));
        }
        if path == "/metrics" {
            // Before recovery the counter is absent: not a partial answer.
            return match metric(body, "assay_rows_ingested_total{model=\"credit\"}") {
                None => Ok(false),
                Some(v) if v as u64 == self.rows => Ok(true),
                Some(v) => Err(format!(
                    "assay_rows_ingested_total {v}, expected {}",
                    self.rows
                )),
            };
        }
        let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
        if path == "/v1/windows" {
            let windows = v["windows"].as_array().ok_or("no `windows`")?;
            let rows: u64 = windows.iter().filter_map(|w| w["rows"].as_u64()).sum();
            let closed: Vec<(String, u64)> = windows
                .iter()
                .filter(|w| w["state"] == "closed")
                .map(|w| {
                    (
                        w["id"].as_str().unwrap_or("").to_string(),
                        w["rows"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            if rows != self.rows || closed != self.closed {
                return Err(format!(
                    "{rows} rows of {} acknowledged, closed {closed:?}, expected {:?}",
                    self.rows, self.closed
                ));
            }
            return Ok(true);
        }
        let (id, rows) = if path == "/v1/reports/latest" {
            self.closed.last().unwrap()
        } else {
            &self.closed[0]
        };
        if v["id"] != id.as_str() || v["rows"].as_u64() != Some(*rows) {
            return Err(format!(
                "report {} with {} rows, expected {id} with {rows}",
                v["id"], v["rows"]
            ));
        }
        Ok(true)
    }
}

#[test]
fn reads_during_recovery_answer_503_with_retry_after_then_every_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&cfg, &state);
    let (body, rows_per_body) = ipc_body();
    for _ in 0..BODIES {
        let (status, reply) = daemon.post(
            "/v1/batches",
            "application/vnd.apache.arrow.stream",
            &body,
            None,
        );
        assert_eq!(status, 200, "{reply}\n{}", daemon.log());
    }
    let acknowledged = BODIES * rows_per_body;
    let before = daemon.get_json("/v1/windows");
    let closed: Vec<(String, u64)> = before["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "closed")
        .map(|w| {
            (
                w["id"].as_str().unwrap().to_string(),
                w["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        closed.iter().map(|c| c.1).collect::<Vec<_>>(),
        [WINDOW_ROWS, WINDOW_ROWS],
        "{before}"
    );
    let expected = Expected {
        rows: acknowledged,
        closed,
    };
    daemon.kill9();

    // Restart and poll every route until each has given its complete
    // answer; every answer before that must be a 503 with Retry-After.
    let restarted = Daemon::spawn(&cfg, &state);
    let report = format!("/v1/reports/{}", expected.closed[0].0);
    let routes = [
        "/v1/windows",
        "/v1/reports/latest",
        report.as_str(),
        "/metrics",
    ];
    let mut unavailable = [0usize; 4];
    let mut complete = [false; 4];
    let mut ingest_while_recovering = None;
    let started = Instant::now();
    while !complete.iter().all(|c| *c) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not recovered after 120 s; 503s {unavailable:?}\n{}",
            restarted.log()
        );
        for (i, path) in routes.iter().enumerate() {
            if complete[i] {
                continue;
            }
            let Some((status, retry, body)) = get(&restarted.base, path) else {
                continue; // not listening yet
            };
            match expected.check(path, status, retry.as_deref(), &body) {
                Ok(true) => complete[i] = true,
                Ok(false) => {
                    unavailable[i] += 1;
                    // A batch sent while the daemon recovers is refused the
                    // same way (and counted as `not_ready`).
                    if ingest_while_recovering.is_none() && status == 503 {
                        let (status, reply) = restarted.post(
                            "/v1/batches",
                            "application/json",
                            br#"[{"age": 31}]"#,
                            None,
                        );
                        ingest_while_recovering = Some((status, reply));
                    }
                }
                Err(why) => panic!(
                    "GET {path} during recovery: {why}\n(after {} ms; 503s so far {unavailable:?})\n{}",
                    started.elapsed().as_millis(),
                    restarted.log()
                ),
            }
        }
    }
    eprintln!(
        "recovered in {} ms; 503 answers while recovering: {:?} for {:?}",
        started.elapsed().as_millis(),
        unavailable,
        routes
    );
    // /metrics answers 200 throughout (assay_ready 0): only the routes that
    // read recovered state must have been refused.
    for (i, path) in routes.iter().enumerate().take(3) {
        assert!(
            unavailable[i] > 0,
            "GET {path} was never polled during recovery (503s {unavailable:?}): the test saw no recovery"
        );
    }
    let (status, reply) = ingest_while_recovering.expect("a batch sent during recovery");
    assert_eq!(status, 503, "a batch during recovery: {reply}");
    let (_, metrics) = restarted.get("/metrics", None);
    assert_eq!(
        metric(
            &metrics,
            "assay_batches_rejected_total{model=\"credit\",reason=\"not_ready\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(restarted.get("/readyz", None).0, 200);
}
