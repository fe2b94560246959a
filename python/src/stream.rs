//! Reading Python data through the Arrow C stream interface: any object with
//! `__arrow_c_stream__` (pyarrow Tables and RecordBatchReaders, pandas ≥ 2.2
//! and polars DataFrames) hands over its batches without a copy.

use std::collections::HashSet;

use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow::record_batch::RecordBatchReader;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::AssayError;

/// The capsule name the PyCapsule interface gives Arrow C streams.
const STREAM_CAPSULE: &std::ffi::CStr = c"arrow_array_stream";

/// Takes the Arrow C stream out of `data`. The returned reader owns the
/// stream (the capsule is left released), and may be read without the GIL:
/// producers that call back into Python take the GIL themselves.
pub fn import(data: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    if !data.hasattr("__arrow_c_stream__")? {
        let type_name = data.get_type().name()?;
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "cannot read a {type_name}: expected a pandas or polars DataFrame, a pyarrow \
             Table or RecordBatchReader, or any object with __arrow_c_stream__"
        )));
    }
    let capsule = data.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("__arrow_c_stream__ did not return a PyCapsule")
    })?;
    let pointer = capsule
        .pointer_checked(Some(STREAM_CAPSULE))?
        .cast::<FFI_ArrowArrayStream>();
    // SAFETY: the capsule is named `arrow_array_stream`, so by the PyCapsule
    // interface it points to a valid FFI_ArrowArrayStream. `from_raw` moves
    // the stream out and leaves a released one behind, which the capsule's
    // destructor then skips.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.as_ptr()) };
    let reader = RecordBatchStreamReader::try_new(stream)
        .map_err(|e| AssayError::new_err(format!("cannot read the Arrow stream: {e}")))?;
    check_unique_names(&reader.schema())?;
    Ok(reader)
}

/// assay addresses columns by name: two columns with one name would make
/// every later result ambiguous, so they are refused up front.
fn check_unique_names(schema: &SchemaRef) -> PyResult<()> {
    let mut seen = HashSet::new();
    for field in schema.fields() {
        if !seen.insert(field.name().as_str()) {
            return Err(AssayError::new_err(format!(
                "column `{}` appears more than once in the data; expected unique column names \
                 (rename or drop the duplicates)",
                field.name()
            )));
        }
    }
    Ok(())
}
