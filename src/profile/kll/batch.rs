//! Adding a whole column of a batch to a KLL sketch at once.
//!
//! Streaming updates compact level 0 whenever the sketch is full, and past a
//! few levels level 0 holds only a handful of items: a 10,000-value column
//! goes through over a thousand small sorts and merges. perf on the daemon
//! (Arrow IPC, 10,000-row batches) put those compactions at 28% of its CPU,
//! about 26 ns a value.
//!
//! A batch that fits the sketch's free room goes to level 0. Any other batch
//! is sketched alone, in an empty sketch, and merged in with DataSketches'
//! merge ([`Kll::merge`]): the levels the sketch already holds compact as
//! streaming would compact them, and the batch's own items arrive at the
//! levels their weights give.
//!
//! Why not place the batch's chunks straight into the levels of a sketch
//! that holds values (as before): a full sketch has no free room, so every
//! batch went to new levels high enough for it to fit, each adding only the
//! minimum capacity, while the items already held never compacted. A
//! 65,536-value batch was compacted to a handful of items of huge weight,
//! and profiles of 10⁵ uniform values had a worst percentile rank error of
//! 0.078 against a stated bound of 0.0133 (`tests/quantile_accuracy.rs`
//! measures every feed against exact ranks and against the crate's own
//! update since).
//!
//! An empty sketch takes a batch too large for level 0 split, in arrival
//! order, into one chunk per level, filled bottom-up: level 0 takes as many
//! values as it has room for, level h as many as 2^h times its room, as long
//! as the sketch's total capacity holds the items; the top level takes the
//! rest. The number of levels is the fewest whose total capacity holds the
//! batch, as streaming ends with. A chunk for level h is compacted h times as
//! if sorted once (every other item, a coin flip picks which half, as a
//! streaming compaction does; from level 2 up only the ranks it keeps are
//! put in order, see [`Kll::compact_chunk`]) and merged into its level.
//! Sorting the whole batch and halving it to the top instead left only the
//! top level holding items: windows merged from 1,000-value batches had a
//! worst percentile rank error of 0.68% against 0.46% value by value (6
//! streams).
//!
//! The result is a KLL sketch like any other: levels above 0 sorted, an item
//! at level h standing for 2^h values, `retained <= capacity`, the image the
//! other DataSketches languages read. It is not the sketch the same values
//! streamed one by one would give: each chunk is compacted once per level
//! instead of the many compactions streaming makes. A compaction moves any
//! rank by at most its level's weight, so the error stays within streaming's
//! bound (`tests/quantile_accuracy.rs`).

use super::network::{PADDING, keys_at_ranks};
use super::{Kll, item_order, level_capacity, merge_sorted};

/// Below this many items a chunk is sorted by comparison; above, through
/// integer keys (measured on 10,000 random values: 11 ns an item against
/// 15 ns for `sort_unstable_by` on the floats).
const KEY_SORT_FROM: usize = 64;

/// How many items a bucket of [`Buckets::fill`] holds on average. Six keep
/// most buckets within the 8-key sorting network (see `kll/network.rs`):
/// a 10,000-value batch took 35.5–36 µs against 40.6 µs with 8 and 36 µs
/// with 5, which has more buckets to count and place (`kll_batch`).
const ITEMS_PER_BUCKET: usize = 6;

/// Chunks for level 1 keep every other rank, so every bucket would be
/// sorted, and are sorted whole. From level 2 up the buckets win since
/// their numbers are rounded cheaply (see [`Buckets::fill`]): a fresh sketch
/// took a 1,000-value batch in 6.13 µs this way against 6.69 µs sorting
/// level 2 and 3 chunks whole, and a 10,000-value one in about the same
/// time either way (`kll_batch`).
const SELECT_FROM_LEVEL: usize = 2;

impl Kll {
    /// Adds every value of `values`; NaN is skipped. Same sketch contract as
    /// [`Kll::update`] (see the module notes for how the state differs).
    pub fn update_batch(&mut self, values: impl Iterator<Item = f64>) {
        // Collected whole and then checked: a filter would push the values
        // one by one (a fifth of a 10,000-value batch in `kll_batch`).
        let mut fresh: Vec<f64> = values.collect();
        if fresh.iter().fold(false, |nan, v| nan | v.is_nan()) {
            fresh.retain(|v| !v.is_nan());
        }
        let range = value_range(&fresh);
        self.take_batch(fresh, range);
    }

