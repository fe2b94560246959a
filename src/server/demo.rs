//! `assay demo`: the daemon with the demo's configuration
//! (`examples/demo/assay.toml`: the example training data as baseline, a
//! reviewed schema, the example suite and the demo's own), and a replayer
//! that feeds it the example serving data, round after round, one 500-row
//! batch a second:
//!
//! - throughout, `debt_to_income` 20% above training: a steady shift that
//!   skew (against the training data) flags in every window and drift
//!   (against the previous window) does not;
//! - the first half of each round otherwise as recorded; the second half
//!   faulted: `age` shifted by 10 years and `income` in thousands (drift and
//!   skew), a new `purpose` value in one row of five (out of the schema's
//!   domain), and `credit_score` empty (presence, not-null);
//! - ground-truth labels for every accepted batch's rows, one batch late
//!   (`/v1/labels`' path, joined on `application_id`); from the middle of
//!   each round the model is wrong inside `sex=F` (quality and fairness
//!   findings there);
//! - one malformed batch a round (a rejection, reason `malformed`).
//!
//! Within seconds windows close and every panel of the dashboards in
//! `dashboards/` has data (`tests/prometheus.rs`). The replayer hands each
//! batch, as a JSON body, to the same ingest path the HTTP route uses
//! (decode, check, commit, metrics), in process: the demo needs no client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, new_null_array,
};
use arrow::compute::cast;
use arrow::compute::kernels::numeric::{add, mul};
use arrow::datatypes::{DataType, Float64Type};

use super::app::{AppState, IngestError, ingest_bytes, record_batch, store_labels};
use super::config::{self, ServeConfig};
use super::model::{ServerError, now_ms};
use crate::sources::{self, ReadOptions};

/// The demo's configuration, relative to the repository root.
pub const DEMO_CONFIG: &str = "examples/demo/assay.toml";
const SERVING: &str = "examples/data/serving.parquet";
const BATCH_ROWS: usize = 500;
/// Time between two batches.
pub const BATCH_INTERVAL: Duration = Duration::from_secs(1);
/// The `purpose` the faulted half brings, unknown to the schema's domain.
const NEW_PURPOSE: &str = "crypto_mining";
/// Applicants carry more debt than in the training period.
const DEBT_TO_INCOME_FACTOR: f64 = 1.2;
/// A body the daemon refuses: `age` is not a number.
const MALFORMED: &[u8] = br#"[{"application_id": "app-000000000000", "age": "forty"}]"#;

/// The demo's configuration (run from the repository root).
pub fn demo_config() -> Result<ServeConfig, ServerError> {
    let path = Path::new(DEMO_CONFIG);
    if !path.exists() {
        return Err(ServerError::State(format!(
            "{DEMO_CONFIG} not found: run `assay demo` from the repository root"
        )));
    }
    config::load(path).map_err(|e| ServerError::State(e.to_string()))
}

/// One step of a round.
enum Step {
    Batch { batch: RecordBatch, faulted: bool },
    Malformed,
}

/// One round: the serving data in batches, the second half faulted, and a
/// malformed batch where the faults begin.
fn round() -> Result<Vec<Step>, String> {
    let dataset = sources::open(&[SERVING.to_string()], &ReadOptions::default())
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for partition in dataset.partitions {
        for batch in (partition.open)().map_err(|e| e.to_string())? {
            rows.push(batch.map_err(|e| e.to_string())?);
        }
    }
    let all = arrow::compute::concat_batches(&dataset.schema, &rows).map_err(|e| e.to_string())?;
    let n = all.num_rows();
    let mut out = Vec::new();
    for start in (0..n).step_by(BATCH_ROWS) {
        let batch = all.slice(start, BATCH_ROWS.min(n - start));
        let faulted = start >= n / 2;
        if faulted && start < n / 2 + BATCH_ROWS {
            out.push(Step::Malformed);
        }
        let batch = steady(&batch)?;
        out.push(Step::Batch {
            batch: if faulted { fault(&batch)? } else { batch },
            faulted,
        });
    }
    Ok(out)
}

/// The shift of every batch: `debt_to_income` × [`DEBT_TO_INCOME_FACTOR`].
fn steady(batch: &RecordBatch) -> Result<RecordBatch, String> {
    let mut columns = batch.columns().to_vec();
    let i = batch
        .schema()
        .index_of("debt_to_income")
        .map_err(|e| e.to_string())?;
    columns[i] = mul(
        &columns[i],
        &Float64Array::new_scalar(DEBT_TO_INCOME_FACTOR),
    )
    .map_err(|e| e.to_string())?;
    RecordBatch::try_new(batch.schema(), columns).map_err(|e| e.to_string())
}

