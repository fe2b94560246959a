//! CSV, Arrow IPC stream and Parquet bodies.

use std::collections::HashSet;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::buffer::Buffer;
use arrow::csv::reader::{Format, ReaderBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamDecoder;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{PayloadError, cast_checked, conform, guard, shorten};

/// Rows per decoded batch (batches are concatenated afterwards).
const BATCH_ROWS: usize = 8192;

fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, PayloadError> {
    arrow::compute::concat_batches(schema, batches)
        .map_err(|e| PayloadError::body(format!("cannot concatenate the batches: {e}")))
}

/// An Arrow IPC stream: all its batches, concatenated, then conformed.
pub(super) fn arrow_stream(
    body: &[u8],
    expected: Option<&Schema>,
) -> Result<RecordBatch, PayloadError> {
    let bad = |e: ArrowError| {
        PayloadError::body(format!("the body is not a valid Arrow IPC stream: {e}"))
    };
    let batch = guard("Arrow IPC stream", || {
        let reader =
            arrow::ipc::reader::StreamReader::try_new(Cursor::new(body), None).map_err(bad)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(bad)?;
        concat(&schema, &batches)
    })?;
    conform(&batch, expected)
}

/// An Arrow IPC stream held as [`Bytes`], read without copying its
/// buffers (reading it from a slice copied every buffer: about 4% of the
/// daemon's CPU on Arrow bodies), and whether it is exactly one batch with
/// the `expected` schema, so that the body is that batch as the daemon's
/// log stores it. A body this cannot read is read by [`arrow_stream`]
/// again, for its errors and its leniency (bytes after the end-of-stream
/// marker are ignored there).
pub(super) fn arrow_stream_shared(
    body: &Bytes,
    expected: Option<&Schema>,
) -> Result<(RecordBatch, bool), PayloadError> {
    let Ok(Some((schema, batches))) = guard("Arrow IPC stream", || Ok(read_shared(body))) else {
        return Ok((arrow_stream(body, expected)?, false));
    };
    let as_logged = batches.len() == 1 && expected.is_some_and(|e| schema.as_ref() == e);
    let batch = concat(&schema, &batches)?;
    Ok((conform(&batch, expected)?, as_logged))
}

fn read_shared(body: &Bytes) -> Option<(SchemaRef, Vec<RecordBatch>)> {
    let mut buffer = Buffer::from(body.clone());
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while let Some(batch) = decoder.decode(&mut buffer).ok()? {
        batches.push(batch);
    }
    decoder.finish().ok()?;
    Some((decoder.schema()?, batches))
}

/// A Parquet file: all its row groups, concatenated, then conformed.
pub(super) fn parquet(body: &[u8], expected: Option<&Schema>) -> Result<RecordBatch, PayloadError> {
    let bad = |e: &dyn std::fmt::Display| {
        PayloadError::body(format!("the body is not a valid Parquet file: {e}"))
    };
    let batch = guard("Parquet file", || {
        // parquet reads a `Bytes` in memory (ChunkReader).
        let bytes = bytes::Bytes::copy_from_slice(body);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| bad(&e))?
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| bad(&e))?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| bad(&e))?;
        concat(&schema, &batches)
    })?;
    conform(&batch, expected)
}

/// Types arrow-csv parses directly; other expected types are read as text
/// and cast.
fn csv_readable(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Utf8
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
    )
}