    /// [`Kll::update_batch`] for finite values already gathered, whose
    /// least and greatest are `range`: the caller's pass over them (the
    /// moments') is not made again.
    pub(crate) fn update_finite(&mut self, fresh: Vec<f64>, range: (f64, f64)) {
        debug_assert!(fresh.iter().all(|v| v.is_finite()));
        debug_assert!(fresh.is_empty() || value_range(&fresh) == range);
        self.take_batch(fresh, range);
    }

    /// Adds `fresh` (no NaN), whose least and greatest values are `range`:
    /// to level 0 when it fits, else sketched alone and merged in unless
    /// this sketch is empty (see the module notes).
    fn take_batch(&mut self, mut fresh: Vec<f64>, range: (f64, f64)) {
        if fresh.is_empty() {
            return;
        }
        if self.n > 0 && self.retained + fresh.len() > self.capacity {
            let mut alone = Kll::with_levels(self.k, self.k, 0, vec![Vec::new()], false, 0.0, 0.0);
            alone.take_batch(fresh, range);
            self.merge(&alone);
            return;
        }
        let (lo, hi) = range;
        if self.n == 0 {
            (self.min, self.max) = (lo, hi);
        } else {
            self.min = self.min.min(lo);
            self.max = self.max.max(hi);
        }
        self.n += fresh.len() as u64;
        self.level0_sorted = false;
        if self.retained + fresh.len() <= self.capacity {
            self.levels[0].extend_from_slice(&fresh);
            self.retained += fresh.len();
            return;
        }
        self.stir_coin(&fresh);
        let shares = self.shares(fresh.len());
        let num_levels = shares.len();
        if num_levels > self.levels.len() {
            self.levels.resize_with(num_levels, Vec::new);
            self.refresh_capacities();
        }
        // Compaction leftovers (an odd item out stays at its level).
        let mut leftovers: Vec<Vec<f64>> = vec![Vec::new(); num_levels];
        let mut rest = &mut fresh[..];
        for (h, &take) in shares.iter().enumerate() {
            let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(take);
            rest = tail;
            if chunk.is_empty() {
                continue;
            }
            if h == 0 {
                self.levels[0].extend_from_slice(chunk);
                continue;
            }
            let promoted = self.compact_chunk(chunk, range, h, &mut leftovers);
            let mut merged = Vec::with_capacity(self.levels[h].len() + promoted.len());
            merge_sorted(&self.levels[h], promoted, &mut merged);
            self.levels[h] = merged;
        }
        self.levels[0].append(&mut leftovers[0]);
        for (h, mut items) in leftovers.into_iter().enumerate().skip(1) {
            if !items.is_empty() {
                items.sort_unstable_by(item_order);
                let mut merged = Vec::with_capacity(self.levels[h].len() + items.len());
                merge_sorted(&self.levels[h], &items, &mut merged);
                self.levels[h] = merged;
            }
        }
        self.retained = self.levels.iter().map(Vec::len).sum();
        // Leftovers may overfill a level by an item or so.
        while self.retained > self.capacity {
            self.compress();
        }
    }

