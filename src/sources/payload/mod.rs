//! Decoding HTTP ingest bodies into Arrow record batches.
//!
//! The daemon (`assay serve`) accepts batches over HTTP; this module is its
//! pure decoding layer: bytes and a Content-Type in, one [`RecordBatch`] (plus
//! optional per-row request ids) out, or a [`PayloadError`] that names the
//! row, the column and what was expected. It never panics on any input.
//!
//! # Formats ([`detect`])
//!
//! | Content-Type | format |
//! |---|---|
//! | `application/json` | peeked: array → [`PayloadFormat::JsonRows`]; object with `columns` → [`PayloadFormat::JsonColumns`]; with `inputs` → [`PayloadFormat::KserveRequest`]; with `outputs` → [`PayloadFormat::KserveResponse`] (the first of these keys wins) |
//! | `application/x-ndjson`, `application/jsonl` | [`PayloadFormat::Ndjson`] |
//! | `text/csv` | [`PayloadFormat::Csv`] |
//! | `application/vnd.apache.arrow.stream` | [`PayloadFormat::ArrowStream`] |
//! | `application/vnd.apache.parquet`, `application/x-parquet` | [`PayloadFormat::Parquet`] |
//!
//! # Types
//! With the model's baseline schema (`expected`), known columns are converted
//! to the baseline's types. Other columns are inferred: JSON numbers → Int64
//! if all integral else Float64, strings → Utf8, booleans → Boolean, arrays of
//! scalars → List, all-null → Utf8; CSV uses arrow-csv's inference (with
//! timestamps in microseconds); Arrow and Parquet keep their types (dictionaries
//! unpacked, large/view strings → Utf8, timestamps → microseconds). Every
//! output field is nullable and carries no metadata.
//!
//! JSON conversions to a known type: integral floats (`3.0`) are accepted for
//! integer columns; numbers and booleans become their text for string columns;
//! timestamp columns take RFC 3339 / ISO 8601 strings (a date-time without an
//! offset, or a bare date, is UTC) or numbers (microseconds since the epoch).
//! Strings are never parsed as numbers or booleans.
//!
//! # Request ids
//! A KServe payload's `id` becomes every row's id: `{id}` when the payload has
//! one row, `{id}/{i}` for row `i` (0-based) otherwise. A JSON-columns body
//! may carry `"request_ids": [...]`. When `request_id_column` is given and the
//! batch has that column, the column wins over both (a null id becomes `""`);
//! the column stays in the batch.

mod cells;
mod column;
mod json;
mod kserve;
mod scan;
mod tabular;

pub use kserve::MAX_COLUMNS_PER_TENSOR;

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::CastOptions;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::Bytes;

/// A decoded ingest body.
#[derive(Debug, Clone)]
pub struct DecodedBatch {
    pub batch: RecordBatch,
    /// One per row when the payload carried request ids (KServe `id`, a JSON
    /// columns body's `request_ids`, or a `request_id` column given by name).
    pub request_ids: Option<Vec<String>>,
    /// The body itself when it is an Arrow IPC stream of exactly one batch
    /// whose schema is the `expected` one (set by [`decode_shared`] only):
    /// those bytes are `batch` as an IPC stream, so the daemon logs them as
    /// they came instead of encoding the batch again.
    pub ipc_stream: Option<Bytes>,
}

/// The body formats accepted by the ingest endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    JsonRows,
    JsonColumns,
    Ndjson,
    Csv,
    ArrowStream,
    Parquet,
    KserveRequest,
    KserveResponse,
}

impl PayloadFormat {
    /// A short name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            PayloadFormat::JsonRows => "json_rows",
            PayloadFormat::JsonColumns => "json_columns",
            PayloadFormat::Ndjson => "ndjson",
            PayloadFormat::Csv => "csv",
            PayloadFormat::ArrowStream => "arrow_stream",
            PayloadFormat::Parquet => "parquet",
            PayloadFormat::KserveRequest => "kserve_request",
            PayloadFormat::KserveResponse => "kserve_response",
        }
    }
}

