//! `assay validate` with an expectation suite, alone and together with a
//! schema: GE-shaped JSON, JUnit, tables, exit codes, GE JSON suites.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn path(relative: &str) -> String {
    root().join(relative).display().to_string()
}

fn assay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run assay")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

/// A schema inferred from the training data, written once per test.
fn schema(dir: &Path) -> PathBuf {
    let profile = dir.join("train.profile.json");
    let schema = dir.join("schema.toml");
    for args in [
        vec![
            "profile",
            "examples/data/train.parquet",
            "-q",
            "-o",
            profile.to_str().unwrap(),
        ],
        vec![
            "infer",
            profile.to_str().unwrap(),
            "-q",
            "-o",
            schema.to_str().unwrap(),
        ],
    ] {
        let out = assay(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    schema
}

/// Rewrites the training data with `purpose` values replaced by "crypto"
/// in every tenth row, using the library's own reader and arrow's writer.
fn with_new_category(dir: &Path) -> PathBuf {
    use arrow::array::{Array, ArrayRef, StringArray};
    use arrow::compute::cast;
    use arrow::datatypes::DataType;
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let file = std::fs::File::open(root().join("examples/data/train.parquet")).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 8192).unwrap();
    let out = dir.join("faulty.parquet");
    let mut writer = None;
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.unwrap();
        let index = batch.schema().index_of("purpose").unwrap();
        let purpose = cast(batch.column(index), &DataType::Utf8).unwrap();
        let purpose = purpose.as_any().downcast_ref::<StringArray>().unwrap();
        let changed: StringArray = (0..purpose.len())
            .map(|i| {
                if (row + i).is_multiple_of(10) {
                    Some("crypto")
                } else {
                    purpose.is_valid(i).then(|| purpose.value(i))
                }
            })
            .collect();
        row += batch.num_rows();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[index] = Arc::new(changed);
        let schema = Arc::new(arrow::datatypes::Schema::new(
            batch
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if i == index {
                        arrow::datatypes::Field::new(f.name(), DataType::Utf8, true)
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let w = writer.get_or_insert_with(|| {
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&out).unwrap(), schema, None)
                .unwrap()
        });
        w.write(&batch).unwrap();
    }
    writer.unwrap().close().unwrap();
    out
}

#[test]
fn the_example_suite_passes_on_training_and_serving_data() {
    for data in [
        "examples/data/train.parquet",
        "examples/data/serving.parquet",
    ] {
        let out = assay(&[
            "validate",
            data,
            "--suite",
            "expectations/credit.toml",
            "--format",
            "json",
        ]);
        assert_eq!(code(&out), 0, "{data}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["success"], true);
        let stats = &report["statistics"];
        assert!(stats["evaluated_expectations"].as_u64().unwrap() >= 20);
        assert_eq!(stats["unsuccessful_expectations"], 0);
        assert_eq!(stats["success_percent"], 100.0);
        assert!(report.get("schema_findings").is_none(), "no schema given");
    }
}

/// Validates training data with a new `purpose` category against a schema
/// inferred from the clean data and the example suite, in `format`.
fn validate_new_category_with_schema_and_suite(format: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema(dir.path());
    let faulty = with_new_category(dir.path());
    assay(&[
        "validate",
        faulty.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
        "--suite",
        "expectations/credit.toml",
        "--format",
        format,
    ])
}

#[test]
fn schema_and_suite_together_fail_on_a_new_category_with_both_reports() {
    let out = validate_new_category_with_schema_and_suite("json");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["success"], false);
    // The schema part: out_of_domain on purpose.
    let findings = report["schema_findings"]
        .as_array()
        .expect("schema_findings");
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "out_of_domain" && f["feature"] == "purpose"),
        "{findings:?}"
    );
    // The suite part: a failed expectation about `purpose`, in GE's shape.
    let results = report["results"].as_array().expect("results");
    let failed: Vec<&Value> = results.iter().filter(|r| r["success"] == false).collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|r| r["expectation_config"]["kwargs"]["column"] == "purpose"),
        "only purpose's expectations fail: {failed:?}"
    );
    let first = failed[0];
    assert!(first["result"]["unexpected_count"].as_u64().unwrap() > 0);
    assert!(
        first["result"]["partial_unexpected_list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "crypto")
    );
    assert_eq!(first["exception_info"]["raised_exception"], false);
}

