//! The in-memory schema: what `schema.toml` holds, once parsed and checked.
//!
//! The file layout and the meaning of every key are documented on the
//! [module](crate::schema). Types here mirror the file one to one, so that
//! writing a schema and parsing it back gives the same value.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

pub use crate::profile::{ColumnRole, LogicalType};

/// The `format` every schema file declares; a file with another value is
/// rejected, so a future layout cannot be misread by this version.
pub const SCHEMA_FORMAT: &str = "assay.schema/1";

/// The share of a range's width values may pass a bound by before
/// validation fails, when a feature sets no `range_tolerance`: a new maximum
/// "by a hair" is a warning, not an error.
pub const DEFAULT_RANGE_TOLERANCE: f64 = 0.01;

/// The environment names `assay infer` declares.
pub const TRAINING: &str = "training";
pub const SERVING: &str = "serving";

/// A whole schema: dataset-level constraints, environments, slices and the
/// features in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Always [`SCHEMA_FORMAT`] for a valid schema.
    pub format: String,
    /// The environments features may be restricted to (`training`, `serving`, ...).
    pub environments: Vec<String>,
    /// The environments a feature is expected in when it says nothing itself.
    pub default_environments: Vec<String>,
    /// Column combinations that later stages report on separately.
    pub slices: Vec<Vec<String>>,
    pub dataset: Dataset,
    /// Dataset-level training/serving skew settings (`[skew]`).
    pub skew: Option<DatasetComparator>,
    /// Dataset-level drift settings (`[drift]`).
    pub drift: Option<DatasetComparator>,
    /// Features in the order the file lists them.
    pub features: Vec<FeatureSchema>,
}

impl Schema {
    /// An empty schema with the current format and no environments.
    pub fn new() -> Self {
        Self {
            format: SCHEMA_FORMAT.to_string(),
            environments: Vec::new(),
            default_environments: Vec::new(),
            slices: Vec::new(),
            dataset: Dataset::default(),
            skew: None,
            drift: None,
            features: Vec::new(),
        }
    }

    pub fn feature(&self, name: &str) -> Option<&FeatureSchema> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Whether `feature` must be present in data from `environment`.
    ///
    /// TFDV's rule: a feature with `environments.in` is expected exactly in
    /// those; otherwise it is expected in the default environments minus
    /// `environments.not_in`. With no environment given (`None`), a feature
    /// is expected unless it restricts itself (`in` or `not_in` set), so data
    /// of unknown origin is only checked against unconditional features.
    pub fn expects(&self, feature: &FeatureSchema, environment: Option<&str>) -> bool {
        let envs = &feature.environments;
        match environment {
            None => envs.is_unrestricted(),
            Some(env) if !envs.in_.is_empty() => envs.in_.iter().any(|e| e == env),
            Some(env) => {
                // With no defaults declared every environment is a default one:
                // a schema without environments still checks its features.
                let default = self.default_environments.is_empty()
                    || self.default_environments.iter().any(|e| e == env);
                default && !envs.not_in.iter().any(|e| e == env)
            }
        }
    }
}

/// Serializes with the file's keys (for JSON output; the commented TOML is
/// written by `to_toml_string`), features as a table in schema order.
impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Features<'a>(&'a [FeatureSchema]);
        impl Serialize for Features<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for feature in self.0 {
                    map.serialize_entry(&feature.name, feature)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("format", &self.format)?;
        map.serialize_entry("environments", &self.environments)?;
        map.serialize_entry("default_environments", &self.default_environments)?;
        map.serialize_entry("slices", &self.slices)?;
        map.serialize_entry("dataset", &self.dataset)?;
        if let Some(skew) = &self.skew {
            map.serialize_entry("skew", skew)?;
        }
        if let Some(drift) = &self.drift {
            map.serialize_entry("drift", drift)?;
        }
        map.serialize_entry("features", &Features(&self.features))?;
        map.end()
    }
}

impl Default for Schema {
    fn default() -> Self {
        Self::new()
    }
}

/// `[dataset]`: whole-dataset constraints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
}

