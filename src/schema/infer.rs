//! Inferring a schema from a profile, as TFDV's `infer_schema` does: a
//! starting point that the data it came from passes, for a person to review.
//!
//! The rules (each threshold is an [`InferOptions`] field, and
//! [`InferOptions::rules`] states them with their values in the written
//! file's header; `docs/schema-inference.md` explains them with TFDV's
//! behaviour for comparison and the simulations that set the thresholds):
//!
//! - **type** and **role**: copied from the profile.
//! - **presence**: a column without nulls is `required = true`. Otherwise
//!   `min_fraction` is the observed non-null share less a relative slack
//!   (`presence_slack`, default 10%), rounded *down* to two decimals, so that
//!   a batch slightly sparser than the profiled one still passes: 0.9906
//!   observed gives 0.89. Every column with values gets `min_count = 1`.
//!   A column with no values at all gets neither (nothing to expect).
//! - **string domains**: a string column is categorical when its distinct
//!   count is exact, at most `max_domain_size` (100), at most
//!   `max_domain_ratio` (0.5) of its non-null values (so mostly-unique text
//!   is not mistaken for categories on a small sample), and the profile lists
//!   every value. Its domain is then all observed values, sorted, with a
//!   `min_domain_mass` below 1 that says how much of future data may be
//!   values the sample never showed ([`domain`](self::domain) module): at
//!   most `ln(100) / n` (0.0001 for 50,000 rows) when every value was seen at
//!   least `min_category_count` (30) times; for a long tail of rarer values,
//!   three times the Good–Turing estimate of the unseen share and at least
//!   `min_tail_allowance` (1%); beyond `max_tail_allowance` (20%), no domain.
//!   Any other string column is free text: no domain, and its notes say why.
//! - **categorical ints**: an int column is `categorical = true` with an int
//!   domain (flags, ratings, codes) when the data says so: at most
//!   `max_int_categories` (20) exact distinct values, within the same ratio,
//!   fully listed, and every value seen at least `min_category_count` (30)
//!   times. A count (Poisson, binomial, ...) tails off into values seen a few
//!   times, and the next value past them is merely unseen, not wrong, so a
//!   count is numeric, not categorical. Columns named in
//!   `InferOptions::categorical` are categorical whatever their counts, with
//!   a domain as for strings (up to `max_domain_size` values).
//!   Drift tests treat categorical ints as categories, whose shifts quantile
//!   bins would miss.
//! - **ids and timestamps** (by role) never get a domain or a range.
//! - **floats**: `allow_nan` / `allow_inf` say whether NaN / infinities were
//!   observed.
//! - **lists**: `value_count.min = 1` when no list was empty; `max` too when
//!   every list had the same length (fixed-size vectors).
//! - **int sanity ranges** (by default, for non-categorical int features
//!   other than weights; [`range`](self::range) module): with at least
//!   `min_range_values` (1,000) values, the observed span widened by
//!   `int_range_margin` (2) spans on each side, never below 0 for a column
//!   that was never negative, and open on a side whose tail is heavier than
//!   an exponential one (the extreme more than `ln(n) + 1` standard
//!   deviations from the mean).
//! - **ranges** (only with `ranges = true`): for non-categorical int and float
//!   columns, the observed min/max widened by `range_margin` (10%) of the
//!   observed span on each side and rounded outward to three significant
//!   digits of the span (ints: to integers); a column that was never negative
//!   keeps a lower bound of at least 0. These replace the sanity ranges.
//! - **environments**: `training` and `serving`, both default; `label` columns
//!   are `not_in = ["serving"]`, since labels arrive after serving.
//! - **skew / drift**: an empty section per feature (and at the top) so the
//!   settings of `assay skew` / `assay drift` have an obvious place.
//! - **slices**: the slice specifications of the profile.

mod domain;
mod ints;
mod range;

use thiserror::Error;

use super::model::*;
use super::write::{FeatureNotes, Notes, toml_key};
use crate::profile::{ColumnProfile, LengthStats, Profile, ValueCount};

