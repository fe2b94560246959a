//! Integration tests of `assay::sources::open`: every format round trip,
//! compression, globs, directories, hive columns, projection, partitioning,
//! progress, and one test per kind of bad input asserting the message names
//! the file (and the line and column where they apply).

#[path = "sources/common.rs"]
mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema};
use assay::sources::{Format, ReadOptions, open};
use common::*;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use tempfile::TempDir;

// ---------- round trips ----------

#[test]
fn csv_round_trip_infers_types_and_values() {
    let dir = TempDir::new().unwrap();
    let expected = sample(0, 300);
    let path = put(dir.path(), "data.csv", &csv_bytes(&expected));
    let got = read_all(&paths(&[&path]), &ReadOptions::default());
    assert_eq!(got, expected);
}

#[test]
fn csv_infers_dates_and_honours_null_markers_and_overrides() {
    let dir = TempDir::new().unwrap();
    let text = "zip,day,amount,note\n01234,2024-01-31,1.5,NA\n00042,2024-02-01,,-\n99999,,3,x\n";
    let path = put(dir.path(), "d.csv", text.as_bytes());
    let mut options = ReadOptions::default();
    options.csv.null_values = vec!["NA".into(), "-".into()];
    options.csv.type_overrides = vec![("zip".into(), "string".into())];
    let got = read_all(&paths(&[&path]), &options);
    let types: Vec<DataType> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Utf8,
            DataType::Date32,
            DataType::Float64,
            DataType::Utf8
        ]
    );
    let zip = got
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(zip.value(0), "01234", "the override keeps leading zeros");
    assert_eq!(got.column(1).null_count(), 1);
    assert_eq!(got.column(2).null_count(), 1);
    assert_eq!(got.column(3).null_count(), 2, "NA and - are nulls");
}

#[test]
fn tsv_uses_tabs_and_headerless_csv_names_columns() {
    let dir = TempDir::new().unwrap();
    let tsv = put(dir.path(), "t.tsv", b"a\tb\n1\thello, world\n2\tx\n");
    let got = read_all(&paths(&[&tsv]), &ReadOptions::default());
    assert_eq!(got.num_columns(), 2);
    let b = got
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(b.value(0), "hello, world");

    let csv = put(dir.path(), "h.csv", b"1,2\n3,4\n");
    let mut options = ReadOptions::default();
    options.csv.has_header = false;
    let got = read_all(&paths(&[&csv]), &options);
    assert_eq!(got.schema().field(1).name(), "column_2");
    assert_eq!(got.num_rows(), 2);
}

#[test]
fn compressed_csv_and_ndjson_stream_back_identically() {
    let dir = TempDir::new().unwrap();
    let expected = sample(5, 500);
    let csv = csv_bytes(&expected);
    let json = ndjson_bytes(&expected);
    for (name, data) in [
        ("a.csv.gz", gzip(&csv)),
        ("b.csv.zst", zstd(&csv)),
        // Compression is recognised from content, whatever the name.
        ("c.csv", gzip(&csv)),
    ] {
        let path = put(dir.path(), name, &data);
        assert_eq!(
            read_all(&paths(&[&path]), &ReadOptions::default()),
            expected,
            "{name}"
        );
    }
    for (name, data) in [("a.jsonl.gz", gzip(&json)), ("b.ndjson.zstd", zstd(&json))] {
        let path = put(dir.path(), name, &data);
        let got = read_all(&paths(&[&path]), &ReadOptions::default());
        assert_ndjson_matches(&got, &expected);
    }
}

/// NDJSON has no timestamp type: `ts` comes back as its text.
fn assert_ndjson_matches(got: &RecordBatch, expected: &RecordBatch) {
    assert_eq!(got.num_rows(), expected.num_rows());
    for name in ["id", "score", "city", "flag"] {
        let g = got.column_by_name(name).unwrap();
        let e = expected.column_by_name(name).unwrap();
        assert_eq!(g.as_ref(), e.as_ref(), "column {name}");
    }
    let ts = got.column_by_name("ts").unwrap();
    assert_eq!(ts.data_type(), &DataType::Utf8);
    assert_eq!(
        ts.null_count(),
        expected.column_by_name("ts").unwrap().null_count()
    );
}

