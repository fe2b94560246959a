//! Reading Arrow columns the way expectations need them: numbers as f64,
//! dates and times as microseconds since the epoch, text (dictionary-aware),
//! hashable keys, and JSON renderings for unexpected-value lists.

// Maps and sets keyed by data values, on the per-row path: foldhash, not
// SipHash (measured: SipHash was about 6% of `assay validate` on the bench
// table; the keys are data, so hash-flooding resistance buys nothing here).
use foldhash::HashSet;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::Value as Json;

use super::suite::{Scalar, num_json};

/// What a row contributed to a map expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Null (or NaN): left out, counted as missing.
    Missing,
    Pass,
    Fail,
}

/// How expectations compare a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Integers, floats and decimals, compared as f64.
    Num,
    /// Dates and timestamps, compared as microseconds since the epoch.
    Temporal,
    Text,
    Bool,
    Other,
}

impl Family {
    /// For messages: what the column holds.
    pub fn describe(self) -> &'static str {
        match self {
            Family::Num => "numbers",
            Family::Temporal => "dates/times",
            Family::Text => "text",
            Family::Bool => "booleans",
            Family::Other => "values of another type",
        }
    }
}

pub fn family(data_type: &DataType) -> Family {
    use DataType as D;
    match data_type {
        D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float16
        | D::Float32
        | D::Float64
        | D::Decimal32(..)
        | D::Decimal64(..)
        | D::Decimal128(..)
        | D::Decimal256(..) => Family::Num,
        D::Timestamp(..) | D::Date32 | D::Date64 => Family::Temporal,
        D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Null => Family::Text,
        D::Dictionary(_, v) if v.is_string() => Family::Text,
        D::Boolean => Family::Bool,
        _ => Family::Other,
    }
}

/// The column as f64 values: numbers as they are, dates and timestamps as
/// microseconds since the epoch (UTC).
pub fn numbers(array: &ArrayRef) -> Result<Float64Array, String> {
    let err = |e: arrow::error::ArrowError| e.to_string();
    let values = match family(array.data_type()) {
        Family::Num => cast(array, &DataType::Float64).map_err(err)?,
        Family::Temporal => {
            let micros = match array.data_type() {
                DataType::Timestamp(TimeUnit::Microsecond, _) => array.clone(),
                DataType::Timestamp(_, tz) => cast(
                    array,
                    &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
                )
                .map_err(err)?,
                _ => cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(err)?,
            };
            let ints = micros
                .to_data()
                .into_builder()
                .data_type(DataType::Int64)
                .build()
                .map_err(err)?;
            let ints = arrow::array::make_array(ints);
            cast(&ints, &DataType::Float64).map_err(err)?
        }
        _ => {
            return Err(format!(
                "needs a numeric or date/time column, but the column is {}",
                array.data_type()
            ));
        }
    };
    Ok(values.as_primitive::<Float64Type>().clone())
}

/// Applies `pred` to each non-null string (non-text columns are cast to
/// text first). Dictionary columns evaluate each distinct value once.
pub fn str_outcomes(
    array: &ArrayRef,
    pred: &mut dyn FnMut(&str) -> bool,
) -> Result<Vec<Outcome>, String> {
    let judge = |v: Option<&str>, pred: &mut dyn FnMut(&str) -> bool| match v {
        None => Outcome::Missing,
        Some(s) if pred(s) => Outcome::Pass,
        Some(_) => Outcome::Fail,
    };
    Ok(match array.data_type() {
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .map(|v| judge(v, pred))
            .collect(),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .iter()
            .map(|v| judge(v, pred))
            .collect(),
        DataType::Utf8View => array
            .as_string_view()
            .iter()
            .map(|v| judge(v, pred))
            .collect(),
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let per_value = str_outcomes(dict.values(), pred)?;
            let keys = dict.normalized_keys();
            let nulls = array.logical_nulls();
            keys.iter()
                .enumerate()
                .map(|(i, k)| {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        Outcome::Missing
                    } else {
                        per_value.get(*k).copied().unwrap_or(Outcome::Missing)
                    }
                })
                .collect()
        }
        DataType::Null => vec![Outcome::Missing; array.len()],
        _ => {
            let text = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            return str_outcomes(&text, pred);
        }
    })
}

