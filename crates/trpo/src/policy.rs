//! Stochastic policies on MLPs: a categorical head (logits) or a diagonal Gaussian head with a
//! state-independent log standard deviation; their log-probabilities, KL divergences, sampling,
//! and exact Fisher-vector products.

use candle_core::{D, DType, Device, Tensor, Var};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrpoError};
use crate::mlp::{Activation, Mlp, unflatten};

/// The action distribution family.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Head {
    /// Softmax over `n` discrete actions.
    Categorical {
        /// Number of actions.
        n: usize,
    },
    /// Independent normals in `dim` dimensions, mean from the network, log σ a free parameter.
    Gaussian {
        /// Action dimension.
        dim: usize,
        /// Initial log σ.
        init_log_std: f64,
    },
}

/// The distribution parameters for a batch, detached: what the old policy said.
#[derive(Clone, Debug)]
pub struct DistParams {
    /// Logits `(N, n)` or means `(N, dim)`.
    pub out: Tensor,
    /// Gaussian only: log σ `(dim,)`. From [`StochasticPolicy::dist`] this is the policy's own
    /// variable (so gradients reach it), which changes in place when the policy is updated:
    /// keep a [`Tensor::copy`] of it to remember an old policy.
    pub log_std: Option<Tensor>,
}

/// The error of a Gaussian computation without its log σ (a malformed `DistParams`).
fn no_log_std() -> TrpoError {
    TrpoError::Config {
        field: "head",
        reason: "Gaussian head without log σ".into(),
    }
}

/// A policy π(a | o).
#[derive(Clone, Debug)]
pub struct StochasticPolicy {
    mlp: Mlp,
    head: Head,
    log_std: Option<Var>,
    /// `Some(k)`: the observation's last `k` entries say which of the first `k` categories are
    /// legal (1) or not (0), and illegal ones get no probability
    /// ([`with_action_mask`](Self::with_action_mask)).
    mask: Option<usize>,
}

/// The logit bias of an illegal action: its probability is exactly 0 in `f32`, and the
/// log-probabilities, KL and entropy stay finite.
const ILLEGAL: f64 = -1e9;

impl StochasticPolicy {
    /// A policy with hidden layers `hidden` on observations of size `obs_dim`.
    pub fn new(
        obs_dim: usize,
        hidden: &[usize],
        act: Activation,
        head: Head,
        rng: &mut impl Rng,
        dev: &Device,
    ) -> Result<Self> {
        Self::with_dtype(obs_dim, hidden, act, head, rng, DType::F32, dev)
    }

    /// As [`new`](Self::new) with another float type (f64 for exact numerical tests).
    pub fn with_dtype(
        obs_dim: usize,
        hidden: &[usize],
        act: Activation,
        head: Head,
        rng: &mut impl Rng,
        dtype: DType,
        dev: &Device,
    ) -> Result<Self> {
        let out = match head {
            Head::Categorical { n } => n,
            Head::Gaussian { dim, .. } => dim,
        };
        let mut dims = vec![obs_dim];
        dims.extend_from_slice(hidden);
        dims.push(out);
        // A small last layer starts the policy near uniform / near zero mean.
        let mlp = Mlp::new(&dims, act, 0.01, rng, dtype, dev)?;
        let log_std = match head {
            Head::Gaussian { dim, init_log_std } => Some(Var::from_tensor(
                &Tensor::full(init_log_std, dim, dev)?.to_dtype(dtype)?,
            )?),
            Head::Categorical { .. } => None,
        };
        Ok(Self {
            mlp,
            head,
            log_std,
            mask: None,
        })
    }

    /// Masks illegal actions out of a categorical policy: the observation's last `k` entries are
    /// the legal-action mask of the first `k` categories (1 legal, 0 not; categories past `k`,
    /// such as φ for a policy that plays it, stay legal). Sampling, the greedy action,
    /// log-probabilities, the KL and the Fisher all read the masked distribution. Refused for a
    /// Gaussian head or a mask wider than the categories or the observation.
    pub fn with_action_mask(mut self, k: usize) -> Result<Self> {
        let obs_dim = self.obs_dim();
        match self.head {
            Head::Categorical { n } if k >= 1 && k <= n && k <= obs_dim => {
                self.mask = Some(k);
                Ok(self)
            }
            head => Err(TrpoError::Config {
                field: "action mask",
                reason: format!(
                    "a mask of {k} actions for a {head:?} head on observations of {obs_dim}: \
                     expected a categorical head with at least that many categories"
                ),
            }),
        }
    }

