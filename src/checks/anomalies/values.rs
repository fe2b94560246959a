//! The per-value checks of [`schema_anomalies`](super::schema_anomalies):
//! domains, strings standing for other types, NaN / infinity, ranges, list
//! value counts and distinct counts. Each appends its findings to `out`.

use std::collections::HashSet;
use std::fmt::Display;

use serde_json::{Value, json};

use super::{Scope, TOP_UNEXPECTED, number, percent, thousands};
use crate::checks::finding::{Finding, FindingKind, Severity};
use crate::profile::column::ColumnState;
use crate::profile::frequency::{FrequencyKey, FrequencyState};
use crate::profile::numeric::NumericState;
use crate::profile::{ColumnProfile, LogicalType};
use crate::schema::{DEFAULT_RANGE_TOLERANCE, Domain, FeatureSchema};

/// Values a predicate rejects, from a frequency state.
struct Unexpected {
    /// Rows with a rejected value; an estimate when `approximate`.
    count: u64,
    /// Rejected values, most frequent first (at most [`TOP_UNEXPECTED`]).
    top: Vec<(String, u64)>,
    /// Distinct rejected values; an estimate when `approximate`.
    distinct: u64,
    /// The column had more than 4,096 distinct values, so only its frequent
    /// values (and, for domains, the distinct-count estimate) are known.
    approximate: bool,
}

/// Values of `freq` that `accepted` rejects. When the state is sketched, the
/// frequent items give the listed values and their estimated counts;
/// `accepted_at_most` (the size of a domain) adds an estimate of the unlisted
/// tail: of the (HLL-estimated) distinct values, all but that many and the
/// listed ones are unexpected, counted once each (a floor on their rows).
fn unexpected_values<K: FrequencyKey + Display>(
    freq: &FrequencyState<K>,
    accepted: impl Fn(&K) -> bool,
    accepted_at_most: Option<usize>,
) -> Unexpected {
    let (mut rejected, approximate): (Vec<(String, u64)>, bool) = match freq {
        FrequencyState::Exact(values) => (
            values
                .iter()
                .filter(|(v, _)| !accepted(v))
                .map(|(v, c)| (v.to_string(), *c))
                .collect(),
            false,
        ),
        FrequencyState::Sketched { .. } => (
            freq.top(usize::MAX)
                .into_iter()
                .filter(|(v, _)| !accepted(v))
                .map(|(v, c)| (v.to_string(), c))
                .collect(),
            true,
        ),
    };
    let mut count: u64 = rejected.iter().map(|(_, c)| c).sum();
    let mut distinct = rejected.len() as u64;
    if approximate && let Some(at_most) = accepted_at_most {
        let estimated = freq.distinct().round() as u64;
        let tail = estimated.saturating_sub(at_most as u64 + distinct);
        count += tail;
        distinct += tail;
    }
    rejected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rejected.truncate(TOP_UNEXPECTED);
    Unexpected {
        count,
        top: rejected,
        distinct,
        approximate,
    }
}

fn top_json(top: &[(String, u64)]) -> Value {
    Value::Array(
        top.iter()
            .map(|(v, c)| json!({ "value": v, "count": c }))
            .collect(),
    )
}

