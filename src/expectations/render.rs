//! JUnit XML for CI systems and a readable table for people.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value as Json;

use super::result::{ExpectationResult, SuiteResult};

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

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per expectation; failed expectations are
/// `<failure>`s, expectations that raised an exception are `<error>`s.
pub fn to_junit(result: &SuiteResult) -> String {
    let name = if result.suite_name.is_empty() {
        "assay"
    } else {
        &result.suite_name
    };
    let errors = result
        .results
        .iter()
        .filter(|r| r.exception_info.raised_exception)
        .count();
    let failures = result.results.iter().filter(|r| !r.success).count() - errors;
    let tests = result.results.len();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"assay\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n"
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n",
        xml_escape(name)
    ));
    for (i, r) in result.results.iter().enumerate() {
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(name),
            xml_escape(&format!("#{} {}", i + 1, label(r)))
        ));
        if r.success {
            xml.push_str("/>\n");
            continue;
        }
        let body = serde_json::to_string_pretty(&r.result).unwrap_or_default();
        let (tag, kind) = if r.exception_info.raised_exception {
            ("error", "exception")
        } else {
            ("failure", "expectation failed")
        };
        xml.push_str(&format!(
            ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>\n    </testcase>\n",
            xml_escape(&observed(r)),
            xml_escape(&body)
        ));
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}
