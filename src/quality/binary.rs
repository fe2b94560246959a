//! The state of a binary classifier's quality, and its metrics.
//!
//! Which class is positive is decided at `finish`, not at `update`: with
//! string labels the default ("the last of the two classes") needs both
//! classes, and a window may have seen only one. So the state keeps
//! everything per *label class*: rows, predictions, and for the scores a
//! histogram, the calibration bins and the loss sums each class would
//! contribute as positive or as negative. Any order of updates and merges
//! then gives the same metrics.
//!
//! # Definitions (scikit-learn 1.9, `pos_label` = the positive class)
//!
//! - accuracy, balanced_accuracy (mean recall over classes with labelled
//!   rows), precision, recall, f1: `accuracy_score`, ... `f1_score` with
//!   `zero_division` at its default: 0 when the denominator is 0 (a note
//!   says which metric was undefined).
//! - roc_auc, average_precision: see [`super::ranking`]; `null` when one
//!   class is missing (scikit-learn: NaN for ROC AUC, 0 for AP, with a
//!   warning).
//! - log_loss: `log_loss(y, p, labels=[neg, pos])`: scores clipped to
//!   `[ε, 1 − ε]` with ε = `f64::EPSILON` (scikit-learn 1.9 clips by the
//!   dtype's machine epsilon; 1.3 and earlier used 1e-15), the negative
//!   class's probability clipped as `1 − s`.
//! - brier: `brier_score_loss(y, p, pos_label=pos)`: mean `(y − s)²`.
//! - ece and the calibration curve: [`super::calibration`].
//! - base_rate: share of labels that are positive; positive_prediction_rate:
//!   share of predictions that are positive.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::calibration::CalibrationBins;
use super::class_value::{ClassValue, positive_class};
use super::columns::{BatchRows, BatchScores, NULL_CODE, Truth};
use super::intervals::{Z95, mean_interval, wilson};
use super::ranking::{ScoreHistogram, rank};
use super::report::{Basis, ConfusionMatrix, Metrics, RankingInfo, Summary, names};
use super::serde_map;
use super::sums::Sum;
use super::{QualityError, QualitySpec};

/// What a row's prediction was.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predicted {
    /// From the prediction column.
    Class(ClassValue),
    /// From the score: at or above the threshold (the positive class) or not.
    Thresholded(bool),
}

/// The scores of the rows of one label class, with what they would
/// contribute to the losses if that class were positive or negative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    pub histogram: ScoreHistogram,
    /// Rows and score sums per calibration bin (`hits` unused: decided at finish).
    pub calibration: CalibrationBins,
    /// Σ −ln(clip(s)) and Σ of its square (log loss as positive rows).
    pub loss_as_positive: [Sum; 2],
    /// Σ −ln(clip(1 − s)) and Σ of its square (as negative rows).
    pub loss_as_negative: [Sum; 2],
    /// Σ (1 − s)² and Σ (1 − s)⁴ (Brier as positive rows).
    pub brier_as_positive: [Sum; 2],
    /// Σ s² and Σ s⁴ (as negative rows).
    pub brier_as_negative: [Sum; 2],
}

/// scikit-learn's clip of probabilities before the log: the dtype's epsilon.
pub const LOG_LOSS_EPS: f64 = f64::EPSILON;

impl LabelScores {
    fn add_row(&mut self, s: f64) {
        let clip = |p: f64| p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
        let lp = -clip(s).ln();
        let ln = -clip(1.0 - s).ln();
        self.loss_as_positive[0].add(lp);
        self.loss_as_positive[1].add(lp * lp);
        self.loss_as_negative[0].add(ln);
        self.loss_as_negative[1].add(ln * ln);
        let bp = (1.0 - s) * (1.0 - s);
        let bn = s * s;
        self.brier_as_positive[0].add(bp);
        self.brier_as_positive[1].add(bp * bp);
        self.brier_as_negative[0].add(bn);
        self.brier_as_negative[1].add(bn * bn);
        self.calibration.add(s, false);
    }

