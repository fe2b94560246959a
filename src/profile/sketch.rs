//! Serde wrappers around Apache DataSketches, so sketches travel inside the
//! profile JSON as base64 of their standard binary image. The images are the
//! cross-language DataSketches formats: a KLL doubles sketch or HLL sketch
//! written here can be read by the Java, C++ and Python libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use datasketches::common::SearchCriteria;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use datasketches::kll::{KllFloat, KllSketch, SortedView};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// KLL parameter k. 200 is the DataSketches default: about 1.65% normalized
/// rank error (single-sided, 99% confidence) in about 3 KB per column.
pub const KLL_K: u16 = 200;
/// HLL log2 of the number of buckets: 4096 buckets, about 1.6% relative
/// standard error (3.2% at 95% confidence).
pub const HLL_LG_K: u8 = 12;

/// A sorted view of a [`Kll`] sketch (`None` when it is empty), answering
/// exactly as the sketch's own queries do.
pub struct KllView(Option<SortedView<KllFloat<f64>>>);

impl KllView {
    /// The value at normalized rank `rank` ([`Kll::quantile`]).
    pub fn quantile(&self, rank: f64) -> Option<f64> {
        self.0
            .as_ref()?
            .quantile(rank, SearchCriteria::Inclusive)
            .ok()
            .flatten()
            .map(KllFloat::into_inner)
    }

    /// Fraction of values <= each split point ([`Kll::cdf`]).
    pub fn cdf(&self, split_points: &[f64]) -> Option<Vec<f64>> {
        let points: Vec<KllFloat<f64>> = split_points
            .iter()
            .filter_map(|p| KllFloat::<f64>::new(*p).ok())
            .collect();
        self.0
            .as_ref()?
            .cdf(&points, SearchCriteria::Inclusive)
            .ok()
            .flatten()
    }
}

/// A KLL quantile sketch of f64 values (never NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct Kll(pub KllSketch<KllFloat<f64>>);

impl Default for Kll {
    fn default() -> Self {
        // KLL_K is within the crate's accepted range, so `new` cannot fail.
        Self(KllSketch::new(KLL_K).unwrap_or_default())
    }
}

impl Kll {
    #[inline]
    pub fn update(&mut self, value: f64) {
        if let Ok(v) = KllFloat::<f64>::new(value) {
            self.0.update(v);
        }
    }

    pub fn merge(&mut self, other: &Kll) {
        // Both sketches were made here with the same k; merge only fails for
        // mismatched parameters, which a hand-edited file could produce, so
        // fall back to the larger sketch rather than losing data silently.
        if self.0.merge(&other.0).is_err() && other.0.n() > self.0.n() {
            self.0 = other.0.clone();
        }
    }

    pub fn n(&self) -> u64 {
        self.0.n()
    }

    /// The value at normalized rank `rank` (inclusive: the smallest retained
    /// item whose rank is at least `rank`, as numpy's "inverted_cdf"). For
    /// several queries, take one [`Kll::view`].
    pub fn quantile(&self, rank: f64) -> Option<f64> {
        self.view().quantile(rank)
    }

    /// Fraction of values <= each split point (strictly increasing points).
    pub fn cdf(&self, split_points: &[f64]) -> Option<Vec<f64>> {
        self.view().cdf(split_points)
    }

    /// One sorted view for many queries: each query on the sketch itself
    /// rebuilds the view (a merge of every level), and finishing a profile
    /// asks about 20 per column.
    pub fn view(&self) -> KllView {
        KllView((!self.0.is_empty()).then(|| self.0.sorted_view()))
    }

    pub fn rank_error(&self) -> f64 {
        self.0.normalized_rank_error()
    }

