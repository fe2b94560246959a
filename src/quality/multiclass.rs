//! The state of a multiclass classifier's quality, and its metrics.
//!
//! # Definitions (scikit-learn 1.9)
//!
//! The classes of the class metrics are those seen as labels or
//! predictions (scikit-learn's `unique_labels(y_true, y_pred)`), in
//! [`ClassValue`] order.
//!
//! - accuracy; balanced_accuracy (mean recall over classes with labelled
//!   rows, as `balanced_accuracy_score`);
//! - precision / recall / f1 with `average` macro, micro and weighted
//!   (`precision_score(..., average=...)`), per-class values 0 when their
//!   denominator is 0 (`zero_division` at its default);
//! - with one score column per class: roc_auc (one-vs-rest, macro, and
//!   `roc_auc_weighted` by prevalence: `roc_auc_score(y, P,
//!   multi_class="ovr", average=...)`), average_precision (macro over the
//!   binarized labels: `average_precision_score(label_binarize(y), P)`),
//!   log_loss (`log_loss(y, P, labels=classes)`: probabilities clipped to
//!   `[ε, 1 − ε]`, not renormalized, as scikit-learn 1.9), brier
//!   (`brier_score_loss(y, P, labels=classes)`: the mean over rows of
//!   `Σ_c (1[y = c] − p_c)²`, in [0, 2], not halved) and the top-label ECE
//!   ([`super::calibration`]). Without a prediction column the predicted
//!   class is the arg-max of the scores, the first column winning ties.
//!   ROC AUC and average precision average over the score classes that
//!   have both labelled positives and negatives (scikit-learn refuses, or
//!   counts an AP of 0, when a class has no labelled rows).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::calibration::CalibrationBins;
use super::class_value::ClassValue;
use super::columns::{BatchRows, BatchScores, ClassColumn, NULL_CODE, Truth};
use super::intervals::{Z95, mean_interval, wilson};
use super::ranking::{ScoreHistogram, rank};
use super::report::{Basis, ConfusionMatrix, Metrics, RankingInfo, Summary, names};
use super::serde_map;
use super::sums::Sum;
use super::{QualityError, QualitySpec};

/// One class's scores, split by whether the row's label is that class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OneVsRest {
    pub positives: ScoreHistogram,
    pub negatives: ScoreHistogram,
}

/// A multiclass classifier's quality state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MulticlassState {
    /// The classes of the score columns, in column order (empty without
    /// scores, or until a list column's first row for undeclared classes).
    pub score_classes: Vec<ClassValue>,
    #[serde(with = "serde_map")]
    pub labels: BTreeMap<ClassValue, u64>,
    /// (label, predicted) → rows.
    #[serde(with = "serde_map")]
    pub confusion: BTreeMap<(ClassValue, ClassValue), u64>,
    /// Per score class.
    pub one_vs_rest: Vec<OneVsRest>,
    /// Rows with scores.
    pub scored: u64,
    /// Σ −ln(clip(p_label)) and Σ of its square.
    pub log_loss: [Sum; 2],
    /// Σ_c (1[y = c] − p_c)² per row, summed, and Σ of its square.
    pub brier: [Sum; 2],
    /// Top-label calibration: max probability, hit = arg-max is the label.
    pub top_label: CalibrationBins,
}

