//! Holdout metrics through the quality library: the model's predictions on
//! labelled rows go through the same accumulator as `assay quality`, so a
//! trained model's ROC AUC, log loss or RMSE is the number `assay quality`
//! would print for its predictions.

use arrow::array::RecordBatch;

use super::TrainError;
use super::saved::SavedModel;
use super::target::TargetSpec;
use crate::quality::{QualityAccumulator, QualityReport, QualitySpec, ScoreColumns};

/// The quality spec that reads a model's prediction columns.
pub fn quality_spec(target: &TargetSpec) -> QualitySpec {
    let label = target.label().to_string();
    let scores = match target {
        TargetSpec::Binary { .. } => ScoreColumns::Single("score".into()),
        TargetSpec::Multiclass { classes, .. } => ScoreColumns::PerClass(
            classes
                .iter()
                .map(|c| (c.clone(), format!("score_{c}")))
                .collect(),
        ),
        TargetSpec::Regression { .. } => ScoreColumns::None,
    };
    let (positive, classes) = match target {
        TargetSpec::Binary {
            positive, classes, ..
        } => (Some(positive.clone()), Some(classes.to_vec())),
        TargetSpec::Multiclass { classes, .. } => (None, Some(classes.clone())),
        TargetSpec::Regression { .. } => (None, None),
    };
    QualitySpec {
        prediction: Some("prediction".into()),
        scores,
        positive,
        classes,
        ..QualitySpec::new(label)
    }
}

/// `model`'s quality on labelled rows (`assay quality`'s report).
pub fn evaluate(
    model: &SavedModel,
    labelled: &RecordBatch,
    source_name: &str,
) -> Result<QualityReport, TrainError> {
    let target = &model.card.target;
    let label = target.label();
    let truth = labelled
        .column_by_name(label)
        .ok_or_else(|| TrainError::MissingColumn {
            source_name: source_name.to_string(),
            column: label.to_string(),
            what: "the label".into(),
            available: String::new(),
        })?
        .clone();
    let prediction = model.predict(labelled, source_name)?;
    let mut columns = vec![(label.to_string(), truth)];
    columns.push(("prediction".into(), prediction.prediction.clone()));
    columns.extend(prediction.scores.iter().cloned());
    let batch = RecordBatch::try_from_iter(columns)?;
    let mut acc = QualityAccumulator::new(&quality_spec(target), target.task())?;
    acc.update(&batch)?;
    Ok(acc.finish())
}
