//! Whole-schema checks: every rule a well-typed schema can still break.
//!
//! [`validate`] returns every problem at once, each tied to the key path it
//! is about, so the parser can point at the line and column in the file and
//! so a schema built in code is checked by the same rules.

use std::collections::BTreeSet;
use std::fmt;

use super::model::*;

/// One step of a key path: a table key or an array position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A rule a schema breaks, at `path` (e.g. `features.age.presence.min_fraction`).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: Vec<PathSegment>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", dotted_path(&self.path), self.message)
    }
}

/// `features."a b".domain[2]`: the path as a TOML reader would write it.
pub fn dotted_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&super::write::toml_key(k));
            }
            PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// TOML integers are signed 64-bit: larger counts could not be written back.
const MAX_TOML_INT: u64 = i64::MAX as u64;

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        Self::Key(key.to_string())
    }
}
impl From<&String> for PathSegment {
    fn from(key: &String) -> Self {
        Self::Key(key.clone())
    }
}
impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

/// `path!["features", name, "domain", 3]`
macro_rules! path {
    ($($segment:expr),* $(,)?) => { vec![$(PathSegment::from($segment)),*] };
}

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: Vec<PathSegment>, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            message: message.into(),
        });
    }
}

/// Every problem in `schema`, in file order; empty when it is valid.
pub fn validate(schema: &Schema) -> Vec<Problem> {
    let mut c = Problems::default();
    if schema.format != SCHEMA_FORMAT {
        c.add(
            path!["format"],
            format!(
                "unsupported schema format {:?}: this assay reads {SCHEMA_FORMAT:?}",
                schema.format
            ),
        );
    }
    check_environments(&mut c, schema);
    check_slices(&mut c, schema);
    check_bounds(
        &mut c,
        path!["dataset"],
        "_rows",
        schema.dataset.min_rows,
        schema.dataset.max_rows,
    );
    for (section, comparator) in [("skew", &schema.skew), ("drift", &schema.drift)] {
        if let Some(comparator) = comparator {
            check_dataset_comparator(&mut c, section, comparator);
        }
    }
    let mut seen = BTreeSet::new();
    for feature in &schema.features {
        if !seen.insert(feature.name.as_str()) {
            c.add(path!["features", &feature.name], "feature listed twice");
        }
        check_feature(&mut c, schema, feature);
    }
    c.0
}

fn check_environments(c: &mut Problems, schema: &Schema) {
    let mut declared = BTreeSet::new();
    for (i, env) in schema.environments.iter().enumerate() {
        if env.is_empty() {
            c.add(
                path!["environments", i],
                "environment names cannot be empty",
            );
        }
        if !declared.insert(env.as_str()) {
            c.add(
                path!["environments", i],
                format!("environment {env:?} declared twice"),
            );
        }
    }
    for (i, env) in schema.default_environments.iter().enumerate() {
        if !declared.contains(env.as_str()) {
            c.add(
                path!["default_environments", i],
                unknown_environment(env, &schema.environments),
            );
        }
    }
}

fn unknown_environment(env: &str, declared: &[String]) -> String {
    if declared.is_empty() {
        format!("unknown environment {env:?}: declare it in the top-level `environments` list")
    } else {
        let declared: Vec<String> = declared.iter().map(|s| format!("{s:?}")).collect();
        format!(
            "unknown environment {env:?}: the schema declares {}",
            declared.join(", ")
        )
    }
}

fn check_slices(c: &mut Problems, schema: &Schema) {
    for (i, slice) in schema.slices.iter().enumerate() {
        if slice.is_empty() {
            c.add(path!["slices", i], "a slice needs at least one column");
        }
        let mut seen = BTreeSet::new();
        for (j, column) in slice.iter().enumerate() {
            if !seen.insert(column.as_str()) {
                c.add(
                    path!["slices", i, j],
                    format!("column {column:?} listed twice in one slice"),
                );
            } else if schema.feature(column).is_none() {
                c.add(
                    path!["slices", i, j],
                    format!("slice column {column:?} is not a feature of the schema"),
                );
            }
        }
    }
}

fn check_dataset_comparator(c: &mut Problems, section: &str, comparator: &DatasetComparator) {
    if let Some(share) = comparator.max_drifted_share
        && !(0.0..=1.0).contains(&share)
    {
        c.add(
            path![section, "max_drifted_share"],
            format!("must be a share between 0 and 1, found {share}"),
        );
    }
    if let Some(effect) = comparator.min_effect
        && (effect.is_nan() || effect < 0.0)
    {
        c.add(
            path![section, "min_effect"],
            format!("must be a non-negative distance, found {effect}"),
        );
    }
    check_int_fits(c, path![section, "min_samples"], comparator.min_samples);
}

