//! The report of `assay validate`: schema findings and an expectation
//! suite's result, combined into one verdict and rendered as JSON (Great
//! Expectations' validation-result shape, schema findings alongside), a
//! table or JUnit XML.

use serde_json::{Map, Value as Json};

use crate::checks::Finding;
use crate::checks::anomalies::has_errors;
use crate::expectations::{SuiteResult, junit_name, junit_suite, to_table};
use crate::report::junit::document;
use crate::report::{SchemaRun, findings_junit, findings_table, schema_report};

/// The schema part of a validation.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaOutcome {
    /// The schema file, for names in JUnit output.
    pub file: String,
    pub environment: Option<String>,
    pub rows: u64,
    pub findings: Vec<Finding>,
}

/// Everything one `validate` run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationReport {
    pub schema: Option<SchemaOutcome>,
    pub suite: Option<SuiteResult>,
}

impl ValidationReport {
    /// No schema finding of severity error and every expectation met.
    pub fn success(&self) -> bool {
        let schema_ok = self
            .schema
            .as_ref()
            .is_none_or(|s| !has_errors(&s.findings));
        let suite_ok = self.suite.as_ref().is_none_or(|s| s.success);
        schema_ok && suite_ok
    }

    /// The JSON report. With a suite, the top level is GE's validation
    /// result (`success`, `statistics`, `results`, ...) so GE tooling reads
    /// it, with `schema_summary` and `schema_findings` added when a schema was
    /// checked; without a suite, the schema report alone. `success` is
    /// always the overall verdict.
    pub fn to_json(&self) -> Json {
        let mut top = match &self.suite {
            Some(suite) => match serde_json::to_value(suite) {
                Ok(Json::Object(map)) => map,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        if let Some(schema) = &self.schema {
            let run = SchemaRun {
                environment: schema.environment.as_deref(),
                rows: schema.rows,
            };
            if let Ok(Json::Object(map)) =
                serde_json::to_value(schema_report(&schema.findings, &run))
            {
                for (key, value) in map {
                    if key != "success" {
                        top.insert(key, value);
                    }
                }
            }
        }
        top.insert("success".into(), Json::Bool(self.success()));
        Json::Object(top)
    }

    /// A readable report: the schema's findings table, then the suite's.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        if let Some(schema) = &self.schema {
            let run = SchemaRun {
                environment: schema.environment.as_deref(),
                rows: schema.rows,
            };
            out.push_str(&findings_table(&schema.findings, &run));
        }
        if let Some(suite) = &self.suite {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&to_table(suite));
        }
        out
    }

    /// JUnit XML: one test suite for the schema, one for the expectations.
    pub fn to_junit(&self) -> String {
        let mut suites = Vec::new();
        if let Some(schema) = &self.schema {
            let name = format!("schema {}", schema.file);
            suites.push((name.clone(), findings_junit(&schema.findings, &name)));
        }
        if let Some(suite) = &self.suite {
            suites.push((junit_name(suite), junit_suite(suite)));
        }
        document(&suites)
    }
}
