//! Numeric accumulator: counts, exact moments and a KLL quantile sketch.
//!
//! Moments use a two-pass computation inside each batch (exact sum of
//! squared deviations around the batch mean) and Chan et al.'s pairwise
//! update to combine batches and partitions, so merging is numerically
//! stable and order-independent up to floating-point rounding.

use std::sync::{Arc, OnceLock};

use arrow::buffer::NullBuffer;
use serde::{Deserialize, Serialize};

use super::kll::Kll;

mod quads;

use quads::{Dense, FirstPass, Nullable, Pairs, Values, lanes_total};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericState {
    /// Finite values seen (NaN and ±inf are counted separately).
    pub finite: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    pub zeros: u64,
    pub negatives: u64,
    /// May overflow to ±inf on huge finite values (as numpy's sum does);
    /// non-finite moments are saved as text so the profile still loads.
    #[serde(with = "float_text")]
    pub sum: f64,
    #[serde(with = "float_text")]
    pub mean: f64,
    /// Sum of squared deviations from the mean (Welford's M2).
    #[serde(with = "float_text")]
    pub m2: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub kll: Kll,
    /// The sketch's retained items as sketch-mode drift reads them, worked
    /// out once per state and never saved: the daemon compares its baseline
    /// with every window and each window twice (skew, then drift as the
    /// previous window), and sorting the items was most of a comparison.
    #[serde(skip)]
    pub sorted_items: SortedItemsCache,
}

/// A KLL sketch's retained items sorted, equal values merged, each with the
/// stream weight it stands for (sketch-mode drift's weighted sample).
#[derive(Debug, Clone, PartialEq)]
pub struct SortedItems {
    pub values: Vec<f64>,
    pub weights: Vec<f64>,
    /// Sum of the weights (the sketch's n).
    pub total: u64,
    /// Whether the weight at a value is ties of that value (rather than a
    /// stretch of distinct values the sketch summarised by one item).
    pub tied: Vec<bool>,
    /// Running sums of `weights` (in their order, so bit for bit the sums a
    /// walk would make): positions are found by binary search.
    pub cumulative: Vec<f64>,
}

/// [`SortedItems`] computed on first use. Derived from the sketch beside
/// it, so it takes no part in equality, and every `&mut` method of
/// [`NumericState`] clears it.
#[derive(Clone, Default)]
pub struct SortedItemsCache(OnceLock<Arc<SortedItems>>);

impl SortedItemsCache {
    pub fn get_or_init(&self, compute: impl FnOnce() -> SortedItems) -> Arc<SortedItems> {
        self.0.get_or_init(|| Arc::new(compute())).clone()
    }

    fn clear(&mut self) {
        self.0 = OnceLock::new();
    }
}

impl PartialEq for SortedItemsCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for SortedItemsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "SortedItemsCache(filled)"
        } else {
            "SortedItemsCache(empty)"
        })
    }
}

