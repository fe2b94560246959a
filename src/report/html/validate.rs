//! The validation page, after Great Expectations' Data Docs: the verdict
//! first, then the schema findings and expectation results grouped by
//! feature, failed groups and failed checks first, each with what was
//! observed against what was expected and the unexpected values.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value as Json;

use super::profile::OPEN_UP_TO;
use super::{Esc, count, page, search_key, tools};
use crate::checks::{Finding, Severity};
use crate::expectations::ExpectationResult;
use crate::validation::ValidationReport;

/// Unexpected values listed per check.
const UNEXPECTED_SHOWN: usize = 20;
/// Characters of an observed or expected value shown before it is cut.
const VALUE_CHARS: usize = 300;
/// kwargs that name the columns (the group), not what is expected of them.
const COLUMN_KEYS: [&str; 5] = [
    "column",
    "column_A",
    "column_B",
    "column_list",
    "column_set",
];

/// The group of checks that are not about one column.
const TABLE_GROUP: &str = "(table)";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    // Ordered as listed: failures first.
    Error,
    Failed,
    Warning,
    Passed,
}

impl Status {
    fn tag(self) -> (&'static str, &'static str) {
        match self {
            Self::Error => ("bad", "error"),
            Self::Failed => ("bad", "failed"),
            Self::Warning => ("warn", "warning"),
            Self::Passed => ("good", "passed"),
        }
    }
}

struct Check {
    status: Status,
    source: &'static str,
    name: String,
    observed: String,
    expected: String,
    unexpected: Vec<String>,
    note: String,
}

/// The validation report as one self-contained HTML page.
pub fn validation_html(report: &ValidationReport) -> String {
    let mut body = String::from("<h1>Validation</h1>");
    meta(&mut body, report);
    body.push_str(&validation_body(report, true));
    page("assay validate", &body)
}

