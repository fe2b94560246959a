//! Runs a [`Plan`] over two sides: the dataset, then every slice both
//! profiles have. Pure: profiles (and raw samples) in, report out.

use std::collections::BTreeSet;

use rayon::prelude::*;

use super::feature::{
    FeatureKind, Plan, PlannedFeature, applies, category_counts, default_method, default_threshold,
    numeric_state,
};
use super::report::{
    ComparisonReport, Contributor, DatasetVerdict, Effect, FeatureComparison, MethodOutcome,
    MissingShare, Significance, SliceComparison, Verdict,
};
use super::verdict::{dataset_verdict, decide};
use super::{CompareError, DEFAULT_P_THRESHOLD, Mode, Side, TOP_CONTRIBUTORS};
use crate::checks::drift::{
    self, BinShare, CategoryCounts, DriftError, Method, MethodResult, SketchPair, numeric_all,
    numeric_bins, numeric_sketch_all,
};
use crate::profile::{ColumnProfile, ColumnRole};

/// Compares `current` against `reference` as `plan` says.
pub fn compare(
    plan: &Plan,
    reference: Side,
    current: Side,
) -> Result<ComparisonReport, CompareError> {
    for (side, name) in [(&reference, "reference"), (&current, "current")] {
        if side.profile.rows == 0 {
            return Err(CompareError::EmptySide {
                label: side.label.to_string(),
                side: name,
            });
        }
    }
    let exact = match (reference.exact, current.exact) {
        (Some(r), Some(c)) => Some((r, c)),
        _ => None,
    };
    let mode = if exact.is_some() {
        Mode::Exact
    } else {
        Mode::Profile
    };
    let (features, predictions, dataset) = compare_group(
        plan,
        &reference.profile.columns,
        &current.profile.columns,
        exact,
    );
    let mut slices = Vec::new();
    let mut unmatched = Vec::new();
    for rs in &reference.profile.slices {
        match current.profile.slices.iter().find(|cs| cs.name == rs.name) {
            Some(cs) => {
                let (features, predictions, dataset) =
                    compare_group(plan, &rs.columns, &cs.columns, None);
                slices.push(SliceComparison {
                    slice: rs.name.clone(),
                    reference_rows: rs.rows,
                    current_rows: cs.rows,
                    features,
                    predictions,
                    dataset,
                });
            }
            None => unmatched.push(format!("{} (reference only)", rs.name)),
        }
    }
    for cs in &current.profile.slices {
        if !reference.profile.slices.iter().any(|rs| rs.name == cs.name) {
            unmatched.push(format!("{} (current only)", cs.name));
        }
    }
    Ok(ComparisonReport {
        comparison: plan.comparison,
        mode,
        reference: reference.label.to_string(),
        current: current.label.to_string(),
        reference_rows: reference.profile.rows,
        current_rows: current.profile.rows,
        features,
        predictions,
        dataset,
        slices,
        skipped: plan.skipped.clone(),
        missing_in_current: plan.missing_in_current.clone(),
        missing_in_reference: plan.missing_in_reference.clone(),
        unmatched_slices: unmatched,
    })
}

type Exact<'a> = (&'a super::ExactSample, &'a super::ExactSample);

/// One comparison (dataset or slice): features, predictions, verdict.
fn compare_group(
    plan: &Plan,
    reference: &[ColumnProfile],
    current: &[ColumnProfile],
    exact: Option<Exact>,
) -> (
    Vec<FeatureComparison>,
    Vec<FeatureComparison>,
    DatasetVerdict,
) {
    // Features are independent: compared in parallel (rayon keeps the
    // plan's order), which halves a 100-feature window close on 2 cores.
    let mut all: Vec<FeatureComparison> = plan
        .features
        .par_iter()
        .filter_map(|pf| {
            let r = reference.iter().find(|c| c.name == pf.name)?;
            let c = current.iter().find(|c| c.name == pf.name)?;
            Some(compare_feature(plan, pf, r, c, exact))
        })
        .collect();
    {
        let mut refs: Vec<&mut FeatureComparison> = all.iter_mut().collect();
        decide(&mut refs, plan.correction);
    }
    let dataset = dataset_verdict(&all.iter().collect::<Vec<_>>(), plan.max_drifted_share);
    all.sort_by(|a, b| severity(b).total_cmp(&severity(a)));
    let (predictions, features) = all
        .into_iter()
        .partition(|f| f.role == ColumnRole::Prediction);
    (features, predictions, dataset)
}