/// Statistics of one batch before they are folded into the running state.
struct BatchMoments {
    n: u64,
    sum: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl NumericState {
    /// Adds values (already stripped of nulls). Non-finite values are counted
    /// but kept out of moments and quantiles; the quantile sketch is only
    /// fed when `quantiles` is set (see [`super::column::Detail`]).
    pub fn update_values(&mut self, values: impl Iterator<Item = f64> + Clone, quantiles: bool) {
        self.update_valid(Pairs(values.map(|v| (v, true))), quantiles);
    }

    /// [`NumericState::update_values`] for a column read in place: `values`
    /// with their validity (`nulls`, `None` when every slot is valid). One
    /// pass without branches for the moments and counts, a second for the
    /// squared deviations, and one that sorts out NaN and infinities only
    /// when there are any, four values at a time (see `numeric/quads.rs`): the same
    /// values in the same slots give the same state bit for bit on either
    /// path. Measured on the bench table: a path with branches per value
    /// spent about 9 ns a value, a tenth of `assay validate`.
    pub fn update_slice<T: Copy>(
        &mut self,
        values: &[T],
        nulls: Option<&NullBuffer>,
        to_f64: impl Fn(T) -> f64 + Copy,
        quantiles: bool,
    ) {
        match nulls {
            None => self.update_valid(Dense { values, to_f64 }, quantiles),
            Some(nulls) => self.update_valid(
                Nullable {
                    values,
                    nulls,
                    to_f64,
                },
                quantiles,
            ),
        }
    }

    fn update_valid(&mut self, values: impl Values, quantiles: bool) {
        self.sorted_items.clear();
        let mut pass = FirstPass::default();
        values.quads(|quad| pass.take(quad));
        let valid: u64 = pass.valid.iter().sum();
        let n: u64 = pass.n.iter().sum();
        self.zeros += pass.zeros.iter().sum::<u64>();
        self.negatives += pass.negatives.iter().sum::<u64>();
        if valid > n {
            for (v, ok) in values.pairs() {
                if ok && !v.is_finite() {
                    if v.is_nan() {
                        self.nan += 1;
                    } else if v > 0.0 {
                        self.pos_inf += 1;
                    } else {
                        self.neg_inf += 1;
                    }
                }
            }
        }
        let finite = values
            .pairs()
            .filter(|(v, ok)| *ok && v.is_finite())
            .map(|(v, _)| v);
        if quantiles {
            let mut gathered = Vec::with_capacity(n as usize);
            if valid == n {
                values.valid_into(&mut gathered);
            } else {
                gathered.extend(finite.clone());
            }
            self.kll.update_finite(gathered, pass.min_max());
        }
        if n == 0 {
            return;
        }
        let sum = lanes_total(pass.sum);
        let mut mean = sum / n as f64;
        if !mean.is_finite() {
            // The sum overflowed: average pre-scaled values instead, so the
            // mean of huge finite values stays finite and exact enough.
            mean = finite.map(|v| v / n as f64).sum();
        }
        let mut m2 = [0.0; 4];
        values.quads(|quad| {
            for (j, (v, ok)) in quad.into_iter().enumerate() {
                let d = if ok & v.is_finite() { v - mean } else { 0.0 };
                m2[j] += d * d;
            }
        });
        let (min, max) = pass.min_max();
        self.fold(BatchMoments {
            n,
            sum,
            mean,
            m2: lanes_total(m2),
            min,
            max,
        });
    }

    fn fold(&mut self, b: BatchMoments) {
        let n_a = self.finite as f64;
        let n_b = b.n as f64;
        let n = n_a + n_b;
        if self.finite == 0 {
            // Nothing to combine with (and `inf * 0` below would make NaN
            // out of huge but finite values).
            self.mean = b.mean;
            self.m2 = b.m2;
        } else {
            let delta = b.mean - self.mean;
            // Chan et al.'s update in its usual order (best rounding, down to
            // subnormal values); weights first only when that order overflows
            // on huge finite values.
            let step = delta * n_b / n;
            self.mean += if step.is_finite() {
                step
            } else {
                delta * (n_b / n)
            };
            let cross = delta * delta * n_a * n_b / n;
            self.m2 += b.m2
                + if cross.is_finite() {
                    cross
                } else {
                    delta * delta * (n_a * n_b / n)
                };
        }
        self.finite += b.n;
        self.sum += b.sum;
        self.min = Some(self.min.map_or(b.min, |m| m.min(b.min)));
        self.max = Some(self.max.map_or(b.max, |m| m.max(b.max)));
    }

    pub fn merge(&mut self, other: &NumericState) {
        self.sorted_items.clear();
        self.nan += other.nan;
        self.pos_inf += other.pos_inf;
        self.neg_inf += other.neg_inf;
        self.zeros += other.zeros;
        self.negatives += other.negatives;
        self.kll.merge(&other.kll);
        if let (Some(min), Some(max)) = (other.min, other.max) {
            self.fold(BatchMoments {
                n: other.finite,
                sum: other.sum,
                mean: other.mean,
                m2: other.m2,
                min,
                max,
            });
        }
    }

    /// Sample variance (ddof = 1), as pandas' `var()`.
    pub fn variance(&self) -> Option<f64> {
        // `max` would turn a NaN (overflowed moments) into 0; keep it NaN.
        (self.finite > 1).then(|| {
            let v = self.m2 / (self.finite - 1) as f64;
            if v < 0.0 { 0.0 } else { v }
        })
    }

    pub fn mean(&self) -> Option<f64> {
        (self.finite > 0).then_some(self.mean)
    }
}

/// Serde for an `f64` that may be non-finite: numbers as JSON numbers,
/// `inf`, `-inf` and `NaN` as strings (JSON has no literal for them, and
/// serde_json would write `null`, which would not load back).
mod float_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumberOrText {
            Number(f64),
            Text(String),
        }
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(v) => Ok(v),
            NumberOrText::Text(t) => match t.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "NaN" => Ok(f64::NAN),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"inf\", \"-inf\" or \"NaN\", found {other:?}"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(state: &NumericState, computed: &mut u32) -> Arc<SortedItems> {
        state.sorted_items.get_or_init(|| {
            *computed += 1;
            SortedItems {
                values: vec![state.finite as f64],
                weights: vec![1.0],
                total: state.finite,
                tied: vec![false],
                cumulative: vec![1.0],
            }
        })
    }

