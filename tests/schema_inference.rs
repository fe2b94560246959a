//! Schema inference that holds on fresh data from the same distribution.
//!
//! Counts (Poisson, binomial), ratings, flags, codes and long-tailed string
//! categories (Zipf) are drawn for a training sample, profiled by the real
//! profiler, and a schema is inferred with the default rules. Clean serving
//! samples drawn from the same distributions (several seeds, large and small)
//! must pass it; serving samples with a genuinely new category at 5% or
//! values far out of range must fail it, on exactly the feature concerned.
//! One case runs the real CLI (`assay profile`, `assay infer`,
//! `assay validate`). The rules are in `src/schema/infer.rs` and
//! `docs/schema-inference.md`; `scripts/infer_rules_sim.py` measures their
//! false-alarm rates over many more distributions and sizes.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use assay::checks::{Finding, FindingKind, Severity, schema_anomalies};
use assay::profile::{Profile, ProfileOptions, TableAccumulator};
use assay::schema::{Domain, FeatureSchema, InferOptions, Schema, infer};
use common::*;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Binomial, Poisson, Zipf};

const TRAIN_ROWS: usize = 50_000;
const SERVING_ROWS: usize = 20_000;
const SERVING_SEEDS: std::ops::RangeInclusive<u64> = 1..=5;

/// The columns, as drawn: ints and strings.
struct Columns {
    ints: Vec<(&'static str, Vec<i64>)>,
    strings: Vec<(&'static str, Vec<String>)>,
}

impl Columns {
    fn ints_mut(&mut self, name: &str) -> &mut Vec<i64> {
        &mut self.ints.iter_mut().find(|(n, _)| *n == name).unwrap().1
    }
    fn strings_mut(&mut self, name: &str) -> &mut Vec<String> {
        &mut self.strings.iter_mut().find(|(n, _)| *n == name).unwrap().1
    }
    fn batch(&self) -> RecordBatch {
        let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
        for (name, values) in &self.ints {
            columns.push((name, Arc::new(Int64Array::from(values.clone()))));
        }
        for (name, values) in &self.strings {
            columns.push((name, Arc::new(StringArray::from(values.clone()))));
        }
        RecordBatch::try_from_iter(columns).unwrap()
    }
}

/// `n` rows of every column, from `seed`.
fn draw(n: usize, seed: u64) -> Columns {
    let mut rng = StdRng::seed_from_u64(seed);
    let poisson = |rng: &mut StdRng, lambda: f64| -> Vec<i64> {
        let d = Poisson::new(lambda).unwrap();
        (0..n).map(|_| d.sample(rng) as i64).collect()
    };
    let weighted = |rng: &mut StdRng, values: &[i64], weights: &[f64]| -> Vec<i64> {
        let d = WeightedIndex::new(weights).unwrap();
        (0..n).map(|_| values[d.sample(rng)]).collect()
    };
    let flag = |rng: &mut StdRng, p: f64| -> Vec<i64> {
        (0..n).map(|_| i64::from(rng.random::<f64>() < p)).collect()
    };
    let visits = poisson(&mut rng, 4.0);
    let chargebacks = poisson(&mut rng, 0.05);
    let binomial = Binomial::new(10, 0.3).unwrap();
    let successes = (0..n).map(|_| binomial.sample(&mut rng) as i64).collect();
    let rating = weighted(&mut rng, &[1, 2, 3, 4, 5], &[0.05, 0.1, 0.2, 0.35, 0.3]);
    let is_member = flag(&mut rng, 0.3);
    let is_fraud = flag(&mut rng, 0.01);
    let status_code = weighted(&mut rng, &[200, 301, 404, 500], &[0.9, 0.01, 0.06, 0.03]);
    // Zipf over 100 merchant categories, exponent 2: a long tail of values
    // seen a few times in 50,000 rows.
    let zipf = Zipf::new(100.0, 2.0).unwrap();
    let merchant_category = (0..n)
        .map(|_| format!("mcc_{:03}", zipf.sample(&mut rng) as u32))
        .collect();
    let channels = ["web", "app", "store", "phone"];
    let channel_index = WeightedIndex::new([0.5, 0.3, 0.15, 0.05]).unwrap();
    let channel = (0..n)
        .map(|_| channels[channel_index.sample(&mut rng)].to_string())
        .collect();
    Columns {
        ints: vec![
            ("visits", visits),
            ("chargebacks", chargebacks),
            ("successes", successes),
            ("rating", rating),
            ("is_member", is_member),
            ("is_fraud", is_fraud),
            ("status_code", status_code),
        ],
        strings: vec![
            ("merchant_category", merchant_category),
            ("channel", channel),
        ],
    }
}

/// The profile of `batch`, fed in 8,192-row batches as the CLI reads files.
fn profile(batch: &RecordBatch) -> Profile {
    let mut acc = TableAccumulator::new(&batch.schema(), &ProfileOptions::default()).unwrap();
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = 8192.min(batch.num_rows() - offset);
        acc.update(&batch.slice(offset, len)).unwrap();
        offset += len;
    }
    acc.finish()
}

fn feature<'a>(schema: &'a Schema, name: &str) -> &'a FeatureSchema {
    schema.feature(name).unwrap()
}

