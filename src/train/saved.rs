//! The model directory: `model.safetensors` (the weights, see
//! [`super::network`]) and `model.json` (the [`ModelCard`]: everything
//! needed to encode input and read the output, and where the model came
//! from). Both are written into a temporary directory that replaces the
//! target in one rename, so a reader never sees weights from one training
//! and a card from another.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{Field, Schema as ArrowSchema};
use candle_core::{D, Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TrainError;
use super::features::FeatureSpec;
use super::network::Network;
use super::target::{LabelType, TargetSpec};
use crate::quality::QualityReport;

/// `format` of `model.json`.
pub const MODEL_FORMAT: &str = "assay.model/1";
/// Rows per forward pass when predicting (bounds the memory of a pass).
const PREDICT_CHUNK: usize = 65_536;

/// `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    /// `logistic` or `mlp`.
    pub model: String,
    pub target: TargetSpec,
    pub features: FeatureSpec,
    /// Layer sizes: inputs, hidden…, outputs.
    pub layers: Vec<usize>,
    /// SHA-256 of the schema file the features were encoded from (hex).
    pub schema_sha256: String,
    pub training: TrainingRecord,
    pub lineage: Lineage,
    /// Metrics on the holdout (`assay quality`'s report), when there was one.
    pub holdout: Option<QualityReport>,
    /// The assay version that trained it.
    pub assay_version: String,
    /// Set by the retrain job that registered the model (absent for
    /// `assay train`): what it measured and decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain: Option<RetrainRecord>,
}

/// A registered version's record of its retrain job (docs/retrain.md,
/// "The registry"): the same facts as the job's `report.json`, kept with
/// the weights so that the model directory alone says why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainRecord {
    /// The job (delivery) id.
    pub job: String,
    /// What asked for it (the webhook's `reason`, or `{"trigger": "run"}`).
    pub trigger: serde_json::Value,
    /// The data used: the daemon's window range, the partition days, each
    /// input with its rows, rows kept and dropped, the lookback.
    pub data: serde_json::Value,
    /// The challenger's metrics on its training split.
    pub training_metrics: serde_json::Value,
    /// Challenger and champion on the same holdout: `{"rows",
    /// "challenger": {"metrics", "disparities"}, "champion": {"version",
    /// "metrics", "disparities"} | null, "champion_error"}`.
    pub holdout: serde_json::Value,
    /// The gate: `{"promote", "reasons", "checks", "prediction_schema"}`
    /// (each check holds both values).
    pub gate: serde_json::Value,
}

/// How the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub seed: u64,
    /// The options (C for the logistic regression; the MLP's options).
    pub options: serde_json::Value,
    /// What the optimiser reported (iterations, epochs, final loss).
    pub fit: serde_json::Value,
    /// Per-class row weights used (`null`: every row weighs 1).
    pub class_weights: Option<Vec<f64>>,
    /// Wall time of the fit, seconds.
    pub seconds: f64,
}

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    pub files: Vec<String>,
    pub rows: usize,
    pub train_rows: usize,
    /// The last rows in file order.
    pub holdout_rows: usize,
}

/// SHA-256 of a file's bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A model read back (or just trained): the card and the weights.
#[derive(Debug, Clone)]
pub struct SavedModel {
    pub card: ModelCard,
    pub network: Network,
}

/// A prediction's columns.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// The predicted class (in the label's type) or value.
    pub prediction: ArrayRef,
    /// Binary: `score` = P(positive). Multiclass: `score_CLASS` per class.
    pub scores: Vec<(String, ArrayRef)>,
}

impl Prediction {
    /// The output columns' names, in order.
    pub fn names(&self) -> Vec<String> {
        let mut v = vec!["prediction".to_string()];
        v.extend(self.scores.iter().map(|(n, _)| n.clone()));
        v
    }

    /// `batch`'s columns (minus any with an output column's name, which
    /// would be ambiguous) followed by the prediction columns.
    pub fn append_to(&self, batch: &RecordBatch) -> Result<RecordBatch, TrainError> {
        let names = self.names();
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
            if !names.contains(f.name()) {
                fields.push(f.as_ref().clone());
                columns.push(c.clone());
            }
        }
        fields.push(Field::new(
            "prediction",
            self.prediction.data_type().clone(),
            false,
        ));
        columns.push(self.prediction.clone());
        for (n, a) in &self.scores {
            fields.push(Field::new(n, a.data_type().clone(), false));
            columns.push(a.clone());
        }
        Ok(RecordBatch::try_new(
            Arc::new(ArrowSchema::new(fields)),
            columns,
        )?)
    }
}

fn class_array(classes: &[&str], label_type: LabelType) -> ArrayRef {
    match label_type {
        LabelType::Int => Arc::new(Int64Array::from_iter_values(
            classes.iter().map(|c| c.parse::<i64>().unwrap_or_default()),
        )),
        LabelType::Float => Arc::new(Float64Array::from_iter_values(
            classes.iter().map(|c| c.parse::<f64>().unwrap_or_default()),
        )),
        LabelType::Bool => Arc::new(BooleanArray::from(
            classes.iter().map(|c| *c == "true").collect::<Vec<_>>(),
        )),
        LabelType::String => Arc::new(StringArray::from_iter_values(classes.iter())),
    }
}

