//! `expect_query_results_to_match_comparison`: two SQL queries, one on the
//! validated data and one on another table, must return the same rows.
//!
//! Semantics follow Great Expectations 1.x's `ExpectQueryResultsToMatchComparison`
//! (`great_expectations/expectations/core/expect_query_results_to_match_comparison.py`):
//! - At most the first [`MAX_RESULT_RECORDS`] (200) rows of each query are
//!   compared (GE fetches `MAX_RESULT_RECORDS` rows of each result).
//! - Rows are compared as tuples of values by position: column names do not
//!   matter, column order does; row order does not (a multiset comparison).
//!   A row seen `x` times in the base result and `y` times in the
//!   comparison result makes `min(x, y)` matches.
//! - `unexpected_count` = max(base rows, comparison rows) − matches and
//!   `unexpected_percent` = (1 − matches / max(base rows, comparison rows))
//!   × 100; both results empty is a match (0 and 0.0).
//! - Success: `100 − unexpected_percent >= mostly × 100`.
//! - `details.unexpected_rows`: base rows the comparison lacks;
//!   `details.missing_rows`: comparison rows the base lacks; each a list of
//!   `{column: value}` objects (the base's or the comparison's column
//!   names), nulls first then ascending, as GE sorts them. GE reports them
//!   only at `COMPLETE`; `BASIC` and `SUMMARY` give the counts only.
//!
//! Where assay differs, because it has no SQL databases or data sources:
//! - Both queries are polars SQL; `{batch}` names the validated data in
//!   `base_query` (as in GE) and the comparison table in
//!   `comparison_query` (GE runs that query as written against the other
//!   database).
//! - `comparison_data_source_name` is a file, glob or directory read like
//!   any input (as `other_table_name` of
//!   `expect_table_row_count_to_equal_other_table`).
//! - Values are equal as Python compares what a database driver returns:
//!   integers and floats by numeric value (`1 == 1.0`), text with text,
//!   dates and times with dates and times, null with null. A NaN is
//!   rendered, and compared, as null.
//! - `row_condition` applies to the validated data the base query sees, as
//!   for every assay expectation (GE's version of this expectation leaves
//!   `row_condition` out of its domain and ignores it).

use std::cmp::Ordering;
use std::collections::HashMap;

use arrow::array::RecordBatch;
use polars::prelude::{IdxSize, IntoLazy};
use serde_json::{Map, Value as Json};

use super::values::{Family, family, render};

/// GE's `MAX_RESULT_RECORDS`: rows of each query result compared.
pub const MAX_RESULT_RECORDS: usize = 200;

/// Runs `query` with polars SQL, `{batch}` (or `{active_batch}`) standing
/// for `table`; with `limit`, only the first rows are computed.
pub fn query_rows(
    query: &str,
    table: &RecordBatch,
    limit: Option<usize>,
) -> Result<RecordBatch, String> {
    let frame = crate::query::to_polars(table).map_err(|e| e.to_string())?;
    let mut context = polars::sql::SQLContext::new();
    context.register("batch", frame.lazy());
    let sql = query
        .replace("{batch}", "batch")
        .replace("{active_batch}", "batch");
    let out = context
        .execute(&sql)
        .map(|lf| match limit {
            Some(n) => lf.limit(IdxSize::try_from(n).unwrap_or(IdxSize::MAX)),
            None => lf,
        })
        .and_then(|lf| lf.collect())
        .map_err(|e| {
            e.to_string()
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .to_string()
        })?;
    crate::query::from_polars(&out).map_err(|e| e.to_string())
}

/// The comparison table: every file of `source` (a file, glob or
/// directory, relative to the working directory) in one batch.
pub fn read_comparison(source: &str) -> Result<RecordBatch, String> {
    let fail = |e: &dyn std::fmt::Display| format!("comparison_data_source_name: {e}");
    let options = crate::sources::ReadOptions::default();
    let dataset = crate::sources::open(&[source.to_string()], &options).map_err(|e| fail(&e))?;
    let schema = dataset.schema.clone();
    let mut batches = Vec::new();
    for partition in dataset.partitions {
        for batch in (partition.open)().map_err(|e| fail(&e))? {
            batches.push(batch.map_err(|e| fail(&e))?);
        }
    }
    arrow::compute::concat_batches(&schema, &batches).map_err(|e| fail(&e))
}

/// The outcome of comparing the two query results.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub success: bool,
    pub unexpected_count: u64,
    pub unexpected_percent: f64,
    /// Comparison rows the base result lacks.
    pub missing_rows: Vec<Json>,
    /// Base rows the comparison result lacks.
    pub unexpected_rows: Vec<Json>,
}

/// A query result as rows: values for display, keys for matching.
struct Rows {
    names: Vec<String>,
    values: Vec<Vec<Json>>,
    keys: Vec<String>,
}

