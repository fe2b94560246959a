//! ROC AUC and average precision from binned score histograms, at the
//! sizes a window sees (200,000 rows): the error against the exact values
//! (computed here by sorting) stays within the reported bounds, and the AUC
//! bound within 0.002, for score distributions models produce — centred,
//! crowded near 0 (a rare positive class, like the example data), crowded
//! near 1, rounded to six decimals — while a pathological one (every score
//! within 1e-4 of 0.5) gets a large bound that says so.
//!
//! `cargo test --test quality_bounds -- --nocapture` prints the table
//! docs/quality.md quotes.

use assay::quality::ranking::{ScoreHistogram, rank};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

const ROWS: usize = 200_000;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Exact ROC AUC and average precision by sorting.
fn exact(pos: &[f64], neg: &[f64]) -> (f64, f64) {
    let mut all: Vec<(f64, bool)> = pos
        .iter()
        .map(|s| (*s, true))
        .chain(neg.iter().map(|s| (*s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // AUC: midranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let midrank = (i + j + 1) as f64 / 2.0;
        rank_sum += midrank * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let (p, n) = (pos.len() as f64, neg.len() as f64);
    let auc = (rank_sum - p * (p + 1.0) / 2.0) / (p * n);
    // AP: distinct thresholds, descending.
    let (mut tp, mut seen, mut ap) = (0.0, 0.0, 0.0);
    let mut i = all.len();
    while i > 0 {
        let mut j = i;
        while j > 0 && all[j - 1].0 == all[i - 1].0 {
            j -= 1;
        }
        let hits = all[j..i].iter().filter(|x| x.1).count() as f64;
        tp += hits;
        seen += (i - j) as f64;
        ap += hits / p * tp / seen;
        i = j;
    }
    (auc, ap)
}

struct Case {
    name: &'static str,
    /// Score and label of one row.
    draw: fn(&mut StdRng) -> (f64, bool),
}

fn latent(rng: &mut StdRng, shift: f64, spread: f64, signal: f64) -> (f64, bool) {
    let normal = Normal::new(0.0, 1.0).unwrap();
    let x: f64 = normal.sample(rng);
    let y = rng.random_bool(sigmoid(signal * x + shift));
    let s = sigmoid(spread * (signal * x + shift) + 0.5 * normal.sample(rng));
    (s, y)
}

const CASES: [Case; 5] = [
    Case {
        name: "centred (logit-normal, AUC ~0.8)",
        draw: |r| latent(r, 0.0, 1.0, 1.5),
    },
    Case {
        name: "crowded near 0 (base rate ~10%)",
        draw: |r| latent(r, -2.6, 1.0, 1.2),
    },
    Case {
        name: "crowded near 1 (base rate ~90%)",
        draw: |r| latent(r, 2.6, 1.0, 1.2),
    },
    Case {
        name: "narrow (scores in ~[0.35, 0.65])",
        draw: |r| latent(r, 0.0, 0.2, 1.5),
    },
    Case {
        name: "six decimals, strong model (AUC ~0.95)",
        draw: |r| {
            let (s, y) = latent(r, -1.0, 1.0, 3.5);
            ((s * 1e6).round() / 1e6, y)
        },
    },
];

fn histograms(rng: &mut StdRng, draw: fn(&mut StdRng) -> (f64, bool)) -> (Vec<f64>, Vec<f64>) {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for _ in 0..ROWS {
        let (s, y) = draw(rng);
        if y { pos.push(s) } else { neg.push(s) }
    }
    (pos, neg)
}

fn hist(scores: &[f64]) -> ScoreHistogram {
    let mut h = ScoreHistogram::default();
    // In batches, as windows receive them.
    for chunk in scores.chunks(10_000) {
        h.add_all(&mut chunk.to_vec());
    }
    h
}

#[test]
fn binned_ranking_metrics_stay_within_their_bounds() {
    let mut rng = StdRng::seed_from_u64(11);
    println!("| scores | AUC | AUC error | AUC bound | AP | AP error | AP bound |");
    println!("|---|---|---|---|---|---|---|");
    for case in &CASES {
        let (pos, neg) = histograms(&mut rng, case.draw);
        let (auc, ap) = exact(&pos, &neg);
        let r = rank(&hist(&pos), &hist(&neg));
        assert!(!r.exact, "{}: expected binned histograms", case.name);
        let auc_err = (r.roc_auc.unwrap() - auc).abs();
        let ap_err = (r.average_precision.unwrap() - ap).abs();
        println!(
            "| {} | {auc:.4} | {auc_err:.1e} | {:.1e} | {ap:.4} | {ap_err:.1e} | {:.1e} |",
            case.name, r.roc_auc_error_bound, r.average_precision_error_bound
        );
        assert!(
            auc_err <= r.roc_auc_error_bound,
            "{}: AUC error {auc_err}",
            case.name
        );
        assert!(
            ap_err <= r.average_precision_error_bound,
            "{}: AP error {ap_err}",
            case.name
        );
        assert!(
            r.roc_auc_error_bound <= 0.002,
            "{}: AUC bound {}",
            case.name,
            r.roc_auc_error_bound
        );
    }
}

#[test]
fn a_pathological_score_distribution_gets_a_bound_that_says_so() {
    let mut rng = StdRng::seed_from_u64(12);
    let (pos, neg) = histograms(&mut rng, |r| {
        let y = r.random_bool(0.5);
        let s = 0.5 + 1e-4 * (r.random::<f64>() - 0.5 + if y { 0.2 } else { 0.0 });
        (s, y)
    });
    let (auc, _) = exact(&pos, &neg);
    let r = rank(&hist(&pos), &hist(&neg));
    let err = (r.roc_auc.unwrap() - auc).abs();
    assert!(
        err <= r.roc_auc_error_bound,
        "error {err} over bound {}",
        r.roc_auc_error_bound
    );
    assert!(
        r.roc_auc_error_bound > 0.002,
        "bound {}",
        r.roc_auc_error_bound
    );
    println!(
        "scores within 1e-4 of 0.5: AUC {auc:.4}, binned {:.4}, bound {:.3}",
        r.roc_auc.unwrap(),
        r.roc_auc_error_bound
    );
}