    fn merge(&mut self, other: &LabelScores) {
        self.histogram.merge(&other.histogram);
        self.calibration.merge(&other.calibration);
        for i in 0..2 {
            self.loss_as_positive[i].merge(&other.loss_as_positive[i]);
            self.loss_as_negative[i].merge(&other.loss_as_negative[i]);
            self.brier_as_positive[i].merge(&other.brier_as_positive[i]);
            self.brier_as_negative[i].merge(&other.brier_as_negative[i]);
        }
    }
}

/// A binary classifier's quality state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BinaryState {
    /// Label class → labelled rows.
    #[serde(with = "serde_map")]
    pub labels: BTreeMap<ClassValue, u64>,
    /// (label, prediction) → rows (empty without prediction and score).
    #[serde(with = "serde_map")]
    pub confusion: BTreeMap<(ClassValue, Predicted), u64>,
    /// Label class → its rows' scores (empty without a score column).
    #[serde(with = "serde_map")]
    pub scores: BTreeMap<ClassValue, LabelScores>,
}

/// The row's prediction per the spec: the prediction column's class, or
/// the thresholded score.
fn predicted(rows: &BatchRows, row: usize, threshold: f64) -> Option<Predicted> {
    match (&rows.prediction, &rows.scores) {
        (Some(Truth::Classes(p)), _) => p.class(row).cloned().map(Predicted::Class),
        (None, BatchScores::Single(s)) => Some(Predicted::Thresholded(s[row] >= threshold)),
        _ => None,
    }
}

impl BinaryState {
    /// The classes this state knows (labels, predicted classes).
    pub fn classes(&self) -> BTreeSet<ClassValue> {
        let mut out: BTreeSet<ClassValue> = self.labels.keys().cloned().collect();
        for (_, p) in self.confusion.keys() {
            if let Predicted::Class(c) = p {
                out.insert(c.clone());
            }
        }
        out
    }

    /// Checks that `selection` of `rows` keeps the task binary (and within
    /// the declared classes); the first row bringing a class too many is
    /// the error.
    pub fn check(
        &self,
        rows: &BatchRows,
        selection: &[u32],
        spec: &QualitySpec,
    ) -> Result<(), QualityError> {
        let Truth::Classes(labels) = &rows.label else {
            return Err(QualityError::Spec("binary labels must be classes".into()));
        };
        let declared: Option<BTreeSet<ClassValue>> = spec
            .classes
            .as_ref()
            .map(|c| c.iter().map(ClassValue::new).collect());
        let mut known = self.classes();
        if let Some(d) = &declared {
            known.extend(d.iter().cloned());
        }
        let prediction = match &rows.prediction {
            Some(Truth::Classes(p)) => Some((p, spec.prediction.as_deref().unwrap_or(""))),
            _ => None,
        };
        for &row in selection {
            let r = row as usize;
            let mut candidates = vec![(labels.class(r), spec.label.as_str())];
            if let Some((p, name)) = prediction {
                candidates.push((p.class(r), name));
            }
            for (class, column) in candidates {
                let Some(class) = class else { continue };
                if let Some(d) = &declared
                    && !d.contains(class)
                {
                    return Err(QualityError::row(
                        r,
                        column,
                        format!(
                            "`{class}` is not one of the declared classes ({})",
                            join(d.iter())
                        ),
                    ));
                }
                if !known.contains(class) {
                    if known.len() >= 2 {
                        return Err(QualityError::row(
                            r,
                            column,
                            format!(
                                "`{class}` is a third class (after {}); a binary task has two (is the task multiclass?)",
                                join(known.iter())
                            ),
                        ));
                    }
                    known.insert(class.clone());
                }
            }
        }
        Ok(())
    }

