//! A state-value baseline V(o) fitted by Adam on regression targets (GAE returns).

use candle_core::{DType, Device, Tensor};
use rand::Rng;

use crate::adam::Adam;
use crate::error::{Result, TrpoError};
use crate::mlp::{Activation, Mlp};

/// V(o) as an MLP with one output.
#[derive(Debug)]
pub struct ValueFunction {
    mlp: Mlp,
    opt: Adam,
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
        let opt = Adam::new(lr, mlp.n_params())?;
        Ok(Self { mlp, opt })
    }

    /// The optimizer (its state goes into checkpoints).
    pub fn optimizer(&self) -> &Adam {
        &self.opt
    }

    /// The optimizer, to restore its state from a checkpoint.
    pub fn optimizer_mut(&mut self) -> &mut Adam {
        &mut self.opt
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

    /// `epochs` passes over the data in shuffled minibatches of ⌈N / `minibatches`⌉ samples (so
    /// at most `minibatches` of them; fewer when N is small) of mean squared error; returns the
    /// mean loss of the last epoch.
    ///
    /// A non-finite observation or target (a target beyond f32's range included), or a loss
    /// that overflows, is an error raised before the Adam step it would have spoiled: the
    /// network is never left with NaN weights.
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
        // Checked as the network sees them: a finite f64 beyond f32's range is infinite too.
        let y: Vec<f32> = targets.iter().map(|&t| t as f32).collect();
        if y.iter().any(|t| !t.is_finite()) {
            return Err(TrpoError::NonFinite {
                what: "value targets (NaN, infinite or beyond f32's range)",
            });
        }
        if n == 0 {
            return Ok(0.0);
        }
        let dev = obs.device();
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
                // Mean squared error: its gradient with respect to each prediction is
                // 2 (pred − y) / m.
                let m = chunk.len() as f32;
                let mut loss = 0.0f64;
                let (_, grads) = self.mlp.backward(&xb, |pred| {
                    Ok(pred
                        .iter()
                        .zip(chunk)
                        .map(|(&p, &i)| {
                            let e = p - y[i as usize];
                            loss += f64::from(e * e);
                            2.0 * e / m
                        })
                        .collect())
                })?;
                // A NaN observation, or weights driven to overflow by too large a step, shows
                // here first; stepping on it would write NaN into every weight.
                if !loss.is_finite() || grads.iter().flatten().any(|g| !g.is_finite()) {
                    return Err(TrpoError::NonFinite {
                        what: "value loss or gradient",
                    });
                }
                total += loss;
                self.opt.step(&self.mlp.vars(), &grads)?;
            }
            last = total / n as f64;
        }
        Ok(last)
    }
}