#[test]
fn ndjson_round_trip_and_blank_lines() {
    let dir = TempDir::new().unwrap();
    let expected = sample(0, 200);
    let mut data = ndjson_bytes(&expected);
    data.extend_from_slice(b"\n   \n");
    let path = put(dir.path(), "d.ndjson", &data);
    assert_ndjson_matches(
        &read_all(&paths(&[&path]), &ReadOptions::default()),
        &expected,
    );
}

#[test]
fn ndjson_files_merge_by_key_name() {
    let dir = TempDir::new().unwrap();
    let a = put(dir.path(), "a.jsonl", b"{\"x\": 1, \"y\": \"p\"}\n");
    let b = put(
        dir.path(),
        "b.jsonl",
        b"{\"y\": \"q\", \"x\": 2.5, \"z\": true}\n",
    );
    let got = read_all(&paths(&[&a, &b]), &ReadOptions::default());
    let names: Vec<String> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["x", "y", "z"]);
    assert_eq!(got.schema().field(0).data_type(), &DataType::Float64);
    assert_eq!(got.column(2).null_count(), 1);
}

#[test]
fn parquet_round_trip_with_projection() {
    let dir = TempDir::new().unwrap();
    let expected = sample(0, 1000);
    let path = dir.path().join("d.parquet");
    write_parquet(&path, std::slice::from_ref(&expected), None);
    let got = read_all(&paths(&[&path]), &ReadOptions::default());
    // Low-cardinality strings come back dictionary-encoded; values agree.
    let city = arrow::compute::cast(got.column_by_name("city").unwrap(), &DataType::Utf8).unwrap();
    assert_eq!(city.as_ref(), expected.column(2).as_ref());
    for name in ["id", "score", "flag", "ts"] {
        assert_eq!(
            got.column_by_name(name).unwrap(),
            expected.column_by_name(name).unwrap()
        );
    }

    let options = ReadOptions {
        columns: Some(vec!["ts".into(), "id".into()]),
        ..Default::default()
    };
    let got = read_all(&paths(&[&path]), &options);
    let projected = expected.project(&[0, 4]).unwrap();
    assert_eq!(
        got, projected,
        "file order is kept whatever the requested order"
    );
}

#[test]
fn parquet_dictionary_strings_are_read_as_dictionaries_only_when_fully_encoded() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("d.parquet");
    let props = WriterProperties::builder()
        .set_column_dictionary_enabled(ColumnPath::from("city"), true)
        .set_column_dictionary_enabled(ColumnPath::from("name"), false)
        .build();
    let base = sample(0, 400);
    let names: StringArray = (0..400).map(|i| Some(format!("user-{i}"))).collect();
    let schema = Schema::new(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![base.column(2).clone(), Arc::new(names.clone())],
    )
    .unwrap();
    write_parquet(&path, &[batch], Some(props));
    let ds = open(&paths(&[&path]), &ReadOptions::default()).unwrap();
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    assert_eq!(ds.schema.field(0).data_type(), &dict);
    assert_eq!(ds.schema.field(1).data_type(), &DataType::Utf8);
    let schema = ds.schema.clone();
    let got = concat_batches(&schema, &read(ds).unwrap()).unwrap();
    assert_eq!(got.column(0).data_type(), &dict);
    let city = arrow::compute::cast(got.column(0), &DataType::Utf8).unwrap();
    assert_eq!(city.as_ref(), base.column(2).as_ref());
    assert_eq!(got.column(1).as_ref(), &names as &dyn Array);
}

