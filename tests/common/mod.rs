//! Helpers shared by the integration tests that drive the real binary and
//! build data files. Each test file uses a subset (hence `dead_code`).
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::Schema;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

pub const TRAIN: &str = "examples/data/train.parquet";
pub const SERVING: &str = "examples/data/serving.parquet";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn path(relative: &str) -> String {
    root().join(relative).display().to_string()
}

pub fn assay<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(root())
        .env_remove("ASSAY_LOG")
        .output()
        .expect("run assay")
}

pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .expect("assay exited normally (no signal)")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stdout parsed as JSON; the failure shows stderr.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr:\n{}", stderr(out)))
}

/// Asserts exit code 2 with an error message and no panic; returns stderr.
pub fn input_error(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(code(out), 2, "expected exit 2; stderr:\n{err}");
    assert!(err.contains("error:"), "no error message:\n{err}");
    assert!(!err.contains("panicked"), "assay panicked:\n{err}");
    err
}

/// The whole Parquet file as one batch (relative to the repository root, or absolute).
pub fn read_parquet(relative: &str) -> RecordBatch {
    let file = File::open(root().join(relative)).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet metadata")
        .build()
        .expect("parquet reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    concat_batches(&batches[0].schema(), &batches).expect("concat")
}

pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = File::create(path).expect("create parquet");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// The rows at `indices`.
pub fn take(batch: &RecordBatch, indices: &[u32]) -> RecordBatch {
    let idx = arrow::array::UInt32Array::from(indices.to_vec());
    take_record_batch(batch, &idx).expect("take")
}

/// `batch` with one column replaced.
pub fn replace_column(batch: &RecordBatch, name: &str, column: ArrayRef) -> RecordBatch {
    let schema: Arc<Schema> = batch.schema();
    let i = schema.index_of(name).expect("column exists");
    let mut columns = batch.columns().to_vec();
    columns[i] = column;
    RecordBatch::try_new(schema, columns).expect("same type")
}

pub fn temp_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
