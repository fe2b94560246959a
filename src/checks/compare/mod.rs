//! Training/serving skew and drift: comparing two datasets feature by
//! feature with the statistics of [`crate::checks::drift`], and turning the
//! numbers into verdicts that do not cry wolf.
//!
//! The same engine answers both questions; only the schema section that
//! holds the settings differs: skew reads `[skew]` / `[features.NAME.skew]`
//! (serving against the training baseline), drift reads `[drift]` /
//! `[features.NAME.drift]` (a window or dataset against the previous one).
//!
//! # What is compared
//! - Features and model outputs (`role = "prediction"`, reported separately
//!   as prediction drift) present on both sides. Labels are compared as
//!   features when both sides have them.
//! - Skipped, with the reason in the report: ids, timestamps and weights (by
//!   role), timestamp/date and list columns, and string columns that look
//!   like ids or free text — more than [`FREE_TEXT_MIN_DISTINCT`] distinct
//!   values, or, for a feature of the schema, no `domain` (the schema's own
//!   definition of free text) — unless their `[features.NAME.drift]` (or
//!   `.skew`) section sets a `method` or `threshold`, which asks for them
//!   explicitly (an empty section, as `assay infer` writes, means "the
//!   defaults").
//! - Kinds: strings and bools are categorical; ints are categorical when
//!   the schema says `categorical = true`, or (without a schema entry) when
//!   the reference has at most [`MAX_INT_CATEGORIES`] distinct values —
//!   flags and ratings, whose quantile bins would collapse; other ints and
//!   floats are numeric.
//!
//! # The default method (no `--method`, no schema `method`)
//! As Evidently's rule, by the reference's non-null count of the feature:
//! - at most [`SMALL_REFERENCE`] (1000) values: a test, drift when p < 0.05 —
//!   `ks` for numeric, `z_test` for binary categorical, `chi2_contingency`
//!   (the two-sample chi-squared test) for other categorical features. Small
//!   samples make distances noisy, and tests account for the sample size.
//!   Not `chisquare`: it takes the reference proportions as the truth, and on
//!   two random halves of one dataset its statistic is about twice its null
//!   expectation (measured: 3 of 16 features flagged on a 400/400 split).
//! - more: a distance, drift when it reaches 0.1 — `wasserstein` (normalised
//!   by the reference's standard deviation) for numeric, `jensenshannon` for
//!   categorical — and the difference is significant (below). On large
//!   samples every test rejects for differences nobody cares about; a
//!   distance measures how much moved, whatever the size.
//!
//! # Few false alarms
//! - **Multiple testing.** With dozens of features, per-feature p < 0.05 on
//!   unchanged data flags some feature most of the time. The p-values of the
//!   test methods in one comparison (the dataset, or one slice) are adjusted
//!   with Benjamini–Hochberg (false discovery rate at the threshold) before
//!   the verdict; both the raw and the adjusted p-value are reported.
//!   `correction = "none"` in `[drift]` / `[skew]` turns it off.
//! - **Effect size.** A test's verdict also needs an effect of at least
//!   `min_effect` (default [`DEFAULT_MIN_EFFECT`]): the normalised
//!   Wasserstein distance for numeric features, the Jensen–Shannon distance
//!   for categorical ones. A large sample's "significant" but tiny shift is
//!   not drift.
//! - **Significance.** The mirror rule: a distance's verdict (default or
//!   chosen method) also needs the feature's test to reject — `ks` for
//!   numeric features, `chi2_contingency` for categorical ones — at
//!   p < [`DEFAULT_P_THRESHOLD`] after the same correction (the gate's
//!   p-value joins the family the tests' p-values are adjusted in; it is
//!   reported under `significance`). Without it, a distance past 0.1 could
//!   be nothing but noise: sampling noise on heavy-tailed data of a few
//!   thousand rows (normalised Wasserstein 0.12 between two samples of one
//!   lognormal or Pareto distribution at 2,000 rows, measured), and in
//!   profile mode the sketches' own error, which on heavy tails is not
//!   bounded by the distance's threshold (0.56 against an exact 0.007 on
//!   100,000 zero-inflated lognormal values: a KLL item standing for 256
//!   values can sit at the sample's maximum). The `ks` p-value of profile
//!   mode is conservative (computed at the ECDF gap shrunk by both
//!   sketches' rank errors), so a flagged distance means a difference the
//!   sketches cannot produce. A gate that cannot be computed (a single
//!   category on both sides) does not veto. Measured by
//!   `tests/drift_defaults.rs`: no alarm between independent samples of
//!   one distribution at 10³–10⁶ rows, while 0.5-std mean shifts, ×1.5
//!   scale changes and a new category at 20% are caught (see
//!   `docs/accuracy.md` for the one exception at 1,000 rows).
//! - **Sample size.** Below `min_samples` non-null values on either side
//!   (default [`DEFAULT_MIN_SAMPLES`]) a feature gets "insufficient data",
//!   not a verdict.
//! - **Missing values** are left out of every distribution test; the share
//!   of missing values (null, and NaN for floats) on each side is reported
//!   separately, with a warning when it moves by [`MISSING_SHARE_CHANGE`] or
//!   more.
//!
//! # Exact and profile (sketch) mode
//! In profile mode numeric methods read the KLL sketches of the profiles
//! (approximate, flagged `approximate` in the report; the error bounds are in
//! the [`drift`](crate::checks::drift) docs), `t_test` reads the exact
//! moments. Categorical methods read exact counts while the profile has them
//! (up to 4,096 distinct values); past that, frequent-item estimates plus
//! an "(other)" bucket, flagged approximate. In exact mode (`--exact`) the
//! raw values of both sides are read for the dataset-level comparison;
//! slices still use their profiles.
//!
//! # Dataset verdict
//! The dataset (and each slice) counts as drifted when more than
//! `max_drifted_share` (default [`DEFAULT_MAX_DRIFTED_SHARE`]) of its
//! checked features drifted.

