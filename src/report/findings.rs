//! Rendering of validation findings: a readable table and the JSON report.
//!
//! The JSON report of `assay validate` is one object so that the results of
//! other checks (expectation suites) can sit alongside the schema's:
//!
//! ```json
//! {
//!   "success": false,
//!   "schema_summary": { "environment": "serving", "rows": 10000, "errors": 1, "warnings": 0 },
//!   "schema_findings": [ { "kind": "out_of_domain", "severity": "error", ... } ]
//! }
//! ```

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::checks::anomalies::thousands;
use crate::checks::{Finding, Severity};

/// What the findings were checked against, for the report's summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaRun<'a> {
    pub environment: Option<&'a str>,
    /// Rows of the validated data (the whole dataset).
    pub rows: u64,
}

/// The JSON report of a schema validation. Serialize it as it is, or
/// `#[serde(flatten)]` it into a larger report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaReport<'a> {
    /// No finding of severity error.
    pub success: bool,
    pub schema_summary: SchemaSummary<'a>,
    pub schema_findings: &'a [Finding],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaSummary<'a> {
    pub environment: Option<&'a str>,
    pub rows: u64,
    pub errors: usize,
    pub warnings: usize,
}

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

/// The report of `findings` from checking data described by `run`.
pub fn schema_report<'a>(findings: &'a [Finding], run: &SchemaRun<'a>) -> SchemaReport<'a> {
    let errors = count(findings, Severity::Error);
    SchemaReport {
        success: errors == 0,
        schema_summary: SchemaSummary {
            environment: run.environment,
            rows: run.rows,
            errors,
            warnings: count(findings, Severity::Warning),
        },
        schema_findings: findings,
    }
}

/// A headline, then one row per finding: severity, kind, feature, slice
/// (only when some finding has one) and the explanation.
pub fn findings_table(findings: &[Finding], run: &SchemaRun) -> String {
    let errors = count(findings, Severity::Error);
    let warnings = count(findings, Severity::Warning);
    let env = run
        .environment
        .map(|e| format!(", environment {e}"))
        .unwrap_or_default();
    let headline = format!(
        "schema: {} rows{env}: {}, {}",
        thousands(run.rows),
        plural(errors, "error"),
        plural(warnings, "warning")
    );
    if findings.is_empty() {
        return format!("{headline}\nno schema anomalies\n");
    }
    let sliced = findings.iter().any(|f| f.slice.is_some());
    let mut header = vec!["severity", "kind", "feature"];
    if sliced {
        header.push("slice");
    }
    header.push("explanation");
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    for f in findings {
        let mut row = vec![
            f.severity.as_str().to_string(),
            f.kind.as_str().to_string(),
            f.feature.clone().unwrap_or_else(|| "(dataset)".to_string()),
        ];
        if sliced {
            row.push(f.slice.clone().unwrap_or_else(|| "(all)".to_string()));
        }
        row.push(f.explanation.clone());
        table.add_row(row);
    }
    format!("{headline}\n{table}\n")
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The schema findings as a JUnit suite: one case per finding (errors fail,
/// warnings pass with their explanation in the name), or one passing case
/// when there is none, so CI shows that the schema was checked.
pub fn findings_junit(findings: &[Finding], schema_name: &str) -> super::junit::JunitSuite {
    let mut suite = super::junit::JunitSuite::new();
    if findings.is_empty() {
        suite.case(schema_name, "no schema anomalies", None, false);
    }
    for f in findings {
        let mut name = f.kind.as_str().to_string();
        if let Some(feature) = &f.feature {
            name.push_str(&format!(" {feature}"));
        }
        if let Some(slice) = &f.slice {
            name.push_str(&format!(" [{slice}]"));
        }
        match f.severity {
            Severity::Error => {
                let body = serde_json::to_string_pretty(f).unwrap_or_default();
                suite.case(
                    schema_name,
                    &name,
                    Some((f.kind.as_str(), &f.explanation, &body)),
                    false,
                );
            }
            Severity::Warning => suite.case(
                schema_name,
                &format!("{name} (warning: {})", f.explanation),
                None,
                false,
            ),
        }
    }
    suite
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::checks::FindingKind;

    fn schema_findings_json(findings: &[Finding], run: &SchemaRun) -> Value {
        serde_json::to_value(schema_report(findings, run)).unwrap()
    }

    fn finding(severity: Severity, slice: Option<&str>) -> Finding {
        Finding {
            kind: FindingKind::OutOfDomain,
            severity,
            feature: Some("purpose".into()),
            slice: slice.map(str::to_string),
            observed: json!({ "fraction": 0.2 }),
            expected: json!({ "max_fraction": 0.0 }),
            explanation: "20% of values are outside the domain".into(),
        }
    }

    #[test]
    fn json_report_counts_and_succeeds_only_without_errors() {
        let run = SchemaRun {
            environment: Some("serving"),
            rows: 12_345,
        };
        let warn = schema_findings_json(&[finding(Severity::Warning, None)], &run);
        assert_eq!(warn["success"], json!(true));
        assert_eq!(warn["schema_summary"]["warnings"], json!(1));
        let err = schema_findings_json(
            &[
                finding(Severity::Error, None),
                finding(Severity::Warning, None),
            ],
            &run,
        );
        assert_eq!(err["success"], json!(false));
        assert_eq!(err["schema_summary"]["errors"], json!(1));
        assert_eq!(err["schema_summary"]["environment"], json!("serving"));
        assert_eq!(err["schema_summary"]["rows"], json!(12_345));
        assert!(findings_table(&[], &run).starts_with("schema: 12,345 rows, environment serving"));
        assert_eq!(err["schema_findings"][0]["kind"], json!("out_of_domain"));
        assert_eq!(err["schema_findings"][0]["feature"], json!("purpose"));
    }

    #[test]
    fn table_shows_a_slice_column_only_when_needed() {
        let run = SchemaRun::default();
        let plain = findings_table(&[finding(Severity::Error, None)], &run);
        assert!(plain.contains("1 error, 0 warnings"), "{plain}");
        assert!(
            plain.contains("out_of_domain") && !plain.contains("slice"),
            "{plain}"
        );
        let sliced = findings_table(
            &[
                finding(Severity::Error, None),
                finding(Severity::Warning, Some("sex=F")),
            ],
            &run,
        );
        assert!(
            sliced.contains("sex=F") && sliced.contains("(all)"),
            "{sliced}"
        );
        let empty = findings_table(&[], &run);
        assert!(empty.contains("no schema anomalies"), "{empty}");
    }
}