/// The content types [`detect`] accepts, for error messages.
pub const ACCEPTED_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/jsonl",
    "text/csv",
    "application/vnd.apache.arrow.stream",
    "application/vnd.apache.parquet",
    "application/x-parquet",
];

/// Why a body could not be decoded.
///
/// `row` is the 0-based index of the data row (the first data row is row 0:
/// CSV headers and blank NDJSON lines are not counted). Serialises as the
/// server's 400 body: `{"error": <Display text>, "row": .., "column": ..,
/// "expected": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(self))]
pub struct PayloadError {
    pub row: Option<usize>,
    pub column: Option<String>,
    pub expected: Option<String>,
    pub message: String,
}

fn render(e: &PayloadError) -> String {
    let mut out = String::new();
    match (e.row, &e.column) {
        (Some(r), Some(c)) => out.push_str(&format!("row {r}, column `{c}`: ")),
        (Some(r), None) => out.push_str(&format!("row {r}: ")),
        (None, Some(c)) => out.push_str(&format!("column `{c}`: ")),
        (None, None) => {}
    }
    out.push_str(&e.message);
    out
}

impl PayloadError {
    /// An error about the whole body.
    pub(crate) fn body(message: impl Into<String>) -> Self {
        PayloadError {
            row: None,
            column: None,
            expected: None,
            message: message.into(),
        }
    }

    pub(crate) fn at_row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }

    pub(crate) fn in_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// `expected {expected}, found {found}` at a cell.
    pub(crate) fn mismatch(row: usize, column: &str, expected: String, found: &str) -> Self {
        PayloadError {
            row: Some(row),
            column: Some(column.to_string()),
            message: format!("expected {expected}, found {found}"),
            expected: Some(expected),
        }
    }

    fn no_rows() -> Self {
        PayloadError::body("the body has no rows")
    }
}

impl serde::Serialize for PayloadError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("error", &self.to_string())?;
        map.serialize_entry("row", &self.row)?;
        map.serialize_entry("column", &self.column)?;
        map.serialize_entry("expected", &self.expected)?;
        map.end()
    }
}

/// The media type of a Content-Type value: parameters dropped, lower case.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Picks the format from a Content-Type header value (parameters like
/// `; charset=utf-8` are ignored). `application/json` bodies are classified
/// by peeking at the body (see the module documentation); only the start of
/// an object is read, up to its first key among `columns`, `inputs` and
/// `outputs`.
pub fn detect(content_type: &str, body: &[u8]) -> Result<PayloadFormat, PayloadError> {
    let media = media_type(content_type);
    match media.as_str() {
        "application/json" => json::classify(strip_bom(body)),
        "application/x-ndjson" | "application/jsonl" => Ok(PayloadFormat::Ndjson),
        "text/csv" => Ok(PayloadFormat::Csv),
        "application/vnd.apache.arrow.stream" => Ok(PayloadFormat::ArrowStream),
        "application/vnd.apache.parquet" | "application/x-parquet" => Ok(PayloadFormat::Parquet),
        _ => Err(PayloadError {
            expected: Some(ACCEPTED_CONTENT_TYPES.join(", ")),
            ..PayloadError::body(format!(
                "unsupported content type \"{}\"; accepted: {}",
                shorten(content_type.trim(), 80),
                ACCEPTED_CONTENT_TYPES.join(", ")
            ))
        }),
    }
}

/// Decodes a body into one batch.
///
/// `expected` is the model's baseline schema when known: columns present in
/// it are converted to its types; other columns are inferred; columns of
/// `expected` missing from the body are absent from the batch.
/// `request_id_column`: when set and present, that column's values become
/// [`DecodedBatch::request_ids`] (the column stays in the batch).
pub fn decode(
    content_type: &str,
    body: &[u8],
    expected: Option<&Schema>,
    request_id_column: Option<&str>,
) -> Result<DecodedBatch, PayloadError> {
    decode_on(content_type, body, expected, request_id_column, Cores::One)
}

/// How many cores one body's decoding may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cores {
    One,
    /// Large JSON row bodies are decoded in two halves on the rayon pool
    /// (the daemon asks for this when it has cores to spare).
    Two,
}