fn rows(batch: &RecordBatch) -> Rows {
    let schema = batch.schema();
    let names = schema.fields().iter().map(|f| f.name().clone()).collect();
    let families: Vec<Family> = schema
        .fields()
        .iter()
        .map(|f| family(f.data_type()))
        .collect();
    let n = batch.num_rows().min(MAX_RESULT_RECORDS);
    let mut values = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        let row: Vec<Json> = batch.columns().iter().map(|a| render(a, i)).collect();
        let key: Vec<Json> = row
            .iter()
            .zip(&families)
            .map(|(v, f)| cell_key(*f, v))
            .collect();
        keys.push(Json::Array(key).to_string());
        values.push(row);
    }
    Rows {
        names,
        values,
        keys,
    }
}

/// A value's identity for matching: numbers by numeric value (1 == 1.0),
/// tagged by kind so text never equals a date or a number.
fn cell_key(fam: Family, value: &Json) -> Json {
    let text = match value {
        Json::Null => return Json::Null,
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let tagged = match (fam, value) {
        (_, Json::Number(n)) => format!("n{}", number_key(n)),
        (_, Json::Bool(b)) => format!("b{b}"),
        (Family::Temporal, _) => format!("t{text}"),
        (Family::Text, _) => format!("s{text}"),
        _ => format!("o{text}"),
    };
    Json::String(tagged)
}

fn number_key(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        (f as i64).to_string()
    } else {
        f.to_string()
    }
}

/// Compares the base query's result with the comparison query's, GE's way.
pub fn compare(base: &RecordBatch, comparison: &RecordBatch, mostly: f64) -> Comparison {
    let base = rows(base);
    let comparison = rows(comparison);
    let (nb, nc) = (base.keys.len() as u64, comparison.keys.len() as u64);
    let (unexpected_count, unexpected_percent, missing_rows, unexpected_rows) = if nb + nc == 0 {
        (0, 0.0, Vec::new(), Vec::new())
    } else {
        let base_groups = groups(&base.keys);
        let comparison_groups = groups(&comparison.keys);
        let matches: u64 = comparison_groups
            .iter()
            .map(|(k, rows)| rows.len().min(base_groups.get(k).map_or(0, Vec::len)) as u64)
            .sum();
        let most = nb.max(nc);
        let percent = (1.0 - matches as f64 / most as f64) * 100.0;
        (
            most - matches,
            percent,
            surplus(&comparison, &comparison_groups, &base_groups),
            surplus(&base, &base_groups, &comparison_groups),
        )
    };
    Comparison {
        success: 100.0 - unexpected_percent >= mostly * 100.0,
        unexpected_count,
        unexpected_percent,
        missing_rows,
        unexpected_rows,
    }
}

/// Row indices by key.
fn groups(keys: &[String]) -> HashMap<&str, Vec<usize>> {
    let mut out: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        out.entry(k.as_str()).or_default().push(i);
    }
    out
}

/// Rows of `own` seen more often than in `other` (each surplus copy once),
/// sorted as GE sorts them, as `{column: value}` objects.
fn surplus(
    own: &Rows,
    own_groups: &HashMap<&str, Vec<usize>>,
    other_groups: &HashMap<&str, Vec<usize>>,
) -> Vec<Json> {
    let mut picked: Vec<&Vec<Json>> = Vec::new();
    for (key, rows) in own_groups {
        let seen = other_groups.get(key).map_or(0, Vec::len);
        picked.extend(rows.iter().skip(seen).map(|&i| &own.values[i]));
    }
    picked.sort_by(|a, b| compare_rows(a, b));
    picked
        .into_iter()
        .map(|row| {
            let object: Map<String, Json> = own.names.iter().cloned().zip(row.clone()).collect();
            Json::Object(object)
        })
        .collect()
}

