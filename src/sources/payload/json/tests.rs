use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};

fn schema(fields: &[(&str, DataType)]) -> Schema {
    Schema::new(
        fields
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn rows_infer_types_and_fill_missing_keys() {
    let body = br#"[{"age": 31, "income": 5000.5, "sex": "F"},
                    {"age": 40, "sex": "M", "vip": true},
                    {"income": 12, "age": null}]"#;
    let b = rows(body, None).unwrap();
    let names: Vec<_> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["age", "income", "sex", "vip"]);
    assert_eq!(b.num_rows(), 3);
    assert_eq!(b.column(0).data_type(), &DataType::Int64);
    assert_eq!(b.column(1).data_type(), &DataType::Float64);
    assert_eq!(b.column(2).data_type(), &DataType::Utf8);
    assert_eq!(b.column(3).data_type(), &DataType::Boolean);
    assert_eq!(
        b.column(1)
            .as_primitive::<Float64Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(5000.5), None, Some(12.0)]
    );
    assert_eq!(b.column(3).null_count(), 2);
}

#[test]
fn rows_follow_expected_types() {
    let expected = schema(&[
        ("age", DataType::Int64),
        ("income", DataType::Float64),
        ("code", DataType::Utf8),
    ]);
    let body = br#"[{"age": 31.0, "income": 5000, "code": 7}, {"age": 2, "code": "x"}]"#;
    let b = rows(body, Some(&expected)).unwrap();
    assert_eq!(b.column(0).data_type(), &DataType::Int64);
    assert_eq!(b.column(1).data_type(), &DataType::Float64);
    assert_eq!(
        b.column(2).as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("7"), Some("x")]
    );
    let e = rows(br#"[{"age": 1}, {"age": "abc"}]"#, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 1, column `age`: expected an integer, found \"abc\""
    );
}

