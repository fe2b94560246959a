//! `--where` filters: results against hand-computed filters, nulls, errors.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, TimestampMicrosecondArray,
};
use assay::query::{DerivedColumns, QueryError, RowFilter};

use super::{batch, expected_ids, ids, people, people_batch};

/// The hand-written twin of a SQL predicate: keep row `i`?
type RowPredicate<'a> = Box<dyn Fn(usize) -> bool + 'a>;

#[test]
fn filters_match_a_filter_computed_by_hand() {
    let p = people(5_000, 1);
    let input = people_batch(&p, 3);
    let cases: Vec<(&str, RowPredicate)> = vec![
        (
            "age >= 30 AND state IN ('CA','NY')",
            Box::new(|i| {
                p.age[i].is_some_and(|a| a >= 30)
                    && p.state[i].is_some_and(|s| s == "CA" || s == "NY")
            }),
        ),
        ("income IS NOT NULL", Box::new(|i| p.income[i].is_some())),
        ("income IS NULL", Box::new(|i| p.income[i].is_none())),
        (
            "employer_title LIKE '%engineer%'",
            Box::new(|i| {
                p.title[i]
                    .as_deref()
                    .is_some_and(|t| t.contains("engineer"))
            }),
        ),
        // Null comparisons are not true, and NOT(null) is null: both drop the row.
        (
            "NOT (age >= 30)",
            Box::new(|i| p.age[i].is_some_and(|a| a < 30)),
        ),
        (
            "age < 25 OR income > 150000",
            // SQL three-valued OR: true if either side is true.
            Box::new(|i| {
                p.age[i].is_some_and(|a| a < 25) || p.income[i].is_some_and(|v| v > 150_000.0)
            }),
        ),
        (
            "state <> 'TX'",
            Box::new(|i| p.state[i].is_some_and(|s| s != "TX")),
        ),
        ("1 = 1", Box::new(|_| true)),
        ("1 = 0", Box::new(|_| false)),
        ("NULL", Box::new(|_| false)),
    ];
    for (sql, keep) in cases {
        let filter = RowFilter::new(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        filter
            .check(&input.schema())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let output = filter
            .apply(&input)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(ids(&output), expected_ids(&p, keep), "{sql}");
        // The kept rows keep the original types (the dictionary stays one).
        assert_eq!(output.schema(), input.schema(), "{sql}");
    }
}

#[test]
fn filter_reports_the_columns_it_reads() {
    let filter = RowFilter::new("age >= 30 AND state IN ('CA','NY') AND age < 60").expect("valid");
    assert_eq!(filter.columns(), ["age", "state"]);
    assert_eq!(
        filter.sql(),
        "age >= 30 AND state IN ('CA','NY') AND age < 60"
    );
}

#[test]
fn filter_mask_is_null_where_the_predicate_is_null() {
    let input = batch(vec![(
        "age",
        Arc::new(Int64Array::from(vec![Some(40), None, Some(20)])) as ArrayRef,
    )]);
    let mask = RowFilter::new("age > 30")
        .expect("valid")
        .mask(&input)
        .expect("mask");
    assert_eq!(
        mask,
        BooleanArray::from(vec![Some(true), None, Some(false)])
    );
    let kept = RowFilter::new("age > 30")
        .expect("valid")
        .apply(&input)
        .expect("apply");
    assert_eq!(kept.num_rows(), 1);
}

/// Pins polars' NaN semantics (NaN sorts above every number, NaN = NaN), which
/// RowFilter documents; a polars upgrade that changes them should be noticed.
#[test]
fn nan_compares_as_the_largest_value() {
    let x: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN), None]));
    let input = batch(vec![("x", x)]);
    let mask = |sql: &str| {
        RowFilter::new(sql)
            .expect("valid")
            .mask(&input)
            .expect("mask")
    };
    assert_eq!(
        mask("x > 2"),
        BooleanArray::from(vec![Some(false), Some(true), None])
    );
    assert_eq!(
        mask("x = x"),
        BooleanArray::from(vec![Some(true), Some(true), None])
    );
}