#[test]
fn junit_output_lists_schema_and_suite_cases() {
    let out = validate_new_category_with_schema_and_suite("junit");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert!(xml.contains("out_of_domain purpose"), "{xml}");
    assert!(xml.contains("<failure "), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"));
}

#[test]
fn the_table_shows_both_parts() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema(dir.path());
    let out = assay(&[
        "validate",
        "examples/data/serving.parquet",
        "--environment",
        "serving",
        "--schema",
        schema.to_str().unwrap(),
        "--suite",
        "expectations/credit.toml",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("expect_column_values_to_not_be_null"),
        "{text}"
    );
    assert!(text.contains("suite credit:"), "{text}");
}

#[test]
fn great_expectations_json_suites_of_both_versions_run() {
    for suite in [
        "tests/fixtures/expectations/ge1_suite.json",
        "tests/fixtures/expectations/ge0_suite.json",
    ] {
        let out = assay(&[
            "validate",
            "examples/data/train.parquet",
            "--suite",
            suite,
            "--format",
            "json",
        ]);
        assert!(matches!(code(&out), 0 | 1), "{suite}: {}", stderr(&out));
        let report = json(&out);
        assert!(report["results"].as_array().is_some_and(|r| !r.is_empty()));
        assert_eq!(
            report["success"],
            report["statistics"]["unsuccessful_expectations"] == 0
        );
    }
}

#[test]
fn a_saved_profile_answers_aggregate_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let saved = assay(&[
        "profile",
        "examples/data/train.parquet",
        "-q",
        "-o",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(code(&saved), 0);
    let suite = dir.path().join("suite.toml");
    std::fs::write(
        &suite,
        "format = \"assay.expectations/1\"\nname = \"agg\"\n\
         [[expectations]]\ntype = \"expect_table_row_count_to_equal\"\nvalue = 20000\n\
         [[expectations]]\ntype = \"expect_column_mean_to_be_between\"\ncolumn = \"age\"\nmin_value = 100\n",
    )
    .unwrap();
    let out = assay(&[
        "validate",
        "--profile",
        profile.to_str().unwrap(),
        "--suite",
        suite.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["results"][0]["success"], true);
    assert_eq!(report["results"][1]["success"], false);
    let mean = report["results"][1]["result"]["observed_value"]
        .as_f64()
        .unwrap();
    assert!((18.0..100.0).contains(&mean), "mean age {mean}");
}

#[test]
fn bad_suites_and_flags_are_usage_errors() {
    let out = assay(&[
        "validate",
        "examples/data/train.parquet",
        "--suite",
        &path("tests/fixtures/expectations/bad_suite.toml"),
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("bad_suite.toml:"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));

    let out = assay(&[
        "validate",
        "examples/data/train.parquet",
        "--suite",
        "expectations/credit.toml",
        "--result-format",
        "VERBOSE",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--result-format VERBOSE"),
        "{}",
        stderr(&out)
    );

    // Neither a schema nor a suite: nothing to check.
    let out = assay(&["validate", "examples/data/train.parquet"]);
    assert_eq!(code(&out), 2);

    // JUnit is for checks only.
    let out = assay(&[
        "profile",
        "examples/data/train.parquet",
        "--format",
        "junit",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("junit"), "{}", stderr(&out));
}

#[test]
fn result_format_complete_lists_every_unexpected_row_index() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = with_new_category(dir.path());
    let suite = dir.path().join("suite.toml");
    std::fs::write(
        &suite,
        "format = \"assay.expectations/1\"\nname = \"p\"\n\
         [[expectations]]\ntype = \"expect_column_values_to_not_be_in_set\"\n\
         column = \"purpose\"\nvalue_set = [\"crypto\"]\n",
    )
    .unwrap();
    let out = assay(&[
        "validate",
        faulty.to_str().unwrap(),
        "--suite",
        suite.to_str().unwrap(),
        "--result-format",
        "COMPLETE",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let result = &json(&out)["results"][0]["result"];
    let indices: Vec<u64> = result["unexpected_index_list"]
        .as_array()
        .expect("index list in COMPLETE")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // Every tenth row was changed, starting with row 0.
    assert_eq!(indices.len(), 2000);
    assert!(indices.iter().enumerate().all(|(i, &r)| r == 10 * i as u64));
    assert_eq!(result["unexpected_count"], 2000);
}

/// Builds the `generate_data` example (as tests/examples.rs does) and writes
/// a faulted serving set into `dir`.
fn faulty_serving(dir: &Path, flags: &[&str]) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--example", "generate_data"])
        .current_dir(root())
        .status()
        .expect("cargo build --example generate_data");
    assert!(built.success());
    let exe = std::env::current_exe().unwrap();
    let generator = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/generate_data");
    let status = Command::new(generator)
        .args(["--only", "serving", "--out-dir"])
        .arg(dir)
        .args(flags)
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("serving.parquet")
}

fn failed_expectations(data: &Path, suite: &Path) -> (i32, Vec<(String, String)>) {
    let out = assay(&[
        "validate",
        data.to_str().unwrap(),
        "--suite",
        suite.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = json(&out);
    let failed = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["success"] == false)
        .map(|r| {
            let config = &r["expectation_config"];
            (
                config["type"].as_str().unwrap().to_string(),
                config["kwargs"]["column"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    (code(&out), failed)
}

#[test]
fn a_suggested_suite_passes_clean_data_and_fails_each_fault_on_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("train.profile.json");
    let suite = dir.path().join("credit.toml");
    let out = assay(&[
        "profile",
        "examples/data/train.parquet",
        "-q",
        "-o",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0);
    let out = assay(&[
        "suggest",
        profile.to_str().unwrap(),
        "-o",
        suite.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&suite).unwrap();
    assert!(text.contains("name = \"credit\""), "named after the file");
    // Every expectation says why it was suggested.
    assert_eq!(
        text.matches("[[expectations]]").count(),
        text.lines()
            .zip(text.lines().skip(1))
            .filter(|(a, b)| a.starts_with("# ") && *b == "[[expectations]]")
            .count()
    );
    // The label is not expected (serving data has none).
    assert!(!text.contains("column = \"label\""));

    for clean in [
        "examples/data/train.parquet",
        "examples/data/serving.parquet",
    ] {
        let (code, failed) = failed_expectations(Path::new(clean), &suite);
        assert_eq!((code, failed), (0, vec![]), "{clean}");
    }
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["--new-category", "purpose=crypto:0.2"],
            "expect_column_values_to_be_in_set",
            "purpose",
        ),
        (
            &["--drift", "income=1000"],
            "expect_column_values_to_be_between",
            "income",
        ),
        (
            &["--null-rate", "age=1"],
            "expect_column_values_to_not_be_null",
            "age",
        ),
        (
            &["--drop-column", "purpose"],
            "expect_column_to_exist",
            "purpose",
        ),
    ];
    for (i, (flags, kind, column)) in cases.into_iter().enumerate() {
        let fault_dir = dir.path().join(format!("fault{i}"));
        let data = faulty_serving(&fault_dir, flags);
        let (code, failed) = failed_expectations(&data, &suite);
        assert_eq!(code, 1, "{flags:?}");
        assert!(
            failed.contains(&(kind.to_string(), column.to_string())),
            "{flags:?}: {failed:?}"
        );
        assert!(
            failed.iter().all(|(_, c)| c == column),
            "{flags:?}: only {column} fails: {failed:?}"
        );
    }
}

#[test]
fn suggest_rejects_a_bad_profile_and_a_bad_share() {
    let out = assay(&["suggest", "tests/fixtures/cli/not_a_profile.json"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not_a_profile.json"),
        "{}",
        stderr(&out)
    );
    let out = assay(&[
        "suggest",
        "tests/fixtures/cli/not_a_profile.json",
        "--mostly",
        "1.5",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--mostly"), "{}", stderr(&out));
}

/// The benchmark suite exists in both forms and they say the same thing.
#[test]
fn the_benchmark_suite_reads_the_same_as_toml_and_as_ge_json() {
    let toml = assay::expectations::load(&root().join("expectations/bench_table.toml")).unwrap();
    let json = assay::expectations::load(&root().join("expectations/bench_table.json")).unwrap();
    assert_eq!(toml.expectations.len(), 20);
    let kinds = |s: &assay::expectations::Suite| {
        s.expectations
            .iter()
            .map(|e| (e.type_name.clone(), e.kwargs.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&toml), kinds(&json));
}

#[test]
fn row_count_equal_to_another_table() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("other.toml");
    let write = |other: &str| {
        std::fs::write(
            &suite,
            format!(
                "name = \"o\"\n[[expectations]]\n\
                 type = \"expect_table_row_count_to_equal_other_table\"\n\
                 other_table_name = \"{other}\"\n"
            ),
        )
        .unwrap()
    };
    let run = || {
        let out = assay(&[
            "validate",
            "examples/data/train.parquet",
            "--suite",
            suite.to_str().unwrap(),
            "--format",
            "json",
        ]);
        (code(&out), json(&out)["results"][0].clone())
    };
    // The same rows as CSV: equal.
    write("examples/data/train.csv");
    let (code_same, same) = run();
    assert_eq!(code_same, 0);
    assert_eq!(same["result"]["observed_value"]["other"], 20000);
    // The serving set has half as many rows.
    write("examples/data/serving.parquet");
    let (code_other, other) = run();
    assert_eq!(code_other, 1);
    assert_eq!(other["result"]["observed_value"]["self"], 20000);
    assert_eq!(other["result"]["observed_value"]["other"], 10000);
    // A missing table is an exception of that expectation, not a crash.
    write("no/such/table.parquet");
    let (code_missing, missing) = run();
    assert_eq!(code_missing, 1);
    assert_eq!(missing["exception_info"]["raised_exception"], true);
    assert!(
        missing["exception_info"]["exception_message"]
            .as_str()
            .unwrap()
            .contains("no/such/table.parquet")
    );
}

#[test]
fn query_results_match_a_comparison_table() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("compare.toml");
    let kinds = dir.path().join("kinds.csv");
    std::fs::write(&kinds, "kind\nmortgage\nown\nrent\nlease\n").unwrap();
    let write = |kwargs: &str| {
        std::fs::write(
            &suite,
            format!(
                "name = \"c\"\n[[expectations]]\n\
                 type = \"expect_query_results_to_match_comparison\"\n{kwargs}"
            ),
        )
        .unwrap()
    };
    let run = |extra: &[&str]| {
        let mut args = vec![
            "validate",
            "examples/data/train.parquet",
            "--suite",
            suite.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        assay(&args)
    };
    let result = |out: &Output| json(out)["results"][0].clone();

    // The same rows read as CSV: grouped counts match in any order, whatever
    // the columns are called.
    write(
        "base_query = \"SELECT home_ownership, COUNT(*) AS n FROM {batch} GROUP BY home_ownership\"\n\
         comparison_data_source_name = \"examples/data/train.csv\"\n\
         comparison_query = \"SELECT home_ownership AS kind, COUNT(*) AS rows FROM {batch} GROUP BY kind ORDER BY kind DESC\"\n",
    );
    let out = run(&["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let same = result(&out);
    assert_eq!(same["success"], true);
    assert_eq!(same["result"]["unexpected_count"], 0);
    assert_eq!(same["result"]["unexpected_percent"], 0.0);
    assert!(same["result"].get("details").is_none(), "{same}");

    // One of four distinct values differs on each side: 25% unexpected.
    let mismatch = format!(
        "base_query = \"SELECT DISTINCT home_ownership FROM {{batch}}\"\n\
         comparison_data_source_name = \"{}\"\n\
         comparison_query = \"SELECT kind FROM {{batch}}\"\n",
        kinds.display()
    );
    write(&format!("{mismatch}result_format = \"COMPLETE\"\n"));
    let out = run(&["--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let failed = result(&out);
    assert_eq!(failed["success"], false);
    assert_eq!(failed["result"]["unexpected_count"], 1);
    assert_eq!(failed["result"]["unexpected_percent"], 25.0);
    assert_eq!(
        failed["result"]["details"]["unexpected_rows"],
        serde_json::json!([{"home_ownership": "other"}])
    );
    assert_eq!(
        failed["result"]["details"]["missing_rows"],
        serde_json::json!([{"kind": "lease"}])
    );
    // BASIC (the default) gives the counts only, as GE; the table shows them.
    write(&mismatch);
    let basic = result(&run(&["--format", "json"]));
    assert_eq!(basic["result"]["unexpected_count"], 1);
    assert!(basic["result"].get("details").is_none(), "{basic}");
    let table = stdout(&run(&[]));
    assert!(table.contains("1 unexpected (25.000%)"), "{table}");
    // `mostly`: 75% of the rows match.
    write(&format!("{mismatch}mostly = 0.75\n"));
    assert_eq!(code(&run(&["-q"])), 0);

    // A missing argument is a suite error naming the expectation and argument.
    write(
        "base_query = \"SELECT * FROM {batch}\"\n\
         comparison_data_source_name = \"examples/data/train.csv\"\n",
    );
    let out = run(&[]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("expectation #1 (expect_query_results_to_match_comparison)")
            && err.contains("argument `comparison_query`: required argument is missing"),
        "{err}"
    );

    // A comparison table that does not exist is that expectation's exception.
    write(
        "base_query = \"SELECT * FROM {batch}\"\n\
         comparison_data_source_name = \"no/such/comparison.parquet\"\n\
         comparison_query = \"SELECT * FROM {batch}\"\n",
    );
    let out = run(&["--format", "json"]);
    assert_eq!(code(&out), 1);
    let missing = result(&out);
    assert_eq!(missing["exception_info"]["raised_exception"], true);
    let message = missing["exception_info"]["exception_message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("comparison_data_source_name")
            && message.contains("no/such/comparison.parquet"),
        "{message}"
    );

    // A base query that does not compile names the query.
    write(
        "base_query = \"SELECT no_such_column FROM {batch}\"\n\
         comparison_data_source_name = \"examples/data/train.csv\"\n\
         comparison_query = \"SELECT * FROM {batch}\"\n",
    );
    let bad = result(&run(&["--format", "json"]));
    let message = bad["exception_info"]["exception_message"].as_str().unwrap();
    assert!(
        message.starts_with("base_query:") && message.contains("no_such_column"),
        "{message}"
    );
}

/// A suite naming a few columns reads only those, yet its table-level
/// expectations still see every column of the file, and a column it names
/// that is not in the file is still reported as missing.
#[test]
fn a_suite_reading_some_columns_still_checks_the_whole_table() {
    let file = std::fs::File::open(root().join("examples/data/train.parquet")).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let rows = reader.metadata().file_metadata().num_rows();
    assert!(names.len() > 3);
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("some.toml");
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &suite,
        format!(
            r#"[[expectations]]
type = "expect_table_column_count_to_equal"
value = {count}
[[expectations]]
type = "expect_table_columns_to_match_ordered_list"
column_list = [{list}]
[[expectations]]
type = "expect_table_row_count_to_equal"
value = {rows}
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "{first}"
mostly = 0.0
[[expectations]]
type = "expect_column_to_exist"
column = "{last}"
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "no_such_column"
"#,
            count = names.len(),
            first = names[1],
            last = names[names.len() - 1],
        ),
    )
    .unwrap();
    let suite = suite.display().to_string();
    let out = assay(&[
        "validate",
        "examples/data/train.parquet",
        "--suite",
        &suite,
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    let results = report["results"].as_array().unwrap();
    let success: Vec<bool> = results.iter().map(|r| r["success"] == true).collect();
    assert_eq!(success, [true, true, true, true, true, false]);
    assert_eq!(results[3]["result"]["element_count"], rows);
    let missing = &results[5]["exception_info"];
    assert_eq!(missing["raised_exception"], true);
    assert!(
        missing["exception_message"]
            .as_str()
            .unwrap()
            .contains("no_such_column"),
        "{missing}"
    );
}