mod engine;
mod exact;
mod feature;
mod report;
mod verdict;

pub use engine::compare;
pub use exact::ExactSample;
pub use feature::{FeatureKind, Plan, PlannedFeature, plan};
pub use report::{
    ComparisonReport, Contributor, DatasetVerdict, Effect, FeatureComparison, MethodOutcome,
    MissingShare, Significance, SkippedFeature, SliceComparison, Verdict, describe, short,
};
pub use verdict::benjamini_hochberg;

use serde::Serialize;
use thiserror::Error;

use super::drift::Method;
use crate::profile::Profile;

/// Reference sizes up to this use the test-based default methods.
pub const SMALL_REFERENCE: u64 = 1000;
/// Default p-value threshold of test methods.
pub const DEFAULT_P_THRESHOLD: f64 = 0.05;
/// Default effect-size floor for test verdicts.
pub const DEFAULT_MIN_EFFECT: f64 = 0.05;
/// Default minimum non-null values per side for a verdict.
pub const DEFAULT_MIN_SAMPLES: u64 = 30;
/// Default share of drifted features above which the dataset drifted.
pub const DEFAULT_MAX_DRIFTED_SHARE: f64 = 0.5;
/// Ints with at most this many distinct reference values are categorical
/// (the same bound `assay infer` uses).
pub const MAX_INT_CATEGORIES: usize = 20;
/// A string column with more distinct values than this (the largest domain
/// `assay infer` writes) is treated as an id or free text and skipped unless
/// the schema asks for it.
pub const FREE_TEXT_MIN_DISTINCT: f64 = 100.0;
/// A change of the missing share by this much (absolute) is a warning.
pub const MISSING_SHARE_CHANGE: f64 = 0.05;
/// Values or bins listed as what moved most.
pub const TOP_CONTRIBUTORS: usize = 5;

/// Which question is asked (and which schema sections hold the settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Serving data against the training baseline.
    Skew,
    /// A dataset or window against a previous one.
    Drift,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skew => "skew",
            Self::Drift => "drift",
        }
    }
}

/// How the numbers were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// From raw values (and exact counts).
    Exact,
    /// From the profiles' sketches and counts.
    Profile,
}

/// Options besides the schema.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub comparison: Comparison,
    /// Use this method for every feature it applies to (features it does not
    /// apply to keep their default).
    pub method: Option<Method>,
    /// Also compute every applicable method (reported under `methods`).
    pub all_methods: bool,
}

impl CompareOptions {
    pub fn new(comparison: Comparison) -> Self {
        Self {
            comparison,
            method: None,
            all_methods: false,
        }
    }
}

/// One side of a comparison: its profile, and its raw values in exact mode.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// A file name or label for messages and the report.
    pub label: &'a str,
    pub profile: &'a Profile,
    pub exact: Option<&'a ExactSample>,
}

/// Inputs that cannot be compared.
#[derive(Debug, Error, PartialEq)]
pub enum CompareError {
    #[error("{label}: the {side} side has no rows")]
    EmptySide { label: String, side: &'static str },
    #[error(
        "the two sides have no feature in common to compare (reference: {reference}; current: {current})"
    )]
    NothingInCommon { reference: String, current: String },
    #[error("{0}")]
    Schema(String),
    #[error("--method {method}: {reason}")]
    Method { method: Method, reason: String },
}
