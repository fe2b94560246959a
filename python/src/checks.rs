//! Schema inference, validation and drift: the CLI's `infer`, `validate`
//! and `drift`, on Python data or profiles, returning the CLI's JSON.

use arrow::record_batch::RecordBatchReader;
use assay::checks::anomalies::{applicable_slices, check_environment};
use assay::checks::compare::{self, CompareOptions, Comparison, Side};
use assay::checks::drift::Method;
use assay::checks::schema_anomalies;
use assay::expectations::{self, ResultLevel, Suite};
use assay::profile::{Profile, ProfileOptions};
use assay::report::comparison_json;
use assay::schema::{self, InferOptions, Schema, infer_with_notes, to_toml_string_with_notes};
use assay::validation::{SchemaOutcome, ValidationReport};
use pyo3::prelude::*;

use crate::errors::{AssayError, to_py};
use crate::profile::{PyProfile, Request, profile_reader};
use crate::stream;

/// A schema or suite as Python gives it: its text and a name for messages
/// (the file's path, or `<schema>`).
#[derive(FromPyObject)]
pub struct Text(String, String);

impl Text {
    fn text(&self) -> &str {
        &self.0
    }
    fn name(&self) -> &str {
        &self.1
    }
}

fn parse_schema(py: Python<'_>, schema: Option<Text>) -> PyResult<Option<Schema>> {
    schema
        .map(|s| {
            py.detach(|| schema::parse(s.text(), s.name()))
                .map_err(to_py)
        })
        .transpose()
}

fn parse_suite(
    py: Python<'_>,
    suite: Option<Text>,
    result_format: Option<&str>,
) -> PyResult<Option<Suite>> {
    let Some(suite) = suite else {
        return Ok(None);
    };
    // As the CLI decides for files: `.json` (or JSON text) is a Great
    // Expectations suite, anything else native TOML.
    let is_json = suite.name().to_ascii_lowercase().ends_with(".json")
        || suite.text().trim_start().starts_with('{');
    let mut parsed = py
        .detach(|| {
            if is_json {
                expectations::parse_json(suite.text(), suite.name())
            } else {
                expectations::parse_toml(suite.text(), suite.name())
            }
        })
        .map_err(to_py)?;
    if let Some(text) = result_format {
        let level = ResultLevel::parse(text).ok_or_else(|| {
            AssayError::new_err(format!(
                "result_format={text:?}: expected BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE"
            ))
        })?;
        parsed.set_default_result_format(level);
    }
    Ok(Some(parsed))
}

/// `assay infer`: the schema as JSON (`toml=False`, the CLI's `--format
/// json`) or as the commented TOML the CLI writes for review.
#[pyfunction]
#[pyo3(signature = (profile, *, ranges = false, max_domain_size = None, max_int_categories = None, categorical = Vec::new(), toml = false))]
pub fn infer_schema(
    py: Python<'_>,
    profile: PyRef<'_, PyProfile>,
    ranges: bool,
    max_domain_size: Option<usize>,
    max_int_categories: Option<usize>,
    categorical: Vec<String>,
    toml: bool,
) -> PyResult<String> {
    let defaults = InferOptions::default();
    let options = InferOptions {
        ranges,
        max_domain_size: max_domain_size.unwrap_or(defaults.max_domain_size),
        max_int_categories: max_int_categories.unwrap_or(defaults.max_int_categories),
        categorical,
        ..defaults
    };
    let profile = &profile.inner;
    schema::infer::check_hints(profile, &options)
        .map_err(|e| AssayError::new_err(format!("categorical: {e}")))?;
    py.detach(|| {
        let inferred = infer_with_notes(profile, &options);
        if toml {
            Ok(to_toml_string_with_notes(&inferred.schema, &inferred.notes))
        } else {
            serde_json::to_string(&inferred.schema)
                .map_err(|e| AssayError::new_err(format!("serializing the schema: {e}")))
        }
    })
}

/// Data to check: a saved profile, or anything with `__arrow_c_stream__`.
enum Input {
    Saved(Profile),
    Data(arrow::ffi_stream::RecordBatchStreamReader),
}

fn input(data: &Bound<'_, PyAny>) -> PyResult<Input> {
    match data.cast::<PyProfile>() {
        Ok(p) => Ok(Input::Saved(p.get().inner.clone())),
        Err(_) => Ok(Input::Data(stream::import(data)?)),
    }
}

/// Profiles data with the schema's slices whose columns it has (a missing
/// slice column is a finding, not a reason to stop), keeping the batches
/// when row-level checks need them.
fn profile_for(
    py: Python<'_>,
    reader: arrow::ffi_stream::RecordBatchStreamReader,
    source: &str,
    schema: Option<&Schema>,
    extra_slices: Vec<Vec<String>>,
    keep: bool,
) -> PyResult<(
    Profile,
    Vec<arrow::record_batch::RecordBatch>,
    arrow::datatypes::SchemaRef,
)> {
    let arrow_schema = reader.schema();
    let mut slices = extra_slices;
    if let Some(schema) = schema {
        let columns: Vec<&str> = arrow_schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        slices.extend(applicable_slices(schema, &columns));
    }
    slices.sort();
    slices.dedup();
    let request = Request {
        source: source.to_string(),
        options: ProfileOptions {
            slices,
            ..ProfileOptions::default()
        },
    };
    let (profile, batches) = profile_reader(py, reader, &request, keep)?;
    Ok((profile, batches, arrow_schema))
}