#[test]
fn rows_errors() {
    let e = rows(b"[{\"a\": 1},\n {\"a\": 2,}]", None).unwrap_err();
    assert_eq!(e.row, Some(1));
    assert!(
        e.message
            .starts_with("body is not valid JSON at line 2, column"),
        "{e}"
    );
    let e = rows(br#"[{"a": 1}, 5]"#, None).unwrap_err();
    assert_eq!(e.row, Some(1));
    assert!(e.message.contains("expected a row object"), "{e}");
    let e = rows(br#"[{"a": 1, "a": 2}]"#, None).unwrap_err();
    assert_eq!((e.row, e.column.as_deref()), (Some(0), Some("a")));
    let e = rows(br#"[{"a": {"b": 1}}]"#, None).unwrap_err();
    assert_eq!((e.row, e.column.as_deref()), (Some(0), Some("a")));
    let e = rows(br#"[{"a": 1}] x"#, None).unwrap_err();
    assert!(e.message.contains("trailing"), "{e}");
    let b = rows(br#"[{"a": [1, 2]}, {"a": []}]"#, None).unwrap();
    assert!(matches!(b.column(0).data_type(), DataType::List(_)));
}

#[test]
fn sparse_rows_are_bounded() {
    let mut body = String::from("[");
    for i in 0..5000 {
        body.push_str(&format!("{}{{\"k{i}\": 1}}", if i > 0 { "," } else { "" }));
    }
    body.push(']');
    let e = rows(body.as_bytes(), None).unwrap_err();
    assert!(e.message.starts_with("too sparse"), "{e}");
    // A modestly sparse body is fine.
    let b = rows(br#"[{"a": 1}, {"b": 2}, {"c": 3}]"#, None).unwrap();
    assert_eq!((b.num_rows(), b.num_columns()), (3, 3));
}

#[test]
fn columns_body() {
    let body = br#"{"columns": {"sex": ["F", "M"], "age": [31, 40]}, "request_ids": ["a", 7]}"#;
    let (b, ids) = columns(body, None).unwrap();
    assert_eq!(b.schema().field(0).name(), "sex");
    assert_eq!(
        b.column(1).as_primitive::<Int64Type>().values().to_vec(),
        vec![31, 40]
    );
    assert_eq!(ids, Some(vec!["a".to_string(), "7".to_string()]));
    let expected = schema(&[("age", DataType::Float64)]);
    let (b, _) = columns(body, Some(&expected)).unwrap();
    assert_eq!(b.column(1).data_type(), &DataType::Float64);

    let e = columns(br#"{"columns": {"a": [1, 2], "b": [1]}}"#, None).unwrap_err();
    assert_eq!(e.column.as_deref(), Some("b"));
    assert!(
        e.to_string().contains("has 1 values, but column `a` has 2"),
        "{e}"
    );
    let e = columns(br#"{"columns": {"a": 1}}"#, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column `a`: expected an array of values, found 1"
    );
    let e = columns(br#"{"columns": {"a": [1, 2]}, "x": 1}"#, None).unwrap_err();
    assert!(e.to_string().contains("`x`"), "{e}");
    let e = columns(br#"{"columns": {"a": [1, 2]}, "request_ids": ["a"]}"#, None).unwrap_err();
    assert!(e.to_string().contains("request_ids"), "{e}");
    let e = columns(br#"{"columns": {"a": [1, "x"]}}"#, None).unwrap_err();
    assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("a")));
}

#[test]
fn ndjson_lines() {
    let body = b"{\"a\": 1, \"b\": \"x\"}\r\n\n{\"a\": 2.5}\n";
    let b = ndjson(body, None).unwrap();
    assert_eq!(b.num_rows(), 2);
    assert_eq!(b.column(0).data_type(), &DataType::Float64);
    let e = ndjson(b"{\"a\": 1}\n\n{\"a\": }\n", None).unwrap_err();
    assert_eq!(e.row, Some(1));
    assert!(
        e.to_string().starts_with("row 1: line 3 is not valid JSON"),
        "{e}"
    );
    let expected = schema(&[("a", DataType::Int64)]);
    let e = ndjson(b"{\"a\": 1}\n{\"a\": true}", Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 1, column `a`: expected an integer, found true"
    );
}

fn strings(b: &RecordBatch, i: usize) -> Vec<Option<&str>> {
    b.column(i).as_string::<i32>().iter().collect()
}

fn floats(b: &RecordBatch, i: usize) -> Vec<Option<f64>> {
    b.column(i).as_primitive::<Float64Type>().iter().collect()
}

#[test]
fn typed_columns_convert_like_cells() {
    let expected = schema(&[
        ("x", DataType::Float64),
        ("n", DataType::Int64),
        ("s", DataType::Utf8),
        ("b", DataType::Boolean),
    ]);
    // Keys in a different order per row, missing keys, nulls, escapes.
    let body = br#"[{"x": 1.5, "n": 3.0, "s": "a\"b", "b": true},
                    {"b": null, "s": 7, "x": 2},
                    {"n": -4, "x": 18446744073709551615, "s": 2.5},
                    {"s": "caf\u00e9", "x": null, "n": null, "b": false},
                    {"s": true}]"#;
    let b = rows(body, Some(&expected)).unwrap();
    assert_eq!(b.num_rows(), 5);
    assert_eq!(
        floats(&b, 0),
        vec![
            Some(1.5),
            Some(2.0),
            Some(18446744073709551615.0),
            None,
            None
        ]
    );
    assert_eq!(
        b.column(1)
            .as_primitive::<Int64Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(3), None, Some(-4), None, None]
    );
    assert_eq!(
        strings(&b, 2),
        vec![
            Some("a\"b"),
            Some("7"),
            Some("2.5"),
            Some("café"),
            Some("true")
        ]
    );
    assert_eq!(
        b.column(3).as_boolean().iter().collect::<Vec<_>>(),
        vec![Some(true), None, None, Some(false), None]
    );
    // The same through columnar JSON.
    let body = br#"{"columns": {"x": [1.5, 2], "s": ["a\"b", 7]}}"#;
    let (b, _) = columns(body, Some(&expected)).unwrap();
    assert_eq!(floats(&b, 0), vec![Some(1.5), Some(2.0)]);
    assert_eq!(strings(&b, 1), vec![Some("a\"b"), Some("7")]);
}

#[test]
fn typed_column_mismatch_reports_as_cells_do() {
    let expected = schema(&[("x", DataType::Float64), ("n", DataType::Int64)]);
    // `x` fails at row 2 and `n` at row 1: columns are checked in order.
    let body = br#"[{"x": 1, "n": 2}, {"x": 2.5, "n": 2.5}, {"x": "s", "n": 1}, {"x": 3}]"#;
    let e = rows(body, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2, column `x`: expected a number, found \"s\""
    );
    assert_eq!(e.expected.as_deref(), Some("a number"));
    let e = rows(br#"[{"n": 1}, {"n": 2.5}]"#, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 1, column `n`: expected an integer, found 2.5"
    );
    let e = rows(br#"[{"n": 18446744073709551615}]"#, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 0, column `n`: expected an integer, found 18446744073709551615"
    );
    let e = rows(br#"[{"x": 1}, {"x": {"a": 1}}]"#, Some(&expected)).unwrap_err();
    assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("x")));
    assert!(e.message.starts_with("nested objects"), "{e}");
    let e = rows(br#"[{"x": [1]}]"#, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 0, column `x`: expected a number, found an array"
    );
    let e = columns(br#"{"columns": {"n": [1, true]}}"#, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 1, column `n`: expected an integer, found true"
    );
}

#[test]
fn inferred_columns_widen_and_conflict_like_cells() {
    let body = br#"[{"n": null}, {"n": 1, "s": "a"}, {"n": 2.5, "s": null},
                    {"n": 18446744073709551615, "b": true}, {"z": null}]"#;
    let b = rows(body, None).unwrap();
    assert_eq!(b.column(0).data_type(), &DataType::Float64);
    assert_eq!(
        floats(&b, 0),
        vec![
            None,
            Some(1.0),
            Some(2.5),
            Some(18446744073709551615.0),
            None
        ]
    );
    assert_eq!(strings(&b, 1), vec![None, Some("a"), None, None, None]);
    assert_eq!(b.column(2).data_type(), &DataType::Boolean);
    // A column of nulls only is a string column.
    assert_eq!(b.column(3).data_type(), &DataType::Utf8);
    assert_eq!(b.column(3).null_count(), 5);
    let e = rows(br#"[{"n": 1}, {"n": 2.5}, {"n": "x"}]"#, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2, column `n`: expected a number (as in row 0), found \"x\""
    );
    let e = rows(br#"[{"s": null}, {"s": "a"}, {"s": 1}]"#, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2, column `s`: expected a string (as in row 1), found 1"
    );
    let b = rows(br#"[{"l": null}, {"l": [1, 2]}]"#, None).unwrap();
    assert!(matches!(b.column(0).data_type(), DataType::List(_)));
}

#[test]
fn duplicate_keys_in_typed_columns() {
    let expected = schema(&[("x", DataType::Float64)]);
    let e = rows(br#"[{"x": 1}, {"x": 1, "y": 2, "x": 2}]"#, Some(&expected)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 1, column `x`: the row names this column twice"
    );
    // An escaped key names the same column.
    let e = rows(br#"[{"x": 1, "\u0078": 2}]"#, Some(&expected)).unwrap_err();
    assert_eq!((e.row, e.column.as_deref()), (Some(0), Some("x")));
    // Invalid JSON in the repeated value is reported first.
    let e = rows(br#"[{"x": 1, "x": ]"#, Some(&expected)).unwrap_err();
    assert!(e.message.contains("is not valid JSON"), "{e}");
}

#[test]
fn fast_paths_read_common_bodies() {
    // As arrow's JSON writer and most clients write rows: the tape (rows)
    // and the scanner (NDJSON) read these without serde_json.
    let body = "[{\"f0\":-0.0012345678901234567,\"f1\":1.5e-7,\"c2\":\"cat_1\"},\n\
                {\"f0\":12,\"c2\":null,\"f1\":2}, {}]";
    let batch = tape::rows(body.as_bytes(), None).unwrap().unwrap();
    assert_eq!(batch.num_rows(), 3);
    let mut table = Table::new(body.len(), None);
    assert!(scan_lines("{\"a\": 1}\r\n\n {\"b\": \"x\"}\n", &mut table).is_some());
    assert_eq!(table.rows, 2);
    // The tape reads escapes; nested values and repeated keys are left to
    // serde_json.
    for (body, read) in [
        (r#"[{"a": "\n\u00e9"}]"#, true),
        (r#"[{"a": [1]}]"#, false),
        (r#"[{"a": {"b": 1}}]"#, false),
        (r#"[{"a": 1, "a": 2}]"#, false),
        (r#"[{"a": 1},]"#, false),
        (r#"{"a": 1}"#, false),
    ] {
        assert_eq!(tape::rows(body.as_bytes(), None).is_some(), read, "{body}");
    }
    // Bodies past 1 MiB go to the scanner (the tape path's buffers would
    // cost five times the body): same batch.
    let row = "{\"f0\":-0.0012345678901234567,\"c2\":\"cat_1\"}";
    let big = format!("[{}]", vec![row; 40_000].join(","));
    assert!(big.len() > 1 << 20);
    assert!(tape::rows(big.as_bytes(), None).is_none());
    let small = format!("[{}]", [row; 4].join(","));
    let (big, small) = (
        rows(big.as_bytes(), None).unwrap(),
        rows(small.as_bytes(), None).unwrap(),
    );
    assert_eq!(big.num_rows(), 40_000);
    assert_eq!(big.slice(0, 4), small);
}

#[test]
fn scanned_columns_match_serde_json() {
    let expected = schema(&[("x", DataType::Int64), ("s", DataType::Utf8)]);
    for body in [
        r#"{"columns": {"x": [1, 2.0, null], "s": ["a", 7, null], "y": [true, null, false]}}"#,
        r#"{"columns": {"x": [1, "a", null], "s": ["a", 7, null]}}"#,
        r#"{"columns": {"x": [1, 2], "s": ["a"]}}"#,
        r#"{ "columns" : { } }"#,
    ] {
        let mut state = ColumnsBody::default();
        state.table.expected = Some(&expected);
        assert!(scan_columns(body, &mut state).is_some(), "{body}");
        let scanned = columns_batch(state);
        let parsed = columns_from(serde_json::Deserializer::from_str(body), Some(&expected));
        match (scanned, parsed) {
            (Ok((a, _)), Ok((b, _))) => assert_eq!(a, b, "{body}"),
            (Err(a), Err(b)) => assert_eq!(a, b, "{body}"),
            (a, b) => panic!("{body}: {a:?} vs {b:?}"),
        }
    }
    // Left to serde_json.
    for body in [
        r#"{"columns": {"x": [1]}, "request_ids": ["a"]}"#,
        r#"{"columns": {"x": [1], "x": [2]}}"#,
        r#"{"columns": {"x": 1}}"#,
        r#"{"columns": {"x": [[1]]}}"#,
    ] {
        assert!(
            scan_columns(body, &mut ColumnsBody::default()).is_none(),
            "{body}"
        );
    }
}

#[test]
fn invalid_utf8_is_located() {
    let e = rows(b"[{\"s\": \"a\"},\n {\"s\": \"\xff\"}]", None).unwrap_err();
    assert_eq!(e.row, Some(1));
    assert!(
        e.message
            .starts_with("body is not valid JSON at line 2, column"),
        "{e}"
    );
    let e = ndjson(b"{\"s\": \"a\"}\n{\"s\": \"\xff\"}", None).unwrap_err();
    assert!(
        e.to_string().starts_with("row 1: line 2 is not valid JSON"),
        "{e}"
    );
}