/// Top-level `[skew]` / `[drift]`: defaults for every feature and the
/// dataset-level verdict. Per-feature sections override `min_samples`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetComparator {
    /// Below this many non-null values on either side a feature gets
    /// "insufficient data" instead of a verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    /// The dataset counts as drifted (skewed) when more than this share of
    /// its checked features did (0..=1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_drifted_share: Option<f64>,
    /// The smallest effect (normalised Wasserstein distance for numeric
    /// features, Jensen–Shannon distance for categorical ones) a test's
    /// verdict needs besides significance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<f64>,
    /// Multiple-testing correction of the test methods' p-values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction: Option<Correction>,
}

/// How p-values are corrected across the features of one comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Benjamini–Hochberg: controls the false discovery rate.
    #[default]
    BenjaminiHochberg,
    /// Each feature's p-value on its own.
    None,
}

/// One `[features.NAME]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSchema {
    /// The table key; not a key inside the table.
    #[serde(skip)]
    pub name: String,
    #[serde(rename = "type")]
    pub logical_type: LogicalType,
    #[serde(default)]
    pub role: ColumnRole,
    /// Int features only: the values are categories (codes, ratings, flags),
    /// so drift uses categorical tests and `domain` may list them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub categorical: bool,
    /// Float features only: whether NaN is an acceptable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_nan: Option<bool>,
    /// Float features only: whether ±infinity is an acceptable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_inf: Option<bool>,
    /// The allowed values of a categorical string or int feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// Features with a `domain` only: the smallest share (0..=1) of non-null
    /// values that must lie inside the domain, as TFDV's
    /// `distribution_constraints.min_domain_mass`. Unset means 1: any value
    /// outside the domain fails validation; below 1, a smaller share of
    /// unexpected values is reported as a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_domain_mass: Option<f64>,
    #[serde(default)]
    pub presence: Presence,
    /// List features only: bounds on the number of values per list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_count: Option<Bounds<u64>>,
    /// Int and float features only: bounds on the values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<Bounds<f64>>,
    /// Features with a `range` only: how far values may pass a bound before
    /// validation fails, as a share (>= 0) of the range's width; values past
    /// the bound but within the tolerance are a warning. Unset means
    /// [`DEFAULT_RANGE_TOLERANCE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_tolerance: Option<f64>,
    /// Bounds on the number of distinct non-null values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct: Option<Bounds<u64>>,
    #[serde(default, skip_serializing_if = "FeatureEnvironments::is_unrestricted")]
    pub environments: FeatureEnvironments,
    /// Training/serving skew check settings (`[features.NAME.skew]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skew: Option<Comparator>,
    /// Drift check settings (`[features.NAME.drift]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Comparator>,
}

impl FeatureSchema {
    /// A feature with nothing but a name, type and role.
    pub fn new(name: impl Into<String>, logical_type: LogicalType, role: ColumnRole) -> Self {
        Self {
            name: name.into(),
            logical_type,
            role,
            categorical: false,
            allow_nan: None,
            allow_inf: None,
            domain: None,
            min_domain_mass: None,
            presence: Presence::default(),
            value_count: None,
            range: None,
            range_tolerance: None,
            distinct: None,
            environments: FeatureEnvironments::default(),
            skew: None,
            drift: None,
        }
    }
}

/// `presence`: how often the feature must have a value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// Every row must have a non-null value.
    #[serde(default)]
    pub required: bool,
    /// Smallest acceptable share of rows with a non-null value (0..=1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_fraction: Option<f64>,
    /// Smallest acceptable number of rows with a non-null value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u64>,
}

/// Inclusive lower and upper bounds, either optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
}

/// `environments` of a feature: at most one of the two lists is non-empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureEnvironments {
    /// Expected only in these environments.
    #[serde(default, rename = "in", skip_serializing_if = "Vec::is_empty")]
    pub in_: Vec<String>,
    /// Expected in the default environments except these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in: Vec<String>,
}

impl FeatureEnvironments {
    pub fn is_unrestricted(&self) -> bool {
        self.in_.is_empty() && self.not_in.is_empty()
    }
}

/// The allowed values of a categorical feature: strings for string features,
/// integers for categorical int features. A TOML array of either; mixing the
/// two is rejected when parsing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<DomainValue>", untagged)]
pub enum Domain {
    Strings(Vec<String>),
    Ints(Vec<i64>),
}