/// Sort key, larger first: drifted features by how far past the threshold,
/// then errors, then the rest by closeness to it, insufficient data last.
fn severity(f: &FeatureComparison) -> f64 {
    let ratio = match (f.statistic, f.p_value) {
        (Some(_), Some(p)) => f.threshold / f.p_value_adjusted.unwrap_or(p).max(1e-300),
        (Some(s), None) if f.threshold > 0.0 => s / f.threshold,
        (Some(s), None) => s,
        (None, _) => 0.0,
    };
    let band = match f.verdict {
        Verdict::Drift => 3.0,
        Verdict::Error => 2.0,
        Verdict::NoDrift => 1.0,
        Verdict::InsufficientData => 0.0,
    };
    band * 1e6 + ratio.min(1e5)
}

fn missing_share(c: &ColumnProfile) -> f64 {
    let rows = c.count + c.null_count;
    if rows == 0 {
        return 0.0;
    }
    (c.null_count + c.nan_count.unwrap_or(0)) as f64 / rows as f64
}

/// The raw data of one feature on both sides.
enum Data<'a> {
    Numeric {
        reference: NumericData<'a>,
        current: NumericData<'a>,
        /// Profile mode: both sketches prepared once for every computation
        /// on the feature (the method, the effect, the bins).
        sketch: Option<Result<Box<SketchPair<'a>>, DriftError>>,
    },
    Categorical {
        reference: CategoryCounts,
        current: CategoryCounts,
        approximate: bool,
    },
}

enum NumericData<'a> {
    Exact(&'a [f64]),
    Sketch(&'a crate::profile::numeric::NumericState),
}

impl NumericData<'_> {
    fn count(&self) -> u64 {
        match self {
            Self::Exact(v) => v.len() as u64,
            Self::Sketch(s) => s.finite,
        }
    }
}

/// A numeric feature's data on one side: raw values in exact mode, else the
/// profile's numeric state.
fn numeric_side<'a>(
    name: &str,
    column: &'a ColumnProfile,
    sample: Option<&'a super::ExactSample>,
) -> Option<NumericData<'a>> {
    match sample.and_then(|s| s.numeric(name)) {
        Some(values) => Some(NumericData::Exact(values)),
        None => numeric_state(column).map(NumericData::Sketch),
    }
}

