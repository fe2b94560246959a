//! JUnit XML for CI systems and a readable table for people.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value as Json;

use super::result::{ExpectationResult, SuiteResult};
use crate::report::junit::{JunitSuite, document};

/// A short label: `expect_column_values_to_be_between(column=age)`.
fn label(r: &ExpectationResult) -> String {
    let kwargs = &r.expectation_config.kwargs;
    let show = |v: &Json| {
        let text = match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.chars().count() > 40 {
            format!("{}…", text.chars().take(39).collect::<String>())
        } else {
            text
        }
    };
    let parts: Vec<String> = [
        "column",
        "column_A",
        "column_B",
        "column_list",
        "column_set",
    ]
    .iter()
    .filter_map(|k| kwargs.get(*k).map(|v| format!("{k}={}", show(v))))
    .collect();
    let mut text = r.expectation_config.type_name.clone();
    if !parts.is_empty() {
        text.push_str(&format!("({})", parts.join(", ")));
    }
    if let Some(Json::String(condition)) = kwargs.get("row_condition") {
        text.push_str(&format!(" where {condition}"));
    }
    text
}

/// What was seen, in one line.
fn observed(r: &ExpectationResult) -> String {
    if let Some(message) = &r.exception_info.exception_message {
        return format!("error: {message}");
    }
    let res = &r.result;
    if let Some(count) = res.get("unexpected_count") {
        let percent = res
            .get("unexpected_percent")
            .and_then(Json::as_f64)
            .map(|p| format!(" ({p:.3}%)"))
            .unwrap_or_default();
        let mut text = format!("{count} unexpected{percent}");
        if let Some(Json::Array(sample)) = res.get("partial_unexpected_list")
            && !sample.is_empty()
        {
            let shown: Vec<String> = sample.iter().take(5).map(Json::to_string).collect();
            text.push_str(&format!(", e.g. {}", shown.join(", ")));
        }
        return text;
    }
    match res.get("observed_value") {
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                format!("{}…", text.chars().take(79).collect::<String>())
            } else {
                text
            }
        }
        None => String::new(),
    }
}

/// The readable table: one row per expectation, then a summary line.
pub fn to_table(result: &SuiteResult) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["#", "expectation", "result", "observed"]);
    for (i, r) in result.results.iter().enumerate() {
        let status = match (r.success, r.exception_info.raised_exception) {
            (true, _) => "pass",
            (false, true) => "ERROR",
            (false, false) => "FAIL",
        };
        table.add_row([
            (i + 1).to_string(),
            label(r),
            status.to_string(),
            observed(r),
        ]);
    }
    let s = &result.statistics;
    format!(
        "{table}\nsuite {}: {} of {} expectations passed{}\n",
        if result.suite_name.is_empty() {
            "(unnamed)"
        } else {
            &result.suite_name
        },
        s.successful_expectations,
        s.evaluated_expectations,
        if result.success { "" } else { " — FAILED" },
    )
}

/// JUnit XML: one test case per expectation; failed expectations are
/// `<failure>`s, expectations that raised an exception are `<error>`s.
pub fn to_junit(result: &SuiteResult) -> String {
    document(&[(junit_name(result), junit_suite(result))])
}

/// The suite's name in JUnit output.
pub fn junit_name(result: &SuiteResult) -> String {
    if result.suite_name.is_empty() {
        "assay".to_string()
    } else {
        result.suite_name.clone()
    }
}

/// The `<testsuite>` of a suite result, to combine with other suites.
pub fn junit_suite(result: &SuiteResult) -> JunitSuite {
    let name = junit_name(result);
    let mut suite = JunitSuite::new();
    for (i, r) in result.results.iter().enumerate() {
        let case = format!("#{} {}", i + 1, label(r));
        if r.success {
            suite.case(&name, &case, None, false);
            continue;
        }
        let body = serde_json::to_string_pretty(&r.result).unwrap_or_default();
        let raised = r.exception_info.raised_exception;
        let kind = if raised {
            "exception"
        } else {
            "expectation failed"
        };
        suite.case(&name, &case, Some((kind, &observed(r), &body)), raised);
    }
    suite
}
