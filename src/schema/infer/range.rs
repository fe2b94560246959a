//! Value ranges: the tight ones `ranges = true` asks for, and the sanity
//! range every non-categorical int feature gets by default.
//!
//! **Sanity range** (int features, by default). Counts, amounts in units,
//! scores: a column that is not categorical still has values that make no
//! sense (a negative count, a sentinel like 999999, a unit change), and those
//! should fail validation; values a little past what one sample happened to
//! show should not. So the range is wide, and only bounds a side whose tail
//! the sample can vouch for:
//!
//! - nothing below [`InferOptions::min_range_values`] (1,000) non-null
//!   values: a small sample says too little about its tails;
//! - the observed span widened by [`InferOptions::int_range_margin`] (twice
//!   the span) on each side, to integers outward; a column that was never
//!   negative keeps a lower bound of at least 0;
//! - a side is bounded only when its tail is evidently no heavier than an
//!   exponential one, by either of two tests:
//!   - *moments*: the observed extreme is at most `ln(n) + 1` standard
//!     deviations from the mean. The extreme of `n` draws from an exponential
//!     tail lies about `ln(n) - 1` standard deviations out (normal, Poisson
//!     and binomial data lie closer), while lognormal, Pareto and Zipf-like
//!     tails go further;
//!   - *counts* (when the profile lists every value with its exact count):
//!     past the outermost value seen at least
//!     [`InferOptions::min_category_count`] (30) times, the rarer values
//!     reach no further than the span of the values seen that often. A
//!     count like Poisson(0.05) (`0`: 95%, `1`: 5%, `2`: 0.1%, `3` once)
//!     fails the moments test, its mass being piled at 0, but passes this
//!     one; a heavy tail leaves a long trail of values seen once or twice.
//!
//!   A side neither test vouches for is left open (a never-negative column
//!   still gets its 0): for heavy tails a sample does not bound what the next
//!   one holds.
//!
//! Past the bounds, the schema's `range_tolerance` (default 0.01 of the
//! range's width) separates a warning from an error, as for any range.

use super::{ColumnSummary, InferOptions, round_to, short, thousands};
use crate::profile::LogicalType;
use crate::schema::Bounds;

/// The range `ranges = true` infers for int and float features: the
/// observed min/max widened by `range_margin` of the span on each side and
/// rounded outward to three significant digits of the span (ints: to
/// integers); a column that was never negative keeps a lower bound of at
/// least 0.
pub(super) fn tight_range(c: &ColumnSummary, options: &InferOptions) -> Option<Bounds<f64>> {
    let lo = c.min.filter(|v| v.is_finite());
    let hi = c.max.filter(|v| v.is_finite());
    if lo.is_none() && hi.is_none() {
        return None;
    }
    let (min, max) = (lo.or(hi)?, hi.or(lo)?);
    let span = max - min;
    // A constant column has no span: widen by a share of its magnitude.
    let pad = options.range_margin.max(0.0) * if span > 0.0 { span } else { min.abs() };
    let (mut low, mut high) = (min - pad, max + pad);
    if c.logical_type == LogicalType::Int {
        low = low.floor();
        high = high.ceil();
    } else if high > low {
        let exponent = (high - low).log10().floor() as i32 - 2;
        (low, high) = (
            round_to(low, exponent, f64::floor),
            round_to(high, exponent, f64::ceil),
        );
    }
    if min >= 0.0 {
        low = low.max(0.0);
    }
    Some(Bounds {
        min: lo.map(|_| low),
        max: hi.map(|_| high),
    })
}

