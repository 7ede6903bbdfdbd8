//! The discriminator network, its loss and its training step.

mod state;
mod train;

use candle_core::{D, DType, Device, Tensor, Var};
use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use trpo::{Activation, Adam, Mlp};

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
    /// Saved parameters that do not fit this discriminator.
    #[error("discriminator checkpoint: {0}")]
    Checkpoint(String),
    /// A setting out of range.
    #[error("discriminator setting `{field}`: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is expected.
        reason: String,
    },
    /// The network (`trpo::Mlp`) or its optimizer failed, or refused a saved state.
    #[error("discriminator network: {0}")]
    Optimizer(#[from] trpo::TrpoError),
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
    /// Gradient-penalty weight λ (0: off, the MAGAIL code's choice). With λ > 0 each step adds
    /// λ·mean((‖∇ₓ logit(x̂)‖ − 1)²) on random interpolates x̂ = εx_expert + (1 − ε)x_policy, the
    /// two-sided penalty of WGAN-GP that GAIL implementations use to keep D smooth (λ = 10 there).
    #[serde(default)]
    pub gradient_penalty: f64,
    /// Minibatches the steps cycle through: step j trains on rows j, j + m, j + 2m, … of every
    /// labelled set (m = this value, at most the smallest set's size), so `steps = m` is one
    /// epoch over the batch at the cost of one full-batch step. 1 (every step on the whole
    /// batch). The statistics are then those of the first minibatch.
    #[serde(default = "one")]
    pub minibatches: usize,
}

fn one() -> usize {
    1
}

impl Default for DiscConfig {
    fn default() -> Self {
        Self {
            hidden: vec![128, 128],
            lr: 3e-4,
            label_smoothing: 0.0,
            steps: 1,
            gradient_penalty: 0.0,
            minibatches: 1,
        }
    }
}

/// A set of discriminator inputs with its target, for [`Discriminator::train_sets`].
#[derive(Clone, Copy, Debug)]
pub struct LabelledSet<'a> {
    /// Flat inputs, `rows × in_dim`.
    pub inputs: &'a [f32],
    /// The target of every logit: 1 expert, 0 policy (before label smoothing).
    pub target: f64,
    /// Optional weights of the logits, `rows × outputs` (row-major), finite and ≥ 0: a logit
    /// with weight 0 takes no part in the loss, its gradient or the accuracies. AMAGAIL's
    /// filtering for a joint discriminator with one output per agent: output i is not trained
    /// on the steps where agent i did not act. `None`: every logit weighs 1.
    pub mask: Option<&'a [f32]>,
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
    /// The gradient penalty before the step, unweighted (0 when the penalty is off).
    #[serde(default)]
    pub gradient_penalty: f64,
}

/// Binary cross-entropy with logits, **expert labelled 1** (1 − ε with smoothing ε), policy 0 (ε):
/// mean over both sets of softplus(L) − y·L. `expert_logits` and `policy_logits` are `(N, k)`.
pub fn discriminator_loss(
    expert_logits: &Tensor,
    policy_logits: &Tensor,
    smoothing: f64,
) -> Result<Tensor, GailError> {
    labelled_loss(&[(expert_logits, 1.0 - smoothing), (policy_logits, smoothing)])
}

/// Mean over sets of the binary cross-entropy of each set's logits against its target y:
/// softplus(L) − y·L averaged over the set, then over sets (each set weighs the same).
fn labelled_loss(sets: &[(&Tensor, f64)]) -> Result<Tensor, GailError> {
    let sets: Vec<_> = sets.iter().map(|&(l, y)| (l, y, None)).collect();
    masked_loss(&sets)
}

