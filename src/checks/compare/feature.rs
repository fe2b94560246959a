//! Which features are compared, as what kind, with which method and
//! threshold: the plan, made once from the two dataset-level profiles and
//! the schema, then applied to the dataset and to every slice.

use serde::Serialize;

use super::report::SkippedFeature;
use super::{
    CompareError, CompareOptions, Comparison, DEFAULT_MAX_DRIFTED_SHARE, DEFAULT_MIN_EFFECT,
    DEFAULT_MIN_SAMPLES, DEFAULT_P_THRESHOLD, FREE_TEXT_MIN_DISTINCT, MAX_INT_CATEGORIES,
    SMALL_REFERENCE,
};
use crate::checks::drift::{CategoryCounts, Method};
use crate::profile::column::ColumnState;
use crate::profile::frequency::FrequencyState;
use crate::profile::numeric::NumericState;
use crate::profile::{ColumnProfile, ColumnRole, LogicalType, Profile};
use crate::schema::{Comparator, Correction, DatasetComparator, FeatureSchema, Schema};

/// How a feature's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// Distributions of numbers (quantiles, moments).
    Numeric,
    /// Frequencies of categories.
    Categorical,
}

impl FeatureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::Categorical => "categorical",
        }
    }
}

/// One feature to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFeature {
    pub name: String,
    pub role: ColumnRole,
    pub kind: FeatureKind,
    /// The method asked for (command line or schema); `None` = the default
    /// rule, resolved per comparison from the reference size.
    pub method: Option<Method>,
    /// The threshold asked for; `None` = the method's default.
    pub threshold: Option<f64>,
    pub min_samples: u64,
}

/// What to compare, and the comparison-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub comparison: Comparison,
    pub features: Vec<PlannedFeature>,
    pub skipped: Vec<SkippedFeature>,
    /// Features of the reference missing from the current side, and the
    /// other way round (listed in the report, not compared).
    pub missing_in_current: Vec<String>,
    pub missing_in_reference: Vec<String>,
    pub min_effect: f64,
    pub correction: bool,
    pub max_drifted_share: f64,
    pub all_methods: bool,
}

/// The schema sections that hold this comparison's settings.
fn dataset_section(schema: Option<&Schema>, comparison: Comparison) -> Option<&DatasetComparator> {
    schema.and_then(|s| match comparison {
        Comparison::Skew => s.skew.as_ref(),
        Comparison::Drift => s.drift.as_ref(),
    })
}

fn feature_section(feature: Option<&FeatureSchema>, comparison: Comparison) -> Option<&Comparator> {
    feature.and_then(|f| match comparison {
        Comparison::Skew => f.skew.as_ref(),
        Comparison::Drift => f.drift.as_ref(),
    })
}

