//! Expert training on the true reward: rollouts from the current policies, then one TRPO step
//! per sharing group. The loop behind `cargo xtask expert`.

use std::collections::HashMap;

use candle_core::Tensor;
use mg_core::{MarkovGame, PhiMode, PlayerFunction};
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
    /// An iteration of [`train_expert`] failed (the last checkpoint stays as it was).
    #[error("iteration {iteration}: {source}")]
    At {
        /// The iteration, from 1.
        iteration: usize,
        /// Why.
        source: Box<TrainError>,
    },
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
        let learners = Learners::new(collector.spec(), &dims, learner, PhiMode::Filter)?;
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

/// Who plays the side that does not learn in an expert run's iterations. In competitive games
/// each side trained only against its co-learner specialises on it; fixed opponents in some
/// iterations keep it general.
pub enum Opponents {
    /// Every agent is played by its learner in every iteration.
    SelfPlay,
    /// Iteration k (counted from 1): when k ≡ 0 (mod `every`) the adversaries are played by the
    /// pool and only the good agents learn; when k ≡ 1 the good agents are, and only the
    /// adversaries learn; the other iterations are self-play. The pool is `scripted`, or, in
    /// odd cycles of `every` iterations, `random` when given.
    Alternate {
        /// The cycle length, at least 3 (so that self-play iterations remain).
        every: usize,
        /// One policy per agent (only the fixed side's are used).
        scripted: Vec<Box<dyn Policy>>,
        /// One policy per agent, for the odd cycles.
        random: Option<Vec<Box<dyn Policy>>>,
    },
    /// Only one side learns; the other is played, by turns (k mod 3 = 0, 1, 2), by its own
    /// policies as the run started, `scripted` and `random`. For fine-tuning one side.
    LearnOnly {
        /// The adversaries learn (true) or the good agents do.
        adversaries: bool,
        /// One policy per agent.
        scripted: Vec<Box<dyn Policy>>,
        /// One policy per agent.
        random: Vec<Box<dyn Policy>>,
    },
}

/// How long an expert run trains and against whom ([`train_expert`]).
pub struct ExpertSchedule {
    /// Train until this many environment steps (all copies) are done.
    pub steps: u64,
    /// The iterations whose number is a multiple of this are checkpoint iterations (≥ 1).
    pub checkpoint_every: usize,
    /// The first this many iterations of the run (counted from its start, so a resumed run
    /// does not warm up again) fit only the critics.
    pub value_warmup: usize,
    /// Which agents are adversaries (one per agent; used by the opponents other than self-play).
    pub adversary: Vec<bool>,
    /// Who plays the fixed side.
    pub opponents: Opponents,
}

fn schedule_error(reason: String) -> TrainError {
    TrainError::Learn(LearnError::Config(reason))
}

impl ExpertSchedule {
    /// Checks the schedule against a game of `n` agents: a cycle of at least 3, policies and
    /// adversary flags for every agent, and a competitive game (both sides present) for
    /// anything other than self-play.
    pub fn validate(&self, n: usize) -> Result<(), TrainError> {
        if self.checkpoint_every == 0 {
            return Err(schedule_error(
                "checkpoint_every must be at least 1, got 0".into(),
            ));
        }
        if self.adversary.len() != n {
            return Err(schedule_error(format!(
                "{} adversary flags for {n} agents",
                self.adversary.len()
            )));
        }
        let pools: Vec<&Vec<Box<dyn Policy>>> = match &self.opponents {
            Opponents::SelfPlay => return Ok(()),
            Opponents::Alternate {
                every,
                scripted,
                random,
            } => {
                if *every < 3 {
                    return Err(schedule_error(format!(
                        "the opponents' cycle must be at least 3 iterations (self-play between \
                         the fixed sides), got {every}"
                    )));
                }
                std::iter::once(scripted).chain(random).collect()
            }
            Opponents::LearnOnly {
                scripted, random, ..
            } => vec![scripted, random],
        };
        if let Some(p) = pools.iter().find(|p| p.len() != n) {
            return Err(schedule_error(format!(
                "an opponent pool of {} policies for {n} agents",
                p.len()
            )));
        }
        if self.adversary.iter().all(|&a| a) || self.adversary.iter().all(|&a| !a) {
            return Err(schedule_error(
                "fixed opponents need a competitive game (adversaries and good agents)".into(),
            ));
        }
        Ok(())
    }

    /// The fixed policies of iteration `k` (`frozen`: the policies as the run started, for
    /// [`Opponents::LearnOnly`]); empty for self-play.
    fn fixed<'a>(&'a self, k: usize, frozen: &'a [impl Policy]) -> Vec<Option<&'a dyn Policy>> {
        let adv = &self.adversary;
        match &self.opponents {
            Opponents::SelfPlay => Vec::new(),
            Opponents::Alternate {
                every,
                scripted,
                random,
            } => {
                let side = match k % every {
                    0 => true,
                    1 => false,
                    _ => return Vec::new(),
                };
                let pool = match random {
                    Some(r) if (k / every) % 2 == 1 => r,
                    _ => scripted,
                };
                adv.iter()
                    .zip(pool)
                    .map(|(&a, p)| (a == side).then_some(p.as_ref()))
                    .collect()
            }
            Opponents::LearnOnly {
                adversaries,
                scripted,
                random,
            } => (0..adv.len())
                .map(|i| {
                    let p: &dyn Policy = match k % 3 {
                        0 => &frozen[i],
                        1 => scripted[i].as_ref(),
                        _ => random[i].as_ref(),
                    };
                    (adv[i] != *adversaries).then_some(p)
                })
                .collect(),
        }
    }
}

/// An expert run: iterations of `trainer` until `schedule.steps` environment steps, each
/// against the schedule's fixed opponents, the first `value_warmup` fitting only the critics.
/// After every iteration `after(trainer, stats, checkpoint)` records it (`checkpoint`: the
/// schedule's checkpoint iterations, where it should save [`ExpertTrainer::checkpoint`]); a
/// trainer resumed from a checkpoint continues the same run exactly. Returns the last
/// iteration's statistics, if any iteration ran.
pub fn train_expert<G, P, E>(
    trainer: &mut ExpertTrainer<G, P>,
    schedule: &ExpertSchedule,
    mut after: impl FnMut(&ExpertTrainer<G, P>, &IterStats, bool) -> Result<(), E>,
) -> Result<Option<IterStats>, E>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
    E: From<TrainError>,
{
    schedule.validate(trainer.collector.spec().n_agents())?;
    // The side that does not learn under LearnOnly starts from (and keeps) these policies
    // (only built then: `policies` copies every network).
    let frozen = match schedule.opponents {
        Opponents::LearnOnly { .. } => trainer
            .learners
            .policies(false)
            .map_err(|e| E::from(TrainError::from(e)))?,
        _ => Vec::new(),
    };
    let mut last = None;
    while trainer.env_steps < schedule.steps {
        let next = trainer.iteration + 1;
        let fixed = schedule.fixed(next, &frozen);
        let warming = trainer.iteration < schedule.value_warmup;
        let s = trainer
            .iterate_with(&fixed, !warming)
            .map_err(|e| TrainError::At {
                iteration: next,
                source: Box::new(e),
            })?;
        after(trainer, &s, s.iteration % schedule.checkpoint_every == 0)?;
        last = Some(s);
    }
    Ok(last)
}