#[test]
fn parquet_dictionary_fallback_pages_read_correctly() {
    // A dictionary page limit this small makes the writer fall back to plain
    // pages part way through the chunk; whatever type the column is read
    // as, the values must be intact.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("d.parquet");
    let props = WriterProperties::builder()
        .set_dictionary_page_size_limit(256)
        .build();
    let values: StringArray = (0..5000)
        .map(|i| Some(format!("value-{}", i * 7919 % 5003)))
        .collect();
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(values.clone())]).unwrap();
    write_parquet(&path, &[batch], Some(props));
    let got = read_all(&paths(&[&path]), &ReadOptions::default());
    let v = arrow::compute::cast(got.column(0), &DataType::Utf8).unwrap();
    assert_eq!(v.as_ref(), &values as &dyn Array);
}

#[test]
fn parquet_hive_only_projection_keeps_row_counts() {
    let dir = TempDir::new().unwrap();
    let part = dir.path().join("split=train");
    fs::create_dir_all(&part).unwrap();
    write_parquet(&part.join("a.parquet"), &[sample(0, 42)], None);
    let options = ReadOptions {
        columns: Some(vec!["split".into()]),
        ..Default::default()
    };
    let got = read_all(&paths(&[dir.path()]), &options);
    assert_eq!(got.num_rows(), 42);
    assert_eq!(got.num_columns(), 1);
}

#[test]
fn parquet_row_groups_split_into_contiguous_partitions() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("d.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .build();
    let expected = sample(0, 2000);
    write_parquet(&path, std::slice::from_ref(&expected), Some(props));
    let options = ReadOptions {
        batch_size: 64,
        ..Default::default()
    };
    let ds = open(&paths(&[&path]), &options).unwrap();
    let threads = rayon::current_num_threads();
    let per = 20usize.div_ceil(2 * threads).max(1);
    assert_eq!(ds.partitions.len(), 20usize.div_ceil(per));
    assert!(
        ds.partitions[0].description.contains("row groups 0.."),
        "{}",
        ds.partitions[0].description
    );
    let (total, counter) = (ds.total_bytes, ds.bytes_read.clone());
    let schema = ds.schema.clone();
    let batches = read(ds).unwrap();
    assert!(batches.iter().all(|b| b.num_rows() <= 64));
    let got = concat_batches(&schema, &batches).unwrap();
    assert_eq!(
        got.column(0).as_ref(),
        expected.column(0).as_ref(),
        "partitions are in order"
    );
    assert_eq!(
        counter.load(Ordering::Relaxed),
        total,
        "progress reaches the total"
    );
}

#[test]
fn ipc_file_and_stream_round_trip() {
    let dir = TempDir::new().unwrap();
    let parts = [sample(0, 100), sample(100, 50), sample(150, 10)];
    let expected = concat_batches(&sample_schema(), &parts).unwrap();

    let file = dir.path().join("d.arrow");
    write_ipc_file(&file, &parts);
    let ds = open(&paths(&[&file]), &ReadOptions::default()).unwrap();
    assert!(!ds.partitions.is_empty());
    let (total, counter) = (ds.total_bytes, ds.bytes_read.clone());
    let schema = ds.schema.clone();
    let got = concat_batches(&schema, &read(ds).unwrap()).unwrap();
    assert_eq!(got, expected);
    assert_eq!(counter.load(Ordering::Relaxed), total);

    let options = ReadOptions {
        columns: Some(vec!["city".into()]),
        ..Default::default()
    };
    assert_eq!(
        read_all(&paths(&[&file]), &options),
        expected.project(&[2]).unwrap()
    );

    let stream = ipc_stream_bytes(&parts);
    let s1 = put(dir.path(), "s.arrows", &stream);
    let s2 = put(dir.path(), "s2.arrows.gz", &gzip(&stream));
    assert_eq!(read_all(&paths(&[&s1]), &ReadOptions::default()), expected);
    assert_eq!(
        read_all(&paths(&[&s2]), &options),
        expected.project(&[2]).unwrap()
    );
}

