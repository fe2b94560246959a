//! `assay.Profile` and profiling: the accumulator contract (create, update
//! per batch, merge, finish) driven from Python data.

use arrow::ffi_stream::RecordBatchStreamReader;
use arrow::record_batch::RecordBatch;
use assay::pipeline::merge_profiles;
use assay::profile::{ColumnRole, Profile, ProfileOptions, TableAccumulator, io as profile_io};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::errors::{AssayError, to_py};

/// Statistics of a dataset, per column and per slice: the `assay.profile/1`
/// document the CLI writes. Profiles merge exactly (counts, sums, moments,
/// min/max) or within their sketches' bounds (quantiles, distinct counts,
/// top values), whether made here, on Spark or by the CLI.
#[pyclass(module = "assay", name = "Profile", frozen)]
pub struct PyProfile {
    pub inner: Profile,
}

#[pymethods]
impl PyProfile {
    /// Reads a profile from its JSON text (`assay profile -o FILE` writes
    /// one); `name` labels it in error messages.
    #[staticmethod]
    #[pyo3(signature = (text, name = "<json>"))]
    fn from_json(py: Python<'_>, text: &str, name: &str) -> PyResult<Self> {
        let inner = py.detach(|| profile_io::parse(text, name)).map_err(to_py)?;
        Ok(Self { inner })
    }

    /// The profile as JSON text, as the CLI writes it.
    fn to_json(&self, py: Python<'_>) -> String {
        py.detach(|| profile_io::to_json(&self.inner))
    }

    /// This profile merged with `others` (the same columns and slices); a
    /// new profile, neither input changes. Merging is associative and
    /// commutative.
    #[pyo3(signature = (*others))]
    fn merge(&self, py: Python<'_>, others: Vec<PyRef<'_, PyProfile>>) -> PyResult<Self> {
        let mut all = vec![self.inner.clone()];
        all.extend(others.iter().map(|p| p.inner.clone()));
        Ok(Self {
            inner: py.detach(|| tree_merge(all)).map_err(to_py)?,
        })
    }

    /// Rows profiled (nulls included).
    #[getter]
    fn rows(&self) -> u64 {
        self.inner.rows
    }

    /// Column names, in data order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Slice names (`sex=F,race=asian`), in the profile's order.
    #[getter]
    fn slices(&self) -> Vec<String> {
        self.inner.slices.iter().map(|s| s.name.clone()).collect()
    }

    /// What was profiled (the CLI's input files; `pandas.DataFrame`, ...).
    #[getter]
    fn sources(&self) -> Vec<String> {
        self.inner.sources.clone()
    }

    /// The `assay.profile/1` document as a dict.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = self.to_json(py);
        Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
    }

    /// One row per column (indexed by name): the summary statistics, not
    /// the sketches' state; quantiles as `p01` ... `p99` columns. Needs
    /// pandas.
    fn to_pandas(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = self.to_json(py);
        Ok(py
            .import("assay._frames")?
            .call_method1("profile_frame", (text,))?
            .unbind())
    }

    /// The profile's HTML page (the CLI's `--format html`).
    fn to_html(&self, py: Python<'_>) -> String {
        py.detach(|| assay::report::html::profile_html(&self.inner))
    }

    /// The readable table the CLI prints.
    fn to_table(&self) -> String {
        assay::report::profile_table(&self.inner)
    }

    fn _repr_html_(&self, py: Python<'_>) -> String {
        self.to_html(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<assay.Profile: {} rows, {} columns, {} slices>",
            self.inner.rows,
            self.inner.columns.len(),
            self.inner.slices.len()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyProfile>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<(Py<PyAny>, (String,))> {
        // Pickling (Spark ships objects between processes) is the JSON text.
        let py = slf.py();
        let from_json = slf.getattr("from_json")?.unbind();
        Ok((from_json, (slf.get().to_json(py),)))
    }
}

/// Merges profiles pairwise, in rounds, on the rayon pool: the depth is
/// log2(n) and the merges of a round run in parallel. Order is kept, so
/// the result is the same whichever way it is run.
pub fn tree_merge(mut profiles: Vec<Profile>) -> Result<Profile, assay::AssayError> {
    if profiles.is_empty() {
        return Err(assay::AssayError::Usage(
            "merge needs at least one profile".into(),
        ));
    }
    while profiles.len() > 1 {
        let pairs: Vec<Vec<Profile>> = {
            let mut pairs = Vec::with_capacity(profiles.len().div_ceil(2));
            let mut it = profiles.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) => pairs.push(vec![a, b]),
                    None => pairs.push(vec![a]),
                }
            }
            pairs
        };
        profiles = pairs
            .into_par_iter()
            .enumerate()
            .map(|(i, pair)| {
                if pair.len() == 1 {
                    return Ok(pair.into_iter().next().expect("one profile"));
                }
                let named: Vec<(String, Profile)> = pair
                    .into_iter()
                    .enumerate()
                    .map(|(j, p)| (format!("profile #{}", 2 * i + j + 1), p))
                    .collect();
                merge_profiles(&named)
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(profiles.pop().expect("one profile left"))
}

/// What to profile besides the data.
pub struct Request {
    pub source: String,
    pub options: ProfileOptions,
}

/// Parses the `roles` option: column → role name.
pub fn parse_roles(roles: Vec<(String, String)>) -> PyResult<Vec<(String, ColumnRole)>> {
    roles
        .into_iter()
        .map(|(column, role)| {
            serde_json::from_value::<ColumnRole>(serde_json::Value::String(role.clone()))
                .map(|r| (column.clone(), r))
                .map_err(|_| {
                    AssayError::new_err(format!(
                        "roles[{column:?}] = {role:?}: unknown role; expected feature, \
                         prediction, label, id, timestamp or weight"
                    ))
                })
        })
        .collect()
}

/// Profiles every batch of `reader` (without the GIL). With `keep`, the
/// batches are returned too (validation reads them again for row checks).
pub fn profile_reader(
    py: Python<'_>,
    reader: RecordBatchStreamReader,
    request: &Request,
    keep: bool,
) -> PyResult<(Profile, Vec<RecordBatch>)> {
    py.detach(|| {
        use arrow::record_batch::RecordBatchReader;
        let schema = reader.schema();
        let mut accumulator = TableAccumulator::new(&schema, &request.options).map_err(to_py)?;
        let mut kept = Vec::new();
        for batch in reader {
            let batch =
                batch.map_err(|e| AssayError::new_err(format!("reading the data failed: {e}")))?;
            accumulator.update(&batch).map_err(to_py)?;
            if keep {
                kept.push(batch);
            }
        }
        accumulator.set_sources(vec![request.source.clone()]);
        Ok((accumulator.finish(), kept))
    })
}