/// The sanity range of a non-categorical int feature (module docs), with
/// the note explaining it.
pub(super) fn sanity_range(
    c: &ColumnSummary,
    options: &InferOptions,
) -> (Option<Bounds<f64>>, String) {
    let n = c.count;
    if n < options.min_range_values {
        return (
            None,
            format!(
                "no range: {} values, fewer than the {} a sanity range needs",
                thousands(n),
                thousands(options.min_range_values)
            ),
        );
    }
    let (Some(min), Some(max)) = (
        c.min.filter(|v| v.is_finite()),
        c.max.filter(|v| v.is_finite()),
    ) else {
        return (None, "no range: the profile has no min and max".to_string());
    };
    let (Some(mean), Some(sd)) = (c.mean, c.stddev) else {
        return (
            None,
            "no range: the profile has no mean and standard deviation".to_string(),
        );
    };
    let span = max - min;
    let margin = options.int_range_margin.max(0.0);
    let pad = margin * if span > 0.0 { span } else { min.abs().max(1.0) };
    let limit = (n as f64).ln() + 1.0;
    // How many standard deviations out each extreme lies (0 for a constant).
    let reach = |distance: f64| if sd > 0.0 { distance / sd } else { 0.0 };
    let (above, below) = (reach(max - mean), reach(mean - min));

    let trail = count_trail(c, options.min_category_count);
    let light_above = above <= limit || trail.is_some_and(|t| t.above <= t.body);
    let light_below = below <= limit || trail.is_some_and(|t| t.below <= t.body);
    let high = light_above.then(|| (max + pad).ceil());
    let low = if min >= 0.0 {
        Some((min - pad).floor().max(0.0))
    } else {
        light_below.then(|| (min - pad).floor())
    };
    let mut note = format!(
        "sanity range: the observed {}..{} widened by {} the span on each side",
        short(min),
        short(max),
        times(margin)
    );
    if min >= 0.0 {
        note.push_str(", never below 0 (no value was negative)");
    }
    let heavy = |side: &str, sds: f64| {
        format!(
            "; no {side} bound: the {} lies {} standard deviations from the mean, further than \
             an exponential tail reaches in {} values (ln n + 1 = {}), and the value counts do \
             not show a short tail either, so the tail may be too heavy to bound from this sample",
            if side == "upper" {
                "maximum"
            } else {
                "minimum"
            },
            short(sds),
            thousands(n),
            short(limit)
        )
    };
    if high.is_none() {
        note.push_str(&heavy("upper", above));
    }
    if low.is_none() {
        note.push_str(&heavy("lower", below));
    }
    if low.is_none() && high.is_none() {
        return (None, note);
    }
    (
        Some(Bounds {
            min: low,
            max: high,
        }),
        note,
    )
}

/// How far the rarely seen values reach past the often seen ones.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Trail {
    /// The span of the values seen at least `min_count` times.
    body: f64,
    /// From the largest such value to the maximum.
    above: f64,
    /// From the minimum to the smallest such value.
    below: f64,
}

/// The [`Trail`] of a column whose profile lists every value with its exact
/// count, and has a value seen at least `min_count` times.
fn count_trail(c: &ColumnSummary, min_count: u64) -> Option<Trail> {
    let complete =
        c.distinct_exact && c.top_exact && c.distinct.is_some_and(|d| d == c.top.len() as f64);
    if !complete {
        return None;
    }
    let values: Vec<(f64, u64)> = c
        .top
        .iter()
        .map(|v| v.value.trim().parse::<f64>().ok().map(|x| (x, v.count)))
        .collect::<Option<_>>()?;
    let often = values.iter().filter(|(_, n)| *n >= min_count.max(1));
    let (lo, hi) = often.fold(None, |acc: Option<(f64, f64)>, (x, _)| {
        Some(acc.map_or((*x, *x), |(lo, hi)| (lo.min(*x), hi.max(*x))))
    })?;
    let min = values.iter().map(|(x, _)| *x).fold(f64::INFINITY, f64::min);
    let max = values
        .iter()
        .map(|(x, _)| *x)
        .fold(f64::NEG_INFINITY, f64::max);
    Some(Trail {
        body: hi - lo,
        above: max - hi,
        below: lo - min,
    })
}

