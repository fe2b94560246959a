//! Closing the quality of a window: what the daemon pays when a window of
//! labelled predictions closes. 100,000 labelled predictions of a binary
//! classifier with continuous scores (so every histogram is binned) and
//! 10 groups; the accumulators (quality sliced by group, fairness by group)
//! are filled once outside the timing, as a window's are while it is open,
//! and a reference window's reports are ready. Timed: `finish()` of both
//! accumulators and both comparisons against the reference
//! (`close_window/100k_10_groups`), and, apart, the quality accumulator's
//! update of the 100,000 rows (`update/100k_10_groups`).
//!
//! ```text
//! cargo bench --bench quality
//! ```

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use assay::quality::{
    AlarmOptions, FairnessAccumulator, QualityAccumulator, QualitySpec, ScoreColumns, Task,
    compare_fairness, compare_quality,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

const ROWS: usize = 100_000;
const GROUPS: usize = 10;

fn window(seed: u64) -> Vec<RecordBatch> {
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
        Field::new("prediction", DataType::Int64, false),
        Field::new("group", DataType::Utf8, false),
    ]));
    // Batches of 10,000 rows, as the daemon's window receives them.
    (0..ROWS / 10_000)
        .map(|_| {
            let (mut l, mut s, mut p, mut g) = (vec![], vec![], vec![], vec![]);
            for _ in 0..10_000 {
                let group = rng.random_range(0..GROUPS);
                let x: f64 = normal.sample(&mut rng);
                let logit = 1.3 * x - 0.5 + 0.05 * group as f64;
                let score = 1.0 / (1.0 + (-(logit + 0.4 * normal.sample(&mut rng))).exp());
                l.push(i64::from(rng.random_bool(1.0 / (1.0 + (-logit).exp()))));
                s.push(score);
                p.push(i64::from(score >= 0.5));
                g.push(format!("g{group}"));
            }
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(l)),
                Arc::new(Float64Array::from(s)),
                Arc::new(Int64Array::from(p)),
                Arc::new(StringArray::from(g)),
            ];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect()
}

fn spec() -> QualitySpec {
    QualitySpec {
        prediction: Some("prediction".into()),
        scores: ScoreColumns::Single("score".into()),
        slices: vec![vec!["group".into()]],
        sensitive: vec!["group".into()],
        ..QualitySpec::new("label")
    }
}

fn filled(batches: &[RecordBatch]) -> (QualityAccumulator, FairnessAccumulator) {
    let spec = spec();
    let mut quality = QualityAccumulator::new(&spec, Task::Binary).unwrap();
    let mut fairness = FairnessAccumulator::new(&spec, Task::Binary).unwrap();
    for b in batches {
        quality.update(b).unwrap();
        fairness.update(b).unwrap();
    }
    (quality, fairness)
}

fn bench(c: &mut Criterion) {
    let (ref_quality, ref_fairness) = filled(&window(1));
    let (reference_quality, reference_fairness) = (ref_quality.finish(), ref_fairness.finish());
    let current = window(2);
    let (quality, fairness) = filled(&current);
    let options = AlarmOptions::default();
    c.bench_function("close_window/100k_10_groups", |b| {
        b.iter(|| {
            let q = quality.finish();
            let f = fairness.finish();
            let mut findings = compare_quality(&reference_quality, &q, &options).unwrap();
            findings.extend(compare_fairness(&reference_fairness, &f, &options).unwrap());
            black_box((q, f, findings))
        })
    });
    c.bench_function("update/100k_10_groups", |b| {
        b.iter(|| black_box(filled(&current)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
