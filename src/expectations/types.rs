//! `expect_column_values_to_be_of_type` and `_in_type_list`: GE type names
//! against a column's Arrow type.
//!
//! As in GE's pandas backend, a column is judged by its type, except a text
//! column (pandas' `object` dtype) asked for a type other than `object`:
//! then each value is judged (all of a text column's values are Python
//! `str`), with map semantics (`mostly`, unexpected values).
//! `observed_value` is the pandas dtype's type name GE reports (`int64`,
//! `float64`, `bool_`, `object_`, `datetime64`, `Timestamp` for a
//! time-zone-aware column); `details.arrow_type` is the Arrow type.

use arrow::datatypes::{Field, Schema};
use serde_json::{Value as Json, json};

use super::aggregate::Verdict;
use super::suite::AggregateCheck;
use crate::profile::LogicalType;

/// How a type expectation is judged on a column.
pub enum TypeJudgement {
    /// By the column's type.
    Column(Verdict),
    /// Value by value (a text column): each non-null value passes iff `ok`.
    PerValue { ok: bool },
}

/// GE's names for pandas' `object` dtype, which keep column semantics.
const OBJECT_NAMES: &[&str] = &["object", "object_", "o"];

/// Judges `check` (of-type or in-type-list) on a column of `arrow_type`
/// (Arrow's display form, e.g. `Int64`, `Timestamp(ns, "UTC")`).
pub fn judge(check: &AggregateCheck, arrow_type: &str, logical: LogicalType) -> TypeJudgement {
    let wanted: Option<Vec<&str>> = match check {
        AggregateCheck::OfType(t) => Some(vec![t.as_str()]),
        AggregateCheck::InTypeList(Some(list)) => Some(list.iter().map(String::as_str).collect()),
        _ => None,
    };
    let Some(wanted) = wanted else {
        // A null type list accepts any type (GE).
        return TypeJudgement::Column(column_verdict(true, arrow_type));
    };
    let object_asked = wanted
        .iter()
        .any(|w| OBJECT_NAMES.contains(&w.trim().to_ascii_lowercase().as_str()));
    if logical == LogicalType::String && !object_asked {
        let ok = wanted
            .iter()
            .any(|w| type_matches(w, "Utf8", LogicalType::String));
        return TypeJudgement::PerValue { ok };
    }
    let ok = wanted.iter().any(|w| type_matches(w, arrow_type, logical));
    TypeJudgement::Column(column_verdict(ok, arrow_type))
}

/// [`judge`] for a field of the data.
pub fn judge_field(check: &AggregateCheck, field: &Field) -> Result<TypeJudgement, String> {
    let logical = crate::profile::column::logical_type_of(field.name(), field.data_type())
        .map_err(|e| e.to_string())?;
    Ok(judge(check, &field.data_type().to_string(), logical))
}

/// The verdict of a type check judged by the column's type (a text column
/// judged value by value is a map check instead).
pub fn column_verdict_of(
    check: &AggregateCheck,
    schema: &Schema,
    column: &str,
) -> Result<Verdict, String> {
    let field = schema.field_with_name(column).map_err(|e| e.to_string())?;
    match judge_field(check, field)? {
        TypeJudgement::Column(verdict) => Ok(verdict),
        TypeJudgement::PerValue { .. } => Err("the per-value type check did not run".into()),
    }
}

fn column_verdict(ok: bool, arrow_type: &str) -> Verdict {
    (
        ok,
        Json::String(pandas_type_name(arrow_type).to_string()),
        Some(json!({ "arrow_type": arrow_type })),
    )
}

/// The type name GE's pandas backend reports for a column of this Arrow
/// type (`dtype.type.__name__` of the column pandas reads it as).
pub fn pandas_type_name(arrow_type: &str) -> &'static str {
    let a = arrow_type.to_ascii_lowercase();
    match a.as_str() {
        "int8" => "int8",
        "int16" => "int16",
        "int32" => "int32",
        "int64" => "int64",
        "uint8" => "uint8",
        "uint16" => "uint16",
        "uint32" => "uint32",
        "uint64" => "uint64",
        "float16" => "float16",
        "float32" => "float32",
        "float64" => "float64",
        "boolean" => "bool_",
        _ if is_zoned_timestamp(&a) => "Timestamp",
        _ if a.starts_with("timestamp(") => "datetime64",
        _ if a.starts_with("duration(") => "timedelta64",
        _ => "object_",
    }
}