#[test]
fn batches_are_bounded_and_csv_progress_is_complete() {
    let dir = TempDir::new().unwrap();
    let path = put(dir.path(), "d.csv.gz", &gzip(&csv_bytes(&sample(0, 1000))));
    let options = ReadOptions {
        batch_size: 128,
        ..Default::default()
    };
    let ds = open(&paths(&[&path]), &options).unwrap();
    let (total, counter) = (ds.total_bytes, ds.bytes_read.clone());
    let batches = read(ds).unwrap();
    assert!(batches.iter().all(|b| b.num_rows() <= 128));
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        1000
    );
    assert_eq!(total, fs::metadata(&path).unwrap().len());
    assert_eq!(counter.load(Ordering::Relaxed), total);
}

// ---------- inputs: globs, directories, hive ----------

#[test]
fn glob_and_directory_inputs_are_sorted_and_skip_markers() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("data");
    let (a, b) = (sample(0, 10), sample(10, 15));
    fs::create_dir_all(&root).unwrap();
    // Written out of order: reading must sort.
    write_parquet(&root.join("part-1.parquet"), std::slice::from_ref(&b), None);
    write_parquet(&root.join("part-0.parquet"), std::slice::from_ref(&a), None);
    put(&root, "_SUCCESS", b"");
    put(&root, ".part-0.parquet.crc", b"junk");
    put(&root, "README.md", b"not data");
    let expected = concat_batches(&sample_schema(), &[a, b]).unwrap();
    let id_of = |batch: &RecordBatch| batch.column(0).clone();

    let from_dir = read_all(&paths(&[&root]), &ReadOptions::default());
    assert_eq!(id_of(&from_dir).as_ref(), expected.column(0).as_ref());
    let pattern = format!("{}/*.parquet", root.display());
    let from_glob = read_all(&[pattern], &ReadOptions::default());
    assert_eq!(id_of(&from_glob).as_ref(), expected.column(0).as_ref());
    let ds = open(&paths(&[&root]), &ReadOptions::default()).unwrap();
    assert_eq!(ds.files.len(), 2);
    assert_eq!(ds.format, Format::Parquet);
}

#[test]
fn hive_directories_become_columns() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    put(root, "city=New%20York/day=1/a.csv", b"x\n1\n2\n");
    put(
        root,
        "city=__HIVE_DEFAULT_PARTITION__/day=2/b.csv",
        b"x\n3\n",
    );
    let got = read_all(&paths(&[root]), &ReadOptions::default());
    let names: Vec<String> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["x", "city", "day"]);
    let city = got
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(
        city.iter().collect::<Vec<_>>(),
        vec![Some("New York"), Some("New York"), None]
    );
    let day = got
        .column(2)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(
        day.iter().collect::<Vec<_>>(),
        vec![Some("1"), Some("1"), Some("2")]
    );

    let options = ReadOptions {
        columns: Some(vec!["day".into()]),
        ..Default::default()
    };
    let got = read_all(&paths(&[root]), &options);
    assert_eq!(got.num_columns(), 1);
    assert_eq!(got.num_rows(), 3);

    let glob = format!("{}/*/*/*.csv", root.display());
    assert_eq!(read_all(&[glob], &ReadOptions::default()).num_columns(), 3);
}

#[test]
fn csv_byte_order_mark_and_json_arrays() {
    let dir = TempDir::new().unwrap();
    let bom = put(dir.path(), "excel.csv", "\u{feff}id,name\n1,a\n".as_bytes());
    let got = read_all(&paths(&[&bom]), &ReadOptions::default());
    assert_eq!(got.schema().field(0).name(), "id");
    assert_eq!(got.num_rows(), 1);

    let array = put(dir.path(), "a.json", b"[\n  {\"a\": 1}\n]\n");
    let m = error_of(&paths(&[&array]), &ReadOptions::default());
    assert_contains(&m, &["a.json: line 1", "JSON array", "one object per line"]);
}