    /// The number of masked categories, if any.
    pub fn action_mask(&self) -> Option<usize> {
        self.mask
    }

    /// The logit bias of the mask for `obs` (0 legal, [`ILLEGAL`] not), `(N, n)`.
    fn mask_bias(&self, obs: &Tensor, dtype: DType) -> Result<Option<Tensor>> {
        let (Some(k), Head::Categorical { n }) = (self.mask, self.head) else {
            return Ok(None);
        };
        let (rows, d) = obs.dims2()?;
        let legal = obs.narrow(1, d - k, k)?.to_dtype(dtype)?;
        let bias = legal.affine(-ILLEGAL, ILLEGAL)?;
        Ok(Some(if n > k {
            Tensor::cat(
                &[bias, Tensor::zeros((rows, n - k), dtype, obs.device())?],
                1,
            )?
        } else {
            bias
        }))
    }

    /// A copy on `dev` with its own variables (a snapshot: later updates of either leave the
    /// other as it is). Rollouts act with a CPU copy of a policy that trains on a GPU.
    pub fn to_device(&self, dev: &Device) -> Result<Self> {
        let log_std = match &self.log_std {
            Some(v) => Some(Var::from_tensor(&v.as_tensor().copy()?.to_device(dev)?)?),
            None => None,
        };
        Ok(Self {
            mlp: self.mlp.to_device(dev)?,
            head: self.head,
            log_std,
            mask: self.mask,
        })
    }

