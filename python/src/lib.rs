//! `assay._assay`: the compiled half of the `assay` Python package, a thin
//! shell over the assay library. The Python half (python/assay/) resolves
//! arguments (paths, DataFrames, Spark) and calls these functions; every
//! statistic, check and message comes from the library. The GIL is
//! released while the library works.

use assay::profile::ProfileOptions;
use pyo3::prelude::*;

mod checks;
mod errors;
mod profile;
mod stream;

use profile::{PyProfile, Request, parse_roles, profile_reader, tree_merge};

/// Profiles the data behind `data.__arrow_c_stream__()`.
#[pyfunction]
#[pyo3(name = "profile", signature = (data, source, slices = Vec::new(), roles = Vec::new(), max_slices = 1000))]
fn profile_data(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    source: String,
    slices: Vec<Vec<String>>,
    roles: Vec<(String, String)>,
    max_slices: usize,
) -> PyResult<PyProfile> {
    let reader = stream::import(data)?;
    let request = Request {
        source,
        options: ProfileOptions {
            roles: parse_roles(roles)?,
            slices,
            max_slices,
        },
    };
    let (inner, _) = profile_reader(py, reader, &request, false)?;
    Ok(PyProfile { inner })
}

/// Merges profiles (in order, pairwise in rounds: a tree reduction).
#[pyfunction]
fn merge(py: Python<'_>, profiles: Vec<PyRef<'_, PyProfile>>) -> PyResult<PyProfile> {
    let all: Vec<_> = profiles.iter().map(|p| p.inner.clone()).collect();
    let inner = py.detach(|| tree_merge(all)).map_err(errors::to_py)?;
    Ok(PyProfile { inner })
}

/// Parses and merges profile JSON texts (Spark's partial profiles) without
/// holding the GIL: parsing runs on the rayon pool too.
#[pyfunction]
fn merge_json(py: Python<'_>, texts: Vec<String>) -> PyResult<PyProfile> {
    use rayon::prelude::*;
    let inner = py
        .detach(|| {
            let profiles = texts
                .par_iter()
                .enumerate()
                .map(|(i, t)| assay::profile::io::parse(t, &format!("partial profile #{}", i + 1)))
                .collect::<Result<Vec<_>, _>>()?;
            tree_merge(profiles)
        })
        .map_err(errors::to_py)?;
    Ok(PyProfile { inner })
}

#[pymodule]
fn _assay(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AssayError", m.py().get_type::<errors::AssayError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyProfile>()?;
    m.add_function(wrap_pyfunction!(profile_data, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(merge_json, m)?)?;
    m.add_function(wrap_pyfunction!(checks::infer_schema, m)?)?;
    m.add_function(wrap_pyfunction!(checks::validate, m)?)?;
    m.add_function(wrap_pyfunction!(checks::drift, m)?)?;
    m.add_function(wrap_pyfunction!(checks::schema_slices, m)?)?;
    Ok(())
}