fn errors(findings: &[Finding]) -> Vec<(FindingKind, String)> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.kind, f.feature.clone().unwrap_or_default()))
        .collect()
}

fn check(schema: &Schema, serving: &Columns) -> Vec<Finding> {
    schema_anomalies(&profile(&serving.batch()), schema, Some("serving"))
}

/// Value counts of an int column.
fn counts(values: &[i64]) -> BTreeMap<i64, u64> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(*v).or_insert(0) += 1;
    }
    counts
}

fn trained(n: usize, seed: u64) -> (Columns, Schema) {
    let train = draw(n, seed);
    let schema = infer(&profile(&train.batch()), &InferOptions::default());
    (train, schema)
}

#[test]
fn inferred_features_follow_the_rules_on_the_real_profile() {
    let (train, schema) = trained(TRAIN_ROWS, 100);
    // ln(100) / 50,000 = 0.000092, rounded up: 0.0001.
    let established = Some(0.9999);
    for (name, values) in &train.ints {
        let f = feature(&schema, name);
        let counts = counts(values);
        let every_value_often = counts.values().all(|n| *n >= 30);
        assert_eq!(
            f.categorical, every_value_often,
            "{name}: categorical exactly when every value was seen 30+ times: {counts:?}"
        );
        if every_value_often {
            let values: Vec<i64> = counts.keys().copied().collect();
            assert_eq!(f.domain, Some(Domain::Ints(values)), "{name}");
            assert_eq!(f.min_domain_mass, established, "{name}");
            assert_eq!(f.range, None, "{name}");
        } else {
            // A count: no domain, a sanity range from 0.
            assert_eq!((&f.domain, f.min_domain_mass), (&None, None), "{name}");
            let range = f
                .range
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: a range"));
            assert_eq!(range.min, Some(0.0), "{name}: never negative");
            let max = *counts.keys().last().unwrap() as f64;
            assert_eq!(range.max, Some(3.0 * max), "{name}: max + 2 spans");
        }
    }
    // The counts and the flags, codes and ratings as they come out of this
    // sample (each also follows from the rule checked above).
    for count in ["visits", "successes"] {
        assert!(!feature(&schema, count).categorical, "{count}");
    }
    for category in ["rating", "is_member", "is_fraud", "status_code"] {
        assert!(feature(&schema, category).categorical, "{category}");
    }
    // Strings: established categories allow 0.0001; the Zipf tail (values
    // seen fewer than 30 times, few seen once) gets the 1% floor.
    assert_eq!(feature(&schema, "channel").min_domain_mass, established);
    let mcc = feature(&schema, "merchant_category");
    assert_eq!(mcc.min_domain_mass, Some(0.99));
    let Some(Domain::Strings(values)) = &mcc.domain else {
        panic!("merchant_category has a string domain: {mcc:?}");
    };
    let seen: std::collections::BTreeSet<&String> = train.strings[0].1.iter().collect();
    assert_eq!(values.len(), seen.len(), "every observed value is listed");
}

#[test]
fn clean_serving_samples_of_the_training_distribution_pass() {
    let (_, schema) = trained(TRAIN_ROWS, 100);
    for seed in SERVING_SEEDS {
        let findings = check(&schema, &draw(SERVING_ROWS, seed));
        assert_eq!(errors(&findings), [], "seed {seed}: {findings:#?}");
    }
}

#[test]
fn clean_small_samples_pass_small_schemas() {
    // 2,000 training rows, 200-row serving batches: smaller samples, wider
    // allowances, fewer bounds.
    for train_seed in [200, 201, 202] {
        let (_, schema) = trained(2_000, train_seed);
        for seed in SERVING_SEEDS {
            let findings = check(&schema, &draw(200, seed));
            assert_eq!(
                errors(&findings),
                [],
                "training seed {train_seed}, serving seed {seed}: {findings:#?}"
            );
        }
    }
}

/// Replaces every 20th value (5%) of `values`.
fn every_twentieth<T: Clone>(values: &mut [T], with: T) {
    for v in values.iter_mut().step_by(20) {
        *v = with.clone();
    }
}