    /// The head.
    pub fn head(&self) -> Head {
        self.head
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Observation size.
    pub fn obs_dim(&self) -> usize {
        self.mlp.dims()[0]
    }

    /// Action width in a flat action (1 for categorical).
    pub fn action_width(&self) -> usize {
        match self.head {
            Head::Categorical { .. } => 1,
            Head::Gaussian { dim, .. } => dim,
        }
    }

    /// Every trainable parameter in a fixed order (network, then log σ).
    pub fn vars(&self) -> Vec<Var> {
        let mut v = self.mlp.vars();
        v.extend(self.log_std.clone());
        v
    }

    /// Parameter names matching [`vars`](Self::vars).
    pub fn names(&self) -> Vec<String> {
        let mut n = self.mlp.names("pi");
        if self.log_std.is_some() {
            n.push("pi.log_std".into());
        }
        n
    }

    /// Distribution parameters for a batch of observations `(N, obs_dim)`.
    pub fn dist(&self, obs: &Tensor) -> Result<DistParams> {
        let out = self.mlp.forward(obs)?;
        let out = match self.mask_bias(obs, out.dtype())? {
            Some(b) => (out + b)?,
            None => out,
        };
        Ok(DistParams {
            out,
            log_std: self.log_std.as_ref().map(|v| v.as_tensor().clone()),
        })
    }

    /// Log-probabilities `(N,)` of `actions` (`(N,)` u32 indices for categorical, `(N, dim)` for
    /// Gaussian) under distribution parameters `d`.
    pub fn log_prob(&self, d: &DistParams, actions: &Tensor) -> Result<Tensor> {
        match self.head {
            Head::Categorical { .. } => {
                let lp = candle_nn::ops::log_softmax(&d.out, D::Minus1)?;
                Ok(lp.gather(&actions.unsqueeze(1)?, 1)?.squeeze(1)?)
            }
            Head::Gaussian { dim, .. } => {
                let ls = d.log_std.as_ref().ok_or_else(no_log_std)?;
                let z = actions.broadcast_sub(&d.out)?.broadcast_div(&ls.exp()?)?;
                let quad = (z.sqr()?.sum(1)? * -0.5)?;
                let norm = ls.sum_all()?.to_dtype(quad.dtype())?;
                let c = 0.5 * dim as f64 * (2.0 * std::f64::consts::PI).ln();
                Ok(quad.broadcast_sub(&norm)?.affine(1.0, -c)?)
            }
        }
    }

    /// Mean KL(old ‖ new) over the batch; `old` must be detached.
    pub fn kl(&self, old: &DistParams, new: &DistParams) -> Result<Tensor> {
        match self.head {
            Head::Categorical { .. } => {
                let lp_old = candle_nn::ops::log_softmax(&old.out, D::Minus1)?;
                let lp_new = candle_nn::ops::log_softmax(&new.out, D::Minus1)?;
                let p_old = lp_old.exp()?;
                Ok((p_old * (lp_old - lp_new)?)?.sum(1)?.mean_all()?)
            }
            Head::Gaussian { .. } => {
                let (Some(ls_o), Some(ls_n)) = (&old.log_std, &new.log_std) else {
                    return Err(no_log_std());
                };
                // Σ_d [ln σn − ln σo + (σo² + (μo − μn)²) / (2 σn²) − ½]
                let var_o = (ls_o * 2.0)?.exp()?;
                let var_n = (ls_n * 2.0)?.exp()?;
                let dmu2 = (&old.out - &new.out)?.sqr()?;
                let num = dmu2.broadcast_add(&var_o)?;
                let frac = num.broadcast_div(&(var_n * 2.0)?)?;
                let per = frac.broadcast_add(&(ls_n - ls_o)?)?.affine(1.0, -0.5)?;
                Ok(per.sum(1)?.mean_all()?)
            }
        }
    }

    /// Samples one action per observation row with that row's RNG; returns the flat actions
    /// (indices as f32 for categorical) and their log-probabilities.
    pub fn sample<R: Rng>(
        &self,
        obs: &Tensor,
        rngs: &mut [&mut R],
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let d = self.dist(obs)?;
        let rows = rngs.len();
        match self.head {
            Head::Categorical { n } => {
                let lp = candle_nn::ops::log_softmax(&d.out, D::Minus1)?
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                if lp.len() != rows * n {
                    return Err(TrpoError::Size {
                        what: "observation rows",
                        expected: rows,
                        got: lp.len() / n.max(1),
                    });
                }
                let mut acts = Vec::with_capacity(rows);
                let mut logp = Vec::with_capacity(rows);
                for (r, rng) in rngs.iter_mut().enumerate() {
                    let row = &lp[r * n..(r + 1) * n];
                    // NaN logits would fall through to the last category (φ for a policy that
                    // plays it) with a NaN log-probability: a broken network is an error.
                    if row.iter().any(|l| l.is_nan()) {
                        return Err(TrpoError::NonFinite {
                            what: "policy output (action logits)",
                        });
                    }
                    let u: f32 = rng.random();
                    let mut acc = 0.0f32;
                    // Past the last category by rounding: the last one, or, masked, the last
                    // legal one.
                    let mut pick = match self.mask {
                        None => n - 1,
                        Some(_) => row.iter().rposition(|l| l.exp() > 0.0).unwrap_or(n - 1),
                    };
                    for (k, &l) in row.iter().enumerate() {
                        acc += l.exp();
                        if u < acc {
                            pick = k;
                            break;
                        }
                    }
                    acts.push(pick as f32);
                    logp.push(row[pick]);
                }
                Ok((acts, logp))
            }
            Head::Gaussian { dim, .. } => {
                let mu = d
                    .out
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                let ls = d
                    .log_std
                    .as_ref()
                    .ok_or_else(no_log_std)?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?;
                if mu.len() != rows * dim {
                    return Err(TrpoError::Size {
                        what: "observation rows",
                        expected: rows,
                        got: mu.len() / dim.max(1),
                    });
                }
                if mu.iter().chain(&ls).any(|x| !x.is_finite()) {
                    return Err(TrpoError::NonFinite {
                        what: "policy output (Gaussian mean or log σ)",
                    });
                }
                let c = 0.5 * dim as f32 * (2.0 * std::f32::consts::PI).ln();
                let sum_ls: f32 = ls.iter().sum();
                let mut acts = Vec::with_capacity(rows * dim);
                let mut logp = Vec::with_capacity(rows);
                for (r, rng) in rngs.iter_mut().enumerate() {
                    let mut quad = 0.0f32;
                    for k in 0..dim {
                        let e: f32 = StandardNormal.sample(&mut **rng);
                        acts.push(mu[r * dim + k] + ls[k].exp() * e);
                        quad += e * e;
                    }
                    logp.push(-0.5 * quad - sum_ls - c);
                }
                Ok((acts, logp))
            }
        }
    }

    /// The most likely action per row (argmax, or the mean).
    pub fn act_greedy(&self, obs: &Tensor) -> Result<Vec<f32>> {
        let d = self.dist(obs)?;
        Ok(match self.head {
            Head::Categorical { .. } => d
                .out
                .argmax(D::Minus1)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?,
            Head::Gaussian { .. } => d.out.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
        })
    }

    /// Exact Fisher-vector product F v (without damping) at the current parameters for the
    /// observations `obs`, with `v` flat in the order of [`vars`](Self::vars):
    /// F v = Jᵀ M J v / N by one forward-mode JVP, the output distribution's Fisher M, and one
    /// hand-written reverse pass ([`Mlp::jvp_vjp`]; candle has no second-order autograd by
    /// default).
    pub fn fvp(&self, obs: &Tensor, v: &[f64]) -> Result<Vec<f64>> {
        let vars = self.vars();
        let parts = unflatten(&vars, v)?;
        let n_layers = self.mlp.vars().len() / 2;
        let tangent: Vec<(Tensor, Tensor)> = (0..n_layers)
            .map(|l| (parts[2 * l].clone(), parts[2 * l + 1].clone()))
            .collect();
        let n = obs.dim(0)? as f64;
        let head = self.head;
        let log_std = self.log_std.as_ref().map(|ls| ls.as_tensor().detach());
        let bias = self.mask_bias(obs, obs.dtype())?;
        let grads = self.mlp.jvp_vjp(obs, &tangent, |out, jv| {
            let u = match head {
                Head::Categorical { .. } => {
                    // M Jv = p ⊙ Jv − p (pᵀ Jv) for the softmax Fisher diag(p) − p pᵀ (of the
                    // masked distribution: an illegal action's row and column are 0).
                    let p = match &bias {
                        Some(b) => {
                            candle_nn::ops::softmax_last_dim(&(out + b.to_dtype(out.dtype())?)?)?
                        }
                        None => candle_nn::ops::softmax_last_dim(out)?,
                    };
                    let pjv = (&p * jv)?.sum_keepdim(1)?;
                    ((&p * jv)? - p.broadcast_mul(&pjv)?)?
                }
                Head::Gaussian { .. } => {
                    // Mean block: Jv / σ². (The log σ block is 2·I, added below.)
                    let ls = log_std.as_ref().ok_or_else(no_log_std)?;
                    jv.broadcast_div(&(ls * 2.0)?.exp()?)?
                }
            };
            Ok((u / n)?)
        })?;
        let mut res = Vec::with_capacity(v.len());
        for g in grads {
            res.extend(g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?);
        }
        if let Some(ls) = &self.log_std {
            let k = ls.as_tensor().elem_count();
            let start = v.len() - k;
            res.extend(v[start..].iter().map(|x| 2.0 * x));
        }
        Ok(res)
    }

    /// The flat gradient of `loss` with respect to [`vars`](Self::vars) (zeros where unused).
    pub fn flat_grad(&self, loss: &Tensor) -> Result<Vec<f64>> {
        let grads = loss.backward()?;
        let mut res = Vec::new();
        for var in self.vars() {
            match grads.get(var.as_tensor()) {
                Some(g) => res.extend(g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?),
                None => res.extend(std::iter::repeat_n(0.0, var.as_tensor().elem_count())),
            }
        }
        Ok(res)
    }
}
