//! One column of a JSON body, filled value by value.
//!
//! Values go straight into a typed Arrow buffer while they fit it: the
//! expected type's when the column is known (Float64, Int64, Utf8, Boolean,
//! with the conversions of [`build_as`](super::cells::build_as)), else the
//! type inferred so far (an integer column widens to Float64 at its first
//! float, as inference does). The first value a buffer cannot take turns the
//! column into generic [`JsonCell`]s, which [`build_column`] converts at the
//! end: such a value is a type error there, reported exactly as without the
//! typed buffer, since every earlier value converted without one.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    new_null_array,
};
use arrow::datatypes::DataType;
use serde::de::{DeserializeSeed, Deserializer};

use super::PayloadError;
use super::cells::{CellSeed, JsonCell, build_column, float_to_i64, to_text};

pub(super) struct Column<'de> {
    /// The expected type, when the model's schema has the column.
    target: Option<DataType>,
    data: Data<'de>,
}

enum Data<'de> {
    /// Nothing but nulls yet (inferred columns only).
    Nulls(usize),
    Float(Float64Builder),
    Int(Int64Builder),
    Text(StringBuilder),
    Bool(BooleanBuilder),
    /// Any values: types without a typed buffer, and columns that met a
    /// value their buffer cannot take.
    Cells(Vec<JsonCell<'de>>),
}

impl<'de> Column<'de> {
    pub(super) fn new(target: Option<&DataType>) -> Self {
        let data = match target {
            None => Data::Nulls(0),
            Some(DataType::Float64) => Data::Float(Float64Builder::new()),
            Some(DataType::Int64) => Data::Int(Int64Builder::new()),
            Some(DataType::Utf8) => Data::Text(StringBuilder::new()),
            Some(DataType::Boolean) => Data::Bool(BooleanBuilder::new()),
            Some(_) => Data::Cells(Vec::new()),
        };
        Column {
            target: target.cloned(),
            data,
        }
    }

    pub(super) fn len(&self) -> usize {
        match &self.data {
            Data::Nulls(n) => *n,
            Data::Float(b) => b.len(),
            Data::Int(b) => b.len(),
            Data::Text(b) => b.len(),
            Data::Bool(b) => b.len(),
            Data::Cells(c) => c.len(),
        }
    }

    /// Appends nulls up to `len` values (keys a row does not have).
    pub(super) fn pad(&mut self, len: usize) {
        let missing = len.saturating_sub(self.len());
        if missing == 0 {
            return;
        }
        match &mut self.data {
            Data::Nulls(n) => *n += missing,
            Data::Float(b) => b.append_nulls(missing),
            Data::Int(b) => b.append_nulls(missing),
            Data::Text(b) => b.append_nulls(missing),
            Data::Bool(b) => b.append_nulls(missing),
            Data::Cells(c) => c.resize(len, JsonCell::Null),
        }
    }

    /// Appends `value` if the column fills a Float64 buffer, as
    /// [`Column::push`] of a float cell would; `false` (nothing appended)
    /// otherwise. The tape walk's common case, without a [`JsonCell`] in
    /// between: passing the cell through memory stalled each push
    /// (measured with `perf annotate` on `benches/payload.rs`).
    #[inline]
    pub(super) fn push_float(&mut self, value: f64) -> bool {
        match &mut self.data {
            Data::Float(b) => {
                b.append_value(value);
                true
            }
            _ => false,
        }
    }

    /// Appends `value` if the column fills a Utf8 buffer, as [`Column::push`]
    /// of a string cell would; `false` (nothing appended) otherwise.
    #[inline]
    pub(super) fn push_str(&mut self, value: &str) -> bool {
        match &mut self.data {
            Data::Text(b) => {
                b.append_value(value);
                true
            }
            _ => false,
        }
    }

    pub(super) fn push(&mut self, mut cell: JsonCell<'de>) {
        // At most twice: `retype` always moves to a buffer that takes `cell`.
        while let Err(back) = self.append(cell) {
            self.retype(&back);
            cell = back;
        }
    }