/// The thresholds of the inference rules (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct InferOptions {
    /// Largest number of distinct values a string domain may have (and the
    /// domain of an int column declared categorical).
    pub max_domain_size: usize,
    /// Largest share of distinct values among non-null values for a
    /// categorical column (string or int).
    pub max_domain_ratio: f64,
    /// Largest number of distinct values of an int column the data alone
    /// makes categorical.
    pub max_int_categories: usize,
    /// Times every value must have been seen for categories to count as
    /// established: an int column is categorical only then (unless declared),
    /// and a domain allows no more than the unseen bound `ln(100) / n`.
    pub min_category_count: u64,
    /// Smallest share of values outside the domain a long-tailed domain
    /// allows (`1 - min_domain_mass`).
    pub min_tail_allowance: f64,
    /// Largest such share: a column whose tail needs more gets no domain.
    pub max_tail_allowance: f64,
    /// Int columns the user declares categorical (codes, ratings, flags),
    /// whatever their value counts say.
    pub categorical: Vec<String>,
    /// Relative slack below the observed non-null share for `min_fraction`.
    pub presence_slack: f64,
    /// Emit tight `range`s for int and float features (instead of the sanity
    /// ranges of int features).
    pub ranges: bool,
    /// Widening of tight ranges on each side, as a share of the observed span.
    pub range_margin: f64,
    /// Widening of int sanity ranges on each side, in observed spans.
    pub int_range_margin: f64,
    /// Fewest non-null values an int sanity range is inferred from.
    pub min_range_values: u64,
}

impl Default for InferOptions {
    fn default() -> Self {
        Self {
            max_domain_size: 100,
            max_domain_ratio: 0.5,
            max_int_categories: 20,
            min_category_count: 30,
            min_tail_allowance: 0.01,
            max_tail_allowance: 0.2,
            categorical: Vec::new(),
            presence_slack: 0.1,
            ranges: false,
            range_margin: 0.1,
            int_range_margin: 2.0,
            min_range_values: 1000,
        }
    }
}

impl InferOptions {
    /// The rules with this configuration's values, one sentence per line,
    /// for the header of an inferred schema.
    pub fn rules(&self) -> Vec<String> {
        let mut rules = vec![
            "Inference rules (docs/schema-inference.md explains them):".to_string(),
            format!(
                "- presence: required when no value was null; otherwise min_fraction is the \
                 observed non-null share less {}% of itself, rounded down to 2 decimals.",
                percent(self.presence_slack)
            ),
            format!(
                "- a string column is categorical (domain = every observed value) when its exact \
                 distinct count is at most {} and at most {}% of its non-null values; otherwise it \
                 is free text, without a domain.",
                self.max_domain_size,
                percent(self.max_domain_ratio)
            ),
            format!(
                "- an int column is categorical with an int domain when it has at most {} exact \
                 distinct values (same share rule), each seen at least {} times, or when it is \
                 declared categorical; otherwise it is numeric (counts tail off into rare values, \
                 so a value past the largest seen is not an error).",
                self.max_int_categories, self.min_category_count
            ),
            format!(
                "- min_domain_mass = 1 - the share of values outside the domain allowed, rounded \
                 up to one digit: when every value was seen at least {} times, ln(100)/n (the \
                 most that values never seen in n rows can weigh, at 99% confidence); otherwise \
                 (a long tail) {}x the share of values seen once (Good-Turing), at least {}%; \
                 above {}%, no domain.",
                self.min_category_count,
                domain::SINGLETON_FACTOR,
                percent(self.min_tail_allowance),
                percent(self.max_tail_allowance)
            ),
            "- id and timestamp columns get no domain; label columns are not expected in serving."
                .to_string(),
        ];
        if self.ranges {
            rules.push(format!(
                "- ranges: observed min/max widened by {}% of the span on each side, rounded outward.",
                percent(self.range_margin)
            ));
        } else {
            rules.push(format!(
                "- numeric int columns with at least {} values get a sanity range: the observed \
                 span widened by {} spans on each side, never below 0 if no value was negative; \
                 a side is bounded only when its tail is short: the extreme lies within ln(n) + 1 \
                 standard deviations of the mean, or (every value listed) the values seen fewer \
                 than {} times reach past those seen more often by no more than the latter's span.",
                thousands(self.min_range_values),
                short(self.int_range_margin),
                self.min_category_count
            ));
        }
        // Keep lines short enough to read as comments.
        rules.into_iter().flat_map(|r| wrap(&r, 76)).collect()
    }
}

