//! The small policy interface rollouts use: a batch of observations in, actions and their
//! log-probabilities out.

use mg_core::{ActionSpace, StreamRng};
use rand::Rng;
use thiserror::Error;

/// A policy failed to act.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// Actions for a batch of observations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyOutput {
    /// `rows × action width` flat actions.
    pub actions: Vec<f32>,
    /// `rows` log-probabilities of those actions under the policy.
    pub logp: Vec<f32>,
}

/// One agent's policy.
///
/// `obs` holds `rngs.len()` rows of observations; row `r` must be acted on with `rngs[r]` only,
/// and independently of the other rows. Rollouts rely on this to give the same data whatever the
/// number of workers (each environment has its own stream for each agent).
pub trait Policy: Sync {
    /// Acts on a batch of observation rows.
    fn act(&self, obs: &[f32], rngs: &mut [&mut StreamRng]) -> Result<PolicyOutput, PolicyError>;

    /// Whether φ is one of this policy's own actions: when it answers φ's encoding
    /// ([`mg_core::ActionSpace::phi_fill`]) at a step where its agent acts, the game moves the
    /// agent as one that does not act, but the agent stays in the round and is rewarded
    /// ([`mg_core::ExtensiveGame::choose_phi`]; the baselines of the AMAGAIL paper treat φ as an
    /// ordinary action). Other policies' φ answers are invalid actions. False unless a policy
    /// says otherwise.
    fn plays_phi(&self) -> bool {
        false
    }
}

/// Uniformly random actions: discrete uniform, or uniform in the box.
#[derive(Clone, Debug)]
pub struct RandomPolicy {
    space: ActionSpace,
}

impl RandomPolicy {
    /// For an agent with this action space.
    pub fn new(space: ActionSpace) -> Self {
        Self { space }
    }

    /// One for every agent of a game, in agent order.
    pub fn for_game(spec: &mg_core::GameSpec) -> Vec<Self> {
        spec.agents
            .iter()
            .map(|a| Self::new(a.action_space))
            .collect()
    }
}

impl Policy for RandomPolicy {
    fn act(&self, _obs: &[f32], rngs: &mut [&mut StreamRng]) -> Result<PolicyOutput, PolicyError> {
        let mut out = PolicyOutput::default();
        match self.space {
            ActionSpace::Discrete { n } => {
                let lp = -(n as f32).ln();
                for r in rngs.iter_mut() {
                    out.actions.push(r.random_range(0..n) as f32);
                    out.logp.push(lp);
                }
            }
            ActionSpace::Box { dim, low, high } => {
                let lp = -(dim as f32) * (high - low).ln();
                for r in rngs.iter_mut() {
                    for _ in 0..dim {
                        out.actions.push(low + (high - low) * r.random::<f32>());
                    }
                    out.logp.push(lp);
                }
            }
        }
        Ok(out)
    }
}

/// A deterministic policy from a function of one observation row (scripted experts):
/// the function writes the action into its output slice; log-probabilities are 0.
pub struct FnPolicy<F> {
    width: usize,
    obs_dim: usize,
    f: F,
}

impl<F: Fn(&[f32], &mut [f32]) + Sync> FnPolicy<F> {
    /// Wraps `f` for an agent with this observation size and action width.
    pub fn new(obs_dim: usize, width: usize, f: F) -> Self {
        Self { width, obs_dim, f }
    }
}

impl<F: Fn(&[f32], &mut [f32]) + Sync> Policy for FnPolicy<F> {
    fn act(&self, obs: &[f32], rngs: &mut [&mut StreamRng]) -> Result<PolicyOutput, PolicyError> {
        let rows = rngs.len();
        if obs.len() < rows * self.obs_dim {
            return Err(PolicyError(format!(
                "expected {rows} observation rows of {} values, got {} values",
                self.obs_dim,
                obs.len()
            )));
        }
        let stride = obs.len().checked_div(rows).unwrap_or(0);
        let mut out = PolicyOutput {
            actions: vec![0.0; rows * self.width],
            logp: vec![0.0; rows],
        };
        for r in 0..rows {
            (self.f)(
                &obs[r * stride..r * stride + self.obs_dim],
                &mut out.actions[r * self.width..(r + 1) * self.width],
            );
        }
        Ok(out)
    }
}