fn fault(batch: &RecordBatch) -> Result<RecordBatch, String> {
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    let err = |e: arrow::error::ArrowError| e.to_string();
    for (i, field) in schema.fields().iter().enumerate() {
        columns[i] = match field.name().as_str() {
            "age" => add(&columns[i], &Int64Array::new_scalar(10)).map_err(err)?,
            "income" => mul(&columns[i], &Float64Array::new_scalar(0.001)).map_err(err)?,
            "credit_score" => new_null_array(columns[i].data_type(), batch.num_rows()),
            "purpose" => new_purpose(&columns[i])?,
            _ => continue,
        };
    }
    RecordBatch::try_new(schema, columns).map_err(err)
}

/// `purpose` with every fifth row replaced by [`NEW_PURPOSE`].
fn new_purpose(column: &ArrayRef) -> Result<ArrayRef, String> {
    let strings = cast(column, &DataType::Utf8).map_err(|e| e.to_string())?;
    let strings = strings.as_string::<i32>();
    let replaced: StringArray = (0..strings.len())
        .map(|row| {
            if row % 5 == 0 {
                Some(NEW_PURPOSE)
            } else if strings.is_null(row) {
                None
            } else {
                Some(strings.value(row))
            }
        })
        .collect();
    cast(&replaced, column.data_type()).map_err(|e| e.to_string())
}

