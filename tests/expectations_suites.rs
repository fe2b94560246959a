//! Suites as files: GE 1.x and 0.x JSON suites, bad suites, the example
//! suite on the example data (and on a faulted copy), and the renderers.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use assay::expectations::{
    SUPPORTED, SuiteResult, evaluate_batches, load, parse_json, to_junit, to_table, validate_suite,
};
use assay::sources::ReadOptions;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::json;

const FIXTURES: &str = "tests/fixtures/expectations";

fn people() -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("Ann"),
                Some("bob"),
                None,
                Some("Dee"),
            ])) as ArrayRef,
        ),
        (
            "age",
            Arc::new(Int64Array::from(vec![Some(31), Some(-4), Some(55), None])) as ArrayRef,
        ),
        (
            "city",
            Arc::new(StringArray::from(vec![
                Some("Paris"),
                Some("Rome"),
                Some("Lyon"),
                Some("Paris"),
            ])) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn reads_a_ge_1x_suite_and_echoes_config_and_meta() {
    let suite = load(&Path::new(FIXTURES).join("ge1_suite.json")).unwrap();
    assert_eq!(suite.name, "people_ge1");
    assert_eq!(suite.expectations.len(), 5);
    let result = evaluate_batches(&suite, &[people()]).unwrap();
    let json = serde_json::to_value(&result).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(
        results[0]["expectation_config"]["type"],
        "expect_table_row_count_to_be_between"
    );
    assert_eq!(
        results[0]["expectation_config"]["meta"],
        json!({"owner": "data-eng"})
    );
    assert_eq!(results[0]["result"]["observed_value"], 4);
    // not null: "name" has one null.
    assert_eq!(results[1]["success"], false);
    // between with mostly 0.5: one of three ages is negative.
    assert_eq!(results[2]["success"], true);
    assert_eq!(results[2]["expectation_config"]["kwargs"]["mostly"], 0.5);
    // in set, COMPLETE: Rome at row 1.
    assert_eq!(results[3]["result"]["unexpected_index_list"], json!([1]));
    assert_eq!(results[3]["result"]["unexpected_list"], json!(["Rome"]));
    // mean of 31, -4, 55 = 27.33 ≥ 20; max_value null is an open bound.
    assert_eq!(results[4]["success"], true);
    assert_eq!(json["success"], false);
    assert_eq!(json["statistics"]["evaluated_expectations"], 5);
    assert_eq!(json["statistics"]["successful_expectations"], 3);
    assert_eq!(json["statistics"]["unsuccessful_expectations"], 2);
    assert_eq!(json["statistics"]["success_percent"], 60.0);
    assert_eq!(results[1]["exception_info"]["raised_exception"], false);
}

#[test]
fn reads_a_ge_0x_suite() {
    let suite = load(&Path::new(FIXTURES).join("ge0_suite.json")).unwrap();
    assert_eq!(suite.name, "people_ge0");
    let result = evaluate_batches(&suite, &[people()]).unwrap();
    let json = serde_json::to_value(&result).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results[0]["success"], true);
    // "bob" does not start upper-case; SUMMARY lists indices and counts.
    assert_eq!(
        results[1]["result"]["partial_unexpected_index_list"],
        json!([1])
    );
    assert_eq!(
        results[1]["result"]["partial_unexpected_counts"],
        json!([{"value": "bob", "count": 1}])
    );
    assert_eq!(
        results[1]["expectation_config"]["meta"],
        json!({"source": "0.x suite"})
    );
    // Paris twice.
    assert_eq!(results[2]["result"]["unexpected_count"], 2);
}

#[test]
fn bad_json_suite_reports_every_problem_with_suggestions() {
    let err = load(&Path::new(FIXTURES).join("bad_suite.json"))
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.iter().any(
            |l| l.contains("expectation #1 (expect_column_values_to_be_betwen)")
                && l.contains("did you mean `expect_column_values_to_be_between`?")
        ),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.contains("expectation #2")
            && l.contains("argument `min_valu`")
            && l.contains("did you mean `min_value`?")),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.contains("expectation #3")
            && l.contains("argument `column`: required argument is missing")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("expectation #3")
                && l.contains("argument `value_set`: expected a list")),
        "{err}"
    );
    // Every required argument of the query comparison is named.
    for argument in [
        "base_query",
        "comparison_data_source_name",
        "comparison_query",
    ] {
        assert!(
            lines.iter().any(|l| l
                .contains("expectation #4 (expect_query_results_to_match_comparison)")
                && l.contains(&format!(
                    "argument `{argument}`: required argument is missing"
                ))),
            "{err}"
        );
    }
    assert!(lines.iter().all(|l| l.contains("bad_suite.json")), "{err}");
}