#[test]
fn new_categories_at_five_percent_are_errors_on_their_feature() {
    let (_, schema) = trained(TRAIN_ROWS, 100);
    let mut serving = draw(SERVING_ROWS, 7);
    every_twentieth(serving.strings_mut("merchant_category"), "mcc_new".into());
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::OutOfDomain, "merchant_category".to_string())]
    );

    let mut serving = draw(SERVING_ROWS, 7);
    every_twentieth(serving.strings_mut("channel"), "kiosk".into());
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::OutOfDomain, "channel".to_string())]
    );

    let mut serving = draw(SERVING_ROWS, 7);
    every_twentieth(serving.ints_mut("status_code"), 503);
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::OutOfDomain, "status_code".to_string())]
    );

    let mut serving = draw(SERVING_ROWS, 7);
    every_twentieth(serving.ints_mut("rating"), 0);
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::OutOfDomain, "rating".to_string())]
    );
}

#[test]
fn values_far_out_of_range_are_errors_on_their_feature() {
    let (_, schema) = trained(TRAIN_ROWS, 100);
    // 0.1% of the visits are 1,000 (a sentinel, a unit change).
    let mut serving = draw(SERVING_ROWS, 8);
    for v in serving.ints_mut("visits").iter_mut().step_by(1000) {
        *v = 1000;
    }
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::ValueTooLarge, "visits".to_string())]
    );
    // A negative count.
    let mut serving = draw(SERVING_ROWS, 8);
    serving.ints_mut("successes")[5] = -1;
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::ValueTooSmall, "successes".to_string())]
    );
}

#[test]
fn one_stray_value_in_an_established_domain_is_a_warning_not_an_error() {
    let (_, schema) = trained(TRAIN_ROWS, 100);
    let mut serving = draw(SERVING_ROWS, 9);
    serving.ints_mut("is_member")[3] = 2;
    let findings = check(&schema, &serving);
    assert_eq!(errors(&findings), []);
    let stray: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.feature.as_deref() == Some("is_member"))
        .collect();
    assert_eq!(stray.len(), 1, "{findings:#?}");
    assert_eq!(
        (stray[0].kind, stray[0].severity),
        (FindingKind::OutOfDomain, Severity::Warning)
    );
    assert_eq!(stray[0].observed["count"], 1);
    // 1 in 20,000 = 0.005% is within the 0.01% allowed; 3 are not.
    for i in [100, 200] {
        serving.ints_mut("is_member")[i] = 2;
    }
    assert_eq!(
        errors(&check(&schema, &serving)),
        [(FindingKind::OutOfDomain, "is_member".to_string())]
    );
}

#[test]
fn the_cli_infers_and_validates_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    write_parquet(
        dir.path().join("train.parquet").as_path(),
        &draw(TRAIN_ROWS, 100).batch(),
    );
    write_parquet(
        dir.path().join("serving.parquet").as_path(),
        &draw(SERVING_ROWS, 1).batch(),
    );
    let mut faulty = draw(SERVING_ROWS, 1);
    every_twentieth(faulty.strings_mut("merchant_category"), "mcc_new".into());
    write_parquet(dir.path().join("faulty.parquet").as_path(), &faulty.batch());

    let out = assay(&[
        "profile",
        &at("train.parquet"),
        "-o",
        &at("train.json"),
        "-q",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = assay(&["infer", &at("train.json"), "-o", &at("schema.toml"), "-q"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let schema = std::fs::read_to_string(at("schema.toml")).unwrap();
    // The notes say why each feature got what it got.
    assert!(schema.contains("# numeric, not categorical: "), "{schema}");
    assert!(
        schema.contains("# sanity range: the observed 0.."),
        "{schema}"
    );
    assert!(
        schema.contains("# min_domain_mass 0.99: long tail: "),
        "{schema}"
    );

    let validate = |data: &str| {
        let out = assay(&[
            "validate",
            &at(data),
            "--schema",
            &at("schema.toml"),
            "--environment",
            "serving",
            "--format",
            "json",
        ]);
        (code(&out), json(&out))
    };
    let (exit, report) = validate("serving.parquet");
    assert_eq!(exit, 0, "{report:#}");
    let (exit, report) = validate("faulty.parquet");
    assert_eq!(exit, 1, "{report:#}");
    let failed: Vec<&str> = report["schema_findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["merchant_category"], "{report:#}");

    // Declaring a count categorical gives it a domain; naming a column that
    // is not there, or not an int, is a usage error.
    let out = assay(&[
        "infer",
        &at("train.json"),
        "--categorical",
        "successes",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let declared = json(&out);
    let successes = &declared["features"]["successes"];
    assert_eq!(successes["categorical"], true, "{successes:#}");
    assert!(successes["domain"].is_array(), "{successes:#}");
    assert!(successes["min_domain_mass"].as_f64().unwrap() < 1.0);

    let err = input_error(&assay(&[
        "infer",
        &at("train.json"),
        "--categorical",
        "nosuch",
    ]));
    assert!(err.contains("\"nosuch\" is not in the profile"), "{err}");
    let err = input_error(&assay(&[
        "infer",
        &at("train.json"),
        "--categorical",
        "channel",
    ]));
    assert!(err.contains("only int columns"), "{err}");
}