/// `"crypto" (2,000), "n/a" (13)`
fn top_text(top: &[(String, u64)], limit: usize) -> String {
    top.iter()
        .take(limit)
        .map(|(v, c)| format!("{v:?} ({})", thousands(*c)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn check_domain(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    let Some(domain) = &feature.domain else {
        return;
    };
    let unexpected = match (domain, &column.state) {
        (Domain::Strings(values), ColumnState::String(s)) => {
            let allowed: HashSet<&str> = values.iter().map(String::as_str).collect();
            unexpected_values(
                &s.frequency,
                |v: &String| allowed.contains(v.as_str()),
                Some(values.len()),
            )
        }
        (Domain::Ints(values), ColumnState::Int { frequency, .. }) => {
            let allowed: HashSet<i64> = values.iter().copied().collect();
            unexpected_values(frequency, |v| allowed.contains(v), Some(values.len()))
        }
        // A type mismatch is reported (and value checks skipped) elsewhere.
        _ => return,
    };
    if unexpected.count == 0 {
        return;
    }
    let fraction = unexpected.count as f64 / column.count.max(1) as f64;
    // The share inside the domain must be at least `min_domain_mass`. It is
    // compared as such, not as `fraction > 1 - mass`: `1 - 0.9999` is
    // 0.0000999999999999889 in binary, which would fail 2 values in 20,000
    // against an allowance of exactly that share.
    let mass = feature.min_domain_mass.unwrap_or(1.0);
    let inside = column.count.saturating_sub(unexpected.count) as f64 / column.count.max(1) as f64;
    let severity = if inside < mass {
        Severity::Error
    } else {
        Severity::Warning
    };
    // The allowance as the decimal it was written as (0.0001, not 0.0000999...).
    let allowed = ((1.0 - mass) * 1e12).round() / 1e12;
    let about = if unexpected.approximate { "about " } else { "" };
    let mut explanation = format!(
        "{about}{} of values ({about}{} of {}) are outside the domain of {} values; most common: {}",
        percent(fraction),
        thousands(unexpected.count),
        thousands(column.count),
        domain.len(),
        top_text(&unexpected.top, 3)
    );
    if allowed > 0.0 {
        explanation.push_str(&format!(
            "; the schema allows {} (min_domain_mass {mass})",
            percent(allowed)
        ));
    }
    if unexpected.approximate {
        explanation.push_str(
            " (approximate: more than 4,096 distinct values, counts from the frequent-items sketch)",
        );
    }
    out.push(scope.finding(
        FindingKind::OutOfDomain,
        severity,
        Some(&feature.name),
        json!({
            "fraction": fraction,
            "count": unexpected.count,
            "distinct": unexpected.distinct,
            "top": top_json(&unexpected.top),
            "approximate": unexpected.approximate,
        }),
        json!({ "domain_size": domain.len(), "min_domain_mass": mass, "max_fraction": allowed }),
        explanation,
    ));
}

/// String data for a bool / int / float feature: either every value parses
/// as the expected type (the column was read or written as text:
/// `string_values_are_booleans` / `string_values_are_numbers`), or some do
/// not (`unexpected_type`, with the values that do not parse).
pub(super) fn check_strings_for_typed(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    let ColumnState::String(state) = &column.state else {
        return;
    };
    let expected = feature.logical_type;
    let (parses, kind): (fn(&str) -> bool, FindingKind) = match expected {
        LogicalType::Bool => (parses_as_bool, FindingKind::StringValuesAreBooleans),
        LogicalType::Int => (
            |s| s.trim().parse::<i64>().is_ok(),
            FindingKind::StringValuesAreNumbers,
        ),
        _ => (
            |s| s.trim().parse::<f64>().is_ok(),
            FindingKind::StringValuesAreNumbers,
        ),
    };
    let bad = unexpected_values(&state.frequency, |v: &String| parses(v), None);
    let approx = if bad.approximate {
        " (approximate: more than 4,096 distinct values, only the most frequent were checked)"
    } else {
        ""
    };
    let examples: Vec<(String, u64)> = state.frequency.top(3);
    let what = if expected == LogicalType::Bool {
        "booleans"
    } else {
        "numbers"
    };
    if bad.count == 0 {
        out.push(scope.finding(
            kind,
            Severity::Error,
            Some(&feature.name),
            json!({ "type": "string", "examples": top_json(&examples), "approximate": bad.approximate }),
            json!({ "type": expected.as_str() }),
            format!(
                "column holds {what} as strings (e.g. {}); the schema expects {}: cast it{approx}",
                top_text(&examples, 3),
                expected.as_str()
            ),
        ));
        return;
    }
    let fraction = bad.count as f64 / column.count.max(1) as f64;
    out.push(scope.finding(
        FindingKind::UnexpectedType,
        Severity::Error,
        Some(&feature.name),
        json!({
            "type": "string",
            "unparsable_fraction": fraction,
            "unparsable_count": bad.count,
            "top": top_json(&bad.top),
            "approximate": bad.approximate,
        }),
        json!({ "type": expected.as_str() }),
        format!(
            "column is string; the schema expects {}, and {} of values are not {what}: {}{approx}",
            expected.as_str(),
            percent(fraction),
            top_text(&bad.top, 3)
        ),
    ));
}

/// The spellings of booleans that data pipelines write as text.
fn parses_as_bool(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "true" | "false" | "t" | "f" | "yes" | "no" | "y" | "n" | "1" | "0"
    )
}

pub(super) fn check_non_finite(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    if column.logical_type != LogicalType::Float {
        return;
    }
    let nan = column.nan_count.unwrap_or(0);
    let inf = column.pos_inf_count.unwrap_or(0) + column.neg_inf_count.unwrap_or(0);
    let values = column.count.max(1) as f64;
    if feature.allow_nan == Some(false) && nan > 0 {
        out.push(scope.finding(
            FindingKind::UnexpectedNan,
            Severity::Error,
            Some(&feature.name),
            json!({ "count": nan, "fraction": nan as f64 / values }),
            json!({ "allow_nan": false }),
            format!(
                "{} values ({} of values) are NaN; the schema does not allow NaN",
                thousands(nan),
                percent(nan as f64 / values)
            ),
        ));
    }
    if feature.allow_inf == Some(false) && inf > 0 {
        out.push(scope.finding(
            FindingKind::UnexpectedInfinity,
            Severity::Error,
            Some(&feature.name),
            json!({
                "count": inf,
                "fraction": inf as f64 / values,
                "positive": column.pos_inf_count.unwrap_or(0),
                "negative": column.neg_inf_count.unwrap_or(0),
            }),
            json!({ "allow_inf": false }),
            format!(
                "{} values ({} of values) are infinite; the schema does not allow infinities",
                thousands(inf),
                percent(inf as f64 / values)
            ),
        ));
    }
}

fn numeric_state(column: &ColumnProfile) -> Option<&NumericState> {
    match &column.state {
        ColumnState::Float(n) | ColumnState::List(n) => Some(n),
        ColumnState::Int { numeric, .. } => Some(numeric),
        _ => None,
    }
}

/// Estimated number of values strictly below `bound` and strictly above
/// `bound`, from the column's KLL sketch (rank error about 1.65%), and at
/// least 1 when the exact min / max says some value is past it.
fn estimated_below(n: &NumericState, bound: f64) -> u64 {
    let share = n
        .kll
        .cdf(&[bound.next_down()])
        .and_then(|c| c.first().copied())
        .unwrap_or(0.0);
    ((share * n.finite as f64).round() as u64).max(1)
}

fn estimated_above(n: &NumericState, bound: f64) -> u64 {
    let share = n
        .kll
        .cdf(&[bound])
        .and_then(|c| c.first().copied())
        .map_or(0.0, |c| 1.0 - c);
    ((share * n.finite as f64).round() as u64).max(1)
}

/// The width a range tolerance is a share of: `max - min`; with one bound
/// or `min = max`, the bound's magnitude, or 1 when that is 0.
pub(super) fn range_width(min: Option<f64>, max: Option<f64>) -> f64 {
    match (min, max) {
        (Some(lo), Some(hi)) if hi > lo => hi - lo,
        _ => {
            let magnitude = min.or(max).map_or(0.0, f64::abs);
            if magnitude > 0.0 { magnitude } else { 1.0 }
        }
    }
}

pub(super) fn check_range(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    let (Some(range), Some(n)) = (&feature.range, numeric_state(column)) else {
        return;
    };
    if !column.logical_type.is_numeric() {
        return;
    }
    let tolerance = feature.range_tolerance.unwrap_or(DEFAULT_RANGE_TOLERANCE);
    let slack = tolerance * range_width(range.min, range.max);
    let finite = n.finite.max(1) as f64;
    if let (Some(bound), Some(min)) = (range.min, column.min)
        && min < bound
    {
        let limit = bound - slack;
        let count = estimated_below(n, bound);
        out.push(range_finding(
            scope,
            feature,
            FindingKind::ValueTooSmall,
            (min, min < limit),
            (bound, limit, tolerance),
            (count, count as f64 / finite),
        ));
    }
    if let (Some(bound), Some(max)) = (range.max, column.max)
        && max > bound
    {
        let limit = bound + slack;
        let count = estimated_above(n, bound);
        out.push(range_finding(
            scope,
            feature,
            FindingKind::ValueTooLarge,
            (max, max > limit),
            (bound, limit, tolerance),
            (count, count as f64 / finite),
        ));
    }
}

fn range_finding(
    scope: &Scope,
    feature: &FeatureSchema,
    kind: FindingKind,
    (extreme, past_limit): (f64, bool),
    (bound, limit, tolerance): (f64, f64, f64),
    (count, fraction): (u64, f64),
) -> Finding {
    let (key, side, word) = if kind == FindingKind::ValueTooSmall {
        ("min", "below", "minimum")
    } else {
        ("max", "above", "maximum")
    };
    let severity = if past_limit {
        Severity::Error
    } else {
        Severity::Warning
    };
    let verdict = if past_limit {
        format!("beyond the tolerance ({})", number(limit))
    } else {
        format!("within the tolerance ({})", number(limit))
    };
    scope.finding(
        kind,
        severity,
        Some(&feature.name),
        json!({ key: extreme, "estimated_count": count, "estimated_fraction": fraction }),
        json!({ key: bound, "tolerance": tolerance, "limit": limit }),
        format!(
            "{word} {} is {side} the range's {key} {}, {verdict}; about {} values ({}) are {side} it (estimated from the quantile sketch)",
            number(extreme),
            number(bound),
            thousands(count),
            percent(fraction)
        ),
    )
}

pub(super) fn check_value_counts(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    let (Some(bounds), Some(stats), ColumnState::List(n)) =
        (&feature.value_count, &column.value_count, &column.state)
    else {
        return;
    };
    let lists = n.finite.max(1) as f64;
    if let Some(min) = bounds.min
        && stats.min < min
    {
        let count = estimated_below(n, min as f64);
        out.push(scope.finding(
            FindingKind::ValueCountTooSmall,
            Severity::Error,
            Some(&feature.name),
            json!({ "min": stats.min, "estimated_count": count, "estimated_fraction": count as f64 / lists }),
            json!({ "min": min }),
            format!(
                "some lists have {} values; the schema requires at least {min} (about {} lists, {})",
                stats.min,
                thousands(count),
                percent(count as f64 / lists)
            ),
        ));
    }
    if let Some(max) = bounds.max
        && stats.max > max
    {
        let count = estimated_above(n, max as f64);
        out.push(scope.finding(
            FindingKind::ValueCountTooLarge,
            Severity::Error,
            Some(&feature.name),
            json!({ "max": stats.max, "estimated_count": count, "estimated_fraction": count as f64 / lists }),
            json!({ "max": max }),
            format!(
                "some lists have {} values; the schema allows at most {max} (about {} lists, {})",
                stats.max,
                thousands(count),
                percent(count as f64 / lists)
            ),
        ));
    }
}

pub(super) fn check_distinct(
    scope: &Scope,
    feature: &FeatureSchema,
    column: &ColumnProfile,
    out: &mut Vec<Finding>,
) {
    let Some(bounds) = &feature.distinct else {
        return;
    };
    let (distinct, exact) = match (&column.distinct, &column.state) {
        (Some(d), _) => (d.round() as u64, column.distinct_exact == Some(true)),
        (
            None,
            ColumnState::Bool {
                true_count,
                false_count,
            },
        ) => (
            u64::from(*true_count > 0) + u64::from(*false_count > 0),
            true,
        ),
        // Floats, timestamps and lists have no distinct count in the profile.
        _ => return,
    };
    let approx = if exact {
        ""
    } else {
        " (approximate: HLL estimate, about 1.6% relative standard error)"
    };
    if let Some(min) = bounds.min
        && distinct < min
    {
        out.push(scope.finding(
            FindingKind::TooFewDistinctValues,
            Severity::Error,
            Some(&feature.name),
            json!({ "distinct": distinct, "approximate": !exact }),
            json!({ "min": min }),
            format!(
                "{} distinct values; the schema requires at least {}{approx}",
                thousands(distinct),
                thousands(min)
            ),
        ));
    }
    if let Some(max) = bounds.max
        && distinct > max
    {
        out.push(scope.finding(
            FindingKind::TooManyDistinctValues,
            Severity::Error,
            Some(&feature.name),
            json!({ "distinct": distinct, "approximate": !exact }),
            json!({ "max": max }),
            format!(
                "{} distinct values; the schema allows at most {}{approx}",
                thousands(distinct),
                thousands(max)
            ),
        ));
    }
}
