//! The KLL quantile sketch of a numeric column, in Apache DataSketches'
//! layout and binary image.
//!
//! Why updates do not go through `datasketches::kll::KllSketch`: measured on
//! the 1M-row bench table, its update cost about 80 ns per value and was
//! 35–40% of `assay profile` (and the single median of the bench suite, a
//! sixth of `assay validate`). Past a few hundred thousand values level 0
//! holds only 8 items, so a compaction comes every few updates, and the crate
//! allocates fresh vectors for each (the halved level, the merged level
//! above, a new level 0) and recomputes every level's capacity. This is the
//! same algorithm on the same state (levels of items weighing 2^level, the
//! same capacities, the same compaction) done in place, as the DataSketches
//! C++ library does it, with the capacities cached per level count.
//!
//! Merges are assay's too (see [`Kll::merge`]), the same way: DataSketches'
//! merge on this state. The quantile and CDF queries and reading images
//! written by other languages stay the crate's and convert through the
//! standard binary image, which the crate validates. So the image this
//! writes is the one the Java, C++ and Python libraries read, and what it
//! reads is what they write.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use datasketches::common::SearchCriteria;
use datasketches::kll::{KllFloat, KllSketch, SortedView};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod batch;
mod network;

/// KLL parameter k. 200 is the DataSketches default: about 1.65% normalized
/// rank error (single-sided, 99% confidence) in about 3 KB per column.
pub const KLL_K: u16 = 200;
/// The minimum level capacity (DataSketches' m; the only one its images use).
const KLL_M: u32 = 8;

/// The image layout (DataSketches KLL serial versions 1 and 2).
const PREAMBLE_INTS_SHORT: u8 = 2;
const PREAMBLE_INTS_FULL: u8 = 5;
const SERIAL_VERSION_FULL: u8 = 1;
const SERIAL_VERSION_SINGLE: u8 = 2;
const FAMILY_KLL: u8 = 15;
const FLAG_EMPTY: u8 = 1;
const FLAG_LEVEL_ZERO_SORTED: u8 = 2;
const FLAG_SINGLE_ITEM: u8 = 4;

type CrateKll = KllSketch<KllFloat<f64>>;

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

/// A KLL quantile sketch of f64 values (NaN is never an item).
#[derive(Clone)]
pub struct Kll {
    k: u16,
    /// The smallest k of any sketch merged in (it sets the rank error).
    min_k: u16,
    n: u64,
    /// `levels[h]` holds items that each stand for 2^h values. Every level
    /// above 0 is sorted; level 0 is in arrival order unless `level0_sorted`.
    levels: Vec<Vec<f64>>,
    level0_sorted: bool,
    min: f64,
    max: f64,
    /// Each level's capacity for the current number of levels.
    capacities: Vec<u32>,
    /// Their sum: a compaction comes when `retained` reaches it.
    capacity: usize,
    retained: usize,
    /// Where a compaction merges into (swapped with the level above).
    scratch: Vec<f64>,
    /// xorshift64 state for the compactions' coin flips. The seed is fixed,
    /// so the same values and merges in the same order make the same sketch
    /// (parallel profiling may merge partitions in another order).
    coin: u64,
}

impl std::fmt::Debug for Kll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Kll(k={}, n={}, retained={}, levels={})",
            self.k,
            self.n,
            self.retained,
            self.levels.len()
        )
    }
}

/// Same state, same sketch (caches, scratch space and coin aside).
impl PartialEq for Kll {
    fn eq(&self, other: &Self) -> bool {
        self.k == other.k
            && self.min_k == other.min_k
            && self.n == other.n
            && self.levels == other.levels
            && self.level0_sorted == other.level0_sorted
            && (self.n == 0 || (self.min == other.min && self.max == other.max))
    }
}

impl Default for Kll {
    fn default() -> Self {
        Self::with_levels(KLL_K, KLL_K, 0, vec![Vec::new()], false, 0.0, 0.0)
    }
}

