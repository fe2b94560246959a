//! The weights of a model and their forward pass.
//!
//! Both models are stacks of affine layers: the logistic regression is one
//! layer (features → outputs), the MLP has hidden layers with ReLU between.
//! Layer `i` is `layers.{i}.weight` (`out × in`, PyTorch's `nn.Linear`
//! layout) and `layers.{i}.bias` (`out`) in `model.safetensors`, f32, so any
//! runtime that reads safetensors can run the model: `x Wᵀ + b`, ReLU
//! between layers, then the task's link (sigmoid, softmax or identity).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand::rngs::StdRng;

use super::TrainError;

/// One affine layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// `out × in`.
    pub weight: Var,
    /// `out`.
    pub bias: Var,
}

/// A stack of layers with ReLU between them.
#[derive(Debug, Clone)]
pub struct Network {
    pub layers: Vec<Layer>,
}

impl Network {
    /// Layers `inputs → hidden… → outputs`, weights drawn as PyTorch's
    /// default (uniform in ±1/√fan_in) from `rng`, so a seed fixes them.
    pub fn init(
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        rng: &mut StdRng,
    ) -> Result<Self, TrainError> {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(outputs);
        let mut layers = Vec::new();
        for w in sizes.windows(2) {
            let (fan_in, out) = (w[0], w[1]);
            let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let weight = Tensor::from_vec(draw(out * fan_in), (out, fan_in), &Device::Cpu)?;
            let bias = Tensor::from_vec(draw(out), out, &Device::Cpu)?;
            layers.push(Layer {
                weight: Var::from_tensor(&weight)?,
                bias: Var::from_tensor(&bias)?,
            });
        }
        Ok(Self { layers })
    }

    /// A one-layer network with the given weights (`out × in`) and biases.
    pub fn linear(weight: Tensor, bias: Tensor) -> Result<Self, TrainError> {
        Ok(Self {
            layers: vec![Layer {
                weight: Var::from_tensor(&weight.to_dtype(DType::F32)?)?,
                bias: Var::from_tensor(&bias.to_dtype(DType::F32)?)?,
            }],
        })
    }

    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.weight.clone(), l.bias.clone()])
            .collect()
    }

    /// Hidden layer sizes.
    pub fn hidden(&self) -> Vec<usize> {
        self.layers[..self.layers.len() - 1]
            .iter()
            .map(|l| l.weight.dims()[0])
            .collect()
    }

    pub fn inputs(&self) -> usize {
        self.layers[0].weight.dims()[1]
    }

    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].weight.dims()[0]
    }

    /// The logits of `x` (`n × inputs`). With `dropout = Some((p, rng))`,
    /// each hidden unit is zeroed with probability `p` and the rest scaled
    /// by `1/(1−p)` (inverted dropout), masks drawn from `rng`: candle's
    /// own dropout draws from an unseedable generator on the CPU.
    pub fn forward(
        &self,
        x: &Tensor,
        mut dropout: Option<(f32, &mut StdRng)>,
    ) -> Result<Tensor, TrainError> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = h
                .matmul(&layer.weight.as_tensor().t()?)?
                .broadcast_add(layer.bias.as_tensor())?;
            if i < last {
                h = h.relu()?;
                if let Some((p, rng)) = dropout.as_mut()
                    && *p > 0.0
                {
                    let keep = 1.0 - *p;
                    let mask: Vec<f32> = (0..h.elem_count())
                        .map(|_| {
                            if rng.random::<f32>() < keep {
                                1.0 / keep
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let mask = Tensor::from_vec(mask, h.shape().clone(), h.device())?;
                    h = (h * mask)?;
                }
            }
        }
        Ok(h)
    }

    /// The tensors by their safetensors names.
    pub fn named_tensors(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, l) in self.layers.iter().enumerate() {
            out.insert(format!("layers.{i}.weight"), l.weight.as_tensor().clone());
            out.insert(format!("layers.{i}.bias"), l.bias.as_tensor().clone());
        }
        out
    }

    /// Rebuilds from tensors named as [`Network::named_tensors`] names them,
    /// checking the shapes chain.
    pub fn from_named(tensors: &HashMap<String, Tensor>, dir: &str) -> Result<Self, TrainError> {
        let bad = |message: String| TrainError::ModelDir {
            dir: dir.to_string(),
            message,
        };
        let mut layers = Vec::new();
        while let Some(weight) = tensors.get(&format!("layers.{}.weight", layers.len())) {
            let i = layers.len();
            let bias = tensors
                .get(&format!("layers.{i}.bias"))
                .ok_or_else(|| bad(format!("model.safetensors has no layers.{i}.bias")))?;
            if weight.rank() != 2 || bias.rank() != 1 || bias.dims()[0] != weight.dims()[0] {
                return Err(bad(format!(
                    "model.safetensors: layer {i} has shapes {:?} and {:?}",
                    weight.dims(),
                    bias.dims()
                )));
            }
            if let Some(prev) = layers.last().map(|l: &Layer| l.weight.dims()[0])
                && prev != weight.dims()[1]
            {
                return Err(bad(format!(
                    "model.safetensors: layer {i} takes {} inputs, layer {} gives {prev}",
                    weight.dims()[1],
                    i - 1
                )));
            }
            layers.push(Layer {
                weight: Var::from_tensor(&weight.to_dtype(DType::F32)?)?,
                bias: Var::from_tensor(&bias.to_dtype(DType::F32)?)?,
            });
        }
        if layers.is_empty() {
            return Err(bad("model.safetensors has no layers.0.weight".into()));
        }
        Ok(Self { layers })
    }

    /// All weights as one flat list (for comparing runs).
    pub fn flat_weights(&self) -> Result<Vec<f32>, TrainError> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.extend(l.weight.as_tensor().flatten_all()?.to_vec1::<f32>()?);
            out.extend(l.bias.as_tensor().to_vec1::<f32>()?);
        }
        Ok(out)
    }
}