/// `Timestamp(unit, "zone")`: a time-zone-aware timestamp.
fn is_zoned_timestamp(lower_arrow_type: &str) -> bool {
    lower_arrow_type.starts_with("timestamp(") && lower_arrow_type.contains(',')
}

/// Whether a GE type name (numpy/pandas, Python, Spark, SQL or Arrow
/// spelling) describes a column of `arrow_type`. See docs/ge-conformance.md
/// and the README for the accepted names.
pub fn type_matches(wanted: &str, arrow_type: &str, logical: LogicalType) -> bool {
    let w = wanted.trim().to_ascii_lowercase();
    let a = arrow_type.to_ascii_lowercase();
    if w == a {
        return true;
    }
    let exact_width = [
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32",
        "float64", "float16",
    ];
    if exact_width.contains(&w.as_str()) {
        return a == w;
    }
    match w.as_str() {
        "int" | "integer" | "bigint" | "long" | "smallint" | "tinyint" | "integertype"
        | "longtype" | "shorttype" | "bytetype" => logical == LogicalType::Int,
        "float" | "double" | "real" | "floattype" | "doubletype" | "decimal" | "numeric"
        | "decimaltype" => logical == LogicalType::Float,
        "str" | "string" | "string_types" | "object" | "object_" | "o" | "utf8"
        | "large_string" | "large_utf8" | "utf8view" | "varchar" | "text" | "stringtype"
        | "char" => logical == LogicalType::String,
        "bool" | "boolean" | "booleantype" | "bool_" => logical == LogicalType::Bool,
        "date" | "datetype" | "date32" | "datetime.date" => logical == LogicalType::Date,
        // numpy's datetime64 has no time zone: a zoned column is pandas'
        // DatetimeTZDtype, whose values are `Timestamp`s.
        "datetime64" => logical == LogicalType::Timestamp && !is_zoned_timestamp(&a),
        "datetimetzdtype" => is_zoned_timestamp(&a),
        "datetime" | "timestamp" | "timestamptype" | "datetime.datetime" => {
            logical == LogicalType::Timestamp
        }
        _ if w.starts_with("datetime64[") => {
            logical == LogicalType::Timestamp && (w.contains(',') == is_zoned_timestamp(&a))
        }
        _ if w.starts_with("timestamp(") => logical == LogicalType::Timestamp,
        "list" | "array" | "arraytype" => logical == LogicalType::List,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_names_follow_the_arrow_type() {
        assert_eq!(pandas_type_name("Int64"), "int64");
        assert_eq!(pandas_type_name("Boolean"), "bool_");
        assert_eq!(pandas_type_name("Utf8"), "object_");
        assert_eq!(pandas_type_name("Timestamp(ns)"), "datetime64");
        assert_eq!(pandas_type_name("Timestamp(µs, \"UTC\")"), "Timestamp");
    }

    #[test]
    fn datetime64_is_naive_and_zoned_columns_are_timestamps() {
        let ts = LogicalType::Timestamp;
        assert!(type_matches("datetime64", "Timestamp(ns)", ts));
        assert!(!type_matches("datetime64", "Timestamp(ns, \"UTC\")", ts));
        assert!(type_matches(
            "DatetimeTZDtype",
            "Timestamp(ns, \"UTC\")",
            ts
        ));
        assert!(type_matches("Timestamp", "Timestamp(ns, \"UTC\")", ts));
        assert!(type_matches(
            "datetime64[ns, UTC]",
            "Timestamp(ns, \"UTC\")",
            ts
        ));
        assert!(!type_matches(
            "datetime64[ns]",
            "Timestamp(ns, \"UTC\")",
            ts
        ));
    }

    #[test]
    fn text_columns_are_judged_value_by_value_unless_object_is_asked() {
        let s = LogicalType::String;
        let of = |t: &str| AggregateCheck::OfType(t.into());
        assert!(matches!(
            judge(&of("str"), "Utf8", s),
            TypeJudgement::PerValue { ok: true }
        ));
        assert!(matches!(
            judge(&of("int"), "Utf8", s),
            TypeJudgement::PerValue { ok: false }
        ));
        match judge(&of("O"), "Utf8", s) {
            TypeJudgement::Column((ok, observed, _)) => {
                assert!(ok);
                assert_eq!(observed, "object_");
            }
            TypeJudgement::PerValue { .. } => panic!("object keeps column semantics"),
        }
        assert!(matches!(
            judge(&AggregateCheck::InTypeList(None), "Utf8", s),
            TypeJudgement::Column((true, _, _))
        ));
    }
}