/// [`labelled_loss`] where a set may carry a mask of the logits' shape: its cross-entropy is then
/// the mask-weighted mean Σ m·ℓ / Σ m (entries with weight 0 do not count).
fn masked_loss(sets: &[(&Tensor, f64, Option<&Tensor>)]) -> Result<Tensor, GailError> {
    let bce = |l: &Tensor, y: f64, m: Option<&Tensor>| -> Result<Tensor, GailError> {
        // softplus(l) = relu(l) + log(1 + e^{−|l|}), stable for large |l|.
        let sp = (l.relu()? + (l.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
        let e = (sp - (l * y)?)?;
        Ok(match m {
            None => e.mean_all()?,
            Some(m) => ((e * m)?.sum_all()? / f64::from(m.sum_all()?.to_scalar::<f32>()?))?,
        })
    };
    let mut total: Option<Tensor> = None;
    for (l, y, m) in sets {
        let b = bce(l, *y, *m)?;
        total = Some(match total {
            Some(t) => (t + b)?,
            None => b,
        });
    }
    let total = total.ok_or(GailError::Config {
        field: "sets",
        reason: "at least one labelled set is needed".into(),
    })?;
    Ok((total * (1.0 / sets.len() as f64))?)
}

/// Targets of the zero-sum prior's paired labelling (MAGAIL code, `competitive_single`): on expert
/// states, (expert a1, policy a2) → 1, (expert a1, expert a2) → ½, (policy a1, expert a2) → 0.
pub fn zero_sum_labels() -> [(bool, bool, f64); 3] {
    [(true, false, 1.0), (true, true, 0.5), (false, true, 0.0)]
}

/// The checkpoint tensor `key` of `m`, checked to fit the parameter `like` (same shape, finite
/// values) and converted to f32, ready for `Var::set`. Every network here loads its checkpoint
/// through this check (the discriminators, and magail-async's policies and critics).
pub fn checkpoint_tensor(
    m: &std::collections::HashMap<String, Tensor>,
    key: &str,
    like: &Tensor,
) -> Result<Tensor, GailError> {
    let t = m
        .get(key)
        .ok_or_else(|| GailError::Checkpoint(format!("missing tensor `{key}`")))?;
    if t.shape() != like.shape() {
        return Err(GailError::Checkpoint(format!(
            "tensor `{key}` has shape {:?}, expected {:?}",
            t.shape().dims(),
            like.shape().dims()
        )));
    }
    let t = t.to_dtype(DType::F32)?;
    if t.flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .any(|x| !x.is_finite())
    {
        return Err(GailError::Checkpoint(format!(
            "tensor `{key}` holds NaN or infinity"
        )));
    }
    // Checkpoints are read onto the CPU; the parameter may live on a GPU.
    Ok(t.to_device(like.device())?)
}

/// A labelled set ready for a step: inputs `(rows, in_dim)`, the smoothed target, the weights.
type Set = (Tensor, f64, Option<Vec<f32>>);

/// Fraction of the logits of nonzero weight on the right side of 0 (expert: > 0, policy: < 0).
fn accuracy(logits: &[f32], mask: Option<&[f32]>, expert: bool) -> f64 {
    let right = |v: f32| if expert { v > 0.0 } else { v < 0.0 };
    let kept = logits
        .iter()
        .enumerate()
        .filter(|&(j, _)| mask.is_none_or(|w| w[j] > 0.0));
    let (mut hit, mut all) = (0usize, 0usize);
    for (_, &v) in kept {
        all += 1;
        hit += usize::from(right(v));
    }
    hit as f64 / all.max(1) as f64
}

/// Checked checkpoint tensors, ready to set ([`Discriminator::stage_tensors`]).
#[derive(Debug)]
pub struct StagedTensors(Vec<(Var, Tensor)>);

/// The rows of every set, stacked in order: one batch for the network.
fn stack(sets: &[Set]) -> Result<Tensor, GailError> {
    let xs: Vec<&Tensor> = sets.iter().map(|(x, _, _)| x).collect();
    Ok(Tensor::cat(&xs, 0)?)
}

/// A discriminator's state besides its parameters ([`Discriminator::state`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiscState {
    adam: Adam,
    gp_rng: Option<mg_core::RngState>,
}

/// An MLP discriminator with `outputs` logits (1, or one per agent for the centralized prior).
#[derive(Debug)]
pub struct Discriminator {
    /// ReLU layers: the MLP core the policies and critics use (forward, backward, JVP).
    mlp: Mlp,
    opt: Adam,
    in_dim: usize,
    outputs: usize,
    cfg: DiscConfig,
    dev: Device,
    /// Draws the interpolation weights of the gradient penalty (only with the penalty on, so
    /// that turning it off leaves every other random stream as it was).
    gp_rng: Option<mg_core::StreamRng>,
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
        if !(cfg.gradient_penalty.is_finite() && cfg.gradient_penalty >= 0.0) {
            return Err(GailError::Config {
                field: "gradient_penalty",
                reason: format!(
                    "must be a non-negative number, got {}",
                    cfg.gradient_penalty
                ),
            });
        }
        if cfg.minibatches == 0 {
            return Err(GailError::Config {
                field: "minibatches",
                reason: "must be at least 1 (1: every step on the whole batch)".into(),
            });
        }
        if !(0.0..0.5).contains(&cfg.label_smoothing) {
            return Err(GailError::Config {
                field: "label_smoothing",
                reason: format!("must lie in [0, 0.5), got {}", cfg.label_smoothing),
            });
        }
        let mut dims = vec![in_dim];
        dims.extend_from_slice(&cfg.hidden);
        dims.push(outputs);
        // A zero width would make the initialisation bound 1/√0 = ∞ (a panic in the sampler).
        if let Some(j) = dims.iter().position(|&d| d == 0) {
            return Err(GailError::Config {
                field: match j {
                    0 => "input width",
                    _ if j + 1 == dims.len() => "outputs",
                    _ => "hidden",
                },
                reason: format!("every layer needs at least one unit, got widths {dims:?}"),
            });
        }
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
        let mlp = Mlp::from_layers(Activation::Relu, layers)?;
        let opt = Adam::for_vars(cfg.lr, &mlp.vars())?;
        let gp_rng = (cfg.gradient_penalty > 0.0).then(|| mg_core::stream_rng(rng.random(), 0));
        Ok(Self {
            mlp,
            opt,
            in_dim,
            outputs,
            cfg,
            dev: dev.clone(),
            gp_rng,
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
        Ok(self.mlp.forward(x)?)
    }

    /// ∂ logit_k / ∂x for every row, as a tensor expression differentiable in the weights (for
    /// the gradient penalty): backward through the ReLU layers by hand, with the ReLU masks as
    /// constants (their derivative is zero almost everywhere), since candle has no
    /// second-order autograd.
    fn input_grad(&self, x: &Tensor, k: usize) -> Result<Tensor, GailError> {
        let mut masks = Vec::new();
        let mut h = x.clone();
        let layers = self.mlp.layers();
        let last = layers.len() - 1;
        for (w, b) in &layers[..last] {
            let a = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            masks.push(a.gt(0.0)?.to_dtype(a.dtype())?.detach());
            h = a.relu()?;
        }
        let n = x.dim(0)?;
        // Row k of the last weight, the same for every sample.
        let mut g = layers[last]
            .0
            .as_tensor()
            .narrow(0, k, 1)?
            .broadcast_as((n, layers[last].0.as_tensor().dim(1)?))?;
        for (l, mask) in masks.iter().enumerate().rev() {
            g = (g * mask)?.matmul(layers[l].0.as_tensor())?;
        }
        Ok(g)
    }

    /// The two-sided penalty mean((‖∇ₓ logit_k(x̂)‖ − 1)²) over interpolates and outputs k.
    fn penalty(&mut self, xe: &Tensor, xp: &Tensor) -> Result<Option<Tensor>, GailError> {
        let Some(rng) = self.gp_rng.as_mut() else {
            return Ok(None);
        };
        let m = xe.dim(0)?.min(xp.dim(0)?);
        if m == 0 {
            return Ok(None);
        }
        let pick = |n: usize, rng: &mut mg_core::StreamRng| -> Vec<u32> {
            (0..m).map(|_| rng.random_range(0..n as u32)).collect()
        };
        let ie = pick(xe.dim(0)?, rng);
        let ip = pick(xp.dim(0)?, rng);
        let eps: Vec<f32> = (0..m).map(|_| rng.random::<f32>()).collect();
        let e = xe.index_select(&Tensor::from_slice(&ie, m, &self.dev)?, 0)?;
        let p = xp.index_select(&Tensor::from_slice(&ip, m, &self.dev)?, 0)?;
        let eps = Tensor::from_slice(&eps, (m, 1), &self.dev)?;
        let xh = (e.broadcast_mul(&eps)? + p.broadcast_mul(&(eps.neg()? + 1.0)?)?)?;
        let mut total: Option<Tensor> = None;
        for k in 0..self.outputs {
            let g = self.input_grad(&xh, k)?;
            let norm = (g.sqr()?.sum(D::Minus1)? + 1e-12)?.sqrt()?;
            let term = (norm - 1.0)?.sqr()?.mean_all()?;
            total = Some(match total {
                Some(t) => (t + term)?,
                None => term,
            });
        }
        Ok(total.map(|t| t / self.outputs as f64).transpose()?)
    }

    /// ∂ logit_k / ∂x for flat inputs (`rows × in_dim`, row-major): what the gradient penalty
    /// constrains, exposed for monitoring and tests.
    pub fn input_gradient(&self, x: &[f32], k: usize) -> Result<Vec<f32>, GailError> {
        if k >= self.outputs {
            return Err(GailError::Config {
                field: "output",
                reason: format!("{k} is not one of the {} outputs", self.outputs),
            });
        }
        let t = self.rows(x, "discriminator input")?;
        Ok(self.input_grad(&t, k)?.flatten_all()?.to_vec1()?)
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

    /// Per-row mean over outputs of σ(logit) (handy for monitoring).
    pub fn mean_prob(&self, x: &[f32]) -> Result<f64, GailError> {
        let t = self.rows(x, "discriminator input")?;
        let p = candle_nn::ops::sigmoid(&self.forward(&t)?)?;
        Ok(f64::from(
            p.mean(D::Minus1)?.mean_all()?.to_scalar::<f32>()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The autograd gradient of [`labelled_loss`], the reference for the hand-written one.
    fn autograd(d: &Discriminator, sets: &[Set]) -> Result<(f64, Vec<Vec<f32>>), GailError> {
        let (loss, _) = d.graph_loss(sets)?;
        let g = loss.backward()?;
        let grads = d
            .mlp
            .vars()
            .iter()
            .map(|v| -> Result<Vec<f32>, GailError> {
                Ok(g.get(v.as_tensor())
                    .ok_or(GailError::NonFinite)?
                    .flatten_all()?
                    .to_vec1()?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((f64::from(loss.to_scalar::<f32>()?), grads))
    }

    #[test]
    fn the_hand_written_gradient_is_autograds() -> Result<(), GailError> {
        let dev = Device::Cpu;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let cfg = DiscConfig {
            hidden: vec![16, 8],
            ..DiscConfig::default()
        };
        // Two outputs (a centralized prior) and three labelled sets of different sizes, with a
        // smoothed target, so every weighting of the loss is exercised.
        let d = Discriminator::new(5, 2, cfg, &mut rng, &dev)?;
        let mut set = |n: usize, y: f64| -> Result<Set, GailError> {
            let v: Vec<f32> = (0..n * 5).map(|_| rng.random_range(-2.0..2.0)).collect();
            Ok((Tensor::from_vec(v, (n, 5), &dev)?, y, None))
        };
        let sets = vec![set(7, 0.95)?, set(4, 0.5)?, set(9, 0.05)?];
        // The same sets with 0/1 weights on two of them (AMAGAIL's per-output filtering).
        let mut masked = sets.clone();
        masked[0].2 = Some((0..14).map(|k| f32::from(k % 3 != 0)).collect());
        masked[2].2 = Some((0..18).map(|k| f32::from(k % 4 == 1)).collect());
        for sets in [&sets, &masked] {
            let (want_loss, want) = autograd(&d, sets)?;
            let (loss, stats, got) = d.loss_and_grads(&stack(sets)?, sets)?;
            assert!((loss - want_loss).abs() < 1e-5, "{loss} vs {want_loss}");
            assert_eq!(stats.loss, loss);
            assert_eq!(got.len(), want.len());
            for (l, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.len(), w.len());
                for (a, b) in g.iter().zip(w) {
                    assert!((a - b).abs() < 1e-5, "parameter {l}: {a} vs {b}");
                }
                assert!(
                    w.iter().any(|v| v.abs() > 1e-4),
                    "parameter {l} has a gradient"
                );
            }
        }
        // Weights of 1 are no weights, to the bit.
        let mut ones = sets.clone();
        for s in &mut ones {
            s.2 = Some(vec![1.0; s.0.dim(0)? * 2]);
        }
        let (l1, _, g1) = d.loss_and_grads(&stack(&sets)?, &sets)?;
        let (l2, _, g2) = d.loss_and_grads(&stack(&ones)?, &ones)?;
        assert_eq!((l1, g1), (l2, g2));
        Ok(())
    }
}