/// Capacity of `level` when the sketch has `num_levels` levels: k·(2/3)^depth
/// rounded, at least m (DataSketches' `level_capacity`, in its integer form).
fn level_capacity(k: u16, num_levels: usize, level: usize) -> u32 {
    let depth = num_levels - level - 1;
    // k·2^(d+1)/3^d stays inside u128 for every depth a u64 count reaches
    // (at most 64 levels); the crate splits deep levels the same way.
    let cap = if depth <= 30 {
        shallow_capacity(u64::from(k), depth)
    } else {
        shallow_capacity(shallow_capacity(u64::from(k), depth / 2), depth - depth / 2)
    };
    (cap as u32).max(KLL_M)
}

fn shallow_capacity(k: u64, depth: usize) -> u64 {
    let scaled = (u128::from(k) << (depth + 1)) / 3u128.pow(depth as u32);
    ((scaled + 1) >> 1) as u64
}

impl Kll {
    fn with_levels(
        k: u16,
        min_k: u16,
        n: u64,
        levels: Vec<Vec<f64>>,
        level0_sorted: bool,
        min: f64,
        max: f64,
    ) -> Self {
        let mut sketch = Self {
            k,
            min_k,
            n,
            levels,
            level0_sorted,
            min,
            max,
            capacities: Vec::new(),
            capacity: 0,
            retained: 0,
            scratch: Vec::new(),
            coin: 0x9E37_79B9_7F4A_7C15,
        };
        sketch.refresh_capacities();
        sketch
    }

    fn refresh_capacities(&mut self) {
        let num_levels = self.levels.len();
        self.capacities = (0..num_levels)
            .map(|h| level_capacity(self.k, num_levels, h))
            .collect();
        self.capacity = self.capacities.iter().map(|&c| c as usize).sum();
        self.retained = self.levels.iter().map(Vec::len).sum();
    }

    /// Adds one value; NaN is skipped.
    #[inline]
    pub fn update(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        if self.n == 0 {
            self.min = value;
            self.max = value;
        } else if value < self.min {
            self.min = value;
        } else if value > self.max {
            self.max = value;
        }
        self.push(value);
    }

    /// Adds a value to level 0 (min and max are the caller's).
    #[inline]
    fn push(&mut self, value: f64) {
        if self.retained >= self.capacity {
            self.compress();
        }
        self.n += 1;
        self.retained += 1;
        self.level0_sorted = false;
        self.levels[0].push(value);
    }

    fn flip(&mut self) -> bool {
        let mut x = self.coin;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.coin = x;
        x & 1 == 1
    }

    /// Compacts the lowest level at its capacity into the level above: sort
    /// it (level 0), keep every other item (which half is a coin flip) and
    /// merge them into the next level; an odd item out stays behind.
    fn compress(&mut self) {
        let num_levels = self.levels.len();
        // The levels hold `retained >= capacity` items in all, so some level
        // is at its capacity.
        let level = (0..num_levels)
            .find(|&h| self.levels[h].len() as u32 >= self.capacities[h])
            .unwrap_or(0);
        if level + 1 == num_levels {
            self.levels.push(Vec::new());
            self.refresh_capacities();
        }
        let mut current = std::mem::take(&mut self.levels[level]);
        let odd = current.len() % 2 == 1;
        let (leftover, start) = if level == 0 && !self.level0_sorted {
            let leftover = if odd { current.pop() } else { None };
            current.sort_unstable_by(item_order);
            (leftover, 0)
        } else if odd {
            (current.first().copied(), 1)
        } else {
            (None, 0)
        };
        let use_up = self.levels[level + 1].is_empty();
        let offset = usize::from(self.flip());
        let parity = if use_up { 1 - offset } else { offset };
        let promoted = current[start..].iter().skip(parity).step_by(2).copied();
        let above = &self.levels[level + 1];
        let mut merged = std::mem::take(&mut self.scratch);
        merged.clear();
        merged.reserve(above.len() + (current.len() - start) / 2);
        let mut rest = above.iter().copied().peekable();
        for item in promoted {
            while let Some(&next) = rest.peek() {
                // Ties: the item already above first, as the crate merges.
                if next <= item {
                    merged.push(next);
                    rest.next();
                } else {
                    break;
                }
            }
            merged.push(item);
        }
        merged.extend(rest);
        self.scratch = std::mem::replace(&mut self.levels[level + 1], merged);
        current.clear();
        current.extend(leftover);
        self.levels[level] = current;
        self.retained = self.levels.iter().map(Vec::len).sum();
    }