#[test]
fn bad_toml_suite_points_at_lines_and_columns() {
    let err = load(&Path::new(FIXTURES).join("bad_suite.toml"))
        .unwrap_err()
        .to_string();
    let expect = [
        "bad_suite.toml:4:8: expectation #1 (expect_column_values_to_not_be_nul): unknown expectation type; did you mean `expect_column_values_to_not_be_null`?",
        "bad_suite.toml:10:1: expectation #2 (expect_column_values_to_be_between): argument `min_value`: expected a number (or a date/text bound), found a list",
        "bad_suite.toml:11:1: expectation #2 (expect_column_values_to_be_between): argument `mostly`: must be between 0 and 1, found 1.5",
        "bad_suite.toml:12:1: expectation #2 (expect_column_values_to_be_between): argument `strict_mn`: unknown argument; did you mean `strict_min`?",
        "bad_suite.toml:17:1: expectation #3 (expect_column_values_to_match_regex): argument `regex`: invalid regular expression",
    ];
    for want in expect {
        assert!(
            err.lines().any(|l| l.contains(want)),
            "missing {want:?} in:\n{err}"
        );
    }
    let syntax = assay::expectations::parse_toml("[[expectations]\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(syntax.starts_with("s.toml:1:"), "{syntax}");
    let json = parse_json("{\"name\": 1,", "s.json")
        .unwrap_err()
        .to_string();
    assert!(json.starts_with("s.json:1:"), "{json}");
}

/// The 59 core expectations of Great Expectations 1.24, from the issue.
const GE_CORE: &str = "expect_column_distinct_values_to_be_in_set expect_column_distinct_values_to_contain_set expect_column_distinct_values_to_equal_set expect_column_kl_divergence_to_be_less_than expect_column_max_to_be_between expect_column_mean_to_be_between expect_column_median_to_be_between expect_column_min_to_be_between expect_column_most_common_value_to_be_in_set expect_column_pair_values_a_to_be_greater_than_b expect_column_pair_values_to_be_equal expect_column_pair_values_to_be_in_set expect_column_proportion_of_non_null_values_to_be_between expect_column_proportion_of_unique_values_to_be_between expect_column_quantile_values_to_be_between expect_column_stdev_to_be_between expect_column_sum_to_be_between expect_column_to_exist expect_column_type_to_be expect_column_unique_value_count_to_be_between expect_column_value_lengths_to_be_between expect_column_value_lengths_to_equal expect_column_value_z_scores_to_be_less_than expect_column_values_to_be_between expect_column_values_to_be_dateutil_parseable expect_column_values_to_be_decreasing expect_column_values_to_be_in_set expect_column_values_to_be_in_type_list expect_column_values_to_be_increasing expect_column_values_to_be_json_parseable expect_column_values_to_be_null expect_column_values_to_be_of_type expect_column_values_to_be_unique expect_column_values_to_match_json_schema expect_column_values_to_match_like_pattern expect_column_values_to_match_like_pattern_list expect_column_values_to_match_regex expect_column_values_to_match_regex_list expect_column_values_to_match_strftime_format expect_column_values_to_not_be_in_set expect_column_values_to_not_be_null expect_column_values_to_not_be_outliers expect_column_values_to_not_match_like_pattern expect_column_values_to_not_match_like_pattern_list expect_column_values_to_not_match_regex expect_column_values_to_not_match_regex_list expect_compound_columns_to_be_unique expect_multicolumn_sum_to_equal expect_multicolumn_values_to_be_equal expect_multicolumn_values_to_be_unique expect_query_results_to_match_comparison expect_select_column_values_to_be_unique_within_record expect_table_column_count_to_be_between expect_table_column_count_to_equal expect_table_columns_to_match_ordered_list expect_table_columns_to_match_set expect_table_row_count_to_be_between expect_table_row_count_to_equal expect_table_row_count_to_equal_other_table";

#[test]
fn every_ge_core_expectation_is_supported() {
    let core: Vec<&str> = GE_CORE.split_whitespace().collect();
    assert_eq!(core.len(), 59);
    for name in &core {
        assert!(SUPPORTED.contains(name), "{name} is not supported");
    }
    // Every supported name is recognised by the parser (an empty kwargs
    // object may be incomplete, but never an unknown type).
    for name in SUPPORTED {
        let text = format!(
            "{{\"name\": \"s\", \"expectations\": [{{\"type\": \"{name}\", \"kwargs\": {{}}}}]}}"
        );
        if let Err(e) = parse_json(&text, "s.json") {
            let e = e.to_string();
            assert!(!e.contains("unknown expectation type"), "{name}: {e}");
        }
    }
}

fn credit_suite() -> assay::expectations::Suite {
    load(Path::new("expectations/credit.toml")).unwrap()
}

fn failures(result: &SuiteResult) -> Vec<String> {
    result
        .results
        .iter()
        .filter(|r| !r.success)
        .map(|r| {
            let column = r
                .expectation_config
                .kwargs
                .get("column")
                .and_then(|c| c.as_str())
                .unwrap_or("-");
            format!("{} {column}", r.expectation_config.type_name)
        })
        .collect()
}

#[test]
fn example_suite_passes_on_the_training_and_serving_data() {
    let suite = credit_suite();
    assert!(suite.expectations.len() >= 20);
    for file in [
        "examples/data/train.parquet",
        "examples/data/serving.parquet",
    ] {
        let result = validate_suite(&[file.to_string()], &ReadOptions::default(), &suite).unwrap();
        assert!(
            result.success,
            "{file}: {:?}\n{}",
            failures(&result),
            to_table(&result)
        );
    }
}

/// Writes the training data with `fault` applied to column `name`.
fn faulted(dir: &Path, name: &str, fault: impl Fn(&ArrayRef) -> (Field, ArrayRef)) -> String {
    let file = File::open("examples/data/train.parquet").unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let index = schema.index_of(name).unwrap();
    let mut out_batches = Vec::new();
    let mut out_schema = None;
    for batch in batches {
        let (field, array) = fault(batch.column(index));
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[index] = field;
        let new_schema = Arc::new(Schema::new(fields));
        let mut columns = batch.columns().to_vec();
        columns[index] = array;
        out_batches.push(RecordBatch::try_new(new_schema.clone(), columns).unwrap());
        out_schema = Some(new_schema);
    }
    let path = dir.join(format!("{name}.parquet"));
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), out_schema.unwrap(), None).unwrap();
    for b in &out_batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
    path.display().to_string()
}