    /// How many of `values` new values go to each level (the vector's
    /// length is the number of levels). The fewest levels whose capacity
    /// holds the batch with every value at the top level; then, lowest
    /// level first, values move down into each level's free room as long as
    /// the items they add keep the sketch within its capacity. Streaming
    /// ends with the same number of levels; as it does, a level may hold
    /// more than its own capacity while the sketch as a whole fits. Only an
    /// empty sketch is split this way (see [`Kll::take_batch`]).
    fn shares(&self, values: usize) -> Vec<usize> {
        let held: usize = self.retained;
        let mut num_levels = self.levels.len();
        let top_items = |num_levels: usize| values.div_ceil(1usize << (num_levels - 1).min(60));
        let capacity = |num_levels: usize| -> usize {
            (0..num_levels)
                .map(|h| level_capacity(self.k, num_levels, h) as usize)
                .sum()
        };
        while num_levels < 61 && held + top_items(num_levels) > capacity(num_levels) {
            num_levels += 1;
        }
        let top = num_levels - 1;
        let mut slack = capacity(num_levels).saturating_sub(held + top_items(num_levels)) as f64;
        let mut left = values;
        let mut shares = vec![0; num_levels];
        for (h, share) in shares.iter_mut().enumerate().take(top) {
            let cap = level_capacity(self.k, num_levels, h) as usize;
            let free = cap.saturating_sub(self.levels.get(h).map_or(0, Vec::len));
            // Items a value costs here over what it costs at the top.
            let cost = 1.0 / (1u64 << h) as f64 - 1.0 / (1u64 << top.min(60)) as f64;
            let affordable = (slack / cost) as usize;
            // Saturating: in a sketch of about 2^60 values a level's room,
            // counted in values, passes a usize (and `<<` drops high bits).
            let room = ((free as u128) << h).min(usize::MAX as u128) as usize;
            let take = room.min(affordable).min(left) >> h << h;
            *share = take;
            slack -= take as f64 * cost;
            left -= take;
        }
        shares[top] = left;
        shares
    }

    /// Mixes the batch into the coin (splitmix64's finalizer over its
    /// length and a few of its values). Every fresh sketch starts from the
    /// same seed, and a batch makes only a few compactions: without this,
    /// every batch of a window would flip the same way at each level and
    /// their rank errors would add up instead of cancelling (measured: a
    /// third more error in merged windows). Still a function of the values
    /// and their order, so profiles stay repeatable.
    fn stir_coin(&mut self, batch: &[f64]) {
        let picks = [0, batch.len() / 3, batch.len() / 2, batch.len() - 1];
        let mut z = self.coin ^ (batch.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in picks {
            z ^= batch[i].to_bits();
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
        }
        // xorshift's state must not be zero.
        self.coin = z | 1;
    }

    /// Compacts unsorted `items` from level 0 up to `level` with the coin
    /// flips and the result of sorting them and [`Kll::compact_sorted`].
    /// Compacting sorted items keeps those at ranks known in advance: every
    /// 2^level-th from an offset the flips pick, and the odd ones out. So
    /// the items are spread over buckets of equal width (see
    /// [`Buckets::fill`]) and only the buckets holding a kept rank are
    /// sorted (by the networks of `kll/network.rs`): for a chunk bound for
    /// level 5, a fresh sketch's top level under a 10,000-row batch, about
    /// one bucket in five.
    ///
    /// Why not sort the chunk (as before): perf on the daemon (Arrow IPC,
    /// 10,000-row batches) had those sorts at a quarter of its CPU. A fresh
    /// sketch took a 10,000-value batch in 62–64 µs with buckets against
    /// 98–101 µs sorting (`cargo bench --profile perf --bench profile --
    /// kll_batch`, builds alternated), and takes it in 35.5 µs since the
    /// buckets' numbers are rounded cheaply and their keys sorted by
    /// networks. Selecting the kept ranks through `select_nth_unstable`
    /// instead was slower than the sort (134 µs).
    fn compact_chunk<'a>(
        &mut self,
        items: &'a mut [f64],
        range: (f64, f64),
        level: usize,
        leftovers: &mut [Vec<f64>],
    ) -> &'a [f64] {
        if items.len() >= KEY_SORT_FROM && level >= SELECT_FROM_LEVEL && !few_distinct(items) {
            let kept = BUCKETS.with_borrow_mut(|buckets| {
                let kept = buckets
                    .fill(items, range)
                    .then(|| self.compact_bucketed(items, level, leftovers, buckets));
                buckets.release();
                kept
            });
            if let Some(len) = kept {
                return &items[..len];
            }
        }
        sort_items(items);
        self.compact_sorted(items, level, leftovers)
    }

    /// [`Kll::compact_chunk`] once `buckets` holds the chunk's keys: the
    /// items for `level` are written to the front of `items`, and their
    /// number returned.
    fn compact_bucketed(
        &mut self,
        items: &mut [f64],
        level: usize,
        leftovers: &mut [Vec<f64>],
        buckets: &mut Buckets,
    ) -> usize {
        // Current item i is the item of rank `first + stride * i`.
        let (mut first, mut stride, mut len) = (0usize, 1usize, items.len());
        let mut odd_ones: Vec<(usize, usize)> = Vec::new();
        for round in 0..level {
            let start = len % 2;
            if start == 1 {
                odd_ones.push((round, first));
            }
            first += stride * (start + usize::from(self.flip()));
            stride *= 2;
            len = (len - start) / 2;
        }
        let kept = |i: usize| first + stride * i;
        // Ranks ascending: the odd ones out come before the kept.
        let ranks = odd_ones.iter().map(|&(_, r)| r).chain((0..len).map(kept));
        let mut picked = Vec::with_capacity(odd_ones.len() + len);
        keys_at_ranks(&mut buckets.keys, &buckets.starts, ranks, |key| {
            picked.push(from_order_key(key));
        });
        let (odd, kept) = picked.split_at(odd_ones.len());
        for (&(round, _), &item) in odd_ones.iter().zip(odd) {
            leftovers[round].push(item);
        }
        items[..len].copy_from_slice(kept);
        len
    }

    /// Compacts sorted `items` from level 0 up to `level`, in place: each
    /// round keeps every other item (the coin picks which half), and an odd
    /// item out (the first, as a sorted level compacts) stays behind in
    /// `leftovers` at the level it reached. Returns the items for `level`.
    fn compact_sorted<'a>(
        &mut self,
        items: &'a mut [f64],
        level: usize,
        leftovers: &mut [Vec<f64>],
    ) -> &'a [f64] {
        let mut len = items.len();
        for left in leftovers.iter_mut().take(level) {
            let start = len % 2;
            if start == 1 {
                left.push(items[0]);
            }
            let offset = start + usize::from(self.flip());
            let kept = (len - start) / 2;
            for i in 0..kept {
                items[i] = items[offset + 2 * i];
            }
            len = kept;
        }
        &items[..len]
    }
}

