//! The data kept for retraining, by the real daemon: each closed window a
//! Parquet partition under `models/NAME/data/date=…/`, labels joined into
//! it as they arrive, `GET /v1/models/NAME/data`, and `kill -9` during
//! ingest and closes never leaving a partition a reader would half read
//! nor losing a closed window's rows.

#[path = "common/daemon.rs"]
mod daemon;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use daemon::{Daemon, json_rows, path_of};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

const WINDOW_ROWS: usize = 500;

fn config(dir: &Path) -> PathBuf {
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
per_window = ["skew"]

[models.credit.quality]
label = "label"
score = "prediction"
label_ttl = "1d"

[models.credit.data]
keep_days = 30
max_bytes = "1GiB"
"#,
            train = path_of("examples/data/train.parquet"),
        ),
    )
    .unwrap();
    path
}

fn rows(n: usize) -> RecordBatch {
    let file = std::fs::File::open(path_of("examples/data/train.parquet")).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
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

fn read(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// Polls the listing until `done` holds (30 s at most).
fn wait_for_data(daemon: &Daemon, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listing = daemon.get_json("/v1/models/credit/data");
        if done(&listing) {
            return listing;
        }
        assert!(
            Instant::now() < deadline,
            "listing never got there: {listing}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn labels_json(ids: &[String], labels: &[i64]) -> Vec<u8> {
    let rows: Vec<Value> = ids
        .iter()
        .zip(labels)
        .map(|(id, l)| serde_json::json!({"request_id": id, "label": l}))
        .collect();
    serde_json::to_vec(&rows).unwrap()
}

#[test]
fn closed_windows_become_partitions_that_take_their_labels_as_they_come() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let state = dir.path().join("state");
    let daemon = Daemon::start(&config, &state);

    let batch = rows(2 * WINDOW_ROWS);
    let ids: Vec<String> = {
        let a = batch
            .column_by_name("application_id")
            .unwrap()
            .as_string::<i32>();
        (0..a.len()).map(|i| a.value(i).to_string()).collect()
    };
    let truth: Vec<i64> = batch
        .column_by_name("label")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    for chunk in daemon::chunks(&without_label(&batch), WINDOW_ROWS) {
        let (status, body) =
            daemon.post("/v1/batches", "application/json", &json_rows(&chunk), None);
        assert_eq!(status, 200, "{body}");
    }
    let listing = wait_for_data(&daemon, |l| {
        l["partitions"].as_array().is_some_and(|p| p.len() == 2)
    });
    let parts = listing["partitions"].as_array().unwrap();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["rows"], WINDOW_ROWS as u64, "{p}");
        assert_eq!(p["labelled"], 0, "{p}");
        assert_eq!(p["final"], false, "{p}");
        assert_eq!(p["window"], format!("credit-{:06}", i + 1), "{p}");
        let path = p["path"].as_str().unwrap();
        assert!(
            path.starts_with("date=")
                && path.ends_with(&format!("/window-credit-{:06}.parquet", i + 1)),
            "{path}"
        );
    }
    assert_eq!(listing["rows"], 2 * WINDOW_ROWS as u64);
    let data_dir = PathBuf::from(listing["dir"].as_str().unwrap());
    assert_eq!(data_dir, state.join("models/credit/data"));

    // Every label of window 1, half of window 2's.
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &labels_json(&ids[..WINDOW_ROWS], &truth[..WINDOW_ROWS]),
        None,
    );
    assert_eq!(s, 200, "{b}");
    let half = WINDOW_ROWS + WINDOW_ROWS / 2;
    let (s, b) = daemon.post(
        "/v1/labels",
        "application/json",
        &labels_json(&ids[WINDOW_ROWS..half], &truth[WINDOW_ROWS..half]),
        None,
    );
    assert_eq!(s, 200, "{b}");
    let listing = wait_for_data(&daemon, |l| {
        l["partitions"][0]["final"] == true && l["partitions"][1]["labelled"] == 250
    });
    let parts = listing["partitions"].as_array().unwrap();
    assert_eq!(parts[0]["labelled"], WINDOW_ROWS as u64, "{listing}");
    assert_eq!(parts[0]["label_coverage"], 1.0, "{listing}");
    assert_eq!(parts[1]["label_coverage"], 0.5, "{listing}");
    assert_eq!(parts[1]["final"], false, "{listing}");

    // The files hold the rows with their labels, joined on the request id.
    let want: HashMap<&str, i64> = ids
        .iter()
        .map(String::as_str)
        .zip(truth.iter().copied())
        .collect();
    for (i, p) in parts.iter().enumerate() {
        let file = read(&data_dir.join(p["path"].as_str().unwrap()));
        assert_eq!(file.num_rows(), WINDOW_ROWS);
        let got_ids = file
            .column_by_name("application_id")
            .unwrap()
            .as_string::<i32>();
        let got = file
            .column_by_name("label")
            .unwrap()
            .as_primitive::<Int64Type>();
        let mut labelled = 0;
        for r in 0..file.num_rows() {
            let id = got_ids.value(r);
            assert_eq!(id, ids[i * WINDOW_ROWS + r], "rows in ingest order");
            if got.is_valid(r) {
                labelled += 1;
                assert_eq!(got.value(r), want[id], "row {r} of window {i}");
            }
        }
        assert_eq!(labelled, if i == 0 { WINDOW_ROWS } else { WINDOW_ROWS / 2 });
        assert!(file.column_by_name("age").is_some());
    }
}

#[test]
fn kill9_during_ingest_and_closes_leaves_whole_partitions_holding_every_closed_row() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let state = dir.path().join("state");
    let batch = without_label(&rows(4000));
    let chunks = daemon::chunks(&batch, 250);
    let mut daemon = Daemon::start(&config, &state);
    // Batches go in while windows close (every two batches); the kill
    // comes in the middle of it.
    let base = daemon.base.clone();
    let sender = std::thread::spawn(move || {
        let agent = daemon::agent();
        let mut acknowledged = 0;
        for chunk in chunks {
            match agent
                .post(format!("{base}/v1/batches"))
                .header("Content-Type", "application/json")
                .send(&json_rows(&chunk)[..])
            {
                Ok(r) if r.status() == 200 => acknowledged += chunk.num_rows(),
                _ => return acknowledged,
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(300));
    daemon.kill9();
    let acknowledged = sender.join().unwrap();
    assert!(
        acknowledged > 0 && acknowledged < 4000,
        "the kill came in the middle of ingest ({acknowledged} rows acknowledged)"
    );

    // After the restart, every partition reads whole, and together they
    // hold exactly the closed windows' rows.
    let daemon = Daemon::start(&config, &state);
    let windows = daemon.get_json("/v1/windows");
    let closed: Vec<&Value> = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "closed")
        .collect();
    assert!(!closed.is_empty(), "{windows}");
    let closed_rows: u64 = closed.iter().map(|w| w["rows"].as_u64().unwrap()).sum();
    // Windows close every 500 rows: all but the open window's are closed.
    assert!(closed_rows + 500 > acknowledged as u64, "{windows}");
    let listing = wait_for_data(&daemon, |l| l["rows"].as_u64() == Some(closed_rows));
    assert_eq!(
        listing["partitions"].as_array().unwrap().len(),
        closed.len(),
        "{listing}"
    );
    assert_eq!(listing["problems"], serde_json::json!([]), "{listing}");
    let data_dir = state.join("models/credit/data");
    let mut total = 0;
    for entry in glob::glob(&format!("{}/date=*/*.parquet", data_dir.display())).unwrap() {
        total += read(&entry.unwrap()).num_rows();
    }
    assert_eq!(total as u64, closed_rows);
}
