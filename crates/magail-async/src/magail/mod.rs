//! The MAGAIL / AMAGAIL training loop: one loop for synchronous and asynchronous games.
//!
//! Each iteration: participation-aware rollout → discriminator update → rewards from the
//! discriminators → TRPO step per agent (shared parameters where agents are identical).
//! Optional behaviour-cloning pre-training and discriminator warm-up come first, as in the MAGAIL
//! code. [`PhiMode::Filter`] is AMAGAIL: samples where an agent played φ are left out of its
//! discriminator, value and policy updates. [`PhiMode::AsAction`] is the MAGAIL baseline of the
//! AMAGAIL paper on asynchronous games, which does not know who was allowed to act: φ is one more
//! action category for the discriminator *and* for the policy (which may choose it when let act:
//! it then does not move but stays in the round, rewarded), and every step, φ or not, enters its
//! value and policy updates and its behaviour cloning. [`MagailConfig::phi`] is the one place
//! this is decided: the collector, the learners, the cloning and the discriminators read it.
//! Deliberate choices where the paper code erred (papers.md §2.4): the reward of step t is
//! D(o_t, a_t) for the action actually taken at t, and observations are always paired with their
//! own actions.

mod cloning;
mod config;
mod error;
mod rewards;
mod state;

use gail::{DiscStats, Discriminator, LabelledSet, Prior};
use mg_core::{
    ActionSpace, DemoShape, Demonstrations, GameSpec, MarkovGame, PlayerFunction, StreamRng,
    check_demos_for, stream_rng,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::learner::Learners;
use crate::policy::Policy;
use crate::rollout::{Collector, Rollout};

pub use cloning::ClonedPolicies;
pub use config::{MagailConfig, default_config};
pub use error::MagailError;

/// Statistics of one iteration (stable names for CSV / JSON logs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MagailStats {
    /// Iteration number, from 1.
    pub iteration: usize,
    /// Discriminator statistics (one per discriminator).
    pub disc: Vec<DiscStats>,
    /// Mean true return per agent over the episodes that ended (empty if none).
    pub true_return: Vec<f64>,
    /// Whether the policies were updated (false during warm-up).
    pub policy_updated: bool,
    /// Per discriminator: policy samples it was trained on this iteration.
    pub disc_samples: Vec<usize>,
    /// Per agent: steps where it acted in this iteration's rollout.
    pub active_steps: Vec<usize>,
    /// Per agent: steps where it acted and chose φ (policies that treat φ as an action; 0
    /// otherwise). Logs written before the field read as empty.
    #[serde(default)]
    pub phi_chosen: Vec<usize>,
    /// Steps per agent in this iteration's rollout (copies × steps).
    pub total_steps: usize,
    /// Per policy group: KL of the accepted step.
    pub kl: Vec<Option<f64>>,
}

/// The MAGAIL / AMAGAIL trainer.
pub struct MagailTrainer<G, P> {
    cfg: MagailConfig,
    spec: GameSpec,
    collector: Collector<G, P>,
    learners: Learners,
    discs: Vec<Discriminator>,
    /// Per discriminator: the encoded expert inputs.
    expert: Vec<Vec<f32>>,
    /// Per discriminator: the weights of the expert inputs' logits (rows × outputs) when a joint
    /// discriminator filters φ (AMAGAIL with the centralized or shared prior); empty otherwise.
    expert_mask: Vec<Vec<f32>>,
    widths: Vec<usize>,
    rng: StreamRng,
    iteration: usize,
    /// The demonstrations' columns laid out as a rollout (one copy, the episodes one after
    /// another), so that they are read by the same code as the policy's samples.
    demos: Rollout,
}