impl Domain {
    pub fn len(&self) -> usize {
        match self {
            Self::Strings(v) => v.len(),
            Self::Ints(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One element of a `domain` array as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainValue {
    String(String),
    Int(i64),
}

impl<'de> Deserialize<'de> for DomainValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = DomainValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DomainValue, E> {
                Ok(DomainValue::String(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<DomainValue, E> {
                Ok(DomainValue::String(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DomainValue, E> {
                Ok(DomainValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DomainValue, E> {
                i64::try_from(v).map(DomainValue::Int).map_err(|_| {
                    E::invalid_value(
                        serde::de::Unexpected::Unsigned(v),
                        &"a 64-bit signed integer",
                    )
                })
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

impl TryFrom<Vec<DomainValue>> for Domain {
    type Error = String;
    fn try_from(values: Vec<DomainValue>) -> Result<Self, String> {
        // The first element decides; an empty array is a (rejected later)
        // empty string domain.
        match values.first() {
            None | Some(DomainValue::String(_)) => values
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    DomainValue::String(s) => Ok(s),
                    DomainValue::Int(n) => Err(format!(
                        "domain mixes strings and integers: element {} is the integer {n}; \
                         quote it if it is a category name",
                        i + 1
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Domain::Strings),
            Some(DomainValue::Int(_)) => values
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    DomainValue::Int(n) => Ok(n),
                    DomainValue::String(s) => Err(format!(
                        "domain mixes integers and strings: element {} is the string {s:?}",
                        i + 1
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Domain::Ints),
        }
    }
}

/// `[features.NAME.skew]` / `[features.NAME.drift]`: every key optional; an
/// empty section means "use the defaults" (documented with the drift command).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparator {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<DriftMethod>,
    /// For distance methods: the distance at or above which the feature
    /// drifted. For test methods: the p-value below which it drifted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Below this many non-null values on either side, no verdict is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
}

/// The comparison methods, under the names reports and the CLI use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMethod {
    Ks,
    Wasserstein,
    Psi,
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    KlDiv,
    Hellinger,
    Anderson,
    CramerVonMises,
    Energy,
    TTest,
    ZTest,
    #[serde(rename = "chisquare")]
    ChiSquare,
    #[serde(rename = "chi2_contingency")]
    Chi2Contingency,
    Linf,
}

impl DriftMethod {
    pub const ALL: [DriftMethod; 14] = [
        Self::Ks,
        Self::Wasserstein,
        Self::Psi,
        Self::JensenShannon,
        Self::KlDiv,
        Self::Hellinger,
        Self::Anderson,
        Self::CramerVonMises,
        Self::Energy,
        Self::TTest,
        Self::ZTest,
        Self::ChiSquare,
        Self::Chi2Contingency,
        Self::Linf,
    ];

    /// Parses a CLI/report name (the inverse of [`DriftMethod::as_str`]).
    pub fn from_name(name: &str) -> Option<DriftMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ks => "ks",
            Self::Wasserstein => "wasserstein",
            Self::Psi => "psi",
            Self::JensenShannon => "jensenshannon",
            Self::KlDiv => "kl_div",
            Self::Hellinger => "hellinger",
            Self::Anderson => "anderson",
            Self::CramerVonMises => "cramer_von_mises",
            Self::Energy => "energy",
            Self::TTest => "t_test",
            Self::ZTest => "z_test",
            Self::ChiSquare => "chisquare",
            Self::Chi2Contingency => "chi2_contingency",
            Self::Linf => "linf",
        }
    }

    /// Statistical tests whose threshold is a p-value (drift when p < threshold);
    /// the others are distances (drift when distance >= threshold).
    pub fn is_test(self) -> bool {
        matches!(
            self,
            Self::Ks
                | Self::Anderson
                | Self::CramerVonMises
                | Self::TTest
                | Self::ZTest
                | Self::ChiSquare
                | Self::Chi2Contingency
        )
    }

    /// Whether the method compares numeric distributions.
    pub fn applies_to_numeric(self) -> bool {
        !matches!(self, Self::ChiSquare | Self::Chi2Contingency | Self::Linf)
    }

    /// Whether the method compares category frequencies (z_test: binary only).
    pub fn applies_to_categorical(self) -> bool {
        matches!(
            self,
            Self::ChiSquare
                | Self::Chi2Contingency
                | Self::Linf
                | Self::JensenShannon
                | Self::Psi
                | Self::Hellinger
                | Self::KlDiv
                | Self::ZTest
        )
    }
}

impl std::fmt::Display for DriftMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
