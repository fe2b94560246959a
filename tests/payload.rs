//! The HTTP ingest body decoder (`assay::sources::payload`): errors name
//! row, column and expectation; arbitrary bytes never panic; one table in
//! every format decodes to the same batch; KServe v2 payloads.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use assay::sources::payload::{Cores, PayloadFormat, decode, decode_shared, detect};
use proptest::prelude::*;

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";
const CSV: &str = "text/csv";
const ARROW: &str = "application/vnd.apache.arrow.stream";
const PARQUET: &str = "application/vnd.apache.parquet";

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// The baseline schema of the examples.
fn baseline() -> Schema {
    Schema::new(vec![
        Field::new("age", DataType::Int64, true),
        Field::new("income", DataType::Float64, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("vip", DataType::Boolean, true),
        Field::new("seen", ts_type(), true),
    ])
}

/// The reference table, as Arrow.
fn table() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(31), None, Some(58)])),
        Arc::new(Float64Array::from(vec![Some(5000.5), Some(1200.0), None])),
        Arc::new(StringArray::from(vec![Some("F"), Some("M"), None])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_704_164_645_000_000),
            None,
            Some(1_704_164_645_250_000),
        ])),
    ];
    RecordBatch::try_new(Arc::new(baseline()), columns).unwrap()
}

const ROWS: &str = r#"[
  {"age": 31, "income": 5000.5, "sex": "F", "vip": true, "seen": "2024-01-02T03:04:05Z"},
  {"income": 1200.0, "sex": "M", "vip": false, "age": null},
  {"age": 58, "seen": "2024-01-02T03:04:05.25Z"}
]"#;

const COLUMNS: &str = r#"{"columns": {
  "age": [31, null, 58],
  "income": [5000.5, 1200.0, null],
  "sex": ["F", "M", null],
  "vip": [true, false, null],
  "seen": ["2024-01-02T03:04:05Z", null, "2024-01-02T03:04:05.25Z"]
}}"#;

const LINES: &str = r#"{"age": 31, "income": 5000.5, "sex": "F", "vip": true, "seen": "2024-01-02T03:04:05Z"}
{"age": null, "income": 1200.0, "sex": "M", "vip": false}

{"age": 58, "seen": "2024-01-02T03:04:05.25Z"}
"#;

const CSV_BODY: &str = "age,income,sex,vip,seen\n\
31,5000.5,F,true,2024-01-02T03:04:05Z\n\
,1200.0,M,false,\n\
58,,,,2024-01-02T03:04:05.25Z\n";

fn ipc_body(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer =
            arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
        // Two batches: the decoder concatenates them.
        writer.write(&batch.slice(0, 1)).unwrap();
        writer.write(&batch.slice(1, batch.num_rows() - 1)).unwrap();
        writer.finish().unwrap();
    }
    out
}

fn parquet_body(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    out
}

/// Every format's encoding of [`table`].
fn encodings() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let t = table();
    vec![
        ("json rows", JSON, ROWS.as_bytes().to_vec()),
        ("json columns", JSON, COLUMNS.as_bytes().to_vec()),
        ("ndjson", NDJSON, LINES.as_bytes().to_vec()),
        ("csv", CSV, CSV_BODY.as_bytes().to_vec()),
        ("arrow", ARROW, ipc_body(&t)),
        ("parquet", PARQUET, parquet_body(&t)),
    ]
}

