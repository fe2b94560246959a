//! `--where` row filters.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Schema};

use super::QueryError;
use super::bridge::series_to_array;
use super::expr::{CompiledExpr, input_frame};

/// Name of the predicate's value inside the polars frame; never visible.
const MASK: &str = "__assay_where__";

/// A SQL predicate (`age >= 30 AND state IN ('CA','NY')`) compiled once and
/// applied to many batches. Rows where it is true are kept; false and null
/// (e.g. a comparison with a null value) drop the row, as in SQL `WHERE`.
///
/// Comparisons follow polars, which orders NaN above every number and
/// treats NaN as equal to itself: `x > 2` keeps NaN rows, `x = x` is true
/// for NaN. Write `x IS NOT NULL AND x < 1e308` style bounds to exclude NaN.
///
/// Only the columns the predicate reads go to polars to compute a boolean
/// mask; the mask is then applied to the original batch with arrow-rs, so
/// the kept rows keep their original types.
#[derive(Debug, Clone)]
pub struct RowFilter {
    compiled: CompiledExpr,
}

impl RowFilter {
    /// Parses the predicate. Errors name the expression and what is wrong.
    pub fn new(sql_predicate: &str) -> Result<Self, QueryError> {
        Ok(Self {
            compiled: CompiledExpr::compile("--where", sql_predicate)?,
        })
    }

    /// The predicate as written.
    pub fn sql(&self) -> &str {
        &self.compiled.text
    }

    /// Columns the predicate reads.
    pub fn columns(&self) -> &[String] {
        &self.compiled.columns
    }

    /// Checks the predicate against a schema before any data is read: every
    /// referenced column exists, the types fit the operations and the
    /// result is boolean. (It runs the predicate on an empty batch.)
    pub fn check(&self, schema: &Schema) -> Result<(), QueryError> {
        self.mask(&RecordBatch::new_empty(Arc::new(schema.clone())))
            .map(drop)
    }

    /// The rows of `batch` for which the predicate is true.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
        let mask = self.mask(batch)?;
        filter_record_batch(batch, &mask).map_err(|e| self.compiled.evaluation_error(e.to_string()))
    }

    /// The predicate's value per row of `batch` (null where it is null).
    pub fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray, QueryError> {
        let compiled = &self.compiled;
        let schema = batch.schema();
        let input = input_frame(batch, compiled.columns.iter().map(String::as_str), |name| {
            compiled.unknown_column(name, &schema, &[])
        })?;
        let value = series_to_array(&compiled.evaluate(input, MASK)?)?;
        match value.data_type() {
            DataType::Boolean => value
                .as_any()
                .downcast_ref::<BooleanArray>()
                .cloned()
                .ok_or_else(|| compiled.evaluation_error("polars returned a malformed boolean")),
            // A predicate like `NULL` (or `x = NULL`, which is always null).
            DataType::Null => Ok(BooleanArray::new_null(value.len())),
            other => Err(compiled.evaluation_error(format!(
                "a filter must be true or false for each row, but this expression yields {other}"
            ))),
        }
    }
}
