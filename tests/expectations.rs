//! Expectation semantics, one expectation family at a time, on in-memory
//! batches: Great Expectations' documented behaviour for nulls, `mostly`,
//! strict bounds, empty columns and result formats.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::Int32Type;
use assay::expectations::{SuiteResult, evaluate_batches, parse_toml};
use serde_json::{Value, json};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn ints(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn floats(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn texts(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Runs a one-expectation suite (TOML body of the table) and returns its result as JSON.
fn run_one(body: &str, batches: &[RecordBatch]) -> Value {
    let suite = parse_toml(&format!("[[expectations]]\n{body}\n"), "test.toml")
        .unwrap_or_else(|e| panic!("suite does not parse: {e}"));
    let result = evaluate_batches(&suite, batches).unwrap();
    let json = serde_json::to_value(&result).unwrap();
    json["results"][0].clone()
}

fn run_suite(text: &str, batches: &[RecordBatch]) -> SuiteResult {
    let suite = parse_toml(text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    evaluate_batches(&suite, batches).unwrap()
}

fn people() -> RecordBatch {
    batch(vec![
        (
            "age",
            ints(&[Some(10), None, Some(30), Some(40), Some(200)]),
        ),
        (
            "score",
            floats(&[Some(0.5), Some(f64::NAN), None, Some(1.5), Some(-1.0)]),
        ),
        (
            "city",
            texts(&[
                Some("Paris"),
                Some("Lyon"),
                None,
                Some("Nice"),
                Some("Paris"),
            ]),
        ),
    ])
}

#[test]
fn not_null_counts_nulls_and_nan_as_unexpected_without_missing_fields() {
    let r = run_one(
        "type = \"expect_column_values_to_not_be_null\"\ncolumn = \"score\"",
        &[people()],
    );
    assert_eq!(r["success"], false);
    assert_eq!(r["result"]["element_count"], 5);
    assert_eq!(r["result"]["unexpected_count"], 2);
    assert_eq!(r["result"]["unexpected_percent"], 40.0);
    assert_eq!(r["result"]["partial_unexpected_list"], json!([null, null]));
    assert!(r["result"].get("missing_count").is_none(), "{r}");
    let mostly = run_one(
        "type = \"expect_column_values_to_not_be_null\"\ncolumn = \"score\"\nmostly = 0.6",
        &[people()],
    );
    assert_eq!(mostly["success"], true);
}

#[test]
fn be_null_fails_on_values() {
    let r = run_one(
        "type = \"expect_column_values_to_be_null\"\ncolumn = \"age\"",
        &[people()],
    );
    assert_eq!(r["success"], false);
    assert_eq!(r["result"]["unexpected_count"], 4);
}

#[test]
fn between_skips_missing_and_honours_strict_bounds_and_mostly() {
    let body = "type = \"expect_column_values_to_be_between\"\ncolumn = \"age\"\nmin_value = 10\nmax_value = 40";
    let r = run_one(body, &[people()]);
    assert_eq!(r["success"], false);
    assert_eq!(r["result"]["element_count"], 5);
    assert_eq!(r["result"]["missing_count"], 1);
    assert_eq!(r["result"]["missing_percent"], 20.0);
    assert_eq!(r["result"]["unexpected_count"], 1);
    assert_eq!(r["result"]["unexpected_percent"], 25.0);
    assert_eq!(r["result"]["unexpected_percent_total"], 20.0);
    assert_eq!(r["result"]["unexpected_percent_nonmissing"], 25.0);
    assert_eq!(r["result"]["partial_unexpected_list"], json!([200]));

    let strict = run_one(&format!("{body}\nstrict_min = true"), &[people()]);
    assert_eq!(strict["result"]["unexpected_count"], 2);
    // 3 of 4 non-missing pass: mostly 0.75 passes, 0.76 does not.
    assert_eq!(
        run_one(&format!("{body}\nmostly = 0.75"), &[people()])["success"],
        true
    );
    assert_eq!(
        run_one(&format!("{body}\nmostly = 0.76"), &[people()])["success"],
        false
    );

    let only_max = run_one(
        "type = \"expect_column_values_to_be_between\"\ncolumn = \"score\"\nmax_value = 1\nstrict_max = true",
        &[people()],
    );
    // NaN and null are missing; 1.5 is the one unexpected value.
    assert_eq!(only_max["result"]["missing_count"], 2);
    assert_eq!(only_max["result"]["partial_unexpected_list"], json!([1.5]));
}

#[test]
fn empty_and_all_null_columns_pass_map_expectations_vacuously() {
    let nulls = batch(vec![("x", ints(&[None, None]))]);
    let r = run_one(
        "type = \"expect_column_values_to_be_between\"\ncolumn = \"x\"\nmin_value = 0",
        std::slice::from_ref(&nulls),
    );
    assert_eq!(r["success"], true);
    assert_eq!(r["result"]["unexpected_percent"], Value::Null);
    let mean = run_one(
        "type = \"expect_column_mean_to_be_between\"\ncolumn = \"x\"\nmin_value = 0",
        &[nulls],
    );
    assert_eq!(mean["success"], false);
    assert_eq!(mean["result"]["observed_value"], Value::Null);
}

#[test]
fn in_set_and_not_in_set_on_text_dictionary_and_numbers() {
    let r = run_one(
        "type = \"expect_column_values_to_be_in_set\"\ncolumn = \"city\"\nvalue_set = [\"Paris\", \"Lyon\"]",
        &[people()],
    );
    assert_eq!(r["result"]["unexpected_count"], 1);
    assert_eq!(r["result"]["partial_unexpected_list"], json!(["Nice"]));
    let dict: DictionaryArray<Int32Type> = vec![Some("a"), Some("b"), None, Some("a")]
        .into_iter()
        .collect();
    let d = batch(vec![("c", Arc::new(dict) as ArrayRef)]);
    let r = run_one(
        "type = \"expect_column_values_to_not_be_in_set\"\ncolumn = \"c\"\nvalue_set = [\"a\"]",
        &[d],
    );
    assert_eq!(r["result"]["unexpected_count"], 2);
    assert_eq!(r["result"]["missing_count"], 1);
    let n = run_one(
        "type = \"expect_column_values_to_be_in_set\"\ncolumn = \"age\"\nvalue_set = [10, 30.0, 40]",
        &[people()],
    );
    assert_eq!(n["result"]["partial_unexpected_list"], json!([200]));
}

#[test]
fn increasing_and_decreasing_compare_with_the_previous_value_across_batches() {
    let a = batch(vec![("t", ints(&[Some(1), Some(2), None, Some(2)]))]);
    let b = batch(vec![("t", ints(&[Some(1), Some(5)]))]);
    let r = run_one(
        "type = \"expect_column_values_to_be_increasing\"\ncolumn = \"t\"",
        &[a.clone(), b.clone()],
    );
    // 2 → 2 is fine unless strictly; 2 → 1 (row 4) is not.
    assert_eq!(r["result"]["unexpected_count"], 1);
    let strict = run_one(
        "type = \"expect_column_values_to_be_increasing\"\ncolumn = \"t\"\nstrictly = true\nresult_format = \"COMPLETE\"",
        &[a.clone(), b.clone()],
    );
    assert_eq!(strict["result"]["unexpected_index_list"], json!([3, 4]));
    let dec = run_one(
        "type = \"expect_column_values_to_be_decreasing\"\ncolumn = \"t\"",
        &[a, b],
    );
    // 1 → 2 (row 1) and 1 → 5 (row 5) go up.
    assert_eq!(dec["result"]["unexpected_count"], 2);
}

#[test]
fn unique_marks_every_occurrence_of_a_repeated_value() {
    let a = batch(vec![(
        "id",
        texts(&[Some("a"), Some("b"), Some("a"), None]),
    )]);
    let b = batch(vec![("id", texts(&[Some("c"), Some("b"), Some("a")]))]);
    let r = run_one(
        "type = \"expect_column_values_to_be_unique\"\ncolumn = \"id\"\nresult_format = \"COMPLETE\"",
        &[a, b],
    );
    assert_eq!(r["success"], false);
    assert_eq!(r["result"]["unexpected_count"], 5);
    assert_eq!(r["result"]["unexpected_index_list"], json!([0, 1, 2, 5, 6]));
    assert_eq!(
        r["result"]["unexpected_list"],
        json!(["a", "b", "a", "b", "a"])
    );
}

#[test]
fn text_rules_lengths_regex_like_strftime_json_dateutil() {
    let t = batch(vec![(
        "s",
        texts(&[
            Some("2024-01-31"),
            Some("2024-02-30"),
            Some("hello"),
            Some("{\"a\": 1}"),
            None,
        ]),
    )]);
    let count = |body: &str| {
        run_one(&format!("column = \"s\"\n{body}"), std::slice::from_ref(&t))["result"]["unexpected_count"]
            .clone()
    };
    assert_eq!(
        count("type = \"expect_column_value_lengths_to_equal\"\nvalue = 10"),
        2
    );
    assert_eq!(
        count("type = \"expect_column_value_lengths_to_be_between\"\nmin_value = 6"),
        1
    );
    assert_eq!(
        count("type = \"expect_column_values_to_match_regex\"\nregex = \"\\\\d{4}\""),
        2
    );
    assert_eq!(
        count("type = \"expect_column_values_to_not_match_regex\"\nregex = \"^h\""),
        1
    );
    assert_eq!(
        count(
            "type = \"expect_column_values_to_match_regex_list\"\nregex_list = [\"^2024\", \"31$\"]\nmatch_on = \"all\""
        ),
        3
    );
    assert_eq!(
        count(
            "type = \"expect_column_values_to_match_regex_list\"\nregex_list = [\"^2024\", \"^h\"]"
        ),
        1
    );
    assert_eq!(
        count(
            "type = \"expect_column_values_to_match_like_pattern\"\nlike_pattern = \"2024-__-%\""
        ),
        2
    );
    assert_eq!(
        count(
            "type = \"expect_column_values_to_not_match_like_pattern_list\"\nlike_pattern_list = [\"h%\", \"{%\"]"
        ),
        2
    );
    // 2024-02-30 is not a date.
    assert_eq!(
        count(
            "type = \"expect_column_values_to_match_strftime_format\"\nstrftime_format = \"%Y-%m-%d\""
        ),
        3
    );
    assert_eq!(
        count("type = \"expect_column_values_to_be_json_parseable\""),
        3
    );
    assert_eq!(
        count("type = \"expect_column_values_to_be_dateutil_parseable\""),
        3
    );
}

#[test]
fn z_scores_use_the_column_mean_and_sample_stdev() {
    let values: Vec<Option<f64>> = (0..20)
        .map(|i| Some(if i == 19 { 100.0 } else { 1.0 }))
        .collect();
    let b = batch(vec![("x", floats(&values))]);
    let r = run_one(
        "type = \"expect_column_value_z_scores_to_be_less_than\"\ncolumn = \"x\"\nthreshold = 3\ndouble_sided = true\nresult_format = \"COMPLETE\"",
        &[b],
    );
    assert_eq!(r["result"]["unexpected_index_list"], json!([19]));
}

#[test]
fn result_formats_add_fields_level_by_level() {
    let values: Vec<Option<i64>> = (0..30).map(Some).collect();
    let b = batch(vec![("x", ints(&values))]);
    let body = "type = \"expect_column_values_to_be_between\"\ncolumn = \"x\"\nmax_value = 3";
    let boolean = run_one(
        &format!("{body}\nresult_format = \"BOOLEAN_ONLY\""),
        std::slice::from_ref(&b),
    );
    assert_eq!(boolean["result"], json!({}));
    let basic = run_one(body, std::slice::from_ref(&b));
    assert_eq!(
        basic["result"]["partial_unexpected_list"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert!(
        basic["result"]
            .get("partial_unexpected_index_list")
            .is_none()
    );
    let summary = run_one(
        &format!("{body}\nresult_format = \"SUMMARY\""),
        std::slice::from_ref(&b),
    );
    assert_eq!(summary["result"]["partial_unexpected_index_list"][0], 4);
    assert_eq!(
        summary["result"]["partial_unexpected_counts"][0],
        json!({"value": 4, "count": 1})
    );
    assert!(summary["result"].get("unexpected_list").is_none());
    let complete = run_one(
        &format!(
            "{body}\nresult_format = {{ result_format = \"COMPLETE\", partial_unexpected_count = 2 }}"
        ),
        &[b],
    );
    assert_eq!(
        complete["result"]["unexpected_list"]
            .as_array()
            .unwrap()
            .len(),
        26
    );
    assert_eq!(complete["result"]["partial_unexpected_list"], json!([4, 5]));
}

#[test]
fn row_condition_keeps_input_row_positions() {
    let r = run_one(
        "type = \"expect_column_values_to_be_in_set\"\ncolumn = \"city\"\nvalue_set = [\"Lyon\"]\nrow_condition = \"age >= 30\"\nresult_format = \"COMPLETE\"",
        &[people()],
    );
    // Rows 3 (Nice) and 4 (Paris) have age >= 30; row 2 has no city.
    assert_eq!(r["result"]["element_count"], 3);
    assert_eq!(r["result"]["unexpected_index_list"], json!([3, 4]));
}

#[test]
fn aggregates_from_the_profile() {
    let b = batch(vec![(
        "x",
        floats(&[
            Some(1.0),
            Some(2.0),
            Some(3.0),
            Some(4.0),
            None,
            Some(f64::NAN),
        ]),
    )]);
    let observed = |t: &str| {
        run_one(
            &format!("type = \"{t}\"\ncolumn = \"x\"\nmin_value = -100"),
            std::slice::from_ref(&b),
        )["result"]["observed_value"]
            .clone()
    };
    assert_eq!(observed("expect_column_min_to_be_between"), 1);
    assert_eq!(observed("expect_column_max_to_be_between"), 4);
    assert_eq!(observed("expect_column_mean_to_be_between"), 2.5);
    assert_eq!(observed("expect_column_sum_to_be_between"), 10);
    let stdev = observed("expect_column_stdev_to_be_between")
        .as_f64()
        .unwrap();
    assert!((stdev - 1.2909944487358056).abs() < 1e-12, "{stdev}");
    // NaN and null are both missing: 4 of 6.
    let p = observed("expect_column_proportion_of_non_null_values_to_be_between")
        .as_f64()
        .unwrap();
    assert!((p - 4.0 / 6.0).abs() < 1e-12);
    let strict = run_one(
        "type = \"expect_column_max_to_be_between\"\ncolumn = \"x\"\nmax_value = 4\nstrict_max = true",
        std::slice::from_ref(&b),
    );
    assert_eq!(strict["success"], false);
    let q = run_one(
        "type = \"expect_column_quantile_values_to_be_between\"\ncolumn = \"x\"\nquantile_ranges = { quantiles = [0.0, 1.0], value_ranges = [[0, 1], [3, 5]] }",
        &[b],
    );
    assert_eq!(q["success"], true);
    assert_eq!(q["result"]["observed_value"]["values"], json!([1, 4]));
}

#[test]
fn distinct_value_aggregates_are_exact() {
    let b = people();
    let r = run_one(
        "type = \"expect_column_distinct_values_to_be_in_set\"\ncolumn = \"city\"\nvalue_set = [\"Paris\", \"Lyon\"]",
        std::slice::from_ref(&b),
    );
    assert_eq!(r["success"], false);
    assert_eq!(
        r["result"]["observed_value"],
        json!(["Lyon", "Nice", "Paris"])
    );
    let contain = run_one(
        "type = \"expect_column_distinct_values_to_contain_set\"\ncolumn = \"city\"\nvalue_set = [\"Paris\", \"Lyon\"]",
        std::slice::from_ref(&b),
    );
    assert_eq!(contain["success"], true);
    let equal = run_one(
        "type = \"expect_column_distinct_values_to_equal_set\"\ncolumn = \"city\"\nvalue_set = [\"Paris\", \"Lyon\", \"Nice\"]",
        std::slice::from_ref(&b),
    );
    assert_eq!(equal["success"], true);
    let count = run_one(
        "type = \"expect_column_unique_value_count_to_be_between\"\ncolumn = \"city\"\nmin_value = 3\nmax_value = 3",
        std::slice::from_ref(&b),
    );
    assert_eq!(count["success"], true);
    let share = run_one(
        "type = \"expect_column_proportion_of_unique_values_to_be_between\"\ncolumn = \"city\"\nmin_value = 0.75\nmax_value = 0.75",
        std::slice::from_ref(&b),
    );
    assert_eq!(share["success"], true);
    let mode = run_one(
        "type = \"expect_column_most_common_value_to_be_in_set\"\ncolumn = \"city\"\nvalue_set = [\"Paris\"]",
        std::slice::from_ref(&b),
    );
    assert_eq!(mode["success"], true);
    assert_eq!(mode["result"]["observed_value"], json!(["Paris"]));
    let kl = run_one(
        "type = \"expect_column_kl_divergence_to_be_less_than\"\ncolumn = \"city\"\nthreshold = 0.1\npartition_object = { values = [\"Paris\", \"Lyon\", \"Nice\"], weights = [0.5, 0.25, 0.25] }",
        &[b],
    );
    assert_eq!(kl["success"], true);
    assert_eq!(kl["result"]["observed_value"], 0);
}

#[test]
fn numeric_sets_and_distinct_values_skip_nan_and_fold_negative_zero_across_batches() {
    let first = batch(vec![(
        "x",
        floats(&[Some(0.5), Some(f64::NAN), None, Some(-0.0)]),
    )]);
    let second = batch(vec![("x", floats(&[Some(1.5), Some(0.0), Some(0.5)]))]);
    let both = [first, second];
    let r = run_one(
        "type = \"expect_column_values_to_be_in_set\"\ncolumn = \"x\"\nvalue_set = [0.5, 0]\nresult_format = \"COMPLETE\"",
        &both,
    );
    assert_eq!(r["result"]["element_count"], 7);
    assert_eq!(r["result"]["missing_count"], 2);
    assert_eq!(r["result"]["unexpected_list"], json!([1.5]));
    assert_eq!(r["result"]["unexpected_index_list"], json!([4]));
    let not_in = run_one(
        "type = \"expect_column_values_to_not_be_in_set\"\ncolumn = \"x\"\nvalue_set = [0]",
        &both,
    );
    assert_eq!(not_in["result"]["unexpected_count"], 2);
    let distinct = run_one(
        "type = \"expect_column_distinct_values_to_equal_set\"\ncolumn = \"x\"\nvalue_set = [0, 0.5, 1.5]",
        &both,
    );
    assert_eq!(distinct["success"], true);
    assert_eq!(distinct["result"]["observed_value"], json!([0, 0.5, 1.5]));
    let ages = [people(), people()];
    let count = run_one(
        "type = \"expect_column_unique_value_count_to_be_between\"\ncolumn = \"age\"\nmin_value = 4\nmax_value = 4",
        &ages,
    );
    assert_eq!(count["success"], true);
    let mode = run_one(
        "type = \"expect_column_most_common_value_to_be_in_set\"\ncolumn = \"age\"\nvalue_set = [10, 30, 40, 200]",
        &ages,
    );
    assert_eq!(mode["result"]["observed_value"], json!([10, 30, 40, 200]));
}

#[test]
fn table_level_expectations() {
    let result = run_suite(
        r#"
[[expectations]]
type = "expect_table_row_count_to_equal"
value = 5
[[expectations]]
type = "expect_table_column_count_to_be_between"
min_value = 4
[[expectations]]
type = "expect_table_columns_to_match_ordered_list"
column_list = ["age", "city", "score"]
[[expectations]]
type = "expect_table_columns_to_match_set"
column_set = ["age", "score"]
exact_match = false
[[expectations]]
type = "expect_column_to_exist"
column = "city"
column_index = 2
[[expectations]]
type = "expect_column_values_to_be_of_type"
column = "age"
type_ = "int64"
[[expectations]]
type = "expect_column_values_to_be_in_type_list"
column = "city"
type_list = ["float", "str"]
"#,
        &[people()],
    );
    let success: Vec<bool> = result.results.iter().map(|r| r.success).collect();
    assert_eq!(success, [true, false, false, true, true, true, true]);
    assert_eq!(result.statistics.evaluated_expectations, 7);
    assert_eq!(result.statistics.unsuccessful_expectations, 2);
    let ordered = &result.results[2].result["details"]["mismatched"];
    // Position 0 matches; positions 1 and 2 are swapped.
    assert_eq!(ordered[0]["Expected Column Position"], 1);
    assert_eq!(ordered[0]["Expected"], "city");
    assert_eq!(ordered[0]["Found"], "score");
    assert_eq!(ordered.as_array().unwrap().len(), 2);
}

#[test]
fn multi_column_expectations() {
    let b = batch(vec![
        ("a", ints(&[Some(1), Some(5), None, Some(3), None])),
        ("b", ints(&[Some(1), Some(2), Some(7), Some(4), None])),
        ("c", ints(&[Some(0), Some(1), Some(1), Some(1), Some(2)])),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![true, false, true, false, true])) as ArrayRef,
        ),
    ]);
    let count = |body: &str| {
        let r = run_one(body, std::slice::from_ref(&b));
        (
            r["result"]["unexpected_count"].clone(),
            r["result"]["missing_count"].clone(),
        )
    };
    assert_eq!(
        count(
            "type = \"expect_column_pair_values_to_be_equal\"\ncolumn_A = \"a\"\ncolumn_B = \"b\""
        ),
        (json!(3), json!(1))
    );
    assert_eq!(
        count(
            "type = \"expect_column_pair_values_a_to_be_greater_than_b\"\ncolumn_A = \"a\"\ncolumn_B = \"b\"\nor_equal = true\nignore_row_if = \"either_value_is_missing\""
        ),
        (json!(1), json!(2))
    );
    assert_eq!(
        count(
            "type = \"expect_column_pair_values_to_be_in_set\"\ncolumn_A = \"a\"\ncolumn_B = \"b\"\nvalue_pairs_set = [[1, 1], [5, 2]]\nignore_row_if = \"either_value_is_missing\""
        ),
        (json!(1), json!(2))
    );
    assert_eq!(
        count(
            "type = \"expect_multicolumn_sum_to_equal\"\ncolumn_list = [\"a\", \"c\"]\nsum_total = 6"
        ),
        (json!(4), json!(0))
    );
    assert_eq!(
        count("type = \"expect_compound_columns_to_be_unique\"\ncolumn_list = [\"c\", \"flag\"]"),
        (json!(2), json!(0))
    );
    // Row 0 repeats 1; row 4 (null, null, 2) holds two values, not three:
    // GE counts nulls as one value (`nunique(dropna=False, axis=1)`).
    assert_eq!(
        count(
            "type = \"expect_select_column_values_to_be_unique_within_record\"\ncolumn_list = [\"a\", \"b\", \"c\"]"
        ),
        (json!(2), json!(0))
    );
    let pair = run_one(
        "type = \"expect_column_pair_values_to_be_equal\"\ncolumn_A = \"a\"\ncolumn_B = \"b\"",
        &[b],
    );
    assert_eq!(pair["result"]["partial_unexpected_list"][0], json!([5, 2]));
}

#[test]
fn unexpected_rows_query_runs_with_polars_sql() {
    let r = run_one(
        "type = \"unexpected_rows_expectation\"\nunexpected_rows_query = \"SELECT * FROM {batch} WHERE age > 100 OR city = 'Nice'\"",
        &[people(), people()],
    );
    assert_eq!(r["success"], false);
    assert_eq!(r["result"]["observed_value"], 4);
    assert_eq!(r["result"]["details"]["unexpected_rows"][0]["city"], "Nice");
}

#[test]
fn timestamps_compare_with_date_bounds() {
    let t: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
        Some(1_704_067_200_000_000),
        Some(1_706_745_600_000_000),
    ]));
    let b = batch(vec![("at", t)]);
    let r = run_one(
        "type = \"expect_column_values_to_be_between\"\ncolumn = \"at\"\nmin_value = \"2024-01-15\"",
        std::slice::from_ref(&b),
    );
    assert_eq!(
        r["result"]["partial_unexpected_list"],
        json!(["2024-01-01T00:00:00"])
    );
    let max = run_one(
        "type = \"expect_column_max_to_be_between\"\ncolumn = \"at\"\nmax_value = \"2024-12-31\"",
        &[b],
    );
    assert_eq!(max["success"], true);
    assert_eq!(max["result"]["observed_value"], "2024-02-01T00:00:00");
}

