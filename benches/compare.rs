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

mod common;

use std::hint::black_box;

use assay::checks::compare::{self, CompareOptions, Comparison, Side};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let reference = common::profile(1, 0.0, 100_000);
    let current = common::profile(2, 0.3, 100_000);
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
