//! One TRPO policy update: surrogate gradient, natural direction by conjugate gradient on exact
//! Fisher-vector products, step scaled to the KL radius, backtracking line search.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::cg::{CgConfig, conjugate_gradient};
use crate::error::{Result, TrpoError};
use crate::mlp::{flatten, set_flat};
use crate::policy::{DistParams, StochasticPolicy};

/// Every TRPO hyperparameter, with its default and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrpoConfig {
    /// Trust-region radius: the largest mean KL(old ‖ new) a step may have. 0.01 as in the
    /// TRPO paper and sb3-contrib; rarely worth tuning.
    pub max_kl: f64,
    /// Conjugate-gradient settings (10 iterations, residual 1e-10).
    pub cg: CgConfig,
    /// Damping λ added to the Fisher (F + λI) for a well-conditioned solve. 0.1 (sb3-contrib).
    pub cg_damping: f64,
    /// Backtracking steps of the line search. 10.
    pub line_search_steps: usize,
    /// Step shrink factor per backtrack. 0.8 (sb3-contrib).
    pub line_search_shrink: f64,
    /// Discount γ. 0.99.
    pub gamma: f64,
    /// GAE λ. 0.95.
    pub gae_lambda: f64,
    /// Normalise advantages to zero mean, unit variance per update. On.
    pub normalize_advantages: bool,
    /// Value-function learning rate (Adam). 1e-3.
    pub vf_lr: f64,
    /// Value-function epochs per update. 10.
    pub vf_epochs: usize,
    /// Value-function minibatches per epoch. 16.
    pub vf_minibatches: usize,
    /// Hidden layers of the policy and value networks. [64, 64].
    pub hidden: Vec<usize>,
    /// Fisher-vector products (the conjugate-gradient solve) use every k-th sample of the batch;
    /// 1 uses all. The Fisher is an average over states, so a regular subsample of a large batch
    /// estimates it well at 1/k of the cost (rllab's `subsample_factor`, as a stride); the
    /// gradient, the KL bound and the line search still see the whole batch. 1.
    #[serde(default = "one")]
    pub fisher_subsample: usize,
}

fn one() -> usize {
    1
}

impl Default for TrpoConfig {
    fn default() -> Self {
        Self {
            max_kl: 0.01,
            cg: CgConfig::default(),
            cg_damping: 0.1,
            line_search_steps: 10,
            line_search_shrink: 0.8,
            gamma: 0.99,
            gae_lambda: 0.95,
            normalize_advantages: true,
            vf_lr: 1e-3,
            vf_epochs: 10,
            vf_minibatches: 16,
            hidden: vec![64, 64],
            fisher_subsample: 1,
        }
    }
}

impl TrpoConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: &str| {
            Err(TrpoError::Config {
                field,
                reason: reason.to_string(),
            })
        };
        if !(self.max_kl.is_finite() && self.max_kl > 0.0) {
            return Err(TrpoError::Config {
                field: "max_kl",
                reason: format!("must be a positive number, got {}", self.max_kl),
            });
        }
        if !(self.cg_damping.is_finite() && self.cg_damping >= 0.0) {
            return bad("cg_damping", "must be a non-negative number");
        }
        if !(self.line_search_shrink > 0.0 && self.line_search_shrink < 1.0) {
            return bad("line_search_shrink", "must lie in (0, 1)");
        }
        if !(0.0..=1.0).contains(&self.gamma) || !(0.0..=1.0).contains(&self.gae_lambda) {
            return bad("gamma/gae_lambda", "must lie in [0, 1]");
        }
        if self.vf_minibatches == 0 {
            return bad("vf_minibatches", "must be at least 1");
        }
        if !(self.vf_lr.is_finite() && self.vf_lr > 0.0) {
            return bad("vf_lr", "must be a positive number");
        }
        if self.fisher_subsample == 0 {
            return bad(
                "fisher_subsample",
                "must be at least 1 (1 uses every sample)",
            );
        }
        Ok(())
    }
}

/// Data for one policy update.
#[derive(Clone, Debug)]
pub struct PolicyBatch {
    /// Observations `(N, obs_dim)`.
    pub obs: Tensor,
    /// Actions: `(N,)` u32 indices (categorical) or `(N, dim)` floats (Gaussian).
    pub actions: Tensor,
    /// Advantages, one per sample (normalised here if the config says so).
    pub advantages: Vec<f64>,
    /// Optional demonstrations the step should also keep likely (behaviour-cloning
    /// regularisation); `None` is plain TRPO.
    pub anchor: Option<Anchor>,
}

