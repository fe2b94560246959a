//! Fairness: rates per group of the sensitive columns, with intervals, and
//! the disparities between groups with Fairlearn's names and definitions.
//!
//! # Groups
//!
//! Each sensitive column's values are groups and, with several columns,
//! so are the combinations of all of them seen in the data (Fairlearn's
//! `MetricFrame` with several sensitive features). A null is a group of its
//! own (`null`). Groups with fewer labelled rows than `min_group_size` are
//! reported with `insufficient: true` and take no part in disparities or
//! findings.
//!
//! # Per group (binary; the positive class as in [`super::binary`])
//!
//! count (labelled rows), base_rate (positive labels / rows),
//! selection_rate (positive predictions / rows: Fairlearn's
//! `selection_rate`), tpr, fpr, fnr (Fairlearn's `true_positive_rate`, ...),
//! precision, accuracy; each with its 95% Wilson interval. A rate whose
//! denominator is 0 (a TPR in a group without positives) is `null` and
//! left out of the disparities; Fairlearn counts it as 0 (scikit-learn's
//! `confusion_matrix(normalize="true")` turns 0/0 into 0), which would make
//! a group without positives look maximally unfair.
//!
//! Regression: mae, mean_prediction, mean_label, each with a normal 95%
//! interval.
//!
//! # Disparities (Fairlearn 0.15, `method="between_groups"`)
//!
//! Over the judged groups: `demographic_parity_difference` = max − min of
//! the selection rates, `_ratio` = min / max; `equalized_odds_difference` =
//! the larger of the TPR and FPR differences, `_ratio` the smaller of their
//! ratios (`agg="worst_case"`); `equal_opportunity_difference` / `_ratio`
//! on the TPR. `four_fifths_rule`: the selection rate ratio is at least
//! 0.8. Each difference has Newcombe's hybrid score interval (95%) for the
//! two groups that make it; it does not account for having picked the
//! extreme pair, so it is narrower than a simultaneous interval would be.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use serde::{Deserialize, Serialize};

use super::accumulator::{group_rows, intersect};
use super::binary::{BinaryState, Predicted, Resolved};
use super::columns;
use super::intervals::{Z95, mean_interval, newcombe, wilson};
use super::regression::RegressionState;
use super::report::{
    Basis, Disparities, Extremes, FAIRNESS_FORMAT, FairnessReport, GroupEntry, Key, Metrics, names,
};
use super::serde_map;
use super::{QualityError, QualitySpec, ScoreColumns, Task};

/// One group's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Counts only (no score statistics).
    Binary(BinaryState),
    Regression(Box<RegressionState>),
}

impl GroupState {
    fn new(task: Task) -> Self {
        match task {
            Task::Regression => Self::Regression(Box::default()),
            _ => Self::Binary(BinaryState::default()),
        }
    }

    fn apply(&mut self, rows: &columns::BatchRows, selection: &[u32], threshold: f64) {
        match self {
            Self::Binary(s) => s.apply(rows, selection, threshold, false),
            Self::Regression(s) => s.apply(rows, selection),
        }
    }

    fn merge(&mut self, other: &GroupState) -> Result<(), QualityError> {
        match (self, other) {
            (Self::Binary(a), Self::Binary(b)) => a.merge(b),
            (Self::Regression(a), Self::Regression(b)) => {
                a.merge(b);
                Ok(())
            }
            _ => Err(QualityError::Merge(
                "the groups are of different tasks".into(),
            )),
        }
    }

    fn labelled(&self) -> u64 {
        match self {
            Self::Binary(s) => s.labels.values().sum(),
            Self::Regression(s) => s.n,
        }
    }
}

/// The group specs of the sensitive columns: each alone, then all together.
pub fn group_specs(sensitive: &[String]) -> Vec<Vec<String>> {
    let mut specs: Vec<Vec<String>> = sensitive.iter().map(|c| vec![c.clone()]).collect();
    if sensitive.len() > 1 {
        specs.push(sensitive.to_vec());
    }
    specs
}

/// Fairness of labelled predictions per group of the sensitive columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessAccumulator {
    spec: QualitySpec,
    task: Task,
    rows: u64,
    overall: GroupState,
    #[serde(with = "serde_map")]
    groups: BTreeMap<(usize, Vec<Option<String>>), GroupState>,
}

