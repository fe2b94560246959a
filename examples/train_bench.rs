//! The training benchmark's Rust side: logistic regression on 1,000,000
//! rows × 30 features to convergence (L-BFGS, C = 1, gradient tolerance
//! 1e-4 as scikit-learn's default), no holdout (scikit-learn fits every row
//! too).
//!
//! ```text
//! python3 scripts/bench_train.py generate /tmp/train-bench
//! cargo build --example train_bench --config 'profile.dev.package.assay.opt-level=3'
//! /usr/bin/time -v target/debug/examples/train_bench /tmp/train-bench
//! ```
//!
//! Prints the time to read, to encode and fit (`train`, which also fits
//! the feature spec), the fit alone, its iterations and the objective
//! (mean log loss + ‖w‖²/(2·C·n), the number scripts/bench_train.py prints
//! for scikit-learn). docs/train.md has the figures.

use std::path::PathBuf;
use std::time::Instant;

use assay::sources::ReadOptions;
use assay::train::{self, TrainOptions};

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: train_bench DIR (see the file's docs)"))?,
    );
    let t0 = Instant::now();
    let schema = assay::schema::load(&dir.join("schema.toml"))?;
    let data = train::load(
        &[dir.join("data.parquet").display().to_string()],
        &ReadOptions::default(),
    )?;
    let t1 = Instant::now();
    let options = TrainOptions {
        holdout_share: 0.0,
        ..TrainOptions::new("y")
    };
    let model = train::train(&schema, "bench", &data, &options)?;
    let t2 = Instant::now();
    let fit = &model.card.training.fit;
    println!(
        "read {:.3} s, encode + fit {:.3} s (fit {:.3} s, {} iterations, {} evaluations, stop {}), objective {:.9}",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        model.card.training.seconds,
        fit["iterations"],
        fit["evaluations"],
        fit["stop"],
        fit["objective"].as_f64().unwrap_or(f64::NAN),
    );
    Ok(())
}
