//! A state-value baseline V(o) fitted by Adam on regression targets (GAE returns).

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::Rng;

use crate::error::{Result, TrpoError};
use crate::mlp::{Activation, Mlp};

/// V(o) as an MLP with one output.
#[derive(Debug)]
pub struct ValueFunction {
    mlp: Mlp,
    opt: AdamW,
}

impl ValueFunction {
    /// A value network on observations of size `obs_dim`.
    pub fn new(
        obs_dim: usize,
        hidden: &[usize],
        act: Activation,
        lr: f64,
        rng: &mut impl Rng,
        dev: &Device,
    ) -> Result<Self> {
        let mut dims = vec![obs_dim];
        dims.extend_from_slice(hidden);
        dims.push(1);
        let mlp = Mlp::new(&dims, act, 1.0, rng, DType::F32, dev)?;
        let opt = AdamW::new(
            mlp.vars(),
            ParamsAdamW {
                lr,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        Ok(Self { mlp, opt })
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// V for a batch `(N, obs_dim)`.
    pub fn predict(&self, obs: &Tensor) -> Result<Vec<f64>> {
        Ok(self
            .mlp
            .forward(obs)?
            .squeeze(1)?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?)
    }

    /// `epochs` passes over the data in `minibatches` shuffled minibatches of mean squared error;
    /// returns the mean loss of the last epoch.
    pub fn fit(
        &mut self,
        obs: &Tensor,
        targets: &[f64],
        epochs: usize,
        minibatches: usize,
        rng: &mut impl Rng,
    ) -> Result<f64> {
        let n = obs.dim(0)?;
        if targets.len() != n {
            return Err(TrpoError::Size {
                what: "value targets",
                expected: n,
                got: targets.len(),
            });
        }
        if targets.iter().any(|t| !t.is_finite()) {
            return Err(TrpoError::NonFinite {
                what: "value targets",
            });
        }
        if n == 0 {
            return Ok(0.0);
        }
        let dev = obs.device();
        let y = Tensor::from_iter(targets.iter().map(|&t| t as f32), dev)?;
        let mb = minibatches.clamp(1, n);
        let size = n.div_ceil(mb);
        let mut idx: Vec<u32> = (0..n as u32).collect();
        let mut last = 0.0;
        for _ in 0..epochs {
            // Fisher-Yates with the caller's stream: same seed, same fit.
            for i in (1..n).rev() {
                let j = rng.random_range(0..=i);
                idx.swap(i, j);
            }
            let mut total = 0.0;
            for chunk in idx.chunks(size) {
                let ids = Tensor::from_slice(chunk, chunk.len(), dev)?;
                let xb = obs.index_select(&ids, 0)?;
                let yb = y.index_select(&ids, 0)?;
                let pred = self.mlp.forward(&xb)?.squeeze(1)?;
                let loss = (pred - yb)?.sqr()?.mean_all()?;
                total += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
                self.opt.backward_step(&loss)?;
            }
            last = total / n as f64;
        }
        Ok(last)
    }
}