/// [`decode`], on as many cores as `cores` allows.
pub fn decode_on(
    content_type: &str,
    body: &[u8],
    expected: Option<&Schema>,
    request_id_column: Option<&str>,
    cores: Cores,
) -> Result<DecodedBatch, PayloadError> {
    let format = detect(content_type, body)?;
    decode_as(format, body, expected, request_id_column, cores)
}

/// [`decode_on`], for a body held as [`Bytes`] (the daemon's): an Arrow
/// IPC stream is then read without copying its buffers, and
/// [`DecodedBatch::ipc_stream`] is set when it is one batch with the
/// `expected` schema.
pub fn decode_shared(
    content_type: &str,
    body: &Bytes,
    expected: Option<&Schema>,
    request_id_column: Option<&str>,
    cores: Cores,
) -> Result<DecodedBatch, PayloadError> {
    let format = detect(content_type, body)?;
    if format != PayloadFormat::ArrowStream || body.is_empty() {
        return decode_as(format, body, expected, request_id_column, cores);
    }
    let (batch, as_logged) = tabular::arrow_stream_shared(body, expected)?;
    let mut decoded = finish(batch, None, request_id_column)?;
    decoded.ipc_stream = as_logged.then(|| body.clone());
    Ok(decoded)
}

fn decode_as(
    format: PayloadFormat,
    body: &[u8],
    expected: Option<&Schema>,
    request_id_column: Option<&str>,
    cores: Cores,
) -> Result<DecodedBatch, PayloadError> {
    if body.is_empty() {
        return Err(PayloadError::body("the body is empty (no rows)"));
    }
    let (batch, ids) = match format {
        PayloadFormat::JsonRows if cores == Cores::Two => {
            (json::rows_in_halves(strip_bom(body), expected)?, None)
        }
        PayloadFormat::JsonRows => (json::rows(strip_bom(body), expected)?, None),
        PayloadFormat::JsonColumns => json::columns(strip_bom(body), expected)?,
        PayloadFormat::Ndjson => (json::ndjson(strip_bom(body), expected)?, None),
        PayloadFormat::KserveRequest | PayloadFormat::KserveResponse => {
            kserve::decode(strip_bom(body), format, expected)?
        }
        PayloadFormat::Csv => (tabular::csv(strip_bom(body), expected)?, None),
        PayloadFormat::ArrowStream => (tabular::arrow_stream(body, expected)?, None),
        PayloadFormat::Parquet => (tabular::parquet(body, expected)?, None),
    };
    finish(batch, ids, request_id_column)
}

fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Checks the row count and settles the request ids.
fn finish(
    batch: RecordBatch,
    ids: Option<Vec<String>>,
    request_id_column: Option<&str>,
) -> Result<DecodedBatch, PayloadError> {
    if batch.num_rows() == 0 {
        return Err(PayloadError::no_rows());
    }
    let from_column = match request_id_column.and_then(|name| batch.column_by_name(name)) {
        Some(column) => Some(ids_from_column(
            column,
            request_id_column.unwrap_or_default(),
        )?),
        None => None,
    };
    let request_ids = from_column.or(ids);
    if let Some(ids) = &request_ids
        && ids.len() != batch.num_rows()
    {
        return Err(PayloadError::body(format!(
            "{} request ids for {} rows",
            ids.len(),
            batch.num_rows()
        )));
    }
    Ok(DecodedBatch {
        batch,
        request_ids,
        ipc_stream: None,
    })
}

fn ids_from_column(column: &ArrayRef, name: &str) -> Result<Vec<String>, PayloadError> {
    let text = arrow::compute::cast(column, &DataType::Utf8).map_err(|e| {
        PayloadError::body(format!("request ids cannot be read as text: {e}")).in_column(name)
    })?;
    let text = text
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .ok_or_else(|| PayloadError::body("request ids cannot be read as text").in_column(name))?;
    Ok(text
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Builds a batch from named columns (all of length `rows`): every field
/// nullable, no metadata.
pub(crate) fn assemble(
    columns: Vec<(String, ArrayRef)>,
    rows: usize,
) -> Result<RecordBatch, PayloadError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| PayloadError::body(format!("cannot assemble the batch: {e}")))
}

