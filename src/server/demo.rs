//! `assay demo`: the daemon on the example data with an embedded
//! configuration, and a replayer that feeds it the example serving data in
//! batches — clean for the first half, then with drift injected (`age`
//! shifted by 10 years, `income` in thousands: a unit bug) and a broken
//! column (`credit_score` all null). Within a minute windows close, findings
//! appear in the log, reports on disk and metrics on `/metrics`.
//!
//! The replayer encodes each batch as a JSON body and hands it to the same
//! ingest path the HTTP route uses (decode, check, commit, metrics), in
//! process: the demo needs no HTTP client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, new_null_array};
use arrow::compute::kernels::numeric::{add, mul};

use super::app::{AppState, ingest_bytes, record_batch};
use super::config::{self, ServeConfig};
use super::model::ServerError;
use crate::sources::{self, ReadOptions};

/// The embedded configuration; paths are relative to the repository root.
pub const DEMO_CONFIG: &str = r#"
listen = "127.0.0.1:9464"
state_dir = "target/assay-demo-state"

[models.credit]
baseline = "examples/data/train.parquet"
suites = ["expectations/credit.toml"]
slices = [["sex"]]

[models.credit.window]
rows = 2000
seconds = 10
"#;

const SERVING: &str = "examples/data/serving.parquet";
const BATCH_ROWS: usize = 500;

/// The demo's configuration (run from the repository root).
pub fn demo_config() -> Result<ServeConfig, ServerError> {
    for needed in [
        "examples/data/train.parquet",
        SERVING,
        "expectations/credit.toml",
    ] {
        if !Path::new(needed).exists() {
            return Err(ServerError::State(format!(
                "{needed} not found: run `assay demo` from the repository root"
            )));
        }
    }
    config::parse(DEMO_CONFIG, Path::new("assay-demo.toml"))
        .map_err(|e| ServerError::State(e.to_string()))
}

/// The serving data in batches, the second half faulted.
fn batches() -> Result<Vec<RecordBatch>, String> {
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
    for (i, start) in (0..n).step_by(BATCH_ROWS).enumerate() {
        let batch = all.slice(start, BATCH_ROWS.min(n - start));
        out.push(if i * BATCH_ROWS >= n / 2 {
            fault(&batch)?
        } else {
            batch
        });
    }
    Ok(out)
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
            _ => continue,
        };
    }
    RecordBatch::try_new(schema, columns).map_err(err)
}

fn json_body(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut writer = arrow::json::ArrayWriter::new(&mut out);
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Replays the serving data into the default model, one batch every
/// `pause`; runs on a blocking thread.
pub fn replay(state: Arc<AppState>, pause: Duration) {
    let model = state.default_model.clone();
    let Some(runtime) = state.models.get().and_then(|m| m.get(&model)).cloned() else {
        return;
    };
    let batches = match batches() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("demo: cannot read {SERVING}: {e}");
            return;
        }
    };
    let total = batches.len();
    for (i, batch) in batches.iter().enumerate() {
        if i == total / 2 {
            tracing::warn!(
                "demo: from now on `age` is shifted by 10 years, `income` arrives in thousands and `credit_score` is empty"
            );
        }
        let result = json_body(batch).and_then(|body| {
            ingest_bytes(
                &runtime,
                "application/json",
                &body.into(),
                state.max_batch_rows,
                sources::payload::Cores::One,
            )
            .map_err(|e| e.to_string())
        });
        match result {
            Ok((outcome, open_rows)) => {
                record_batch(&state, &model, &outcome, open_rows);
                tracing::info!(
                    "demo: replayed batch {}/{total} ({} rows) into window {}",
                    i + 1,
                    outcome.rows,
                    outcome.window
                );
            }
            Err(e) => tracing::error!("demo: batch {} rejected: {e}", i + 1),
        }
        std::thread::sleep(pause);
    }
    tracing::info!("demo: replay finished; the daemon keeps running (Ctrl-C stops it)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_config_parses() {
        // Paths resolve against the working directory, which for unit tests
        // is the repository root.
        let config = demo_config().unwrap();
        assert_eq!(config.models[0].name, "credit");
        assert_eq!(config.models[0].window.rows, Some(2000));
    }

    #[test]
    fn the_second_half_is_faulted() {
        let batches = batches().unwrap();
        let half = batches.len() / 2;
        let score = |b: &RecordBatch| b.column_by_name("credit_score").unwrap().null_count();
        assert_eq!(score(&batches[0]), 0);
        assert_eq!(score(&batches[half + 1]), batches[half + 1].num_rows());
    }
}