#[test]
fn faults_in_the_training_data_fail_the_expectation_that_guards_them() {
    let dir = tempfile::tempdir().unwrap();
    let suite = credit_suite();
    let run = |path: &str| {
        failures(&validate_suite(&[path.to_string()], &ReadOptions::default(), &suite).unwrap())
    };

    // A new category in every 10th row.
    let new_category = faulted(dir.path(), "purpose", |a| {
        let text = cast(a, &DataType::Utf8).unwrap();
        let values: StringArray = text
            .as_string::<i32>()
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 10 == 0 { Some("crypto") } else { v })
            .collect();
        (
            Field::new("purpose", DataType::Utf8, true),
            Arc::new(values) as ArrayRef,
        )
    });
    assert_eq!(
        run(&new_category),
        ["expect_column_values_to_be_in_set purpose"]
    );

    // A unit change: income × 1000.
    let unit = faulted(dir.path(), "income", |a| {
        let values: Float64Array = a
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .map(|v| v.map(|x| x * 1000.0))
            .collect();
        (
            Field::new("income", DataType::Float64, true),
            Arc::new(values) as ArrayRef,
        )
    });
    assert_eq!(
        run(&unit),
        [
            "expect_column_values_to_be_between income",
            "expect_column_median_to_be_between income"
        ]
    );

    // A column of nulls.
    let nulls = faulted(dir.path(), "age", |a| {
        (
            Field::new("age", a.data_type().clone(), true),
            arrow::array::new_null_array(a.data_type(), a.len()),
        )
    });
    assert_eq!(
        run(&nulls),
        ["expect_column_proportion_of_non_null_values_to_be_between age"]
    );

    // A type change: sex as integer codes.
    let retyped = faulted(dir.path(), "sex", |a| {
        let codes: Int64Array = cast(a, &DataType::Utf8)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(|s| if s == "F" { 0 } else { 1 }))
            .collect();
        (
            Field::new("sex", DataType::Int64, true),
            Arc::new(codes) as ArrayRef,
        )
    });
    assert_eq!(run(&retyped), ["expect_column_values_to_be_in_set sex"]);

    // A renamed column.
    let renamed = faulted(dir.path(), "state", |a| {
        (
            Field::new("us_state", a.data_type().clone(), true),
            a.clone(),
        )
    });
    assert_eq!(
        run(&renamed),
        [
            "expect_table_columns_to_match_set -",
            "expect_column_value_lengths_to_equal state"
        ]
    );
}