/// Converts a decoded Arrow batch (CSV, IPC, Parquet) to the expected types
/// and normalises the types of unknown columns.
pub(crate) fn conform(
    batch: &RecordBatch,
    expected: Option<&Schema>,
) -> Result<RecordBatch, PayloadError> {
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let target = match expected.and_then(|s| s.field_with_name(field.name()).ok()) {
            Some(known) => known.data_type().clone(),
            None => normalised(field.data_type()),
        };
        let array = if array.data_type() == &target {
            array.clone()
        } else {
            cast_checked(array, &target, field.name())?
        };
        columns.push((field.name().clone(), array));
    }
    assemble(columns, batch.num_rows())
}

/// The type an unknown Arrow/Parquet column is given.
fn normalised(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Dictionary(_, values) => normalised(values),
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        other => other.clone(),
    }
}

/// Casts `array` to `target`, refusing lossy conversions: a value that does
/// not survive the cast (becomes null, or a fractional float cast to an
/// integer) is an error naming its row and the column.
pub(crate) fn cast_checked(
    array: &ArrayRef,
    target: &DataType,
    column: &str,
) -> Result<ArrayRef, PayloadError> {
    let source = array.data_type();
    if !arrow::compute::can_cast_types(source, target) {
        let expected = describe(target);
        return Err(PayloadError {
            row: None,
            column: Some(column.to_string()),
            message: format!("expected {expected}, found a column of type {source}"),
            expected: Some(expected),
        });
    }
    if target.is_integer() && source.is_floating() {
        let floats = arrow::compute::cast(array, &DataType::Float64)
            .map_err(|e| PayloadError::body(e.to_string()).in_column(column))?;
        if let Some(floats) = floats.as_any().downcast_ref::<arrow::array::Float64Array>() {
            for (row, v) in floats.iter().enumerate() {
                if let Some(v) = v
                    && v.fract() != 0.0
                {
                    return Err(PayloadError::mismatch(
                        row,
                        column,
                        describe(target),
                        &v.to_string(),
                    ));
                }
            }
        }
    }
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    let cast = arrow::compute::cast_with_options(array, target, &options).map_err(|e| {
        let expected = describe(target);
        PayloadError {
            row: None,
            column: Some(column.to_string()),
            message: format!("expected {expected}: {e}"),
            expected: Some(expected),
        }
    })?;
    if cast.null_count() > array.null_count() {
        for row in 0..array.len() {
            if array.is_valid(row) && cast.is_null(row) {
                return Err(PayloadError::mismatch(
                    row,
                    column,
                    describe(target),
                    &display_value(array, row),
                ));
            }
        }
    }
    Ok(cast)
}

/// One value of an array as text, quoted when it is a string.
fn display_value(array: &ArrayRef, row: usize) -> String {
    let text = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
        .map(|f| f.value(row).to_string())
        .unwrap_or_else(|_| "a value".to_string());
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            serde_json::to_string(&shorten(&text, 40)).unwrap_or(text)
        }
        _ => shorten(&text, 40),
    }
}

/// What a value of `data_type` looks like, for "expected ..." messages.
pub(crate) fn describe(data_type: &DataType) -> String {
    match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "an integer".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            "a non-negative integer".into()
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "a number".into(),
        DataType::Decimal128(..) | DataType::Decimal256(..) => "a decimal number".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "a string".into(),
        DataType::Boolean => "a boolean".into(),
        DataType::Timestamp(..) => {
            "a timestamp (RFC 3339 / ISO 8601 text or microseconds since the epoch)".into()
        }
        DataType::Date32 | DataType::Date64 => "a date (YYYY-MM-DD)".into(),
        DataType::List(item) | DataType::LargeList(item) => {
            format!("an array of {}", plural(item.data_type()))
        }
        DataType::Dictionary(_, values) => describe(values),
        other => format!("a value of type {other}"),
    }
}

