//! A state-value baseline V(o) fitted by Adam on regression targets (GAE returns).

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;

use crate::error::{Result, TrpoError};
use crate::mlp::{Activation, Mlp};

/// Adam on the flat parameter vector in plain Rust: for networks this small, candle's per-op
/// overhead over a dozen tensor ops per parameter tensor cost more than the arithmetic
/// (measured: the critic fit of `cargo xtask bench trpo`).
#[derive(Debug)]
struct FlatAdam {
    lr: f64,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl FlatAdam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    /// One step with `grads`, flattened per parameter in the order of `vars`.
    fn step(&mut self, vars: &[Var], grads: &[Vec<f32>]) -> Result<()> {
        self.t += 1;
        let bc1 = 1.0 - Self::BETA1.powi(self.t);
        let bc2 = 1.0 - Self::BETA2.powi(self.t);
        let step = (self.lr * bc2.sqrt() / bc1) as f32;
        let (b1, b2, eps) = (
            Self::BETA1 as f32,
            Self::BETA2 as f32,
            (Self::EPS * bc2.sqrt()) as f32,
        );
        let mut off = 0;
        for (var, g) in vars.iter().zip(grads) {
            let t = var.as_tensor();
            let n = t.elem_count();
            if g.len() != n {
                return Err(TrpoError::Size {
                    what: "parameter gradient",
                    expected: n,
                    got: g.len(),
                });
            }
            let mut p: Vec<f32> = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
            let (m, v) = (&mut self.m[off..off + n], &mut self.v[off..off + n]);
            for k in 0..n {
                m[k] = b1 * m[k] + (1.0 - b1) * g[k];
                v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
                p[k] -= step * m[k] / (v[k].sqrt() + eps);
            }
            var.set(&Tensor::from_vec(p, t.shape(), t.device())?.to_dtype(t.dtype())?)?;
            off += n;
        }
        Ok(())
    }
}

/// V(o) as an MLP with one output.
#[derive(Debug)]
pub struct ValueFunction {
    mlp: Mlp,
    opt: FlatAdam,
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
        let n = mlp.n_params();
        let opt = FlatAdam {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        };
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