#[test]
fn csv_types_widen_across_files() {
    let dir = TempDir::new().unwrap();
    let a = put(dir.path(), "a.csv", b"v,w\n1,\n2,\n");
    let b = put(dir.path(), "b.csv", b"v,w\n2.5,yes\n");
    let got = read_all(&paths(&[&a, &b]), &ReadOptions::default());
    assert_eq!(got.schema().field(0).data_type(), &DataType::Float64);
    assert_eq!(got.schema().field(1).data_type(), &DataType::Utf8);
}

#[test]
fn forced_format_reads_any_extension() {
    let dir = TempDir::new().unwrap();
    let path = put(dir.path(), "export.txt", b"a,b\n1,2\n");
    let options = ReadOptions {
        format: Some(Format::Csv),
        ..Default::default()
    };
    assert_eq!(read_all(&paths(&[&path]), &options).num_rows(), 1);
    assert_eq!("ipc-stream".parse::<Format>(), Ok(Format::IpcStream));
}

// ---------- bad inputs ----------

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} should contain {part:?}"
        );
    }
}

#[test]
fn missing_inputs_are_clear() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.csv");
    let m = error_of(&paths(&[&missing]), &ReadOptions::default());
    assert_eq!(
        m,
        format!("{}: no such file or directory", missing.display())
    );

    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    put(&empty, "_SUCCESS", b"");
    let m = error_of(&paths(&[&empty]), &ReadOptions::default());
    assert_contains(&m, &["empty", "no data files"]);

    let pattern = format!("{}/*.parquet", dir.path().display());
    let m = error_of(std::slice::from_ref(&pattern), &ReadOptions::default());
    assert_eq!(m, format!("{pattern}: the pattern matched no data files"));
}

#[test]
fn unknown_extension_lists_formats() {
    let dir = TempDir::new().unwrap();
    let path = put(dir.path(), "data.xlsx", b"whatever");
    let m = error_of(&paths(&[&path]), &ReadOptions::default());
    assert_contains(
        &m,
        &[
            "data.xlsx",
            ".csv",
            ".parquet",
            ".ndjson",
            ".arrow",
            "--input-format",
        ],
    );
}

#[test]
fn bad_csv_value_names_line_column_and_expectation() {
    let dir = TempDir::new().unwrap();
    let mut text = String::from("name,age\n");
    for i in 0..14 {
        text.push_str(&format!("p{i},{i}\n"));
    }
    text.push_str("bob,abc\n"); // line 16
    let path = put(dir.path(), "data.csv", text.as_bytes());
    let mut options = ReadOptions::default();
    options.csv.infer_rows = 5;
    let m = error_of(&paths(&[&path]), &options);
    assert_contains(
        &m,
        &["data.csv: line 16, column \"age\": expected an integer, found \"abc\""],
    );
    assert_contains(&m, &["inferred from the first 5 rows"]);

    // The same value within the sample makes the column a string instead.
    options.csv.infer_rows = 100;
    assert!(open(&paths(&[&path]), &options).and_then(read).is_ok());

    let bad_bool = put(dir.path(), "b.csv", b"ok\ntrue\nfalse\nmaybe\n");
    options.csv.infer_rows = 2;
    let m = error_of(&paths(&[&bad_bool]), &options);
    assert_contains(
        &m,
        &["b.csv: line 4, column \"ok\": expected true or false, found \"maybe\""],
    );

    let bad_ts = put(
        dir.path(),
        "t.csv",
        b"at\n2024-01-01 10:00:00\n2024-01-01 11:00:00\nnoon\n",
    );
    let m = error_of(&paths(&[&bad_ts]), &options);
    assert_contains(
        &m,
        &[
            "t.csv: line 4, column \"at\": expected a timestamp",
            "found \"noon\"",
        ],
    );
}