#[test]
fn one_table_in_every_format_decodes_identically() {
    let expected = baseline();
    let reference = table();
    for (name, content_type, body) in encodings() {
        let decoded = decode(content_type, &body, Some(&expected), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.batch, reference, "{name}");
        assert_eq!(decoded.request_ids, None, "{name}");
    }
    // Without the baseline, the columns JSON can type alike agree too (JSON
    // keeps timestamps as text, so drop that column).
    let plain = reference.project(&[0, 1, 2, 3]).unwrap();
    for (name, content_type, body) in encodings() {
        let decoded = decode(content_type, &body, None, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .batch;
        let decoded = decoded.project(&[0, 1, 2, 3]).unwrap();
        assert_eq!(decoded, plain, "{name} without a baseline");
    }
}

fn one_batch_body(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    out
}

/// The daemon's bodies are `Bytes`: an Arrow stream is read in place, and
/// kept for the log only when it is exactly one batch with the expected
/// schema. Whatever the path, the batch (or the error) is `decode`'s.
#[test]
fn an_arrow_body_held_as_bytes_is_read_in_place_and_kept_when_it_is_one_expected_batch() {
    let expected = baseline();
    let shared = |body: &[u8]| {
        let body = bytes::Bytes::copy_from_slice(body);
        let decoded = decode_shared(ARROW, &body, Some(&expected), None, Cores::One);
        (body, decoded)
    };

    let (body, decoded) = shared(&one_batch_body(&table()));
    let decoded = decoded.unwrap();
    assert_eq!(decoded.batch, table());
    assert_eq!(decoded.ipc_stream.as_ref(), Some(&body));
    // In place: the values are the body's bytes, not a copy of them.
    let income = decoded.batch.column(1).to_data().buffers()[0].as_ptr();
    assert!(body.as_ptr_range().contains(&income));

    // Two batches, another schema, bytes after the end of the stream: read,
    // but not kept.
    let narrower = table().project(&[0, 1, 2, 3]).unwrap();
    let mut trailing = one_batch_body(&table());
    trailing.extend_from_slice(b"trailing bytes");
    for (name, body) in [
        ("two batches", ipc_body(&table())),
        ("another schema", one_batch_body(&narrower)),
        ("trailing bytes", trailing),
    ] {
        let want = decode(ARROW, &body, Some(&expected), None).unwrap();
        let (_, got) = shared(&body);
        let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.batch, want.batch, "{name}");
        assert_eq!(got.ipc_stream, None, "{name}");
    }

    // A cut body fails as `decode` fails.
    let full = one_batch_body(&table());
    let cut = &full[..full.len() - 20];
    let want = decode(ARROW, cut, Some(&expected), None).unwrap_err();
    assert_eq!(shared(cut).1.unwrap_err(), want);

    // Other formats go the way `decode` goes.
    let rows = bytes::Bytes::from_static(ROWS.as_bytes());
    let got = decode_shared(JSON, &rows, Some(&expected), None, Cores::One).unwrap();
    assert_eq!(got.batch, table());
    assert_eq!(got.ipc_stream, None);
}

#[test]
fn formats_are_detected() {
    let cases = [
        (ROWS, JSON, PayloadFormat::JsonRows),
        (COLUMNS, JSON, PayloadFormat::JsonColumns),
        (LINES, "application/jsonl", PayloadFormat::Ndjson),
        (CSV_BODY, "text/csv; charset=utf-8", PayloadFormat::Csv),
        (KSERVE_REQUEST, JSON, PayloadFormat::KserveRequest),
        (KSERVE_RESPONSE, JSON, PayloadFormat::KserveResponse),
    ];
    for (body, content_type, format) in cases {
        assert_eq!(detect(content_type, body.as_bytes()).unwrap(), format);
    }
    assert_eq!(
        detect("application/x-parquet", b"").unwrap(),
        PayloadFormat::Parquet
    );
    let e = detect("application/xml", b"<a/>").unwrap_err().to_string();
    assert!(
        e.contains("application/xml") && e.contains("application/vnd.apache.arrow.stream"),
        "{e}"
    );
}

/// Asserts the error names the row (when given), the column and the expectation.
fn assert_names(
    what: &str,
    content_type: &str,
    body: &[u8],
    row: Option<usize>,
    column: &str,
    expected: &str,
) {
    let e = decode(content_type, body, Some(&baseline()), None)
        .err()
        .unwrap_or_else(|| panic!("{what}: decoded"));
    let text = e.to_string();
    assert_eq!(e.row, row, "{what}: {text}");
    assert_eq!(e.column.as_deref(), Some(column), "{what}: {text}");
    if let Some(row) = row {
        assert!(text.contains(&format!("row {row}")), "{what}: {text}");
    }
    assert!(
        text.contains(&format!("column `{column}`")),
        "{what}: {text}"
    );
    assert!(text.contains(expected), "{what}: {text}");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["error"], text, "{what}");
    assert_eq!(json["column"], column, "{what}");
}