impl<G, P> MagailTrainer<G, P>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    /// A trainer imitating `demos`, which must belong to this game (name and sizes); the set
    /// was checked when it was built.
    pub fn new(
        game: G,
        player: P,
        demos: &Demonstrations,
        cfg: MagailConfig,
    ) -> Result<Self, MagailError> {
        cfg.validate()?;
        let mut collector = Collector::new(game, player, cfg.rollout.clone())?;
        collector.set_phi(cfg.phi);
        let spec = collector.spec().clone();
        let n = spec.n_agents();
        if cfg.prior == Prior::ZeroSum && cfg.teams.is_empty() && n != 2 {
            return Err(MagailError::Config(format!(
                "the zero-sum prior is for two-player games (r2 = −r1) or two teams (`teams`); \
                 {} has {n} agents and no teams",
                spec.name
            )));
        }
        if !cfg.teams.is_empty()
            && (cfg.teams.len() != n || cfg.teams.iter().all(|&t| t) || !cfg.teams.contains(&true))
        {
            return Err(MagailError::Config(format!(
                "`teams` is {:?}: expected one entry per agent ({n}) with both teams non-empty",
                cfg.teams
            )));
        }
        let dims: Vec<usize> = (0..n).map(|i| collector.obs_dim(i)).collect();
        let spaces: Vec<ActionSpace> = spec.agents.iter().map(|a| a.action_space).collect();
        // The name records the player function and history features too (Collector::game_name).
        let expected = collector.game_name();
        check_demos_for(
            demos.shape(),
            DemoShape {
                game: &expected,
                obs_dims: &dims,
                action_spaces: &spaces,
            },
        )?;
        if demos.episodes() == 0 {
            return Err(MagailError::Config("no demonstration episodes".into()));
        }
        let learners = Learners::new(&spec, &dims, cfg.learner.clone(), cfg.phi)?;
        let mut init = stream_rng(cfg.learner.seed, 1 << 52);
        let dev = learners.device().clone();
        let (widths, outputs) = cfg.prior.layout(&dims, &spaces, cfg.phi);
        let discs = widths
            .iter()
            .map(|&w| Discriminator::new(w, outputs, cfg.disc.clone(), &mut init, &dev))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| MagailError::Disc {
                iteration: 0,
                agent: 0,
                source,
            })?;
        let mut t = Self {
            expert: vec![Vec::new(); widths.len()],
            expert_mask: vec![Vec::new(); widths.len()],
            rng: stream_rng(cfg.learner.seed, 1 << 53),
            cfg,
            spec,
            collector,
            learners,
            discs,
            widths,
            iteration: 0,
            demos: Rollout::from_demonstrations(demos),
        };
        t.encode_expert()
            .map_err(|e| MagailError::Config(format!("demonstrations: {e}")))?;
        let w = t.cfg.bc_weight;
        if !(w.is_finite() && w >= 0.0) {
            return Err(MagailError::Config(format!(
                "bc_weight must be finite and ≥ 0, got {w}"
            )));
        }
        if w > 0.0 {
            for g in 0..t.learners.groups().len() {
                let anchor = t.demo_pairs(g)?.map(|(obs, actions)| trpo::Anchor {
                    obs,
                    actions,
                    weight: w,
                });
                t.learners.set_anchor(g, anchor)?;
            }
        }
        if t.cfg.prior == Prior::ZeroSum && t.demos.steps == 0 {
            return Err(MagailError::Config(
                "the zero-sum prior trains on expert time steps, and the demonstrations have \
                 none (every episode is empty)"
                    .into(),
            ));
        }
        Ok(t)
    }

    /// The learners (policies to evaluate, checkpoints).
    pub fn learners(&self) -> &Learners {
        &self.learners
    }

    /// One iteration: rollout, discriminator step, rewards, policy step (after the warm-up).
    pub fn iterate(&mut self) -> Result<MagailStats, MagailError> {
        self.iteration += 1;
        let it = self.iteration;
        let pols = self.learners.policies(false)?;
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        let at = |e: MagailError| MagailError::Step {
            iteration: it,
            source: Box::new(e),
        };
        let ro = self
            .collector
            .collect(&refs, self.cfg.steps_per_iter)
            .map_err(|e| at(e.into()))?;
        let n = self.spec.n_agents();
        let total = ro.envs * ro.steps;
        let mut stats = MagailStats {
            iteration: it,
            true_return: ro.mean_returns().unwrap_or_default(),
            active_steps: (0..n).map(|i| ro.active_steps(i)).collect(),
            phi_chosen: (0..n)
                .map(|i| {
                    let space = self.spec.action_space(i);
                    let (a, w) = (&ro.agents[i], space.width());
                    (0..total)
                        .filter(|&at| a.acted[at] && space.is_phi(&a.actions[at * w..(at + 1) * w]))
                        .count()
                })
                .collect(),
            total_steps: total,
            ..MagailStats::default()
        };
        for k in 0..self.discs.len() {
            let disc_err = |source| MagailError::Disc {
                iteration: it,
                agent: k,
                source,
            };
            if self.cfg.prior == Prior::ZeroSum {
                // Trained on expert states only, as many per labelled set as the rollout has
                // steps: the rollout's own encoding is not needed.
                stats.disc_samples.push(total);
                let s = self.zero_sum_step(&refs, total).map_err(disc_err)?;
                stats.disc.push(s);
                continue;
            }
            // Discriminator step on this iteration's policy samples and as many expert samples.
            let (mut pol, mut rows, mut pol_mask) = (Vec::new(), Vec::new(), Vec::new());
            self.encode_policy(&ro, k, false, &mut pol, &mut rows, Some(&mut pol_mask))
                .map_err(disc_err)?;
            stats.disc_samples.push(rows.len());
            let w = self.widths[k];
            let ne = self.expert[k].len() / w;
            if !rows.is_empty() && ne > 0 {
                let mut exp = Vec::with_capacity(rows.len() * w);
                let outs = self.expert_mask[k].len() / ne;
                let mut exp_mask = Vec::with_capacity(rows.len() * outs);
                for _ in 0..rows.len() {
                    let r = self.rng.random_range(0..ne);
                    exp.extend_from_slice(&self.expert[k][r * w..(r + 1) * w]);
                    exp_mask.extend_from_slice(&self.expert_mask[k][r * outs..(r + 1) * outs]);
                }
                // Weights only where some logit is left out, so a synchronous game (everyone
                // always acts) trains exactly as without them.
                fn weighted(m: &[f32]) -> Option<&[f32]> {
                    m.contains(&0.0).then_some(m)
                }
                let (em, pm) = (weighted(&exp_mask), weighted(&pol_mask));
                let all_out = |m: &[f32]| !m.is_empty() && m.iter().all(|&v| v == 0.0);
                if all_out(&exp_mask) || all_out(&pol_mask) {
                    // No agent of this discriminator acted in one of the sets: nothing to learn.
                    stats.disc.push(DiscStats::default());
                    continue;
                }
                let s = self.discs[k]
                    .train_sets(&[
                        LabelledSet {
                            inputs: &exp,
                            target: 1.0,
                            mask: em,
                        },
                        LabelledSet {
                            inputs: &pol,
                            target: 0.0,
                            mask: pm,
                        },
                    ])
                    .map_err(disc_err)?;
                stats.disc.push(s);
            } else {
                // Untrained this iteration (no policy or no expert rows): an empty entry keeps
                // `disc[k]` the statistics of discriminator k; `disc_samples[k]` says 0.
                stats.disc.push(DiscStats::default());
            }
        }
        let rewards = self.rewards_at(&ro, it)?;
        // During the warm-up only the discriminators and the value networks learn, so the first
        // policy steps after behaviour cloning see sensible advantages.
        let policy_step = it > self.cfg.disc_warmup;
        let up = self
            .learners
            .update_parts(&ro, Some(&rewards), policy_step)
            .map_err(|e| at(e.into()))?;
        if policy_step {
            stats.kl = up.kl;
            stats.policy_updated = true;
        }
        Ok(stats)
    }

    /// Iterations done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The configuration.
    pub fn config(&self) -> &MagailConfig {
        &self.cfg
    }
}