/// `assay validate`: the JSON report and its HTML page.
#[pyfunction]
#[pyo3(signature = (data, source, schema = None, suite = None, environment = None, result_format = None))]
pub fn validate(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    source: &str,
    schema: Option<Text>,
    suite: Option<Text>,
    environment: Option<&str>,
    result_format: Option<&str>,
) -> PyResult<(String, String, bool)> {
    if schema.is_none() && suite.is_none() {
        return Err(AssayError::new_err(
            "validate needs a schema, a suite or both",
        ));
    }
    let schema_name = schema.as_ref().map(|s| s.name().to_string());
    let schema = parse_schema(py, schema)?;
    let suite = parse_suite(py, suite, result_format)?;
    if let (Some(env), Some(schema)) = (environment, &schema) {
        check_environment(schema, env)
            .map_err(|e| AssayError::new_err(format!("environment={env:?}: {e}")))?;
    }
    let input = input(data)?;
    let (profile, batches, arrow_schema) = match input {
        Input::Saved(p) => (p, Vec::new(), None),
        Input::Data(reader) => {
            let (p, b, s) = profile_for(
                py,
                reader,
                source,
                schema.as_ref(),
                Vec::new(),
                suite.is_some(),
            )?;
            (p, b, Some(s))
        }
    };
    py.detach(|| {
        let mut report = ValidationReport::default();
        if let (Some(schema), Some(file)) = (&schema, schema_name) {
            report.schema = Some(SchemaOutcome {
                file,
                environment: environment.map(str::to_string),
                rows: profile.rows,
                findings: schema_anomalies(&profile, schema, environment),
            });
        }
        if let Some(suite) = &suite {
            report.suite = Some(match &arrow_schema {
                None => expectations::evaluate_profile(suite, &profile),
                Some(arrow_schema) => expectations::evaluate_batches_with_schema(
                    suite,
                    arrow_schema.clone(),
                    &batches,
                )
                .map_err(to_py)?,
            });
        }
        finish_validation(&report)
    })
}

/// Validates a saved profile (table and aggregate expectations and the
/// schema) and merges in row-level results counted elsewhere; used by the
/// Spark integration, whose partitions count their unexpected rows.
pub fn finish_validation(report: &ValidationReport) -> PyResult<(String, String, bool)> {
    let json = serde_json::to_string(&report.to_json())
        .map_err(|e| AssayError::new_err(format!("serializing the report: {e}")))?;
    let html = assay::report::html::validation_html(report);
    Ok((json, html, report.success()))
}

/// `assay drift`: the JSON report and its HTML page.
#[pyfunction]
#[pyo3(signature = (reference, current, reference_label, current_label, schema = None, method = None, all_methods = false, slices = Vec::new()))]
#[allow(clippy::too_many_arguments)]
pub fn drift(
    py: Python<'_>,
    reference: &Bound<'_, PyAny>,
    current: &Bound<'_, PyAny>,
    reference_label: &str,
    current_label: &str,
    schema: Option<Text>,
    method: Option<&str>,
    all_methods: bool,
    slices: Vec<Vec<String>>,
) -> PyResult<(String, String, bool)> {
    let method = method
        .map(|name| {
            Method::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
                AssayError::new_err(format!(
                    "method={name:?}: unknown method; expected one of {}",
                    names.join(", ")
                ))
            })
        })
        .transpose()?;
    let schema = parse_schema(py, schema)?;
    let (reference, current) = (input(reference)?, input(current)?);
    // Both sides are sliced alike: the slices asked for, the schema's, and
    // a saved side's.
    let mut specs = slices;
    for side in [&reference, &current] {
        if let Input::Saved(p) = side {
            specs.extend(p.slice_specs.iter().cloned());
        }
    }
    let side = |input: Input, label: &str| -> PyResult<Profile> {
        match input {
            Input::Saved(p) => Ok(p),
            Input::Data(reader) => {
                Ok(profile_for(py, reader, label, schema.as_ref(), specs.clone(), false)?.0)
            }
        }
    };
    let reference = side(reference, reference_label)?;
    let current = side(current, current_label)?;
    py.detach(|| {
        let options = CompareOptions {
            method,
            all_methods,
            ..CompareOptions::new(Comparison::Drift)
        };
        let plan = compare::plan(&reference, &current, schema.as_ref(), &options).map_err(to_py)?;
        let report = compare::compare(
            &plan,
            Side {
                label: reference_label,
                profile: &reference,
                exact: None,
            },
            Side {
                label: current_label,
                profile: &current,
                exact: None,
            },
        )
        .map_err(to_py)?;
        let json = serde_json::to_string(&comparison_json(&report))
            .map_err(|e| AssayError::new_err(format!("serializing the report: {e}")))?;
        let html = assay::report::html::comparison_html(&report, &reference, &current);
        Ok((json, html, !report.drifted()))
    })
}

/// The schema's slices whose columns `columns` has (the Spark integration
/// profiles with them before validating).
#[pyfunction]
pub fn schema_slices(
    py: Python<'_>,
    schema: Text,
    columns: Vec<String>,
) -> PyResult<Vec<Vec<String>>> {
    let schema = parse_schema(py, Some(schema))?.expect("a schema was given");
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    Ok(applicable_slices(&schema, &columns))
}
