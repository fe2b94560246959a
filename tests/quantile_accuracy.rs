//! The quantile sketch's accuracy suite: every way a value reaches a sketch
//! in production, at the sizes production sees, against exact ranks and
//! against the `datasketches` crate's own update on the same stream.
//!
//! Why this exists: a batch path that fed large batches into a sketch that
//! already held values passed every invariant test and was wrong by 6× its
//! bound at 10⁵ values. So each feed here is checked for *rank error*, at
//! 10³–10⁶ values, on shapes that stress a quantile sketch (heavy tails,
//! zero inflation, few distinct values, sorted input, one value):
//!
//! - every percentile (1..99) within the sketch's stated rank error of its
//!   exact rank (for a value with ties, the distance from the asked rank to
//!   the value's range of ranks);
//! - per size and feed, the mean over shapes and seeds of the worst error at
//!   most 1.2× the crate's (plus one rank in a thousand of slack, for the
//!   shapes where both are exact or nearly so).
//!
//! 10⁷ values run in `scripts/quantile_accuracy.sh` (the same cases through
//! the release binary), not here: this suite keeps `cargo test` (dev profile)
//! to well under a minute on 2 cores.

use assay::profile::kll::Kll;
use datasketches::common::SearchCriteria;
use datasketches::kll::{KllFloat, KllSketch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};
use rayon::prelude::*;

/// The sizes `cargo test` checks (10⁷ is the benchmark script's).
const SIZES: [usize; 6] = [1_000, 10_000, 50_000, 100_000, 300_000, 1_000_000];

#[derive(Clone, Copy, Debug)]
enum Shape {
    Uniform,
    Normal,
    LogNormal,
    /// 90% zeros, the rest lognormal with σ = 2 (a heavy tail).
    ZeroInflated,
    /// Ten integer codes.
    FewDistinct,
    SortedAscending,
    SortedDescending,
    AllEqual,
}

const SHAPES: [Shape; 8] = [
    Shape::Uniform,
    Shape::Normal,
    Shape::LogNormal,
    Shape::ZeroInflated,
    Shape::FewDistinct,
    Shape::SortedAscending,
    Shape::SortedDescending,
    Shape::AllEqual,
];

fn values(shape: Shape, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9) ^ n as u64);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let lognormal = LogNormal::new(0.0, 1.0).unwrap();
    let heavy = LogNormal::new(0.0, 2.0).unwrap();
    let mut out: Vec<f64> = (0..n)
        .map(|_| match shape {
            Shape::Uniform | Shape::SortedAscending | Shape::SortedDescending => rng.random(),
            Shape::Normal => normal.sample(&mut rng),
            Shape::LogNormal => lognormal.sample(&mut rng),
            Shape::ZeroInflated => {
                if rng.random::<f64>() < 0.9 {
                    0.0
                } else {
                    heavy.sample(&mut rng)
                }
            }
            Shape::FewDistinct => f64::from(rng.random_range(0..10u8)),
            Shape::AllEqual => 3.5,
        })
        .collect();
    match shape {
        Shape::SortedAscending => out.sort_by(f64::total_cmp),
        Shape::SortedDescending => out.sort_by(|a, b| b.total_cmp(a)),
        _ => {}
    }
    out
}

/// How values reach the sketch.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// `update`, value by value.
    Scalar,
    /// All values in one `update_batch`.
    OneBatch,
    /// `update_batch` of this many values at a time, into one sketch.
    Batches(usize),
    /// One sketch per 10,000-value batch (the daemon's request sketches),
    /// each merged into the first.
    MergedBatches,
    /// Eight partitions, each fed in 8,192-value batches, merged in another
    /// order than they were made (the profiler's rayon partitions).
    MergedPartitions,
    /// Half the values in 65,536-value batches, the sketch saved as its
    /// image and read back (a saved profile), then the rest.
    SavedAndUpdated,
}

const FEEDS: [Feed; 9] = [
    Feed::Scalar,
    Feed::OneBatch,
    Feed::Batches(1),
    Feed::Batches(1_000),
    Feed::Batches(8_192),
    Feed::Batches(65_536),
    Feed::MergedBatches,
    Feed::MergedPartitions,
    Feed::SavedAndUpdated,
];

fn batches(values: &[f64], size: usize) -> Kll {
    let mut k = Kll::default();
    values
        .chunks(size)
        .for_each(|c| k.update_batch(c.iter().copied()));
    k
}