#[test]
fn wrong_field_count_names_the_line() {
    let dir = TempDir::new().unwrap();
    let text = "a,b,c\n1,2,3\n4,5,6\n7,8\n";
    let path = put(dir.path(), "rows.csv", text.as_bytes());
    // Caught while inferring types (within the sample) ...
    let m = error_of(&paths(&[&path]), &ReadOptions::default());
    assert_eq!(
        m,
        format!("{}: line 4: expected 3 fields, found 2", path.display())
    );
    // ... and while decoding (after it).
    let mut options = ReadOptions::default();
    options.csv.infer_rows = 1;
    let m = error_of(&paths(&[&path]), &options);
    assert_eq!(
        m,
        format!("{}: line 4: expected 3 fields, found 2", path.display())
    );
}

#[test]
fn non_utf8_text_names_the_line() {
    let dir = TempDir::new().unwrap();
    let mut data = b"a,b\n1,ok\n2,ok\n3,".to_vec();
    data.extend_from_slice(&[0xff, 0xfe, b'\n']);
    let path = put(dir.path(), "latin.csv", &data);
    let m = error_of(&paths(&[&path]), &ReadOptions::default());
    assert_contains(&m, &["latin.csv: line 4", "UTF-8"]);
    let mut options = ReadOptions::default();
    options.csv.infer_rows = 1;
    let m = error_of(&paths(&[&path]), &options);
    assert_contains(&m, &["latin.csv: line 4, column \"b\"", "UTF-8"]);

    let mut json = b"{\"a\": 1}\n{\"a\": \"".to_vec();
    json.extend_from_slice(&[0xff, b'"', b'}', b'\n']);
    let path = put(dir.path(), "bad.jsonl", &json);
    let m = error_of(&paths(&[&path]), &ReadOptions::default());
    assert_contains(&m, &["bad.jsonl: line 2", "UTF-8"]);
}

#[test]
fn malformed_ndjson_names_the_line_and_field() {
    let dir = TempDir::new().unwrap();
    let path = put(
        dir.path(),
        "e.ndjson",
        b"{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3,,}\n",
    );
    let m = error_of(&paths(&[&path]), &ReadOptions::default());
    assert_contains(&m, &["e.ndjson: line 3", "invalid JSON"]);

    let mut options = ReadOptions::default();
    options.csv.infer_rows = 1;
    let m = error_of(&paths(&[&path]), &options);
    assert_contains(&m, &["e.ndjson: line 3"]);

    let typed = put(
        dir.path(),
        "t.ndjson",
        b"{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": \"x\"}\n",
    );
    let m = error_of(&paths(&[&typed]), &options);
    assert_contains(
        &m,
        &["t.ndjson: line 4, column \"a\": expected an integer, found \"x\""],
    );

    let cut = put(dir.path(), "c.ndjson", b"{\"a\": 1}\n{\"a\": 2\n");
    let m = error_of(&paths(&[&cut]), &options);
    assert_contains(&m, &["c.ndjson: line 2"]);
}

#[test]
fn truncated_or_corrupt_parquet_and_ipc_name_the_file() {
    let dir = TempDir::new().unwrap();
    let parquet = dir.path().join("cut.parquet");
    write_parquet(&parquet, &[sample(0, 500)], None);
    let bytes = fs::read(&parquet).unwrap();
    fs::write(&parquet, &bytes[..bytes.len() / 2]).unwrap();
    let m = error_of(&paths(&[&parquet]), &ReadOptions::default());
    assert_contains(
        &m,
        &["cut.parquet: not a valid Parquet file (truncated or corrupt)"],
    );

    // Zero bytes cannot be memory-mapped; still the same error.
    let empty = put(dir.path(), "empty.parquet", b"");
    let m = error_of(&paths(&[&empty]), &ReadOptions::default());
    assert_contains(&m, &["empty.parquet: not a valid Parquet file"]);

    let junk = put(dir.path(), "junk.parquet", b"this is not parquet at all");
    let m = error_of(&paths(&[&junk]), &ReadOptions::default());
    assert_contains(&m, &["junk.parquet: not a valid Parquet file"]);

    // Damaged pages with an intact footer: an error or data, never a panic.
    let mut damaged = bytes.clone();
    for b in &mut damaged[8..bytes.len() / 2] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let path = put(dir.path(), "damaged.parquet", &damaged);
    if let Err(e) = open(&paths(&[&path]), &ReadOptions::default()).and_then(read) {
        assert_contains(&e.to_string(), &["damaged.parquet"]);
    }

    let ipc = dir.path().join("cut.arrow");
    write_ipc_file(&ipc, &[sample(0, 100)]);
    let bytes = fs::read(&ipc).unwrap();
    fs::write(&ipc, &bytes[..bytes.len() - 20]).unwrap();
    let m = error_of(&paths(&[&ipc]), &ReadOptions::default());
    assert_contains(
        &m,
        &["cut.arrow: not a valid Arrow IPC file (truncated or corrupt)"],
    );

    let stream = ipc_stream_bytes(&[sample(0, 100), sample(100, 100)]);
    let cut = put(dir.path(), "cut.arrows", &stream[..stream.len() - 300]);
    let m = error_of(&paths(&[&cut]), &ReadOptions::default());
    assert_contains(
        &m,
        &["cut.arrows: not a valid Arrow IPC stream file (truncated or corrupt)"],
    );
}