/// Demonstrations that regularise a step: the objective becomes the surrogate plus
/// `weight` × the mean log-likelihood of `actions` given `obs` (a behaviour-cloning term, as in
/// BC-regularised GAIL, Jena et al. 2020). The natural direction, the line search's improvement
/// test and the trust region all see the combined objective; the KL is still measured on the
/// batch's own observations.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// Demonstration observations `(M, obs_dim)`.
    pub obs: Tensor,
    /// Demonstration actions, laid out as [`PolicyBatch::actions`].
    pub actions: Tensor,
    /// Weight of the mean log-likelihood (≥ 0).
    pub weight: f64,
}

/// What the line search decided.
#[derive(Clone, Debug, PartialEq)]
pub enum LineSearch {
    /// A step was taken.
    Accepted {
        /// Fraction of the full natural step taken.
        step_frac: f64,
        /// Mean KL(old ‖ new) of the step (≤ max_kl).
        kl: f64,
        /// Actual surrogate improvement (> 0).
        improvement: f64,
    },
    /// No step satisfied the KL bound with a real, finite improvement: parameters unchanged.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// Statistics of one update.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// The line-search outcome.
    pub line_search: LineSearch,
    /// Conjugate-gradient iterations.
    pub cg_iters: usize,
    /// Norm of the surrogate gradient.
    pub grad_norm: f64,
    /// First-order predicted improvement of the full step.
    pub expected_improvement: f64,
}

fn surrogate(
    policy: &StochasticPolicy,
    d: &DistParams,
    actions: &Tensor,
    logp_old: &Tensor,
    adv: &Tensor,
) -> Result<Tensor> {
    let logp = policy.log_prob(d, actions)?;
    let ratio = (logp - logp_old)?.exp()?;
    Ok((ratio * adv)?.mean_all()?)
}

