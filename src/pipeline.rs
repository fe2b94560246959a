//! The profiling pipeline: sources → (row filter, derived columns) →
//! accumulators, one accumulator per partition on the rayon pool, merged at
//! the end. This is the one place that wires the stages together; the CLI
//! and (later) the daemon call it.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::AssayError;
use crate::checks::compare::{ExactSample, FeatureKind};
use crate::profile::{Profile, ProfileOptions, TableAccumulator};
use crate::query::{DerivedColumn, DerivedColumns, RowFilter};
use crate::sources::{self, ReadOptions};

/// Everything `assay profile` needs besides the inputs.
#[derive(Debug, Clone, Default)]
pub struct ProfileRequest {
    pub read: ReadOptions,
    pub profile: ProfileOptions,
    /// SQL predicate: only rows where it is true are profiled.
    pub where_sql: Option<String>,
    /// Slice columns defined by SQL expressions (`name=expr`).
    pub derived: Vec<String>,
}

pub fn profile_inputs(
    inputs: &[String],
    request: &ProfileRequest,
    on_open: impl FnOnce(u64, Arc<AtomicU64>),
) -> Result<Profile, AssayError> {
    let dataset = sources::open(inputs, &request.read)?;
    // The caller may poll the byte counter (e.g. for a progress bar).
    on_open(dataset.total_bytes, dataset.bytes_read.clone());
    let filter = request
        .where_sql
        .as_deref()
        .map(RowFilter::new)
        .transpose()?;
    if let Some(f) = &filter {
        f.check(&dataset.schema)?;
    }
    let derived = if request.derived.is_empty() {
        None
    } else {
        let columns = request
            .derived
            .iter()
            .map(|d| DerivedColumn::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        let derived = DerivedColumns::new(columns)?;
        derived.check(&dataset.schema)?;
        Some(derived)
    };
    let template = TableAccumulator::new(&dataset.schema, &request.profile)?;

    let prepare = |batch: RecordBatch| -> Result<RecordBatch, AssayError> {
        let batch = match &filter {
            Some(f) => f.apply(&batch)?,
            None => batch,
        };
        Ok(match &derived {
            Some(d) => d.apply(&batch)?,
            None => batch,
        })
    };

    let partials: Vec<TableAccumulator> = dataset
        .partitions
        .into_par_iter()
        .map(|partition| -> Result<TableAccumulator, AssayError> {
            let mut acc = template.clone();
            for batch in (partition.open)()? {
                acc.update(&prepare(batch?)?)?;
            }
            Ok(acc)
        })
        .collect::<Result<_, _>>()?;

    let mut total = template;
    for partial in &partials {
        total.merge(partial)?;
    }
    total.set_sources(dataset.files.clone());
    Ok(total.finish())
}

/// Merges saved profiles into one.
pub fn merge_profiles(profiles: &[(String, Profile)]) -> Result<Profile, AssayError> {
    let Some(((first_name, first), rest)) = profiles.split_first() else {
        return Err(AssayError::Usage("merge needs at least one profile".into()));
    };
    let mut total = TableAccumulator::from_profile(first, usize::MAX)?;
    for (name, profile) in rest {
        let next = TableAccumulator::from_profile(profile, usize::MAX)?;
        total.check_compatible(&next).map_err(|why| {
            AssayError::Usage(format!("cannot merge {name} into {first_name}: {why}"))
        })?;
        total.merge(&next)?;
    }
    Ok(total.finish())
}

/// Reads the raw values an exact-mode comparison needs (`wanted`: the
/// compared features and their kinds), partitions in parallel.
pub fn exact_sample(
    inputs: &[String],
    read: &ReadOptions,
    wanted: &[(String, FeatureKind)],
) -> Result<ExactSample, AssayError> {
    let dataset = sources::open(inputs, read)?;
    let label = inputs.join(", ");
    let partials: Vec<ExactSample> = dataset
        .partitions
        .into_par_iter()
        .map(|partition| -> Result<ExactSample, AssayError> {
            let mut sample = ExactSample::new(wanted.to_vec());
            for batch in (partition.open)()? {
                sample
                    .update(&batch?)
                    .map_err(|e| AssayError::Usage(format!("{label}: {e}")))?;
            }
            Ok(sample)
        })
        .collect::<Result<_, _>>()?;
    let mut total = ExactSample::new(wanted.to_vec());
    for partial in partials {
        total.merge(partial);
    }
    Ok(total)
}