fn sketch(feed: Feed, values: &[f64]) -> Kll {
    match feed {
        Feed::Scalar => {
            let mut k = Kll::default();
            values.iter().for_each(|&v| k.update(v));
            k
        }
        Feed::OneBatch => batches(values, values.len().max(1)),
        Feed::Batches(size) => batches(values, size),
        Feed::MergedBatches => {
            let mut all = Kll::default();
            for chunk in values.chunks(10_000) {
                all.merge(&batches(chunk, chunk.len()));
            }
            all
        }
        Feed::MergedPartitions => {
            let parts: Vec<Kll> = values
                .chunks(values.len().div_ceil(8))
                .map(|p| batches(p, 8_192))
                .collect();
            let mut all = Kll::default();
            for i in [3, 0, 7, 5, 1, 6, 2, 4] {
                if let Some(p) = parts.get(i) {
                    all.merge(p);
                }
            }
            all
        }
        Feed::SavedAndUpdated => {
            let (first, rest) = values.split_at(values.len() / 2);
            let saved = serde_json::to_string(&batches(first, 65_536)).unwrap();
            let mut k: Kll = serde_json::from_str(&saved).unwrap();
            rest.chunks(65_536)
                .for_each(|c| k.update_batch(c.iter().copied()));
            k
        }
    }
}

const PERCENTILES: std::ops::RangeInclusive<u32> = 1..=99;

/// The distance from rank `q` to the ranks `v` holds in `sorted` (a value
/// with ties holds a range of ranks; the exact answer holds `q`).
fn rank_error(sorted: &[f64], v: f64, q: f64) -> f64 {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|x| *x < v) as f64 / n;
    let upto = sorted.partition_point(|x| *x <= v) as f64 / n;
    if q > upto {
        q - upto
    } else if q < below {
        below - q
    } else {
        0.0
    }
}

fn worst_error(quantile: impl Fn(f64) -> f64, sorted: &[f64]) -> f64 {
    PERCENTILES
        .map(|p| {
            let q = f64::from(p) / 100.0;
            rank_error(sorted, quantile(q), q)
        })
        .fold(0.0, f64::max)
}

/// The crate's own sketch of the same stream, value by value.
fn crate_worst_error(values: &[f64], sorted: &[f64]) -> f64 {
    let mut theirs = KllSketch::<KllFloat<f64>>::new(200).unwrap();
    for &v in values {
        theirs.update(KllFloat::<f64>::new(v).unwrap());
    }
    let view = theirs.sorted_view();
    worst_error(
        |q| {
            view.quantile(q, SearchCriteria::Inclusive)
                .unwrap()
                .unwrap()
                .into_inner()
        },
        sorted,
    )
}

fn seeds(n: usize) -> u64 {
    if n >= 1_000_000 { 2 } else { 3 }
}

struct Outcome {
    size: usize,
    shape: Shape,
    seed: u64,
    /// The worst error of each feed, in [`FEEDS`] order.
    ours: Vec<f64>,
    theirs: f64,
    bound: f64,
}

fn run(size: usize, shape: Shape, seed: u64) -> Outcome {
    let values = values(shape, size, seed);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let mut bound = 0.0;
    let ours = FEEDS
        .iter()
        .map(|&feed| {
            let k = sketch(feed, &values);
            assert_eq!(k.n(), size as u64, "{feed:?} counts every value");
            bound = k.rank_error();
            let view = k.view();
            worst_error(|q| view.quantile(q).unwrap(), &sorted)
        })
        .collect();
    Outcome {
        size,
        shape,
        seed,
        ours,
        theirs: crate_worst_error(&values, &sorted),
        bound,
    }
}

#[test]
fn every_feed_is_within_the_bound_and_as_accurate_as_the_crate() {
    let cases: Vec<(usize, Shape, u64)> = SIZES
        .iter()
        .flat_map(|&n| {
            SHAPES
                .iter()
                .flat_map(move |&s| (0..seeds(n)).map(move |seed| (n, s, seed)))
        })
        .collect();
    // Largest first, so the pool's two threads finish together.
    let mut outcomes: Vec<Outcome> = cases
        .into_par_iter()
        .rev()
        .map(|(n, s, seed)| run(n, s, seed))
        .collect();
    outcomes.sort_by_key(|o| o.size);

    let mut failures = Vec::new();
    for o in &outcomes {
        for (feed, &err) in FEEDS.iter().zip(&o.ours) {
            if err > o.bound {
                failures.push(format!(
                    "n={} {:?} seed {} {feed:?}: worst rank error {err:.4} > bound {:.4}",
                    o.size, o.shape, o.seed, o.bound
                ));
            }
        }
    }
    let mut table = String::from("size     feed                 ours    crate\n");
    for &size in &SIZES {
        let at: Vec<&Outcome> = outcomes.iter().filter(|o| o.size == size).collect();
        let theirs = at.iter().map(|o| o.theirs).sum::<f64>() / at.len() as f64;
        for (i, feed) in FEEDS.iter().enumerate() {
            let ours = at.iter().map(|o| o.ours[i]).sum::<f64>() / at.len() as f64;
            table.push_str(&format!(
                "{size:<8} {:<20} {ours:.5} {theirs:.5}\n",
                format!("{feed:?}")
            ));
            if ours > 1.2 * theirs + 1e-3 {
                failures.push(format!(
                    "n={size} {feed:?}: mean worst error {ours:.5} > 1.2 × the crate's {theirs:.5}"
                ));
            }
        }
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}