fn compare_feature(
    plan: &Plan,
    pf: &PlannedFeature,
    r: &ColumnProfile,
    c: &ColumnProfile,
    exact: Option<Exact>,
) -> FeatureComparison {
    let data = match pf.kind {
        FeatureKind::Numeric => {
            match (
                numeric_side(&pf.name, r, exact.map(|e| e.0)),
                numeric_side(&pf.name, c, exact.map(|e| e.1)),
            ) {
                (Some(reference), Some(current)) => {
                    let sketch = match (&reference, &current) {
                        (NumericData::Sketch(a), NumericData::Sketch(b)) => {
                            Some(SketchPair::new(Method::Wasserstein, a, b).map(Box::new))
                        }
                        _ => None,
                    };
                    Data::Numeric {
                        reference,
                        current,
                        sketch,
                    }
                }
                _ => {
                    return failed(pf, r, c, "the column has no numeric statistics".into());
                }
            }
        }
        FeatureKind::Categorical => match exact.and_then(|(re, ce)| {
            Some((
                re.categories(&pf.name)?.clone(),
                ce.categories(&pf.name)?.clone(),
            ))
        }) {
            Some((reference, current)) => Data::Categorical {
                reference,
                current,
                approximate: false,
            },
            None => {
                let (reference, ra) = category_counts(r);
                let (current, ca) = category_counts(c);
                Data::Categorical {
                    reference,
                    current,
                    approximate: ra || ca,
                }
            }
        },
    };
    let (reference_count, current_count, binary) = match &data {
        Data::Numeric {
            reference, current, ..
        } => (reference.count(), current.count(), false),
        Data::Categorical {
            reference, current, ..
        } => (
            reference.values().sum(),
            current.values().sum(),
            reference
                .keys()
                .chain(current.keys())
                .collect::<BTreeSet<_>>()
                .len()
                <= 2,
        ),
    };
    let method = pf
        .method
        .unwrap_or_else(|| default_method(pf.kind, binary, reference_count));
    let mut out = blank(
        pf,
        method,
        (reference_count, current_count),
        missing_shares(r, c),
    );
    out.contributors = contributors(&data);
    if plan.all_methods {
        out.methods = Some(all_methods(&data));
    }
    if reference_count < pf.min_samples || current_count < pf.min_samples {
        out.verdict = Verdict::InsufficientData;
        out.error = Some(format!(
            "{reference_count} and {current_count} values; a verdict needs at least {} on each side",
            pf.min_samples
        ));
        return out;
    }
    match run(method, &data) {
        Ok(result) => {
            out.statistic = Some(result.statistic);
            out.p_value = result.p_value;
            out.approximate = result.approximate;
        }
        Err(e) => {
            out.verdict = Verdict::Error;
            out.error = Some(e.to_string());
            return out;
        }
    }
    if method.is_test() {
        let effect_method = match pf.kind {
            FeatureKind::Numeric => Method::Wasserstein,
            FeatureKind::Categorical => Method::JensenShannon,
        };
        // An undefined effect (a constant reference) leaves the test alone.
        out.effect = run(effect_method, &data).ok().map(|r| Effect {
            method: effect_method,
            statistic: r.statistic,
            min: plan.min_effect,
        });
    } else {
        let gate = match pf.kind {
            FeatureKind::Numeric => Method::Ks,
            FeatureKind::Categorical => Method::Chi2Contingency,
        };
        // A test that cannot be computed (one category on both sides)
        // leaves the distance alone.
        out.significance = run(gate, &data)
            .ok()
            .and_then(|r| r.p_value)
            .map(|p_value| Significance {
                method: gate,
                p_value,
                p_value_adjusted: None,
                threshold: DEFAULT_P_THRESHOLD,
            });
    }
    out
}

/// A feature that could not be compared at all.
fn failed(
    pf: &PlannedFeature,
    r: &ColumnProfile,
    c: &ColumnProfile,
    error: String,
) -> FeatureComparison {
    let method = pf
        .method
        .unwrap_or_else(|| default_method(pf.kind, false, r.count));
    FeatureComparison {
        verdict: Verdict::Error,
        error: Some(error),
        ..blank(pf, method, (r.count, c.count), missing_shares(r, c))
    }
}

fn missing_shares(r: &ColumnProfile, c: &ColumnProfile) -> MissingShare {
    MissingShare {
        reference: missing_share(r),
        current: missing_share(c),
    }
}

/// A comparison with no statistic yet (verdict "no drift" until decided).
fn blank(
    pf: &PlannedFeature,
    method: Method,
    (reference_count, current_count): (u64, u64),
    missing: MissingShare,
) -> FeatureComparison {
    FeatureComparison {
        name: pf.name.clone(),
        kind: pf.kind,
        role: pf.role,
        method,
        default_method: pf.method.is_none(),
        statistic: None,
        p_value: None,
        p_value_adjusted: None,
        threshold: pf.threshold.unwrap_or_else(|| default_threshold(method)),
        drifted: false,
        verdict: Verdict::NoDrift,
        approximate: false,
        effect: None,
        significance: None,
        reference_count,
        current_count,
        missing,
        contributors: Vec::new(),
        methods: None,
        error: None,
    }
}

