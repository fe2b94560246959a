//! Which columns get a domain, and how much of future data may fall outside
//! it (`min_domain_mass`).
//!
//! A domain lists the values a sample showed. Whether values *outside* it
//! would be surprising depends on what the sample says about values it did
//! not show, and that is what this module estimates, from the per-value
//! counts of the profile (exact, as the domain needs the complete list):
//!
//! - **Established** categories: every value was seen at least
//!   [`InferOptions::min_category_count`] times (30). Nothing thins out into
//!   rare values, so no sign of more values beyond the ones seen. The only
//!   outside share left is what `n` rows cannot rule out: a set of values of
//!   total probability `p` is entirely absent from `n` rows with probability
//!   `(1 - p)^n`, which is at most 1% once `p >= ln(100) / n` (about
//!   `4.6 / n`). That bound is the allowance: 0.0001 for 50,000 rows.
//! - **Long-tailed** categories: some value was seen fewer times. Rare values
//!   seen suggest rarer ones not seen. Good–Turing estimates the share of
//!   future values that are none of the values seen as `f1 / n`, `f1` being
//!   the number of values seen exactly once; the allowance is three times
//!   that (the estimate is noisy: `f1` is a small count), and at least
//!   [`InferOptions::min_tail_allowance`] (1%), so that one new value in a
//!   small batch does not fail it. A column whose allowance would exceed
//!   [`InferOptions::max_tail_allowance`] (20%) gets no domain: too much of
//!   its future is unseen for a list of values to describe it.
//!
//! The allowance is rounded *up* to one significant digit, and
//! `min_domain_mass = 1 - allowance`. The thresholds were chosen by
//! simulation (`scripts/infer_rules_sim.py`; results in
//! `docs/schema-inference.md`).

use super::{
    ColumnSummary, FeatureNotes, FeatureSchema, InferOptions, NOTE_WIDTH, share, thousands, wrap,
};
use crate::schema::Domain;

/// The probability with which a set of values of total share above the
/// unseen bound would have shown up in the sample.
const UNSEEN_CONFIDENCE: f64 = 0.99;

/// How many times the Good–Turing estimate of the unseen share a long-tailed
/// domain allows.
pub(super) const SINGLETON_FACTOR: f64 = 3.0;

/// A domain and how strict it is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DomainRule {
    /// Every observed value with its count, in the profile's order.
    pub values: Vec<(String, u64)>,
    /// Every value was seen at least `min_category_count` times.
    pub established: bool,
    /// The share of values allowed outside the domain (rounded up).
    pub allowance: f64,
    /// `1 - allowance`, exactly as a decimal.
    pub min_domain_mass: f64,
    /// Why, for the notes.
    pub reason: String,
}

/// The complete value list of a column that counts as categorical under a
/// cap of `max` distinct values, or why it does not.
pub(super) fn categories(
    c: &ColumnSummary,
    max: usize,
    options: &InferOptions,
) -> Result<Vec<(String, u64)>, String> {
    let count = c.count;
    let Some(distinct) = c.distinct else {
        return Err("the profile has no distinct count".to_string());
    };
    if count == 0 {
        return Err("no values observed".to_string());
    }
    let shown = thousands(distinct.round() as u64);
    if !c.distinct_exact {
        return Err(format!(
            "about {shown} distinct values (estimated), more than {max}"
        ));
    }
    if distinct > max as f64 {
        return Err(format!("{shown} distinct values, more than {max}"));
    }
    let ratio = distinct / count as f64;
    if ratio > options.max_domain_ratio {
        return Err(format!(
            "{shown} distinct values in {} non-null ones ({} distinct, more than {})",
            thousands(count),
            share(ratio),
            share(options.max_domain_ratio)
        ));
    }
    // Only a complete list makes a domain; a partial one would flag the
    // values the profile did not show.
    if c.top.len() as f64 != distinct || !c.top_exact {
        return Err(format!(
            "the profile lists {} of its {shown} values",
            c.top.len()
        ));
    }
    Ok(c.top.iter().map(|v| (v.value.clone(), v.count)).collect())
}

/// The largest share a set of values can have and still be missing from `n`
/// rows with probability `1 - UNSEEN_CONFIDENCE`: `ln(100) / n`.
pub(super) fn unseen_bound(n: u64) -> f64 {
    -(1.0 - UNSEEN_CONFIDENCE).ln() / n.max(1) as f64
}

/// How strict a domain of `values` (complete, exact counts) may be, or why
/// the column should have none.
pub(super) fn domain_rule(
    values: Vec<(String, u64)>,
    options: &InferOptions,
) -> Result<DomainRule, String> {
    let n: u64 = values.iter().map(|(_, c)| c).sum();
    if n == 0 || values.is_empty() {
        return Err("no values observed".to_string());
    }
    let min_count = options.min_category_count.max(1);
    let rare = values.iter().filter(|(_, c)| *c < min_count).count();
    let once = values.iter().filter(|(_, c)| *c == 1).count();
    let rarest = values.iter().map(|(_, c)| *c).min().unwrap_or(0);
    let (established, raw, reason) = if rare == 0 {
        let bound = unseen_bound(n);
        let reason = format!(
            "every value seen at least {} times (the rarest {} times); values never seen \
             in {} rows are at most {} of the data (99% confidence)",
            thousands(min_count),
            thousands(rarest),
            thousands(n),
            share(round_up_one_digit(bound))
        );
        (true, bound, reason)
    } else {
        let good_turing = once as f64 / n as f64;
        let raw = (SINGLETON_FACTOR * good_turing).max(options.min_tail_allowance);
        let reason = format!(
            "long tail: {} of {} values seen fewer than {} times, {} of them once; \
             new values may make up {} of the data (the larger of {} and {} times the \
             share of values seen once, {})",
            thousands(rare as u64),
            thousands(values.len() as u64),
            thousands(min_count),
            thousands(once as u64),
            share(round_up_one_digit(raw)),
            share(options.min_tail_allowance),
            SINGLETON_FACTOR,
            share(good_turing)
        );
        (false, raw, reason)
    };
    let allowance = round_up_one_digit(raw);
    if !established && allowance > options.max_tail_allowance {
        return Err(format!(
            "{reason}, more than {}: too much unseen for a domain",
            share(options.max_tail_allowance)
        ));
    }
    Ok(DomainRule {
        values,
        established,
        allowance,
        min_domain_mass: complement(allowance),
        reason,
    })
}