/// The least and the greatest of `values` (none NaN), four lanes side by
/// side: plain comparisons, where `f64::min` also sorts out NaN and one
/// running pair makes every value wait on the one before.
fn value_range(values: &[f64]) -> (f64, f64) {
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    let quads = values.chunks_exact(4);
    let tail = quads.remainder();
    for q in quads {
        for j in 0..4 {
            lo[j] = if q[j] < lo[j] { q[j] } else { lo[j] };
            hi[j] = if q[j] > hi[j] { q[j] } else { hi[j] };
        }
    }
    let lo = lo.into_iter().chain(tail.iter().copied());
    let hi = hi.into_iter().chain(tail.iter().copied());
    (
        lo.fold(f64::INFINITY, |m, v| if v < m { v } else { m }),
        hi.fold(f64::NEG_INFINITY, |m, v| if v > m { v } else { m }),
    )
}

/// The keys of a chunk's items grouped into buckets, and the buffers that
/// group them. One per thread, kept between chunks: allocated afresh for
/// every chunk, a 65,536-value chunk's buffers sometimes went past glibc's
/// mmap threshold, and the page faults of fresh memory more than doubled
/// `accumulate/float` (1.14 ms against 0.48 ms).
#[derive(Default)]
struct Buckets {
    /// The keys, bucket after bucket, then [`PADDING`] more.
    keys: Vec<u64>,
    /// Where each bucket starts in `keys`, and last where the last ends.
    starts: Vec<usize>,
    /// Each item's bucket.
    of: Vec<u32>,
    /// Where the next key of each bucket goes.
    next: Vec<usize>,
}

thread_local! {
    static BUCKETS: std::cell::RefCell<Buckets> = std::cell::RefCell::default();
}

impl Buckets {
    /// Buffers past this many keys are dropped after use rather than kept
    /// for the thread's next chunk (8 MiB of keys).
    const KEEP_UP_TO: usize = 1 << 20;

