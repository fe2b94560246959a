//! Closing a window in the daemon (`assay serve`): finishing the window's
//! profile, skew against the baseline and drift against the previous
//! window for 100 features, the report, the window profile, the
//! minute/hour/day rollups and the index written atomically (each fsynced),
//! and a fresh window and log. The goal (issue #6) is under 10 ms.
//!
//! The baseline is the 100,000-row profile of the shared synthetic table
//! (benches/common), each window 10,000 rows with five features shifted. The
//! state directory is on the target directory's disk, not a tmpfs, so the
//! fsyncs cost what they cost. Only the close is timed: filling the window
//! (prepare + commit) happens outside the measurement.
//!
//! ```text
//! cargo bench --bench daemon
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use assay::server::config::{Check, Checks, ModelConfig, WindowPolicy};
use assay::server::model::ModelRuntime;
use criterion::{Criterion, criterion_group, criterion_main};

const WINDOW_ROWS: usize = 10_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let baseline = dir.path().join("baseline.profile.json");
    std::fs::write(
        &baseline,
        assay::profile::io::to_json(&common::profile(1, 0.0, 100_000)),
    )
    .expect("baseline written");
    let config = ModelConfig {
        name: "bench".into(),
        baseline,
        schema: None,
        suites: Vec::new(),
        environment: None,
        slices: Vec::new(),
        request_id_column: None,
        window: WindowPolicy {
            rows: None,
            seconds: Some(3600),
            keep: 100,
        },
        checks: Checks {
            per_batch: Vec::new(),
            per_window: vec![Check::Skew, Check::Drift],
        },
        quality: None,
        data: Default::default(),
        retrain: None,
    };
    let mut runtime = ModelRuntime::load(&config, &dir.path().join("state")).expect("model");
    let spec = runtime.spec();
    let windows = common::batches(2, 0.3, 4, WINDOW_ROWS);
    let fill = |runtime: &mut ModelRuntime, i: usize| {
        let prepared = spec
            .prepare(&windows[i % windows.len()], None)
            .expect("prepare");
        runtime.commit(prepared).expect("commit");
    };
    // A first window, so that every measured close also runs drift.
    fill(&mut runtime, 0);
    runtime.close_window().expect("close");

    let mut group = c.benchmark_group("window_close_100_features");
    group.sample_size(30);
    let mut n = 1;
    group.bench_function("skew_drift_and_state", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fill(&mut runtime, n);
                n += 1;
                let start = Instant::now();
                let closed = runtime.close_window().expect("close");
                total += start.elapsed();
                assert!(closed.as_ref().is_some_and(|w| w.drift.is_some()));
                black_box(closed);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
