//! Helpers for tests/sources.rs: sample data, writers for every format,
//! and readers that collect a dataset or its first error.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use assay::sources::{Dataset, ReadOptions, SourceError, open};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

pub fn sample_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("score", DataType::Float64, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]))
}

/// `n` rows starting at id `start`, with nulls in every column but `id`.
pub fn sample(start: i64, n: usize) -> RecordBatch {
    let ids: Vec<i64> = (start..start + n as i64).collect();
    let score: Float64Array = ids
        .iter()
        .map(|&i| (i % 7 != 3).then_some(i as f64 * 0.25 - 3.5))
        .collect();
    let cities = ["Lyon", "Oslo", "Quito", "Nairobi"];
    let city: StringArray = ids
        .iter()
        .map(|&i| (i % 5 != 2).then(|| cities[(i % 4) as usize]))
        .collect();
    let flag: BooleanArray = ids
        .iter()
        .map(|&i| (i % 6 != 1).then_some(i % 2 == 0))
        .collect();
    let ts: TimestampMicrosecondArray = ids
        .iter()
        .map(|&i| (i % 9 != 4).then_some(1_700_000_000_000_000 + i * 3_600_000_000))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(score),
        Arc::new(city),
        Arc::new(flag),
        Arc::new(ts),
    ];
    RecordBatch::try_new(sample_schema(), columns).unwrap()
}

pub fn paths(items: &[&Path]) -> Vec<String> {
    items.iter().map(|p| p.display().to_string()).collect()
}

/// Reads every partition in order; the first error wins.
pub fn read(ds: Dataset) -> Result<Vec<RecordBatch>, SourceError> {
    let mut out = Vec::new();
    for p in ds.partitions {
        for batch in (p.open)()? {
            out.push(batch?);
        }
    }
    Ok(out)
}

pub fn read_all(inputs: &[String], options: &ReadOptions) -> RecordBatch {
    let ds = open(inputs, options).unwrap();
    let schema = ds.schema.clone();
    let batches = read(ds).unwrap();
    for b in &batches {
        assert_eq!(b.schema(), schema, "every batch carries the dataset schema");
    }
    concat_batches(&schema, &batches).unwrap()
}

/// The error of opening and reading `inputs` to the end.
pub fn error_of(inputs: &[String], options: &ReadOptions) -> String {
    match open(inputs, options).and_then(read) {
        Ok(_) => panic!("expected an error reading {inputs:?}"),
        Err(e) => e.to_string(),
    }
}

pub fn write_parquet(path: &Path, batches: &[RecordBatch], props: Option<WriterProperties>) {
    let file = fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), props).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}

pub fn write_ipc_file(path: &Path, batches: &[RecordBatch]) {
    let file = fs::File::create(path).unwrap();
    let mut w = arrow::ipc::writer::FileWriter::try_new(file, &batches[0].schema()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

pub fn ipc_stream_bytes(batches: &[RecordBatch]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &batches[0].schema()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    buf
}

pub fn csv_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut buf = Vec::new();
    arrow::csv::Writer::new(&mut buf).write(batch).unwrap();
    buf
}

pub fn ndjson_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
    w.write(batch).unwrap();
    w.finish().unwrap();
    buf
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub fn put(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, data).unwrap();
    path
}