impl FairnessAccumulator {
    /// An empty accumulator: the task is binary or regression, and the spec
    /// names at least one sensitive column.
    pub fn new(spec: &QualitySpec, task: Task) -> Result<Self, QualityError> {
        spec.check(task)?;
        if task == Task::Multiclass {
            return Err(QualityError::Spec(
                "fairness is measured for binary classifiers and regressions".into(),
            ));
        }
        if spec.sensitive.is_empty() {
            return Err(QualityError::Spec("no sensitive column given".into()));
        }
        Ok(Self {
            spec: spec.clone(),
            task,
            rows: 0,
            overall: GroupState::new(task),
            groups: BTreeMap::new(),
        })
    }

    pub fn spec(&self) -> &QualitySpec {
        &self.spec
    }

    pub fn task(&self) -> Task {
        self.task
    }

    /// Counts a batch (checked whole first; on an error nothing is counted).
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), QualityError> {
        let rows = columns::read(batch, &self.spec, self.task)?;
        let specs = group_specs(&self.spec.sensitive);
        let groups = group_rows(batch, &specs)?;
        if let GroupState::Binary(s) = &self.overall {
            s.check(&rows, &rows.labelled, &self.spec)?;
        }
        let new_groups = groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.keys().map(move |k| (i, k)))
            .filter(|(i, k)| !self.groups.contains_key(&(*i, (*k).clone())))
            .count();
        if self.groups.len() + new_groups > self.spec.max_slices {
            return Err(QualityError::TooManySlices {
                spec: self.spec.sensitive.join(","),
                max: self.spec.max_slices,
            });
        }
        self.rows += rows.rows as u64;
        let threshold = self.spec.threshold;
        self.overall.apply(&rows, &rows.labelled, threshold);
        for (index, groups) in groups.into_iter().enumerate() {
            for (key, members) in groups {
                let selection = intersect(&members, &rows.labelled);
                self.groups
                    .entry((index, key))
                    .or_insert_with(|| GroupState::new(self.task))
                    .apply(&rows, &selection, threshold);
            }
        }
        Ok(())
    }

    /// Merges another accumulator of the same spec and task (associative and
    /// commutative; on an error nothing is merged).
    pub fn merge(&mut self, other: &FairnessAccumulator) -> Result<(), QualityError> {
        if self.spec != other.spec || self.task != other.task {
            return Err(QualityError::Merge(
                "the accumulators have different specs or tasks".into(),
            ));
        }
        let new_groups = other
            .groups
            .keys()
            .filter(|k| !self.groups.contains_key(*k))
            .count();
        if self.groups.len() + new_groups > self.spec.max_slices {
            return Err(QualityError::TooManySlices {
                spec: self.spec.sensitive.join(","),
                max: self.spec.max_slices,
            });
        }
        self.overall.merge(&other.overall)?;
        self.rows += other.rows;
        for (key, theirs) in &other.groups {
            match self.groups.get_mut(key) {
                Some(mine) => mine.merge(theirs)?,
                None => {
                    self.groups.insert(key.clone(), theirs.clone());
                }
            }
        }
        Ok(())
    }

    fn has_predictions(&self) -> bool {
        self.spec.prediction.is_some() || matches!(self.spec.scores, ScoreColumns::Single(_))
    }

    pub fn finish(&self) -> FairnessReport {
        let resolved = match &self.overall {
            GroupState::Binary(s) => Some(s.resolve(&self.spec)),
            GroupState::Regression(_) => None,
        };
        let predictions = self.has_predictions();
        let entry = |group: Key, state: &GroupState| -> GroupEntry {
            let count = state.labelled();
            let (metrics, ci, basis) = match (state, &resolved) {
                (GroupState::Binary(s), Some(r)) => binary_group(s, r, predictions),
                (GroupState::Regression(s), _) => regression_group(s),
                _ => Default::default(),
            };
            GroupEntry {
                group,
                count,
                insufficient: count < self.spec.min_group_size,
                metrics,
                ci,
                basis,
            }
        };
        let specs = group_specs(&self.spec.sensitive);
        let key_of = |index: usize, values: &[Option<String>]| -> Key {
            specs[index]
                .iter()
                .cloned()
                .zip(values.iter().cloned())
                .collect()
        };
        let mut by_group = Vec::new();
        let mut per_spec: Vec<Vec<usize>> = vec![Vec::new(); specs.len()];
        for ((index, values), state) in &self.groups {
            per_spec[*index].push(by_group.len());
            by_group.push(entry(key_of(*index, values), state));
        }
        let all = specs.len() - 1;
        let pick = |indices: &[usize]| -> Vec<&GroupEntry> {
            indices.iter().map(|&i| &by_group[i]).collect()
        };
        let overall_disparities = disparities(&pick(&per_spec[all]), self.task, predictions);
        let mut disparities_by_column = BTreeMap::new();
        if specs.len() > 1 {
            for (i, column) in self.spec.sensitive.iter().enumerate() {
                disparities_by_column.insert(
                    column.clone(),
                    disparities(&pick(&per_spec[i]), self.task, predictions),
                );
            }
        }
        let mut notes = Vec::new();
        if overall_disparities.groups < 2 {
            notes.push(format!(
                "fewer than two groups have at least {} labelled rows: no disparity is computed",
                self.spec.min_group_size
            ));
        }
        let overall = entry(Key::new(), &self.overall);
        FairnessReport {
            format: FAIRNESS_FORMAT.to_string(),
            task: self.task,
            label: self.spec.label.clone(),
            prediction: self.spec.prediction.clone(),
            scores: self.spec.scores.columns(),
            positive_class: resolved.as_ref().map(|r| r.positive.to_string()),
            threshold: (self.spec.prediction.is_none()
                && matches!(self.spec.scores, ScoreColumns::Single(_)))
            .then_some(self.spec.threshold),
            sensitive: self.spec.sensitive.clone(),
            min_group_size: self.spec.min_group_size,
            rows: self.rows,
            labelled: overall.count,
            overall,
            by_group,
            disparities: overall_disparities,
            disparities_by_column,
            notes,
            findings: Vec::new(),
        }
    }
}

