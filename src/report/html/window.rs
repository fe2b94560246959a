//! The daemon's page of one closed window (`GET /ui/reports/{id}`): the
//! window's report file (`reports/ID.json`, what `GET /v1/reports/{id}`
//! serves) rendered with the same sections as the CLI's pages —
//! validation, skew against the baseline, drift against the previous
//! window — under one search box.

use std::fmt::Write;

use serde::Deserialize;
use serde_json::Value as Json;

use super::drift::comparison_body;
use super::validate::validation_body;
use super::{Esc, count, page, tools};
use crate::checks::Finding;
use crate::checks::compare::ComparisonReport;
use crate::expectations::SuiteResult;
use crate::profile::Profile;
use crate::validation::{SchemaOutcome, ValidationReport};

/// The report file of a closed window, as the daemon writes it.
#[derive(Debug, Deserialize)]
pub struct WindowReport {
    pub id: String,
    pub model: String,
    pub start: String,
    pub end: Option<String>,
    pub rows: u64,
    pub batches: u64,
    pub alerts: bool,
    pub validation: Json,
    pub skew: Option<ComparisonReport>,
    pub drift: Option<ComparisonReport>,
}

/// The profiles the window's distributions are drawn from; any may be
/// missing (a chart then says so).
#[derive(Default)]
pub struct WindowProfiles<'a> {
    pub window: Option<&'a Profile>,
    pub baseline: Option<&'a Profile>,
    pub previous: Option<&'a Profile>,
}

/// The validation part of the report file back as a [`ValidationReport`]:
/// the suite's result is the top level (Great Expectations' shape), the
/// schema's findings sit under `schema_findings`.
fn validation(json: &Json) -> ValidationReport {
    let suite = json
        .get("results")
        .and_then(|_| serde_json::from_value::<SuiteResult>(json.clone()).ok());
    let schema = json.get("schema_findings").map(|findings| SchemaOutcome {
        file: "the model's schema".into(),
        environment: json["schema_summary"]["environment"]
            .as_str()
            .map(str::to_string),
        rows: json["schema_summary"]["rows"].as_u64().unwrap_or(0),
        findings: serde_json::from_value::<Vec<Finding>>(findings.clone()).unwrap_or_default(),
    });
    ValidationReport { schema, suite }
}

/// The window's page. The report file's bytes are parsed here: a file
/// that does not parse is an error for the caller to report.
pub fn window_html(report: &[u8], profiles: &WindowProfiles) -> Result<String, serde_json::Error> {
    let w: WindowReport = serde_json::from_slice(report)?;
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<p class="meta"><a href="/">all models</a></p><h1>Window {}</h1><p class="meta">model <code>{}</code> · {} – {} · {} rows in {} batches{}</p>"#,
        Esc(&w.id),
        Esc(&w.model),
        Esc(&w.start),
        Esc(w.end.as_deref().unwrap_or("open")),
        count(w.rows as f64),
        count(w.batches as f64),
        if w.alerts {
            r#" · <span class="tag bad">alerts</span>"#
        } else {
            r#" · <span class="tag good">no alerts</span>"#
        },
    );
    let compared: usize = [&w.skew, &w.drift]
        .into_iter()
        .flatten()
        .map(|c| c.features.len())
        .sum();
    tools(&mut body, compared, "features compared");
    body.push_str("<h2>Validation</h2>");
    body.push_str(&validation_body(&validation(&w.validation), false));
    if let Some(skew) = &w.skew {
        body.push_str("<h2>Skew against the baseline</h2>");
        body.push_str(&comparison_body(
            skew,
            profiles.baseline,
            profiles.window,
            false,
            "s",
        ));
    }
    if let Some(drift) = &w.drift {
        body.push_str("<h2>Drift against the previous window</h2>");
        body.push_str(&comparison_body(
            drift,
            profiles.previous,
            profiles.window,
            false,
            "d",
        ));
    }
    Ok(page(&format!("assay {} {}", w.model, w.id), &body))
}
