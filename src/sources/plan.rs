//! What every format shares once files are resolved: one schema across
//! files, column projection, hive columns appended to batches, bounded batch
//! sizes, and a guard that turns a panicking third-party decoder into an
//! error naming the file.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::resolve::InputFile;
use super::{BatchIter, Partition, SourceError};

/// How per-file schemas combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unify {
    /// Typed formats (Parquet, IPC): names and types must be equal.
    Exact,
    /// Inferred formats (CSV, NDJSON): names must be equal, types widen
    /// (a column that is all integers in one file and has decimals in
    /// another becomes Float64; irreconcilable types become Utf8).
    Widen,
}

/// One schema for all files, or an error naming both files and the first
/// differing column. Nullability is the union; metadata is dropped.
pub(super) fn unify(schemas: &[(&str, Schema)], mode: Unify) -> Result<Schema, SourceError> {
    let Some((first_name, first)) = schemas.first() else {
        return Ok(Schema::empty());
    };
    let mut fields: Vec<Field> = first.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (name, schema) in &schemas[1..] {
        let mismatch = |detail: String| SourceError::SchemaMismatch {
            path: name.to_string(),
            first: first_name.to_string(),
            detail,
        };
        for (i, field) in fields.iter_mut().enumerate() {
            let Some(other) = schema.fields().get(i) else {
                return Err(mismatch(format!(
                    "it has {} columns and lacks column \"{}\"",
                    schema.fields().len(),
                    field.name()
                )));
            };
            if other.name() != field.name() {
                return Err(mismatch(format!(
                    "column {} is \"{}\" but \"{}\" in {first_name}",
                    i + 1,
                    other.name(),
                    field.name()
                )));
            }
            let data_type = match mode {
                Unify::Exact if other.data_type() != field.data_type() => {
                    return Err(mismatch(format!(
                        "column \"{}\" has type {} but {} in {first_name}",
                        field.name(),
                        other.data_type(),
                        field.data_type()
                    )));
                }
                Unify::Exact => field.data_type().clone(),
                Unify::Widen => widen(field.data_type(), other.data_type()),
            };
            let nullable = field.is_nullable() || other.is_nullable();
            *field = Field::new(field.name(), data_type, nullable);
        }
        if let Some(extra) = schema.fields().get(fields.len()) {
            return Err(mismatch(format!(
                "it has an extra column \"{}\" (column {})",
                extra.name(),
                fields.len() + 1
            )));
        }
    }
    Ok(Schema::new(fields))
}

/// The narrowest type that holds values inferred as `a` in one file and as
/// `b` in another.
pub(super) fn widen(a: &DataType, b: &DataType) -> DataType {
    use DataType::*;
    match (a, b) {
        _ if a == b => a.clone(),
        (Null, x) | (x, Null) => x.clone(),
        (Int64, Float64) | (Float64, Int64) => Float64,
        (Date32, Timestamp(..)) | (Timestamp(..), Date32) | (Timestamp(..), Timestamp(..)) => {
            Timestamp(TimeUnit::Microsecond, None)
        }
        _ => Utf8,
    }
}

/// Units (row groups, IPC record batches) per partition so a dataset has
/// about two partitions per thread: enough to balance uneven units, few
/// enough that per-partition overhead (a file handle, a reader, a profile to
/// merge) stays small.
pub(super) fn groups_per_partition(total_groups: usize, threads: usize) -> usize {
    let target = (2 * threads).max(1);
    total_groups.div_ceil(target).max(1)
}

/// Splits `n` units into contiguous ranges of at most `per` units, balanced
/// (10 units at most 3 per range → 2, 3, 2, 3).
pub(super) fn split(n: usize, per: usize) -> Vec<Range<usize>> {
    let k = n.div_ceil(per.max(1));
    (0..k).map(|i| (i * n / k)..((i + 1) * n / k)).collect()
}

/// Which columns to read and what the batches look like.
#[derive(Debug)]
pub(super) struct Projection {
    /// Indices into the file schema to read, ascending; `None` reads all.
    pub file_indices: Option<Vec<usize>>,
    /// Indices into the hive keys to append, in key order.
    pub hive_indices: Vec<usize>,
    /// The schema of the batches handed out.
    pub schema: SchemaRef,
}

