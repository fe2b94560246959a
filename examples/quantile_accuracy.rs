//! The quantile accuracy suite of `tests/quantile_accuracy.rs` at any size,
//! for the sizes `cargo test` does not reach (10⁷ values):
//!
//! ```sh
//! cargo run --release --example quantile_accuracy -- 10000000
//! cargo run --release --example quantile_accuracy -- 10000000 --seeds 3
//! ```
//!
//! Prints each feed's mean worst percentile rank error beside the
//! `datasketches` crate's own update, and exits 1 when a run passes the
//! sketch's bound or a feed's mean passes 1.2× the crate's (plus 10⁻³).

#[path = "../benches/common/quantile_cases.rs"]
mod quantile_cases;

use quantile_cases::*;
use rayon::prelude::*;

fn main() {
    let mut sizes = Vec::new();
    let mut seeds = 2u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = if arg == "--seeds" {
            args.next().and_then(|s| s.parse().ok()).map(|s| seeds = s)
        } else {
            arg.replace('_', "").parse().ok().map(|n| sizes.push(n))
        };
        if parsed.is_none() {
            eprintln!("usage: quantile_accuracy SIZE... [--seeds N]");
            std::process::exit(2);
        }
    }
    if sizes.is_empty() {
        sizes.push(10_000_000);
    }
    let cases: Vec<(usize, Shape, u64)> = sizes
        .iter()
        .flat_map(|&n| {
            SHAPES
                .iter()
                .flat_map(move |&s| (0..seeds).map(move |seed| (n, s, seed)))
        })
        .collect();
    let started = std::time::Instant::now();
    let outcomes: Vec<Outcome> = cases
        .into_par_iter()
        .map(|(n, s, seed)| run(n, s, seed))
        .collect();
    let (failures, table) = judge(&outcomes, &sizes);
    println!("{table}");
    println!(
        "{} runs ({} shapes × {seeds} seeds × {} sizes) in {:.1} s",
        outcomes.len(),
        SHAPES.len(),
        sizes.len(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        println!("{}", failures.join("\n"));
        std::process::exit(1);
    }
}