fn check_int_fits(c: &mut Problems, at: Vec<PathSegment>, n: Option<u64>) {
    if let Some(n) = n
        && n > MAX_TOML_INT
    {
        c.add(
            at,
            format!("{n} is larger than the largest TOML integer ({MAX_TOML_INT})"),
        );
    }
}

/// `min{suffix} <= max{suffix}`, both representable in TOML.
fn check_bounds(
    c: &mut Problems,
    at: Vec<PathSegment>,
    suffix: &str,
    min: Option<u64>,
    max: Option<u64>,
) {
    check_int_fits(c, sub(&at, &format!("min{suffix}")), min);
    check_int_fits(c, sub(&at, &format!("max{suffix}")), max);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        c.add(
            at,
            format!("min{suffix} ({lo}) is greater than max{suffix} ({hi})"),
        );
    }
}

fn sub(at: &[PathSegment], key: &str) -> Vec<PathSegment> {
    let mut path = at.to_vec();
    path.push(PathSegment::from(key));
    path
}

fn check_feature(c: &mut Problems, schema: &Schema, f: &FeatureSchema) {
    let at = |key: &str| path!["features", &f.name, key];
    let ty = f.logical_type;

    if f.name.is_empty() {
        c.add(path!["features", &f.name], "a feature name cannot be empty");
    }
    if f.categorical && ty != LogicalType::Int {
        let why = if ty == LogicalType::String {
            "is categorical when it has a domain"
        } else {
            "cannot be categorical"
        };
        c.add(
            at("categorical"),
            format!(
                "`categorical` is for int features (a {} feature {why})",
                ty.as_str()
            ),
        );
    }
    for (key, value) in [("allow_nan", f.allow_nan), ("allow_inf", f.allow_inf)] {
        if value.is_some() && ty != LogicalType::Float {
            c.add(
                at(key),
                format!("`{key}` is only for float features, not {}", ty.as_str()),
            );
        }
    }
    if let Some(domain) = &f.domain {
        check_domain(c, at("domain"), f, domain);
    }
    if let Some(mass) = f.min_domain_mass {
        if f.domain.is_none() {
            c.add(
                at("min_domain_mass"),
                "`min_domain_mass` needs a `domain` to measure against",
            );
        } else if !(0.0..=1.0).contains(&mass) {
            c.add(
                at("min_domain_mass"),
                format!("must be a share between 0 and 1, found {mass}"),
            );
        }
    }
    if let Some(tolerance) = f.range_tolerance {
        if f.range.is_none() {
            c.add(
                at("range_tolerance"),
                "`range_tolerance` needs a `range` to apply to",
            );
        } else if !(tolerance >= 0.0 && tolerance.is_finite()) {
            c.add(
                at("range_tolerance"),
                format!(
                    "must be a finite share of the range's width, 0 or more, found {tolerance}"
                ),
            );
        }
    }

    let presence = &f.presence;
    if let Some(fraction) = presence.min_fraction {
        let at = sub(&at("presence"), "min_fraction");
        if !(0.0..=1.0).contains(&fraction) {
            c.add(at, format!("must be between 0 and 1, found {fraction}"));
        } else if presence.required && fraction < 1.0 {
            c.add(
                at,
                format!("{fraction} contradicts `required = true`, which means every row has a value (a fraction of 1)"),
            );
        }
    }
    check_int_fits(c, sub(&at("presence"), "min_count"), presence.min_count);

    if let Some(bounds) = &f.value_count {
        if ty != LogicalType::List {
            c.add(
                at("value_count"),
                format!(
                    "`value_count` is only for list features, not {}",
                    ty.as_str()
                ),
            );
        }
        check_bounds(c, at("value_count"), "", bounds.min, bounds.max);
    }
    if let Some(bounds) = &f.distinct {
        check_bounds(c, at("distinct"), "", bounds.min, bounds.max);
    }
    if let Some(range) = &f.range {
        if !ty.is_numeric() {
            c.add(
                at("range"),
                format!(
                    "`range` is only for int and float features, not {}",
                    ty.as_str()
                ),
            );
        }
        for (key, bound) in [("min", range.min), ("max", range.max)] {
            if bound.is_some_and(f64::is_nan) {
                c.add(sub(&at("range"), key), "a range bound cannot be NaN");
            }
        }
        if let (Some(lo), Some(hi)) = (range.min, range.max)
            && lo > hi
        {
            c.add(
                at("range"),
                format!("min ({lo}) is greater than max ({hi})"),
            );
        }
    }

    let envs = &f.environments;
    if !envs.in_.is_empty() && !envs.not_in.is_empty() {
        c.add(
            at("environments"),
            "set either `in` or `not_in`, not both: `in` already lists every environment the feature is in",
        );
    }
    for (key, list) in [("in", &envs.in_), ("not_in", &envs.not_in)] {
        for (i, env) in list.iter().enumerate() {
            if !schema.environments.contains(env) {
                let mut path = sub(&at("environments"), key);
                path.push(PathSegment::Index(i));
                c.add(path, unknown_environment(env, &schema.environments));
            }
        }
    }

    for (key, comparator) in [("skew", &f.skew), ("drift", &f.drift)] {
        if let Some(comparator) = comparator {
            check_comparator(c, at(key), f, comparator);
        }
    }
}