fn json_body(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut writer = arrow::json::ArrayWriter::new(&mut out);
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Ground truth for a batch's rows, as `/v1/labels` stores it: a default
/// (1) with the probability the model predicted, drawn from a hash of the
/// request id, so that every round labels a row the same way.
fn label_lines(batch: &RecordBatch) -> Result<(String, u64), String> {
    let ids = batch
        .column_by_name("application_id")
        .ok_or("no application_id column")?;
    let ids = cast(ids, &DataType::Utf8).map_err(|e| e.to_string())?;
    let ids = ids.as_string::<i32>();
    let predictions = batch
        .column_by_name("prediction")
        .ok_or("no prediction column")?;
    let predictions = cast(predictions, &DataType::Float64).map_err(|e| e.to_string())?;
    let predictions = predictions.as_primitive::<Float64Type>();
    let received_ms = now_ms();
    let mut lines = String::new();
    let mut count = 0;
    for row in 0..batch.num_rows() {
        if ids.is_null(row) || predictions.is_null(row) {
            continue;
        }
        let id = ids.value(row);
        let label = u8::from(unit_hash(id) < predictions.value(row));
        lines.push_str(
            &serde_json::json!({"request_id": id, "label": label, "received_ms": received_ms})
                .to_string(),
        );
        lines.push('\n');
        count += 1;
    }
    Ok((lines, count))
}

/// Labels for `/v1/labels` (JSON rows): drawn as [`label_lines`] does, except
/// that with `degraded`, inside [`DEGRADED_GROUP`] a default is drawn with
/// one minus the predicted probability: the model is wrong there.
fn quality_labels(batch: &RecordBatch, degraded: bool) -> Result<Vec<u8>, String> {
    let ids = batch
        .column_by_name("application_id")
        .ok_or("no application_id column")?;
    let ids = cast(ids, &DataType::Utf8).map_err(|e| e.to_string())?;
    let ids = ids.as_string::<i32>();
    let predictions = batch
        .column_by_name("prediction")
        .ok_or("no prediction column")?;
    let predictions = cast(predictions, &DataType::Float64).map_err(|e| e.to_string())?;
    let predictions = predictions.as_primitive::<Float64Type>();
    let groups = batch.column_by_name("sex").ok_or("no sex column")?;
    let groups = cast(groups, &DataType::Utf8).map_err(|e| e.to_string())?;
    let groups = groups.as_string::<i32>();
    let mut rows = Vec::new();
    for row in 0..batch.num_rows() {
        if ids.is_null(row) || predictions.is_null(row) {
            continue;
        }
        let id = ids.value(row);
        let mut p = predictions.value(row);
        if degraded && groups.is_valid(row) && groups.value(row) == DEGRADED_GROUP.1 {
            p = 1.0 - p;
        }
        rows.push(serde_json::json!({"request_id": id, "label": u8::from(unit_hash(id) < p)}));
    }
    serde_json::to_vec(&rows).map_err(|e| e.to_string())
}

/// The group inside which the model degrades halfway through each round.
const DEGRADED_GROUP: (&str, &str) = ("sex", "F");

fn send_quality_labels(
    state: &AppState,
    model: &str,
    quality: &super::labels::ModelQuality,
    batch: &RecordBatch,
    degraded: bool,
) {
    let joined = quality_labels(batch, degraded).and_then(|body| {
        super::labels::http::accept_body(state, model, quality, "application/json", &body)
    });
    if let Err(e) = joined {
        tracing::error!("demo: joining labels: {e}");
    }
}

/// A number in [0, 1) from a string (64-bit FNV-1a).
fn unit_hash(s: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Sleeps `pause`, waking early when the daemon stops; false then.
fn pause_unless_stopping(state: &AppState, pause: Duration) -> bool {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        if state.stopping.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !state.stopping.load(Ordering::SeqCst)
}

/// Replays rounds of the serving data into the default model, one step
/// every `pause`, until the daemon stops; runs on a blocking thread.
pub fn replay(state: Arc<AppState>, pause: Duration) {
    let model = state.default_model.clone();
    let Some(runtime) = state.models.get().and_then(|m| m.get(&model)).cloned() else {
        return;
    };
    let steps = match round() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("demo: cannot read {SERVING}: {e}");
            return;
        }
    };
    let total = steps.len();
    let mut delayed: Option<(RecordBatch, bool)> = None;
    for round in 1.. {
        for (i, step) in steps.iter().enumerate() {
            let started = Instant::now();
            let (batch, faulted) = match step {
                Step::Batch { batch, faulted } => (Some(batch), *faulted),
                Step::Malformed => (None, true),
            };
            let body = match batch.map(json_body).transpose() {
                Ok(b) => b.unwrap_or_else(|| MALFORMED.to_vec()),
                Err(e) => {
                    tracing::error!("demo: encoding a batch: {e}");
                    return;
                }
            };
            let result = ingest_bytes(
                &runtime,
                "application/json",
                &body.into(),
                state.max_batch_rows,
                sources::payload::Cores::One,
            );
            match result {
                Ok((outcome, open_rows)) => {
                    record_batch(&state, &model, &outcome, open_rows);
                    state
                        .metrics
                        .ingest_latency
                        .with_label_values(&[&model])
                        .observe(started.elapsed().as_secs_f64());
                    tracing::info!(
                        "demo: round {round}, step {}/{total}: {} {} rows into window {}",
                        i + 1,
                        if faulted { "faulted" } else { "clean" },
                        outcome.rows,
                        outcome.window
                    );
                    if let Some(batch) = batch {
                        match runtime.lock().ok().and_then(|g| g.quality()) {
                            // Labels a step late; from the middle of each
                            // round the model is wrong inside one group.
                            Some(quality) => {
                                if let Some((previous, degraded)) = delayed.take() {
                                    send_quality_labels(
                                        &state, &model, &quality, &previous, degraded,
                                    );
                                }
                                delayed = Some((batch.clone(), faulted));
                            }
                            None => send_labels(&state, &runtime, &model, batch),
                        }
                    }
                }
                Err(e) => {
                    reject(&state, &model, &e);
                    tracing::warn!(
                        "demo: round {round}, step {}/{total}: batch rejected ({}): {e}",
                        i + 1,
                        e.reason()
                    );
                }
            }
            if !pause_unless_stopping(&state, pause) {
                return;
            }
        }
        tracing::info!(
            "demo: round {round} done; from the middle of each round `age` is shifted by 10 years, \
             `income` arrives in thousands, `credit_score` is empty and `purpose` has a new value"
        );
    }
}

fn reject(state: &AppState, model: &str, e: &IngestError) {
    state
        .metrics
        .batches_rejected
        .with_label_values(&[model, e.reason()])
        .inc();
}

fn send_labels(
    state: &AppState,
    runtime: &std::sync::Mutex<super::ModelRuntime>,
    model: &str,
    batch: &RecordBatch,
) {
    let stored = label_lines(batch).and_then(|(lines, count)| {
        store_labels(runtime, &lines)?;
        Ok(count)
    });
    match stored {
        Ok(count) => state
            .metrics
            .labels_received
            .with_label_values(&[model])
            .inc_by(count),
        Err(e) => tracing::error!("demo: storing labels: {e}"),
    }
}