impl SavedModel {
    /// Reads `dir`; a missing or unreadable file, or weights that do not
    /// fit the card, is an error naming the directory.
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let name = dir.display().to_string();
        let bad = |message: String| TrainError::ModelDir {
            dir: name.clone(),
            message,
        };
        let card_path = dir.join("model.json");
        let text = std::fs::read_to_string(&card_path)
            .map_err(|e| bad(format!("cannot read model.json: {e}")))?;
        let card: ModelCard = serde_json::from_str(&text)
            .map_err(|e| bad(format!("model.json is not a valid model card: {e}")))?;
        if card.format != MODEL_FORMAT {
            return Err(bad(format!(
                "model.json has format {:?}, expected {MODEL_FORMAT:?}",
                card.format
            )));
        }
        let weights_path = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights_path)
            .map_err(|e| bad(format!("cannot read model.safetensors: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| bad(format!("model.safetensors is not valid safetensors: {e}")))?;
        let network = Network::from_named(&tensors, &name)?;
        let mut layers = vec![network.inputs()];
        layers.extend(network.hidden());
        layers.push(network.outputs());
        if layers != card.layers
            || network.inputs() != card.features.width()
            || network.outputs() != card.target.outputs()
        {
            return Err(bad(format!(
                "model.safetensors has layers {layers:?}, model.json says {:?} ({} features, {} outputs)",
                card.layers,
                card.features.width(),
                card.target.outputs()
            )));
        }
        Ok(Self { card, network })
    }

    /// Writes `dir` (created, or replaced whole).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let write_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| TrainError::Write { path, source }
        };
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "model".into());
        let tmp = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(write_err(&tmp))?;
        candle_core::safetensors::save(
            &self.network.named_tensors(),
            tmp.join("model.safetensors"),
        )?;
        let json = serde_json::to_string_pretty(&self.card).expect("a model card serialises");
        std::fs::write(tmp.join("model.json"), json).map_err(write_err(&tmp))?;
        for f in ["model.safetensors", "model.json"] {
            std::fs::File::open(tmp.join(f))
                .and_then(|f| f.sync_all())
                .map_err(write_err(&tmp))?;
        }
        if dir.exists() {
            // Only a model directory (or an empty one) is replaced.
            let is_model = dir.join("model.json").is_file();
            let is_empty = std::fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !is_model && !is_empty {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(TrainError::Write {
                    path: dir.display().to_string(),
                    source: std::io::Error::other(
                        "exists and is not a model directory (no model.json); not replacing it",
                    ),
                });
            }
            let old = parent.join(format!(".{file_name}.old-{}", std::process::id()));
            std::fs::rename(dir, &old).map_err(write_err(dir))?;
            std::fs::rename(&tmp, dir).map_err(write_err(dir))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&tmp, dir).map_err(write_err(dir))?;
        }
        crate::sinks::sync_parent_dir(dir).map_err(write_err(dir))?;
        Ok(())
    }

    /// The model's outputs for `batch` (n × outputs, after the link:
    /// probabilities for classifiers, values for regression).
    pub fn outputs(&self, batch: &RecordBatch, source_name: &str) -> Result<Vec<f64>, TrainError> {
        let x = self.card.features.encode(batch, source_name)?;
        let k = self.network.outputs();
        let mut out = Vec::with_capacity(x.rows * k);
        for start in (0..x.rows).step_by(PREDICT_CHUNK) {
            let rows = PREDICT_CHUNK.min(x.rows - start);
            let xs = Tensor::from_slice(
                &x.values[start * x.cols..(start + rows) * x.cols],
                (rows, x.cols),
                &Device::Cpu,
            )?;
            let z = self.network.forward(&xs, None)?;
            let y = match &self.card.target {
                TargetSpec::Binary { .. } => candle_nn::ops::sigmoid(&z)?,
                TargetSpec::Multiclass { .. } => candle_nn::ops::softmax(&z, D::Minus1)?,
                TargetSpec::Regression { mean, std, .. } => ((z * *std)? + *mean)?,
            };
            out.extend(
                y.flatten_all()?
                    .to_vec1::<f32>()?
                    .into_iter()
                    .map(f64::from),
            );
        }
        Ok(out)
    }

    /// Predictions for `batch`: binary predicts the positive class when
    /// `score >= 0.5`; multiclass the most probable class (the first on ties).
    pub fn predict(
        &self,
        batch: &RecordBatch,
        source_name: &str,
    ) -> Result<Prediction, TrainError> {
        let out = self.outputs(batch, source_name)?;
        Ok(match &self.card.target {
            TargetSpec::Binary {
                classes,
                label_type,
                ..
            } => {
                let picked: Vec<&str> = out
                    .iter()
                    .map(|s| classes[usize::from(*s >= 0.5)].as_str())
                    .collect();
                Prediction {
                    prediction: class_array(&picked, *label_type),
                    scores: vec![(
                        "score".into(),
                        Arc::new(Float64Array::from(out)) as ArrayRef,
                    )],
                }
            }
            TargetSpec::Multiclass {
                classes,
                label_type,
                ..
            } => {
                let k = classes.len();
                let picked: Vec<&str> = out
                    .chunks(k)
                    .map(|p| {
                        let mut best = 0;
                        for (i, v) in p.iter().enumerate() {
                            if *v > p[best] {
                                best = i;
                            }
                        }
                        classes[best].as_str()
                    })
                    .collect();
                let scores = classes
                    .iter()
                    .enumerate()
                    .map(|(c, name)| {
                        let col: Float64Array = out.chunks(k).map(|p| Some(p[c])).collect();
                        (format!("score_{name}"), Arc::new(col) as ArrayRef)
                    })
                    .collect();
                Prediction {
                    prediction: class_array(&picked, *label_type),
                    scores,
                }
            }
            TargetSpec::Regression { .. } => Prediction {
                prediction: Arc::new(Float64Array::from(out)),
                scores: Vec::new(),
            },
        })
    }
}