    /// Writes the keys of `items` grouped into buckets of equal width
    /// between `lo` and `hi` (at most and at least every item: the batch's
    /// range, which holds the chunk's), buckets in order, each bucket's
    /// keys in arrival order. `false`, with nothing grouped, when the range
    /// spans no finite width (an infinity, or every item equal). Items
    /// bunched into a few buckets (heavy tails) make sorting those buckets
    /// the comparison sort again, at about its old cost.
    ///
    /// An item's bucket is `(v - lo) * scale`, clamped to the last bucket
    /// and rounded to the nearest integer by adding 2^52 (whose ulp is 1)
    /// and reading the low bits: every step a rounded monotone operation,
    /// so every key of a bucket is at most every key of the buckets after
    /// it. Rounding makes the first and the last bucket half as wide, which
    /// does not matter; what it saves is the saturating float-to-integer
    /// conversion, whose checks kept this loop from being vectorized (the
    /// bucket numbers were a third of this function's time in `kll_batch`).
    fn fill(&mut self, items: &[f64], (lo, hi): (f64, f64)) -> bool {
        const ROUND: f64 = (1u64 << 52) as f64;
        let span = hi - lo;
        if !(span.is_finite() && span > 0.0) {
            return false;
        }
        let buckets = (items.len() / ITEMS_PER_BUCKET).max(1);
        let scale = buckets as f64 / span;
        let last = (buckets - 1) as f64;
        let bucket = |v: f64| {
            let x = (v - lo) * scale;
            // `x` is at least 0 (v >= lo), finite, and below 2^32 after
            // the clamp.
            ((if x < last { x } else { last }) + ROUND).to_bits() as u32
        };
        // Each item's bucket computed once: computing it again to place the
        // item cost 11% of a 10,000-value batch (`kll_batch` bench).
        self.of.clear();
        self.of.extend(items.iter().map(|&v| bucket(v)));
        self.starts.clear();
        self.starts.resize(buckets + 1, 0);
        for &b in &self.of {
            self.starts[b as usize + 1] += 1;
        }
        for b in 1..=buckets {
            self.starts[b] += self.starts[b - 1];
        }
        self.next.clone_from(&self.starts);
        self.keys.clear();
        self.keys.resize(items.len() + PADDING, 0);
        for (&v, &b) in items.iter().zip(&self.of) {
            let at = &mut self.next[b as usize];
            self.keys[*at] = order_key(v);
            *at += 1;
        }
        true
    }

    /// Drops buffers too large to keep for the next chunk.
    fn release(&mut self) {
        if self.keys.capacity() > Self::KEEP_UP_TO {
            *self = Self::default();
        }
    }
}

/// Whether the first [`KEY_SORT_FROM`] items hold at most a quarter as
/// many distinct values: most likely a column of a few codes, which the
/// comparison sort orders in a few passes (it splits runs of equal keys
/// off) and buckets only slow down (`cargo bench --bench profile --
/// accumulate/int_code`, five codes in 65,536 values: 20% slower).
fn few_distinct(items: &[f64]) -> bool {
    let mut sample = [0u64; KEY_SORT_FROM];
    for (key, &v) in sample.iter_mut().zip(items) {
        *key = order_key(v);
    }
    sample.sort_unstable();
    let distinct = 1 + sample.windows(2).filter(|w| w[0] != w[1]).count();
    distinct * 4 <= KEY_SORT_FROM
}

/// Sorts items in the sketch's order. Through keys whose integer order is
/// the floats' total order; -0.0 and 0.0 get different keys but compare
/// equal as items, so either order of the two is sorted.
fn sort_items(items: &mut [f64]) {
    if items.len() < KEY_SORT_FROM {
        items.sort_unstable_by(item_order);
        return;
    }
    let mut keys: Vec<u64> = items.iter().map(|&v| order_key(v)).collect();
    keys.sort_unstable();
    for (item, key) in items.iter_mut().zip(keys) {
        *item = from_order_key(key);
    }
}

