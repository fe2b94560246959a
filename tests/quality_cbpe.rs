//! CBPE's estimation error against realized quality, measured on the
//! shipped example data and on a generated covariate-shift scenario, and
//! its failure under concept drift (which no label-free method can see).
//!
//! `cargo test --test quality_cbpe -- --nocapture` prints the tables
//! docs/quality.md quotes. The assertions bound the mean absolute error.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::compute::{sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema};
use assay::quality::cbpe::{Estimator, scores_of};
use assay::quality::{QualityAccumulator, QualitySpec, ScoreColumns, Task};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

const METRICS: [&str; 5] = ["accuracy", "precision", "recall", "f1", "roc_auc"];

fn spec(label: &str, score: &str, threshold: f64) -> QualitySpec {
    QualitySpec {
        scores: ScoreColumns::Single(score.into()),
        threshold,
        ..QualitySpec::new(label)
    }
}

fn accumulate(batch: &RecordBatch, spec: &QualitySpec) -> QualityAccumulator {
    let mut acc = QualityAccumulator::new(spec, Task::Binary).unwrap();
    acc.update(batch).unwrap();
    acc
}

/// Per metric: mean and max absolute error, and the share of chunks whose
/// realized value fell inside the estimate's 95% band.
struct Errors {
    abs: Vec<Vec<f64>>,
    covered: Vec<usize>,
    chunks: usize,
}

impl Errors {
    fn new() -> Self {
        Self {
            abs: vec![Vec::new(); METRICS.len()],
            covered: vec![0; METRICS.len()],
            chunks: 0,
        }
    }

    fn add(&mut self, estimator: &Estimator, chunk: &QualityAccumulator) {
        let realized = chunk.finish();
        let estimate = estimator.estimate(&scores_of(chunk));
        self.chunks += 1;
        for (i, m) in METRICS.iter().enumerate() {
            let (Some(r), Some(e)) = (realized.summary.metrics.get(m), estimate.metrics.get(m))
            else {
                continue;
            };
            self.abs[i].push((r - e).abs());
            if let Some([lo, hi]) = estimate.intervals.get(*m)
                && *lo <= r
                && r <= *hi
            {
                self.covered[i] += 1;
            }
        }
    }

    fn mean(&self, i: usize) -> f64 {
        self.abs[i].iter().sum::<f64>() / self.abs[i].len().max(1) as f64
    }

    fn print(&self, title: &str) {
        println!("\n{title} ({} chunks)", self.chunks);
        println!("| metric | mean abs error | max abs error | realized inside 95% band |");
        println!("|---|---|---|---|");
        for (i, m) in METRICS.iter().enumerate() {
            let max = self.abs[i].iter().copied().fold(0.0, f64::max);
            println!(
                "| {m} | {:.4} | {:.4} | {}/{} |",
                self.mean(i),
                max,
                self.covered[i],
                self.abs[i].len()
            );
        }
    }
}

/// Reference: January; chunks of 2,000 rows of February and March.
fn example_data(threshold: f64) -> Errors {
    let batch = common::read_parquet(common::TRAIN);
    let order = sort_to_indices(batch.column_by_name("applied_at").unwrap(), None, None).unwrap();
    let batch = take_record_batch(&batch, &order).unwrap();
    let times = batch
        .column_by_name("applied_at")
        .unwrap()
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    let february = 1_706_745_600_000_000i64; // 2024-02-01T00:00:00
    let split = (0..batch.num_rows())
        .find(|&i| times.value(i) >= february)
        .unwrap();
    let spec = spec("label", "prediction", threshold);
    let estimator = Estimator::fit(&accumulate(&batch.slice(0, split), &spec)).unwrap();
    let mut errors = Errors::new();
    let mut start = split;
    while start + 2000 <= batch.num_rows() {
        errors.add(&estimator, &accumulate(&batch.slice(start, 2000), &spec));
        start += 2000;
    }
    errors
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Labelled rows whose features have mean `shift`; the world's `P(y | x)`
/// is fixed unless `concept` moves it. The model's score is a monotone,
/// miscalibrated function of the true risk.
fn scenario(rng: &mut StdRng, rows: usize, shift: f64, concept: f64) -> RecordBatch {
    let normal = Normal::new(0.0, 1.0).unwrap();
    let (mut labels, mut scores) = (Vec::new(), Vec::new());
    for _ in 0..rows {
        let x1 = shift + normal.sample(rng);
        let x2 = 0.5 * shift + normal.sample(rng);
        let risk = 1.2 * x1 - 0.8 * x2 - 1.0;
        let y = rng.random_bool(sigmoid(risk + concept));
        labels.push(i64::from(y));
        scores.push((sigmoid(0.7 * risk + 0.3) * 1e6).round() / 1e6);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(labels)),
        Arc::new(Float64Array::from(scores)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn shifted(concept: bool) -> Errors {
    let mut rng = StdRng::seed_from_u64(7);
    let spec = spec("label", "score", 0.5);
    let estimator =
        Estimator::fit(&accumulate(&scenario(&mut rng, 20_000, 0.0, 0.0), &spec)).unwrap();
    let mut errors = Errors::new();
    for step in 0..10 {
        let shift = 0.2 * step as f64;
        let concept = if concept { 0.15 * step as f64 } else { 0.0 };
        errors.add(
            &estimator,
            &accumulate(&scenario(&mut rng, 5_000, shift, concept), &spec),
        );
    }
    errors
}

#[test]
fn cbpe_tracks_realized_quality_on_the_example_data() {
    let errors = example_data(0.5);
    errors.print("example data, threshold 0.5: reference January, chunks of 2,000 rows (Feb–Mar)");
    let low = example_data(0.2);
    low.print("example data, threshold 0.2");
    for e in [&errors, &low] {
        assert!(e.mean(0) < 0.02, "accuracy error {}", e.mean(0));
        assert!(e.mean(4) < 0.02, "roc_auc error {}", e.mean(4));
    }
}

#[test]
fn cbpe_tracks_realized_quality_under_covariate_shift() {
    let errors = shifted(false);
    errors.print("covariate shift: features' mean 0 → 1.8 over 10 chunks of 5,000 rows");
    for (i, m) in METRICS.iter().enumerate() {
        assert!(
            errors.mean(i) < 0.03,
            "{m}: mean abs error {}",
            errors.mean(i)
        );
    }
}

#[test]
fn cbpe_cannot_see_concept_drift() {
    // P(y | x) moves: the calibration no longer holds, and the estimate
    // misses the realized accuracy by more than under covariate shift.
    let drift = shifted(true);
    drift.print("concept drift (for contrast): the outcome's logit rises 0 → 1.35");
    let covariate = shifted(false);
    assert!(drift.mean(0) > 2.0 * covariate.mean(0));
}
