//! Derived columns: `--slice age_band=CASE WHEN age < 30 THEN 'young' ELSE 'older' END`
//! defines a column computed from others, which can then be sliced on.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Field, Schema};

use super::QueryError;
use super::bridge::series_to_array;
use super::expr::{CompiledExpr, input_frame};

/// One `NAME=EXPRESSION` definition, with the expression compiled.
#[derive(Debug, Clone)]
pub struct DerivedColumn {
    name: String,
    definition: String,
    compiled: CompiledExpr,
}

impl DerivedColumn {
    /// Parses `NAME=EXPRESSION`. The name is what precedes the first `=` and
    /// must be a plain identifier (letters, digits, `_`, `-`, `.`), which
    /// also catches a forgotten name: in `CASE WHEN a = 1 ...` the text
    /// before `=` is not an identifier.
    pub fn parse(definition: &str) -> Result<Self, QueryError> {
        let invalid = |message: &str| QueryError::Definition {
            definition: definition.to_string(),
            message: message.to_string(),
        };
        let (name, sql) = definition
            .split_once('=')
            .ok_or_else(|| invalid("expected NAME=EXPRESSION (no `=` found)"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("expected NAME=EXPRESSION (the name is empty)"));
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(invalid(&format!(
                "expected NAME=EXPRESSION, but the name \"{name}\" is not a plain identifier \
                 (letters, digits, `_`, `-`, `.`)"
            )));
        }
        let compiled = CompiledExpr::compile("--slice", sql.trim())?;
        Ok(Self {
            name: name.to_string(),
            definition: definition.to_string(),
            compiled,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL expression (the part after `=`).
    pub fn sql(&self) -> &str {
        &self.compiled.text
    }
}

/// Derived columns applied in order: a later definition may use the columns
/// defined before it.
#[derive(Debug, Clone, Default)]
pub struct DerivedColumns {
    columns: Vec<DerivedColumn>,
}

impl DerivedColumns {
    /// Rejects two definitions with the same name.
    pub fn new(columns: Vec<DerivedColumn>) -> Result<Self, QueryError> {
        for (i, column) in columns.iter().enumerate() {
            if columns[..i].iter().any(|c| c.name == column.name) {
                return Err(QueryError::Definition {
                    definition: column.definition.clone(),
                    message: format!("the column \"{}\" is defined twice", column.name),
                });
            }
        }
        Ok(Self { columns })
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    pub fn columns(&self) -> &[DerivedColumn] {
        &self.columns
    }

    /// Checks the definitions against the input schema before any data is
    /// read (by running them on an empty batch) and returns the schema of
    /// [`apply`](Self::apply)'s output.
    pub fn check(&self, schema: &Schema) -> Result<Schema, QueryError> {
        let out = self.apply(&RecordBatch::new_empty(Arc::new(schema.clone())))?;
        Ok(out.schema().as_ref().clone())
    }

    /// `batch` with the derived columns appended. The original columns are
    /// passed through untouched (same arrays, same types); only the new
    /// columns come from polars, typed as polars exports them (strings as
    /// `Utf8View`, nullable).
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
        if self.columns.is_empty() {
            return Ok(batch.clone());
        }
        let schema = batch.schema();
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for (i, derived) in self.columns.iter().enumerate() {
            if schema.index_of(&derived.name).is_ok() {
                return Err(QueryError::Definition {
                    definition: derived.definition.clone(),
                    message: format!(
                        "the input already has a column \"{}\"; choose another name",
                        derived.name
                    ),
                });
            }
            // Earlier derived columns are read from the growing output.
            let current = assemble(&schema, fields.clone(), arrays.clone(), batch.num_rows())?;
            let earlier: Vec<&str> = self.columns[..i].iter().map(|c| c.name.as_str()).collect();
            let compiled = &derived.compiled;
            let input = input_frame(
                &current,
                compiled.columns.iter().map(String::as_str),
                |name| compiled.unknown_column(name, &schema, &earlier),
            )?;
            let array = series_to_array(&compiled.evaluate(input, &derived.name)?)?;
            fields.push(Arc::new(Field::new(
                derived.name.as_str(),
                array.data_type().clone(),
                true,
            )));
            arrays.push(array);
        }
        assemble(&schema, fields, arrays, batch.num_rows())
    }
}

/// A batch of `fields`/`arrays` keeping the input schema's metadata.
fn assemble(
    input: &Schema,
    fields: Vec<Arc<Field>>,
    arrays: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch, QueryError> {
    let schema = Schema::new_with_metadata(fields, input.metadata().clone());
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(schema), arrays, &options).map_err(|e| {
        QueryError::Conversion {
            column: "<derived columns>".to_string(),
            message: e.to_string(),
        }
    })
}
