//! JSON values of one column ([`JsonCell`]s) and their conversion to Arrow
//! arrays: type inference, conversion to a known type, and the errors that
//! name row, column and expected type.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, ListBuilder, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::{PayloadError, cast_checked, describe, shorten};

/// One JSON value, as far as a column needs it. Strings borrow from the
/// body when they hold no escapes (see [`CellSeed`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum JsonCell<'a> {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`.
    BigUint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<JsonCell<'a>>),
    /// A JSON object (content dropped: objects are not column values).
    Object,
}

/// A cell that owns its strings (KServe tensors, request ids).
pub(crate) type Cell = JsonCell<'static>;

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CellSeed.deserialize(deserializer).map(JsonCell::into_owned)
    }
}

/// Deserializes a [`JsonCell`] borrowing from the input: no allocation per
/// string of a body (escaped strings excepted).
pub(crate) struct CellSeed;

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = JsonCell<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(CellVisitor)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = JsonCell<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JsonCell::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JsonCell::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(JsonCell::BigUint(v), JsonCell::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JsonCell::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonCell::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonCell::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonCell::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsonCell::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(JsonCell::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        CellSeed.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(CellSeed)? {
            items.push(item);
        }
        Ok(JsonCell::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(JsonCell::Object)
    }
}

impl JsonCell<'_> {
    /// The value as it appears in an error message.
    pub(crate) fn found(&self) -> String {
        match self {
            JsonCell::Null => "null".into(),
            JsonCell::Bool(b) => b.to_string(),
            JsonCell::Int(i) => i.to_string(),
            JsonCell::BigUint(u) => u.to_string(),
            JsonCell::Float(f) => float_text(*f),
            JsonCell::Str(s) => serde_json::to_string(&shorten(s, 40)).unwrap_or_default(),
            JsonCell::List(_) => "an array".into(),
            JsonCell::Object => "an object".into(),
        }
    }

    /// The same value owning its strings.
    pub(crate) fn into_owned(self) -> Cell {
        match self {
            JsonCell::Null => JsonCell::Null,
            JsonCell::Bool(b) => JsonCell::Bool(b),
            JsonCell::Int(i) => JsonCell::Int(i),
            JsonCell::BigUint(u) => JsonCell::BigUint(u),
            JsonCell::Float(f) => JsonCell::Float(f),
            JsonCell::Str(s) => JsonCell::Str(Cow::Owned(s.into_owned())),
            JsonCell::List(items) => {
                JsonCell::List(items.into_iter().map(JsonCell::into_owned).collect())
            }
            JsonCell::Object => JsonCell::Object,
        }
    }
}

/// A float as JSON would write it (`3.0`, `0.1`, `1e300`).
fn float_text(f: f64) -> String {
    let text = f.to_string();
    if f.is_finite() && !text.contains(['.', 'e', 'E']) && text.len() > 17 {
        format!("{f:e}")
    } else if f.is_finite() && !text.contains(['.', 'e', 'E']) {
        format!("{text}.0")
    } else {
        text
    }
}

/// The scalar kinds inference distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    List,
}

impl Kind {
    fn of(cell: &JsonCell<'_>) -> Option<Kind> {
        match cell {
            JsonCell::Null => None,
            JsonCell::Bool(_) => Some(Kind::Bool),
            JsonCell::Int(_) => Some(Kind::Int),
            JsonCell::BigUint(_) | JsonCell::Float(_) => Some(Kind::Float),
            JsonCell::Str(_) => Some(Kind::Str),
            JsonCell::List(_) | JsonCell::Object => Some(Kind::List),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Bool => "a boolean",
            Kind::Int | Kind::Float => "a number",
            Kind::Str => "a string",
            Kind::List => "an array",
        }
    }

    /// `self` widened to take `other`, if they are compatible.
    fn join(self, other: Kind) -> Option<Kind> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Some(Kind::Float),
            _ => None,
        }
    }

    fn scalar_type(self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Str | Kind::List => DataType::Utf8,
        }
    }
}

fn object_error(row: usize, column: &str) -> PayloadError {
    PayloadError {
        expected: Some("a scalar or an array of scalars".into()),
        ..PayloadError::body(
            "nested objects are not supported; flatten them into columns (e.g. `a.b`)",
        )
        .at_row(row)
        .in_column(column)
    }
}