/// A CSV body with a header row. Known columns are read as the expected
/// type; others are inferred from the whole body (integers → Int64,
/// decimals → Float64, `true`/`false` → Boolean, dates → Date32, date-times
/// → Timestamp(µs), otherwise Utf8). Empty cells are null.
pub(super) fn csv(body: &[u8], expected: Option<&Schema>) -> Result<RecordBatch, PayloadError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PayloadError::body(
            "the body is empty (no header row, no rows)",
        ));
    }
    let inferred = guard("CSV body", || {
        Format::default()
            .with_header(true)
            .infer_schema(Cursor::new(body), None)
            .map(|(schema, _)| schema)
            .map_err(|e| csv_error(e, &[]))
    })?;
    let mut seen = HashSet::new();
    let mut read_fields = Vec::with_capacity(inferred.fields().len());
    let mut targets = Vec::with_capacity(inferred.fields().len());
    for (i, field) in inferred.fields().iter().enumerate() {
        let raw = field.name().trim_start_matches('\u{feff}').trim();
        let name = if raw.is_empty() {
            format!("column_{}", i + 1)
        } else {
            raw.to_string()
        };
        if !seen.insert(name.clone()) {
            return Err(PayloadError::body("the header names this column twice").in_column(name));
        }
        let target = match expected.and_then(|s| s.field_with_name(&name).ok()) {
            Some(known) => known.data_type().clone(),
            None => match field.data_type() {
                DataType::Timestamp(_, tz) => {
                    DataType::Timestamp(TimeUnit::Microsecond, tz.clone())
                }
                DataType::Null => DataType::Utf8,
                other => other.clone(),
            },
        };
        let read_as = if csv_readable(&target) {
            target.clone()
        } else {
            DataType::Utf8
        };
        read_fields.push(Field::new(&name, read_as, true));
        targets.push(target);
    }
    let names: Vec<String> = read_fields.iter().map(|f| f.name().clone()).collect();
    let schema = Arc::new(Schema::new(read_fields));
    let batch = match read_csv(body, schema.clone()) {
        Ok(batch) => batch,
        Err(e) => {
            // Locate the bad cell precisely: read everything as text and
            // convert column by column.
            let text = Arc::new(Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(n, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            if let Ok(batch) = read_csv(body, text) {
                for ((name, column), field) in
                    names.iter().zip(batch.columns()).zip(schema.fields())
                {
                    cast_checked(column, field.data_type(), name)?;
                }
            }
            return Err(csv_error(e, &names));
        }
    };
    let mut columns = Vec::with_capacity(targets.len());
    for ((name, array), target) in names.into_iter().zip(batch.columns()).zip(&targets) {
        let array = if array.data_type() == target {
            array.clone()
        } else {
            cast_checked(array, target, &name)?
        };
        columns.push((name, array));
    }
    super::assemble(columns, batch.num_rows())
}

fn read_csv(body: &[u8], schema: SchemaRef) -> Result<RecordBatch, ArrowError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let reader = ReaderBuilder::new(schema.clone())
            .with_header(true)
            .with_batch_size(BATCH_ROWS)
            .build(Cursor::new(body))?;
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        arrow::compute::concat_batches(&schema, &batches)
    }));
    outcome.unwrap_or_else(|_| {
        Err(ArrowError::CsvError(
            "the CSV decoder gave up on corrupt data".into(),
        ))
    })
}

