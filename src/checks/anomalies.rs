//! Schema anomalies: a profile checked against a schema, in the manner of
//! TensorFlow Data Validation's `validate_statistics`.
//!
//! [`schema_anomalies`] is a pure function of a profile, a schema and an
//! optional environment. It reads the profile's summary statistics and, where
//! they are needed exactly (values outside a domain, strings that should be
//! numbers), the accumulator state: exact per-value counts for columns with
//! at most 4,096 distinct values, frequent-items and HLL sketches beyond.
//!
//! # What is checked, and where
//! - The **whole dataset**: every check below.
//! - **Each slice** of the profile: the per-value checks (presence fraction,
//!   all values missing, domain, NaN / infinity, range, list value counts).
//!   Checks whose thresholds depend on the dataset's size (row bounds,
//!   `min_count`, distinct-value bounds) and structural checks (columns,
//!   types, environments, which slices share with the whole dataset) are
//!   made on the whole dataset only. A slice's own key columns are not
//!   checked in that slice: they are constant there by construction.
//!
//! As in TFDV, a feature absent from the data (or present without a single
//! value) is only reported when its `presence` asks for values (`required`,
//! `min_fraction` > 0 or `min_count` > 0).
//!
//! # Severity
//! Structural problems are errors: a missing, new or retyped column, a
//! feature in the wrong environment, a feature with no values at all, a row
//! count out of bounds. A value check is an error when the share of values
//! breaking it exceeds what the schema allows, and a warning when values
//! break the rule but within the schema's allowance: values outside the
//! domain within `1 - min_domain_mass`, values past a range bound by at most
//! `range_tolerance` of the range's width. Only errors fail `assay validate`.

mod values;

use serde_json::{Value, json};

use super::finding::{Finding, FindingKind, Severity};
use crate::profile::{ColumnProfile, LogicalType, Profile};
use crate::schema::{FeatureSchema, Schema};
use values::{
    check_distinct, check_domain, check_non_finite, check_range, check_strings_for_typed,
    check_value_counts,
};

/// Unexpected values listed per finding, most frequent first.
pub const TOP_UNEXPECTED: usize = 10;

/// Checks `profile` against `schema` for data from `environment` (`None`:
/// unknown origin, where features restricted to some environments are
/// optional). Findings come in a stable order: dataset-level, then the
/// schema's features in file order, then columns the schema does not know,
/// then the same per slice, in the profile's slice order.
pub fn schema_anomalies(
    profile: &Profile,
    schema: &Schema,
    environment: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let whole = Scope {
        slice: None,
        rows: profile.rows,
        key_columns: Vec::new(),
    };
    check_rows(&whole, schema, &mut out);
    for feature in &schema.features {
        let expected = schema.expects(feature, environment);
        match profile.column(&feature.name) {
            None if expected && presence_demanded(feature) => out.push(whole.finding(
                FindingKind::MissingColumn,
                Severity::Error,
                Some(&feature.name),
                json!("absent"),
                json!({ "type": feature.logical_type.as_str() }),
                match environment {
                    Some(env) => format!(
                        "column is missing; the schema expects a {} feature in {env} data",
                        feature.logical_type.as_str()
                    ),
                    None => format!(
                        "column is missing; the schema expects a {} feature",
                        feature.logical_type.as_str()
                    ),
                },
            )),
            None => {}
            Some(_) if !expected && environment.is_some() => out.push(whole.finding(
                FindingKind::FeatureInWrongEnvironment,
                Severity::Error,
                Some(&feature.name),
                json!("present"),
                json!("absent"),
                format!(
                    "column is present, but the schema says it is not part of {} data ({})",
                    environment.unwrap_or_default(),
                    describe_environments(feature)
                ),
            )),
            Some(column) => check_column(&whole, feature, column, &mut out),
        }
    }
    for column in &profile.columns {
        if schema.feature(&column.name).is_none() {
            out.push(whole.finding(
                FindingKind::NewColumn,
                Severity::Error,
                Some(&column.name),
                json!({ "type": column.logical_type.as_str() }),
                Value::Null,
                format!(
                    "{} column not in the schema; add it to the schema or drop it from the data",
                    column.logical_type.as_str()
                ),
            ));
        }
    }
    for slice in &profile.slices {
        let scope = Scope {
            slice: Some(&slice.name),
            rows: slice.rows,
            key_columns: slice.key.iter().map(|k| k.column.as_str()).collect(),
        };
        for feature in &schema.features {
            let checked = schema.expects(feature, environment) || environment.is_none();
            if !checked || scope.key_columns.contains(&feature.name.as_str()) {
                continue;
            }
            if let Some(column) = slice.columns.iter().find(|c| c.name == feature.name) {
                check_column(&scope, feature, column, &mut out);
            }
        }
    }
    out
}

