//! The evaluation every command reports: the policies, random actions and a reference, each
//! played on the same seeded episodes, and one normalization.

use mg_core::{MarkovGame, PlayerFunction, Trajectories};
use serde::{Deserialize, Serialize};

use super::RunError;
use crate::magail::MagailError;
use crate::policy::Policy;
use crate::rollout::{Collector, RolloutConfig};

/// The evaluation every command reports: the policy, uniformly random actions and a reference
/// policy, each played on the same seeded episodes, and the normalized score
/// (score − random) / (reference − random): random = 0, reference = 1. For an imitator the
/// reference is its demonstrator; for an expert, the scripted policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Episodes played by each.
    pub episodes: usize,
    /// The evaluation episodes' seed.
    pub seed: u64,
    /// The policy's mean team return (mean over agents of each episode's return).
    pub score: f64,
    /// Random actions' mean team return.
    pub random: f64,
    /// The reference's mean team return.
    pub reference: f64,
}

impl Evaluation {
    /// (score − random) / (reference − random); `None` when the reference does no better or
    /// worse than random (the ratio is then undefined).
    pub fn normalized(&self) -> Option<f64> {
        normalize(self.score, self.random, self.reference)
    }
}

/// The normalized score (score − random) / (reference − random); `None` when the reference
/// scores as random does (or a value is not finite).
pub fn normalize(score: f64, random: f64, reference: f64) -> Option<f64> {
    let d = reference - random;
    let v = (score - random) / d;
    (d != 0.0 && v.is_finite()).then_some(v)
}

/// The seed of every evaluation's episodes (disjoint from training streams).
pub const EVAL_SEED: u64 = 1_000_003;

/// Plays `episodes` whole episodes of the game with `policies` on the episodes of `seed` (the
/// same episodes whatever the policies), and returns them.
pub fn play<G, P>(
    game: G,
    player: P,
    policies: &[&dyn Policy],
    episodes: usize,
    seed: u64,
) -> Result<Trajectories, RunError>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    if episodes == 0 {
        return Err(RunError::Settings {
            field: "episodes",
            reason: "must be at least 1: returns over no episode are undefined".into(),
        });
    }
    let mut c = Collector::new(
        game,
        player,
        RolloutConfig {
            envs: episodes.clamp(1, 32),
            workers: 2,
            seed,
            history_k: 0,
        },
    )
    .map_err(|e| RunError::from(MagailError::from(e)))?;
    c.collect_episodes(policies, episodes)
        .map_err(|e| RunError::from(MagailError::from(e)))
}

/// Per-agent mean and standard deviation of episode returns, and the team mean (the mean over
/// agents of each episode's returns, averaged over episodes).
pub fn return_stats(set: &Trajectories) -> (Vec<(f64, f64)>, f64) {
    let rets: Vec<Vec<f64>> = set.episodes.iter().map(|e| e.returns()).collect();
    let n = set.obs_dims.len();
    let k = rets.len().max(1) as f64;
    let per: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let m = rets.iter().map(|r| r[i]).sum::<f64>() / k;
            let v = rets.iter().map(|r| (r[i] - m).powi(2)).sum::<f64>() / k;
            (m, v.sqrt())
        })
        .collect();
    let team = rets
        .iter()
        .map(|r| r.iter().sum::<f64>() / n as f64)
        .sum::<f64>()
        / k;
    (per, team)
}