/// Sets the domain and `min_domain_mass` of `rule` on `f`, and the per-value
/// counts and the reason in the notes; `values` are sorted.
pub(super) fn set_domain<T>(
    f: &mut FeatureSchema,
    notes: &mut FeatureNotes,
    rule: &DomainRule,
    values: &[(T, u64)],
    key: impl Fn(&T) -> String,
    domain: impl FnOnce(Vec<(T, u64)>) -> Domain,
) where
    T: Clone,
{
    notes.domain_values = values
        .iter()
        .map(|(v, n)| (key(v), format!("{} rows", thousands(*n))))
        .collect();
    notes.lines.extend(wrap(
        &format!("min_domain_mass {}: {}", rule.min_domain_mass, rule.reason),
        NOTE_WIDTH,
    ));
    f.domain = Some(domain(values.to_vec()));
    f.min_domain_mass = Some(rule.min_domain_mass);
}

/// `v` rounded up to one significant digit: 0.000092 → 0.0001, 0.0123 → 0.02.
pub(super) fn round_up_one_digit(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return v.max(0.0);
    }
    let exponent = v.log10().floor() as i32;
    super::round_to(v, exponent, f64::ceil)
}

/// `1 - allowance` as the double nearest the decimal (0.9999, not
/// 0.99990000000000001), for an allowance with one significant digit.
fn complement(allowance: f64) -> f64 {
    if allowance <= 0.0 {
        return 1.0;
    }
    let exponent = allowance.log10().floor() as i32;
    super::round_to(1.0 - allowance, exponent, f64::round)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(counts: &[u64]) -> Vec<(String, u64)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("v{i}"), *c))
            .collect()
    }

    #[test]
    fn unseen_bound_is_where_absence_becomes_a_one_percent_event() {
        let n = 50_000;
        let p = unseen_bound(n);
        // (1 - p)^n = 1% exactly at the bound, by construction.
        let absent = (1.0 - p).powf(n as f64);
        assert!((absent - 0.01).abs() < 1e-4, "{absent}");
        assert!((p * n as f64 - 100f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn rounding_is_up_to_one_digit_and_complements_are_exact_decimals() {
        assert_eq!(round_up_one_digit(0.000_092), 0.0001);
        assert_eq!(round_up_one_digit(0.0123), 0.02);
        assert_eq!(round_up_one_digit(0.01), 0.01);
        assert_eq!(round_up_one_digit(0.23), 0.3);
        assert_eq!(complement(0.0001), 0.9999);
        assert_eq!(complement(0.0003), 0.9997);
        assert_eq!(complement(0.02), 0.98);
        assert_eq!(complement(0.3), 0.7);
    }

    #[test]
    fn established_categories_allow_only_what_the_sample_cannot_rule_out() {
        let options = InferOptions::default();
        // 50,000 rows, the rarest value 1,000 times.
        let rule = domain_rule(values(&[30_000, 19_000, 1_000]), &options).unwrap();
        assert!(rule.established);
        // ln(100) / 50,000 = 0.0000921 -> 0.0001.
        assert_eq!(rule.allowance, 0.0001);
        assert_eq!(rule.min_domain_mass, 0.9999);
        // 20,000 rows: 0.00023 -> 0.0003.
        let rule = domain_rule(values(&[10_000, 9_970, 30]), &options).unwrap();
        assert!(rule.established, "30 is enough");
        assert_eq!(rule.min_domain_mass, 0.9997);
    }

    #[test]
    fn long_tails_allow_three_times_the_good_turing_estimate_at_least_one_percent() {
        let options = InferOptions::default();
        // One value seen 29 times: rare, but none seen once -> the 1% floor.
        let rule = domain_rule(values(&[9_000, 971, 29]), &options).unwrap();
        assert!(!rule.established);
        assert_eq!(rule.allowance, 0.01);
        assert_eq!(rule.min_domain_mass, 0.99);
        // 1,000 rows, 8 values seen once: 3 * 8 / 1,000 = 0.024 -> 0.03.
        let mut counts = vec![500, 300, 100, 50, 42];
        counts.extend([1; 8]);
        let rule = domain_rule(values(&counts), &options).unwrap();
        assert_eq!(rule.allowance, 0.03);
        assert_eq!(rule.min_domain_mass, 0.97);
        assert!(rule.reason.contains("8 of them once"), "{}", rule.reason);
    }

    #[test]
    fn a_tail_too_heavy_for_a_domain_gets_none() {
        // 200 rows, 20 values seen once: 3 * 0.1 = 0.3 > 0.2.
        let mut counts = vec![100, 80];
        counts.extend([1; 20]);
        let why = domain_rule(values(&counts), &InferOptions::default()).unwrap_err();
        assert!(why.contains("too much unseen"), "{why}");
    }
}