/// The surrogate plus the anchor's weighted mean log-likelihood, if any.
fn objective(
    policy: &StochasticPolicy,
    d: &DistParams,
    batch: &PolicyBatch,
    logp_old: &Tensor,
    adv: &Tensor,
) -> Result<Tensor> {
    let s = surrogate(policy, d, &batch.actions, logp_old, adv)?;
    match &batch.anchor {
        None => Ok(s),
        Some(a) => {
            let da = policy.dist(&a.obs)?;
            let ll = policy.log_prob(&da, &a.actions)?.mean_all()?;
            Ok((s + (ll * a.weight)?)?)
        }
    }
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// One TRPO update of `policy` on `batch`.
pub fn trpo_step(
    policy: &StochasticPolicy,
    batch: &PolicyBatch,
    cfg: &TrpoConfig,
) -> Result<StepReport> {
    cfg.validate()?;
    let n = batch.obs.dim(0)?;
    if batch.advantages.len() != n {
        return Err(TrpoError::Size {
            what: "advantages",
            expected: n,
            got: batch.advantages.len(),
        });
    }
    if batch.advantages.iter().any(|a| !a.is_finite()) {
        return Err(TrpoError::NonFinite { what: "advantages" });
    }
    // One action row per observation: a single Gaussian action row would otherwise broadcast
    // against every mean and the step would run on the wrong data.
    if batch.actions.dim(0)? != n {
        return Err(TrpoError::Size {
            what: "actions",
            expected: n,
            got: batch.actions.dim(0)?,
        });
    }
    if let Some(a) = &batch.anchor {
        if !(a.weight.is_finite() && a.weight >= 0.0) {
            return Err(TrpoError::Config {
                field: "anchor.weight",
                reason: format!("must be finite and ≥ 0, got {}", a.weight),
            });
        }
        let m = a.obs.dim(0)?;
        if a.actions.dim(0)? != m {
            return Err(TrpoError::Size {
                what: "anchor actions",
                expected: m,
                got: a.actions.dim(0)?,
            });
        }
    }
    let mut adv = batch.advantages.clone();
    if cfg.normalize_advantages && n > 1 {
        let mean = adv.iter().sum::<f64>() / n as f64;
        let var = adv.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64;
        let sd = var.sqrt().max(1e-8);
        for a in &mut adv {
            *a = (*a - mean) / sd;
        }
    }
    let dtype = batch.obs.dtype();
    let dev = batch.obs.device();
    let adv_t = Tensor::from_iter(adv.iter().copied(), dev)?.to_dtype(dtype)?;

    let old_raw = policy.dist(&batch.obs)?;
    // The old distribution must be a snapshot: a Gaussian's log σ is the variable's own tensor,
    // whose storage the line search overwrites in place (`Var::set`), so it is copied.
    let old = DistParams {
        out: old_raw.out.detach(),
        log_std: old_raw
            .log_std
            .as_ref()
            .map(|t| t.copy().map(|t| t.detach()))
            .transpose()?,
    };
    let logp_old = policy.log_prob(&old, &batch.actions)?.detach();
    let loss_old_t = objective(policy, &old_raw, batch, &logp_old, &adv_t)?;
    let loss_old = scalar(&loss_old_t)?;
    let g = policy.flat_grad(&loss_old_t)?;
    let grad_norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let rejected = |reason: &str, cg_iters| StepReport {
        line_search: LineSearch::Rejected {
            reason: reason.to_string(),
        },
        cg_iters,
        grad_norm,
        expected_improvement: 0.0,
    };
    if !grad_norm.is_finite() {
        return Ok(rejected("the surrogate gradient is not finite", 0));
    }
    if grad_norm == 0.0 {
        return Ok(rejected("the surrogate gradient is zero", 0));
    }

    let damping = cfg.cg_damping;
    let k = cfg.fisher_subsample;
    let fisher_obs = if k > 1 && n >= 2 * k {
        let rows: Vec<u32> = (0..n as u32).step_by(k).collect();
        let ids = Tensor::from_slice(&rows, rows.len(), dev)?;
        batch.obs.index_select(&ids, 0)?
    } else {
        batch.obs.clone()
    };
    let fvp = |v: &[f64]| -> Result<Vec<f64>> {
        let mut fv = policy.fvp(&fisher_obs, v)?;
        for (f, x) in fv.iter_mut().zip(v) {
            *f += damping * x;
        }
        Ok(fv)
    };
    let sol = conjugate_gradient(fvp, &g, &cfg.cg)?;
    let ax = fvp(&sol.x)?;
    let xax: f64 = sol.x.iter().zip(&ax).map(|(a, b)| a * b).sum();
    if !(xax.is_finite() && xax > 0.0) {
        return Ok(rejected(
            "the natural direction has no positive curvature",
            sol.iters,
        ));
    }
    let scale = (2.0 * cfg.max_kl / xax).sqrt();
    let full: Vec<f64> = sol.x.iter().map(|x| x * scale).collect();
    let expected_improvement: f64 = g.iter().zip(&full).map(|(a, b)| a * b).sum();

    let vars = policy.vars();
    let theta0 = flatten(&vars)?;
    let mut frac = 1.0;
    for _ in 0..cfg.line_search_steps {
        let theta: Vec<f64> = theta0
            .iter()
            .zip(&full)
            .map(|(t, s)| t + frac * s)
            .collect();
        set_flat(&vars, &theta)?;
        let trial = || -> Result<(f64, f64)> {
            let new = policy.dist(&batch.obs)?;
            let kl = scalar(&policy.kl(&old, &new)?)?;
            let improvement =
                scalar(&objective(policy, &new, batch, &logp_old, &adv_t)?)? - loss_old;
            Ok((kl, improvement))
        };
        // A failure at a trial point must not leave the policy there.
        let (kl, improvement) = match trial() {
            Ok(v) => v,
            Err(e) => {
                set_flat(&vars, &theta0)?;
                return Err(e);
            }
        };
        if kl.is_finite() && improvement.is_finite() && kl <= cfg.max_kl && improvement > 0.0 {
            return Ok(StepReport {
                line_search: LineSearch::Accepted {
                    step_frac: frac,
                    kl,
                    improvement,
                },
                cg_iters: sol.iters,
                grad_norm,
                expected_improvement,
            });
        }
        frac *= cfg.line_search_shrink;
    }
    set_flat(&vars, &theta0)?;
    Ok(StepReport {
        expected_improvement,
        ..rejected(
            "no step within the KL bound improved the surrogate",
            sol.iters,
        )
    })
}