/// Resolves `ReadOptions::columns` against the file columns and hive keys.
/// Columns come out in file order, hive columns last, whatever order they
/// were requested in.
pub(super) fn project(
    file_schema: &Schema,
    hive_keys: &[String],
    columns: Option<&[String]>,
    file: &str,
) -> Result<Projection, SourceError> {
    let hive_field = |key: &String| Field::new(key, DataType::Utf8, true);
    let Some(columns) = columns else {
        let mut fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(hive_keys.iter().map(hive_field));
        return Ok(Projection {
            file_indices: None,
            hive_indices: (0..hive_keys.len()).collect(),
            schema: Arc::new(Schema::new(fields)),
        });
    };
    let mut file_indices = Vec::new();
    let mut hive_indices = Vec::new();
    for column in columns {
        if let Ok(i) = file_schema.index_of(column) {
            file_indices.push(i);
        } else if let Some(i) = hive_keys.iter().position(|k| k == column) {
            hive_indices.push(i);
        } else {
            let available: Vec<&str> = file_schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .chain(hive_keys.iter().map(String::as_str))
                .collect();
            return Err(SourceError::ColumnNotFound {
                path: file.to_string(),
                column: column.clone(),
                available: available.join(", "),
            });
        }
    }
    file_indices.sort_unstable();
    file_indices.dedup();
    hive_indices.sort_unstable();
    hive_indices.dedup();
    let mut fields: Vec<Field> = file_indices
        .iter()
        .map(|&i| file_schema.field(i).clone())
        .collect();
    fields.extend(hive_indices.iter().map(|&i| hive_field(&hive_keys[i])));
    Ok(Projection {
        file_indices: Some(file_indices),
        hive_indices,
        schema: Arc::new(Schema::new(fields)),
    })
}

/// The raw batches of one partition: the projected file columns only.
pub(super) type RawIter = Box<dyn Iterator<Item = Result<RecordBatch, SourceError>> + Send>;

/// Wraps a format reader into a [`Partition`]: the hive columns are
/// appended, batches longer than `batch_size` are sliced (zero-copy), each
/// batch is stamped with the dataset schema, and a panic inside a decoder
/// becomes an error naming the file.
pub(super) fn partition(
    file: &InputFile,
    description: String,
    projection: &Arc<Projection>,
    batch_size: usize,
    open: impl FnOnce() -> Result<RawIter, SourceError> + Send + 'static,
) -> Partition {
    let path = file.name.clone();
    let format = file.format.label();
    let hive: Vec<Option<String>> = projection
        .hive_indices
        .iter()
        .map(|&i| file.hive[i].1.clone())
        .collect();
    let projection = Arc::clone(projection);
    Partition {
        description,
        open: Box::new(move || {
            let inner = guard(&path, format, open)?;
            Ok(Box::new(Batches {
                inner,
                pending: None,
                schema: Arc::clone(&projection.schema),
                hive,
                batch_size: batch_size.max(1),
                path,
                format,
                done: false,
            }) as BatchIter)
        }),
    }
}

/// Runs third-party decoding code, turning a panic into an error: the
/// product promises no panic on bad input, and decoders of binary formats
/// are the likeliest place for one on a corrupt file.
pub(super) fn guard<T>(
    path: &str,
    format: &'static str,
    f: impl FnOnce() -> Result<T, SourceError>,
) -> Result<T, SourceError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "decoder failure".into());
        Err(SourceError::Corrupt {
            path: path.to_string(),
            format,
            message: detail,
        })
    })
}

struct Batches {
    inner: RawIter,
    /// A batch being handed out in `batch_size` slices, and the next offset.
    pending: Option<(RecordBatch, usize)>,
    schema: SchemaRef,
    hive: Vec<Option<String>>,
    batch_size: usize,
    path: String,
    format: &'static str,
    done: bool,
}

impl Batches {
    fn finish(&self, batch: RecordBatch) -> Result<RecordBatch, SourceError> {
        let rows = batch.num_rows();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for value in &self.hive {
            columns.push(match value {
                Some(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, rows))),
                None => new_null_array(&DataType::Utf8, rows),
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options).map_err(
            |e| SourceError::Other {
                path: self.path.clone(),
                message: format!("a batch does not match the dataset schema: {e}"),
            },
        )
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((batch, offset)) = self.pending.take() {
                let len = self.batch_size.min(batch.num_rows() - offset);
                if offset + len < batch.num_rows() {
                    self.pending = Some((batch.clone(), offset + len));
                }
                return Some(self.finish(batch.slice(offset, len)));
            }
            if self.done {
                return None;
            }
            let inner = &mut self.inner;
            match guard(&self.path, self.format, || Ok(inner.next())) {
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Ok(Some(Ok(batch))) if batch.num_rows() == 0 => continue,
                Ok(Some(Ok(batch))) => self.pending = Some((batch, 0)),
                // After an error the reader's state is unknown: stop there.
                Ok(Some(Err(e))) | Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_contiguous_and_balanced() {
        assert_eq!(split(10, 3), vec![0..2, 2..5, 5..7, 7..10]);
        assert_eq!(split(1, 4), vec![0..1]);
        assert_eq!(split(0, 1), Vec::<Range<usize>>::new());
        assert_eq!(groups_per_partition(10, 2), 3);
        assert_eq!(groups_per_partition(3, 8), 1);
    }

    #[test]
    fn widening_prefers_the_narrowest_common_type() {
        assert_eq!(
            widen(&DataType::Int64, &DataType::Float64),
            DataType::Float64
        );
        assert_eq!(
            widen(&DataType::Null, &DataType::Boolean),
            DataType::Boolean
        );
        assert_eq!(widen(&DataType::Boolean, &DataType::Int64), DataType::Utf8);
    }
}