#[test]
fn malformed_bodies_name_row_column_and_expectation() {
    assert_names(
        "json rows",
        JSON,
        br#"[{"age": 1}, {"age": 2}, {"age": "abc"}]"#,
        Some(2),
        "age",
        "expected an integer, found \"abc\"",
    );
    assert_names(
        "json columns",
        JSON,
        br#"{"columns": {"vip": [true, "yes"]}}"#,
        Some(1),
        "vip",
        "expected a boolean, found \"yes\"",
    );
    assert_names(
        "json columns length",
        JSON,
        br#"{"columns": {"age": [1, 2], "sex": ["F"]}}"#,
        None,
        "sex",
        "has 1 values, but column `age` has 2",
    );
    assert_names(
        "ndjson",
        NDJSON,
        b"{\"income\": 1.5}\n{\"income\": \"lots\"}\n",
        Some(1),
        "income",
        "expected a number, found \"lots\"",
    );
    assert_names(
        "ndjson timestamp",
        NDJSON,
        b"{\"seen\": \"2024-01-01\"}\n{\"seen\": \"last tuesday\"}\n",
        Some(1),
        "seen",
        "expected a timestamp",
    );
    assert_names(
        "csv",
        CSV,
        b"sex,age\nF,31\nM,forty\n",
        Some(1),
        "age",
        "expected an integer, found \"forty\"",
    );
    let text_ages = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("age", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["31", "x40"]))],
    )
    .unwrap();
    assert_names(
        "arrow",
        ARROW,
        &ipc_body(&text_ages),
        Some(1),
        "age",
        "expected an integer, found \"x40\"",
    );
    assert_names(
        "parquet",
        PARQUET,
        &parquet_body(&text_ages),
        Some(1),
        "age",
        "expected an integer, found \"x40\"",
    );
    assert_names(
        "kserve request",
        JSON,
        br#"{"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [31, "x"]}]}"#,
        Some(1),
        "age",
        "expected an integer, found \"x\"",
    );
    assert_names(
        "kserve response",
        JSON,
        br#"{"model_name": "m", "outputs": [{"name": "income", "shape": [2], "datatype": "FP32", "data": [true, 1]}]}"#,
        Some(0),
        "income",
        "expected a number, found true",
    );
}

#[test]
fn structural_errors_say_where() {
    let cases: [(&str, &[u8], &str); 7] = [
        (
            JSON,
            b"[{\"a\": 1},\n {\"a\": }]",
            "row 1: body is not valid JSON at line 2",
        ),
        (
            NDJSON,
            b"{\"a\": 1}\n{\"a\" 2}\n",
            "row 1: line 2 is not valid JSON",
        ),
        (CSV, b"a,b\n1,2\n3,4,5\n", "row 1: expected 2 fields"),
        (JSON, b"", "empty"),
        (CSV, b"a,b\n", "no rows"),
        (ARROW, b"not arrow", "not a valid Arrow IPC stream"),
        (PARQUET, b"not parquet", "not a valid Parquet file"),
    ];
    for (content_type, body, needle) in cases {
        let e = decode(content_type, body, None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{content_type}: {e:?} lacks {needle:?}");
    }
    // Deep nesting is refused (serde_json's recursion limit), not a stack overflow.
    let deep = format!(r#"{{"a": {}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    for (content_type, body) in [(JSON, format!("[{deep}]")), (NDJSON, deep.clone())] {
        let e = decode(content_type, body.as_bytes(), None, None).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
    }
    let deep_kserve = format!(
        r#"{{"inputs": [{{"name": "a", "shape": [1], "datatype": "FP32", "data": {}1{}}}]}}"#,
        "[".repeat(120),
        "]".repeat(120)
    );
    decode(JSON, deep_kserve.as_bytes(), None, None).unwrap();
    let kserve =
        br#"{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}"#;
    let e = decode(JSON, kserve, None, None).unwrap_err().to_string();
    assert!(
        e.contains("tensor `x`") && e.contains("needs 4 values"),
        "{e}"
    );
}

const KSERVE_REQUEST: &str = r#"{
  "id": "42",
  "parameters": {"content_type": "pd"},
  "inputs": [
    {"name": "age", "shape": [3], "datatype": "INT32", "data": [31, 40, 58]},
    {"name": "income", "shape": [3, 1], "datatype": "FP64", "data": [[5000.5], [1200], [0.25]]},
    {"name": "sex", "shape": [3], "datatype": "BYTES", "data": ["F", "M", "F"]},
    {"name": "vip", "shape": [3], "datatype": "BOOL", "data": [true, false, true]},
    {"name": "pixels", "shape": [3, 2], "datatype": "UINT8", "data": [[1, 2], [3, 4], [5, 6]]}
  ]
}"#;

const KSERVE_RESPONSE: &str = r#"{
  "model_name": "credit",
  "model_version": "3",
  "id": "42",
  "parameters": {},
  "outputs": [
    {"name": "prediction", "shape": [1], "datatype": "FP32", "data": [0.9]},
    {"name": "label", "shape": [1, 1], "datatype": "BYTES", "data": [["approve"]]}
  ]
}"#;