/// A hint in [`InferOptions`] that does not fit the profile.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum HintError {
    #[error("categorical column {name:?} is not in the profile (its columns: {known})")]
    UnknownColumn { name: String, known: String },
    #[error(
        "categorical column {name:?} is a {ty} column; only int columns are declared \
         categorical (a string column gets a domain from its values)"
    )]
    NotInt { name: String, ty: &'static str },
    #[error("categorical column {name:?} has role {role}, which never gets a domain")]
    Keyed { name: String, role: &'static str },
}

/// Checks that every column the options declare categorical is an int
/// feature of the profile.
pub fn check_hints(profile: &Profile, options: &InferOptions) -> Result<(), HintError> {
    for name in &options.categorical {
        let Some(column) = profile.column(name) else {
            let known: Vec<&str> = profile.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(HintError::UnknownColumn {
                name: name.clone(),
                known: known.join(", "),
            });
        };
        if column.logical_type != LogicalType::Int {
            return Err(HintError::NotInt {
                name: name.clone(),
                ty: column.logical_type.as_str(),
            });
        }
        if matches!(
            column.role,
            ColumnRole::Id | ColumnRole::Timestamp | ColumnRole::Weight
        ) {
            return Err(HintError::Keyed {
                name: name.clone(),
                role: column.role.as_str(),
            });
        }
    }
    Ok(())
}

/// The per-column statistics inference reads: the summary fields of a
/// [`ColumnProfile`], without its accumulator state, so a summary can also
/// be built by hand (tests, other producers).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSummary {
    pub name: String,
    pub logical_type: LogicalType,
    pub role: ColumnRole,
    /// Non-null values.
    pub count: u64,
    pub null_count: u64,
    pub nan_count: u64,
    /// +inf and -inf together.
    pub inf_count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Mean and sample standard deviation of the finite values.
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    /// Timestamps and dates: min and max as text.
    pub min_text: Option<String>,
    pub max_text: Option<String>,
    pub distinct: Option<f64>,
    pub distinct_exact: bool,
    /// Most frequent values, with `top_exact` when the counts are exact.
    pub top: Vec<ValueCount>,
    pub top_exact: bool,
    pub true_count: Option<u64>,
    pub false_count: Option<u64>,
    /// Lists: values per list.
    pub value_count: Option<LengthStats>,
}

impl ColumnSummary {
    /// A column with the given name, type and counts and nothing else known.
    pub fn new(
        name: impl Into<String>,
        logical_type: LogicalType,
        count: u64,
        null_count: u64,
    ) -> Self {
        Self {
            name: name.into(),
            logical_type,
            role: ColumnRole::Feature,
            count,
            null_count,
            nan_count: 0,
            inf_count: 0,
            min: None,
            max: None,
            mean: None,
            stddev: None,
            min_text: None,
            max_text: None,
            distinct: None,
            distinct_exact: false,
            top: Vec::new(),
            top_exact: false,
            true_count: None,
            false_count: None,
            value_count: None,
        }
    }
}

impl From<&ColumnProfile> for ColumnSummary {
    fn from(c: &ColumnProfile) -> Self {
        Self {
            name: c.name.clone(),
            logical_type: c.logical_type,
            role: c.role,
            count: c.count,
            null_count: c.null_count,
            nan_count: c.nan_count.unwrap_or(0),
            inf_count: c.pos_inf_count.unwrap_or(0) + c.neg_inf_count.unwrap_or(0),
            min: c.min,
            max: c.max,
            mean: c.mean,
            stddev: c.stddev,
            min_text: c.min_text.clone(),
            max_text: c.max_text.clone(),
            distinct: c.distinct,
            distinct_exact: c.distinct_exact.unwrap_or(false),
            top: c.top.clone().unwrap_or_default(),
            top_exact: c.top_exact.unwrap_or(false),
            true_count: c.true_count,
            false_count: c.false_count,
            value_count: c.value_count.clone(),
        }
    }
}

/// A schema and the comments that explain it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    pub schema: Schema,
    pub notes: Notes,
}

/// Infers a schema from a profile (rules in the module docs).
pub fn infer(profile: &Profile, options: &InferOptions) -> Schema {
    infer_with_notes(profile, options).schema
}

/// Infers a schema and the notes `to_toml_string_with_notes` writes as comments.
pub fn infer_with_notes(profile: &Profile, options: &InferOptions) -> Inferred {
    let columns: Vec<ColumnSummary> = profile.columns.iter().map(ColumnSummary::from).collect();
    let mut inferred = infer_from_summaries(profile.rows, &columns, &profile.slice_specs, options);
    if !profile.sources.is_empty() {
        let line = format!("Inferred from: {}", profile.sources.join(", "));
        inferred.notes.header.insert(0, line);
    }
    inferred
}

