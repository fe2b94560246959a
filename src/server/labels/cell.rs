//! One value of a prediction row or a label, as the pending store keeps it:
//! a tag byte and the value's bytes. Rows are the cells of the model's
//! quality columns in a fixed order; [`columns_of`] turns stored rows back
//! into Arrow columns of the types they were read with.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};

const NULL: u8 = 0;
const INT: u8 = 1;
const FLOAT: u8 = 2;
const BOOL: u8 = 3;
const TEXT: u8 = 4;

/// The Arrow type a quality column is kept as: integers, floats and
/// booleans as themselves, anything else as text.
pub fn kept_type(t: &DataType) -> DataType {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DataType::Int64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
        DataType::Boolean => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

/// `array` cast to its kept type (`t`).
pub fn conform(array: &ArrayRef, t: &DataType) -> Result<ArrayRef, String> {
    if array.data_type() == t {
        return Ok(array.clone());
    }
    cast(array, t).map_err(|e| format!("expected {t}, found {}: {e}", array.data_type()))
}

/// Appends row `row` of `array` (of a kept type) to `out`.
pub fn encode(array: &dyn Array, row: usize, out: &mut Vec<u8>) {
    if array.is_null(row) {
        out.push(NULL);
        return;
    }
    match array.data_type() {
        DataType::Int64 => {
            out.push(INT);
            out.extend_from_slice(&array.as_primitive::<Int64Type>().value(row).to_le_bytes());
        }
        DataType::Float64 => {
            out.push(FLOAT);
            out.extend_from_slice(&array.as_primitive::<Float64Type>().value(row).to_le_bytes());
        }
        DataType::Boolean => {
            out.push(BOOL);
            out.push(u8::from(array.as_boolean().value(row)));
        }
        _ => {
            let text = array.as_string::<i32>().value(row).as_bytes();
            out.push(TEXT);
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text);
        }
    }
}

/// One decoded cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
}

/// Reads the cell at the start of `bytes`; the cell and the rest.
pub fn decode(bytes: &[u8]) -> Option<(Cell<'_>, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    Some(match tag {
        NULL => (Cell::Null, rest),
        INT => (
            Cell::Int(i64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
            &rest[8..],
        ),
        FLOAT => (
            Cell::Float(f64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
            &rest[8..],
        ),
        BOOL => (Cell::Bool(*rest.first()? != 0), &rest[1..]),
        TEXT => {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let text = std::str::from_utf8(rest.get(4..4 + len)?).ok()?;
            (Cell::Text(text), &rest[4 + len..])
        }
        _ => return None,
    })
}

/// Column builders for kept types.
pub enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
}

impl Builder {
    pub fn new(t: &DataType) -> Self {
        match t {
            DataType::Int64 => Self::Int(Int64Builder::new()),
            DataType::Float64 => Self::Float(Float64Builder::new()),
            DataType::Boolean => Self::Bool(BooleanBuilder::new()),
            _ => Self::Text(StringBuilder::new()),
        }
    }

    /// Appends a cell; one of another type than the builder's (a store
    /// written under another configuration) is appended as null.
    pub fn push(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Self::Int(b), Cell::Int(v)) => b.append_value(*v),
            (Self::Float(b), Cell::Float(v)) => b.append_value(*v),
            (Self::Float(b), Cell::Int(v)) => b.append_value(*v as f64),
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Self::Text(b), Cell::Text(v)) => b.append_value(v),
            (Self::Int(b), _) => b.append_null(),
            (Self::Float(b), _) => b.append_null(),
            (Self::Bool(b), _) => b.append_null(),
            (Self::Text(b), _) => b.append_null(),
        }
    }

    pub fn finish(self) -> ArrayRef {
        match self {
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::Float(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::Text(mut b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};

    #[test]
    fn cells_round_trip_through_builders() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(-3), None, Some(i64::MAX)])),
            Arc::new(Float64Array::from(vec![Some(0.25), Some(1.0), None])),
            Arc::new(BooleanArray::from(vec![None, Some(true), Some(false)])),
            Arc::new(StringArray::from(vec![Some("é>50K"), Some(""), None])),
        ];
        let mut rows = Vec::new();
        for r in 0..3 {
            let mut bytes = Vec::new();
            for a in &arrays {
                encode(a.as_ref(), r, &mut bytes);
            }
            rows.push(bytes);
        }
        let mut builders: Vec<Builder> =
            arrays.iter().map(|a| Builder::new(a.data_type())).collect();
        for row in &rows {
            let mut rest = row.as_slice();
            for b in &mut builders {
                let (cell, next) = decode(rest).unwrap();
                b.push(&cell);
                rest = next;
            }
            assert!(rest.is_empty());
        }
        let back: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
        assert_eq!(back, arrays);
        assert!(decode(&[9]).is_none());
        assert!(decode(&[TEXT, 5, 0, 0, 0, b'a']).is_none());
    }
}