    /// The retained items with their stream weights (an item at level `i`
    /// stands for `2^i` values), in no particular order; the weights sum to
    /// `n`. Read in one pass from the sketch's standard DataSketches binary
    /// image, because the crate exposes the items only through rank and
    /// quantile queries — measured: walking the sorted view with them was
    /// ~60% of comparing 100 features. `None` if the image is not the layout
    /// this expects (callers then fall back to the queries).
    pub fn weighted_items(&self) -> Option<Vec<(f64, u64)>> {
        let bytes = self.0.serialize();
        let f64_at = |at: usize| -> Option<f64> {
            Some(f64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let n = self.0.n();
        match n {
            0 => return Some(Vec::new()),
            // Single item: an 8-byte preamble, then the item.
            1 => return Some(vec![(f64_at(8)?, 1)]),
            _ => {}
        }
        // Full layout: preamble (8), n (8), min_k (2), levels (1), pad (1),
        // one u32 offset per level, min item, max item, then the items of
        // level 0, 1, ... (the last level ends at the end of the image).
        let levels = *bytes.get(18)? as usize;
        let u32_at = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let offsets: Vec<usize> = (0..levels)
            .map(|i| u32_at(20 + 4 * i))
            .collect::<Option<_>>()?;
        let items_start = 20 + 4 * levels + 16;
        let retained = bytes.len().checked_sub(items_start)? / 8;
        let first = *offsets.first()?;
        let mut out = Vec::with_capacity(retained);
        for level in 0..levels {
            let start = offsets[level].checked_sub(first)?;
            let end = match offsets.get(level + 1) {
                Some(next) => next.checked_sub(first)?,
                None => retained,
            };
            let weight = 1u64.checked_shl(level as u32)?;
            for i in start..end.min(retained) {
                out.push((f64_at(items_start + 8 * i)?, weight));
            }
        }
        let total: u64 = out.iter().map(|(_, w)| w).sum();
        (total == n).then_some(out)
    }
}

impl Serialize for Kll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(self.0.serialize()))
    }
}

impl<'de> Deserialize<'de> for Kll {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = BASE64.decode(text.as_bytes()).map_err(|e| {
            serde::de::Error::custom(format!("KLL sketch is not valid base64: {e}"))
        })?;
        KllSketch::deserialize(&bytes)
            .map(Kll)
            .map_err(|e| serde::de::Error::custom(format!("invalid KLL sketch image: {e}")))
    }
}

/// An HLL distinct-count sketch.
#[derive(Clone)]
pub struct Hll(pub HllSketch);

impl std::fmt::Debug for Hll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hll(~{:.0})", self.0.estimate())
    }
}

impl PartialEq for Hll {
    fn eq(&self, other: &Self) -> bool {
        self.0.serialize() == other.0.serialize()
    }
}

impl Default for Hll {
    fn default() -> Self {
        // Parameters are constants within the crate's range.
        Self(HllSketch::new(HLL_LG_K, HllType::Hll8).expect("valid HLL parameters"))
    }
}

impl Hll {
    /// Strings are hashed as raw UTF-8 bytes, as the other DataSketches
    /// languages do, so unions with their sketches count the same values once.
    #[inline]
    pub fn update_str(&mut self, value: &str) {
        self.0
            .update(datasketches::hash::value::raw_bytes::from_str(value));
    }

    /// Integers are hashed as 8 little-endian bytes (DataSketches' int64 update).
    #[inline]
    pub fn update_i64(&mut self, value: i64) {
        self.0.update(value);
    }

    pub fn merge(&mut self, other: &Hll) {
        let mut union = HllUnion::new(HLL_LG_K).expect("valid HLL parameters");
        union.update(&self.0);
        union.update(&other.0);
        self.0 = union.to_sketch(HllType::Hll8);
    }

    pub fn estimate(&self) -> f64 {
        self.0.estimate()
    }
}

impl Serialize for Hll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(self.0.serialize()))
    }
}

impl<'de> Deserialize<'de> for Hll {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = BASE64.decode(text.as_bytes()).map_err(|e| {
            serde::de::Error::custom(format!("HLL sketch is not valid base64: {e}"))
        })?;
        HllSketch::deserialize(&bytes)
            .map(Hll)
            .map_err(|e| serde::de::Error::custom(format!("invalid HLL sketch image: {e}")))
    }
}