/// Maps an arrow-csv error, naming the data row (0-based) where its message
/// gives a line.
fn csv_error(e: ArrowError, names: &[String]) -> PayloadError {
    let text = match e {
        ArrowError::CsvError(s) | ArrowError::ParseError(s) => s,
        other => other.to_string(),
    };
    // "incorrect number of fields for line L, expected E got G" (L 1-based, header = line 1)
    if let Some(rest) = text.strip_prefix("incorrect number of fields for line ")
        && let Some((line, rest)) = rest.split_once(", expected ")
        && let Ok(line) = line.parse::<usize>()
    {
        let (want, got) = rest.split_once(" got ").unwrap_or((rest, "?"));
        let error = PayloadError {
            expected: Some(format!("{want} fields")),
            ..PayloadError::body(format!(
                "expected {want} fields (as in the header), found {got}"
            ))
        };
        return match line.checked_sub(2) {
            Some(row) => error.at_row(row),
            None => error,
        };
    }
    // The csv crate, at inference: "... Expected E records, found G records at line L"
    if let Some((head, line)) = text.rsplit_once(" at line ")
        && let Ok(line) = line.trim().parse::<usize>()
        && let Some((_, counts)) = head.split_once("Expected ")
    {
        let (want, got) = counts.split_once(", found ").unwrap_or((counts, "?"));
        let want = want.trim_end_matches(" records");
        let got = got.trim_end_matches(" records");
        let error = PayloadError {
            expected: Some(format!("{want} fields")),
            ..PayloadError::body(format!(
                "expected {want} fields (as in the header), found {got}"
            ))
        };
        return match line.checked_sub(2) {
            Some(row) => error.at_row(row),
            None => error,
        };
    }
    if text.contains("UTF-8") || text.contains("utf-8") || text.contains("utf8") {
        return PayloadError::body(format!(
            "the CSV body is not valid UTF-8 ({})",
            shorten(&text, 120)
        ));
    }
    let _ = names;
    PayloadError::body(format!(
        "the CSV body cannot be read: {}",
        shorten(&text, 200)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};

    #[test]
    fn csv_infers_and_follows_expected() {
        let body = b"age,income,sex,when\n31,5000.5,F,2024-01-02T03:04:05Z\n40,,M,\n";
        let b = csv(body, None).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(0).data_type(), &DataType::Int64);
        assert_eq!(b.column(1).data_type(), &DataType::Float64);
        assert_eq!(b.column(2).data_type(), &DataType::Utf8);
        assert_eq!(
            b.column(3).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert!(b.column(1).is_null(1));
        let expected = Schema::new(vec![
            Field::new("age", DataType::Float64, false),
            Field::new("sex", DataType::Utf8, true),
            Field::new(
                "when",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("income", DataType::Utf8, true),
        ]);
        let b = csv(body, Some(&expected)).unwrap();
        assert_eq!(b.column(0).data_type(), &DataType::Float64);
        assert_eq!(b.column(1).data_type(), &DataType::Utf8);
        assert_eq!(
            b.column(3)
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_704_164_645_000_000
        );
        assert!(b.schema().fields().iter().all(|f| f.is_nullable()));
    }

    fn sample() -> RecordBatch {
        use arrow::array::{
            DictionaryArray, Float32Array, Float64Array, Int32Array, TimestampNanosecondArray,
        };
        use arrow::datatypes::Int8Type;
        let dict: DictionaryArray<Int8Type> =
            vec![Some("F"), None, Some("F")].into_iter().collect();
        let columns: Vec<arrow::array::ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(31), None, Some(58)])),
            Arc::new(Float32Array::from(vec![1.5, 2.0, 3.25])),
            Arc::new(dict),
            Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000, 3_000])),
            Arc::new(Float64Array::from(vec![1.0, 2.5, 3.0])),
        ];
        let fields: Vec<Field> = ["age", "income", "sex", "seen", "count"]
            .iter()
            .zip(&columns)
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    fn ipc(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
        w.write(batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    fn parquet_file(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        out
    }

    #[test]
    fn arrow_and_parquet_keep_or_convert_types() {
        let batch = sample();
        for (name, decoded) in [
            ("arrow", arrow_stream(&ipc(&batch), None).unwrap()),
            ("parquet", parquet(&parquet_file(&batch), None).unwrap()),
        ] {
            let types: Vec<DataType> = decoded
                .schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect();
            assert_eq!(
                types,
                vec![
                    DataType::Int32,
                    DataType::Float32,
                    DataType::Utf8,
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    DataType::Float64,
                ],
                "{name}"
            );
            assert_eq!(decoded.num_rows(), 3, "{name}");
        }
        let expected = Schema::new(vec![
            Field::new("age", DataType::Int64, false),
            Field::new("income", DataType::Float64, true),
            Field::new("sex", DataType::Utf8, true),
        ]);
        for (name, decoded) in [
            (
                "arrow",
                arrow_stream(&ipc(&batch), Some(&expected)).unwrap(),
            ),
            (
                "parquet",
                parquet(&parquet_file(&batch), Some(&expected)).unwrap(),
            ),
        ] {
            assert_eq!(decoded.column(0).data_type(), &DataType::Int64, "{name}");
            assert_eq!(decoded.column(0).null_count(), 1, "{name}");
            assert_eq!(decoded.column(1).data_type(), &DataType::Float64, "{name}");
            assert_eq!(decoded.column(2).data_type(), &DataType::Utf8, "{name}");
            assert!(decoded.schema().field(0).is_nullable(), "{name}");
        }
        // A fractional float does not silently become an integer.
        let lossy = Schema::new(vec![Field::new("count", DataType::Int64, true)]);
        let e = arrow_stream(&ipc(&batch), Some(&lossy)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 1, column `count`: expected an integer, found 2.5"
        );
        let e = parquet(&parquet_file(&batch), Some(&lossy)).unwrap_err();
        assert_eq!(e.row, Some(1));
        // No batches at all: no rows (reported by `decode`), not an error here.
        let empty = ipc(&batch.slice(0, 0));
        assert_eq!(arrow_stream(&empty, None).unwrap().num_rows(), 0);
        assert!(arrow_stream(&empty[..empty.len() / 2], None).is_err());
    }

    #[test]
    fn csv_errors_name_row_and_column() {
        let expected = Schema::new(vec![Field::new("age", DataType::Int64, true)]);
        let mut body = String::from("sex,age\n");
        for i in 0..10_000 {
            body.push_str(&format!("F,{i}\n"));
        }
        body.push_str("M,abc\n");
        let e = csv(body.as_bytes(), Some(&expected)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 10000, column `age`: expected an integer, found \"abc\""
        );
        let e = csv(b"a,b\n1,2\n3\n", None).unwrap_err();
        assert_eq!(e.row, Some(1), "{e}");
        let e = csv(b"a,a\n1,2\n", None).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("a"));
        assert!(csv(b"a,b\n", None).unwrap().num_rows() == 0);
        let b = csv(b"\xEF\xBB\xBFn\n1\n", None);
        assert!(b.is_ok());
        let b = csv(b"n\n1\n2\n", None).unwrap();
        assert_eq!(
            b.column(0).as_primitive::<Int64Type>().values().to_vec(),
            vec![1, 2]
        );
    }
}