#[test]
fn kserve_request_and_response() {
    let d = decode(JSON, KSERVE_REQUEST.as_bytes(), None, None).unwrap();
    let schema = d.batch.schema();
    let fields: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("age", &DataType::Int64),
            ("income", &DataType::Float64),
            ("sex", &DataType::Utf8),
            ("vip", &DataType::Boolean),
            ("pixels_0", &DataType::Int64),
            ("pixels_1", &DataType::Int64),
        ]
    );
    assert_eq!(d.batch.num_rows(), 3);
    let pixels_1 = d
        .batch
        .column(5)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(pixels_1.values().to_vec(), vec![2, 4, 6]);
    assert_eq!(
        d.request_ids,
        Some(vec!["42/0".into(), "42/1".into(), "42/2".into()])
    );

    // The baseline's types win: income as Float64 already, age stays Int64.
    let d = decode(JSON, KSERVE_REQUEST.as_bytes(), Some(&baseline()), None).unwrap();
    assert_eq!(d.batch.schema().field(0).data_type(), &DataType::Int64);

    let d = decode(JSON, KSERVE_RESPONSE.as_bytes(), None, None).unwrap();
    assert_eq!(d.batch.num_rows(), 1);
    assert_eq!(d.batch.schema().field(0).name(), "prediction");
    assert_eq!(d.batch.schema().field(0).data_type(), &DataType::Float64);
    assert_eq!(d.batch.schema().field(1).name(), "label");
    assert_eq!(d.batch.schema().field(1).data_type(), &DataType::Utf8);
    assert_eq!(d.request_ids, Some(vec!["42".to_string()]));
}

#[test]
fn request_id_column() {
    let d = decode(CSV, b"request_id,x\nr1,1\nr2,2\n", None, Some("request_id")).unwrap();
    assert_eq!(d.request_ids, Some(vec!["r1".into(), "r2".into()]));
    assert_eq!(d.batch.num_columns(), 2);
    let d = decode(JSON, br#"[{"rid": 7, "x": 1}]"#, None, Some("rid")).unwrap();
    assert_eq!(d.request_ids, Some(vec!["7".into()]));
    let d = decode(JSON, br#"[{"x": 1}]"#, None, Some("rid")).unwrap();
    assert_eq!(d.request_ids, None);
}

const CONTENT_TYPES: &[&str] = &[
    JSON,
    NDJSON,
    "application/jsonl",
    CSV,
    ARROW,
    PARQUET,
    "application/x-parquet",
    "application/octet-stream",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for content_type in CONTENT_TYPES {
            let _ = decode(content_type, &body, Some(&baseline()), Some("sex"));
            let _ = decode(content_type, &body, None, None);
        }
    }

    #[test]
    fn json_like_text_never_panics(body in "[\\[\\]{}\",:0-9a-z.eE+\\- \n]{0,200}") {
        for content_type in [JSON, NDJSON, CSV] {
            let _ = decode(content_type, body.as_bytes(), Some(&baseline()), None);
            let _ = decode(content_type, body.as_bytes(), None, None);
        }
        let wrapped = format!("{{\"inputs\": [{{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": {body}}}]}}");
        let _ = decode(JSON, wrapped.as_bytes(), None, None);
    }

    #[test]
    fn damaged_valid_bodies_never_panic(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (_, content_type, mut body) = encodings().swap_remove(which);
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        if truncate {
            body.truncate(cut.index(body.len()));
        }
        let _ = decode(content_type, &body, Some(&baseline()), None);
        let _ = decode(content_type, &body, None, Some("age"));
    }
}

/// Rough JSON-rows throughput (run with `--ignored --nocapture`; the dev
/// profile does not optimise assay itself, so release is several times faster).
#[test]
#[ignore]
fn json_rows_throughput() {
    let mut body = String::from("[");
    for r in 0..1000 {
        if r > 0 {
            body.push(',');
        }
        body.push('{');
        for f in 0..30 {
            if f > 0 {
                body.push(',');
            }
            match f % 3 {
                0 => body.push_str(&format!("\"f{f}\": {}", r * f)),
                1 => body.push_str(&format!("\"f{f}\": {}.5", r + f)),
                _ => body.push_str(&format!("\"f{f}\": \"v{}\"", r % 7)),
            }
        }
        body.push('}');
    }
    body.push(']');
    let start = std::time::Instant::now();
    let rounds = 50;
    for _ in 0..rounds {
        let d = decode(JSON, body.as_bytes(), None, None).unwrap();
        assert_eq!(d.batch.num_rows(), 1000);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "json rows: {:.0} rows/s ({:.1} MB/s)",
        rounds as f64 * 1000.0 / secs,
        rounds as f64 * body.len() as f64 / secs / 1e6
    );
}