/// The verdict and the checks by feature (with the search box when
/// `with_tools`: a page has one).
pub(super) fn validation_body(report: &ValidationReport, with_tools: bool) -> String {
    let mut groups: BTreeMap<String, Vec<Check>> = BTreeMap::new();
    if let Some(schema) = &report.schema {
        for f in &schema.findings {
            let group = f.feature.clone().unwrap_or_else(|| TABLE_GROUP.into());
            groups.entry(group).or_default().push(finding_check(f));
        }
    }
    if let Some(suite) = &report.suite {
        for r in &suite.results {
            groups
                .entry(expectation_group(r))
                .or_default()
                .push(expectation_check(r));
        }
    }
    let mut groups: Vec<(String, Vec<Check>)> = groups.into_iter().collect();
    for (_, checks) in &mut groups {
        checks.sort_by_key(|c| c.status);
    }
    // Failed groups first (the worst status decides), then by name.
    groups.sort_by(|a, b| worst(&a.1).cmp(&worst(&b.1)).then_with(|| a.0.cmp(&b.0)));

    let mut body = String::new();
    verdict(&mut body, report);
    body.push_str("<h2>Checks by feature</h2>");
    if groups.is_empty() {
        body.push_str(r#"<p class="muted">Nothing was checked.</p>"#);
    } else {
        if with_tools {
            tools(&mut body, groups.len(), "features");
        }
        let small = groups.len() <= OPEN_UP_TO;
        for (name, checks) in &groups {
            group_section(&mut body, name, checks, small);
        }
    }
    body
}

fn worst(checks: &[Check]) -> Status {
    checks
        .iter()
        .map(|c| c.status)
        .min()
        .unwrap_or(Status::Passed)
}

fn meta(out: &mut String, report: &ValidationReport) {
    let mut parts = Vec::new();
    if let Some(s) = &report.schema {
        let env = s
            .environment
            .as_deref()
            .map(|e| format!(", environment {}", Esc(e)))
            .unwrap_or_default();
        parts.push(format!(
            "schema <code>{}</code>{env}, {} rows",
            Esc(&s.file),
            count(s.rows as f64)
        ));
    }
    if let Some(suite) = &report.suite {
        let name = if suite.suite_name.is_empty() {
            "(unnamed)"
        } else {
            &suite.suite_name
        };
        parts.push(format!("suite <code>{}</code>", Esc(name)));
    }
    let _ = write!(out, r#"<p class="meta">{}</p>"#, parts.join(" · "));
}

fn verdict(out: &mut String, report: &ValidationReport) {
    let mut details = Vec::new();
    if let Some(s) = &report.schema {
        let errors = s
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = s.findings.len() - errors;
        details.push(format!(
            "schema: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        ));
    }
    if let Some(suite) = &report.suite {
        let st = &suite.statistics;
        details.push(format!(
            "expectations: {} of {} passed",
            st.successful_expectations, st.evaluated_expectations
        ));
    }
    let (class, word) = if report.success() {
        ("good", "PASSED")
    } else {
        ("bad", "FAILED")
    };
    let _ = write!(
        out,
        r#"<div class="verdict {class}">{word} <span class="muted">— {}</span></div>"#,
        Esc(&details.join("; "))
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn group_section(out: &mut String, name: &str, checks: &[Check], small: bool) {
    let failed = checks.iter().filter(|c| c.status != Status::Passed).count();
    let (class, word) = worst(checks).tag();
    let open = small || failed > 0;
    let _ = write!(
        out,
        r#"<details class="feature" data-name="{key}"{open}><summary><span class="name">{name}</span> <span class="tag {class}">{word}</span><span class="sub">{failed} of {n} check{s} not passed</span></summary><div class="body"><div><table><tr><th>status</th><th>check</th><th>observed</th><th>expected</th><th>unexpected values</th></tr>"#,
        key = Esc(&search_key(name)),
        name = Esc(name),
        open = if open { " open" } else { "" },
        n = checks.len(),
        s = plural(checks.len()),
    );
    for c in checks {
        let (class, word) = c.status.tag();
        let _ = write!(
            out,
            r#"<tr><td><span class="tag {class}">{word}</span></td><td><code>{}</code><br><span class="muted">{}</span>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            Esc(&c.name),
            c.source,
            if c.note.is_empty() {
                String::new()
            } else {
                format!("<br>{}", Esc(&c.note))
            },
            Esc(&c.observed),
            Esc(&c.expected),
            c.unexpected
                .iter()
                .map(|u| format!("<code>{}</code>", Esc(u)))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    out.push_str("</table></div></div></details>\n");
}

fn cut(text: String) -> String {
    if text.chars().count() > VALUE_CHARS {
        let mut s: String = text.chars().take(VALUE_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        text
    }
}

fn show(v: &Json) -> String {
    cut(match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    })
}

fn finding_check(f: &Finding) -> Check {
    let mut note = f.explanation.clone();
    if let Some(slice) = &f.slice {
        note = format!("slice {slice}: {note}");
    }
    Check {
        status: match f.severity {
            Severity::Error => Status::Error,
            Severity::Warning => Status::Warning,
        },
        source: "schema",
        name: f.kind.as_str().to_string(),
        observed: show(&f.observed),
        expected: show(&f.expected),
        unexpected: Vec::new(),
        note,
    }
}

fn expectation_group(r: &ExpectationResult) -> String {
    let kwargs = &r.expectation_config.kwargs;
    if let Some(Json::String(c)) = kwargs.get("column") {
        return c.clone();
    }
    // `column_set` is the table's whole column list (a table expectation).
    let named: Vec<String> = ["column_A", "column_B", "column_list"]
        .iter()
        .filter_map(|k| kwargs.get(*k))
        .flat_map(|v| match v {
            Json::Array(items) => items.iter().map(show).collect(),
            other => vec![show(other)],
        })
        .collect();
    if named.is_empty() {
        TABLE_GROUP.into()
    } else {
        named.join(", ")
    }
}

fn expectation_check(r: &ExpectationResult) -> Check {
    let res = &r.result;
    let status = match (r.success, r.exception_info.raised_exception) {
        (true, _) => Status::Passed,
        (false, true) => Status::Error,
        (false, false) => Status::Failed,
    };
    let observed = if let Some(message) = &r.exception_info.exception_message {
        format!("error: {message}")
    } else if let Some(n) = res.get("unexpected_count").and_then(Json::as_f64) {
        let percent = res
            .get("unexpected_percent")
            .and_then(Json::as_f64)
            .map(|p| format!(" ({p:.3}%)"))
            .unwrap_or_default();
        let of = res
            .get("element_count")
            .and_then(Json::as_f64)
            .map(|e| format!(" of {}", count(e)))
            .unwrap_or_default();
        format!("{} unexpected{of}{percent}", count(n))
    } else {
        res.get("observed_value").map(show).unwrap_or_default()
    };
    let expected = r
        .expectation_config
        .kwargs
        .iter()
        .filter(|(k, _)| !COLUMN_KEYS.contains(&k.as_str()) && k.as_str() != "result_format")
        .map(|(k, v)| format!("{k}={}", show(v)))
        .collect::<Vec<_>>()
        .join(", ");
    let unexpected = match (
        res.get("partial_unexpected_counts"),
        res.get("partial_unexpected_list"),
    ) {
        (Some(Json::Array(counts)), _) if !counts.is_empty() => counts
            .iter()
            .take(UNEXPECTED_SHOWN)
            .map(|c| {
                let value = c.get("value").map(show).unwrap_or_default();
                match c.get("count").and_then(Json::as_f64) {
                    Some(n) => format!("{value} ×{}", count(n)),
                    None => value,
                }
            })
            .collect(),
        // A sample of rows: each distinct value once, in order of appearance.
        (_, Some(Json::Array(list))) => {
            let mut seen: Vec<String> = Vec::new();
            for v in list.iter().map(show) {
                if !seen.contains(&v) && seen.len() < UNEXPECTED_SHOWN {
                    seen.push(v);
                }
            }
            seen
        }
        _ => Vec::new(),
    };
    Check {
        status,
        source: "expectation",
        name: cut(r.expectation_config.type_name.clone()),
        observed: cut(observed),
        expected: cut(expected),
        unexpected,
        note: String::new(),
    }
}
