//! Exact order statistics for expectations: medians, quantiles and
//! histograms computed from every value of the column, as GE computes them
//! (pandas `Series.median`, `Series.quantile(q, interpolation=...)`,
//! `np.histogram`). Profiles use sketches; validation decides pass/fail on
//! a bound, so it uses the exact numbers.

/// numpy's interpolation methods for a quantile between two order
/// statistics (`np.quantile(..., method=...)`; GE's `allow_relative_error`
/// on pandas). GE's default is `Nearest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    Linear,
    Lower,
    Higher,
    Midpoint,
    Nearest,
}

impl Interpolation {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "linear" => Self::Linear,
            "lower" => Self::Lower,
            "higher" => Self::Higher,
            "midpoint" => Self::Midpoint,
            "nearest" => Self::Nearest,
            _ => return None,
        })
    }
}

/// The `q` quantile of `sorted` (ascending, no NaN), numpy's definition:
/// the virtual index `q·(n−1)` between two order statistics, resolved by
/// `method`. `None` for an empty column.
pub fn quantile(sorted: &[f64], q: f64, method: Interpolation) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let index = q * (n - 1) as f64;
    let below = (index.floor() as usize).min(n - 1);
    let above = (index.ceil() as usize).min(n - 1);
    let (lo, hi) = (sorted[below], sorted[above]);
    Some(match method {
        Interpolation::Lower => lo,
        Interpolation::Higher => hi,
        Interpolation::Midpoint => lo + (hi - lo) / 2.0,
        // numpy rounds the virtual index half to even.
        Interpolation::Nearest => sorted[(index.round_ties_even() as usize).min(n - 1)],
        Interpolation::Linear => {
            let fraction = index - below as f64;
            if fraction == 0.0 {
                lo
            } else {
                lo + (hi - lo) * fraction
            }
        }
    })
}

/// pandas' median: the middle value, or the mean of the two middle values.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        let (a, b) = (sorted[n / 2 - 1], sorted[n / 2]);
        a + (b - a) / 2.0
    })
}

/// The one or two middle values of `values` (any order), ascending: they
/// have the same median as all of them. Linear time, where sorting a
/// column only for its median would be O(n log n).
pub fn middle(values: &mut [f64]) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let (lower, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return vec![upper];
    }
    let below = lower
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(upper);
    vec![below, upper]
}

/// `np.histogram(values, edges)` counts: bins are `[e_i, e_{i+1})`, the
/// last one closed; values outside the edges are not counted. `edges`
/// ascending (infinite ends allowed), `sorted` ascending.
pub fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    if edges.len() < 2 {
        return Vec::new();
    }
    let below = |x: f64| sorted.partition_point(|v| *v < x);
    let through = |x: f64| sorted.partition_point(|v| *v <= x);
    let last = edges.len() - 1;
    let cumulative: Vec<usize> = edges
        .iter()
        .enumerate()
        .map(|(i, e)| if i == last { through(*e) } else { below(*e) })
        .collect();
    cumulative
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]) as u64)
        .collect()
}

/// Values strictly below `x` and strictly above `y`.
pub fn outside(sorted: &[f64], x: f64, y: f64) -> (u64, u64) {
    let below = sorted.partition_point(|v| *v < x);
    let above = sorted.len() - sorted.partition_point(|v| *v <= y);
    (below as u64, above as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
    }

    #[test]
    fn the_middle_values_keep_the_median() {
        for n in [1usize, 2, 3, 4, 7, 10, 101, 1000] {
            let mut values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1009) as f64).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let middle = middle(&mut values);
            assert_eq!(median(&middle), median(&sorted), "n = {n}");
        }
        assert_eq!(middle(&mut []), Vec::<f64>::new());
    }

    #[test]
    fn nearest_rounds_the_virtual_index_half_to_even() {
        // numpy: np.quantile(range(1, n + 1), q, method="nearest").
        let data = |n: usize| (1..=n).map(|i| i as f64).collect::<Vec<_>>();
        let q = |n, q| quantile(&data(n), q, Interpolation::Nearest).unwrap();
        assert_eq!(q(4, 0.5), 3.0); // index 1.5 → 2
        assert_eq!(q(6, 0.1), 1.0); // index 0.5 → 0
        assert_eq!(q(6, 0.5), 3.0); // index 2.5 → 2
        assert_eq!(q(7, 0.25), 3.0); // index 1.5 → 2
        assert_eq!(q(8, 0.5), 5.0); // index 3.5 → 4
        assert_eq!(q(8, 0.9), 7.0); // index 6.3 → 6
    }

    #[test]
    fn other_interpolations() {
        let d = [1.0, 2.0, 4.0, 8.0];
        // index 0.75·3 = 2.25 between 4 and 8.
        assert_eq!(quantile(&d, 0.75, Interpolation::Linear), Some(5.0));
        assert_eq!(quantile(&d, 0.75, Interpolation::Lower), Some(4.0));
        assert_eq!(quantile(&d, 0.75, Interpolation::Higher), Some(8.0));
        assert_eq!(quantile(&d, 0.75, Interpolation::Midpoint), Some(6.0));
        assert_eq!(quantile(&d, 1.0, Interpolation::Linear), Some(8.0));
        assert_eq!(quantile(&d, 0.0, Interpolation::Nearest), Some(1.0));
    }

    #[test]
    fn histograms_close_the_last_bin_and_drop_what_is_outside() {
        let v = [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 3.0, 4.0];
        assert_eq!(histogram(&v, &[0.0, 1.0, 2.0, 3.0]), vec![2, 1, 3]);
        assert_eq!(
            histogram(&v, &[f64::NEG_INFINITY, 0.0, 3.0, f64::INFINITY]),
            vec![1, 4, 3]
        );
        assert_eq!(outside(&v, 0.0, 3.0), (1, 1));
    }
}