type GroupParts = (Metrics, BTreeMap<String, [f64; 2]>, BTreeMap<String, Basis>);

/// A binary group's rates, intervals and counts.
fn binary_group(state: &BinaryState, resolved: &Resolved, predictions: bool) -> GroupParts {
    let pos = &resolved.positive;
    let n: u64 = state.labels.values().sum();
    let positives = state.labels.get(pos).copied().unwrap_or(0);
    let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
    for ((label, p), count) in &state.confusion {
        let predicted_positive = match p {
            Predicted::Class(c) => c == pos,
            Predicted::Thresholded(b) => *b,
        };
        match (label == pos, predicted_positive) {
            (true, true) => tp += count,
            (false, true) => fp += count,
            (false, false) => tn += count,
            (true, false) => fn_ += count,
        }
    }
    let mut rates: Vec<(&str, u64, u64)> = vec![(names::BASE_RATE, positives, n)];
    if predictions {
        rates.extend([
            (names::SELECTION_RATE, tp + fp, n),
            (names::TPR, tp, tp + fn_),
            (names::FPR, fp, fp + tn),
            (names::FNR, fn_, tp + fn_),
            (names::PRECISION, tp, tp + fp),
            (names::ACCURACY, tp + tn, n),
        ]);
    }
    let mut metrics = Metrics::default();
    let mut ci = BTreeMap::new();
    let mut basis = BTreeMap::new();
    for (name, s, t) in rates {
        metrics.push(name, (t > 0).then(|| s as f64 / t as f64));
        if let Some(interval) = wilson(s, t, Z95) {
            ci.insert(name.to_string(), interval);
        }
        basis.insert(
            name.to_string(),
            Basis::Proportion {
                successes: s,
                trials: t,
            },
        );
    }
    (metrics, ci, basis)
}

/// A regression group's MAE, mean prediction and mean label.
fn regression_group(state: &RegressionState) -> GroupParts {
    let summary = state.finish();
    let mut metrics = Metrics::default();
    let mut ci = BTreeMap::new();
    let mut basis = BTreeMap::new();
    for name in [names::MAE, names::MEAN_PREDICTION, names::MEAN_LABEL] {
        metrics.push(name, summary.metrics.get(name));
        if let Some(b) = summary.basis.get(name) {
            basis.insert(name.to_string(), *b);
            if let Basis::Mean { n, mean, sd } = b
                && let Some(interval) = mean_interval(*n, *mean, *sd, Z95)
            {
                ci.insert(name.to_string(), interval);
            }
        }
    }
    (metrics, ci, basis)
}

/// The judged groups' extreme values of a metric: (max index, min index).
fn extremes(groups: &[&GroupEntry], metric: &str) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (i, g) in groups.iter().enumerate() {
        let Some(v) = g.metrics.get(metric) else {
            continue;
        };
        best = Some(match best {
            None => (i, i),
            Some((hi, lo)) => {
                let value = |j: usize| groups[j].metrics.get(metric).unwrap_or(f64::NAN);
                (
                    if v > value(hi) { i } else { hi },
                    if v < value(lo) { i } else { lo },
                )
            }
        });
    }
    best
}