#[test]
fn exceptions_are_caught_or_abort_the_run() {
    let r = run_one(
        "type = \"expect_column_values_to_not_be_null\"\ncolumn = \"nope\"",
        &[people()],
    );
    assert_eq!(r["success"], false);
    assert_eq!(r["exception_info"]["raised_exception"], true);
    assert!(
        r["exception_info"]["exception_message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    let suite = parse_toml(
        "[[expectations]]\ntype = \"expect_column_mean_to_be_between\"\ncolumn = \"city\"\nmin_value = 1\ncatch_exceptions = false\n",
        "t.toml",
    )
    .unwrap();
    let err = evaluate_batches(&suite, &[people()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expectation #1 (expect_column_mean_to_be_between)"),
        "{err}"
    );
    assert!(err.contains("numeric"), "{err}");
}

/// GE's `expect_column_values_to_not_be_outliers`: Tukey's fences (iqr,
/// fences included) or |x - mean| < m·std (std, at the threshold is out).
#[test]
fn outliers_by_iqr_fences_and_by_standard_deviations() {
    // 1..=20 and one far value: Q1 = 5 or 6, Q3 = 15 or 16 by any rank
    // convention, so the fences (IQR 10, m 1.5) are near -10 and 31.
    let mut values: Vec<Option<f64>> = (1..=20).map(|v| Some(v as f64)).collect();
    values.push(Some(100.0));
    values.push(None);
    let data = batch(vec![("x", floats(&values))]);
    let r = run_one(
        "type = \"expect_column_values_to_not_be_outliers\"\ncolumn = \"x\"\nresult_format = \"COMPLETE\"",
        std::slice::from_ref(&data),
    );
    assert_eq!(r["success"], false, "{r}");
    assert_eq!(r["result"]["unexpected_list"], json!([100.0]));
    assert_eq!(r["result"]["unexpected_index_list"], json!([20]));
    assert_eq!(r["result"]["missing_count"], 1);
    // mostly: 20 of 21 non-missing values pass.
    let r = run_one(
        "type = \"expect_column_values_to_not_be_outliers\"\ncolumn = \"x\"\nmostly = 0.95",
        std::slice::from_ref(&data),
    );
    assert_eq!(r["success"], true, "{r}");

    // std: mean 0, sample std of [-1, 1, -1, 1] = 2/sqrt(3) ≈ 1.1547; with
    // multiplier 1 the threshold is 1.1547, so ±1 pass and 2 fails.
    let data = batch(vec![(
        "y",
        floats(&[Some(-1.0), Some(1.0), Some(-1.0), Some(1.0)]),
    )]);
    let r = run_one(
        "type = \"expect_column_values_to_not_be_outliers\"\ncolumn = \"y\"\nmethod = \"std\"\nmultiplier = 1.0",
        std::slice::from_ref(&data),
    );
    assert_eq!(r["success"], true, "{r}");
    let r = run_one(
        "type = \"expect_column_values_to_not_be_outliers\"\ncolumn = \"y\"\nmethod = \"std\"\nmultiplier = 0.5",
        std::slice::from_ref(&data),
    );
    assert_eq!(r["success"], false, "{r}");
    assert_eq!(r["result"]["unexpected_count"], 4);

    // One value: no spread to measure against, nothing is an outlier.
    let one = batch(vec![("z", floats(&[Some(7.0)]))]);
    let r = run_one(
        "type = \"expect_column_values_to_not_be_outliers\"\ncolumn = \"z\"\nmethod = \"std\"",
        std::slice::from_ref(&one),
    );
    assert_eq!(r["success"], true, "{r}");
}

#[test]
fn outlier_arguments_are_checked() {
    let err = parse_toml(
        "[[expectations]]\ntype = \"expect_column_values_to_not_be_outliers\"\ncolumn = \"x\"\nmethod = \"kde\"\n",
        "o.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("method") && err.contains("iqr"), "{err}");
}

#[test]
fn json_schema_matches_each_value() {
    let data = batch(vec![(
        "doc",
        texts(&[
            Some(r#"{"id": 1, "tags": ["a"]}"#),
            Some(r#"{"id": "one"}"#),
            Some("not json"),
            None,
            Some(r#"{"id": 2}"#),
        ]),
    )]);
    let r = run_one(
        "type = \"expect_column_values_to_match_json_schema\"\ncolumn = \"doc\"\n\
         result_format = \"COMPLETE\"\n\
         json_schema = { type = \"object\", required = [\"id\"], properties = { id = { type = \"integer\" } } }",
        std::slice::from_ref(&data),
    );
    assert_eq!(r["success"], false, "{r}");
    // The string id and the text that is not JSON fail; the null is missing.
    assert_eq!(r["result"]["unexpected_index_list"], json!([1, 2]));
    assert_eq!(r["result"]["missing_count"], 1);
    let r = run_one(
        "type = \"expect_column_values_to_match_json_schema\"\ncolumn = \"doc\"\nmostly = 0.6\n\
         json_schema = { type = \"object\" }",
        std::slice::from_ref(&data),
    );
    // 3 of 4 non-missing values are objects.
    assert_eq!(r["success"], true, "{r}");
}

#[test]
fn an_invalid_json_schema_is_an_argument_error() {
    let err = parse_toml(
        "[[expectations]]\ntype = \"expect_column_values_to_match_json_schema\"\ncolumn = \"doc\"\n\
         json_schema = { type = \"no-such-type\" }\n",
        "j.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("json_schema") && err.contains("not a valid JSON Schema"),
        "{err}"
    );
}