    /// Counts `selection` of `rows` (already checked); `with_scores: false`
    /// keeps only the counts (fairness groups need no score statistics).
    pub fn apply(
        &mut self,
        rows: &BatchRows,
        selection: &[u32],
        threshold: f64,
        with_scores: bool,
    ) {
        let Truth::Classes(labels) = &rows.label else {
            return;
        };
        let k = labels.classes.len();
        let mut label_counts = vec![0u64; k];
        let mut confusion: BTreeMap<(u32, Predicted), u64> = BTreeMap::new();
        let mut per_label_scores: Vec<Vec<f64>> = vec![Vec::new(); k];
        let scores = match &rows.scores {
            BatchScores::Single(s) if with_scores => Some(s),
            _ => None,
        };
        for &row in selection {
            let r = row as usize;
            let code = labels.codes[r];
            if code == NULL_CODE {
                continue;
            }
            label_counts[code as usize] += 1;
            if let Some(p) = predicted(rows, r, threshold) {
                *confusion.entry((code, p)).or_default() += 1;
            }
            if let Some(s) = scores {
                per_label_scores[code as usize].push(s[r]);
            }
        }
        for (code, n) in label_counts.iter().enumerate() {
            if *n > 0 {
                *self.labels.entry(labels.classes[code].clone()).or_default() += n;
            }
        }
        for ((code, p), n) in confusion {
            *self
                .confusion
                .entry((labels.classes[code as usize].clone(), p))
                .or_default() += n;
        }
        for (code, mut s) in per_label_scores.into_iter().enumerate() {
            if s.is_empty() {
                continue;
            }
            let entry = self.scores.entry(labels.classes[code].clone()).or_default();
            for &v in &s {
                entry.add_row(v);
            }
            entry.histogram.add_all(&mut s);
        }
    }