/// The core of [`infer`], over summaries: `rows` is the dataset's row count.
pub fn infer_from_summaries(
    rows: u64,
    columns: &[ColumnSummary],
    slice_specs: &[Vec<String>],
    options: &InferOptions,
) -> Inferred {
    let mut schema = Schema::new();
    schema.environments = vec![TRAINING.to_string(), SERVING.to_string()];
    schema.default_environments = schema.environments.clone();
    schema.slices = slice_specs.to_vec();
    schema.skew = Some(DatasetComparator::default());
    schema.drift = Some(DatasetComparator::default());

    let mut notes = Notes::default();
    notes.header.push(format!(
        "Profile: {} rows, {} columns.",
        thousands(rows),
        columns.len()
    ));
    notes.header.extend(options.rules());
    for column in columns {
        let (feature, feature_notes) = infer_feature(rows, column, options);
        notes.features.insert(feature.name.clone(), feature_notes);
        schema.features.push(feature);
    }
    Inferred { schema, notes }
}

fn infer_feature(
    rows: u64,
    c: &ColumnSummary,
    options: &InferOptions,
) -> (FeatureSchema, FeatureNotes) {
    let mut f = FeatureSchema::new(c.name.clone(), c.logical_type, c.role);
    let mut notes = FeatureNotes::default();
    let name = toml_key(&c.name);
    let (ty, role) = (c.logical_type.as_str(), c.role.as_str());
    notes
        .lines
        .push(format!("{name}: {ty} column, role {role}"));
    notes.lines.push(observed(rows, c));

    f.presence = presence(rows, c, options);
    if c.logical_type == LogicalType::Float {
        f.allow_nan = Some(c.nan_count > 0);
        f.allow_inf = Some(c.inf_count > 0);
    }
    if c.role == ColumnRole::Label {
        f.environments.not_in = vec![SERVING.to_string()];
        notes
            .lines
            .push("label: expected in training data only, not in serving".to_string());
    }

    let keyed = matches!(c.role, ColumnRole::Id | ColumnRole::Timestamp);
    match c.logical_type {
        LogicalType::String if keyed => {
            notes
                .lines
                .push(format!("{} column: no domain", c.role.as_str()));
        }
        LogicalType::String => {
            match domain::categories(c, options.max_domain_size, options)
                .and_then(|values| domain::domain_rule(values, options))
            {
                Ok(rule) => {
                    let mut values = rule.values.clone();
                    values.sort();
                    notes.lines.push(
                        "categorical: the domain lists every observed value (row counts alongside)"
                            .into(),
                    );
                    domain::set_domain(
                        &mut f,
                        &mut notes,
                        &rule,
                        &values,
                        |v| v.clone(),
                        |v| Domain::Strings(v.into_iter().map(|(v, _)| v).collect()),
                    );
                }
                Err(why) => notes
                    .lines
                    .extend(wrap(&format!("free text, no domain: {why}"), NOTE_WIDTH)),
            }
        }
        LogicalType::Int if !keyed && c.role != ColumnRole::Weight => {
            ints::int_feature(c, options, &mut f, &mut notes)
        }
        LogicalType::Float if !keyed && options.ranges => f.range = range::tight_range(c, options),
        LogicalType::List => f.value_count = value_count(c),
        _ => {}
    }
    f.skew = Some(Comparator::default());
    f.drift = Some(Comparator::default());
    (f, notes)
}

/// `observed: 19,812 non-null of 20,000 rows (99.06%), ...`
fn observed(rows: u64, c: &ColumnSummary) -> String {
    let share = if rows == 0 {
        0.0
    } else {
        c.count as f64 / rows as f64
    };
    let mut text = format!(
        "observed: {} non-null of {} rows ({:.2}%)",
        thousands(c.count),
        thousands(rows),
        share * 100.0
    );
    if let Some(distinct) = c.distinct {
        let how = if c.distinct_exact { "" } else { " (estimate)" };
        text.push_str(&format!(
            ", {} distinct{how}",
            thousands(distinct.round() as u64)
        ));
    }
    match (c.logical_type, &c.min_text, &c.max_text, c.min, c.max) {
        (_, Some(lo), Some(hi), _, _) => text.push_str(&format!(", from {lo} to {hi}")),
        (LogicalType::Int | LogicalType::Float, _, _, Some(lo), Some(hi)) => {
            text.push_str(&format!(", min {}, max {}", short(lo), short(hi)))
        }
        _ => {}
    }
    if let (Some(t), Some(f)) = (c.true_count, c.false_count) {
        text.push_str(&format!(", {} true / {} false", thousands(t), thousands(f)));
    }
    if c.nan_count > 0 {
        text.push_str(&format!(", {} NaN", thousands(c.nan_count)));
    }
    if c.inf_count > 0 {
        text.push_str(&format!(", {} infinite", thousands(c.inf_count)));
    }
    if let Some(vc) = &c.value_count {
        text.push_str(&format!(", {}..{} values per list", vc.min, vc.max));
    }
    text
}

