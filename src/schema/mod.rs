//! The schema: the reviewed contract between the data and the model.
//!
//! In the spirit of TensorFlow Data Validation: statistics (a
//! [profile](crate::profile)) → a schema ([`infer`]) → a person reviews and
//! commits `schema.toml` → later runs check data against it (validation) and
//! read their skew / drift thresholds from it. This module holds the model
//! ([`Schema`]), inference ([`infer`], [`infer_with_notes`]), writing
//! ([`to_toml_string`], [`to_toml_string_with_notes`]), and reading
//! ([`load`], [`parse`]), which checks the whole file and reports every error
//! at once, each as `file:line:column: message`.
//!
//! # The file
//!
//! ```toml
//! format = "assay.schema/1"
//! environments = ["training", "serving"]
//! default_environments = ["training", "serving"]
//! slices = [["sex"], ["sex", "race"]]
//!
//! [dataset]
//! min_rows = 1000
//!
//! [skew]
//! [drift]
//! max_drifted_share = 0.5
//!
//! [features.age]
//! type = "int"
//! role = "feature"
//! presence = { required = true, min_count = 1 }
//! range = { min = 18, max = 100 }
//! [features.age.skew]
//! [features.age.drift]
//! method = "wasserstein"
//! threshold = 0.1
//!
//! [features.employment_status]
//! type = "string"
//! role = "feature"
//! domain = ["employed", "retired", "self_employed", "student", "unemployed"]
//! presence = { required = false, min_fraction = 0.89, min_count = 1 }
//!
//! [features.label]
//! type = "int"
//! role = "label"
//! categorical = true
//! domain = [0, 1]
//! presence = { required = true, min_count = 1 }
//! environments = { not_in = ["serving"] }
//! ```
//!
//! Tables may be written as `[features.age.presence]` sections or as inline
//! tables; both mean the same. Unknown keys, wrong types and unknown enum
//! values are rejected with their line and column.
//!
//! ## Top level
//! - `format` (string, required): `"assay.schema/1"`. Other values are
//!   rejected, so a future layout is never misread.
//! - `environments` (strings): the environments features may be restricted
//!   to. Every environment named anywhere else must be declared here.
//! - `default_environments` (strings): where a feature is expected when its
//!   own `environments` is empty. An empty list means every environment.
//! - `slices` (list of string lists): column combinations profiled and
//!   reported separately, e.g. `[["country"], ["sex", "race"]]`. Each column
//!   must be a feature of the schema.
//! - `[dataset]`: `min_rows`, `max_rows` (integers, optional, inclusive).
//! - `[skew]`, `[drift]` (optional): dataset-level comparison settings.
//!   `min_samples` (integer): below this many non-null values on either side
//!   a feature gets "insufficient data", not a verdict; features override it.
//!   `max_drifted_share` (0..=1): the dataset counts as skewed / drifted when
//!   more than this share of its checked features are.
//!   `min_effect` (>= 0, default 0.05): the effect a test's verdict needs
//!   besides significance (normalised Wasserstein distance for numeric
//!   features, Jensen–Shannon distance for categorical ones).
//!   `correction` (`benjamini_hochberg`, the default, or `none`): how the
//!   test methods' p-values are corrected across features.
//!
//! ## `[features.NAME]`
//! Features are listed in the order of the file (which `assay infer` writes
//! in column order). Names that are not bare TOML keys are quoted:
//! `[features."loan amount ($)"]`.
//! - `type` (required): `int`, `float`, `string`, `bool`, `timestamp`,
//!   `date` or `list`.
//! - `role` (default `feature`): `feature`, `prediction`, `label`, `id`,
//!   `timestamp` or `weight`. Later stages treat roles differently (drift
//!   skips ids; fairness reads labels and predictions).
//! - `categorical` (bool, default false; int features only): the integers are
//!   category codes (flags, ratings), so drift compares category frequencies.
//! - `domain` (array; string and categorical int features): the allowed
//!   values, all strings for a string feature, all integers for an int
//!   feature (which must then be `categorical = true`). No duplicates, not
//!   empty. A string feature without a domain is free text.
//! - `min_domain_mass` (0..=1, optional; with `domain`): the smallest share
//!   of non-null values that must be in the domain (TFDV's
//!   `distribution_constraints.min_domain_mass`). Unset means 1: any value
//!   outside the domain fails validation; a share within the allowance is a
//!   warning. `assay infer` sets it on every domain, from what the sample
//!   says about values it never showed (`docs/schema-inference.md`).
//! - `allow_nan`, `allow_inf` (bool, optional; float features only): whether
//!   NaN / ±infinity are acceptable values.
//! - `presence` (table): `required` (bool, default false: every row has a
//!   non-null value), `min_fraction` (0..=1: smallest share of rows with a
//!   value; contradicts `required = true` when below 1), `min_count`
//!   (integer: smallest number of rows with a value).
//! - `value_count` (table; list features only): `min` / `max` number of
//!   values per list, inclusive.
//! - `range` (table; int and float features only): `min` / `max` of the
//!   values, inclusive, not NaN, `min <= max`. `assay infer` gives
//!   non-categorical int features a wide *sanity* range by default (the
//!   observed span widened by twice the span, open on a heavy-tailed side);
//!   `assay infer --ranges` emits tight ranges (a 10% margin) for int and
//!   float features instead, off by default because observed extremes are a
//!   poor contract. `docs/schema-inference.md` explains both.
//! - `range_tolerance` (>= 0, optional; with `range`): how far past a bound
//!   values may go, as a share of the range's width (`max - min`; with one
//!   bound or `min = max`, of the bound's magnitude, 1 if it is 0), before
//!   validation fails; values past the bound but within it are a warning.
//!   Unset means [`DEFAULT_RANGE_TOLERANCE`] (0.01).
//! - `distinct` (table): `min` / `max` number of distinct non-null values.
//! - `environments` (table): either `in = [...]` (expected only in these) or
//!   `not_in = [...]` (expected in the default environments but these), not
//!   both. See [`Schema::expects`].
//! - `[features.NAME.skew]`, `[features.NAME.drift]` (tables, every key
//!   optional; empty means the command's defaults):
//!   - `method`: `ks`, `wasserstein`, `psi`, `jensenshannon`, `kl_div`,
//!     `hellinger`, `anderson`, `cramer_von_mises`, `energy`, `t_test`,
//!     `z_test`, `chisquare`, `chi2_contingency` or `linf`. Methods must suit the feature:
//!     `chisquare`, `chi2_contingency` and `linf` compare categories (string, bool, categorical
//!     int features); `ks`, `wasserstein`, `anderson`, `cramer_von_mises`,
//!     `energy` and `t_test` compare numeric distributions.
//!   - `threshold`: for tests (`ks`, `anderson`, `cramer_von_mises`,
//!     `t_test`, `z_test`, `chisquare`, `chi2_contingency`) a p-value strictly between 0 and 1
//!     (drift when p is below it); for distances a non-negative number
//!     (drift when the distance reaches it).
//!   - `min_samples` (integer): as at the top level, for this feature.
//!
//! # Inference
//! The rules are documented in [`infer`](mod@infer) and stated, with their
//! thresholds, in the header of every inferred file.
//!
//! # Errors
//! Reading reports, each on its own line as `file:line:column: message`:
//! TOML syntax errors (all of them), then type errors (unknown key, wrong
//! type, unknown enum value: the first per feature and in the top level),
//! then rule violations (all of them), for example:
//!
//! ```text
//! schema.toml:14:16: features.age.presence.min_fraction: must be between 0 and 1, found 1.5
//! schema.toml:21:1: features.income.range: min (10) is greater than max (5)
//! ```

pub mod infer;
mod model;
mod parse;
pub mod tfdv;
mod validate;
mod write;

use std::fmt;

use thiserror::Error;

pub use infer::{
    ColumnSummary, InferOptions, Inferred, infer, infer_from_summaries, infer_with_notes,
};
pub use model::*;
pub(crate) use parse::{Locator, closest, edit_distance, span_of, with_suggestion};
pub use parse::{load, parse};
pub use validate::{PathSegment, Problem, dotted_path, validate};
pub use write::{
    FeatureNotes, Notes, to_toml_string, to_toml_string_with_notes, toml_key, toml_string,
};

/// Why a schema could not be read.
#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("cannot read schema file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, in file order within each stage.
    #[error("{}", DiagnosticList(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

/// One located problem in a schema file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; `None` when the problem has no place in the text.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub kind: DiagnosticKind,
    pub message: String,
}

/// Which stage found the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticKind {
    /// Not valid TOML.
    Syntax,
    /// Valid TOML, but an unknown key, a wrong type or an unknown enum value.
    Type,
    /// Well-typed, but breaking a schema rule (see [`validate`]).
    Rule,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Displays diagnostics one per line.
struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