/// One method on one feature's data.
fn run(method: Method, data: &Data) -> Result<MethodResult, DriftError> {
    match data {
        Data::Numeric {
            reference,
            current,
            sketch,
        } => {
            if !applies(method, FeatureKind::Numeric) {
                return Err(DriftError::NotApplicable {
                    method,
                    kind: "numeric",
                });
            }
            match (reference, current, sketch) {
                (NumericData::Exact(a), NumericData::Exact(b), _) => numeric_exact(method, a, b),
                (_, _, Some(Ok(pair))) => pair.method(method),
                (_, _, Some(Err(e))) => Err(drift::with_method(e.clone(), method)),
                // Mixed sides cannot happen: exact mode needs both samples.
                _ => Err(DriftError::Undefined {
                    method,
                    reason: "one side is exact and the other a sketch",
                }),
            }
        }
        Data::Categorical {
            reference,
            current,
            approximate,
        } => {
            let result = categorical(method, reference, current)?;
            Ok(if *approximate {
                result.approximated()
            } else {
                result
            })
        }
    }
}

fn numeric_exact(method: Method, a: &[f64], b: &[f64]) -> Result<MethodResult, DriftError> {
    match method {
        Method::Ks => drift::ks(a, b),
        Method::Wasserstein => drift::wasserstein(a, b),
        Method::Anderson => drift::anderson(a, b),
        Method::CramerVonMises => drift::cramer_von_mises(a, b),
        Method::Energy => drift::energy(a, b),
        Method::TTest => drift::t_test(a, b),
        _ => drift::numeric_binned(method, a, b),
    }
}

fn categorical(
    method: Method,
    a: &CategoryCounts,
    b: &CategoryCounts,
) -> Result<MethodResult, DriftError> {
    match method {
        Method::ChiSquare => drift::chisquare(a, b),
        Method::Chi2Contingency => drift::chi2_contingency(a, b),
        Method::Linf => drift::linf(a, b),
        Method::JensenShannon => drift::jensenshannon(a, b),
        Method::Psi => drift::psi(a, b),
        Method::Hellinger => drift::hellinger(a, b),
        Method::KlDiv => drift::kl_div(a, b),
        Method::ZTest => drift::z_test(a, b),
        _ => Err(DriftError::NotApplicable {
            method,
            kind: "categorical",
        }),
    }
}

/// The categorical methods, in report order (`z_test` fails on
/// non-binary features, and says so).
const CATEGORICAL_METHODS: [Method; 8] = [
    Method::Linf,
    Method::JensenShannon,
    Method::ChiSquare,
    Method::Chi2Contingency,
    Method::Psi,
    Method::Hellinger,
    Method::KlDiv,
    Method::ZTest,
];

fn all_methods(data: &Data) -> Vec<MethodOutcome> {
    let results: Vec<(Method, Result<MethodResult, DriftError>)> = match data {
        Data::Numeric {
            reference, current, ..
        } => match (reference, current) {
            (NumericData::Exact(a), NumericData::Exact(b)) => numeric_all(a, b),
            (NumericData::Sketch(a), NumericData::Sketch(b)) => numeric_sketch_all(a, b),
            _ => Vec::new(),
        },
        Data::Categorical { .. } => CATEGORICAL_METHODS
            .into_iter()
            .map(|m| (m, run(m, data)))
            .collect(),
    };
    results
        .into_iter()
        .map(|(m, r)| MethodOutcome::from_result(m, &r.map_err(|e| e.to_string())))
        .collect()
}

