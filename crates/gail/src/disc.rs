//! The discriminator network, its loss and its training step.

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

    /// Every parameter by name: `{prefix}.l{j}.weight` `(out, in)` and `{prefix}.l{j}.bias`. A
    /// snapshot: copies, since a variable's own tensor changes in place as it trains.
    pub fn tensors(&self, prefix: &str) -> Result<Vec<(String, Tensor)>, GailError> {
        let mut out = Vec::with_capacity(2 * self.mlp.layers().len());
        for (j, (w, b)) in self.mlp.layers().iter().enumerate() {
            out.push((format!("{prefix}.l{j}.weight"), w.as_tensor().copy()?));
            out.push((format!("{prefix}.l{j}.bias"), b.as_tensor().copy()?));
        }
        Ok(out)
    }

    /// Loads parameters saved by [`tensors`](Self::tensors): every name must be there with the
    /// same shape and finite values, or nothing changes. The optimizer's moments start afresh
    /// (Adam's state belongs to the parameters it was accumulated on).
    pub fn load_tensors(
        &mut self,
        m: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
    ) -> Result<(), GailError> {
        let staged = self.stage_tensors(m, prefix)?;
        self.set_staged(staged)
    }

    /// The first half of [`load_tensors`](Self::load_tensors): checks every tensor and keeps
    /// them, changing nothing, so a caller loading several networks can check them all before
    /// it sets any.
    pub fn stage_tensors(
        &self,
        m: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
    ) -> Result<StagedTensors, GailError> {
        let mut staged = Vec::new();
        for (j, (w, b)) in self.mlp.layers().iter().enumerate() {
            for (kind, var) in [("weight", w), ("bias", b)] {
                let key = format!("{prefix}.l{j}.{kind}");
                staged.push((var.clone(), checkpoint_tensor(m, &key, var.as_tensor())?));
            }
        }
        Ok(StagedTensors(staged))
    }

    /// The second half of [`load_tensors`](Self::load_tensors): sets tensors staged by
    /// [`stage_tensors`](Self::stage_tensors) on this discriminator and restarts Adam.
    pub fn set_staged(&mut self, staged: StagedTensors) -> Result<(), GailError> {
        for (var, t) in staged.0 {
            var.set(&t)?;
        }
        self.opt.restart();
        Ok(())
    }

    /// What besides the parameters the discriminator carries from one step to the next (Adam's
    /// moments, the gradient penalty's stream), for a checkpoint that resumes exactly.
    pub fn state(&self) -> DiscState {
        DiscState {
            adam: self.opt.state(),
            gp_rng: self.gp_rng.as_ref().map(mg_core::RngState::of),
        }
    }

    /// Restores a [`state`](Self::state) (after the parameters it was accumulated on are
    /// loaded). Nothing changes when it is refused.
    pub fn set_state(&mut self, s: &DiscState) -> Result<(), GailError> {
        if s.gp_rng.is_some() != self.gp_rng.is_some() {
            return Err(GailError::Checkpoint(
                "the saved state is of a discriminator with the other gradient-penalty setting"
                    .into(),
            ));
        }
        self.opt.set_state(s.adam.clone())?;
        self.gp_rng = s.gp_rng.as_ref().map(mg_core::RngState::rng);
        Ok(())
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

    /// `cfg.steps` gradient steps telling `expert` inputs (label 1) from `policy` inputs (label 0).
    /// Returns the statistics measured before the first step.
    pub fn train_step(&mut self, expert: &[f32], policy: &[f32]) -> Result<DiscStats, GailError> {
        self.train_step_labelled(&[(expert, 1.0), (policy, 0.0)])
    }

    /// `cfg.steps` gradient steps on sets of inputs with a target each (the zero-sum prior's
    /// paired labelling uses 1, ½ and 0), every set weighing the same; label smoothing ε maps a
    /// target y to y(1 − 2ε) + ε. The statistics report the first set as "expert" (logit > 0)
    /// and the last as "policy" (logit < 0); the gradient penalty interpolates between them.
    pub fn train_step_labelled(&mut self, sets: &[(&[f32], f64)]) -> Result<DiscStats, GailError> {
        let sets: Vec<LabelledSet> = sets
            .iter()
            .map(|&(inputs, target)| LabelledSet {
                inputs,
                target,
                mask: None,
            })
            .collect();
        self.train_sets(&sets)
    }

    /// [`train_step_labelled`](Self::train_step_labelled) with optional per-logit weights
    /// ([`LabelledSet::mask`]); the accuracies then count the logits of nonzero weight. The
    /// gradient penalty, when on, still constrains every output on interpolates of the first
    /// and last sets.
    pub fn train_sets(&mut self, sets: &[LabelledSet]) -> Result<DiscStats, GailError> {
        if sets.len() < 2 {
            return Err(GailError::Config {
                field: "sets",
                reason: format!("need at least two labelled sets, got {}", sets.len()),
            });
        }
        let eps = self.cfg.label_smoothing;
        let mut xs = Vec::with_capacity(sets.len());
        for (k, set) in sets.iter().enumerate() {
            let (x, y) = (set.inputs, &set.target);
            if !(0.0..=1.0).contains(y) {
                return Err(GailError::Config {
                    field: "target",
                    reason: format!("set {k} has target {y}, expected a value in [0, 1]"),
                });
            }
            let what = match k {
                0 => "expert inputs",
                _ if k + 1 == sets.len() => "policy inputs",
                _ => "labelled inputs",
            };
            let t = self.rows(x, what)?;
            // An empty set would weigh nothing without the penalty and be NaN with it: refused
            // on both paths alike.
            if t.dim(0)? == 0 {
                return Err(GailError::Config {
                    field: "sets",
                    reason: format!("set {k} ({what}) is empty; every set needs a row"),
                });
            }
            let mask = match set.mask {
                None => None,
                Some(m) => {
                    let want = t.dim(0)? * self.outputs;
                    if m.len() != want {
                        return Err(GailError::Config {
                            field: "mask",
                            reason: format!(
                                "set {k} ({what}): {} weights, expected {want} (rows × outputs)",
                                m.len()
                            ),
                        });
                    }
                    if m.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                        return Err(GailError::Config {
                            field: "mask",
                            reason: format!("set {k} ({what}): weights must be finite and ≥ 0"),
                        });
                    }
                    if !m.iter().any(|w| *w > 0.0) {
                        return Err(GailError::Config {
                            field: "mask",
                            reason: format!("set {k} ({what}): every logit is masked out"),
                        });
                    }
                    Some(m.to_vec())
                }
            };
            xs.push((t, y * (1.0 - 2.0 * eps) + eps, mask));
        }
        let mut first = None;
        // The rows a minibatch may draw from, per set: all of them, or with a mask those with
        // some weight, so that no minibatch of a set is weighted out entirely (its loss would
        // be 0/0).
        let outputs = self.outputs;
        let live: Vec<Vec<u32>> = xs
            .iter()
            .map(|(x, _, mask)| -> Result<Vec<u32>, GailError> {
                let n = x.dim(0)?;
                Ok(match mask {
                    None => (0..n as u32).collect(),
                    Some(w) => (0..n)
                        .filter(|&r| w[r * outputs..(r + 1) * outputs].iter().any(|&v| v > 0.0))
                        .map(|r| r as u32)
                        .collect(),
                })
            })
            .collect::<Result<_, _>>()?;
        let min_rows = live.iter().map(Vec::len).min().unwrap_or(1);
        let m = self.cfg.minibatches.clamp(1, min_rows.max(1));
        let dev = self.dev.clone();
        let minibatch = |step: usize| -> Result<Vec<Set>, GailError> {
            if m == 1 {
                return Ok(xs.clone());
            }
            xs.iter()
                .zip(&live)
                .map(|((x, y, mask), live)| {
                    let rows: Vec<u32> = live.iter().skip(step % m).step_by(m).copied().collect();
                    let ids = Tensor::from_slice(&rows, rows.len(), &dev)?;
                    let mask = mask.as_ref().map(|w| {
                        rows.iter()
                            .flat_map(|&r| {
                                let r = r as usize;
                                w[r * outputs..(r + 1) * outputs].iter().copied()
                            })
                            .collect()
                    });
                    Ok((x.index_select(&ids, 0)?, *y, mask))
                })
                .collect()
        };
        if self.gp_rng.is_none() {
            // The whole batch is the same at every step: stacked once.
            let whole = (m == 1).then(|| stack(&xs)).transpose()?;
            for step in 0..self.cfg.steps.max(1) {
                let (l, stats, grads) = match &whole {
                    Some(x) => self.loss_and_grads(x, &xs)?,
                    None => {
                        let sets = minibatch(step)?;
                        self.loss_and_grads(&stack(&sets)?, &sets)?
                    }
                };
                if !l.is_finite() {
                    return Err(GailError::NonFinite);
                }
                first.get_or_insert(stats);
                self.apply(grads)?;
            }
            return Ok(first.unwrap_or_default());
        }
        for step in 0..self.cfg.steps.max(1) {
            let xs = minibatch(step)?;
            let (bce, logits) = self.graph_loss(&xs)?;
            let l = f64::from(bce.to_scalar::<f32>()?);
            if !l.is_finite() {
                return Err(GailError::NonFinite);
            }
            let (xe, xp) = (&xs[0].0, &xs[xs.len() - 1].0);
            let (loss, gp) = match self.penalty(xe, xp)? {
                Some(gp) => {
                    let v = f64::from(gp.to_scalar::<f32>()?);
                    if !v.is_finite() {
                        return Err(GailError::NonFinite);
                    }
                    ((bce + (gp * self.cfg.gradient_penalty)?)?, v)
                }
                None => (bce, 0.0),
            };
            if first.is_none() {
                let frac = |k: usize, expert: bool| -> Result<f64, GailError> {
                    let v: Vec<f32> = logits[k].flatten_all()?.to_vec1()?;
                    Ok(accuracy(&v, xs[k].2.as_deref(), expert))
                };
                first = Some(DiscStats {
                    loss: l,
                    acc_expert: frac(0, true)?,
                    acc_policy: frac(logits.len() - 1, false)?,
                    gradient_penalty: gp,
                });
            }
            self.opt.step_store(&self.mlp.vars(), &loss.backward()?)?;
        }
        Ok(first.unwrap_or_default())
    }

    /// The loss of [`masked_loss`] on `sets` as a candle graph (differentiable by autograd), and
    /// each set's logits.
    fn graph_loss(&self, sets: &[Set]) -> Result<(Tensor, Vec<Tensor>), GailError> {
        let logits = sets
            .iter()
            .map(|(x, _, _)| self.forward(x))
            .collect::<Result<Vec<_>, _>>()?;
        let masks = sets
            .iter()
            .zip(&logits)
            .map(|((_, _, mask), l)| {
                mask.as_ref()
                    .map(|w| Tensor::from_slice(w, l.shape(), &self.dev))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let triples: Vec<(&Tensor, f64, Option<&Tensor>)> = logits
            .iter()
            .zip(sets)
            .zip(&masks)
            .map(|((l, (_, y, _)), w)| (l, *y, w.as_ref()))
            .collect();
        Ok((masked_loss(&triples)?, logits))
    }

    /// The loss of [`labelled_loss`] on `sets` (whose rows, stacked, are `x`: [`stack`]), the
    /// statistics of [`DiscStats`] and the gradient
    /// of the loss for every layer's weight and bias (in the order of `Mlp::vars`), by the MLP
    /// core's hand-written backward pass ([`Mlp::backward`]) over all sets at once: one matrix
    /// product per layer and direction on the stacked rows instead of one per set. candle's
    /// autograd gives the same gradients but built a zero tensor and an addition for every node
    /// and a strided reduction for every bias (`perf`: 58% of a MAGAIL iteration). Used whenever
    /// the gradient penalty is off (the penalty differentiates an input gradient, which stays
    /// with autograd).
    fn loss_and_grads(
        &self,
        x: &Tensor,
        sets: &[Set],
    ) -> Result<(f64, DiscStats, Vec<Vec<f32>>), GailError> {
        let rows: Vec<usize> = sets
            .iter()
            .map(|(x, _, _)| x.dim(0))
            .collect::<Result<_, _>>()?;
        let outputs = self.outputs;
        let n_sets = sets.len() as f64;
        let mut loss = 0.0;
        let mut stats = DiscStats::default();
        let (_, grads) = self.mlp.backward(x, |logits: &[f32]| {
            // softplus(L) − y·L per logit, stable for large |L|; its derivative is σ(L) − y.
            // Each set weighs the same: its mean over its (weighted) logits.
            let mut dz: Vec<f32> = Vec::with_capacity(logits.len());
            let mut start = 0;
            for (si, ((_, y, mask), &n)) in sets.iter().zip(&rows).enumerate() {
                let set = &logits[start * outputs..(start + n) * outputs];
                start += n;
                // A logit's weight: its mask's, or 1 (and 1·x is x, so unmasked sets compute
                // what they did before weights existed, to the bit).
                let weight = |j: usize| mask.as_ref().map_or(1.0, |w| f64::from(w[j]));
                let count: f64 = match mask {
                    None => set.len() as f64,
                    Some(w) => w.iter().map(|&m| f64::from(m)).sum(),
                };
                let scale = 1.0 / (count * n_sets);
                let mut set_loss = 0.0;
                for (j, &v) in set.iter().enumerate() {
                    let (v, m) = (f64::from(v), weight(j));
                    set_loss += m * (v.max(0.0) + (-v.abs()).exp().ln_1p() - y * v);
                    let sig = 1.0 / (1.0 + (-v).exp());
                    dz.push((m * (sig - y) * scale) as f32);
                }
                loss += set_loss / count / n_sets;
                if si == 0 {
                    stats.acc_expert = accuracy(set, mask.as_deref(), true);
                }
                if si + 1 == sets.len() {
                    stats.acc_policy = accuracy(set, mask.as_deref(), false);
                }
            }
            Ok(dz)
        })?;
        stats.loss = loss;
        Ok((loss, stats, grads))
    }

    /// One optimizer step with the given gradients (in the order of `Mlp::vars`, as
    /// [`Self::loss_and_grads`] returns them).
    fn apply(&mut self, grads: Vec<Vec<f32>>) -> Result<(), GailError> {
        self.opt.step(&self.mlp.vars(), &grads)?;
        Ok(())
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