fn presence(rows: u64, c: &ColumnSummary, options: &InferOptions) -> Presence {
    if c.count == 0 || rows == 0 {
        return Presence::default();
    }
    if c.null_count == 0 {
        return Presence {
            required: true,
            min_fraction: None,
            min_count: Some(1),
        };
    }
    let share = c.count as f64 / rows as f64;
    let slack = options.presence_slack.clamp(0.0, 1.0);
    let fraction = ((share * (1.0 - slack) * 100.0).floor() / 100.0).clamp(0.0, 1.0);
    Presence {
        required: false,
        min_fraction: Some(fraction),
        min_count: Some(1),
    }
}

/// `v` rounded (down or up, by `round`) to a multiple of 10^exponent; by
/// dividing through a power of ten for negative exponents, so that the result
/// is the double nearest the decimal (0.3, not 0.30000000000000004).
fn round_to(v: f64, exponent: i32, round: fn(f64) -> f64) -> f64 {
    // Scaling is inexact (1.1 * 100 = 110.00000000000001): a value within
    // rounding noise of a step is on it, not one step further out.
    let snap = |scaled: f64| {
        let nearest = scaled.round();
        if (scaled - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) {
            nearest
        } else {
            round(scaled)
        }
    };
    if exponent >= 0 {
        let step = 10f64.powi(exponent);
        snap(v / step) * step
    } else {
        let scale = 10f64.powi(-exponent);
        snap(v * scale) / scale
    }
}

fn value_count(c: &ColumnSummary) -> Option<Bounds<u64>> {
    let stats = c.value_count.as_ref()?;
    if stats.min == 0 {
        return None;
    }
    let max = (stats.min == stats.max).then_some(stats.max);
    Some(Bounds { min: Some(1), max })
}

/// 20000 → "20,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// 0.1 → "10", 0.125 → "12.5".
fn percent(share: f64) -> String {
    trim_decimals(format!("{:.2}", share * 100.0))
}

/// A share as a percentage with at least two significant digits:
/// 0.1 → "10%", 0.0003 → "0.03%", 0.0000233 → "0.0023%".
fn share(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 || !p.is_finite() {
        return format!("{p}%");
    }
    let digits = (1 - p.abs().log10().floor() as i32).max(2) as usize;
    format!("{}%", trim_decimals(format!("{p:.digits$}")))
}

/// A compact rendering for comments: 4 decimals at most, exponents for
/// extreme magnitudes.
fn short(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e9).contains(&v.abs()) {
        format!("{v:.3e}")
    } else {
        trim_decimals(format!("{v:.4}"))
    }
}

fn trim_decimals(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Width of the notes written above a feature (before the `# `).
const NOTE_WIDTH: usize = 76;

/// Splits a sentence into lines of at most `width` characters (at spaces),
/// indenting continuation lines under a leading "- ".
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        }
        if !line.is_empty() && !line.ends_with("  ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(19_812), "19,812");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn wrap_keeps_lines_short_and_words_whole() {
        let text = "- a string column is categorical when its exact distinct count is at most 100";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(
            lines.join(" ").split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
        assert!(lines[1..].iter().all(|l| l.starts_with("  ")));
    }

    #[test]
    fn round_to_moves_outward_to_decimal_steps() {
        assert_eq!(round_to(0.123_456, -2, f64::floor), 0.12);
        assert_eq!(round_to(0.123_456, -2, f64::ceil), 0.13);
        assert_eq!(round_to(74_022.74, 2, f64::ceil), 74_100.0);
        assert_eq!(round_to(-5.5, 0, f64::floor), -6.0);
        // Values on a step stay there despite inexact scaling (1.1 * 100).
        assert_eq!(round_to(1.1, -2, f64::ceil), 1.1);
        assert_eq!(round_to(-0.1, -2, f64::floor), -0.1);
    }

    #[test]
    fn presence_slack_rounds_down() {
        let options = InferOptions::default();
        let c = ColumnSummary::new("x", LogicalType::Float, 19_812, 188);
        let p = presence(20_000, &c, &options);
        // 0.9906 * 0.9 = 0.89154 -> 0.89
        assert_eq!(p.min_fraction, Some(0.89));
        assert!(!p.required);
        assert_eq!(p.min_count, Some(1));
    }
}