/// The categories or bins whose share moved most.
fn contributors(data: &Data) -> Vec<Contributor> {
    match data {
        Data::Numeric {
            reference,
            current,
            sketch,
        } => {
            let bins: Result<Vec<BinShare>, DriftError> = match (reference, current, sketch) {
                (NumericData::Exact(a), NumericData::Exact(b), _) => numeric_bins(a, b),
                (_, _, Some(Ok(pair))) => pair.bins(),
                _ => Ok(Vec::new()),
            };
            let rows = bins
                .unwrap_or_default()
                .into_iter()
                .map(|b| (b.reference, b.current, b))
                .collect();
            top_contributors(rows, |b| bin_label(b.low, b.high))
        }
        Data::Categorical {
            reference, current, ..
        } => {
            let (rt, ct) = (
                reference.values().sum::<u64>().max(1) as f64,
                current.values().sum::<u64>().max(1) as f64,
            );
            let keys: BTreeSet<&String> = reference.keys().chain(current.keys()).collect();
            let rows = keys
                .into_iter()
                .map(|k| {
                    (
                        reference.get(k).copied().unwrap_or(0) as f64 / rt,
                        current.get(k).copied().unwrap_or(0) as f64 / ct,
                        k,
                    )
                })
                .collect();
            top_contributors(rows, |k| (*k).clone())
        }
    }
}

/// The rows (reference share, current share, what it is) whose shares moved
/// most, largest change first, ties by label. Only rows that can make the
/// top get a label: formatting every bin's edges was most of the
/// contributors' cost.
fn top_contributors<T>(
    mut rows: Vec<(f64, f64, T)>,
    label: impl Fn(&T) -> String,
) -> Vec<Contributor> {
    let change = |r: &(f64, f64, T)| (r.1 - r.0).abs();
    rows.retain(|r| r.1 != r.0);
    rows.sort_by(|a, b| change(b).total_cmp(&change(a)));
    if let Some(cut) = rows.get(TOP_CONTRIBUTORS - 1).map(change) {
        rows.retain(|r| change(r) >= cut);
    }
    let mut out: Vec<Contributor> = rows
        .iter()
        .map(|r| Contributor {
            value: label(&r.2),
            reference: r.0,
            current: r.1,
        })
        .collect();
    out.sort_by(|a, b| {
        (b.current - b.reference)
            .abs()
            .total_cmp(&(a.current - a.reference).abs())
            .then_with(|| a.value.cmp(&b.value))
    });
    out.truncate(TOP_CONTRIBUTORS);
    out
}

fn bin_label(low: f64, high: f64) -> String {
    let f = |x: f64| {
        if x.is_infinite() {
            if x < 0.0 { "-inf".into() } else { "inf".into() }
        } else {
            super::report::short(x)
        }
    };
    format!("[{}, {})", f(low), f(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top rows as labelling every row first gives them.
    fn labelled_first(rows: &[(f64, f64, u32)]) -> Vec<Contributor> {
        let mut all: Vec<Contributor> = rows
            .iter()
            .filter(|r| r.0 != r.1)
            .map(|r| Contributor {
                value: format!("bin {}", r.2),
                reference: r.0,
                current: r.1,
            })
            .collect();
        all.sort_by(|a, b| {
            (b.current - b.reference)
                .abs()
                .total_cmp(&(a.current - a.reference).abs())
                .then_with(|| a.value.cmp(&b.value))
        });
        all.truncate(TOP_CONTRIBUTORS);
        all
    }

    #[test]
    fn only_rows_that_can_make_the_top_are_labelled_and_the_top_is_unchanged() {
        // Ties at the cut (0.1 appears four times around the fifth place),
        // unchanged rows, and fewer rows than the top.
        let rows: Vec<(f64, f64, u32)> = vec![
            (0.1, 0.3, 9),
            (0.2, 0.1, 8),
            (0.3, 0.2, 7),
            (0.1, 0.1, 6),
            (0.0, 0.1, 5),
            (0.4, 0.3, 4),
            (0.1, 0.4, 3),
            (0.25, 0.05, 2),
            (0.2, 0.2, 1),
        ];
        let labelled = std::cell::Cell::new(0);
        let top = top_contributors(rows.clone(), |i| {
            labelled.set(labelled.get() + 1);
            format!("bin {i}")
        });
        assert_eq!(top, labelled_first(&rows));
        assert!(labelled.get() < 7, "{} labelled", labelled.get());
        for n in 0..rows.len() {
            let few = rows[..n].to_vec();
            assert_eq!(
                top_contributors(few.clone(), |i| format!("bin {i}")),
                labelled_first(&few)
            );
        }
    }
}