/// Builds the plan. Errors: an empty side, nothing in common, a `--method`
/// that applies to no compared feature.
pub fn plan(
    reference: &Profile,
    current: &Profile,
    schema: Option<&Schema>,
    options: &CompareOptions,
) -> Result<Plan, CompareError> {
    let comparison = options.comparison;
    let dataset = dataset_section(schema, comparison);
    let mut out = Plan {
        comparison,
        features: Vec::new(),
        skipped: Vec::new(),
        missing_in_current: Vec::new(),
        missing_in_reference: Vec::new(),
        min_effect: dataset
            .and_then(|d| d.min_effect)
            .unwrap_or(DEFAULT_MIN_EFFECT),
        correction: dataset.and_then(|d| d.correction).unwrap_or_default()
            == Correction::BenjaminiHochberg,
        max_drifted_share: dataset
            .and_then(|d| d.max_drifted_share)
            .unwrap_or(DEFAULT_MAX_DRIFTED_SHARE),
        all_methods: options.all_methods,
    };
    let default_min_samples = dataset
        .and_then(|d| d.min_samples)
        .unwrap_or(DEFAULT_MIN_SAMPLES);
    let skip = |out: &mut Plan, name: &str, reason: String| {
        out.skipped.push(SkippedFeature {
            name: name.to_string(),
            reason,
        })
    };
    for column in &reference.columns {
        let feature = schema.and_then(|s| s.feature(&column.name));
        let section = feature_section(feature, comparison);
        // An empty section (what `assay infer` writes) means "the defaults";
        // one that sets a method or threshold asks for the feature.
        let asked = section.is_some_and(|s| s.method.is_some() || s.threshold.is_some());
        let role = feature.map_or(column.role, |f| f.role);
        if let Some(schema) = schema
            && comparison == Comparison::Skew
            && let Some(f) = feature
            && schema.environments.iter().any(|e| e == "serving")
            && !schema.expects(f, Some("serving"))
        {
            skip(
                &mut out,
                &column.name,
                "not expected in the serving environment".into(),
            );
            continue;
        }
        let Some(other) = current.column(&column.name) else {
            out.missing_in_current.push(column.name.clone());
            continue;
        };
        if let Some(reason) = role_reason(role)
            && !asked
        {
            skip(&mut out, &column.name, reason);
            continue;
        }
        let kind = match kind_of(column, feature, asked) {
            Ok(kind) => kind,
            Err(reason) => {
                skip(&mut out, &column.name, reason);
                continue;
            }
        };
        if kind_of(other, feature, true).is_err() || column.logical_type != other.logical_type {
            skip(
                &mut out,
                &column.name,
                format!(
                    "its type differs: {} in the reference, {} in the current data",
                    column.logical_type.as_str(),
                    other.logical_type.as_str()
                ),
            );
            continue;
        }
        let mut method = section.and_then(|s| s.method);
        let mut threshold = section.and_then(|s| s.threshold);
        if let Some(m) = options.method
            && applies(m, kind)
        {
            if method != Some(m) {
                threshold = None;
            }
            method = Some(m);
        }
        out.features.push(PlannedFeature {
            name: column.name.clone(),
            role,
            kind,
            method,
            threshold,
            min_samples: section
                .and_then(|s| s.min_samples)
                .unwrap_or(default_min_samples),
        });
    }
    for column in &current.columns {
        if reference.column(&column.name).is_none() {
            out.missing_in_reference.push(column.name.clone());
        }
    }
    if out.features.is_empty() {
        let names = |p: &Profile| p.sources.join(", ");
        return Err(CompareError::NothingInCommon {
            reference: names(reference),
            current: names(current),
        });
    }
    if let Some(m) = options.method
        && !out.features.iter().any(|f| applies(m, f.kind))
    {
        return Err(CompareError::Method {
            method: m,
            reason: "applies to none of the compared features".into(),
        });
    }
    Ok(out)
}

fn role_reason(role: ColumnRole) -> Option<String> {
    match role {
        ColumnRole::Id | ColumnRole::Timestamp | ColumnRole::Weight => Some(format!(
            "role {}: not a distribution to compare (set a method in its schema section to compare it)",
            role.as_str()
        )),
        ColumnRole::Feature | ColumnRole::Prediction | ColumnRole::Label => None,
    }
}

/// Whether `method` can compare features of `kind` (z_test additionally
/// needs a binary feature, checked when it runs).
pub(crate) fn applies(method: Method, kind: FeatureKind) -> bool {
    match kind {
        FeatureKind::Numeric => method.applies_to_numeric() && method != Method::ZTest,
        FeatureKind::Categorical => method.applies_to_categorical(),
    }
}

