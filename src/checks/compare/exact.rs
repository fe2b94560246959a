//! Raw values for exact mode: every finite value of the numeric features and
//! exact category counts of the categorical ones, gathered from batches.
//! Follows the accumulator contract (create / update / merge) so the
//! pipeline can fill it per partition.

use std::collections::HashMap;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;

use super::feature::FeatureKind;
use crate::checks::drift::CategoryCounts;

/// The raw material of an exact comparison for one side.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSample {
    wanted: Vec<(String, FeatureKind)>,
    numeric: HashMap<String, Vec<f64>>,
    categorical: HashMap<String, CategoryCounts>,
}

impl ExactSample {
    /// An empty sample that will collect these columns.
    pub fn new(wanted: Vec<(String, FeatureKind)>) -> Self {
        Self {
            wanted,
            ..Self::default()
        }
    }

    /// Adds a batch. Columns the batch lacks are ignored (the profiles say
    /// which features exist); a column that cannot be read as its kind is an
    /// error naming it.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), String> {
        for (name, kind) in &self.wanted {
            let Some(array) = batch.column_by_name(name) else {
                continue;
            };
            match kind {
                FeatureKind::Numeric => {
                    let floats = cast(array, &DataType::Float64)
                        .map_err(|e| format!("column `{name}`: cannot read as numbers: {e}"))?;
                    let values = self.numeric.entry(name.clone()).or_default();
                    values.extend(
                        floats
                            .as_primitive::<Float64Type>()
                            .iter()
                            .flatten()
                            .filter(|v| v.is_finite()),
                    );
                }
                FeatureKind::Categorical => {
                    let text = cast(array, &DataType::Utf8)
                        .map_err(|e| format!("column `{name}`: cannot read as categories: {e}"))?;
                    let counts = self.categorical.entry(name.clone()).or_default();
                    for value in text.as_string::<i32>().iter().flatten() {
                        match counts.get_mut(value) {
                            Some(c) => *c += 1,
                            None => {
                                counts.insert(value.to_string(), 1);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Combines two partial samples of the same columns.
    pub fn merge(&mut self, other: ExactSample) {
        for (name, values) in other.numeric {
            self.numeric.entry(name).or_default().extend(values);
        }
        for (name, counts) in other.categorical {
            let mine = self.categorical.entry(name).or_default();
            for (k, c) in counts {
                *mine.entry(k).or_default() += c;
            }
        }
    }

    /// The finite values of a numeric feature (in no particular order).
    pub fn numeric(&self, name: &str) -> Option<&[f64]> {
        self.numeric.get(name).map(Vec::as_slice)
    }

    pub fn categories(&self, name: &str) -> Option<&CategoryCounts> {
        self.categorical.get(name)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn collects_values_and_counts_and_merges() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("c", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("i", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from(vec![
                    Some(1.0),
                    None,
                    Some(f64::NAN),
                    Some(2.5),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    None,
                    Some("a"),
                ])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    Some(true),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![Some(3), Some(3), Some(-1), None])),
            ],
        )
        .unwrap();
        let wanted = vec![
            ("x".to_string(), FeatureKind::Numeric),
            ("c".to_string(), FeatureKind::Categorical),
            ("b".to_string(), FeatureKind::Categorical),
            ("i".to_string(), FeatureKind::Categorical),
        ];
        let mut a = ExactSample::new(wanted.clone());
        a.update(&batch).unwrap();
        let mut b = ExactSample::new(wanted);
        b.update(&batch).unwrap();
        a.merge(b);
        assert_eq!(a.numeric("x").unwrap(), &[1.0, 2.5, 1.0, 2.5]);
        let c = a.categories("c").unwrap();
        assert_eq!((c["a"], c["b"], c.len()), (4, 2, 2));
        let bools = a.categories("b").unwrap();
        assert_eq!((bools["true"], bools["false"]), (4, 2));
        let ints = a.categories("i").unwrap();
        assert_eq!((ints["3"], ints["-1"]), (4, 2));
    }
}