/// 2.0 → "twice", 1.0 → "once", 0.5 → "0.5 times".
fn times(factor: f64) -> String {
    if factor == 1.0 {
        "once".to_string()
    } else if factor == 2.0 {
        "twice".to_string()
    } else {
        format!("{} times", short(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(count: u64, min: f64, max: f64, mean: f64, sd: f64) -> ColumnSummary {
        let mut c = ColumnSummary::new("x", LogicalType::Int, count, 0);
        (c.min, c.max, c.mean, c.stddev) = (Some(min), Some(max), Some(mean), Some(sd));
        c
    }

    #[test]
    fn a_poisson_count_gets_zero_to_three_times_its_maximum() {
        // Poisson(4) in 50,000 rows: 0..14, mean 4, sd 2.
        let (range, note) = sanity_range(
            &column(50_000, 0.0, 14.0, 4.0, 2.0),
            &InferOptions::default(),
        );
        assert_eq!(
            range,
            Some(Bounds {
                min: Some(0.0),
                max: Some(42.0)
            })
        );
        assert!(note.contains("never below 0"), "{note}");
    }

    #[test]
    fn heavy_tails_stay_open_on_their_heavy_side() {
        // Max 40 sds above the mean in 50,000 values (limit ln n + 1 = 11.8).
        let (range, note) = sanity_range(
            &column(50_000, 0.0, 4_100.0, 100.0, 100.0),
            &InferOptions::default(),
        );
        assert_eq!(
            range,
            Some(Bounds {
                min: Some(0.0),
                max: None
            })
        );
        assert!(note.contains("no upper bound"), "{note}");
        // Signed and heavy on both sides: no range at all.
        let (range, _) = sanity_range(
            &column(50_000, -4_000.0, 4_000.0, 0.0, 100.0),
            &InferOptions::default(),
        );
        assert_eq!(range, None);
        // Signed and light: both sides, widened by twice the span.
        let (range, _) = sanity_range(
            &column(50_000, -60.0, 62.0, 0.0, 15.0),
            &InferOptions::default(),
        );
        assert_eq!(
            range,
            Some(Bounds {
                min: Some(-304.0),
                max: Some(306.0)
            })
        );
    }

    #[test]
    fn value_counts_vouch_for_a_rare_event_count() {
        // Poisson(0.05) in 50,000 rows: the maximum, 3, lies 13 sds above the
        // mean (limit 11.8), but the values seen 30+ times span 0..2 and the
        // rarer ones reach 1 past them.
        let mut c = column(50_000, 0.0, 3.0, 0.05, 0.229);
        c.distinct = Some(4.0);
        c.distinct_exact = true;
        c.top_exact = true;
        c.top = [("0", 47_561), ("1", 2_379), ("2", 59), ("3", 1)]
            .iter()
            .map(|(v, n)| crate::profile::ValueCount {
                value: v.to_string(),
                count: *n,
            })
            .collect();
        let options = InferOptions::default();
        assert_eq!(
            sanity_range(&c, &options).0,
            Some(Bounds {
                min: Some(0.0),
                max: Some(9.0)
            })
        );
        // A trail longer than the body: 0..2 seen often, then values up to 40.
        c.top[3].value = "40".into();
        c.max = Some(40.0);
        let (range, note) = sanity_range(&c, &options);
        assert_eq!(
            range,
            Some(Bounds {
                min: Some(0.0),
                max: None
            })
        );
        assert!(note.contains("no upper bound"), "{note}");
        // An incomplete list says nothing.
        c.top[3].value = "3".into();
        c.max = Some(3.0);
        c.distinct = Some(5.0);
        assert_eq!(sanity_range(&c, &options).0.unwrap().max, None);
    }

    #[test]
    fn small_samples_get_no_sanity_range() {
        let (range, note) =
            sanity_range(&column(999, 0.0, 14.0, 4.0, 2.0), &InferOptions::default());
        assert_eq!(range, None);
        assert!(note.contains("fewer than the 1,000"), "{note}");
    }

    #[test]
    fn the_limit_follows_the_sample_size() {
        // 1,000 values: ln(1000) + 1 = 7.9 sds.
        let options = InferOptions::default();
        let light = column(1_000, 0.0, 4.0 + 7.8 * 2.0, 4.0, 2.0);
        assert!(sanity_range(&light, &options).0.unwrap().max.is_some());
        let heavy = column(1_000, 0.0, 4.0 + 8.0 * 2.0, 4.0, 2.0);
        assert!(sanity_range(&heavy, &options).0.unwrap().max.is_none());
    }
}
