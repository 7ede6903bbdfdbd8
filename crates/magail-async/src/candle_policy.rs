//! Candle policies behind the rollout [`Policy`] interface.

use candle_core::{Device, Tensor};
use mg_core::{ActionSpace, StreamRng};
use trpo::{Head, StochasticPolicy};

use crate::policy::{Policy, PolicyError, PolicyOutput};

/// The head matching an action space (categorical for discrete, Gaussian for boxes).
pub fn head_for(space: ActionSpace) -> Head {
    match space {
        ActionSpace::Discrete { n } => Head::Categorical { n },
        ActionSpace::Box { dim, .. } => Head::Gaussian {
            dim,
            init_log_std: -0.5,
        },
    }
}

/// A [`StochasticPolicy`] acting in rollouts: samples with each row's stream, or acts greedily.
///
/// Box actions are clipped into the space before they reach the game; the log-probability is
/// that of the unclipped sample (the usual practice, as in stable-baselines3). A policy made
/// [`with_phi`](Self::with_phi) has one category more than a discrete space's `n` actions: φ.
#[derive(Clone, Debug)]
pub struct CandlePolicy {
    policy: StochasticPolicy,
    space: ActionSpace,
    greedy: bool,
    phi: bool,
    dev: Device,
}

impl CandlePolicy {
    /// Wraps `policy` (a clone shares its parameters, so later updates show through).
    pub fn new(policy: StochasticPolicy, space: ActionSpace, dev: Device) -> Self {
        Self {
            policy,
            space,
            greedy: false,
            phi: false,
            dev,
        }
    }

    /// Acts with the most likely action instead of sampling (log-probabilities are then 0).
    pub fn greedy(mut self, yes: bool) -> Self {
        self.greedy = yes;
        self
    }

    /// Whether the policy's last category is φ (see [`Policy::plays_phi`]).
    pub fn with_phi(mut self, yes: bool) -> Self {
        self.phi = yes;
        self
    }

    /// The wrapped policy.
    pub fn inner(&self) -> &StochasticPolicy {
        &self.policy
    }
}

impl Policy for CandlePolicy {
    fn act(&self, obs: &[f32], rngs: &mut [&mut StreamRng]) -> Result<PolicyOutput, PolicyError> {
        let rows = rngs.len();
        let d = self.policy.obs_dim();
        if obs.len() != rows * d {
            return Err(PolicyError(format!(
                "expected {rows} observation rows of {d} values, got {} values",
                obs.len()
            )));
        }
        let err = |e: trpo::TrpoError| PolicyError(e.to_string());
        let t = Tensor::from_slice(obs, (rows, d), &self.dev)
            .map_err(|e| PolicyError(e.to_string()))?;
        let (mut actions, logp) = if self.greedy {
            (self.policy.act_greedy(&t).map_err(err)?, vec![0.0; rows])
        } else {
            self.policy.sample(&t, rngs).map_err(err)?
        };
        if let ActionSpace::Box { low, high, .. } = self.space {
            for a in &mut actions {
                *a = a.clamp(low, high);
            }
        }
        Ok(PolicyOutput { actions, logp })
    }

    fn plays_phi(&self) -> bool {
        self.phi
    }
}