/// Flips the sign bit of positive floats and every bit of negative ones, so
/// that unsigned order is numeric order (NaN never gets here).
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{exact_rank, stream, worst_rank_error};
    use super::super::{CrateKll, KLL_K};
    use super::*;

    fn batched(values: &[f64], batch: usize) -> Kll {
        let mut k = Kll::default();
        values
            .chunks(batch)
            .for_each(|c| k.update_batch(c.iter().copied()));
        k
    }

    fn check_invariants(k: &Kll, n: u64) {
        assert_eq!(k.n(), n);
        let weight: u64 = k.weighted_items().iter().map(|(_, w)| w).sum();
        assert_eq!(weight, n, "every value is counted once");
        assert!(k.retained <= k.capacity, "{} > {}", k.retained, k.capacity);
        assert_eq!(k.retained, k.levels.iter().map(Vec::len).sum::<usize>());
        for (h, level) in k.levels.iter().enumerate().skip(1) {
            assert!(level.is_sorted_by(|a, b| a <= b), "level {h} is sorted");
        }
        // The crate reads the image as it is, and writes it back the same.
        let image = k.image();
        let theirs = CrateKll::deserialize(&image).unwrap();
        assert_eq!(theirs.n(), n);
        assert_eq!(theirs.serialize(), image);
    }

    #[test]
    fn keys_order_floats_numerically_and_round_trip() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            7e42,
            f64::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(from_order_key(order_key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn compacting_a_chunk_keeps_what_sorting_it_keeps() {
        let bunched: Vec<f64> = (0..5_000)
            .map(|i| {
                if i % 50 == 0 {
                    1e9 + f64::from(i)
                } else {
                    f64::from(i % 7)
                }
            })
            .collect();
        let with_infinity: Vec<f64> = (0..300)
            .map(|i| {
                if i == 17 {
                    f64::INFINITY
                } else {
                    f64::from(i * 31 % 101)
                }
            })
            .collect();
        // Distinct at first, then five codes: buckets with runs of one value.
        let late_codes: Vec<f64> = (0..5_000)
            .map(|i| {
                if i < 100 {
                    f64::from(i) * 0.37
                } else {
                    f64::from(i % 5)
                }
            })
            .collect();
        assert!(few_distinct(&bunched) && !few_distinct(&late_codes));
        let mut cases = vec![
            late_codes,
            stream(64, 1),
            stream(65, 2),
            stream(9_999, 4),
            bunched,
            with_infinity,
            vec![2.5; 1_000],
        ];
        // Repeats and both zeros among distinct values.
        let mut mixed = stream(10_000, 5);
        mixed.iter_mut().step_by(7).for_each(|v| *v = v.round());
        mixed.iter_mut().step_by(11).for_each(|v| *v = 0.0);
        mixed.iter_mut().step_by(13).for_each(|v| *v = -0.0);
        cases.push(mixed);
        for (case, values) in cases.iter().enumerate() {
            // The chunk's own range, and a batch's wider one around it.
            let (lo, hi) = value_range(values);
            let ranges = [(lo, hi), (lo - (hi - lo) / 3.0 - 1.0, hi + 0.5)];
            for (level, range) in (1..=8).flat_map(|l| ranges.map(|r| (l, r))) {
                let mut chunked = Kll::default();
                chunked.coin ^= (case as u64) << level;
                let mut sorted = chunked.clone();
                let mut left_a = vec![Vec::new(); level];
                let mut left_b = vec![Vec::new(); level];
                let mut a = values.clone();
                let kept_a = chunked
                    .compact_chunk(&mut a, range, level, &mut left_a)
                    .to_vec();
                let mut b = values.clone();
                sort_items(&mut b);
                let kept_b = sorted.compact_sorted(&mut b, level, &mut left_b).to_vec();
                // == and not bits: -0.0 and 0.0 are one item to the sketch.
                let at = format!("case {case}, level {level}, range {range:?}");
                assert_eq!(kept_a, kept_b, "{at}");
                assert_eq!(left_a, left_b, "{at}");
                assert_eq!(chunked.coin, sorted.coin, "the same flips");
            }
        }
    }

    #[test]
    fn batches_of_every_size_keep_the_sketch_valid() {
        let values = stream(123_457, 21);
        for batch in [1, 7, 200, 201, 1_000, 10_000, 123_457] {
            let k = batched(&values, batch);
            check_invariants(&k, values.len() as u64);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            assert_eq!(k.quantile(0.0), Some(sorted[0]), "batch {batch}");
            assert_eq!(k.quantile(1.0), sorted.last().copied(), "batch {batch}");
        }
    }

    #[test]
    fn small_batches_stay_exact_until_the_sketch_is_full() {
        let mut k = Kll::default();
        k.update_batch([3.0, f64::NAN, -1.0, 2.0].into_iter());
        k.update_batch(std::iter::empty());
        assert_eq!(k.n(), 3);
        assert!(!k.is_estimation_mode());
        assert_eq!(k.quantile(0.5), Some(2.0));
        k.update_batch((0..197).map(f64::from));
        assert!(!k.is_estimation_mode(), "200 items fit a fresh sketch");
        k.update_batch([1e6].into_iter());
        assert!(k.is_estimation_mode());
        check_invariants(&k, 201);
        assert_eq!(k.quantile(1.0), Some(1e6));
        assert_eq!(k.quantile(0.0), Some(-1.0));
    }

    #[test]
    fn a_sketch_with_deep_levels_takes_a_batch() {
        // 60 levels, two items each: weights up to 2^59, where the room of
        // the levels below the top, counted in values, passes a u64.
        let levels: Vec<Vec<f64>> = (0..60).map(|h| vec![h as f64, h as f64 + 0.5]).collect();
        let n: u64 = (0..60).map(|h| 2u64 << h).sum();
        let mut k = Kll::with_levels(KLL_K, KLL_K, n, levels, true, 0.0, 59.5);
        k.update_batch((0..1_000).map(|i| f64::from(i) / 10.0));
        assert_eq!(k.n(), n + 1_000);
        let weight: u64 = k.weighted_items().iter().map(|(_, w)| w).sum();
        assert_eq!(weight, n + 1_000);
        assert!(k.retained <= k.capacity);
        assert_eq!(k.quantile(1.0), Some(99.9));
    }

    #[test]
    fn batched_sketches_are_at_least_as_accurate_as_streamed_ones() {
        // The daemon's shapes: 1,000-row JSON and 10,000-row Arrow batches,
        // each batch sketched on its own and merged into the window's.
        let seeds = 6u64;
        for batch in [1_000usize, 10_000] {
            let (mut batched_sum, mut streamed_sum) = (0.0, 0.0);
            for seed in 0..seeds {
                let values = stream(400_000, 90 + seed);
                let mut window = Kll::default();
                let mut streamed = Kll::default();
                for chunk in values.chunks(batch) {
                    let mut part = Kll::default();
                    part.update_batch(chunk.iter().copied());
                    check_invariants(&part, chunk.len() as u64);
                    window.merge(&part);
                    let mut part = Kll::default();
                    chunk.iter().for_each(|&v| part.update(v));
                    streamed.merge(&part);
                }
                check_invariants(&window, values.len() as u64);
                let mut sorted = values;
                sorted.sort_by(f64::total_cmp);
                let b = worst_rank_error(&window, &sorted);
                assert!(b <= window.rank_error(), "batch {batch} seed {seed}: {b}");
                batched_sum += b;
                streamed_sum += worst_rank_error(&streamed, &sorted);
            }
            let (b, s) = (batched_sum / seeds as f64, streamed_sum / seeds as f64);
            eprintln!(
                "batch {batch}: worst percentile rank error, mean: batched {b:.5}, streamed {s:.5}"
            );
            assert!(
                b <= s * 1.2,
                "batch {batch}: batched {b} against streamed {s}"
            );
        }
    }

    #[test]
    fn one_batch_alone_answers_within_its_error() {
        let values = stream(10_000, 4);
        let mut k = Kll::default();
        k.update_batch(values.iter().copied());
        check_invariants(&k, 10_000);
        let mut sorted = values;
        sorted.sort_by(f64::total_cmp);
        for q in [0.01, 0.1, 0.5, 0.9, 0.99] {
            let got = k.quantile(q).unwrap();
            assert!(
                (exact_rank(&sorted, got) - q).abs() <= k.rank_error(),
                "q={q}"
            );
        }
        assert_eq!(k.min_k, KLL_K);
    }
}