    /// Appends `cell` if the current buffer takes it, else gives it back.
    fn append(&mut self, cell: JsonCell<'de>) -> Result<(), JsonCell<'de>> {
        let known = self.target.is_some();
        match &mut self.data {
            Data::Nulls(n) => match cell {
                JsonCell::Null => *n += 1,
                other => return Err(other),
            },
            Data::Float(b) => match cell {
                JsonCell::Null => b.append_null(),
                JsonCell::Float(f) => b.append_value(f),
                JsonCell::Int(i) => b.append_value(i as f64),
                JsonCell::BigUint(u) => b.append_value(u as f64),
                other => return Err(other),
            },
            Data::Int(b) => match cell {
                JsonCell::Null => b.append_null(),
                JsonCell::Int(i) => b.append_value(i),
                // Inference widens to Float64 instead (see `retype`).
                JsonCell::Float(f) if known => match float_to_i64(f) {
                    Some(i) => b.append_value(i),
                    None => return Err(cell),
                },
                other => return Err(other),
            },
            Data::Text(b) => match cell {
                JsonCell::Null => b.append_null(),
                JsonCell::Str(s) => b.append_value(s),
                // An expected string column takes numbers and booleans as
                // text (scalars always have one).
                JsonCell::Bool(_)
                | JsonCell::Int(_)
                | JsonCell::BigUint(_)
                | JsonCell::Float(_)
                    if known =>
                {
                    b.append_value(to_text(&cell).ok().flatten().unwrap_or_default())
                }
                other => return Err(other),
            },
            Data::Bool(b) => match cell {
                JsonCell::Null => b.append_null(),
                JsonCell::Bool(v) => b.append_value(v),
                other => return Err(other),
            },
            Data::Cells(c) => c.push(cell),
        }
        Ok(())
    }

    /// Moves to a buffer that takes `cell`: an inferred column's typed
    /// buffer at its first value, Float64 for an inferred integer column
    /// meeting a float, else generic cells.
    fn retype(&mut self, cell: &JsonCell<'de>) {
        let len = self.len();
        let float = matches!(cell, JsonCell::Float(_) | JsonCell::BigUint(_));
        let typed = match &mut self.data {
            Data::Nulls(_) => match cell {
                JsonCell::Bool(_) => {
                    let mut b = BooleanBuilder::new();
                    b.append_nulls(len);
                    Some(Data::Bool(b))
                }
                JsonCell::Int(_) => {
                    let mut b = Int64Builder::new();
                    b.append_nulls(len);
                    Some(Data::Int(b))
                }
                JsonCell::Float(_) | JsonCell::BigUint(_) => {
                    let mut b = Float64Builder::new();
                    b.append_nulls(len);
                    Some(Data::Float(b))
                }
                JsonCell::Str(_) => {
                    let mut b = StringBuilder::new();
                    b.append_nulls(len);
                    Some(Data::Text(b))
                }
                _ => None,
            },
            Data::Int(ints) if self.target.is_none() && float => {
                let ints = ints.finish();
                let mut b = Float64Builder::with_capacity(ints.len());
                b.extend(ints.iter().map(|v| v.map(|i| i as f64)));
                Some(Data::Float(b))
            }
            _ => None,
        };
        self.data = match typed {
            Some(data) => data,
            None => Data::Cells(self.take_cells()),
        };
    }

    /// The values so far as generic cells (each converts as it did in its
    /// buffer).
    fn take_cells(&mut self) -> Vec<JsonCell<'de>> {
        match std::mem::replace(&mut self.data, Data::Nulls(0)) {
            Data::Nulls(n) => vec![JsonCell::Null; n],
            Data::Float(mut b) => {
                let values = b.finish();
                values
                    .iter()
                    .map(|v| v.map_or(JsonCell::Null, JsonCell::Float))
                    .collect()
            }
            Data::Int(mut b) => {
                let values = b.finish();
                values
                    .iter()
                    .map(|v| v.map_or(JsonCell::Null, JsonCell::Int))
                    .collect()
            }
            Data::Text(mut b) => {
                let values = b.finish();
                values
                    .iter()
                    .map(|v| v.map_or(JsonCell::Null, |s| JsonCell::Str(Cow::Owned(s.into()))))
                    .collect()
            }
            Data::Bool(mut b) => {
                let values = b.finish();
                values
                    .iter()
                    .map(|v| v.map_or(JsonCell::Null, JsonCell::Bool))
                    .collect()
            }
            Data::Cells(c) => c,
        }
    }

    /// The column's array (converted to the expected type, else inferred).
    pub(super) fn finish(mut self, name: &str) -> Result<ArrayRef, PayloadError> {
        Ok(match &mut self.data {
            // All null: inference gives Utf8.
            Data::Nulls(n) => new_null_array(&DataType::Utf8, *n),
            Data::Float(b) => Arc::new(b.finish()),
            Data::Int(b) => Arc::new(b.finish()),
            Data::Text(b) => Arc::new(b.finish()),
            Data::Bool(b) => Arc::new(b.finish()),
            Data::Cells(cells) => build_column(cells, name, self.target.as_ref())?,
        })
    }
}

/// Deserializes one value into a column.
pub(super) struct ValueSeed<'a, 'de>(pub(super) &'a mut Column<'de>);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let cell = CellSeed.deserialize(d)?;
        self.0.push(cell);
        Ok(())
    }
}