#[test]
fn truncated_gzip_names_the_file() {
    let dir = TempDir::new().unwrap();
    let data = gzip(&csv_bytes(&sample(0, 2000)));
    let path = put(dir.path(), "cut.csv.gz", &data[..data.len() / 2]);
    let m = error_of(&paths(&[&path]), &ReadOptions::default());
    assert_contains(&m, &["cut.csv.gz", "gzip"]);
}

#[test]
fn schema_mismatch_names_both_files_and_the_column() {
    let dir = TempDir::new().unwrap();
    let a = put(dir.path(), "a.csv", b"x,y\n1,2\n");
    let b = put(dir.path(), "b.csv", b"x,z\n1,2\n");
    let m = error_of(&paths(&[&a, &b]), &ReadOptions::default());
    assert_contains(
        &m,
        &["b.csv: columns differ from", "a.csv", "\"z\"", "\"y\""],
    );

    let p1 = dir.path().join("p1.parquet");
    let p2 = dir.path().join("p2.parquet");
    write_parquet(&p1, &[sample(0, 5)], None);
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["a"]))],
    )
    .unwrap();
    write_parquet(&p2, &[other], None);
    let m = error_of(&paths(&[&p1, &p2]), &ReadOptions::default());
    assert_contains(
        &m,
        &["p2.parquet: columns differ from", "p1.parquet", "\"id\""],
    );
}

#[test]
fn unknown_columns_and_types_are_rejected() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("d.parquet");
    write_parquet(&path, &[sample(0, 5)], None);
    let options = ReadOptions {
        columns: Some(vec!["agee".into()]),
        ..Default::default()
    };
    let m = error_of(&paths(&[&path]), &options);
    assert_contains(
        &m,
        &[
            "d.parquet",
            "column \"agee\" not found",
            "id, score, city, flag, ts",
        ],
    );

    let csv = put(dir.path(), "d.csv", b"a\n1\n");
    let mut options = ReadOptions::default();
    options.csv.type_overrides = vec![("a".into(), "decimal".into())];
    let m = error_of(&paths(&[&csv]), &options);
    assert_contains(
        &m,
        &["d.csv", "unknown type \"decimal\"", "int, float, string"],
    );
}

#[test]
fn mixed_formats_and_empty_csv_are_errors() {
    let dir = TempDir::new().unwrap();
    let a = put(dir.path(), "a.csv", b"x\n1\n");
    let b = put(dir.path(), "b.jsonl", b"{\"x\": 1}\n");
    let m = error_of(&paths(&[&a, &b]), &ReadOptions::default());
    assert_contains(&m, &["b.jsonl", "NDJSON", "a.csv", "CSV"]);

    let empty = put(dir.path(), "empty.csv", b"");
    let m = error_of(&paths(&[&empty]), &ReadOptions::default());
    assert_contains(&m, &["empty.csv", "empty"]);
}
