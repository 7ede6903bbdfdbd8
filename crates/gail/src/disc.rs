//! The discriminator network, its loss and its training step.

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What went wrong in a discriminator computation.
#[derive(Debug, Error)]
pub enum GailError {
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// Inputs of the wrong size.
    #[error("`{what}` has {got} values, expected a multiple of {expected}")]
    Size {
        /// Which input.
        what: &'static str,
        /// Expected row width.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// The loss became NaN or infinite.
    #[error("discriminator loss is not finite")]
    NonFinite,
}

/// Discriminator settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscConfig {
    /// Hidden layers (ReLU). [128, 128] as the MAGAIL code.
    pub hidden: Vec<usize>,
    /// Adam learning rate. 3e-4.
    pub lr: f64,
    /// Label smoothing ε: expert targets 1 − ε, policy targets ε. 0 by default.
    pub label_smoothing: f64,
    /// Gradient steps per training iteration. 1 as the MAGAIL code (d_iters = 1).
    pub steps: usize,
}

impl Default for DiscConfig {
    fn default() -> Self {
        Self {
            hidden: vec![128, 128],
            lr: 3e-4,
            label_smoothing: 0.0,
            steps: 1,
        }
    }
}

/// Typed statistics of one discriminator step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiscStats {
    /// The loss before the step.
    pub loss: f64,
    /// Fraction of expert samples scored as expert (logit > 0).
    pub acc_expert: f64,
    /// Fraction of policy samples scored as policy (logit < 0).
    pub acc_policy: f64,
}

/// Binary cross-entropy with logits, **expert labelled 1** (1 − ε with smoothing ε), policy 0 (ε):
/// mean over both sets of softplus(L) − y·L. `expert_logits` and `policy_logits` are `(N, k)`.
pub fn discriminator_loss(
    expert_logits: &Tensor,
    policy_logits: &Tensor,
    smoothing: f64,
) -> Result<Tensor, GailError> {
    let bce = |l: &Tensor, y: f64| -> Result<Tensor, GailError> {
        // softplus(l) = relu(l) + log(1 + e^{−|l|}), stable for large |l|.
        let sp = (l.relu()? + (l.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
        Ok((sp - (l * y)?)?.mean_all()?)
    };
    Ok(((bce(expert_logits, 1.0 - smoothing)? + bce(policy_logits, smoothing)?)? * 0.5)?)
}

/// Targets of the zero-sum prior's paired labelling (MAGAIL code, `competitive_single`): on expert
/// states, (expert a1, policy a2) → 1, (expert a1, expert a2) → ½, (policy a1, expert a2) → 0.
pub fn zero_sum_labels() -> [(bool, bool, f64); 3] {
    [(true, false, 1.0), (true, true, 0.5), (false, true, 0.0)]
}

/// An MLP discriminator with `outputs` logits (1, or one per agent for the centralized prior).
#[derive(Debug)]
pub struct Discriminator {
    layers: Vec<(Var, Var)>,
    opt: AdamW,
    in_dim: usize,
    cfg: DiscConfig,
    dev: Device,
}

impl Discriminator {
    /// Seeded initialisation (uniform ±1/√fan_in, as PyTorch's `Linear`).
    pub fn new(
        in_dim: usize,
        outputs: usize,
        cfg: DiscConfig,
        rng: &mut impl Rng,
        dev: &Device,
    ) -> Result<Self, GailError> {
        let mut dims = vec![in_dim];
        dims.extend_from_slice(&cfg.hidden);
        dims.push(outputs);
        let mut layers = Vec::new();
        for w in dims.windows(2) {
            let bound = 1.0 / (w[0] as f32).sqrt();
            let wv: Vec<f32> = (0..w[0] * w[1])
                .map(|_| rng.random_range(-bound..bound))
                .collect();
            let bv: Vec<f32> = (0..w[1]).map(|_| rng.random_range(-bound..bound)).collect();
            layers.push((
                Var::from_tensor(&Tensor::from_vec(wv, (w[1], w[0]), dev)?)?,
                Var::from_tensor(&Tensor::from_vec(bv, w[1], dev)?)?,
            ));
        }
        let vars = layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect();
        let opt = AdamW::new(
            vars,
            ParamsAdamW {
                lr: cfg.lr,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        Ok(Self {
            layers,
            opt,
            in_dim,
            cfg,
            dev: dev.clone(),
        })
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    fn rows(&self, x: &[f32], what: &'static str) -> Result<Tensor, GailError> {
        if !x.len().is_multiple_of(self.in_dim) {
            return Err(GailError::Size {
                what,
                expected: self.in_dim,
                got: x.len(),
            });
        }
        Ok(Tensor::from_slice(
            x,
            (x.len() / self.in_dim, self.in_dim),
            &self.dev,
        )?)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, GailError> {
        let mut h = x.clone();
        for (k, (w, b)) in self.layers.iter().enumerate() {
            h = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            if k + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Logits (`rows × outputs`, row-major) for flat inputs.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>, GailError> {
        let t = self.rows(x, "discriminator input")?;
        Ok(self
            .forward(&t)?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1()?)
    }

    /// `cfg.steps` gradient steps telling `expert` inputs (label 1) from `policy` inputs (label 0).
    /// Returns the statistics measured before the first step.
    pub fn train_step(&mut self, expert: &[f32], policy: &[f32]) -> Result<DiscStats, GailError> {
        let xe = self.rows(expert, "expert inputs")?;
        let xp = self.rows(policy, "policy inputs")?;
        let mut first = None;
        for _ in 0..self.cfg.steps.max(1) {
            let le = self.forward(&xe)?;
            let lp = self.forward(&xp)?;
            let loss = discriminator_loss(&le, &lp, self.cfg.label_smoothing)?;
            let l = f64::from(loss.to_scalar::<f32>()?);
            if !l.is_finite() {
                return Err(GailError::NonFinite);
            }
            if first.is_none() {
                let frac = |t: &Tensor, expert: bool| -> Result<f64, GailError> {
                    let v: Vec<f32> = t.flatten_all()?.to_vec1()?;
                    let hit = v
                        .iter()
                        .filter(|&&x| if expert { x > 0.0 } else { x < 0.0 })
                        .count();
                    Ok(hit as f64 / v.len().max(1) as f64)
                };
                first = Some(DiscStats {
                    loss: l,
                    acc_expert: frac(&le, true)?,
                    acc_policy: frac(&lp, false)?,
                });
            }
            self.opt.backward_step(&loss)?;
        }
        Ok(first.unwrap_or_default())
    }

    /// Per-row mean over outputs of σ(logit) (handy for monitoring).
    pub fn mean_prob(&self, x: &[f32]) -> Result<f64, GailError> {
        let t = self.rows(x, "discriminator input")?;
        let p = candle_nn::ops::sigmoid(&self.forward(&t)?)?;
        Ok(f64::from(
            p.mean(D::Minus1)?.mean_all()?.to_scalar::<f32>()?,
        ))
    }
}