#[test]
fn junit_and_table_renderers() {
    let suite = load(&Path::new(FIXTURES).join("ge1_suite.json")).unwrap();
    let result = evaluate_batches(&suite, &[people()]).unwrap();
    let xml = to_junit(&result);
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains("<testsuite name=\"people_ge1\" tests=\"5\" failures=\"2\" errors=\"0\">"),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 5);
    assert_eq!(xml.matches("<failure ").count(), 2);
    assert!(xml.contains("expect_column_values_to_not_be_null(column=name)"));
    let table = to_table(&result);
    assert!(
        table.contains("FAIL") && table.contains("3 of 5 expectations passed"),
        "{table}"
    );
    // Round trip: the JSON is GE's shape and reads back.
    let text = result.to_json();
    let back: SuiteResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back, result);
}

#[test]
fn a_saved_profile_answers_table_and_aggregate_expectations() {
    let profile = assay::pipeline::profile_inputs(
        &["examples/data/train.parquet".to_string()],
        &assay::pipeline::ProfileRequest::default(),
        |_, _| {},
    )
    .unwrap();
    let suite = credit_suite();
    let from_profile = assay::expectations::evaluate_profile(&suite, &profile);
    let from_data = validate_suite(
        &["examples/data/train.parquet".to_string()],
        &ReadOptions::default(),
        &suite,
    )
    .unwrap();
    for (p, d) in from_profile.results.iter().zip(&from_data.results) {
        let name = &p.expectation_config.type_name;
        let row_level = d.result.contains_key("unexpected_count")
            || p.expectation_config.kwargs.contains_key("row_condition");
        if row_level {
            assert!(
                p.exception_info.raised_exception,
                "{name} should need the data"
            );
        } else {
            assert!(
                p.success,
                "{name}: {:?}",
                p.exception_info.exception_message
            );
            let (a, b) = (&p.result["observed_value"], &d.result["observed_value"]);
            if name.contains("median") {
                // KLL sketches are randomized and depend on partitioning:
                // equal within the sketch's error, not bit for bit.
                let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                assert!((a - b).abs() / b < 0.05, "{name}: {a} vs {b}");
            } else {
                assert_eq!(a, b, "{name}");
            }
        }
    }
}

#[test]
fn unexpected_rows_query_respects_row_condition() {
    let text = "[[expectations]]\ntype = \"unexpected_rows_expectation\"\nunexpected_rows_query = \"SELECT * FROM {batch} WHERE city = 'Paris'\"\nrow_condition = \"age > 40\"\n";
    let suite = assay::expectations::parse_toml(text, "q.toml").unwrap();
    let result = evaluate_batches(&suite, &[people()]).unwrap();
    // Paris rows have ages 31 and null: neither is > 40.
    assert!(result.success, "{}", result.to_json());
}

#[test]
fn query_comparison_sees_every_batch_and_the_row_condition() {
    let dir = tempfile::tempdir().unwrap();
    let cities = dir.path().join("cities.csv");
    std::fs::write(&cities, "town,people\nParis,2\nRome,1\nLyon,1\n").unwrap();
    let suite = |extra: &str| {
        let text = format!(
            "[[expectations]]\ntype = \"expect_query_results_to_match_comparison\"\n\
             base_query = \"SELECT city, COUNT(*) AS n FROM {{batch}} GROUP BY city\"\n\
             comparison_data_source_name = \"{}\"\n\
             comparison_query = \"SELECT town, people FROM {{batch}}\"\n{extra}",
            cities.display()
        );
        assay::expectations::parse_toml(&text, "q.toml").unwrap()
    };
    // Two batches: the base query counts over both (Paris 2+2, ...).
    let doubled = [people(), people()];
    let result = evaluate_batches(&suite(""), &doubled).unwrap();
    assert!(!result.success);
    assert_eq!(result.results[0].result["unexpected_count"], 3);
    // One batch: the counts match.
    let result = evaluate_batches(&suite(""), &[people()]).unwrap();
    assert!(result.success, "{}", result.to_json());
    // The row condition leaves Lyon (age 55) out: 2 of 3 rows match.
    let condition = "row_condition = \"age < 50 OR age IS NULL\"\n";
    let result = evaluate_batches(&suite(condition), &[people()]).unwrap();
    let r = &result.results[0];
    assert!(!r.success);
    assert_eq!(r.result["unexpected_count"], 1);
    let result = evaluate_batches(
        &suite(&format!(
            "{condition}mostly = 0.6\nresult_format = \"COMPLETE\"\n"
        )),
        &[people()],
    )
    .unwrap();
    let r = &result.results[0];
    assert!(r.success, "{}", result.to_json());
    assert_eq!(
        r.result["details"],
        json!({"missing_rows": [{"people": 1, "town": "Lyon"}], "unexpected_rows": []})
    );
}
