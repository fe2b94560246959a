//! The keys at given ranks of bucketed keys, each bucket of up to 16 keys
//! sorted by a fixed network of compare-exchanges, without branches.
//!
//! The buckets of [`super::batch`] hold about six keys each. The standard
//! library sorts so few by insertion, whose every step is a branch on the
//! data: on random keys about half of them mispredict. perf on the daemon
//! (Arrow IPC, 10,000-row batches) had those insertion sorts at about 10%
//! of its CPU. A compare-exchange is a min and a max, which the compiler
//! makes conditional moves, so a network costs the same whatever the keys.
//! A bucket is read as 16 keys at once (the caller pads the keys), those
//! past its end replaced by `u64::MAX`, which sorts last, and sorted in a
//! local array; the ranks are read from there, so nothing is written back.
//!
//! The networks are Batcher's odd-even merge sorts (19 and 63
//! compare-exchanges); the tests check them on every input of 0s and 1s,
//! which by the 0-1 principle proves them for all inputs.

/// Keys past the last bucket that the caller's `keys` must hold (any
/// values), so that every bucket can be read as [`PADDING`] keys.
pub(super) const PADDING: usize = 16;

/// One compare-exchange per pair, in order: afterwards the lower index holds
/// the lesser key.
macro_rules! network {
    ($keys:ident; $(($i:literal, $j:literal)),* $(,)?) => {
        $({
            let (a, b) = ($keys[$i], $keys[$j]);
            $keys[$i] = a.min(b);
            $keys[$j] = a.max(b);
        })*
    };
}

fn sort8(k: &mut [u64]) {
    network!(k;
        (0, 1), (2, 3), (0, 2), (1, 3), (1, 2), (4, 5), (6, 7), (4, 6),
        (5, 7), (5, 6), (0, 4), (2, 6), (2, 4), (1, 5), (3, 7), (3, 5),
        (1, 2), (3, 4), (5, 6),
    );
}

fn sort16(k: &mut [u64; PADDING]) {
    sort8(&mut k[..8]);
    sort8(&mut k[8..]);
    // Batcher's merge of the two sorted halves.
    network!(k;
        (0, 8), (4, 12), (4, 8), (2, 10), (6, 14), (6, 10), (2, 4), (6, 8),
        (10, 12), (1, 9), (5, 13), (5, 9), (3, 11), (7, 15), (7, 11), (3, 5),
        (7, 9), (11, 13), (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12),
        (13, 14),
    );
}

/// The first `len` (at most [`PADDING`]) of `window` sorted, then
/// `u64::MAX`.
fn sorted_bucket(window: &[u64; PADDING], len: usize) -> [u64; PADDING] {
    let mut k = [u64::MAX; PADDING];
    for (i, (slot, &key)) in k.iter_mut().zip(window).enumerate() {
        *slot = if i < len { key } else { u64::MAX };
    }
    if len <= 8 {
        sort8(&mut k[..8]);
    } else {
        sort16(&mut k);
    }
    k
}

/// Calls `each` with the key of every rank of `ranks` (ascending) in the
/// sorted order of `keys`, whose buckets start at `starts` (each bucket's
/// keys at most every key of the buckets after it; last, where the last
/// ends; and then [`PADDING`] keys more). Only the buckets holding one of
/// the ranks are sorted, those over [`PADDING`] keys in place.
pub(super) fn keys_at_ranks(
    keys: &mut [u64],
    starts: &[usize],
    ranks: impl Iterator<Item = usize>,
    mut each: impl FnMut(u64),
) {
    let mut b = 0;
    // The bucket last sorted, and its keys when they fit the network.
    let mut open = usize::MAX;
    let mut local = [u64::MAX; PADDING];
    for rank in ranks {
        while starts[b + 1] <= rank {
            b += 1;
        }
        let (start, end) = (starts[b], starts[b + 1]);
        if end - start > PADDING {
            if open != b {
                keys[start..end].sort_unstable();
                open = b;
            }
            each(keys[rank]);
        } else {
            if open != b {
                let window = keys[start..start + PADDING]
                    .try_into()
                    .expect("the caller pads the keys");
                local = sorted_bucket(window, end - start);
                open = b;
            }
            each(local[rank - start]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_networks_sort_every_input_of_zeros_and_ones() {
        // 0-1 principle: a network that sorts every 0/1 input sorts every
        // input. Keys 0 and 1 leave room for the padding to sort last.
        for len in 0..=PADDING {
            for bits in 0u32..1 << len {
                let mut window = [7u64; PADDING];
                for (i, key) in window.iter_mut().enumerate().take(len) {
                    *key = u64::from(bits >> i & 1);
                }
                let k = sorted_bucket(&window, len);
                assert!(k.is_sorted(), "len {len}, bits {bits:b}: {k:?}");
                let ones = k[..len].iter().sum::<u64>();
                assert_eq!(ones, u64::from(bits.count_ones()), "len {len}");
                assert!(k[len..].iter().all(|&key| key == u64::MAX));
            }
        }
    }

    proptest! {
        #[test]
        fn ranks_read_as_from_the_sorted_keys(
            buckets in prop::collection::vec(
                prop::collection::vec(
                    prop_oneof![any::<u64>(), Just(u64::MAX), 0..4u64],
                    0..40,
                ),
                1..12,
            ),
            pick in prop::collection::vec(any::<bool>(), 0..400),
        ) {
            // Buckets in order: bucket b's keys shifted into the b-th slice
            // of the key space.
            let width = u64::MAX / buckets.len() as u64;
            let mut keys = Vec::new();
            let mut starts = vec![0];
            for (b, bucket) in buckets.iter().enumerate() {
                keys.extend(bucket.iter().map(|k| b as u64 * width + k % width));
                starts.push(keys.len());
            }
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            let ranks: Vec<usize> = (0..keys.len())
                .filter(|&r| pick.get(r).copied().unwrap_or(r % 3 == 0))
                .collect();
            keys.extend([3; PADDING]);
            let mut got = Vec::new();
            keys_at_ranks(&mut keys, &starts, ranks.iter().copied(), |k| got.push(k));
            let expected: Vec<u64> = ranks.iter().map(|&r| sorted[r]).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
