//! arrow-rs ⇄ polars conversion through the Arrow C Data Interface.
//!
//! polars 0.55 carries its own arrow implementation (polars-arrow) and no
//! conversion to arrow-rs. Both implement the C Data Interface, whose structs
//! (`ArrowArray`, `ArrowSchema`) are the same `#[repr(C)]` layout in both
//! crates, so an exported array moves across by handing over the struct: the
//! receiver keeps the sender's buffers alive through the release callback and
//! no value is copied.
//!
//! Before export, a column is cast on the arrow-rs side to a type polars
//! imports with the features this crate enables (see [`polars_type`]); for
//! most types that cast is the identity.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, make_array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use polars::prelude::{Column, CompatLevel, DataFrame, PlSmallStr, Series};
use polars_arrow::ffi as pa_ffi;

use super::QueryError;

/// Converts a batch to a polars `DataFrame` sharing its buffers.
///
/// Column types polars cannot hold with this crate's features are cast first
/// (see [`polars_type`]): `Utf8`/`LargeUtf8` and string dictionaries become
/// `Utf8View` (views point into the original value buffers), 8/16-bit
/// integers widen to 32 bits (a copy, they have no polars type here).
pub fn to_polars(batch: &RecordBatch) -> Result<DataFrame, QueryError> {
    let schema = batch.schema();
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, array)| array_to_series(field.name(), array).map(Column::from))
        .collect::<Result<Vec<_>, _>>()?;
    DataFrame::new(batch.num_rows(), columns).map_err(|e| QueryError::Conversion {
        column: "<batch>".to_string(),
        message: e.to_string(),
    })
}