/// Applies `pred` to each non-missing number (NaN is missing, as in GE's
/// pandas backend).
pub fn num_outcomes(values: &Float64Array, pred: impl Fn(f64) -> bool) -> Vec<Outcome> {
    values
        .iter()
        .map(|v| match v {
            None => Outcome::Missing,
            Some(x) if x.is_nan() => Outcome::Missing,
            Some(x) if pred(x) => Outcome::Pass,
            Some(_) => Outcome::Fail,
        })
        .collect()
}

/// Whether row `i` is missing: null, or NaN in a float column.
pub fn missing_mask(array: &ArrayRef) -> Vec<bool> {
    let nulls = array.logical_nulls();
    let mut mask: Vec<bool> = (0..array.len())
        .map(|i| nulls.as_ref().is_some_and(|n| n.is_null(i)))
        .collect();
    let nan = |m: &mut Vec<bool>, it: &mut dyn Iterator<Item = bool>| {
        for (slot, is_nan) in m.iter_mut().zip(it) {
            *slot |= is_nan;
        }
    };
    match array.data_type() {
        DataType::Float64 => nan(
            &mut mask,
            &mut array
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|v| v.is_nan()),
        ),
        DataType::Float32 => nan(
            &mut mask,
            &mut array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .values()
                .iter()
                .map(|v| v.is_nan()),
        ),
        _ => {}
    }
    mask
}

/// A hashable, comparable cell value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Null,
    Bool(bool),
    /// f64 bits with -0.0 folded into 0.0 (so equal numbers hash equally).
    Num(u64),
    Text(String),
    /// Several columns' values (compound keys, value pairs).
    Tuple(Vec<Key>),
}

impl Key {
    pub fn num(x: f64) -> Self {
        Key::Num(Self::num_bits(x))
    }

    /// The bits `Key::num(x)` holds.
    pub fn num_bits(x: f64) -> u64 {
        if x == 0.0 {
            0f64.to_bits()
        } else {
            x.to_bits()
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Key::Num(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }

    /// The value as JSON; `temporal` renders microseconds as ISO 8601.
    pub fn to_json(&self, temporal: bool) -> Json {
        match self {
            Key::Null => Json::Null,
            Key::Bool(b) => Json::Bool(*b),
            Key::Num(bits) => {
                let x = f64::from_bits(*bits);
                if temporal {
                    Json::String(micros_to_text(x as i64))
                } else {
                    num_json(x)
                }
            }
            Key::Text(s) => Json::String(s.clone()),
            Key::Tuple(keys) => Json::Array(keys.iter().map(|k| k.to_json(temporal)).collect()),
        }
    }

    /// Orders numbers numerically (the derived order compares bit patterns).
    pub fn cmp_values(&self, other: &Key) -> std::cmp::Ordering {
        match (self.as_f64(), other.as_f64()) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            _ => self.cmp(other),
        }
    }
}

/// One column of a batch prepared for per-row key extraction.
pub enum KeyColumn {
    Num(Float64Array, Vec<bool>),
    Text(Vec<Option<String>>),
    Bool(BooleanArray),
}

impl KeyColumn {
    pub fn new(array: &ArrayRef) -> Result<(Self, Family), String> {
        let fam = family(array.data_type());
        Ok((
            match fam {
                Family::Num | Family::Temporal => {
                    let values = numbers(array)?;
                    let missing = missing_mask(array);
                    KeyColumn::Num(values, missing)
                }
                Family::Bool => KeyColumn::Bool(array.as_boolean().clone()),
                Family::Text | Family::Other => KeyColumn::Text(strings(array)?),
            },
            fam,
        ))
    }