fn check_domain(c: &mut Problems, at: Vec<PathSegment>, f: &FeatureSchema, domain: &Domain) {
    let ty = f.logical_type;
    let fits = match (ty, domain) {
        (LogicalType::String, Domain::Strings(_)) => true,
        (LogicalType::Int, Domain::Ints(_)) => {
            if !f.categorical {
                c.add(
                    at.clone(),
                    "an int domain lists categories: set `categorical = true` as well",
                );
            }
            true
        }
        (LogicalType::String, Domain::Ints(_)) => {
            c.add(
                at.clone(),
                "a string feature needs a domain of strings (quote the values)",
            );
            false
        }
        (LogicalType::Int, Domain::Strings(_)) => {
            c.add(at.clone(), "an int feature needs a domain of integers");
            false
        }
        _ => {
            let message = format!(
                "a {} feature cannot have a domain: domains are for string and int features",
                ty.as_str()
            );
            c.add(at.clone(), message);
            false
        }
    };
    if domain.is_empty() {
        c.add(
            at.clone(),
            "an empty domain allows no value at all; remove `domain` instead",
        );
    }
    if !fits {
        return;
    }
    let values: Vec<String> = match domain {
        Domain::Strings(v) => v.iter().map(|s| format!("{s:?}")).collect(),
        Domain::Ints(v) => v.iter().map(i64::to_string).collect(),
    };
    let mut seen = BTreeSet::new();
    for (i, value) in values.iter().enumerate() {
        if !seen.insert(value) {
            let mut path = at.clone();
            path.push(PathSegment::Index(i));
            c.add(path, format!("domain value {value} listed twice"));
        }
    }
}

fn check_comparator(
    c: &mut Problems,
    at: Vec<PathSegment>,
    f: &FeatureSchema,
    comparator: &Comparator,
) {
    if let Some(threshold) = comparator.threshold {
        let problem = match comparator.method {
            _ if threshold.is_nan() => Some("a threshold cannot be NaN".to_string()),
            Some(m) if m.is_test() && !(threshold > 0.0 && threshold < 1.0) => Some(format!(
                "`{m}` is a statistical test: its threshold is a p-value strictly between 0 and 1, found {threshold}"
            )),
            _ if threshold < 0.0 => {
                Some(format!("a threshold cannot be negative, found {threshold}"))
            }
            _ => None,
        };
        if let Some(message) = problem {
            c.add(sub(&at, "threshold"), message);
        }
    }
    check_int_fits(c, sub(&at, "min_samples"), comparator.min_samples);
    let Some(method) = comparator.method else {
        return;
    };
    let categorical = match f.logical_type {
        LogicalType::String | LogicalType::Bool => Some(true),
        LogicalType::Int => Some(f.categorical),
        LogicalType::Float | LogicalType::Timestamp | LogicalType::Date => Some(false),
        // Lists have no settled comparison yet; leave the choice open.
        LogicalType::List => None,
    };
    let message = match categorical {
        Some(true) if !method.applies_to_categorical() => Some(format!(
            "`{method}` compares numeric distributions; a categorical {} feature needs one of {}",
            f.logical_type.as_str(),
            method_names(DriftMethod::applies_to_categorical)
        )),
        Some(false) if !method.applies_to_numeric() => Some(format!(
            "`{method}` compares categories; a numeric {} feature needs one of {}{}",
            f.logical_type.as_str(),
            method_names(DriftMethod::applies_to_numeric),
            if f.logical_type == LogicalType::Int {
                " (or set `categorical = true`)"
            } else {
                ""
            }
        )),
        _ => None,
    };
    if let Some(message) = message {
        c.add(sub(&at, "method"), message);
    }
}

fn method_names(keep: fn(DriftMethod) -> bool) -> String {
    let names: Vec<&str> = DriftMethod::ALL
        .iter()
        .filter(|m| keep(**m))
        .map(|m| m.as_str())
        .collect();
    names.join(", ")
}
