//! The library's errors as Python exceptions, with the library's messages.

use assay::profile::ProfileError;
use pyo3::PyErr;

pyo3::create_exception!(
    assay,
    AssayError,
    pyo3::exceptions::PyValueError,
    "Bad input or a failed operation: the message says what and where (file, column, line)."
);

/// Converts a library error. An unsupported column type gets a Python hint
/// in place of the CLI's `--columns` one.
pub fn to_py(error: impl Into<assay::AssayError>) -> PyErr {
    match error.into() {
        assay::AssayError::Profile(ProfileError::UnsupportedType {
            column, data_type, ..
        }) => AssayError::new_err(
            ProfileError::UnsupportedType {
                column,
                data_type,
                hint: "; expected an integer, float, decimal, string, bool, timestamp, date or \
                       list column (leave this one out, or convert it)"
                    .to_string(),
            }
            .to_string(),
        ),
        other => AssayError::new_err(other.to_string()),
    }
}