/// The kind of a column, or why it is not compared. `asked`: the schema has
/// a comparison section for it, which overrides the free-text rule.
fn kind_of(
    column: &ColumnProfile,
    feature: Option<&FeatureSchema>,
    asked: bool,
) -> Result<FeatureKind, String> {
    match (&column.logical_type, &column.state) {
        (LogicalType::Float, _) => Ok(FeatureKind::Numeric),
        (LogicalType::Bool, _) => Ok(FeatureKind::Categorical),
        (LogicalType::Int, ColumnState::Int { frequency, .. }) => Ok(match feature {
            Some(f) if f.categorical => FeatureKind::Categorical,
            Some(_) => FeatureKind::Numeric,
            None if frequency.is_exact() && frequency.distinct() as usize <= MAX_INT_CATEGORIES => {
                FeatureKind::Categorical
            }
            None => FeatureKind::Numeric,
        }),
        (LogicalType::String, ColumnState::String(state)) => {
            // The schema's own rule: a string feature without a domain is
            // free text. Without a schema entry: more distinct values than
            // a domain may list.
            let distinct = state.frequency.distinct();
            let free = match feature {
                Some(f) => f.domain.is_none(),
                None => distinct > FREE_TEXT_MIN_DISTINCT,
            };
            if free && !asked {
                Err(format!(
                    "looks like an id or free text ({} distinct values{}); set a method in its schema section to compare it",
                    distinct.round(),
                    if feature.is_some() {
                        ", no domain in the schema"
                    } else {
                        ""
                    }
                ))
            } else {
                Ok(FeatureKind::Categorical)
            }
        }
        (LogicalType::Timestamp | LogicalType::Date, _) => Err(format!(
            "{} columns move by design",
            column.logical_type.as_str()
        )),
        (LogicalType::List, _) => Err("list columns are not compared".into()),
        _ => Err(format!(
            "unexpected state for a {} column",
            column.logical_type.as_str()
        )),
    }
}

/// The numeric state of a numeric column (floats and ints).
pub(crate) fn numeric_state(column: &ColumnProfile) -> Option<&NumericState> {
    match &column.state {
        ColumnState::Float(n) | ColumnState::Int { numeric: n, .. } => Some(n),
        _ => None,
    }
}

/// Category counts of a categorical column, and whether they are estimates
/// (frequent items plus an "(other)" bucket for the rest).
pub(crate) fn category_counts(column: &ColumnProfile) -> (CategoryCounts, bool) {
    fn from_frequency<K: crate::profile::frequency::FrequencyKey>(
        frequency: &FrequencyState<K>,
        count: u64,
    ) -> (CategoryCounts, bool) {
        match frequency {
            FrequencyState::Exact(values) => (
                values.iter().map(|(k, c)| (k.to_string(), *c)).collect(),
                false,
            ),
            FrequencyState::Sketched { .. } => {
                let mut counts: CategoryCounts = frequency
                    .top(usize::MAX)
                    .into_iter()
                    .map(|(k, c)| (k.to_string(), c))
                    .collect();
                let listed: u64 = counts.values().sum();
                if count > listed {
                    counts.insert(OTHER.to_string(), count - listed);
                }
                (counts, true)
            }
        }
    }
    match &column.state {
        ColumnState::String(s) => from_frequency(&s.frequency, column.count),
        ColumnState::Int { frequency, .. } => from_frequency(frequency, column.count),
        ColumnState::Bool {
            true_count,
            false_count,
        } => (
            [("false", *false_count), ("true", *true_count)]
                .into_iter()
                .filter(|(_, c)| *c > 0)
                .map(|(k, c)| (k.to_string(), c))
                .collect(),
            false,
        ),
        _ => (CategoryCounts::new(), false),
    }
}

/// The bucket for values outside a frequent-items sketch's list.
pub const OTHER: &str = "(other)";

/// The default method for a feature whose reference has `reference_count`
/// non-null values (see the module docs).
pub(crate) fn default_method(kind: FeatureKind, binary: bool, reference_count: u64) -> Method {
    let small = reference_count <= SMALL_REFERENCE;
    match (kind, small) {
        (FeatureKind::Numeric, true) => Method::Ks,
        (FeatureKind::Numeric, false) => Method::Wasserstein,
        (FeatureKind::Categorical, true) if binary => Method::ZTest,
        (FeatureKind::Categorical, true) => Method::Chi2Contingency,
        (FeatureKind::Categorical, false) => Method::JensenShannon,
    }
}

/// The default threshold of a method: p < 0.05 for tests; for distances 0.1,
/// except `psi` (0.2, the usual "significant shift" level).
pub(crate) fn default_threshold(method: Method) -> f64 {
    if method.is_test() {
        DEFAULT_P_THRESHOLD
    } else if method == Method::Psi {
        0.2
    } else {
        0.1
    }
}