/// Infers a column's type from its cells: numbers → Int64 if all integral
/// else Float64, strings → Utf8, booleans → Boolean, arrays of scalars →
/// List of the same, all-null → Utf8. Mixed kinds are an error at the first
/// value that disagrees with the earlier ones.
pub(crate) fn infer_type(cells: &[JsonCell<'_>], column: &str) -> Result<DataType, PayloadError> {
    let mut kind: Option<(Kind, usize)> = None;
    let mut item: Option<(Kind, usize)> = None;
    for (row, cell) in cells.iter().enumerate() {
        let Some(k) = Kind::of(cell) else { continue };
        match cell {
            JsonCell::Object => return Err(object_error(row, column)),
            JsonCell::List(items) => {
                for value in items {
                    if matches!(value, JsonCell::List(_) | JsonCell::Object) {
                        return Err(PayloadError {
                            expected: Some("an array of scalars".into()),
                            ..PayloadError::body(format!(
                                "nested arrays and objects inside arrays are not supported, found {}",
                                value.found()
                            ))
                            .at_row(row)
                            .in_column(column)
                        });
                    }
                    let Some(vk) = Kind::of(value) else { continue };
                    item = match item {
                        None => Some((vk, row)),
                        Some((prev, first)) => match prev.join(vk) {
                            Some(j) => Some((j, first)),
                            None => {
                                return Err(conflict(row, column, prev, first, value, true));
                            }
                        },
                    };
                }
            }
            _ => {}
        }
        kind = match kind {
            None => Some((k, row)),
            Some((prev, first)) => match prev.join(k) {
                Some(j) => Some((j, first)),
                None => return Err(conflict(row, column, prev, first, cell, false)),
            },
        };
    }
    Ok(match kind {
        None => DataType::Utf8,
        Some((Kind::List, _)) => {
            let item_type = item.map_or(DataType::Utf8, |(k, _)| k.scalar_type());
            DataType::List(Arc::new(Field::new("item", item_type, true)))
        }
        Some((k, _)) => k.scalar_type(),
    })
}

fn conflict(
    row: usize,
    column: &str,
    prev: Kind,
    first: usize,
    found: &JsonCell<'_>,
    in_array: bool,
) -> PayloadError {
    let expected = if in_array {
        format!("{} (array items in row {first} are)", prev.describe())
    } else {
        format!("{} (as in row {first})", prev.describe())
    };
    let mut e = PayloadError::mismatch(row, column, expected, &found.found());
    e.expected = Some(prev.describe().to_string());
    e
}

/// Builds the array of a column: converted to `target` when given, else
/// of the inferred type.
pub(crate) fn build_column(
    cells: &[JsonCell<'_>],
    column: &str,
    target: Option<&DataType>,
) -> Result<ArrayRef, PayloadError> {
    match target {
        Some(t) => build_as(cells, column, t),
        None => {
            let t = infer_type(cells, column)?;
            build_as(cells, column, &t)
        }
    }
}

/// Converts cells to `target`. Int64, Float64, Utf8, Boolean, timestamps and
/// lists of the first four are built directly; other types are built as
/// their inferred type and cast (any lost value is an error).
pub(crate) fn build_as(
    cells: &[JsonCell<'_>],
    column: &str,
    target: &DataType,
) -> Result<ArrayRef, PayloadError> {
    let bad = |row: usize, cell: &JsonCell<'_>| {
        if matches!(cell, JsonCell::Object) {
            return object_error(row, column);
        }
        PayloadError::mismatch(row, column, describe(target), &cell.found())
    };
    Ok(match target {
        DataType::Int64 => Arc::new(
            cells
                .iter()
                .enumerate()
                .map(|(row, c)| to_i64(c).map_err(|_| bad(row, c)))
                .collect::<Result<Int64Array, _>>()?,
        ),
        DataType::Float64 => Arc::new(
            cells
                .iter()
                .enumerate()
                .map(|(row, c)| to_f64(c).map_err(|_| bad(row, c)))
                .collect::<Result<Float64Array, _>>()?,
        ),
        DataType::Boolean => Arc::new(
            cells
                .iter()
                .enumerate()
                .map(|(row, c)| to_bool(c).map_err(|_| bad(row, c)))
                .collect::<Result<BooleanArray, _>>()?,
        ),
        DataType::Utf8 => Arc::new(
            cells
                .iter()
                .enumerate()
                .map(|(row, c)| to_text(c).map_err(|_| bad(row, c)))
                .collect::<Result<StringArray, _>>()?,
        ),
        DataType::Timestamp(unit, tz) => {
            let micros = cells
                .iter()
                .enumerate()
                .map(|(row, c)| to_micros(c).map_err(|_| bad(row, c)))
                .collect::<Result<TimestampMicrosecondArray, _>>()?
                .with_timezone_opt(tz.clone());
            let array: ArrayRef = Arc::new(micros);
            if *unit == TimeUnit::Microsecond {
                array
            } else {
                cast_checked(&array, target, column)?
            }
        }
        DataType::List(item)
            if matches!(
                item.data_type(),
                DataType::Int64 | DataType::Float64 | DataType::Utf8 | DataType::Boolean
            ) =>
        {
            let field = Arc::new(Field::new(item.name(), item.data_type().clone(), true));
            match item.data_type() {
                DataType::Int64 => {
                    list(cells, column, target, field, Int64Builder::new(), |b, c| {
                        to_i64(c).map(|v| b.append_option(v))
                    })?
                }
                DataType::Float64 => list(
                    cells,
                    column,
                    target,
                    field,
                    Float64Builder::new(),
                    |b, c| to_f64(c).map(|v| b.append_option(v)),
                )?,
                DataType::Boolean => list(
                    cells,
                    column,
                    target,
                    field,
                    BooleanBuilder::new(),
                    |b, c| to_bool(c).map(|v| b.append_option(v)),
                )?,
                _ => list(
                    cells,
                    column,
                    target,
                    field,
                    StringBuilder::new(),
                    |b, c| to_text(c).map(|v| b.append_option(v)),
                )?,
            }
        }
        other => {
            let inferred = infer_type(cells, column)?;
            let array = build_as(cells, column, &inferred)?;
            cast_checked(&array, other, column)?
        }
    })
}

fn list<B: ArrayBuilder>(
    cells: &[JsonCell<'_>],
    column: &str,
    target: &DataType,
    field: Arc<Field>,
    values: B,
    push: impl Fn(&mut B, &JsonCell<'_>) -> Result<(), ()>,
) -> Result<ArrayRef, PayloadError> {
    let mut builder = ListBuilder::new(values).with_field(field);
    for (row, cell) in cells.iter().enumerate() {
        match cell {
            JsonCell::Null => builder.append(false),
            JsonCell::List(items) => {
                for item in items {
                    push(builder.values(), item).map_err(|_| {
                        PayloadError::mismatch(
                            row,
                            column,
                            describe(target),
                            &format!("an array holding {}", item.found()),
                        )
                    })?;
                }
                builder.append(true);
            }
            other => {
                return Err(PayloadError::mismatch(
                    row,
                    column,
                    describe(target),
                    &other.found(),
                ));
            }
        }
    }
    Ok(Arc::new(builder.finish()))
}

/// Largest magnitude an f64 can have and still fit an i64 exactly-ish.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

pub(crate) fn to_i64(cell: &JsonCell<'_>) -> Result<Option<i64>, ()> {
    match cell {
        JsonCell::Null => Ok(None),
        JsonCell::Int(i) => Ok(Some(*i)),
        JsonCell::Float(f) => float_to_i64(*f).map(Some).ok_or(()),
        _ => Err(()),
    }
}

/// An integral float that fits an i64, as one (`3.0` → 3).
pub(crate) fn float_to_i64(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && (-I64_LIMIT..I64_LIMIT).contains(&f)).then_some(f as i64)
}

pub(crate) fn to_f64(cell: &JsonCell<'_>) -> Result<Option<f64>, ()> {
    match cell {
        JsonCell::Null => Ok(None),
        JsonCell::Int(i) => Ok(Some(*i as f64)),
        JsonCell::BigUint(u) => Ok(Some(*u as f64)),
        JsonCell::Float(f) => Ok(Some(*f)),
        _ => Err(()),
    }
}

pub(crate) fn to_bool(cell: &JsonCell<'_>) -> Result<Option<bool>, ()> {
    match cell {
        JsonCell::Null => Ok(None),
        JsonCell::Bool(b) => Ok(Some(*b)),
        _ => Err(()),
    }
}

pub(crate) fn to_text<'c>(cell: &'c JsonCell<'_>) -> Result<Option<Cow<'c, str>>, ()> {
    match cell {
        JsonCell::Null => Ok(None),
        JsonCell::Str(s) => Ok(Some(Cow::Borrowed(s))),
        JsonCell::Bool(b) => Ok(Some(Cow::Borrowed(if *b { "true" } else { "false" }))),
        JsonCell::Int(i) => Ok(Some(Cow::Owned(i.to_string()))),
        JsonCell::BigUint(u) => Ok(Some(Cow::Owned(u.to_string()))),
        JsonCell::Float(f) => Ok(Some(Cow::Owned(float_text(*f)))),
        JsonCell::List(_) | JsonCell::Object => Err(()),
    }
}

/// Microseconds since the epoch: numbers are taken as such, strings are
/// parsed as RFC 3339 / ISO 8601 (no offset = UTC).
pub(crate) fn to_micros(cell: &JsonCell<'_>) -> Result<Option<i64>, ()> {
    match cell {
        JsonCell::Str(s) => parse_timestamp(s).map(Some).ok_or(()),
        other => to_i64(other),
    }
}

/// Parses an RFC 3339 / ISO 8601 date-time (`T` or a space between date and
/// time, optional fraction, `Z` or `±hh:mm` offset or none = UTC) or a bare
/// date (midnight UTC) to microseconds since the epoch.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_micros());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};

    fn cells(json: &str) -> Vec<Cell> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn infers_types() {
        assert_eq!(
            infer_type(&cells("[1, null, 2]"), "c").unwrap(),
            DataType::Int64
        );
        assert_eq!(
            infer_type(&cells("[1, 2.5]"), "c").unwrap(),
            DataType::Float64
        );
        assert_eq!(
            infer_type(&cells("[18446744073709551615]"), "c").unwrap(),
            DataType::Float64
        );
        assert_eq!(
            infer_type(&cells(r#"["a", null]"#), "c").unwrap(),
            DataType::Utf8
        );
        assert_eq!(
            infer_type(&cells("[true]"), "c").unwrap(),
            DataType::Boolean
        );
        assert_eq!(
            infer_type(&cells("[null, null]"), "c").unwrap(),
            DataType::Utf8
        );
        assert_eq!(
            infer_type(&cells("[[1, 2], null, [3.5]]"), "c").unwrap(),
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true)))
        );
        let e = infer_type(&cells(r#"[1, 2, "x"]"#), "c").unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 2, column `c`: expected a number (as in row 0), found \"x\""
        );
        let e = infer_type(&cells(r#"[1, {"a": 1}]"#), "c").unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("c")));
        let e = infer_type(&cells("[[1, [2]]]"), "c").unwrap_err();
        assert_eq!(e.row, Some(0));
    }

    #[test]
    fn converts_to_known_types() {
        let a = build_as(&cells("[1, 3.0, null]"), "c", &DataType::Int64).unwrap();
        let a = a.as_primitive::<Int64Type>();
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![Some(1), Some(3), None]);
        let e = build_as(&cells(r#"[1, "abc"]"#), "age", &DataType::Int64).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 1, column `age`: expected an integer, found \"abc\""
        );
        assert_eq!(e.expected.as_deref(), Some("an integer"));
        assert!(build_as(&cells("[3.5]"), "c", &DataType::Int64).is_err());
        let s = build_as(&cells("[1, 2.5, true, \"x\"]"), "c", &DataType::Utf8).unwrap();
        let s = s.as_string::<i32>();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Some("1"), Some("2.5"), Some("true"), Some("x")]
        );
        let f = build_as(&cells("[1, 2.5]"), "c", &DataType::Float64).unwrap();
        assert_eq!(f.data_type(), &DataType::Float64);
        assert!(build_as(&cells("[1]"), "c", &DataType::Boolean).is_err());
        // Other types go through a checked cast.
        let i = build_as(&cells("[1, 2]"), "c", &DataType::Int32).unwrap();
        assert_eq!(i.data_type(), &DataType::Int32);
        let e = build_as(&cells("[1, 3000000000]"), "c", &DataType::Int32).unwrap_err();
        assert_eq!(e.row, Some(1));
        let l = build_as(
            &cells("[[1, 2], null]"),
            "c",
            &DataType::List(Arc::new(Field::new("element", DataType::Int64, true))),
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.is_null(1));
    }

    #[test]
    fn timestamps() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let a = build_as(
            &cells(
                r#"["2024-01-02T03:04:05Z", "2024-01-02T04:04:05+01:00", "2024-01-02 03:04:05",
                    "2024-01-02T03:04:05.5", "2024-01-02", 1704164645000000, null]"#,
            ),
            "t",
            &ts,
        )
        .unwrap();
        let a = a.as_primitive::<TimestampMicrosecondType>();
        let base = 1_704_164_645_000_000;
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![
                Some(base),
                Some(base),
                Some(base),
                Some(base + 500_000),
                Some(base - (3 * 3600 + 4 * 60 + 5) * 1_000_000),
                Some(base),
                None
            ]
        );
        let e = build_as(&cells(r#"["yesterday"]"#), "t", &ts).unwrap_err();
        assert!(e.to_string().contains("expected a timestamp"), "{e}");
        let ms = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let a = build_as(&cells(r#"["2024-01-02T03:04:05Z"]"#), "t", &ms).unwrap();
        assert_eq!(a.data_type(), &ms);
    }

    #[test]
    fn float_text_matches_json() {
        assert_eq!(float_text(3.0), "3.0");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(float_text(5000.5), "5000.5");
        assert_eq!(float_text(1e300), "1e300");
    }
}
