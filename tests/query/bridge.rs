//! Round trips of every supported type through polars and back.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, DictionaryArray,
    DurationMicrosecondArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, LargeStringArray, ListArray, NullArray, StringArray, StringViewArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, TimeUnit};
use assay::query::{QueryError, from_polars, to_polars};

use super::batch;

/// Each input column with the type it must come back as. The expected type
/// is written out here (not asked from the code under test); the expected
/// values are arrow-rs' own cast of the input to that type.
fn round_trip_cases() -> Vec<(&'static str, ArrayRef, DataType)> {
    let utc = Some(Arc::from("UTC"));
    let paris: Option<Arc<str>> = Some(Arc::from("Europe/Paris"));
    let view = DataType::Utf8View;
    let large_list = |item: DataType| DataType::LargeList(Arc::new(Field::new("item", item, true)));
    let dict: DictionaryArray<Int32Type> = vec![Some("CA"), None, Some("NY"), Some("CA")]
        .into_iter()
        .collect();
    let list_i64 = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        None,
        Some(vec![]),
        Some(vec![Some(3), None]),
    ]);
    let list_str = cast(
        &(Arc::new(list_i64.clone()) as ArrayRef),
        &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    )
    .expect("list<i64> casts to list<utf8>");
    let large_list_f64 = cast(
        &(Arc::new(list_i64.clone()) as ArrayRef),
        &DataType::LargeList(Arc::new(Field::new("item", DataType::Float64, true))),
    )
    .expect("list<i64> casts to large_list<f64>");
    let ts = [Some(1_700_000_000_i64), None, Some(-86_400), Some(0)];
    vec![
        (
            "i8",
            Arc::new(Int8Array::from(vec![Some(-128), None, Some(0), Some(127)])) as ArrayRef,
            DataType::Int32,
        ),
        (
            "i16",
            Arc::new(Int16Array::from(vec![Some(-300), None, Some(0), Some(300)])),
            DataType::Int32,
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![
                Some(i32::MIN),
                None,
                Some(0),
                Some(i32::MAX),
            ])),
            DataType::Int32,
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![
                Some(i64::MIN),
                None,
                Some(0),
                Some(i64::MAX),
            ])),
            DataType::Int64,
        ),
        (
            "u8",
            Arc::new(UInt8Array::from(vec![Some(0), None, Some(1), Some(255)])),
            DataType::UInt32,
        ),
        (
            "u16",
            Arc::new(UInt16Array::from(vec![Some(0), None, Some(1), Some(65535)])),
            DataType::UInt32,
        ),
        (
            "u32",
            Arc::new(UInt32Array::from(vec![
                Some(0),
                None,
                Some(1),
                Some(u32::MAX),
            ])),
            DataType::UInt32,
        ),
        (
            "u64",
            Arc::new(UInt64Array::from(vec![
                Some(0),
                None,
                Some(1),
                Some(u64::MAX),
            ])),
            DataType::UInt64,
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![
                Some(1.5),
                None,
                Some(f32::NAN),
                Some(f32::NEG_INFINITY),
            ])),
            DataType::Float32,
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![
                Some(-0.0),
                None,
                Some(f64::NAN),
                Some(1e300),
            ])),
            DataType::Float64,
        ),
        (
            "bool",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                None,
                Some(false),
                Some(true),
            ])),
            DataType::Boolean,
        ),
        (
            "utf8",
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some(""),
                Some("a string longer than twelve bytes"),
            ])),
            view.clone(),
        ),
        (
            "large_utf8",
            Arc::new(LargeStringArray::from(vec![
                Some("x"),
                None,
                Some("ü"),
                Some("another string longer than twelve"),
            ])),
            view.clone(),
        ),
        (
            "utf8_view",
            Arc::new(StringViewArray::from(vec![
                Some("v"),
                None,
                Some(""),
                Some("a view string longer than twelve"),
            ])),
            view.clone(),
        ),
        ("dict", Arc::new(dict), view.clone()),
        // polars stores second timestamps as milliseconds.
        (
            "ts_s",
            Arc::new(TimestampSecondArray::from(ts.to_vec())),
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
        (
            "ts_ms",
            Arc::new(TimestampMillisecondArray::from(ts.to_vec())),
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
        (
            "ts_us",
            Arc::new(TimestampMicrosecondArray::from(ts.to_vec())),
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        (
            "ts_ns",
            Arc::new(TimestampNanosecondArray::from(ts.to_vec())),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ),
        (
            "ts_ms_utc",
            Arc::new(TimestampMillisecondArray::from(ts.to_vec()).with_timezone_opt(utc.clone())),
            DataType::Timestamp(TimeUnit::Millisecond, utc.clone()),
        ),
        (
            "ts_us_utc",
            Arc::new(TimestampMicrosecondArray::from(ts.to_vec()).with_timezone_opt(utc.clone())),
            DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        ),
        (
            "ts_ns_paris",
            Arc::new(TimestampNanosecondArray::from(ts.to_vec()).with_timezone_opt(paris.clone())),
            DataType::Timestamp(TimeUnit::Nanosecond, paris.clone()),
        ),
        (
            "date32",
            Arc::new(Date32Array::from(vec![
                Some(19_000),
                None,
                Some(-1),
                Some(0),
            ])),
            DataType::Date32,
        ),
        ("list_i64", Arc::new(list_i64), large_list(DataType::Int64)),
        ("list_utf8", list_str, large_list(view.clone())),
        (
            "large_list_f64",
            large_list_f64,
            large_list(DataType::Float64),
        ),
        (
            "duration_us",
            Arc::new(DurationMicrosecondArray::from(ts.to_vec())),
            DataType::Duration(TimeUnit::Microsecond),
        ),
        // polars has no Date64; it holds such dates as millisecond datetimes.
        (
            "date64",
            Arc::new(Date64Array::from(ts.to_vec())),
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
        ("null", Arc::new(NullArray::new(4)), DataType::Null),
        (
            "binary",
            Arc::new(BinaryArray::from(vec![
                Some(b"\x00\xff".as_ref()),
                None,
                Some(b"".as_ref()),
                Some(b"bytes".as_ref()),
            ])),
            DataType::BinaryView,
        ),
    ]
}

#[test]
fn every_supported_type_round_trips_through_polars() {
    let cases = round_trip_cases();
    let input = batch(cases.iter().map(|(n, a, _)| (*n, Arc::clone(a))).collect());
    let df = to_polars(&input).expect("to polars");
    assert_eq!(df.height(), 4);
    assert_eq!(df.width(), cases.len());
    let output = from_polars(&df).expect("from polars");
    assert_eq!(output.num_rows(), 4);
    for (i, (name, original, expected_type)) in cases.iter().enumerate() {
        let field = output.schema().field(i).clone();
        assert_eq!(field.name(), name);
        let back = output.column(i);
        assert_eq!(back.data_type(), expected_type, "type of {name}");
        let expected = cast(original, expected_type).expect("arrow casts to the expected type");
        // NaN != NaN under PartialEq of ArrayData, so compare the debug text
        // of float columns and the arrays themselves otherwise.
        if matches!(expected_type, DataType::Float32 | DataType::Float64) {
            assert_eq!(
                format!("{back:?}"),
                format!("{expected:?}"),
                "values of {name}"
            );
        } else {
            assert_eq!(back.as_ref(), expected.as_ref(), "values of {name}");
        }
        assert_eq!(back.null_count(), original.null_count(), "nulls of {name}");
    }
}

#[test]
fn polars_sees_the_expected_logical_types() {
    let cases = round_trip_cases();
    let input = batch(cases.iter().map(|(n, a, _)| (*n, Arc::clone(a))).collect());
    let df = to_polars(&input).expect("to polars");
    let dtype = |name: &str| df.column(name).expect("column exists").dtype().to_string();
    assert_eq!(dtype("utf8"), "str");
    assert_eq!(dtype("dict"), "str");
    assert_eq!(dtype("i64"), "i64");
    assert_eq!(dtype("bool"), "bool");
    assert_eq!(dtype("date32"), "date");
    assert_eq!(dtype("ts_us"), "datetime[μs]");
    assert_eq!(dtype("ts_ns_paris"), "datetime[ns, Europe/Paris]");
    assert_eq!(dtype("list_utf8"), "list[str]");
}

/// Address of the first value buffer of an array (the data buffer for views).
fn buffer_address(array: &dyn Array, index: usize) -> *const u8 {
    array.to_data().buffers()[index].as_ptr()
}

#[test]
fn conversion_shares_buffers_instead_of_copying() {
    let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
    let floats: ArrayRef = Arc::new(Float64Array::from_iter_values((0..1000).map(f64::from)));
    let strings: ArrayRef =
        Arc::new(StringViewArray::from_iter_values((0..1000).map(|i| {
            format!("a string that is long enough to live out of line {i}")
        })));
    let utf8: ArrayRef =
        Arc::new(StringArray::from_iter_values((0..1000).map(|i| {
            format!("a plain utf8 string, long enough for its own buffer {i}")
        })));
    let dict: ArrayRef = Arc::new(
        (0..1000)
            .map(|i| ["first long category value", "second long category value"][i % 2])
            .collect::<DictionaryArray<Int32Type>>(),
    );
    let input = batch(vec![
        ("ints", Arc::clone(&ints)),
        ("floats", Arc::clone(&floats)),
        ("strings", Arc::clone(&strings)),
        ("utf8", Arc::clone(&utf8)),
        ("dict", Arc::clone(&dict)),
    ]);
    let output = from_polars(&to_polars(&input).expect("to polars")).expect("from polars");
    assert_eq!(
        buffer_address(output.column(0).as_ref(), 0),
        buffer_address(ints.as_ref(), 0)
    );
    assert_eq!(
        buffer_address(output.column(1).as_ref(), 0),
        buffer_address(floats.as_ref(), 0)
    );
    // Buffer 0 of a view array is the views; buffer 1 holds the string bytes.
    assert_eq!(
        buffer_address(output.column(2).as_ref(), 1),
        buffer_address(strings.as_ref(), 1)
    );
    // Utf8 becomes views over its original value buffer (buffer 1 of Utf8;
    // buffer 0 holds the offsets).
    assert_eq!(
        buffer_address(output.column(3).as_ref(), 1),
        buffer_address(utf8.as_ref(), 1)
    );
    // A string dictionary becomes views over the dictionary's value buffer.
    let dict_values = dict
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .expect("dictionary")
        .values();
    assert_eq!(
        buffer_address(output.column(4).as_ref(), 1),
        buffer_address(dict_values.as_ref(), 1)
    );
}

#[test]
fn sliced_arrays_keep_their_offset() {
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(1),
        None,
        Some(3),
        Some(4),
        None,
    ]));
    let strings: ArrayRef = Arc::new(StringArray::from(vec![
        Some("a"),
        Some("b"),
        None,
        Some("d"),
        Some("e"),
    ]));
    let input = batch(vec![("ints", ints), ("strings", strings)]).slice(1, 3);
    let output = from_polars(&to_polars(&input).expect("to polars")).expect("from polars");
    assert_eq!(
        output.column(0).as_ref(),
        &Int64Array::from(vec![None, Some(3), Some(4)]) as &dyn Array
    );
    assert_eq!(
        output.column(1).as_ref(),
        &StringViewArray::from(vec![Some("b"), None, Some("d")]) as &dyn Array
    );
}

#[test]
fn unsupported_types_are_reported_not_panicked_on() {
    let times: ArrayRef = Arc::new(arrow::array::Time64MicrosecondArray::from(vec![1, 2]));
    let err = to_polars(&batch(vec![("t", times)])).expect_err("times are unsupported");
    let message = err.to_string();
    assert!(
        matches!(err, QueryError::UnsupportedType { .. }),
        "{message}"
    );
    assert!(message.contains("column \"t\""), "{message}");
}