/// Converts a polars `DataFrame` to a batch sharing its buffers. Types are
/// polars' arrow export types: strings as `Utf8View`, lists as `LargeList`,
/// every field nullable (polars does not track nullability).
pub fn from_polars(df: &DataFrame) -> Result<RecordBatch, QueryError> {
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays = Vec::with_capacity(df.width());
    for column in df.columns() {
        let array = series_to_array(column.as_materialized_series())?;
        fields.push(Field::new(
            column.name().as_str(),
            array.data_type().clone(),
            true,
        ));
        arrays.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(df.height()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options).map_err(
        |e| QueryError::Conversion {
            column: "<frame>".to_string(),
            message: e.to_string(),
        },
    )
}

/// The type a column of type `data_type` is cast to before it goes to
/// polars, or `None` when polars (with this crate's features: `dtype-slim`,
/// no categoricals, structs, decimals, fixed-size lists or times) cannot hold
/// it. Most entries map to themselves, in which case no cast happens.
pub(crate) fn polars_type(data_type: &DataType) -> Option<DataType> {
    use DataType as D;
    Some(match data_type {
        D::Null
        | D::Boolean
        | D::Int32
        | D::Int64
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Utf8View
        | D::BinaryView
        | D::Date32
        | D::Date64
        | D::Timestamp(_, _)
        | D::Duration(_) => data_type.clone(),
        // Without polars' dtype-i8/i16/u8/u16 features these have no polars
        // type; widening copies the (small) values.
        D::Int8 | D::Int16 => D::Int32,
        D::UInt8 | D::UInt16 => D::UInt32,
        D::Float16 => D::Float32,
        // polars stores strings as views; arrow-rs builds the views over the
        // original value buffer (no string bytes are copied, short strings
        // are inlined in their 16-byte view).
        D::Utf8 | D::LargeUtf8 => D::Utf8View,
        D::Binary | D::LargeBinary => D::BinaryView,
        // polars would need dtype-categorical (a sizeable build) and then
        // rebuilds categoricals row by row anyway; arrow-rs turns a string
        // dictionary into views over the dictionary's value buffer.
        D::Dictionary(_, values) => polars_type(values)?,
        D::List(item) => D::List(list_item(item)?),
        D::LargeList(item) => D::LargeList(list_item(item)?),
        _ => return None,
    })
}

fn list_item(item: &Arc<Field>) -> Option<Arc<Field>> {
    let inner = polars_type(item.data_type())?;
    Some(Arc::new(Field::new(item.name(), inner, true)))
}

/// Moves one arrow-rs array into a polars `Series` named `name`.
pub(crate) fn array_to_series(name: &str, array: &ArrayRef) -> Result<Series, QueryError> {
    let unsupported = |message: &str| QueryError::UnsupportedType {
        column: name.to_string(),
        data_type: array.data_type().to_string(),
        message: message.to_string(),
    };
    let conversion = |message: String| QueryError::Conversion {
        column: name.to_string(),
        message,
    };
    let target = polars_type(array.data_type())
        .ok_or_else(|| unsupported("polars has no matching type in this build"))?;
    let array = if &target == array.data_type() {
        Arc::clone(array)
    } else {
        arrow::compute::cast(array, &target).map_err(|e| unsupported(&e.to_string()))?
    };
    let (c_array, c_schema) =
        arrow::ffi::to_ffi(&array.to_data()).map_err(|e| conversion(e.to_string()))?;
    // SAFETY: arrow-rs' FFI_ArrowArray/FFI_ArrowSchema and polars-arrow's
    // ArrowArray/ArrowSchema are both `#[repr(C)]` definitions of the C Data
    // Interface structs (identical field order and types; transmute checks
    // the sizes). Transmuting moves ownership of the release callback to the
    // polars struct, whose Drop calls it exactly once.
    let (c_array, c_schema) = unsafe {
        (
            std::mem::transmute::<FFI_ArrowArray, pa_ffi::ArrowArray>(c_array),
            std::mem::transmute::<FFI_ArrowSchema, pa_ffi::ArrowSchema>(c_schema),
        )
    };
    // SAFETY: `c_schema` was just produced by arrow-rs' exporter, so it is a
    // valid C Data Interface schema.
    let field =
        unsafe { pa_ffi::import_field_from_c(&c_schema) }.map_err(|e| conversion(e.to_string()))?;
    // SAFETY: `c_array` was exported by arrow-rs together with `c_schema`, so
    // its layout matches `field.dtype`; polars keeps it (and through its
    // release callback the arrow-rs buffers) alive as long as it is used.
    let imported = unsafe { pa_ffi::import_array_from_c(c_array, field.dtype) }
        .map_err(|e| conversion(e.to_string()))?;
    Series::from_arrow(PlSmallStr::from_str(name), imported).map_err(|e| conversion(e.to_string()))
}

/// Moves one polars `Series` into an arrow-rs array.
pub(crate) fn series_to_array(series: &Series) -> Result<ArrayRef, QueryError> {
    let conversion = |message: String| QueryError::Conversion {
        column: series.name().to_string(),
        message,
    };
    // polars-arrow exports a null array with a buffer the C Data Interface
    // does not define for it, which arrow-rs rightly refuses; a null column
    // has no data to share anyway.
    if series.dtype() == &polars::prelude::DataType::Null {
        return Ok(arrow::array::new_null_array(&DataType::Null, series.len()));
    }
    // The C Data Interface carries one contiguous array; a multi-chunk
    // Series (rare for a single batch) has to be concatenated first.
    let series = if series.n_chunks() == 1 {
        Cow::Borrowed(series)
    } else {
        Cow::Owned(series.rechunk())
    };
    let field = series
        .dtype()
        .to_arrow_field(series.name().clone(), CompatLevel::newest());
    if series.chunks().is_empty() {
        return Err(conversion(
            "polars returned a column without data".to_string(),
        ));
    }
    let exported = series
        .to_arrow_with_field(0, Cow::Borrowed(&field), true)
        .map_err(|e| conversion(e.to_string()))?;

    let mut c_array = pa_ffi::export_array_to_c(exported);
    let mut c_schema = pa_ffi::export_field_to_c(&field);
    // SAFETY: same `#[repr(C)]` structs as in `array_to_series`. `from_raw`
    // moves the content out and leaves a released (empty) struct behind, so
    // the polars structs' Drop does nothing and the arrow-rs side releases.
    let (c_array, c_schema) = unsafe {
        (
            FFI_ArrowArray::from_raw((&mut c_array as *mut pa_ffi::ArrowArray).cast()),
            FFI_ArrowSchema::from_raw((&mut c_schema as *mut pa_ffi::ArrowSchema).cast()),
        )
    };
    // SAFETY: both structs were produced together by polars-arrow's
    // exporter, so the array matches the schema.
    let data = unsafe { arrow::ffi::from_ffi(c_array, &c_schema) }
        .map_err(|e| conversion(e.to_string()))?;
    Ok(make_array(data))
}