    #[test]
    fn sorted_items_are_computed_once_and_cleared_by_every_change() {
        let mut computed = 0;
        let mut state = NumericState::default();
        state.update_values([1.0, 2.0].into_iter(), true);
        assert_eq!(items(&state, &mut computed).total, 2);
        assert_eq!(items(&state, &mut computed).total, 2);
        assert_eq!(computed, 1, "computed once");
        // A clone shares what was computed; equality ignores it.
        let copy = state.clone();
        assert_eq!(items(&copy, &mut computed).total, 2);
        assert_eq!(computed, 1);
        let mut fresh = NumericState::default();
        fresh.update_values([1.0, 2.0].into_iter(), true);
        assert_eq!(fresh, state);
        state.update_values([3.0].into_iter(), true);
        assert_eq!(items(&state, &mut computed).total, 3, "update clears");
        let mut other = NumericState::default();
        other.update_values([4.0].into_iter(), true);
        state.merge(&other);
        assert_eq!(items(&state, &mut computed).total, 4, "merge clears");
        assert_eq!(computed, 3);
    }

    fn value() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        prop_oneof![
            8 => -1e6f64..1e6,
            1 => Just(0.0),
            1 => Just(-0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(f64::MAX),
            1 => -1e300f64..1e300,
        ]
    }

    fn bits(s: &NumericState) -> impl PartialEq + std::fmt::Debug {
        (
            (s.finite, s.nan, s.pos_inf, s.neg_inf, s.zeros, s.negatives),
            (s.sum.to_bits(), s.mean.to_bits(), s.m2.to_bits()),
            (s.min.map(f64::to_bits), s.max.map(f64::to_bits), s.kll.n()),
        )
    }

    proptest::proptest! {
        /// The in-place paths give the iterator path's state bit for bit,
        /// with nulls, NaN, infinities, signed zeros and overflowing sums;
        /// stripping the nulls first changes which lane adds which value,
        /// so only the sums' rounding may differ.
        #[test]
        fn slices_update_exactly_as_iterators_do(
            batches in proptest::collection::vec(
                proptest::collection::vec((value(), proptest::bool::weighted(0.8)), 0..300),
                1..4,
            ),
        ) {
            let mut by_iter = NumericState::default();
            let mut by_slice = NumericState::default();
            let mut stripped = NumericState::default();
            for batch in &batches {
                let values: Vec<f64> = batch.iter().map(|(v, _)| *v).collect();
                let valid: Vec<bool> = batch.iter().map(|(_, ok)| *ok).collect();
                let nulls = NullBuffer::from(valid.clone());
                by_iter.update_valid(Pairs(batch.iter().copied()), true);
                by_slice.update_slice(&values, Some(&nulls), |v| v, true);
                stripped.update_values(
                    values.iter().zip(&valid).filter(|(_, ok)| **ok).map(|(v, _)| *v),
                    true,
                );
            }
            proptest::prop_assert_eq!(bits(&by_iter), bits(&by_slice));
            proptest::prop_assert!(by_iter.kll == by_slice.kll);
            proptest::prop_assert!(stripped.kll == by_slice.kll);
            let counts = |s: &NumericState| {
                (s.finite, s.nan, s.pos_inf, s.neg_inf, s.zeros, s.negatives, s.min, s.max)
            };
            proptest::prop_assert_eq!(counts(&stripped), counts(&by_slice));
            let finite: Vec<f64> = batches
                .iter()
                .flatten()
                .filter(|(v, ok)| *ok && v.is_finite())
                .map(|(v, _)| *v)
                .collect();
            let scale: f64 = finite.iter().map(|v| v.abs()).sum();
            let squares: f64 = finite.iter().map(|v| v * v).sum();
            if [stripped.sum, by_slice.sum, stripped.m2, by_slice.m2, scale, squares]
                .iter()
                .all(|v| v.is_finite())
            {
                let close = |a: f64, b: f64, scale: f64| (a - b).abs() <= 1e-9 * scale.max(1.0);
                proptest::prop_assert!(close(stripped.sum, by_slice.sum, scale));
                proptest::prop_assert!(close(stripped.mean, by_slice.mean, scale));
                proptest::prop_assert!(close(stripped.m2, by_slice.m2, squares));
            }
            // Without a validity buffer: every slot counts.
            let all: Vec<f64> = batches.iter().flatten().map(|(v, _)| *v).collect();
            let (mut a, mut b) = (NumericState::default(), NumericState::default());
            a.update_values(all.iter().copied(), false);
            b.update_slice(&all, None, |v| v, false);
            proptest::prop_assert_eq!(bits(&a), bits(&b));
        }
    }
}