    /// Merges `other`; an error when together they have more than two classes.
    pub fn merge(&mut self, other: &BinaryState) -> Result<(), QualityError> {
        let mut classes = self.classes();
        classes.extend(other.classes());
        if classes.len() > 2 {
            return Err(QualityError::Merge(format!(
                "together the states have {} classes ({}); a binary task has two",
                classes.len(),
                join(classes.iter())
            )));
        }
        for (k, v) in &other.labels {
            *self.labels.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.confusion {
            *self.confusion.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.scores {
            self.scores.entry(k.clone()).or_default().merge(v);
        }
        Ok(())
    }

    /// The two classes (declared ones included), the positive one and the
    /// negative one. The negative class is named even when unseen: `0` for
    /// numbers, `false` for booleans, else `not <positive>`.
    pub fn resolve(&self, spec: &QualitySpec) -> Resolved {
        let mut classes = self.classes();
        if let Some(d) = &spec.classes {
            classes.extend(d.iter().map(ClassValue::new));
        }
        let sorted: Vec<ClassValue> = classes.into_iter().collect();
        let positive = positive_class(&sorted, spec.positive.as_deref())
            .unwrap_or_else(|| ClassValue::from_i64(1));
        let negative = sorted
            .iter()
            .find(|c| **c != positive)
            .cloned()
            .unwrap_or_else(|| match positive.as_str() {
                "true" => ClassValue::from_bool(false),
                _ if positive.number().is_some() => ClassValue::from_i64(0),
                other => ClassValue::new(format!("not {other}")),
            });
        let mut classes = vec![negative.clone(), positive.clone()];
        classes.sort();
        Resolved {
            classes,
            positive,
            negative,
        }
    }

    /// The finished quality for `resolved` classes.
    pub fn finish(&self, spec: &QualitySpec, resolved: &Resolved) -> Summary {
        let pos = &resolved.positive;
        let n: u64 = self.labels.values().sum();
        let positives = self.labels.get(pos).copied().unwrap_or(0);
        let mut out = Summary {
            labelled: n,
            ..Summary::default()
        };
        let mut metrics = Metrics::default();
        let mut notes = Vec::new();

        // Confusion counts.
        let is_positive_prediction = |p: &Predicted| match p {
            Predicted::Class(c) => c == pos,
            Predicted::Thresholded(b) => *b,
        };
        let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
        for ((label, p), count) in &self.confusion {
            match (label == pos, is_positive_prediction(p)) {
                (true, true) => tp += count,
                (false, true) => fp += count,
                (false, false) => tn += count,
                (true, false) => fn_ += count,
            }
        }
        let predicted_rows = tp + fp + tn + fn_;
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let zero_division = |a: u64, b: u64, name: &str, notes: &mut Vec<String>| {
            ratio(a, b).or_else(|| {
                notes.push(format!(
                    "{name} is undefined (0/0); reported as 0 as scikit-learn's zero_division does"
                ));
                Some(0.0)
            })
        };
        if predicted_rows > 0 {
            let accuracy = ratio(tp + tn, predicted_rows);
            // Balanced accuracy: mean recall over classes with labelled rows.
            let recalls: Vec<f64> = [(tp, tp + fn_), (tn, tn + fp)]
                .iter()
                .filter(|(_, support)| *support > 0)
                .map(|(hit, support)| *hit as f64 / *support as f64)
                .collect();
            let balanced =
                (!recalls.is_empty()).then(|| recalls.iter().sum::<f64>() / recalls.len() as f64);
            let precision = zero_division(tp, tp + fp, names::PRECISION, &mut notes);
            let recall = zero_division(tp, tp + fn_, names::RECALL, &mut notes);
            let f1 = zero_division(2 * tp, 2 * tp + fp + fn_, names::F1, &mut notes);
            metrics.push(names::ACCURACY, accuracy);
            metrics.push(names::BALANCED_ACCURACY, balanced);
            metrics.push(names::PRECISION, precision);
            metrics.push(names::RECALL, recall);
            metrics.push(names::F1, f1);
            let mut proportion = |name: &str, s: u64, t: u64| {
                if t > 0 {
                    out.basis.insert(
                        name.to_string(),
                        Basis::Proportion {
                            successes: s,
                            trials: t,
                        },
                    );
                    if let Some(ci) = wilson(s, t, Z95) {
                        out.intervals.insert(name.to_string(), ci);
                    }
                }
            };
            proportion(names::ACCURACY, tp + tn, predicted_rows);
            proportion(names::PRECISION, tp, tp + fp);
            proportion(names::RECALL, tp, tp + fn_);
            proportion(names::POSITIVE_PREDICTION_RATE, tp + fp, predicted_rows);
            let idx = |c: &ClassValue| usize::from(*c == resolved.classes[1]);
            let mut matrix = vec![vec![0u64; 2]; 2];
            matrix[idx(pos)][idx(pos)] = tp;
            matrix[idx(&resolved.negative)][idx(pos)] = fp;
            matrix[idx(&resolved.negative)][idx(&resolved.negative)] = tn;
            matrix[idx(pos)][idx(&resolved.negative)] = fn_;
            out.confusion_matrix = Some(ConfusionMatrix {
                labels: resolved.classes.iter().map(ToString::to_string).collect(),
                matrix,
            });
        }

        if !self.scores.is_empty() {
            let empty = LabelScores::default();
            let pos_scores = self.scores.get(pos).unwrap_or(&empty);
            let mut neg_scores = LabelScores::default();
            for (label, s) in &self.scores {
                if label != pos {
                    neg_scores.merge(s);
                }
            }
            let ranking = rank(&pos_scores.histogram, &neg_scores.histogram);
            let scored = ranking.positives + ranking.negatives;
            if ranking.roc_auc.is_none() {
                notes.push("roc_auc is undefined: the labels hold one class".into());
            }
            if ranking.average_precision.is_none() {
                notes.push("average_precision is undefined: no positive labels".into());
            }
            metrics.push(names::ROC_AUC, ranking.roc_auc);
            metrics.push(names::AVERAGE_PRECISION, ranking.average_precision);
            let mean_of = |a: [Sum; 2], b: [Sum; 2]| -> (f64, f64) {
                let total = a[0].value() + b[0].value();
                let squares = a[1].value() + b[1].value();
                let n = scored as f64;
                let mean = total / n;
                let var = if scored > 1 {
                    ((squares - n * mean * mean) / (n - 1.0)).max(0.0)
                } else {
                    f64::NAN
                };
                (mean, var.sqrt())
            };
            let (log_loss, log_sd) =
                mean_of(pos_scores.loss_as_positive, neg_scores.loss_as_negative);
            let (brier, brier_sd) =
                mean_of(pos_scores.brier_as_positive, neg_scores.brier_as_negative);
            metrics.push(names::LOG_LOSS, (scored > 0).then_some(log_loss));
            metrics.push(names::BRIER, (scored > 0).then_some(brier));
            let mut bins = CalibrationBins::default();
            bins.absorb(&pos_scores.calibration, true);
            bins.absorb(&neg_scores.calibration, false);
            let calibration = bins.curve();
            metrics.push(names::ECE, calibration.ece);
            out.calibration = Some(calibration);
            out.ranking = Some(RankingInfo {
                exact: ranking.exact,
                roc_auc_error_bound: ranking.roc_auc_error_bound,
                average_precision_error_bound: ranking.average_precision_error_bound,
            });
            if let (Some(auc), Some(var)) = (ranking.roc_auc, ranking.roc_auc_variance) {
                out.basis.insert(
                    names::ROC_AUC.into(),
                    Basis::Auc {
                        value: auc,
                        variance: var,
                        positives: ranking.positives,
                        negatives: ranking.negatives,
                    },
                );
                let half = Z95 * var.sqrt();
                out.intervals.insert(
                    names::ROC_AUC.into(),
                    [(auc - half).max(0.0), (auc + half).min(1.0)],
                );
            }
            for (name, mean, sd) in [
                (names::LOG_LOSS, log_loss, log_sd),
                (names::BRIER, brier, brier_sd),
            ] {
                if scored >= 2 {
                    out.basis.insert(
                        name.into(),
                        Basis::Mean {
                            n: scored,
                            mean,
                            sd,
                        },
                    );
                    if let Some(ci) = mean_interval(scored, mean, sd, Z95) {
                        out.intervals.insert(name.into(), ci);
                    }
                }
            }
        }

        metrics.push(names::BASE_RATE, ratio(positives, n));
        if n > 0 {
            out.basis.insert(
                names::BASE_RATE.into(),
                Basis::Proportion {
                    successes: positives,
                    trials: n,
                },
            );
            if let Some(ci) = wilson(positives, n, Z95) {
                out.intervals.insert(names::BASE_RATE.into(), ci);
            }
        }
        if predicted_rows > 0 {
            metrics.push(
                names::POSITIVE_PREDICTION_RATE,
                ratio(tp + fp, predicted_rows),
            );
            if let Some(ci) = wilson(tp + fp, predicted_rows, Z95) {
                out.intervals
                    .insert(names::POSITIVE_PREDICTION_RATE.into(), ci);
            }
        }
        if spec.positive.is_none() && self.classes().len() == 1 && spec.classes.is_none() {
            let only = self.classes().into_iter().next().map(|c| c.to_string());
            if let Some(only) = only
                && pos.number().is_none()
                && pos.as_str() != "true"
            {
                notes.push(format!(
                    "only one class (`{only}`) was seen, and it was taken as the positive class; name the positive class to be sure"
                ));
            }
        }
        notes.sort();
        notes.dedup();
        out.metrics = metrics;
        out.notes = notes;
        out
    }
}

/// The classes of a finished binary state.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Both classes, sorted.
    pub classes: Vec<ClassValue>,
    pub positive: ClassValue,
    pub negative: ClassValue,
}

fn join<'a>(classes: impl Iterator<Item = &'a ClassValue>) -> String {
    classes
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