#[test]
fn filter_works_on_empty_and_sliced_batches() {
    let p = people(100, 2);
    let input = people_batch(&p, 0);
    let filter = RowFilter::new("age >= 50").expect("valid");
    assert_eq!(
        filter.apply(&input.slice(0, 0)).expect("empty").num_rows(),
        0
    );
    let slice = input.slice(10, 50);
    let expected: Vec<i64> = expected_ids(&p, |i| {
        (10..60).contains(&i) && p.age[i].is_some_and(|a| a >= 50)
    });
    assert_eq!(ids(&filter.apply(&slice).expect("sliced")), expected);
}

#[test]
fn filter_on_timestamps_and_dates() {
    let ts: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(vec![Some(0), Some(1_700_000_000_000_000), None])
            .with_timezone("UTC"),
    );
    let day: ArrayRef = Arc::new(Date32Array::from(vec![Some(0), Some(19_700), None]));
    let id: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 2]));
    let input = batch(vec![("id", id), ("ts", ts), ("day", day)]);
    let filter = RowFilter::new("day > DATE '2000-01-01'").expect("valid");
    assert_eq!(ids(&filter.apply(&input).expect("date filter")), vec![1]);
    let filter = RowFilter::new("ts IS NOT NULL").expect("valid");
    assert_eq!(ids(&filter.apply(&input).expect("ts filter")), vec![0, 1]);
}

// ---------------------------------------------------------------- errors

#[test]
fn unknown_column_names_the_expression_and_the_available_columns() {
    let input = people_batch(&people(10, 3), 0);
    let filter = RowFilter::new("agee > 3").expect("parses; columns are checked later");
    let err = filter.check(&input.schema()).expect_err("unknown column");
    assert_eq!(
        err.to_string(),
        "--where \"agee > 3\": unknown column \"agee\"; available: id, age, income, state, employer_title"
    );
    // apply without check reports the same.
    assert_eq!(
        filter
            .apply(&input)
            .expect_err("unknown column")
            .to_string(),
        err.to_string()
    );
}

#[test]
fn bad_sql_names_the_expression() {
    for sql in [
        "age >",
        "age >= 30 AND",
        "SELECT age FROM t",
        "",
        "age >= (30",
    ] {
        let err = RowFilter::new(sql).expect_err(sql);
        let message = err.to_string();
        assert!(matches!(err, QueryError::Syntax { .. }), "{sql}: {message}");
        assert!(
            message.starts_with(&format!("--where \"{sql}\": invalid SQL expression: ")),
            "{message}"
        );
        assert!(!message.contains("Expr"), "polars jargon leaks: {message}");
    }
}

#[test]
fn aggregates_are_rejected_because_batches_would_change_their_meaning() {
    let err = RowFilter::new("income > AVG(income)").expect_err("aggregate");
    assert!(
        err.to_string()
            .contains("aggregate functions are not supported"),
        "{err}"
    );
}

#[test]
fn non_boolean_and_ill_typed_filters_fail_the_schema_check() {
    let schema = people_batch(&people(1, 4), 0).schema();
    let err = RowFilter::new("age + 1")
        .expect("parses")
        .check(&schema)
        .expect_err("not boolean");
    assert_eq!(
        err.to_string(),
        "--where \"age + 1\": a filter must be true or false for each row, but this expression yields Int64"
    );
    let err = RowFilter::new("employer_title > 3 AND age > 1")
        .expect("parses")
        .check(&schema)
        .expect_err("string compared with a number");
    assert_eq!(
        err.to_string(),
        "--where \"employer_title > 3 AND age > 1\": cannot compare string with numeric type (i32)"
    );
}

#[test]
fn trailing_words_and_case_mistakes_get_a_hint() {
    let err = RowFilter::new("age > 1 age").expect_err("reads as an alias");
    assert!(
        err.to_string().contains("unexpected alias \"age\""),
        "{err}"
    );
    let schema = people_batch(&people(1, 9), 0).schema();
    let err = RowFilter::new("AGE > 1")
        .expect("parses")
        .check(&schema)
        .expect_err("case");
    assert!(
        err.to_string().ends_with("(did you mean \"age\"?)"),
        "{err}"
    );
}

#[test]
fn filters_and_derived_columns_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<RowFilter>();
    shareable::<DerivedColumns>();
}
