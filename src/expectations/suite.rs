//! The suite model: a closed set of expectations with typed arguments.
//!
//! Names and arguments are Great Expectations 1.x's. Each expectation keeps
//! its `kwargs` exactly as written (they are echoed back in every result's
//! `expectation_config`, as GE does) next to the typed form the engine runs.

use regex::Regex;
use serde_json::{Map, Value as Json};

use super::exact::Interpolation;
pub use super::kl::{KlSpec, Partition};
use super::matcher::Matcher;
pub use super::pandas_query::PandasCondition;

/// A parsed suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// `name` (GE 1.x, native TOML) or `expectation_suite_name` (GE 0.x).
    pub name: String,
    /// The file the suite was read from (for messages).
    pub file: String,
    pub meta: Json,
    pub expectations: Vec<Expectation>,
}

impl Suite {
    /// Sets the result format of every expectation that does not choose its
    /// own (e.g. from a command-line `--result-format`).
    pub fn set_default_result_format(&mut self, level: ResultLevel) {
        for e in &mut self.expectations {
            if !e.result_format_explicit {
                e.result_format.level = level;
            }
        }
    }
}

/// One expectation of a suite.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Position in the suite, 0-based.
    pub index: usize,
    /// The GE expectation type, e.g. `expect_column_values_to_be_between`.
    pub type_name: String,
    /// The arguments as written, echoed in results.
    pub kwargs: Map<String, Json>,
    pub meta: Json,
    pub kind: Kind,
    /// Share of non-missing values that must pass (map expectations; 1.0 otherwise).
    pub mostly: f64,
    pub result_format: ResultFormat,
    /// Whether `result_format` was set on the expectation itself.
    pub result_format_explicit: bool,
    /// Errors while evaluating become a failed result with `exception_info`
    /// (true, the default of GE's validator) or abort the run (false).
    pub catch_exceptions: bool,
    /// The expectation sees only rows where this is true.
    pub row_condition: Option<RowCondition>,
}

/// A `row_condition`, by its `condition_parser`.
#[derive(Debug, Clone)]
pub enum RowCondition {
    /// A polars SQL predicate (`sql`, `spark`, or no parser named).
    Sql(String),
    /// pandas' `DataFrame.query` syntax, written as SQL for the data.
    Pandas(PandasCondition),
}

impl RowCondition {
    /// The predicate as polars SQL for data of `schema`.
    pub fn to_sql(&self, schema: &arrow::datatypes::Schema) -> Result<String, String> {
        match self {
            RowCondition::Sql(sql) => Ok(sql.clone()),
            RowCondition::Pandas(condition) => condition
                .to_sql(schema)
                .map_err(|e| format!("pandas condition \"{}\": {e}", condition.text())),
        }
    }
}

/// How much detail a result carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResultLevel {
    BooleanOnly,
    Basic,
    Summary,
    Complete,
}

impl ResultLevel {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "BOOLEAN_ONLY" => Self::BooleanOnly,
            "BASIC" => Self::Basic,
            "SUMMARY" => Self::Summary,
            "COMPLETE" => Self::Complete,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResultFormat {
    pub level: ResultLevel,
    /// Length of `partial_unexpected_list` (GE's default: 20).
    pub partial_unexpected_count: usize,
}

impl Default for ResultFormat {
    fn default() -> Self {
        Self {
            level: ResultLevel::Basic,
            partial_unexpected_count: 20,
        }
    }
}

/// A literal from a suite: a value in a set, or a bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Num(f64),
    Text(String),
}

impl Scalar {
    pub fn from_json(value: &Json) -> Option<Self> {
        Some(match value {
            Json::Null => Self::Null,
            Json::Bool(b) => Self::Bool(*b),
            Json::Number(n) => Self::Num(n.as_f64()?),
            Json::String(s) => Self::Text(s.clone()),
            _ => return None,
        })
    }

    pub fn to_json(&self) -> Json {
        match self {
            Self::Null => Json::Null,
            Self::Bool(b) => Json::Bool(*b),
            Self::Num(n) => num_json(*n),
            Self::Text(s) => Json::String(s.clone()),
        }
    }
}

