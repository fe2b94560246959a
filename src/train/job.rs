//! [`train`]: from rows in memory to a trained, evaluated model.
//!
//! 1. The last `holdout_share` of the rows (file order: with time-ordered
//!    data, the most recent) are the holdout; the rest are training rows.
//! 2. The label decides the task and classes ([`TargetSpec::fit`]) and the
//!    schema's features are encoded with statistics of the training rows.
//! 3. The model is fitted on the training rows: the logistic regression by
//!    L-BFGS to convergence, the MLP by AdamW with early stopping on a
//!    validation share of the training rows.
//! 4. The holdout is predicted and measured with `assay quality`'s metrics.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::data::{Loaded, split_holdout};
use super::evaluate::evaluate;
use super::features::FeatureSpec;
use super::linear::{self, LinearOptions};
use super::mlp::{self, MlpOptions};
use super::saved::{Lineage, MODEL_FORMAT, ModelCard, SavedModel, TrainingRecord};
use super::target::TargetSpec;
use super::{TrainError, network::Network};
use crate::quality::Task;
use crate::schema::Schema;

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Linear: logistic (binary), softmax (multiclass), least squares
    /// (regression), L2 penalised, fitted by L-BFGS.
    Logistic,
    /// Multilayer perceptron (AdamW, mini-batches, early stopping).
    Mlp,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logistic => "logistic",
            Self::Mlp => "mlp",
        }
    }
}

/// Row weights per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every row weighs 1.
    None,
    /// `n / (classes · rows of the class)`, as scikit-learn's `"balanced"`.
    Balanced,
    /// One weight per class, in the target's class order.
    Given(Vec<f64>),
}

/// What to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub label: String,
    /// Binary: the positive class (default as `assay quality`).
    pub positive: Option<String>,
    /// Default: inferred from the label.
    pub task: Option<Task>,
    pub model: ModelKind,
    /// Share of the last rows held out for evaluation (0: none).
    pub holdout_share: f64,
    pub seed: u64,
    pub class_weights: ClassWeights,
    /// The linear model's options (C, stopping rules).
    pub linear: LinearOptions,
    pub mlp: MlpOptions,
}

impl TrainOptions {
    /// Defaults: logistic regression, C = 1, a 20% holdout, seed 0.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            positive: None,
            task: None,
            model: ModelKind::Logistic,
            holdout_share: 0.2,
            seed: 0,
            class_weights: ClassWeights::None,
            linear: LinearOptions::default(),
            mlp: MlpOptions::default(),
        }
    }
}

/// Trains a model on `data` with the features of `schema` (whose file
/// hashes to `schema_sha256`, recorded in the card).
pub fn train(
    schema: &Schema,
    schema_sha256: &str,
    data: &Loaded,
    options: &TrainOptions,
) -> Result<SavedModel, TrainError> {
    let source = data.source_name.as_str();
    let (train_rows, holdout_rows) = split_holdout(&data.batch, options.holdout_share)?;
    if train_rows.num_rows() < 2 {
        return Err(TrainError::TooFewRows(format!(
            "{source}: {} training rows; at least 2 are needed",
            train_rows.num_rows()
        )));
    }
    let mut target_spec = TargetSpec::fit(
        &train_rows,
        &options.label,
        options.positive.as_deref(),
        options.task,
        source,
    )?;
    let features = FeatureSpec::fit(schema, &options.label, &train_rows, source)?;
    let x = features.encode(&train_rows, source)?;
    let mut target = target_spec.encode(&train_rows, source)?;
    if let TargetSpec::Regression { mean, std, .. } = &mut target_spec {
        let n = target.values.len() as f64;
        let m = target.values.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
        let var = target
            .values
            .iter()
            .map(|v| (f64::from(*v) - m).powi(2))
            .sum::<f64>()
            / n;
        *mean = m;
        *std = if var > 0.0 { var.sqrt() } else { 1.0 };
        for v in &mut target.values {
            *v = ((f64::from(*v) - m) / *std) as f32;
        }
    }
    let task = target_spec.task();
    let outputs = target_spec.outputs();
    let class_weights = class_weights(&options.class_weights, &target.values, task, outputs)?;
    let weights: Vec<f64> = match &class_weights {
        None => vec![1.0; x.rows],
        Some(w) => target.values.iter().map(|c| w[*c as usize]).collect(),
    };
    let started = Instant::now();
    let (network, fit, recorded_options): (Network, serde_json::Value, serde_json::Value) =
        match options.model {
            ModelKind::Logistic => {
                let (net, fit) =
                    linear::fit(&x, &target.values, &weights, task, outputs, &options.linear)?;
                (
                    net,
                    serde_json::to_value(fit).expect("serialisable"),
                    serde_json::json!({
                        "C": options.linear.c,
                        "solver": "lbfgs",
                        "gtol": options.linear.lbfgs.gtol,
                        "ftol": options.linear.lbfgs.ftol,
                        "max_iter": options.linear.lbfgs.max_iter,
                    }),
                )
            }
            ModelKind::Mlp => {
                let (net, fit) = mlp::fit(
                    &x,
                    &target.values,
                    &weights,
                    task,
                    outputs,
                    &options.mlp,
                    options.seed,
                )?;
                (
                    net,
                    serde_json::to_value(fit).expect("serialisable"),
                    serde_json::to_value(&options.mlp).expect("serialisable"),
                )
            }
        };
    let seconds = started.elapsed().as_secs_f64();
    let mut layers = vec![network.inputs()];
    layers.extend(network.hidden());
    layers.push(network.outputs());
    let mut model = SavedModel {
        card: ModelCard {
            format: MODEL_FORMAT.to_string(),
            model: options.model.as_str().to_string(),
            target: target_spec,
            features,
            layers,
            schema_sha256: schema_sha256.to_string(),
            training: TrainingRecord {
                seed: options.seed,
                options: recorded_options,
                fit,
                class_weights,
                seconds,
            },
            lineage: Lineage {
                files: data.files.clone(),
                rows: data.batch.num_rows(),
                train_rows: train_rows.num_rows(),
                holdout_rows: holdout_rows.num_rows(),
            },
            holdout: None,
            assay_version: env!("CARGO_PKG_VERSION").to_string(),
            retrain: None,
        },
        network,
    };
    if holdout_rows.num_rows() > 0 {
        model.card.holdout = Some(evaluate(&model, &holdout_rows, source)?);
    }
    Ok(model)
}

fn class_weights(
    given: &ClassWeights,
    y: &[f32],
    task: Task,
    outputs: usize,
) -> Result<Option<Vec<f64>>, TrainError> {
    let classes = match task {
        Task::Binary => 2,
        Task::Multiclass => outputs,
        Task::Regression => {
            return match given {
                ClassWeights::None => Ok(None),
                _ => Err(TrainError::Options(
                    "class weights need a classification task".into(),
                )),
            };
        }
    };
    match given {
        ClassWeights::None => Ok(None),
        ClassWeights::Given(w) if w.len() == classes && w.iter().all(|v| *v > 0.0) => {
            Ok(Some(w.clone()))
        }
        ClassWeights::Given(w) => Err(TrainError::Options(format!(
            "{} class weights for {classes} classes (each must be positive)",
            w.len()
        ))),
        ClassWeights::Balanced => {
            let mut counts = vec![0usize; classes];
            for c in y {
                counts[*c as usize] += 1;
            }
            let n = y.len() as f64;
            Ok(Some(
                counts
                    .iter()
                    .map(|c| n / (classes as f64 * (*c).max(1) as f64))
                    .collect(),
            ))
        }
    }
}
