//! Expert training on the true reward: rollouts from the current policies, then one TRPO step
//! per sharing group. The loop behind `cargo xtask expert`.

use std::collections::HashMap;

use candle_core::Tensor;
use mg_core::{MarkovGame, PlayerFunction};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{put_state, take_state};
use crate::learner::{LearnError, LearnerConfig, LearnerState, Learners, UpdateStats};
use crate::policy::Policy;
use crate::rollout::{Collector, CollectorState, RolloutConfig, RolloutError};

/// An expert trainer's state besides its parameters.
#[derive(Serialize, Deserialize)]
struct ExpertState {
    iteration: usize,
    env_steps: u64,
    learners: LearnerState,
    /// `None` for a game that saves no state: the resumed run then starts new episodes.
    collector: Option<CollectorState>,
}

/// Either stage failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Collecting data failed.
    #[error(transparent)]
    Rollout(#[from] RolloutError),
    /// Learning failed.
    #[error(transparent)]
    Learn(#[from] LearnError),
}

/// Statistics of one iteration, with stable names for CSV and JSON logs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IterStats {
    /// Iteration number, from 1.
    pub iteration: usize,
    /// Environment steps so far (all copies).
    pub env_steps: u64,
    /// Episodes that ended in this iteration's rollout.
    pub episodes: usize,
    /// Mean return per agent over those episodes (empty if none ended).
    pub mean_return: Vec<f64>,
    /// The update's statistics.
    pub update: UpdateStats,
}

/// Rollouts plus learners.
pub struct ExpertTrainer<G, P> {
    collector: Collector<G, P>,
    learners: Learners,
    steps_per_iter: usize,
    iteration: usize,
    env_steps: u64,
}

impl<G, P> ExpertTrainer<G, P>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    /// A trainer collecting `steps_per_iter` steps from each copy per iteration.
    pub fn new(
        game: G,
        player: P,
        rollout: RolloutConfig,
        learner: LearnerConfig,
        steps_per_iter: usize,
    ) -> Result<Self, TrainError> {
        let collector = Collector::new(game, player, rollout)?;
        let dims: Vec<usize> = (0..collector.spec().n_agents())
            .map(|i| collector.obs_dim(i))
            .collect();
        let learners = Learners::new(collector.spec(), &dims, learner)?;
        Ok(Self {
            collector,
            learners,
            steps_per_iter: steps_per_iter.max(1),
            iteration: 0,
            env_steps: 0,
        })
    }

    /// The learners (policies, values, checkpoints).
    pub fn learners(&self) -> &Learners {
        &self.learners
    }

    /// Mutable learners (to load a checkpoint).
    pub fn learners_mut(&mut self) -> &mut Learners {
        &mut self.learners
    }

    /// The collector.
    pub fn collector(&self) -> &Collector<G, P> {
        &self.collector
    }

    /// Everything needed to continue exactly: the learners' parameters
    /// ([`Learners::tensors`] names) and, under [`crate::STATE_KEY`], the counters, random
    /// streams, critics' Adam moments and every game copy mid-episode.
    pub fn checkpoint(&self) -> Result<HashMap<String, Tensor>, TrainError> {
        let mut m = self.learners.tensors()?;
        put_state(
            &mut m,
            &ExpertState {
                iteration: self.iteration,
                env_steps: self.env_steps,
                learners: self.learners.state(),
                collector: self.collector.state(),
            },
        )?;
        Ok(m)
    }

    /// Continues from a [`checkpoint`](Self::checkpoint) of a trainer built the same way: the
    /// run goes on exactly as the one that wrote it would have. For a game that saves no state
    /// ([`MarkovGame::save_state`]) the rollouts restart from streams derived from (seed,
    /// iteration) with new episodes, so the run is still a deterministic function of its
    /// checkpoint.
    pub fn resume(&mut self, m: &HashMap<String, Tensor>) -> Result<(), TrainError> {
        let s: ExpertState = take_state(m)?;
        self.learners.load_tensors(m, false)?;
        self.learners.set_state(&s.learners)?;
        match &s.collector {
            Some(c) => self.collector.set_state(c)?,
            None => self.collector.restart_stream(s.iteration),
        }
        self.iteration = s.iteration;
        self.env_steps = s.env_steps;
        Ok(())
    }

    /// Iterations done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Environment steps done.
    pub fn env_steps(&self) -> u64 {
        self.env_steps
    }

    /// One iteration: collect with the current policies, then update every group.
    pub fn iterate(&mut self) -> Result<IterStats, TrainError> {
        self.iterate_against(&[])
    }

    /// One iteration in which `fixed[i]`, where given, plays agent `i` instead of its learner
    /// (a scripted or frozen opponent); only the groups with no fixed agent learn. With no fixed
    /// agent this is [`iterate`](Self::iterate). Training competitive experts against a mix of
    /// their co-learning opponents and fixed ones keeps them from specialising on each other.
    pub fn iterate_against(
        &mut self,
        fixed: &[Option<&dyn Policy>],
    ) -> Result<IterStats, TrainError> {
        self.iterate_with(fixed, true)
    }

    /// As [`iterate_against`](Self::iterate_against); with `policy_step` false only the value
    /// networks learn. Fine-tuning a policy in another game (or after a change of reward scale)
    /// starts with such iterations, so the first trust-region steps follow advantages from a
    /// critic fitted to this game rather than to the old one.
    pub fn iterate_with(
        &mut self,
        fixed: &[Option<&dyn Policy>],
        policy_step: bool,
    ) -> Result<IterStats, TrainError> {
        let n = self.collector.spec().n_agents();
        if !fixed.is_empty() && fixed.len() != n {
            return Err(LearnError::Config(format!(
                "{} fixed-policy slots for {n} agents",
                fixed.len()
            ))
            .into());
        }
        let pols = self.learners.policies(false)?;
        let refs: Vec<&dyn Policy> = (0..n)
            .map(|i| match fixed.get(i).copied().flatten() {
                Some(p) => p,
                None => &pols[i] as &dyn Policy,
            })
            .collect();
        let ro = self.collector.collect(&refs, self.steps_per_iter)?;
        let groups = &self.learners.config().groups;
        let n_groups = self.learners.groups().len();
        let learn: Vec<bool> = (0..n_groups)
            .map(|g| (0..n).all(|i| groups[i] != g || fixed.get(i).is_none_or(Option::is_none)))
            .collect();
        let update = self
            .learners
            .update_groups(&ro, None, policy_step, Some(&learn))?;
        self.iteration += 1;
        self.env_steps += (ro.envs * ro.steps) as u64;
        Ok(IterStats {
            iteration: self.iteration,
            env_steps: self.env_steps,
            episodes: ro.ends.len(),
            mean_return: ro.mean_returns().unwrap_or_default(),
            update,
        })
    }
}
