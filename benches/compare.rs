//! Comparing saved profiles: `assay drift`'s cost once both sides are
//! profiled, which is what a daemon pays at every window close.
//!
//! Two profiles of 100 features each (50 numeric floats, 30 categorical
//! strings, 20 low-cardinality ints), 100,000 rows per side, the current side
//! shifted on a few features, are built once in memory (as a saved profile
//! would load); the benchmark times planning and comparing them with the
//! default methods (`compare_100_features/default`), and with every method
//! (`compare_100_features/all_methods`).
//!
//! ```text
//! cargo bench --bench compare
//! ```

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use assay::checks::compare::{self, CompareOptions, Comparison, Side};
use assay::profile::Profile;
use assay::profile::table::{ProfileOptions, TableAccumulator};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

const ROWS: usize = 100_000;
const BATCH: usize = 50_000;

fn profile(seed: u64, shift: f64) -> Profile {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut fields = Vec::new();
    for i in 0..50 {
        fields.push(Field::new(
            format!("num_{i}"),
            arrow::datatypes::DataType::Float64,
            true,
        ));
    }
    for i in 0..30 {
        fields.push(Field::new(
            format!("cat_{i}"),
            arrow::datatypes::DataType::Utf8,
            true,
        ));
    }
    for i in 0..20 {
        fields.push(Field::new(
            format!("code_{i}"),
            arrow::datatypes::DataType::Int64,
            true,
        ));
    }
    let schema = Arc::new(Schema::new(fields));
    let mut acc = TableAccumulator::new(&schema, &ProfileOptions::default()).expect("accumulator");
    let normal = Normal::new(0.0, 1.0).expect("normal");
    let categories: Vec<String> = (0..40).map(|i| format!("value_{i}")).collect();
    for _ in 0..ROWS / BATCH {
        let mut columns: Vec<ArrayRef> = Vec::new();
        for i in 0..50 {
            // The first five numeric features move by `shift` standard deviations.
            let delta = if i < 5 { shift } else { 0.0 };
            columns.push(Arc::new(Float64Array::from_iter_values(
                (0..BATCH).map(|_| normal.sample(&mut rng) + delta),
            )));
        }
        for _ in 0..30 {
            columns.push(Arc::new(StringArray::from_iter_values((0..BATCH).map(
                |_| {
                    let u: f64 = rng.random();
                    categories[(u * u * categories.len() as f64) as usize].as_str()
                },
            ))));
        }
        for _ in 0..20 {
            columns.push(Arc::new(Int64Array::from_iter_values(
                (0..BATCH).map(|_| rng.random_range(0..5i64)),
            )));
        }
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
        acc.update(&batch).expect("update");
    }
    acc.finish()
}

fn bench(c: &mut Criterion) {
    let reference = profile(1, 0.0);
    let current = profile(2, 0.3);
    let mut group = c.benchmark_group("compare_100_features");
    for (name, all_methods) in [("default", false), ("all_methods", true)] {
        let options = CompareOptions {
            all_methods,
            ..CompareOptions::new(Comparison::Drift)
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let plan = compare::plan(&reference, &current, None, &options).expect("plan");
                let report = compare::compare(
                    &plan,
                    Side {
                        label: "reference",
                        profile: &reference,
                        exact: None,
                    },
                    Side {
                        label: "current",
                        profile: &current,
                        exact: None,
                    },
                )
                .expect("compare");
                black_box(report)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