    /// Folds another sketch in, as DataSketches merges: the other's level 0
    /// arrives as updates, each level above is merged (both sorted) into
    /// the same level here, and levels over their capacity are compacted,
    /// lowest first, until the sketch fits.
    ///
    /// Why not the crate's merge (as before): it took two conversions
    /// through the binary image per merge, and the daemon merges every
    /// batch's sketch of every column into its window (perf, JSON ingest:
    /// about 5% of the daemon's CPU went to those conversions). Merges are
    /// now also repeatable: the coin is this sketch's own.
    pub fn merge(&mut self, other: &Kll) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            let coin = self.coin;
            *self = other.clone();
            self.coin = coin;
            return;
        }
        let Some(n) = self.n.checked_add(other.n) else {
            // Past u64::MAX values the counts cannot add up: keep the
            // larger side, as the crate's merge refuses.
            if other.n > self.n {
                *self = other.clone();
            }
            return;
        };
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        for &v in &other.levels[0] {
            self.push(v);
        }
        if other.levels.len() > 1 {
            if self.levels.len() < other.levels.len() {
                self.levels.resize_with(other.levels.len(), Vec::new);
            }
            for (h, theirs) in other.levels.iter().enumerate().skip(1) {
                if theirs.is_empty() {
                    continue;
                }
                let mut merged = std::mem::take(&mut self.scratch);
                merged.clear();
                merge_sorted(&self.levels[h], theirs, &mut merged);
                self.scratch = std::mem::replace(&mut self.levels[h], merged);
            }
            self.min_k = self.min_k.min(other.min_k);
            self.refresh_capacities();
            while self.retained >= self.capacity {
                self.compress();
            }
            // Merged levels were sized for both sides; a sketch merged into
            // for a long time (windows, rollups) keeps only what it holds.
            self.levels.iter_mut().for_each(Vec::shrink_to_fit);
            self.scratch = Vec::new();
        }
        self.n = n;
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    /// Whether some values are summarised (the sketch has compacted).
    pub fn is_estimation_mode(&self) -> bool {
        self.levels.len() > 1
    }

    pub fn num_retained(&self) -> usize {
        self.retained
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
        KllView((self.n > 0).then(|| self.to_sketch().sorted_view()))
    }

    /// Normalized rank error (single-sided, 99% confidence): the crate's
    /// formula, which depends on the smallest k merged in only.
    pub fn rank_error(&self) -> f64 {
        CrateKll::new(self.min_k)
            .unwrap_or_default()
            .normalized_rank_error()
    }

    /// The retained items with their stream weights (an item at level `i`
    /// stands for `2^i` values), in no particular order; the weights sum to
    /// `n`.
    pub fn weighted_items(&self) -> Vec<(f64, u64)> {
        let mut out = Vec::with_capacity(self.retained);
        for (level, items) in self.levels.iter().enumerate() {
            out.extend(items.iter().map(|&v| (v, 1u64 << level)));
        }
        out
    }

    /// [`Kll::weighted_items`] with equal items merged and sorted, worked out
    /// from the crate's sorted view instead (a cross-check for tests).
    #[cfg(test)]
    pub(crate) fn walk_sorted_view(&self) -> Vec<(f64, u64)> {
        if self.n == 0 {
            return Vec::new();
        }
        walk(&self.to_sketch().sorted_view())
    }

    /// The standard DataSketches binary image (compact form).
    pub fn image(&self) -> Vec<u8> {
        let single = self.n == 1;
        let empty = self.n == 0;
        let mut flags = 0u8;
        if empty {
            flags |= FLAG_EMPTY;
        }
        if self.level0_sorted {
            flags |= FLAG_LEVEL_ZERO_SORTED;
        }
        if single {
            flags |= FLAG_SINGLE_ITEM;
        }
        let (preamble, version) = match (empty || single, single) {
            (true, true) => (PREAMBLE_INTS_SHORT, SERIAL_VERSION_SINGLE),
            (true, false) => (PREAMBLE_INTS_SHORT, SERIAL_VERSION_FULL),
            _ => (PREAMBLE_INTS_FULL, SERIAL_VERSION_FULL),
        };
        let mut out = Vec::with_capacity(20 + 4 * self.levels.len() + 8 * (self.retained + 2));
        out.extend_from_slice(&[preamble, version, FAMILY_KLL, flags]);
        out.extend_from_slice(&self.k.to_le_bytes());
        out.extend_from_slice(&[KLL_M as u8, 0]);
        if empty {
            return out;
        }
        if !single {
            out.extend_from_slice(&self.n.to_le_bytes());
            out.extend_from_slice(&self.min_k.to_le_bytes());
            out.extend_from_slice(&[self.levels.len() as u8, 0]);
            let mut offset = (self.capacity - self.retained) as u32;
            for level in &self.levels {
                out.extend_from_slice(&offset.to_le_bytes());
                offset += level.len() as u32;
            }
            out.extend_from_slice(&self.min.to_le_bytes());
            out.extend_from_slice(&self.max.to_le_bytes());
        }
        for (h, level) in self.levels.iter().enumerate() {
            // Level 0 unsorted is written newest first, as the C++ layout
            // keeps it (and as the crate writes it).
            if h == 0 && !self.level0_sorted {
                level
                    .iter()
                    .rev()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            } else {
                level
                    .iter()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
        }
        out
    }

    /// Reads an image the crate has validated (so every offset and item is
    /// in bounds; `None` only if this reading disagrees with the crate's).
    fn from_valid_image(bytes: &[u8]) -> Option<Self> {
        let flags = *bytes.get(3)?;
        let k = u16::from_le_bytes(bytes.get(4..6)?.try_into().ok()?);
        let f64_at = |at: usize| -> Option<f64> {
            Some(f64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let sorted = flags & FLAG_LEVEL_ZERO_SORTED != 0;
        if flags & FLAG_EMPTY != 0 {
            return Some(Self::with_levels(
                k,
                k,
                0,
                vec![Vec::new()],
                sorted,
                0.0,
                0.0,
            ));
        }
        if flags & FLAG_SINGLE_ITEM != 0 {
            let v = f64_at(8)?;
            return Some(Self::with_levels(k, k, 1, vec![vec![v]], sorted, v, v));
        }
        let n = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let min_k = u16::from_le_bytes(bytes.get(16..18)?.try_into().ok()?);
        let num_levels = *bytes.get(18)? as usize;
        let u32_at = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let mut offsets: Vec<usize> = (0..num_levels)
            .map(|i| u32_at(20 + 4 * i))
            .collect::<Option<_>>()?;
        let capacity: usize = (0..num_levels)
            .map(|h| level_capacity(k, num_levels, h) as usize)
            .sum();
        offsets.push(capacity);
        let min_at = 20 + 4 * num_levels;
        let (min, max) = (f64_at(min_at)?, f64_at(min_at + 8)?);
        let items_at = min_at + 16;
        let mut levels = Vec::with_capacity(num_levels);
        for h in 0..num_levels {
            let (from, to) = (
                offsets[h].checked_sub(offsets[0])?,
                offsets[h + 1].checked_sub(offsets[0])?,
            );
            let mut items: Vec<f64> = (from..to)
                .map(|i| f64_at(items_at + 8 * i))
                .collect::<Option<_>>()?;
            if h == 0 && !sorted {
                items.reverse();
            }
            levels.push(items);
        }
        let sketch = Self::with_levels(k, min_k, n, levels, sorted, min, max);
        let weight: u64 = sketch
            .levels
            .iter()
            .enumerate()
            .map(|(h, items)| (items.len() as u64) << h)
            .sum();
        (weight == n).then_some(sketch)
    }

    fn from_sketch(sketch: &CrateKll) -> Self {
        Self::from_valid_image(&sketch.serialize()).unwrap_or_else(|| {
            // Not reached while this reading matches the crate's layout (the
            // tests check that it does); the crate's own queries still give
            // every retained item its weight, so nothing is lost.
            let mut rebuilt = Self::default();
            for (v, w) in walk(&sketch.sorted_view()) {
                (0..w).for_each(|_| rebuilt.update(v));
            }
            rebuilt
        })
    }

    /// The crate's sketch of the same state, for its merge and queries.
    fn to_sketch(&self) -> CrateKll {
        match CrateKll::deserialize(&self.image()) {
            Ok(sketch) => sketch,
            Err(_) => {
                // Not reached while `image` writes the layout the crate
                // reads (the tests check that it does); rebuilt from the
                // weighted items, the answers stay right at a cost.
                let mut sketch = CrateKll::new(self.k).unwrap_or_default();
                for (v, w) in self.weighted_items() {
                    if let Ok(item) = KllFloat::<f64>::new(v) {
                        (0..w).for_each(|_| sketch.update(item));
                    }
                }
                sketch
            }
        }
    }
}

/// Each distinct retained item with the stream weight at it, from the sorted
/// view's rank and quantile queries: the item at cumulative weight `cum + 1`,
/// then its own cumulative weight (which covers every retained copy).
fn walk(view: &SortedView<KllFloat<f64>>) -> Vec<(f64, u64)> {
    let total = view.total_weight();
    let mut out = Vec::new();
    let mut cum = 0u64;
    while cum < total {
        let rank = (cum as f64 + 0.5) / total as f64;
        let Ok(Some(item)) = view.quantile(rank, SearchCriteria::Inclusive) else {
            break;
        };
        let upto = view
            .rank(&item, SearchCriteria::Inclusive)
            .map_or(total, |r| (r * total as f64).round() as u64)
            .clamp(cum + 1, total);
        out.push((item.into_inner(), upto - cum));
        cum = upto;
    }
    out
}

/// `a` and `b` (both sorted) merged into `out`; ties take `a`'s item first,
/// as DataSketches merges.
fn merge_sorted(a: &[f64], b: &[f64], out: &mut Vec<f64>) {
    out.reserve(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if b[j] < a[i] {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

/// The order of non-NaN items, with -0.0 equal to 0.0 (as the crate's
/// `KllFloat` orders them).
fn item_order(a: &f64, b: &f64) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

impl Serialize for Kll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(self.image()))
    }
}

impl<'de> Deserialize<'de> for Kll {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = BASE64.decode(text.as_bytes()).map_err(|e| {
            serde::de::Error::custom(format!("KLL sketch is not valid base64: {e}"))
        })?;
        // The crate checks the image (header, offsets, items, NaN) first.
        let sketch = CrateKll::deserialize(&bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid KLL sketch image: {e}")))?;
        Ok(Self::from_sketch(&sketch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn exact_rank(sorted: &[f64], v: f64) -> f64 {
        sorted.partition_point(|x| *x <= v) as f64 / sorted.len() as f64
    }

    pub(super) fn stream(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 1_000_003) as f64 / 7.0 - 50_000.0
            })
            .collect()
    }

    #[test]
    fn capacities_match_the_crate_formula() {
        // k·(2/3)^depth rounded half up, at least 8; the top level holds k.
        assert_eq!(level_capacity(200, 1, 0), 200);
        assert_eq!(level_capacity(200, 2, 0), 133);
        assert_eq!(level_capacity(200, 3, 0), 89);
        assert_eq!(level_capacity(200, 12, 0), 8);
        assert_eq!(level_capacity(200, 64, 0), 8);
        // A fresh crate sketch of k=200 takes 200 items before compacting.
        let mut ours = Kll::default();
        (0..200).for_each(|i| ours.update(i as f64));
        assert!(!ours.is_estimation_mode());
        ours.update(200.0);
        assert!(ours.is_estimation_mode());
    }

    #[test]
    fn images_round_trip_through_the_crate_byte_for_byte() {
        for n in [0usize, 1, 2, 199, 200, 201, 5_000, 123_457] {
            let mut ours = Kll::default();
            stream(n, n as u64 + 3)
                .into_iter()
                .for_each(|v| ours.update(v));
            let image = ours.image();
            let crate_sketch = CrateKll::deserialize(&image)
                .unwrap_or_else(|e| panic!("n={n}: the crate rejects the image: {e}"));
            assert_eq!(crate_sketch.n(), n as u64);
            assert_eq!(crate_sketch.serialize(), image, "n={n}");
            assert_eq!(ours.rank_error(), crate_sketch.normalized_rank_error());
            assert_eq!(Kll::from_sketch(&crate_sketch), ours, "n={n}");
        }
    }

    #[test]
    fn crate_images_read_back_to_the_same_answers() {
        let mut theirs = CrateKll::new(KLL_K).unwrap();
        for v in stream(50_000, 11) {
            theirs.update(KllFloat::<f64>::new(v).unwrap());
        }
        let ours = Kll::from_sketch(&theirs);
        assert_eq!(ours.n(), 50_000);
        assert_eq!(ours.image(), theirs.serialize());
        for rank in [0.0, 0.01, 0.25, 0.5, 0.9, 1.0] {
            let want = theirs
                .quantile(rank, SearchCriteria::Inclusive)
                .unwrap()
                .map(KllFloat::into_inner);
            assert_eq!(ours.quantile(rank), want, "rank {rank}");
        }
    }

    #[test]
    fn quantiles_stay_within_the_rank_error() {
        let values = stream(400_000, 7);
        let mut ours = Kll::default();
        values.iter().for_each(|&v| ours.update(v));
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(ours.n(), 400_000);
        assert_eq!(ours.quantile(0.0), Some(sorted[0]));
        assert_eq!(ours.quantile(1.0), sorted.last().copied());
        let eps = ours.rank_error();
        assert!(eps > 0.01 && eps < 0.02, "rank error {eps}");
        for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let got = ours.quantile(q).unwrap();
            let rank = exact_rank(&sorted, got);
            assert!(
                (rank - q).abs() <= eps,
                "q={q}: value {got} has rank {rank}"
            );
        }
        let weight: u64 = ours.weighted_items().iter().map(|(_, w)| w).sum();
        assert_eq!(weight, 400_000);
    }

    #[test]
    fn merges_keep_every_value_counted_and_ranks_right() {
        let values = stream(300_000, 5);
        let mut parts = sketches_of(&values, 37_000);
        // A small exact sketch folds in as updates, a big one via the crate.
        let mut small = Kll::default();
        [3.5, -1e9, 1e9].iter().for_each(|&v| small.update(v));
        parts.push(small);
        let mut all = Kll::default();
        parts.iter().for_each(|p| all.merge(p));
        assert_eq!(all.n(), 300_003);
        assert_eq!(all.quantile(0.0), Some(-1e9));
        assert_eq!(all.quantile(1.0), Some(1e9));
        let mut sorted = values.clone();
        sorted.extend([3.5, -1e9, 1e9]);
        sorted.sort_by(f64::total_cmp);
        let median = all.quantile(0.5).unwrap();
        assert!((exact_rank(&sorted, median) - 0.5).abs() <= all.rank_error());
        // Updates continue on the merged state.
        all.update(0.25);
        assert_eq!(all.n(), 300_004);
        assert!(CrateKll::deserialize(&all.image()).is_ok());
    }

    /// One sketch per `chunk` values.
    fn sketches_of(values: &[f64], chunk: usize) -> Vec<Kll> {
        values
            .chunks(chunk)
            .map(|chunk| {
                let mut k = Kll::default();
                chunk.iter().for_each(|&v| k.update(v));
                k
            })
            .collect()
    }

    /// The largest distance between a percentile's rank and the rank its
    /// answer has.
    pub(super) fn worst_rank_error(sketch: &Kll, sorted: &[f64]) -> f64 {
        let view = sketch.view();
        (1..100)
            .map(|p| {
                let q = p as f64 / 100.0;
                (exact_rank(sorted, view.quantile(q).unwrap()) - q).abs()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn merges_are_as_accurate_as_the_crates() {
        // As the daemon merges: a sketch per 10,000-value batch into the
        // window's, against the same parts merged by the crate.
        let seeds = 8u64;
        let (mut ours_sum, mut theirs_sum) = (0.0, 0.0);
        for seed in 0..seeds {
            let values = stream(600_000, 40 + seed);
            let parts = sketches_of(&values, 10_000);
            let mut ours = Kll::default();
            let mut theirs = CrateKll::new(KLL_K).unwrap();
            for p in &parts {
                ours.merge(p);
                theirs.merge(&p.to_sketch()).unwrap();
            }
            assert_eq!(ours.n(), 600_000);
            let weight: u64 = ours.weighted_items().iter().map(|(_, w)| w).sum();
            assert_eq!(weight, 600_000);
            assert!(ours.retained <= ours.capacity);
            for (h, level) in ours.levels.iter().enumerate().skip(1) {
                assert!(level.is_sorted(), "level {h} is sorted");
            }
            // The crate reads the merged state as it is.
            let image = ours.image();
            assert_eq!(CrateKll::deserialize(&image).unwrap().serialize(), image);
            let mut sorted = values;
            sorted.sort_by(f64::total_cmp);
            let (o, t) = (
                worst_rank_error(&ours, &sorted),
                worst_rank_error(&Kll::from_sketch(&theirs), &sorted),
            );
            assert!(o <= ours.rank_error(), "seed {seed}: {o}");
            ours_sum += o;
            theirs_sum += t;
        }
        let (o, t) = (ours_sum / seeds as f64, theirs_sum / seeds as f64);
        eprintln!("worst percentile rank error, mean of {seeds}: ours {o:.5}, the crate's {t:.5}");
        assert!(o <= t * 1.2, "ours {o} against the crate's {t}");
    }

    #[test]
    fn merging_is_repeatable_and_order_only_moves_ranks_within_the_error() {
        let values = stream(200_000, 9);
        let parts = sketches_of(&values, 25_000);
        let merged = |order: &mut dyn Iterator<Item = &Kll>| {
            let mut all = Kll::default();
            order.for_each(|p| all.merge(p));
            all
        };
        let a = merged(&mut parts.iter());
        assert_eq!(a, merged(&mut parts.iter()));
        let b = merged(&mut parts.iter().rev());
        assert_eq!(a.n(), b.n());
        let mut sorted = values;
        sorted.sort_by(f64::total_cmp);
        assert!(worst_rank_error(&b, &sorted) <= b.rank_error());
    }

    #[test]
    fn nan_is_skipped_and_zero_signs_compare_equal() {
        let mut k = Kll::default();
        k.update(f64::NAN);
        assert_eq!(k.n(), 0);
        assert_eq!(k.quantile(0.5), None);
        k.update(-0.0);
        k.update(0.0);
        k.update(f64::INFINITY);
        assert_eq!(k.n(), 3);
        assert_eq!(k.quantile(1.0), Some(f64::INFINITY));
        assert_eq!(k.quantile(0.5), Some(0.0));
    }

    #[test]
    fn bad_images_are_errors() {
        let bad = serde_json::from_str::<Kll>("\"AAAA\"");
        assert!(bad.is_err());
        let mut k = Kll::default();
        (0..1000).for_each(|i| k.update(i as f64));
        let mut image = k.image();
        image.truncate(image.len() - 8);
        let text = format!("\"{}\"", BASE64.encode(image));
        let err = serde_json::from_str::<Kll>(&text).unwrap_err().to_string();
        assert!(err.contains("invalid KLL sketch image"), "{err}");
    }
}
