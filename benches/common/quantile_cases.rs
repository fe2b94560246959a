//! The quantile sketch's accuracy cases, shared by `tests/quantile_accuracy.rs`
//! (10³–10⁶ values, dev profile) and `examples/quantile_accuracy.rs` (any
//! size, 10⁷ in release), included by path from both: the shapes of data,
//! the ways values reach a sketch in production, and the rank error of an
//! answer against the exact sorted values.

use assay::profile::kll::Kll;
use datasketches::common::SearchCriteria;
use datasketches::kll::{KllFloat, KllSketch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};

#[derive(Clone, Copy, Debug)]
pub enum Shape {
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

pub const SHAPES: [Shape; 8] = [
    Shape::Uniform,
    Shape::Normal,
    Shape::LogNormal,
    Shape::ZeroInflated,
    Shape::FewDistinct,
    Shape::SortedAscending,
    Shape::SortedDescending,
    Shape::AllEqual,
];

pub fn values(shape: Shape, n: usize, seed: u64) -> Vec<f64> {
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
pub enum Feed {
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

pub const FEEDS: [Feed; 9] = [
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

pub fn sketch(feed: Feed, values: &[f64]) -> Kll {
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

pub const PERCENTILES: std::ops::RangeInclusive<u32> = 1..=99;

/// The distance from rank `q` to the ranks `v` holds in `sorted` (a value
/// with ties holds a range of ranks; the exact answer holds `q`).
pub fn rank_error(sorted: &[f64], v: f64, q: f64) -> f64 {
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

pub fn worst_error(quantile: impl Fn(f64) -> f64, sorted: &[f64]) -> f64 {
    PERCENTILES
        .map(|p| {
            let q = f64::from(p) / 100.0;
            rank_error(sorted, quantile(q), q)
        })
        .fold(0.0, f64::max)
}

/// The crate's own sketch of the same stream, value by value.
pub fn crate_worst_error(values: &[f64], sorted: &[f64]) -> f64 {
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

/// One size, shape and seed through every feed and the crate.
pub struct Outcome {
    pub size: usize,
    pub shape: Shape,
    pub seed: u64,
    /// The worst error of each feed, in [`FEEDS`] order.
    pub ours: Vec<f64>,
    pub theirs: f64,
    pub bound: f64,
}

pub fn run(size: usize, shape: Shape, seed: u64) -> Outcome {
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

/// The failures (a feed past its bound in any run; a feed's mean worst error
/// at a size past 1.2× the crate's plus 10⁻³) and a table of the means.
pub fn judge(outcomes: &[Outcome], sizes: &[usize]) -> (Vec<String>, String) {
    let mut failures = Vec::new();
    for o in outcomes {
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
    for &size in sizes {
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
    (failures, table)
}