/// A float as JSON: integral values print without a fraction, as Python
/// prints ints; NaN and infinities (not JSON) become null.
pub fn num_json(n: f64) -> Json {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.0e15 {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// `min_value` / `max_value` with GE's strictness flags. A missing bound is
/// open. Bounds are numbers, or text for string and date/time columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
    pub strict_min: bool,
    pub strict_max: bool,
}

/// What an expectation checks, by family.
#[derive(Debug, Clone)]
pub enum Kind {
    Table(TableCheck),
    /// Reads statistics of one column (from the profile, or from exact
    /// value counts collected in the pass).
    Aggregate {
        column: String,
        check: AggregateCheck,
    },
    /// Judges each row's value of one column.
    Map {
        column: String,
        rule: MapRule,
    },
    /// Judges each row's values of several columns.
    Multi {
        columns: Vec<String>,
        rule: MultiRule,
        ignore: IgnoreRow,
    },
    /// `unexpected_rows_expectation`: a SQL query selecting the bad rows.
    UnexpectedRows {
        query: String,
    },
    /// `expect_query_results_to_match_comparison`: the rows `base_query`
    /// returns on the data must match the rows `comparison_query` returns
    /// on another table (GE's `comparison_data_source_name`; in assay, a
    /// file, glob or directory that assay can read, relative to the working
    /// directory). Both are polars SQL; `{batch}` names the table.
    QueryComparison {
        base_query: String,
        comparison_source: String,
        comparison_query: String,
    },
}

#[derive(Debug, Clone)]
pub enum TableCheck {
    RowCountBetween(Bounds),
    RowCountEqual(u64),
    /// GE's `other_table_name`; in assay, a file, glob or directory that
    /// assay can read, relative to the working directory.
    RowCountEqualOtherTable(String),
    ColumnCountBetween(Bounds),
    ColumnCountEqual(u64),
    /// `None` (a null `column_list`): vacuously true, as in GE.
    ColumnsMatchOrderedList(Option<Vec<String>>),
    /// `set` `None` (a null `column_set`): every column is unexpected.
    ColumnsMatchSet {
        set: Option<Vec<String>>,
        exact: bool,
    },
    ColumnExists {
        column: String,
        index: Option<usize>,
    },
}

#[derive(Debug, Clone)]
pub enum AggregateCheck {
    Min(Bounds),
    Max(Bounds),
    Mean(Bounds),
    Median(Bounds),
    Stdev(Bounds),
    Sum(Bounds),
    Quantiles {
        quantiles: Vec<f64>,
        ranges: Vec<(Option<f64>, Option<f64>)>,
        /// numpy's interpolation (GE's `allow_relative_error` on pandas;
        /// `nearest` by default).
        interpolation: Interpolation,
    },
    ProportionNonNull(Bounds),
    ProportionUnique(Bounds),
    UniqueValueCount(Bounds),
    /// `None` (a null `value_set`): the universal set, vacuously true.
    DistinctInSet(Option<Vec<Scalar>>),
    DistinctContainSet(Vec<Scalar>),
    DistinctEqualSet(Vec<Scalar>),
    MostCommonInSet {
        set: Vec<Scalar>,
        ties_okay: bool,
    },
    KlDivergence(KlSpec),
    /// `expect_column_values_to_be_of_type` and `expect_column_type_to_be`.
    OfType(String),
    /// `None` (a null `type_list`): any type, vacuously true.
    InTypeList(Option<Vec<String>>),
}

impl AggregateCheck {
    /// Checks answered from exact value counts rather than the profile.
    pub fn needs_value_counts(&self) -> bool {
        match self {
            Self::ProportionUnique(_)
            | Self::UniqueValueCount(_)
            | Self::DistinctInSet(_)
            | Self::DistinctContainSet(_)
            | Self::DistinctEqualSet(_)
            | Self::MostCommonInSet { .. } => true,
            Self::KlDivergence(spec) => spec.categorical(),
            _ => false,
        }
    }

    /// Value-count checks that read only how many distinct values there are.
    pub fn needs_distinct_count_only(&self) -> bool {
        matches!(self, Self::ProportionUnique(_) | Self::UniqueValueCount(_))
    }

    /// Checks that read every value of the column (exact medians,
    /// quantiles and histograms).
    pub fn needs_values(&self) -> bool {
        match self {
            Self::Median(_) | Self::Quantiles { .. } => true,
            Self::KlDivergence(spec) => !spec.categorical(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub enum MapRule {
    NotNull,
    Null,
    InSet(Vec<Scalar>),
    NotInSet(Vec<Scalar>),
    Between(Bounds),
    Increasing {
        strictly: bool,
    },
    Decreasing {
        strictly: bool,
    },
    LengthsBetween {
        min: Option<u64>,
        max: Option<u64>,
    },
    LengthsEqual(u64),
    /// Compiled once with the suite (its DFA too): the daemon evaluates the
    /// suite on every batch.
    Regex(Matcher),
    NotRegex(Matcher),
    /// `match_on = "any"` (false) or `"all"` (true).
    RegexList {
        regexes: Vec<Regex>,
        all: bool,
    },
    NotRegexList(Vec<Regex>),
    /// LIKE patterns compiled to anchored regular expressions.
    Like(Matcher),
    NotLike(Matcher),
    LikeList {
        patterns: Vec<Regex>,
        all: bool,
    },
    NotLikeList(Vec<Regex>),
    StrftimeFormat(String),
    DateutilParseable,
    JsonParseable,
    /// A compiled JSON Schema the values (JSON text) must satisfy.
    MatchJsonSchema(CompiledJsonSchema),
    Unique,
    /// Needs the column's mean and standard deviation: runs in a second pass.
    ZScoreLessThan {
        threshold: f64,
        double_sided: bool,
    },
    /// `expect_column_values_to_not_be_outliers`: needs the column's
    /// quartiles (iqr) or mean and standard deviation (std): a second pass.
    NotOutliers {
        method: OutlierMethod,
        multiplier: f64,
    },
}

/// GE's outlier windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutlierMethod {
    /// Tukey's fences: inside `[Q1 - m·IQR, Q3 + m·IQR]`, fences included.
    Iqr,
    /// `|x - mean| < m·std` (sample std); at the threshold is an outlier.
    Std,
}

impl MapRule {
    /// Rules that need the column's statistics from a first pass.
    pub fn needs_column_stats(&self) -> bool {
        matches!(self, Self::ZScoreLessThan { .. } | Self::NotOutliers { .. })
    }

    /// Rules whose first pass reads the column's quantiles (Tukey's fences).
    pub fn needs_quantiles(&self) -> bool {
        matches!(
            self,
            Self::NotOutliers {
                method: OutlierMethod::Iqr,
                ..
            }
        )
    }
}

impl MapRule {
    /// Null and not-null expectations judge nulls themselves instead of
    /// leaving them out (GE's `filter_column_isnull = False`): their
    /// results have no `missing_*` fields.
    pub fn judges_nulls(&self) -> bool {
        matches!(self, Self::Null | Self::NotNull)
    }
}

#[derive(Debug, Clone)]
pub enum MultiRule {
    PairEqual,
    PairGreater { or_equal: bool },
    PairInSet(Vec<(Scalar, Scalar)>),
    SumEqual(f64),
    ValuesEqual,
    UniqueWithinRecord,
    CompoundUnique,
}

/// GE's `ignore_row_if`: which rows a multi-column expectation leaves out
/// (they count as missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreRow {
    /// `both_values_are_missing` / `all_values_are_missing`.
    AllMissing,
    /// `either_value_is_missing` / `any_value_is_missing`.
    AnyMissing,
    /// `neither` / `never`.
    Never,
}

/// A JSON Schema compiled once when the suite is read (a schema that does
/// not compile is an argument error then, not a failure per row).
#[derive(Clone)]
pub struct CompiledJsonSchema(pub std::sync::Arc<jsonschema::Validator>);

impl std::fmt::Debug for CompiledJsonSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledJsonSchema")
    }
}

impl CompiledJsonSchema {
    /// Whether `text` is JSON that satisfies the schema; text that is not
    /// JSON does not (GE raises instead; a failed row is more useful).
    pub fn accepts(&self, text: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| self.0.is_valid(&v))
    }
}
