//! The synthetic 100-feature table the comparison and daemon benchmarks
//! share: 50 numeric floats (standard normal), 30 categorical strings (40
//! values, skewed), 20 low-cardinality ints (0–4). `shift` moves the first
//! five numeric features by that many standard deviations.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use assay::profile::Profile;
use assay::profile::table::{ProfileOptions, TableAccumulator};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

pub fn schema() -> Arc<Schema> {
    let mut fields = Vec::new();
    for i in 0..50 {
        fields.push(Field::new(format!("num_{i}"), DataType::Float64, true));
    }
    for i in 0..30 {
        fields.push(Field::new(format!("cat_{i}"), DataType::Utf8, true));
    }
    for i in 0..20 {
        fields.push(Field::new(format!("code_{i}"), DataType::Int64, true));
    }
    Arc::new(Schema::new(fields))
}

/// `count` batches of `rows` rows.
pub fn batches(seed: u64, shift: f64, count: usize, rows: usize) -> Vec<RecordBatch> {
    let schema = schema();
    let mut rng = SmallRng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).expect("normal");
    let categories: Vec<String> = (0..40).map(|i| format!("value_{i}")).collect();
    (0..count)
        .map(|_| {
            let mut columns: Vec<ArrayRef> = Vec::new();
            for i in 0..50 {
                let delta = if i < 5 { shift } else { 0.0 };
                columns.push(Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|_| normal.sample(&mut rng) + delta),
                )));
            }
            for _ in 0..30 {
                columns.push(Arc::new(StringArray::from_iter_values((0..rows).map(
                    |_| {
                        let u: f64 = rng.random();
                        categories[(u * u * categories.len() as f64) as usize].as_str()
                    },
                ))));
            }
            for _ in 0..20 {
                columns.push(Arc::new(Int64Array::from_iter_values(
                    (0..rows).map(|_| rng.random_range(0..5i64)),
                )));
            }
            RecordBatch::try_new(schema.clone(), columns).expect("batch")
        })
        .collect()
}

/// The profile of `rows` rows (in batches of 50,000).
pub fn profile(seed: u64, shift: f64, rows: usize) -> Profile {
    let batch = rows.min(50_000);
    let mut acc =
        TableAccumulator::new(&schema(), &ProfileOptions::default()).expect("accumulator");
    for b in batches(seed, shift, rows / batch, batch) {
        acc.update(&b).expect("update");
    }
    acc.finish()
}
