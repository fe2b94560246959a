//! Tests of the polars bridge (`assay::query`): type round trips through the
//! C Data Interface, `--where` filters checked against filters computed by
//! hand in the test, derived columns, null handling, error messages, and a
//! timing print (`cargo test --test query -- --nocapture timing`).
//!
//! One test binary; the submodules live in `tests/query/`.

// The crate root of an integration test resolves modules next to itself
// (`tests/`), hence the explicit paths.
#[path = "query/bridge.rs"]
mod bridge;
#[path = "query/derive.rs"]
mod derive;
#[path = "query/filter.rs"]
mod filter;
#[path = "query/timing.rs"]
mod timing;

use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Int32Type, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("valid test batch")
}

// ---------------------------------------------------------------- test data

pub(crate) struct People {
    id: Vec<i64>,
    age: Vec<Option<i64>>,
    income: Vec<Option<f64>>,
    state: Vec<Option<&'static str>>,
    title: Vec<Option<String>>,
}

const STATES: [&str; 5] = ["CA", "NY", "TX", "WA", "FL"];
const TITLES: [&str; 5] = [
    "software engineer",
    "Engineer",
    "nurse",
    "data engineer II",
    "teacher",
];

pub(crate) fn people(rows: usize, seed: u64) -> People {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut p = People {
        id: vec![],
        age: vec![],
        income: vec![],
        state: vec![],
        title: vec![],
    };
    for i in 0..rows {
        p.id.push(i as i64);
        p.age
            .push(rng.random_bool(0.9).then(|| rng.random_range(18..80)));
        p.income.push(
            rng.random_bool(0.8)
                .then(|| rng.random_range(0.0..200_000.0)),
        );
        p.state.push(
            rng.random_bool(0.95)
                .then(|| STATES[rng.random_range(0..STATES.len())]),
        );
        p.title.push(
            rng.random_bool(0.85)
                .then(|| TITLES[rng.random_range(0..TITLES.len())].to_string()),
        );
    }
    p
}

/// The people as a batch, `state` dictionary-encoded as sources produce it,
/// plus `extra` filler columns so the batch is as wide as real data.
pub(crate) fn people_batch(p: &People, extra: usize) -> RecordBatch {
    let state: DictionaryArray<Int32Type> = p.state.iter().copied().collect();
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("id".into(), Arc::new(Int64Array::from(p.id.clone()))),
        ("age".into(), Arc::new(Int64Array::from(p.age.clone()))),
        (
            "income".into(),
            Arc::new(Float64Array::from(p.income.clone())),
        ),
        ("state".into(), Arc::new(state)),
        (
            "employer_title".into(),
            Arc::new(StringArray::from(p.title.clone())),
        ),
    ];
    for i in 0..extra {
        let values = p.id.iter().map(|v| (v * (i as i64 + 7)) as f64 / 3.0);
        columns.push((
            format!("x{i}"),
            Arc::new(Float64Array::from_iter_values(values)),
        ));
    }
    batch(
        columns
            .iter()
            .map(|(n, a)| (n.as_str(), Arc::clone(a)))
            .collect(),
    )
}

pub(crate) fn ids(batch: &RecordBatch) -> Vec<i64> {
    let index = batch.schema().index_of("id").expect("id column");
    batch
        .column(index)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("id is Int64")
        .values()
        .to_vec()
}

pub(crate) fn expected_ids(p: &People, keep: impl Fn(usize) -> bool) -> Vec<i64> {
    (0..p.id.len())
        .filter(|&i| keep(i))
        .map(|i| p.id[i])
        .collect()
}
