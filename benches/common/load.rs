//! The load generator's synthetic model data, shared by `examples/loadgen.rs`
//! and `benches/payload.rs` (included by path from both), so that the
//! decoding benchmark measures exactly the bodies the load generator sends.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use rand::Rng;
use rand::rngs::StdRng;

/// Every third feature a string (`c2`, `c5`, ...), the others floats.
pub fn schema(features: usize) -> Arc<Schema> {
    Arc::new(Schema::new(
        (0..features)
            .map(|i| {
                if i % 3 == 2 {
                    Field::new(format!("c{i}"), DataType::Utf8, true)
                } else {
                    Field::new(format!("f{i}"), DataType::Float64, true)
                }
            })
            .collect::<Vec<_>>(),
    ))
}

/// Floats roughly normal (a sum of three uniforms), strings `cat_0`..`cat_19`.
pub fn batch(schema: &Arc<Schema>, rows: usize, rng: &mut StdRng) -> RecordBatch {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            if f.data_type() == &DataType::Utf8 {
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|_| format!("cat_{}", rng.random_range(0..20))),
                ))
            } else {
                Arc::new(Float64Array::from_iter_values((0..rows).map(|_| {
                    let u: f64 = rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>();
                    (u - 1.5) * 2.0
                })))
            }
        })
        .collect();
    // The columns are built from the schema itself: this cannot fail.
    RecordBatch::try_new(schema.clone(), columns).expect("columns match the schema")
}