/// Whether any finding fails the run.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// The schema's slice specifications that can be profiled from data with
/// these columns: a slice on a column the data lacks would stop profiling,
/// while the missing column itself is a finding, not an input error.
pub fn applicable_slices(schema: &Schema, columns: &[&str]) -> Vec<Vec<String>> {
    schema
        .slices
        .iter()
        .filter(|spec| spec.iter().all(|c| columns.contains(&c.as_str())))
        .cloned()
        .collect()
}

/// Checks that `environment` is one the schema declares (any name is
/// accepted when the schema declares none).
pub fn check_environment(schema: &Schema, environment: &str) -> Result<(), String> {
    if schema.environments.is_empty() || schema.environments.iter().any(|e| e == environment) {
        return Ok(());
    }
    Err(format!(
        "unknown environment `{environment}`: the schema declares {}",
        schema
            .environments
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The whole dataset or one slice.
struct Scope<'a> {
    slice: Option<&'a str>,
    rows: u64,
    key_columns: Vec<&'a str>,
}

impl Scope<'_> {
    fn is_whole(&self) -> bool {
        self.slice.is_none()
    }

    fn finding(
        &self,
        kind: FindingKind,
        severity: Severity,
        feature: Option<&str>,
        observed: Value,
        expected: Value,
        explanation: String,
    ) -> Finding {
        Finding {
            kind,
            severity,
            feature: feature.map(str::to_string),
            slice: self.slice.map(str::to_string),
            observed,
            expected,
            explanation,
        }
    }
}

fn describe_environments(feature: &FeatureSchema) -> String {
    let envs = &feature.environments;
    if !envs.in_.is_empty() {
        format!("environments.in = [{}]", envs.in_.join(", "))
    } else {
        format!("environments.not_in = [{}]", envs.not_in.join(", "))
    }
}

fn check_rows(scope: &Scope, schema: &Schema, out: &mut Vec<Finding>) {
    let rows = scope.rows;
    if let Some(min) = schema.dataset.min_rows
        && rows < min
    {
        out.push(scope.finding(
            FindingKind::TooFewRows,
            Severity::Error,
            None,
            json!(rows),
            json!({ "min_rows": min }),
            format!(
                "{} rows; the schema requires at least {}",
                thousands(rows),
                thousands(min)
            ),
        ));
    }
    if let Some(max) = schema.dataset.max_rows
        && rows > max
    {
        out.push(scope.finding(
            FindingKind::TooManyRows,
            Severity::Error,
            None,
            json!(rows),
            json!({ "max_rows": max }),
            format!(
                "{} rows; the schema allows at most {}",
                thousands(rows),
                thousands(max)
            ),
        ));
    }
}

/// How the data's column type relates to the schema's.
enum TypeFit {
    Same,
    /// Int data for a float feature: every int is a float (a CSV column of
    /// whole numbers is read as int), so the values are checked as numbers.
    Widened,
    /// String data for a bool, int or float feature.
    Strings,
    Mismatch,
}

fn type_fit(expected: LogicalType, found: LogicalType) -> TypeFit {
    use LogicalType::*;
    match (expected, found) {
        (e, f) if e == f => TypeFit::Same,
        (Float, Int) => TypeFit::Widened,
        (Bool | Int | Float, String) => TypeFit::Strings,
        _ => TypeFit::Mismatch,
    }
}

fn check_column(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    if !check_presence(scope, feature, column, out) {
        return;
    }
    match type_fit(feature.logical_type, column.logical_type) {
        TypeFit::Same | TypeFit::Widened => {}
        TypeFit::Strings => {
            if scope.is_whole() {
                check_strings_for_typed(scope, feature, column, out);
            }
            return;
        }
        TypeFit::Mismatch => {
            if scope.is_whole() {
                out.push(scope.finding(
                    FindingKind::UnexpectedType,
                    Severity::Error,
                    Some(&feature.name),
                    json!(column.logical_type.as_str()),
                    json!(feature.logical_type.as_str()),
                    format!(
                        "column is {} ({}); the schema expects {}",
                        column.logical_type.as_str(),
                        column.arrow_type,
                        feature.logical_type.as_str()
                    ),
                ));
            }
            return;
        }
    }
    check_domain(scope, feature, column, out);
    check_non_finite(scope, feature, column, out);
    check_range(scope, feature, column, out);
    check_value_counts(scope, feature, column, out);
    if scope.is_whole() {
        check_distinct(scope, feature, column, out);
    }
}

/// Presence and "all values missing". Returns false when the column has no
/// values, so the value checks (which would have nothing to say) are skipped.
fn check_presence(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) -> bool {
    let p = &feature.presence;
    let rows = scope.rows;
    let present = column.count;
    if rows > 0 && present == 0 {
        if presence_demanded(feature) {
            out.push(scope.finding(
                FindingKind::FeatureAllMissing,
                Severity::Error,
                Some(&feature.name),
                json!({ "count": 0, "rows": rows }),
                presence_json(feature, scope.is_whole()),
                format!("all {} values are missing (null)", thousands(rows)),
            ));
        }
        return false;
    }
    let fraction = (rows > 0).then(|| present as f64 / rows as f64);
    let mut broken = Vec::new();
    if p.required && column.null_count > 0 {
        broken.push("every row".to_string());
    }
    if let (Some(min), Some(f)) = (p.min_fraction, fraction)
        && f < min
    {
        broken.push(format!("at least {} of rows", percent(min)));
    }
    if scope.is_whole()
        && let Some(min) = p.min_count
        && present < min
    {
        let unit = if min == 1 { "row" } else { "rows" };
        broken.push(format!("at least {} {unit}", thousands(min)));
    }
    if !broken.is_empty() {
        let share = fraction.map_or_else(String::new, |f| format!("{} of rows: ", percent(f)));
        out.push(scope.finding(
            FindingKind::FeatureTooFewPresent,
            Severity::Error,
            Some(&feature.name),
            json!({ "count": present, "rows": rows, "fraction": fraction }),
            presence_json(feature, scope.is_whole()),
            format!(
                "only {share}{} of {} have a value; the schema requires a value in {}",
                thousands(present),
                thousands(rows),
                broken.join(" and in ")
            ),
        ));
    }
    present > 0
}

/// Whether the feature's `presence` asks for any value at all. As in TFDV,
/// a feature that asks nothing (e.g. inferred from a column that was
/// entirely null) may be absent or all-null without a finding.
fn presence_demanded(feature: &FeatureSchema) -> bool {
    let p = &feature.presence;
    p.required || p.min_fraction.is_some_and(|f| f > 0.0) || p.min_count.is_some_and(|c| c > 0)
}

fn presence_json(feature: &FeatureSchema, with_count: bool) -> Value {
    let p = &feature.presence;
    let mut map = serde_json::Map::new();
    map.insert("required".into(), json!(p.required));
    if let Some(f) = p.min_fraction {
        map.insert("min_fraction".into(), json!(f));
    }
    if let (Some(c), true) = (p.min_count, with_count) {
        map.insert("min_count".into(), json!(c));
    }
    Value::Object(map)
}

/// `1,234,567`
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with enough digits to be non-zero when the share
/// is: `20%`, `0.35%`, `<0.01%`.
pub(crate) fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".to_string()
    } else if p < 0.01 {
        "<0.01%".to_string()
    } else {
        let text = format!("{p:.2}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text}%")
    }
}

/// A bound or value: integers as integers, others with up to 6 significant digits.
pub(crate) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e6 || v.abs() < 1e-3 {
        format!("{v:.4e}")
    } else {
        let text = format!("{v:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests;