fn plural(data_type: &DataType) -> String {
    match data_type {
        t if t.is_integer() => "integers".into(),
        t if t.is_floating() => "numbers".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "strings".into(),
        DataType::Boolean => "booleans".into(),
        other => format!("{other} values"),
    }
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Runs a third-party decoder, turning a panic on malformed input into an
/// error (the server feeds untrusted bytes; arrow and parquet readers are not
/// guaranteed panic-free on corrupt data).
pub(crate) fn guard<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, PayloadError>,
) -> Result<T, PayloadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(PayloadError::body(format!(
            "the body is not a valid {what} (the decoder gave up on corrupt data)"
        )))
    })
}

impl fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content_type_and_peek() {
        let d = |ct: &str, body: &str| detect(ct, body.as_bytes());
        assert_eq!(
            d("application/json; charset=utf-8", " [ ]").unwrap(),
            PayloadFormat::JsonRows
        );
        assert_eq!(
            d("Application/JSON", r#"{"columns": {}}"#).unwrap(),
            PayloadFormat::JsonColumns
        );
        assert_eq!(
            d("application/json", r#"{"id": "x", "inputs": []}"#).unwrap(),
            PayloadFormat::KserveRequest
        );
        assert_eq!(
            d(
                "application/json",
                r#"{"model_name": "m", "parameters": {"a": [1, {"b": 2}]}, "outputs": []}"#
            )
            .unwrap(),
            PayloadFormat::KserveResponse
        );
        assert_eq!(d("text/csv", "").unwrap(), PayloadFormat::Csv);
        assert_eq!(d("application/jsonl", "").unwrap(), PayloadFormat::Ndjson);
        assert_eq!(
            d("application/x-parquet", "").unwrap(),
            PayloadFormat::Parquet
        );
        let e = d("text/plain", "x").unwrap_err().to_string();
        assert!(e.contains("text/plain") && e.contains("text/csv"), "{e}");
        let e = d("application/json", r#"{"rows": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("columns"), "{e}");
        let e = d("application/json", "").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn error_display_and_json() {
        let e = PayloadError::mismatch(12, "age", "an integer".into(), "\"abc\"");
        assert_eq!(
            e.to_string(),
            "row 12, column `age`: expected an integer, found \"abc\""
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["row"], 12);
        assert_eq!(v["column"], "age");
        assert_eq!(v["expected"], "an integer");
        assert_eq!(v["error"], e.to_string());
        let body = PayloadError::body("the body has no rows");
        assert_eq!(body.to_string(), "the body has no rows");
        assert!(serde_json::to_value(&body).unwrap()["row"].is_null());
    }

    #[test]
    fn cast_checked_names_the_bad_row() {
        let a: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("1"),
            None,
            Some("x"),
        ]));
        let e = cast_checked(&a, &DataType::Int64, "n").unwrap_err();
        assert_eq!(e.row, Some(2));
        assert_eq!(
            e.to_string(),
            "row 2, column `n`: expected an integer, found \"x\""
        );
        let f: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.5]));
        let e = cast_checked(&f, &DataType::Int64, "n").unwrap_err();
        assert_eq!(e.row, Some(1));
        let ok = cast_checked(&a.slice(0, 2), &DataType::Int64, "n").unwrap();
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn request_id_column_wins_and_stays() {
        let body =
            br#"{"columns": {"request_id": ["a", null], "x": [1, 2]}, "request_ids": ["p", "q"]}"#;
        let d = decode("application/json", body, None, Some("request_id")).unwrap();
        assert_eq!(d.request_ids, Some(vec!["a".to_string(), String::new()]));
        assert_eq!(d.batch.num_columns(), 2);
        let d = decode("application/json", body, None, Some("missing")).unwrap();
        assert_eq!(d.request_ids, Some(vec!["p".to_string(), "q".to_string()]));
        let d = decode("application/json", body, None, None).unwrap();
        assert_eq!(d.request_ids, Some(vec!["p".to_string(), "q".to_string()]));
    }
}
