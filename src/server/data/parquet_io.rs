//! Partition files: one Parquet file (zstd) per window, what the daemon
//! knows of it in the footer's key-value metadata (`assay.*`), written
//! atomically.

use std::fs::File;
use std::path::Path;

use arrow::array::{ArrayRef, new_null_array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// What the footer says of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMeta {
    pub window: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Rows with a label (`None`: the model joins no labels).
    pub labelled: Option<u64>,
    pub label_column: Option<String>,
    pub is_final: bool,
}

/// A footer read back: the metadata and the row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub meta: PartitionMeta,
    pub rows: u64,
}

impl PartitionMeta {
    fn key_values(&self) -> Vec<KeyValue> {
        let mut kv = vec![
            KeyValue::new("assay.window".into(), self.window.clone()),
            KeyValue::new("assay.start_ms".into(), self.start_ms.to_string()),
            KeyValue::new("assay.end_ms".into(), self.end_ms.to_string()),
            KeyValue::new("assay.final".into(), self.is_final.to_string()),
        ];
        if let Some(l) = self.labelled {
            kv.push(KeyValue::new("assay.labelled".into(), l.to_string()));
        }
        if let Some(c) = &self.label_column {
            kv.push(KeyValue::new("assay.label_column".into(), c.clone()));
        }
        kv
    }
}

/// One of the window's batches converted to `expected` (a log written
/// from an Arrow IPC body holds the batch as it came): columns of the
/// expected type are shared, not copied.
pub fn conform(expected: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch, String> {
    let columns: Vec<ArrayRef> = expected
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => cast(c, f.data_type()).map_err(|e| format!("column `{}`: {e}", f.name())),
            None => Ok(new_null_array(f.data_type(), batch.num_rows())),
        })
        .collect::<Result<_, String>>()?;
    RecordBatch::try_new(expected.clone(), columns).map_err(|e| e.to_string())
}

/// Writes `batches` (all of `schema`) as Parquet (zstd) with `meta` in the
/// footer, streamed into a temporary file that is fsynced and renamed over
/// `path` (the directory fsynced too, and `data/` when the date directory
/// is new).
pub fn write_atomic(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    meta: &PartitionMeta,
) -> Result<(), String> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| e.to_string())?,
        ))
        .set_key_value_metadata(Some(meta.key_values()))
        .build();
    let date_dir = path.parent();
    let new_dir = date_dir.is_some_and(|d| !d.exists());
    crate::sinks::write_atomic_with(path, |file| {
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.close()?;
        Ok(())
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if new_dir && let Some(data_dir) = date_dir.and_then(Path::parent) {
        // The date directory's own entry in `data/`.
        File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("{}: syncing: {e}", data_dir.display()))?;
    }
    Ok(())
}

fn value<'a>(kv: &'a [KeyValue], key: &str) -> Option<&'a str> {
    kv.iter()
        .find(|k| k.key == key)
        .and_then(|k| k.value.as_deref())
}

/// Reads a partition's footer.
pub fn read_meta(path: &Path) -> Result<FileMeta, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let meta = builder.metadata();
    let rows = meta.file_metadata().num_rows().max(0) as u64;
    let kv = meta
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let window = value(&kv, "assay.window")
        .ok_or("not a partition written by assay (no assay.window in its metadata)")?
        .to_string();
    let int = |key: &str| {
        value(&kv, key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Ok(FileMeta {
        meta: PartitionMeta {
            window,
            start_ms: int("assay.start_ms"),
            end_ms: int("assay.end_ms"),
            labelled: value(&kv, "assay.labelled").and_then(|v| v.parse().ok()),
            label_column: value(&kv, "assay.label_column").map(str::to_string),
            is_final: value(&kv, "assay.final") != Some("false"),
        },
        rows,
    })
}

/// Reads a whole partition back (a label rewrite), as one batch.
pub fn read_all(path: &Path) -> Result<(RecordBatch, PartitionMeta), String> {
    let meta = read_meta(path)?.meta;
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| e.to_string())?;
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let batch = concat_batches(&schema, &batches).map_err(|e| e.to_string())?;
    Ok((batch, meta))
}