/// GE's `_null_safe_tuple_compare`: position by position, null before
/// anything else; values of different kinds (which GE cannot order) by kind.
fn compare_rows(a: &[Json], b: &[Json]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare_values(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

fn compare_values(x: &Json, y: &Json) -> Ordering {
    let rank = |v: &Json| match v {
        Json::Null => 0,
        Json::Bool(_) => 1,
        Json::Number(_) => 2,
        Json::String(_) => 3,
        _ => 4,
    };
    match (x, y) {
        (Json::Bool(a), Json::Bool(b)) => a.cmp(b),
        (Json::Number(a), Json::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => a
                .as_f64()
                .unwrap_or(f64::NAN)
                .total_cmp(&b.as_f64().unwrap_or(f64::NAN)),
        },
        (Json::String(a), Json::String(b)) => a.cmp(b),
        _ => rank(x)
            .cmp(&rank(y))
            .then_with(|| x.to_string().cmp(&y.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
    use serde_json::json;

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn ints(name: &str, values: &[Option<i64>]) -> RecordBatch {
        batch(vec![(name, Arc::new(Int64Array::from(values.to_vec())))])
    }

    #[test]
    fn equal_results_in_any_order_match() {
        let base = ints("a", &[Some(1), Some(2), Some(3), None]);
        let other = ints("b", &[None, Some(3), Some(1), Some(2)]);
        let c = compare(&base, &other, 1.0);
        assert!(c.success);
        assert_eq!(c.unexpected_count, 0);
        assert_eq!(c.unexpected_percent, 0.0);
        assert!(c.missing_rows.is_empty() && c.unexpected_rows.is_empty());
    }

    #[test]
    fn both_empty_is_a_match() {
        let c = compare(&ints("a", &[]), &ints("a", &[]), 1.0);
        assert!(c.success);
        assert_eq!((c.unexpected_count, c.unexpected_percent), (0, 0.0));
    }

    #[test]
    fn duplicates_count_as_min_of_both_sides() {
        // Base: 1 1 1 2; comparison: 1 2 2 3 → matches: min(3,1) + min(1,2) = 2.
        let base = ints("x", &[Some(1), Some(1), Some(1), Some(2)]);
        let other = ints("y", &[Some(1), Some(2), Some(2), Some(3)]);
        let c = compare(&base, &other, 1.0);
        assert!(!c.success);
        assert_eq!(c.unexpected_count, 2);
        assert_eq!(c.unexpected_percent, 50.0);
        assert_eq!(c.unexpected_rows, vec![json!({"x": 1}), json!({"x": 1})]);
        assert_eq!(c.missing_rows, vec![json!({"y": 2}), json!({"y": 3})]);
        // mostly = 0.5 accepts 50% matching (>=), 0.51 does not.
        assert!(compare(&base, &other, 0.5).success);
        assert!(!compare(&base, &other, 0.51).success);
    }

    #[test]
    fn the_larger_result_is_the_denominator() {
        // GE's docstring: 100 comparison rows, 25 base rows, 1 match → 1%.
        let base: Vec<Option<i64>> = (0..25).map(|_| Some(0)).collect();
        let other: Vec<Option<i64>> = (0..100).map(Some).collect();
        let c = compare(&ints("v", &base), &ints("v", &other), 0.0);
        assert_eq!(c.unexpected_count, 99);
        assert!((c.unexpected_percent - 99.0).abs() < 1e-9);
        assert_eq!(c.unexpected_rows.len(), 24);
        assert_eq!(c.missing_rows.len(), 99);
        assert!(c.success, "mostly 0 always passes");
    }

    #[test]
    fn only_the_first_200_rows_of_each_result_count() {
        let base: Vec<Option<i64>> = (0..300).map(Some).collect();
        let other: Vec<Option<i64>> = (0..200).map(Some).collect();
        let c = compare(&ints("v", &base), &ints("v", &other), 1.0);
        assert!(c.success, "{c:?}");
    }

    #[test]
    fn columns_match_by_position_and_numbers_by_value() {
        let base = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec!["a", "b"]))),
        ]);
        let same = batch(vec![
            (
                "key",
                Arc::new(Float64Array::from(vec![2.0, 1.0])) as ArrayRef,
            ),
            ("label", Arc::new(StringArray::from(vec!["b", "a"]))),
        ]);
        assert!(compare(&base, &same, 1.0).success);
        let swapped = batch(vec![
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
        ]);
        let c = compare(&base, &swapped, 1.0);
        assert_eq!(c.unexpected_count, 2);
        assert_eq!(
            c.unexpected_rows,
            vec![json!({"id": 1, "name": "a"}), json!({"id": 2, "name": "b"})]
        );
    }

    #[test]
    fn text_never_equals_a_number_or_a_date() {
        let numbers = ints("v", &[Some(1)]);
        let text = batch(vec![(
            "v",
            Arc::new(StringArray::from(vec!["1"])) as ArrayRef,
        )]);
        assert!(!compare(&numbers, &text, 1.0).success);
        let date = batch(vec![(
            "d",
            Arc::new(Date32Array::from(vec![0])) as ArrayRef,
        )]);
        let date_text = batch(vec![(
            "d",
            Arc::new(StringArray::from(vec!["1970-01-01"])) as ArrayRef,
        )]);
        assert!(!compare(&date, &date_text, 1.0).success);
        assert!(compare(&date, &date.clone(), 1.0).success);
    }

    #[test]
    fn surplus_rows_sort_nulls_first() {
        let base = ints("v", &[Some(3), None, Some(-1), Some(2)]);
        let c = compare(&base, &ints("v", &[]), 1.0);
        assert_eq!(
            c.unexpected_rows,
            vec![
                json!({"v": null}),
                json!({"v": -1}),
                json!({"v": 2}),
                json!({"v": 3})
            ]
        );
        assert_eq!(c.unexpected_percent, 100.0);
    }

    #[test]
    fn queries_run_on_the_table_with_a_limit() {
        let table = ints("v", &[Some(5), Some(1), Some(3)]);
        let out = query_rows("SELECT v FROM {batch} ORDER BY v", &table, Some(2)).unwrap();
        assert_eq!(out.num_rows(), 2);
        let sum = query_rows("SELECT SUM(v) AS s FROM {batch}", &table, None).unwrap();
        assert_eq!(render(sum.column(0), 0), json!(9));
        let err = query_rows("SELECT nope FROM {batch}", &table, None).unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn a_missing_comparison_source_names_the_file() {
        let err = read_comparison("no/such/comparison.parquet").unwrap_err();
        assert!(err.starts_with("comparison_data_source_name: "), "{err}");
        assert!(err.contains("no/such/comparison.parquet"), "{err}");
    }
}