/// One metric's spread: (difference, ratio, interval, extreme groups).
type Spread = Option<(f64, Option<f64>, Option<[f64; 2]>, Extremes)>;

fn record(out: &mut Disparities, name: &str, spread: &Spread) {
    match spread {
        Some((diff, _, interval, extremes)) => {
            out.values.push(name, Some(*diff));
            if let Some(i) = interval {
                out.ci.insert(name.to_string(), *i);
            }
            out.extremes.insert(name.to_string(), extremes.clone());
        }
        None => out.values.push(name, None),
    }
}

/// Disparities between the judged groups of one grouping.
pub fn disparities(groups: &[&GroupEntry], task: Task, predictions: bool) -> Disparities {
    let judged: Vec<&GroupEntry> = groups.iter().copied().filter(|g| !g.insufficient).collect();
    let mut out = Disparities {
        groups: judged.len(),
        ..Disparities::default()
    };
    if judged.len() < 2 {
        return out;
    }
    let rate_of = |g: &GroupEntry, metric: &str| -> Option<(u64, u64)> {
        match g.basis.get(metric) {
            Some(Basis::Proportion { successes, trials }) if *trials > 0 => {
                Some((*successes, *trials))
            }
            _ => None,
        }
    };
    // (difference, ratio, interval, extremes) of one metric.
    let spread = |metric: &str| -> Spread {
        let (hi, lo) = extremes(&judged, metric)?;
        let max = judged[hi].metrics.get(metric)?;
        let min = judged[lo].metrics.get(metric)?;
        let ratio = (max != 0.0).then(|| min / max);
        let interval = match task {
            Task::Regression => {
                let mean = |g: &GroupEntry| match g.basis.get(metric) {
                    Some(Basis::Mean { n, sd, .. }) if *n >= 2 => Some(sd * sd / *n as f64),
                    _ => None,
                };
                mean(judged[hi]).zip(mean(judged[lo])).map(|(a, b)| {
                    let half = Z95 * (a + b).sqrt();
                    [max - min - half, max - min + half]
                })
            }
            _ => {
                let (s1, n1) = rate_of(judged[hi], metric)?;
                let (s2, n2) = rate_of(judged[lo], metric)?;
                newcombe(s1, n1, s2, n2, Z95)
            }
        };
        let extremes = Extremes {
            max: judged[hi].group.clone(),
            min: judged[lo].group.clone(),
        };
        Some((max - min, ratio, interval, extremes))
    };
    match task {
        Task::Regression => {
            let mae = spread(names::MAE);
            let mean_prediction = spread(names::MEAN_PREDICTION);
            record(&mut out, names::MAE_DIFFERENCE, &mae);
            record(
                &mut out,
                names::MEAN_PREDICTION_DIFFERENCE,
                &mean_prediction,
            );
        }
        _ if predictions => {
            let selection = spread(names::SELECTION_RATE);
            let tpr = spread(names::TPR);
            let fpr = spread(names::FPR);
            record(&mut out, names::DEMOGRAPHIC_PARITY_DIFFERENCE, &selection);
            let dp_ratio = selection.as_ref().and_then(|s| s.1);
            out.values.push(names::DEMOGRAPHIC_PARITY_RATIO, dp_ratio);
            // Equalized odds: the worse of the TPR and FPR gaps.
            let worst = match (&tpr, &fpr) {
                (Some(t), Some(f)) => Some(if f.0 > t.0 { f.clone() } else { t.clone() }),
                (Some(t), None) => Some(t.clone()),
                (None, Some(f)) => Some(f.clone()),
                (None, None) => None,
            };
            record(&mut out, names::EQUALIZED_ODDS_DIFFERENCE, &worst);
            let ratios: Vec<f64> = [&tpr, &fpr]
                .iter()
                .filter_map(|s| s.as_ref().and_then(|s| s.1))
                .collect();
            out.values.push(
                names::EQUALIZED_ODDS_RATIO,
                (!ratios.is_empty()).then(|| ratios.iter().copied().fold(f64::INFINITY, f64::min)),
            );
            record(&mut out, names::EQUAL_OPPORTUNITY_DIFFERENCE, &tpr);
            out.values.push(
                names::EQUAL_OPPORTUNITY_RATIO,
                tpr.as_ref().and_then(|s| s.1),
            );
            out.four_fifths_rule = dp_ratio.map(|r| r >= 0.8);
        }
        _ => {}
    }
    out
}