    pub fn key(&self, i: usize) -> Key {
        match self {
            KeyColumn::Num(values, missing) => {
                if missing[i] {
                    Key::Null
                } else {
                    Key::num(values.value(i))
                }
            }
            KeyColumn::Bool(values) => {
                if values.is_null(i) {
                    Key::Null
                } else {
                    Key::Bool(values.value(i))
                }
            }
            KeyColumn::Text(values) => values[i].clone().map_or(Key::Null, Key::Text),
        }
    }
}

/// Every row as text (null stays null); non-text columns are cast to text.
pub fn strings(array: &ArrayRef) -> Result<Vec<Option<String>>, String> {
    let owned =
        |it: &mut dyn Iterator<Item = Option<&str>>| it.map(|v| v.map(str::to_string)).collect();
    Ok(match array.data_type() {
        DataType::Utf8 => owned(&mut array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => owned(&mut array.as_string::<i64>().iter()),
        DataType::Utf8View => owned(&mut array.as_string_view().iter()),
        DataType::Dictionary(..) => {
            let dict = array.as_any_dictionary();
            let values = strings(dict.values())?;
            let nulls = array.logical_nulls();
            dict.normalized_keys()
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        None
                    } else {
                        values.get(*k).cloned().flatten()
                    }
                })
                .collect()
        }
        DataType::Null => vec![None; array.len()],
        _ => {
            let text = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            return strings(&text);
        }
    })
}

/// Row `i` of `array` as JSON, for unexpected-value lists.
pub fn render(array: &ArrayRef, i: usize) -> Json {
    if array.is_null(i) {
        return Json::Null;
    }
    match array.data_type() {
        DataType::Boolean => Json::Bool(array.as_boolean().value(i)),
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(i);
            serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
        }
        DataType::Int64 => Json::from(array.as_primitive::<Int64Type>().value(i)),
        t if matches!(family(t), Family::Num) => match cast(array, &DataType::Float64) {
            Ok(f) => num_json(f.as_primitive::<Float64Type>().value(i)),
            Err(_) => Json::Null,
        },
        DataType::Dictionary(..) => {
            let dict = array.as_any_dictionary();
            let key = dict.normalized_keys()[i];
            render(dict.values(), key)
        }
        _ => match ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()) {
            Ok(f) => Json::String(f.value(i).to_string()),
            Err(_) => Json::Null,
        },
    }
}

/// Microseconds since the epoch as ISO 8601 (no zone: UTC).
pub fn micros_to_text(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) => {
            let naive = t.naive_utc();
            if naive.time() == chrono::NaiveTime::MIN {
                naive.format("%Y-%m-%dT%H:%M:%S").to_string()
            } else {
                naive.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
            }
        }
        None => us.to_string(),
    }
}

/// Parses a date or date-time bound (`2024-01-31`, `2024-01-31T10:00:00`,
/// `2024-01-31 10:00:00`, RFC 3339 with an offset) to microseconds (UTC).
pub fn parse_time(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros() as f64);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros() as f64);
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| {
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_micros() as f64
        })
}

/// A suite literal as a key for a column of family `fam`, or an error
/// explaining why it can never match.
pub fn scalar_key(scalar: &Scalar, fam: Family) -> Result<Key, String> {
    Ok(match (scalar, fam) {
        (Scalar::Null, _) => Key::Null,
        (Scalar::Num(x), Family::Num) => Key::num(*x),
        (Scalar::Text(t), Family::Temporal) => {
            Key::num(parse_time(t).ok_or_else(|| format!("\"{t}\" is not a date or date-time"))?)
        }
        (Scalar::Text(t), Family::Text | Family::Other) => Key::Text(t.clone()),
        (Scalar::Num(x), Family::Text | Family::Other) => Key::Text(num_json(*x).to_string()),
        (Scalar::Bool(b), Family::Bool) => Key::Bool(*b),
        (Scalar::Bool(b), Family::Text | Family::Other) => {
            Key::Text(if *b { "True" } else { "False" }.into())
        }
        (Scalar::Text(t), Family::Num) => Key::num(
            t.parse::<f64>()
                .map_err(|_| format!("\"{t}\" is not a number, but the column is numeric"))?,
        ),
        (other, fam) => {
            return Err(format!(
                "{other:?} cannot be compared with a {fam:?} column"
            ));
        }
    })
}

pub fn key_set(set: &[Scalar], fam: Family) -> Result<HashSet<Key>, String> {
    set.iter().map(|s| scalar_key(s, fam)).collect()
}

/// A bound as an f64 for a numeric or temporal column.
pub fn num_bound(bound: &Scalar, fam: Family) -> Result<f64, String> {
    match scalar_key(bound, fam)? {
        Key::Num(bits) => Ok(f64::from_bits(bits)),
        other => Err(format!("bound {other:?} is not a number")),
    }
}
