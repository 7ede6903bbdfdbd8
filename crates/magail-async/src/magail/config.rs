//! The trainer's settings: how φ is treated ([`PhiMode`]), everything a run needs
//! ([`MagailConfig`], checked by [`MagailConfig::validate`]) and the defaults for a game
//! ([`default_config`]).

use gail::{DiscConfig, Prior, RewardForm};
use mg_core::{GameSpec, PhiMode};
use serde::{Deserialize, Serialize};

use super::MagailError;
use crate::learner::LearnerConfig;
use crate::rollout::RolloutConfig;

/// Everything a MAGAIL run needs, with defaults after the MAGAIL code where it is sound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MagailConfig {
    /// Discriminator layout: decentralized, centralized, shared, or zero-sum (two players; the
    /// discriminator learns the paired labelling on expert states and r2 = −r1).
    pub prior: Prior,
    /// φ handling.
    pub phi: PhiMode,
    /// Reward form. log D by default (the MA-AIRL code's, bounded above by 0).
    pub reward: RewardForm,
    /// Discriminator settings.
    pub disc: DiscConfig,
    /// Behaviour-cloning epochs before adversarial training (0: none).
    pub bc_epochs: usize,
    /// Behaviour-cloning learning rate (Adam).
    pub bc_lr: f64,
    /// Behaviour-cloning minibatch size (samples per Adam step). 256: the number of steps per
    /// epoch grows with the data, which a fixed number of minibatches per epoch did not (with
    /// 16 minibatches an epoch, 100 epochs left the cross-entropy at 1.01 where the expert's
    /// own is 0.43; cooperative navigation, 200 demonstrations).
    #[serde(default = "default_bc_batch")]
    pub bc_batch: usize,
    /// Weight of a behaviour-cloning term in every policy step after BC: the TRPO objective adds
    /// this × the mean log-likelihood of the demonstrations' own (acted) actions
    /// ([`trpo::Anchor`]; BC-regularised GAIL, Jena et al. 2020). 0 (default): the papers'
    /// MAGAIL, where BC only initialises the policy.
    #[serde(default)]
    pub bc_weight: f64,
    /// Iterations at the start that train only the discriminators and value networks (the MAGAIL
    /// code warms its discriminator up for 10).
    pub disc_warmup: usize,
    /// Steps per copy per iteration.
    pub steps_per_iter: usize,
    /// Policy and value learners.
    pub learner: LearnerConfig,
    /// Rollouts.
    pub rollout: RolloutConfig,
    /// The zero-sum prior between two teams: `teams[i]` puts agent i on the first team (the
    /// adversaries in the particle games), the others on the second; the first team's reward is
    /// the discriminator's, the second's its negation. Empty: two players, agent 0 against
    /// agent 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<bool>,
}

impl MagailConfig {
    /// The zero-sum prior's team of agent `i` (0 or 1).
    pub fn team(&self, i: usize) -> usize {
        match self.teams.get(i) {
            Some(&first) => usize::from(!first),
            None => i.min(1),
        }
    }
}

impl MagailConfig {
    /// Checks every size, count and rate: zero, negative and non-finite values are refused with
    /// the setting's name, the value and the accepted range.
    pub fn validate(&self) -> Result<(), MagailError> {
        let bad = |field: &str, value: String, want: &str| {
            Err(MagailError::Config(format!(
                "`{field}` is {value}, expected {want}"
            )))
        };
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if self.rollout.envs == 0 {
            return bad("envs", "0".into(), "at least 1 environment copy");
        }
        if self.rollout.workers == 0 {
            return bad("workers", "0".into(), "at least 1 worker thread");
        }
        if self.steps_per_iter == 0 {
            return bad(
                "steps_per_iter",
                "0".into(),
                "at least 1 step per copy and iteration",
            );
        }
        if self.bc_batch == 0 {
            return bad("bc_batch", "0".into(), "at least 1 sample per minibatch");
        }
        if !positive(self.bc_lr) {
            return bad("bc_lr", self.bc_lr.to_string(), "a positive number");
        }
        if !positive(self.disc.lr) {
            return bad("disc.lr", self.disc.lr.to_string(), "a positive number");
        }
        if self.disc.steps == 0 {
            return bad(
                "disc.steps",
                "0".into(),
                "at least 1 discriminator step per iteration",
            );
        }
        if self.disc.minibatches == 0 {
            return bad(
                "disc.minibatches",
                "0".into(),
                "at least 1 (1: the whole batch)",
            );
        }
        if !(self.bc_weight.is_finite() && self.bc_weight >= 0.0) {
            return bad(
                "bc_weight",
                self.bc_weight.to_string(),
                "a finite number ≥ 0",
            );
        }
        let t = &self.learner.trpo;
        if t.vf_epochs == 0 {
            return bad(
                "vf_epochs",
                "0".into(),
                "at least 1 critic epoch per iteration",
            );
        }
        t.validate().map_err(|e| MagailError::Config(e.to_string()))
    }
}

pub(super) fn default_bc_batch() -> usize {
    256
}

/// Default settings for a game: the paper-code defaults adapted to TRPO (see docs/algorithms).
pub fn default_config(spec: &GameSpec, prior: Prior, phi: PhiMode, seed: u64) -> MagailConfig {
    MagailConfig {
        prior,
        phi,
        reward: RewardForm::LogD,
        // Five Adam steps at 1e-3 per iteration instead of the paper code's single step: with
        // Adam (not K-FAC at lr 0.1) one small step leaves the discriminator near chance and the
        // policy drifts on noise; measured on cooperative navigation, 200 demos, 600 iterations
        // (examples/magail_quick.rs): returns −200…−210 instead of −210…−300.
        disc: DiscConfig {
            steps: 5,
            lr: 1e-3,
            ..DiscConfig::default()
        },
        // Enough epochs for the cross-entropy to approach the expert's own on a few hundred
        // demonstrations (cooperative navigation, 200 demos: 0.51 against the expert's 0.43
        // after 1000 epochs, normalized 0.94; 100 epochs: 0.92 and 0.60).
        bc_epochs: 1000,
        bc_lr: 1e-3,
        bc_batch: default_bc_batch(),
        bc_weight: 0.0,
        disc_warmup: 10,
        steps_per_iter: 50,
        learner: LearnerConfig {
            ..LearnerConfig::sharing_identical(spec, trpo::TrpoConfig::default(), seed)
        },
        rollout: RolloutConfig {
            envs: 16,
            workers: 1,
            seed,
            history_k: 0,
        },
        teams: Vec::new(),
    }
}