impl MulticlassState {
    pub fn new(spec: &QualitySpec) -> Self {
        let score_classes = match &spec.scores {
            super::ScoreColumns::PerClass(pairs) => {
                pairs.iter().map(|(c, _)| ClassValue::new(c)).collect()
            }
            super::ScoreColumns::List(_) => spec
                .classes
                .as_ref()
                .map(|c| c.iter().map(ClassValue::new).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let one_vs_rest = vec![OneVsRest::default(); score_classes.len()];
        Self {
            score_classes,
            one_vs_rest,
            ..Self::default()
        }
    }

    fn score_classes_for(&self, rows: &BatchRows) -> Vec<ClassValue> {
        match &rows.scores {
            BatchScores::Matrix { k, .. } if self.score_classes.is_empty() => {
                (0..*k as i64).map(ClassValue::from_i64).collect()
            }
            _ => self.score_classes.clone(),
        }
    }

    /// Checks `selection` of `rows`: declared classes, and with scores,
    /// labels among the score classes.
    pub fn check(
        &self,
        rows: &BatchRows,
        selection: &[u32],
        spec: &QualitySpec,
    ) -> Result<(), QualityError> {
        let Truth::Classes(labels) = &rows.label else {
            return Err(QualityError::Spec(
                "multiclass labels must be classes".into(),
            ));
        };
        let declared: Option<BTreeSet<ClassValue>> = spec
            .classes
            .as_ref()
            .map(|c| c.iter().map(ClassValue::new).collect());
        let score_classes = self.score_classes_for(rows);
        if let BatchScores::Matrix { k, .. } = &rows.scores
            && *k != score_classes.len()
            && !selection.is_empty()
        {
            return Err(QualityError::Spec(format!(
                "the scores have {k} classes, but {} were expected",
                score_classes.len()
            )));
        }
        let scored: BTreeSet<&ClassValue> = score_classes.iter().collect();
        let mut columns = vec![(labels, spec.label.as_str(), true)];
        if let Some(Truth::Classes(p)) = &rows.prediction {
            columns.push((p, spec.prediction.as_deref().unwrap_or(""), false));
        }
        for (column, name, is_label) in columns {
            for &row in selection {
                let Some(class) = column.class(row as usize) else {
                    continue;
                };
                if let Some(d) = &declared
                    && !d.contains(class)
                {
                    return Err(QualityError::row(
                        row as usize,
                        name,
                        format!("`{class}` is not one of the declared classes"),
                    ));
                }
                if is_label && !scored.is_empty() && !scored.contains(class) {
                    return Err(QualityError::row(
                        row as usize,
                        name,
                        format!(
                            "the label `{class}` has no score column (score classes: {})",
                            score_classes
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Counts `selection` of `rows` (already checked).
    pub fn apply(&mut self, rows: &BatchRows, selection: &[u32]) {
        let Truth::Classes(labels) = &rows.label else {
            return;
        };
        if self.score_classes.is_empty()
            && let BatchScores::Matrix { k, .. } = &rows.scores
            && *k > 0
        {
            self.score_classes = self.score_classes_for(rows);
            self.one_vs_rest = vec![OneVsRest::default(); *k];
        }
        // Batch label code → score column index.
        let index: HashMap<&ClassValue, usize> = self
            .score_classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c, i))
            .collect();
        let label_index: Vec<Option<usize>> = labels
            .classes
            .iter()
            .map(|c| index.get(c).copied())
            .collect();
        let prediction = match &rows.prediction {
            Some(Truth::Classes(p)) => Some(p),
            _ => None,
        };
        let mut label_counts = vec![0u64; labels.classes.len()];
        let mut confusion: HashMap<(u32, PredCode), u64> = HashMap::new();
        let k = self.score_classes.len();
        let mut pos_scores: Vec<Vec<f64>> = vec![Vec::new(); k];
        let mut neg_scores: Vec<Vec<f64>> = vec![Vec::new(); k];
        for &row in selection {
            let r = row as usize;
            let code = labels.codes[r];
            if code == NULL_CODE {
                continue;
            }
            label_counts[code as usize] += 1;
            let scores = match &rows.scores {
                BatchScores::Matrix { k, values } if *k > 0 => Some(&values[r * k..(r + 1) * k]),
                _ => None,
            };
            let argmax = scores.map(|p| {
                let mut best = 0;
                for j in 1..p.len() {
                    if p[j] > p[best] {
                        best = j;
                    }
                }
                best
            });
            let pred = match (prediction, argmax) {
                (Some(p), _) => Some(PredCode::Column(p.codes[r])),
                (None, Some(j)) => Some(PredCode::Score(j)),
                _ => None,
            };
            if let Some(pred) = pred {
                *confusion.entry((code, pred)).or_default() += 1;
            }
            if let (Some(p), Some(best), Some(truth)) = (scores, argmax, label_index[code as usize])
            {
                self.scored += 1;
                let clip = p[truth].clamp(
                    super::binary::LOG_LOSS_EPS,
                    1.0 - super::binary::LOG_LOSS_EPS,
                );
                let loss = -clip.ln();
                self.log_loss[0].add(loss);
                self.log_loss[1].add(loss * loss);
                let mut brier = 0.0;
                for (j, &pj) in p.iter().enumerate() {
                    let y = if j == truth { 1.0 } else { 0.0 };
                    brier += (y - pj) * (y - pj);
                    if j == truth {
                        pos_scores[j].push(pj);
                    } else {
                        neg_scores[j].push(pj);
                    }
                }
                self.brier[0].add(brier);
                self.brier[1].add(brier * brier);
                self.top_label.add(p[best], best == truth);
            }
        }
        for (code, n) in label_counts.iter().enumerate() {
            if *n > 0 {
                *self.labels.entry(labels.classes[code].clone()).or_default() += n;
            }
        }
        for ((code, pred), n) in confusion {
            let predicted = match pred {
                PredCode::Column(c) => class_of(prediction, c),
                PredCode::Score(j) => Some(self.score_classes[j].clone()),
            };
            if let Some(predicted) = predicted {
                *self
                    .confusion
                    .entry((labels.classes[code as usize].clone(), predicted))
                    .or_default() += n;
            }
        }
        for j in 0..k {
            self.one_vs_rest[j].positives.add_all(&mut pos_scores[j]);
            self.one_vs_rest[j].negatives.add_all(&mut neg_scores[j]);
        }
    }

    pub fn merge(&mut self, other: &MulticlassState) -> Result<(), QualityError> {
        if self.score_classes.is_empty() && !other.score_classes.is_empty() {
            self.score_classes = other.score_classes.clone();
            self.one_vs_rest = vec![OneVsRest::default(); other.score_classes.len()];
        }
        if !other.score_classes.is_empty() && other.score_classes != self.score_classes {
            return Err(QualityError::Merge(format!(
                "score classes differ ({} vs {})",
                self.score_classes.len(),
                other.score_classes.len()
            )));
        }
        for (k, v) in &other.labels {
            *self.labels.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.confusion {
            *self.confusion.entry(k.clone()).or_default() += v;
        }
        for (mine, theirs) in self.one_vs_rest.iter_mut().zip(&other.one_vs_rest) {
            mine.positives.merge(&theirs.positives);
            mine.negatives.merge(&theirs.negatives);
        }
        self.scored += other.scored;
        for i in 0..2 {
            self.log_loss[i].merge(&other.log_loss[i]);
            self.brier[i].merge(&other.brier[i]);
        }
        self.top_label.merge(&other.top_label);
        Ok(())
    }

    /// The classes of the class metrics: seen as labels or predictions.
    pub fn classes(&self) -> Vec<ClassValue> {
        let mut out: BTreeSet<ClassValue> = self.labels.keys().cloned().collect();
        for (_, p) in self.confusion.keys() {
            out.insert(p.clone());
        }
        out.into_iter().collect()
    }

    pub fn finish(&self) -> Summary {
        let classes = self.classes();
        let n: u64 = self.labels.values().sum();
        let mut out = Summary {
            labelled: n,
            ..Summary::default()
        };
        let mut metrics = Metrics::default();
        let mut notes = Vec::new();
        let index: HashMap<&ClassValue, usize> =
            classes.iter().enumerate().map(|(i, c)| (c, i)).collect();
        let m = classes.len();
        let mut matrix = vec![vec![0u64; m]; m];
        for ((label, pred), count) in &self.confusion {
            matrix[index[label]][index[pred]] += count;
        }
        let predicted_rows: u64 = self.confusion.values().sum();
        if predicted_rows > 0 {
            let tp: Vec<u64> = (0..m).map(|i| matrix[i][i]).collect();
            let support: Vec<u64> = (0..m).map(|i| matrix[i].iter().sum()).collect();
            let predicted: Vec<u64> = (0..m).map(|j| (0..m).map(|i| matrix[i][j]).sum()).collect();
            let correct: u64 = tp.iter().sum();
            let div = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let precision: Vec<f64> = (0..m).map(|i| div(tp[i], predicted[i])).collect();
            let recall: Vec<f64> = (0..m).map(|i| div(tp[i], support[i])).collect();
            let f1: Vec<f64> = (0..m)
                .map(|i| div(2 * tp[i], support[i] + predicted[i]))
                .collect();
            if (0..m).any(|i| predicted[i] == 0) {
                notes.push("some classes were never predicted: their precision is 0/0, counted as 0 (scikit-learn's zero_division)".into());
            }
            if (0..m).any(|i| support[i] == 0) {
                notes.push("some predicted classes never occur as labels: their recall is 0/0, counted as 0 (scikit-learn's zero_division)".into());
            }
            let macro_avg = |v: &[f64]| v.iter().sum::<f64>() / m as f64;
            let total_support: u64 = support.iter().sum();
            let weighted = |v: &[f64]| {
                (0..m).map(|i| v[i] * support[i] as f64).sum::<f64>() / total_support as f64
            };
            let supported: Vec<f64> = (0..m)
                .filter(|&i| support[i] > 0)
                .map(|i| recall[i])
                .collect();
            let accuracy = correct as f64 / predicted_rows as f64;
            let micro_p = div(correct, predicted.iter().sum());
            let micro_r = div(correct, total_support);
            metrics.push(names::ACCURACY, Some(accuracy));
            metrics.push(
                names::BALANCED_ACCURACY,
                (!supported.is_empty())
                    .then(|| supported.iter().sum::<f64>() / supported.len() as f64),
            );
            metrics.push(names::PRECISION_MACRO, Some(macro_avg(&precision)));
            metrics.push(names::RECALL_MACRO, Some(macro_avg(&recall)));
            metrics.push(names::F1_MACRO, Some(macro_avg(&f1)));
            metrics.push(names::PRECISION_MICRO, Some(micro_p));
            metrics.push(names::RECALL_MICRO, Some(micro_r));
            metrics.push(
                names::F1_MICRO,
                Some(div(
                    2 * correct,
                    predicted.iter().sum::<u64>() + total_support,
                )),
            );
            metrics.push(names::PRECISION_WEIGHTED, Some(weighted(&precision)));
            metrics.push(names::RECALL_WEIGHTED, Some(weighted(&recall)));
            metrics.push(names::F1_WEIGHTED, Some(weighted(&f1)));
            out.basis.insert(
                names::ACCURACY.into(),
                Basis::Proportion {
                    successes: correct,
                    trials: predicted_rows,
                },
            );
            if let Some(ci) = wilson(correct, predicted_rows, Z95) {
                out.intervals.insert(names::ACCURACY.into(), ci);
            }
            out.confusion_matrix = Some(ConfusionMatrix {
                labels: classes.iter().map(ToString::to_string).collect(),
                matrix,
            });
        }
        if self.scored > 0 {
            let mut aucs = Vec::new();
            let mut aps = Vec::new();
            let mut exact = true;
            let (mut auc_bound, mut ap_bound) = (0.0, 0.0);
            for ovr in &self.one_vs_rest {
                let r = rank(&ovr.positives, &ovr.negatives);
                exact &= r.exact;
                if let Some(auc) = r.roc_auc {
                    aucs.push((auc, r.positives));
                    auc_bound += r.roc_auc_error_bound;
                }
                if let (Some(ap), true) = (r.average_precision, r.negatives > 0) {
                    aps.push(ap);
                    ap_bound += r.average_precision_error_bound;
                }
            }
            if aucs.len() < self.score_classes.len() {
                notes.push("roc_auc and average_precision average over the classes with labelled rows of both kinds only".into());
            }
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let auc_values: Vec<f64> = aucs.iter().map(|a| a.0).collect();
            let weight: u64 = aucs.iter().map(|a| a.1).sum();
            metrics.push(names::ROC_AUC, mean(&auc_values));
            metrics.push(
                names::ROC_AUC_WEIGHTED,
                (weight > 0)
                    .then(|| aucs.iter().map(|(a, w)| a * *w as f64).sum::<f64>() / weight as f64),
            );
            metrics.push(names::AVERAGE_PRECISION, mean(&aps));
            let s = self.scored as f64;
            let summary = |sums: &[Sum; 2]| {
                let mean = sums[0].value() / s;
                let var = if self.scored > 1 {
                    ((sums[1].value() - s * mean * mean) / (s - 1.0)).max(0.0)
                } else {
                    f64::NAN
                };
                (mean, var.sqrt())
            };
            let (log_loss, log_sd) = summary(&self.log_loss);
            let (brier, brier_sd) = summary(&self.brier);
            metrics.push(names::LOG_LOSS, Some(log_loss));
            metrics.push(names::BRIER, Some(brier));
            let calibration = self.top_label.curve();
            metrics.push(names::ECE, calibration.ece);
            out.calibration = Some(calibration);
            out.ranking = Some(RankingInfo {
                exact,
                roc_auc_error_bound: if auc_values.is_empty() {
                    0.0
                } else {
                    auc_bound / auc_values.len() as f64
                },
                average_precision_error_bound: if aps.is_empty() {
                    0.0
                } else {
                    ap_bound / aps.len() as f64
                },
            });
            for (name, mean, sd) in [
                (names::LOG_LOSS, log_loss, log_sd),
                (names::BRIER, brier, brier_sd),
            ] {
                if self.scored >= 2 {
                    out.basis.insert(
                        name.into(),
                        Basis::Mean {
                            n: self.scored,
                            mean,
                            sd,
                        },
                    );
                    if let Some(ci) = mean_interval(self.scored, mean, sd, Z95) {
                        out.intervals.insert(name.into(), ci);
                    }
                }
            }
        }
        // Class shares: what label drift compares.
        for (class, count) in &self.labels {
            let name = format!("{}{class}", names::CLASS_SHARE_PREFIX);
            out.basis.insert(
                name,
                Basis::Proportion {
                    successes: *count,
                    trials: n,
                },
            );
        }
        out.metrics = metrics;
        out.notes = notes;
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PredCode {
    /// A code of the prediction column.
    Column(u32),
    /// A score column index (arg-max).
    Score(usize),
}

fn class_of(column: Option<&ClassColumn>, code: u32) -> Option<ClassValue> {
    column.and_then(|c| c.classes.get(code as usize).cloned())
}
