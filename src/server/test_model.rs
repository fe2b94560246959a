//! A small model for the daemon's unit tests (closes, crashes, the closer
//! thread): two columns, a 1,000-row baseline, skew and drift per window.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use arrow::record_batch::RecordBatch;

use crate::profile::table::{ProfileOptions, TableAccumulator};
use crate::server::config::{Check, Checks, ModelConfig, WindowPolicy};

/// `rows` rows of a float column `x` (shifted by `shift`) and a
/// three-category string column `c`.
pub fn batch(rows: usize, shift: f64) -> RecordBatch {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("c", DataType::Utf8, true),
    ]));
    let x: Float64Array = (0..rows).map(|i| Some(i as f64 % 97.0 + shift)).collect();
    let c: StringArray = (0..rows).map(|i| Some(["a", "b", "c"][i % 3])).collect();
    RecordBatch::try_new(schema, vec![Arc::new(x), Arc::new(c)]).unwrap()
}

/// Model `m` with its baseline profile written into `dir`, skew and drift
/// per window, windows by `window`.
pub fn config(dir: &Path, window: WindowPolicy) -> ModelConfig {
    let baseline = dir.join("baseline.profile.json");
    let data = batch(1000, 0.0);
    let mut acc = TableAccumulator::new(&data.schema(), &ProfileOptions::default()).unwrap();
    acc.update(&data).unwrap();
    std::fs::write(&baseline, crate::profile::io::to_json(&acc.finish())).unwrap();
    ModelConfig {
        name: "m".into(),
        baseline,
        schema: None,
        suites: Vec::new(),
        environment: None,
        slices: Vec::new(),
        request_id_column: None,
        window,
        checks: Checks {
            per_batch: Vec::new(),
            per_window: vec![Check::Skew, Check::Drift],
        },
        quality: None,
        data: Default::default(),
        retrain: None,
    }
}