/// The state directory of a demo run: `state_dir` when given (it must be
/// missing or empty: the demo starts afresh and never deletes a directory
/// it was told to use), else the configuration's, emptied first.
pub fn fresh_state_dir(
    config: &ServeConfig,
    state_dir: Option<PathBuf>,
) -> Result<PathBuf, String> {
    match state_dir {
        Some(dir) => {
            let empty = match std::fs::read_dir(&dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            };
            if !empty {
                return Err(format!(
                    "{} is not empty: the demo starts from an empty state directory",
                    dir.display()
                ));
            }
            Ok(dir)
        }
        None => {
            let dir = config.state_dir.clone();
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            Ok(dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_loads_with_its_schema_and_suites() {
        // Paths resolve against the working directory, which for unit tests
        // is the repository root.
        let config = demo_config().unwrap();
        let model = &config.models[0];
        assert_eq!(model.name, "credit");
        assert!(
            model
                .schema
                .as_ref()
                .unwrap()
                .ends_with("examples/demo/schema.toml")
        );
        assert_eq!(model.suites.len(), 2);
        assert_eq!(model.window.rows, Some(2000));
        crate::schema::load(model.schema.as_ref().unwrap()).unwrap();
        for suite in &model.suites {
            crate::expectations::load(suite).unwrap();
        }
    }

    #[test]
    fn the_second_half_of_a_round_is_faulted_after_one_malformed_batch() {
        let steps = round().unwrap();
        let batches: Vec<(&RecordBatch, bool)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Batch { batch, faulted } => Some((batch, *faulted)),
                Step::Malformed => None,
            })
            .collect();
        assert_eq!(batches.len(), 20);
        let malformed = steps
            .iter()
            .position(|s| matches!(s, Step::Malformed))
            .unwrap();
        assert_eq!(
            malformed, 10,
            "the malformed batch comes where the faults begin"
        );
        assert_eq!(
            steps
                .iter()
                .filter(|s| matches!(s, Step::Malformed))
                .count(),
            1
        );
        for (i, (batch, faulted)) in batches.iter().enumerate() {
            assert_eq!(*faulted, i >= 10);
            let score = batch.column_by_name("credit_score").unwrap().null_count();
            let purpose = cast(batch.column_by_name("purpose").unwrap(), &DataType::Utf8).unwrap();
            let new = purpose
                .as_string::<i32>()
                .iter()
                .filter(|v| *v == Some(NEW_PURPOSE))
                .count();
            if *faulted {
                assert_eq!(score, batch.num_rows());
                assert_eq!(new, batch.num_rows() / 5);
            } else {
                assert_eq!(score, 0);
                assert_eq!(new, 0);
            }
        }
    }

    #[test]
    fn labels_follow_the_predicted_probability() {
        let steps = round().unwrap();
        let (mut ones, mut expected, mut rows) = (0u64, 0.0, 0u64);
        for step in &steps {
            if let Step::Batch { batch, .. } = step {
                let (lines, count) = label_lines(batch).unwrap();
                assert_eq!(lines.lines().count() as u64, count);
                for line in lines.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    ones += v["label"].as_u64().unwrap();
                }
                let p = cast(
                    batch.column_by_name("prediction").unwrap(),
                    &DataType::Float64,
                )
                .unwrap();
                expected += p
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .sum::<f64>();
                rows += count;
            }
        }
        assert_eq!(rows, 10_000);
        // A Bernoulli sum over 10,000 rows: within 4 standard deviations
        // (at most 50) of its mean.
        assert!(
            (ones as f64 - expected).abs() < 200.0,
            "{ones} defaults, expected about {expected:.0}"
        );
    }

    #[test]
    fn a_named_state_dir_must_be_empty() {
        let config = demo_config().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(fresh_state_dir(&config, Some(dir.path().join("new"))).is_ok());
        assert!(fresh_state_dir(&config, Some(dir.path().to_path_buf())).is_ok());
        std::fs::write(dir.path().join("x"), "").unwrap();
        let e = fresh_state_dir(&config, Some(dir.path().to_path_buf())).unwrap_err();
        assert!(e.contains("not empty"), "{e}");
    }
}
