//! The multilayer perceptron: ReLU hidden layers with dropout, trained by
//! AdamW on shuffled mini-batches, stopped early when the loss on a
//! held-back validation share of the training rows stops improving, and
//! returned with the weights of its best validation epoch.

use candle_core::{D, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::features::Matrix;
use super::network::Network;
use crate::quality::Task;

/// Options of the MLP (defaults in [`MlpOptions::default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpOptions {
    pub hidden: Vec<usize>,
    /// Probability of zeroing a hidden unit while training.
    pub dropout: f32,
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    /// Share of the training rows held back for early stopping.
    pub validation_share: f64,
}

impl Default for MlpOptions {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32],
            dropout: 0.1,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            batch_size: 256,
            max_epochs: 200,
            patience: 10,
            validation_share: 0.1,
        }
    }
}

/// What the training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpFit {
    pub epochs: usize,
    pub best_epoch: usize,
    pub best_validation_loss: f64,
    pub train_rows: usize,
    pub validation_rows: usize,
}

/// The weighted mean loss of logits `z` (`n × k`) against `target` (binary
/// and regression: `n × 1` values; multiclass: `n × k` one-hot).
pub fn loss(
    z: &Tensor,
    target: &Tensor,
    weights: &Tensor,
    task: Task,
) -> Result<Tensor, TrainError> {
    let per_row = match task {
        Task::Binary => {
            let softplus = (z.relu()? + ((z.abs()?.neg()?.exp()? + 1.0)?.log()?))?;
            (softplus - (target * z)?)?
        }
        Task::Multiclass => {
            let logp = candle_nn::ops::log_softmax(z, D::Minus1)?;
            (logp * target)?.sum_keepdim(1)?.neg()?
        }
        Task::Regression => ((z - target)?.sqr()? * 0.5)?,
    };
    let total = weights.sum_all()?;
    Ok(per_row
        .broadcast_mul(weights)?
        .sum_all()?
        .broadcast_div(&total)?)
}

/// The target tensor for `loss`.
pub fn target_tensor(y: &[f32], task: Task, outputs: usize) -> Result<Tensor, TrainError> {
    let n = y.len();
    Ok(match task {
        Task::Multiclass => {
            let mut onehot = vec![0.0f32; n * outputs];
            for (i, c) in y.iter().enumerate() {
                onehot[i * outputs + *c as usize] = 1.0;
            }
            Tensor::from_vec(onehot, (n, outputs), &Device::Cpu)?
        }
        _ => Tensor::from_slice(y, (n, 1), &Device::Cpu)?,
    })
}

/// Trains an MLP on `x`, `y` with row weights; `seed` fixes everything random.
pub fn fit(
    x: &Matrix,
    y: &[f32],
    weights: &[f64],
    task: Task,
    outputs: usize,
    options: &MlpOptions,
    seed: u64,
) -> Result<(Network, MlpFit), TrainError> {
    if !(0.0..1.0).contains(&options.dropout) {
        return Err(TrainError::Options(format!(
            "dropout {}: expected a number in [0, 1)",
            options.dropout
        )));
    }
    if !(options.validation_share > 0.0 && options.validation_share < 1.0) {
        return Err(TrainError::Options(format!(
            "validation share {}: expected a number in (0, 1)",
            options.validation_share
        )));
    }
    if options.batch_size == 0 || options.hidden.contains(&0) {
        return Err(TrainError::Options(
            "batch size and hidden layer sizes must be positive".into(),
        ));
    }
    let n = x.rows;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut rng);
    let validation_rows = ((n as f64 * options.validation_share).round() as usize).max(1);
    if validation_rows >= n {
        return Err(TrainError::TooFewRows(format!(
            "{n} training rows: too few to hold back a validation share for early stopping"
        )));
    }
    let (validation, train) = order.split_at(validation_rows);
    let mut train = train.to_vec();
    let dev = Device::Cpu;
    let xs = Tensor::from_slice(&x.values, (n, x.cols), &dev)?;
    let ys = target_tensor(y, task, outputs)?;
    let ws = Tensor::from_iter(weights.iter().map(|w| *w as f32), &dev)?.reshape((n, 1))?;
    let rows = |idx: &[u32]| -> Result<(Tensor, Tensor, Tensor), TrainError> {
        let idx = Tensor::from_slice(idx, idx.len(), &dev)?;
        Ok((
            xs.index_select(&idx, 0)?,
            ys.index_select(&idx, 0)?,
            ws.index_select(&idx, 0)?,
        ))
    };
    let (vx, vy, vw) = rows(validation)?;
    let net = Network::init(x.cols, &options.hidden, outputs, &mut rng)?;
    let mut optimizer = AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut best = (f64::INFINITY, 0usize, Vec::new());
    let mut epochs = 0;
    for epoch in 1..=options.max_epochs {
        epochs = epoch;
        train.shuffle(&mut rng);
        for chunk in train.chunks(options.batch_size) {
            let (bx, by, bw) = rows(chunk)?;
            let z = net.forward(&bx, Some((options.dropout, &mut rng)))?;
            let l = loss(&z, &by, &bw, task)?;
            optimizer.backward_step(&l)?;
        }
        let v = loss(&net.forward(&vx, None)?, &vy, &vw, task)?.to_scalar::<f32>()? as f64;
        if v < best.0 {
            let copies = net
                .vars()
                .iter()
                .map(|var| var.as_tensor().copy())
                .collect::<Result<Vec<_>, _>>()?;
            best = (v, epoch, copies);
        } else if epoch - best.1 >= options.patience {
            break;
        }
    }
    for (var, saved) in net.vars().iter().zip(&best.2) {
        var.set(saved)?;
    }
    Ok((
        net,
        MlpFit {
            epochs,
            best_epoch: best.1,
            best_validation_loss: best.0,
            train_rows: train.len(),
            validation_rows,
        },
    ))
}
