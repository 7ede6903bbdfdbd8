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
//! value and policy updates and its behaviour cloning ([`LearnerConfig::phi_as_action`]).
//! Deliberate choices where the paper code erred (papers.md §2.4): the reward of step t is
//! D(o_t, a_t) for the action actually taken at t, and observations are always paired with their
//! own actions.

use std::collections::HashMap;

use candle_core::Tensor;
use gail::{
    AgentStep, DiscConfig, DiscState, DiscStats, Discriminator, GailError, LabelledSet, Prior,
    RewardForm, encode_pairs, zero_sum_labels,
};
use mg_core::{
    ActionSpace, DemoError, DemoShape, GameSpec, MarkovGame, PlayerFunction, RngState, StreamRng,
    Trajectories, check_demos_for, stream_rng,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{put_state, take_state};
use crate::learner::{LearnError, LearnerConfig, LearnerState, Learners};
use crate::policy::Policy;
use crate::rollout::{AgentSteps, Collector, CollectorState, Rollout, RolloutConfig, RolloutError};

/// How samples where an agent played φ are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhiMode {
    /// AMAGAIL: filtered out of the agent's discriminator, value and policy updates.
    Filter,
    /// The MAGAIL baseline: φ is an ordinary action category, for the discriminator and the
    /// policy (needs `learner.phi_as_action`). Where the player function forces φ, the sample
    /// holds φ and the policy is updated on it as if it had chosen it (the AMAGAIL paper's
    /// recorded placeholder, read as the baseline's action).
    AsAction,
    /// The other reading of that baseline: where the player function forces φ, the policy still
    /// samples an action (φ among them), the environment ignores it, and the sample keeps what
    /// the policy drew, with its log-probability.
    AsActionKept,
}

impl PhiMode {
    /// Whether φ is an action of the policies and the discriminators.
    pub fn as_action(self) -> bool {
        self != PhiMode::Filter
    }
}

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

/// Why training failed.
#[derive(Debug, Error)]
pub enum MagailError {
    /// The demonstrations do not fit the game.
    #[error(transparent)]
    Demos(#[from] DemoError),
    /// Collecting data failed.
    #[error(transparent)]
    Rollout(#[from] RolloutError),
    /// Learning failed.
    #[error(transparent)]
    Learn(#[from] LearnError),
    /// Collecting or learning failed at an iteration (a non-finite value loss, for instance).
    #[error("iteration {iteration}: {source}")]
    Step {
        /// The iteration.
        iteration: usize,
        /// The cause.
        source: Box<MagailError>,
    },
    /// A discriminator failed; a NaN loss names the iteration.
    #[error("iteration {iteration}: discriminator of agent {agent}: {source}")]
    Disc {
        /// The iteration.
        iteration: usize,
        /// The agent (or 0 for a joint discriminator).
        agent: usize,
        /// The cause.
        source: GailError,
    },
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// A configuration the loop cannot run.
    #[error("configuration: {0}")]
    Config(String),
}

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

/// What behaviour cloning left: the policies' parameters and the trainer's sampling stream after
/// it, tagged with the digest of everything the cloning depended on
/// ([`MagailTrainer::bc_key`]). Another trainer with the same digest — the same initial policies,
/// demonstration pairs, cloning settings and stream, whatever its discriminators and critics —
/// would clone to the same parameters, so it may [`adopt`](MagailTrainer::adopt_clone) them
/// instead: the comparisons of `cargo xtask reproduce` clone once per demonstration set.
#[derive(Clone, Debug)]
pub struct ClonedPolicies {
    key: u64,
    policies: HashMap<String, Tensor>,
    rng: StreamRng,
    loss: f64,
}

impl ClonedPolicies {
    /// The digest of the cloning's inputs.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The cloning's final minibatch loss.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// The cloned policies' parameters, named as in [`Learners::tensors`].
    pub fn policies(&self) -> &HashMap<String, Tensor> {
        &self.policies
    }
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
    /// The demonstrations, validated once and laid out as a rollout (one copy, the episodes
    /// one after another), so that they are read by the same code as the policy's samples.
    demos: Rollout,
}

fn phi_slot(mode: PhiMode) -> bool {
    mode.as_action()
}

impl<G, P> MagailTrainer<G, P>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    /// A trainer imitating `demos`, which must belong to this game (name and sizes).
    pub fn new(
        game: G,
        player: P,
        demos: &Trajectories,
        cfg: MagailConfig,
    ) -> Result<Self, MagailError> {
        cfg.validate()?;
        let mut collector = Collector::new(game, player, cfg.rollout.clone())?;
        collector.set_sample_inactive(cfg.phi == PhiMode::AsActionKept);
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
            DemoShape::of_trajectories(demos),
            DemoShape {
                game: &expected,
                obs_dims: &dims,
                action_spaces: &spaces,
            },
        )?;
        demos.validate().map_err(DemoError::from)?;
        if demos.episodes.is_empty() {
            return Err(MagailError::Config("no demonstration episodes".into()));
        }
        if cfg.learner.phi_as_action != cfg.phi.as_action() {
            return Err(MagailError::Config(format!(
                "φ mode {:?} with learner.phi_as_action = {}: φ as an action for the \
                 discriminator goes with φ as an action for the policy, and filtering with neither",
                cfg.phi, cfg.learner.phi_as_action
            )));
        }
        let learners = Learners::new(&spec, &dims, cfg.learner.clone())?;
        let slot = phi_slot(cfg.phi);
        let mut init = stream_rng(cfg.learner.seed, 1 << 52);
        let dev = learners.device().clone();
        let (widths, outputs) = cfg.prior.layout(&dims, &spaces, slot);
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
            demos: Rollout::from_episodes(demos),
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

    /// Group `g`'s demonstration (observation, action) pairs over the steps its agents acted, as
    /// tensors (φ is cloned too under φ-as-action, as its extra category); `None` when there
    /// are none.
    fn demo_pairs(&self, g: usize) -> Result<Option<(Tensor, Tensor)>, MagailError> {
        let dev = self.learners.device().clone();
        let agents = &self.learners.groups()[g].agents;
        let d = self.collector.obs_dim(agents[0]);
        let space = self.spec.action_space(agents[0]);
        let w = space.width();
        let every_step = self.cfg.learner.phi_as_action;
        let (mut obs, mut acts) = (Vec::new(), Vec::new());
        // Episode by episode, then agent by agent: the rows' order is the cloning's shuffle's
        // input, so it is part of the result.
        for ep in self.demos.episode_ranges() {
            for &i in agents {
                let a = &self.demos.agents[i];
                for t in ep.clone().filter(|&t| every_step || a.acted[t]) {
                    obs.extend_from_slice(&a.obs[t * d..(t + 1) * d]);
                    acts.extend_from_slice(&a.actions[t * w..(t + 1) * w]);
                }
            }
        }
        let n = obs.len() / d.max(1);
        if n == 0 {
            return Ok(None);
        }
        let obs_t = Tensor::from_slice(&obs, (n, d), &dev)?;
        let act_t = match space {
            ActionSpace::Discrete { .. } => {
                Tensor::from_iter(acts.iter().map(|&a| a as u32), &dev)?
            }
            ActionSpace::Box { dim, .. } => Tensor::from_slice(&acts, (n, dim), &dev)?,
        };
        Ok(Some((obs_t, act_t)))
    }

    fn encode_expert(&mut self) -> Result<(), GailError> {
        let mut rows = Vec::new();
        for k in 0..self.widths.len() {
            let (mut x, mut mask) = (Vec::new(), Vec::new());
            self.encode_policy(&self.demos, k, false, &mut x, &mut rows, Some(&mut mask))?;
            self.expert[k] = x;
            self.expert_mask[k] = mask;
        }
        Ok(())
    }

    /// The learners (policies to evaluate, checkpoints).
    pub fn learners(&self) -> &Learners {
        &self.learners
    }

    /// Behaviour cloning: `bc_epochs` epochs of cross-entropy (Gaussian: −log-likelihood) on the
    /// expert's own actions, in shuffled minibatches of `bc_batch`, per policy group. Returns the final loss.
    pub fn behaviour_clone(&mut self) -> Result<f64, MagailError> {
        let mut last = 0.0;
        let dev = self.learners.device().clone();
        for (gi, g) in self.learners.groups().iter().enumerate() {
            let Some((obs_t, act_t)) = self.demo_pairs(gi)? else {
                continue;
            };
            let n = obs_t.dim(0)?;
            let vars = g.policy.vars();
            let mut opt = trpo::Adam::for_vars(self.cfg.bc_lr, &vars).map_err(LearnError::from)?;
            let mut idx: Vec<u32> = (0..n as u32).collect();
            let size = self.cfg.bc_batch.clamp(1, n);
            for _ in 0..self.cfg.bc_epochs {
                for k in (1..n).rev() {
                    let j = self.rng.random_range(0..=k);
                    idx.swap(k, j);
                }
                for chunk in idx.chunks(size) {
                    let ids = Tensor::from_slice(chunk, chunk.len(), &dev)?;
                    let dist = g
                        .policy
                        .dist(&obs_t.index_select(&ids, 0)?)
                        .map_err(LearnError::from)?;
                    let lp = g
                        .policy
                        .log_prob(&dist, &act_t.index_select(&ids, 0)?)
                        .map_err(LearnError::from)?;
                    let loss = lp.mean_all()?.neg()?;
                    last = f64::from(loss.to_scalar::<f32>()?);
                    if !last.is_finite() {
                        return Err(MagailError::Config(format!(
                            "behaviour cloning: the loss of policy group {gi} is not finite \
                             ({last}); try a smaller bc_lr"
                        )));
                    }
                    opt.step_store(&vars, &loss.backward()?)
                        .map_err(LearnError::from)?;
                }
            }
        }
        Ok(last)
    }

    /// A digest of everything [`behaviour_clone`](Self::behaviour_clone) depends on, taken
    /// before it: the policies' parameters, each group's demonstration pairs, the cloning
    /// settings and the state of the sampling stream. Equal digests clone to equal parameters.
    pub fn bc_key(&self) -> Result<u64, MagailError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            self.cfg.bc_epochs,
            self.cfg.bc_batch,
            self.cfg.bc_lr.to_bits(),
        )
            .hash(&mut h);
        (
            self.rng.get_seed(),
            self.rng.get_stream(),
            self.rng.get_word_pos(),
        )
            .hash(&mut h);
        let bits = |t: &Tensor, h: &mut std::collections::hash_map::DefaultHasher| {
            t.dims().hash(h);
            t.flatten_all()
                .and_then(|t| t.to_dtype(candle_core::DType::F32))
                .and_then(|t| t.to_vec1::<f32>())
                .map(|v| v.iter().for_each(|x| x.to_bits().hash(h)))
        };
        for (gi, g) in self.learners.groups().iter().enumerate() {
            g.agents.hash(&mut h);
            for (name, var) in g.policy.names().into_iter().zip(g.policy.vars()) {
                name.hash(&mut h);
                bits(var.as_tensor(), &mut h)?;
            }
            if let Some((obs, acts)) = self.demo_pairs(gi)? {
                bits(&obs, &mut h)?;
                bits(&acts.to_dtype(candle_core::DType::F32)?, &mut h)?;
            }
        }
        Ok(h.finish())
    }

    /// [`behaviour_clone`](Self::behaviour_clone), returning what it left for other trainers
    /// with the same [`bc_key`](Self::bc_key) to adopt.
    pub fn behaviour_clone_shared(&mut self) -> Result<ClonedPolicies, MagailError> {
        let key = self.bc_key()?;
        let loss = self.behaviour_clone()?;
        let policies = self.learners.policy_tensors()?;
        Ok(ClonedPolicies {
            key,
            policies,
            rng: self.rng.clone(),
            loss,
        })
    }

    /// Takes another trainer's cloning instead of cloning: afterwards this trainer is exactly as
    /// if it had run [`behaviour_clone`](Self::behaviour_clone) itself. Refused when its
    /// [`bc_key`](Self::bc_key) differs (the cloning would not have been the same). Returns the
    /// cloning's final loss.
    pub fn adopt_clone(&mut self, c: &ClonedPolicies) -> Result<f64, MagailError> {
        let key = self.bc_key()?;
        if key != c.key {
            return Err(MagailError::Config(format!(
                "cloned policies from another start (digest {:016x}, this trainer's {key:016x}): \
                 different initial policies, demonstrations, cloning settings or stream",
                c.key
            )));
        }
        self.learners.load_tensors(&c.policies, true)?;
        self.rng = c.rng.clone();
        Ok(c.loss)
    }

    /// Encodes the samples of a rollout (the policy's, or the demonstrations') for
    /// discriminator `k` (all steps when `all`);
    /// for a joint discriminator that filters φ, `mask` (if given) receives the weights of its
    /// logits.
    fn encode_policy(
        &self,
        ro: &Rollout,
        k: usize,
        all: bool,
        out: &mut Vec<f32>,
        rows: &mut Vec<usize>,
        mut mask: Option<&mut Vec<f32>>,
    ) -> Result<(), GailError> {
        let n = self.spec.n_agents();
        let slot = phi_slot(self.cfg.phi);
        let spaces: Vec<ActionSpace> = (0..n).map(|i| self.spec.action_space(i)).collect();
        for at in 0..ro.envs * ro.steps {
            let agent = |i: usize| {
                let (a, d, w) = (&ro.agents[i], self.collector.obs_dim(i), spaces[i].width());
                AgentStep {
                    obs: &a.obs[at * d..(at + 1) * d],
                    action: &a.actions[at * w..(at + 1) * w],
                    acted: a.acted[at],
                }
            };
            if self
                .cfg
                .prior
                .encode_step(k, agent, &spaces, slot, all, out, mask.as_deref_mut())?
            {
                rows.push(at);
            }
        }
        Ok(())
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

    /// Every agent's discriminator reward for every step of `ro` (the rewards the next policy
    /// step would see): per prior, from the current discriminators (under φ-as-action, φ steps
    /// too, as the rewards of the φ the agent played).
    pub fn rewards(&self, ro: &Rollout) -> Result<Vec<Vec<f64>>, MagailError> {
        self.rewards_at(ro, self.iteration)
    }

    fn rewards_at(&self, ro: &Rollout, it: usize) -> Result<Vec<Vec<f64>>, MagailError> {
        let n = self.spec.n_agents();
        let total = ro.envs * ro.steps;
        let mut rewards = vec![vec![0.0f64; total]; n];
        for k in 0..self.discs.len() {
            // Rewards of every step from the updated discriminator.
            let (mut all, mut all_rows) = (Vec::new(), Vec::new());
            self.encode_policy(ro, k, true, &mut all, &mut all_rows, None)
                .map_err(|source| MagailError::Disc {
                    iteration: it,
                    agent: k,
                    source,
                })?;
            let logits = self.discs[k]
                .logits(&all)
                .map_err(|source| MagailError::Disc {
                    iteration: it,
                    agent: k,
                    source,
                })?;
            if logits.iter().any(|l| !l.is_finite()) {
                return Err(MagailError::Disc {
                    iteration: it,
                    agent: k,
                    source: GailError::NonFinite,
                });
            }
            let outs = logits.len() / all_rows.len().max(1);
            for (r, &at) in all_rows.iter().enumerate() {
                let row = &logits[r * outs..(r + 1) * outs];
                self.cfg
                    .prior
                    .assign_rewards(self.cfg.reward, k, row, at, &mut rewards);
                if self.cfg.prior == Prior::ZeroSum && !self.cfg.teams.is_empty() {
                    // Agent 0 holds the first team's reward; every agent takes its team's.
                    let first = if self.cfg.team(0) == 0 {
                        rewards[0][at]
                    } else {
                        -rewards[0][at]
                    };
                    for (i, rw) in rewards.iter_mut().enumerate() {
                        rw[at] = if self.cfg.team(i) == 0 { first } else { -first };
                    }
                }
            }
        }
        Ok(rewards)
    }

    /// The zero-sum prior's discriminator step (papers.md §2.4, `competitive_single`): on `m`
    /// expert time steps, the current policies act on the expert's observations, and the joint
    /// discriminator learns (expert a1, policy a2) → 1, (expert, expert) → ½,
    /// (policy a1, expert a2) → 0. It never sees rollout states.
    fn zero_sum_step(
        &mut self,
        policies: &[&dyn Policy],
        m: usize,
    ) -> Result<DiscStats, GailError> {
        let steps = self.demos.steps;
        let m = m.max(1);
        let picks: Vec<usize> = (0..m).map(|_| self.rng.random_range(0..steps)).collect();
        let mut obs = Vec::new();
        let mut expert = Vec::new();
        let mut policy = Vec::new();
        // Two players, or every agent of two teams.
        let n = if self.cfg.teams.is_empty() {
            2
        } else {
            policies.len()
        };
        for (i, pol) in policies.iter().enumerate().take(n) {
            let (d, w) = (self.collector.obs_dim(i), self.spec.action_space(i).width());
            let AgentSteps {
                obs: o,
                actions: a,
                acted,
                ..
            } = &self.demos.agents[i];
            let oi: Vec<f32> = picks
                .iter()
                .flat_map(|&r| o[r * d..(r + 1) * d].iter().copied())
                .collect();
            let ai: Vec<f32> = picks
                .iter()
                .flat_map(|&r| a[r * w..(r + 1) * w].iter().copied())
                .collect();
            let base: u64 = self.rng.random();
            let mut rngs: Vec<StreamRng> = (0..m).map(|r| stream_rng(base, r as u64)).collect();
            let mut refs: Vec<&mut StreamRng> = rngs.iter_mut().collect();
            let out = pol.act(&oi, &mut refs).map_err(|e| GailError::Config {
                field: "policy",
                reason: e.to_string(),
            })?;
            // Where the expert's agent was not let act, the policy's answer is φ as well: the
            // pairs then differ only in what the acting players chose, and φ itself tells
            // nothing (otherwise "a1 = φ" would mark the expert's pairs).
            let mut answers = out.actions;
            let space = self.spec.action_space(i);
            for (r, &step) in picks.iter().enumerate() {
                if !acted[step] {
                    space.phi_fill(&mut answers[r * w..(r + 1) * w]);
                }
            }
            obs.push(oi);
            expert.push(ai);
            policy.push(answers);
        }
        let space = |i: usize| self.spec.action_space(i);
        let encode = |use_expert: [bool; 2]| -> Result<Vec<f32>, GailError> {
            let mut x = Vec::new();
            for r in 0..m {
                for i in 0..n {
                    let (d, w) = (self.collector.obs_dim(i), space(i).width());
                    let acts = if use_expert[self.cfg.team(i)] {
                        &expert[i]
                    } else {
                        &policy[i]
                    };
                    encode_pairs(
                        &obs[i][r * d..(r + 1) * d],
                        d,
                        &acts[r * w..(r + 1) * w],
                        space(i),
                        true,
                        &mut x,
                    )?;
                }
            }
            Ok(x)
        };
        let sets: Vec<(Vec<f32>, f64)> = zero_sum_labels()
            .iter()
            .map(|&(e1, e2, y)| Ok((encode([e1, e2])?, y)))
            .collect::<Result<_, GailError>>()?;
        let refs: Vec<(&[f32], f64)> = sets.iter().map(|(x, y)| (x.as_slice(), *y)).collect();
        self.discs[0].train_step_labelled(&refs)
    }

    /// Iterations done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The configuration.
    pub fn config(&self) -> &MagailConfig {
        &self.cfg
    }

    /// Every network parameter by name: the learners' (`group0.pi.l0.weight`, …) and the
    /// discriminators' (`disc0.l0.weight`, …).
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>, MagailError> {
        let mut m = self.learners.tensors()?;
        for (k, d) in self.discs.iter().enumerate() {
            m.extend(
                d.tensors(&format!("disc{k}"))
                    .map_err(|source| MagailError::Disc {
                        iteration: self.iteration,
                        agent: k,
                        source,
                    })?,
            );
        }
        Ok(m)
    }

    /// Everything needed to continue exactly: the parameters ([`tensors`](Self::tensors)) and,
    /// under [`crate::STATE_KEY`], the iteration, every random stream, the critics' and
    /// discriminators' Adam moments and every game copy mid-episode.
    pub fn checkpoint(&self) -> Result<HashMap<String, Tensor>, MagailError> {
        let mut m = self.tensors()?;
        put_state(
            &mut m,
            &TrainerState {
                iteration: self.iteration,
                rng: RngState::of(&self.rng),
                learners: self.learners.state(),
                discs: self.discs.iter().map(Discriminator::state).collect(),
                collector: self.collector.state(),
            },
        )?;
        Ok(m)
    }

    /// The iteration a [`checkpoint`](Self::checkpoint) was taken after.
    pub fn checkpoint_iteration(m: &HashMap<String, Tensor>) -> Result<usize, MagailError> {
        Ok(take_state::<TrainerState>(m)?.iteration)
    }

    /// Continues from a [`checkpoint`](Self::checkpoint) of a trainer built the same way: the
    /// run goes on exactly as the one that wrote it would have. For a game that saves no state
    /// ([`MarkovGame::save_state`]) the rollouts restart from streams derived from (seed,
    /// iteration) with new episodes. Every part is checked before any is set, so a bad
    /// checkpoint changes nothing.
    pub fn resume(&mut self, m: &HashMap<String, Tensor>) -> Result<(), MagailError> {
        let s: TrainerState = take_state(m)?;
        let iteration = s.iteration;
        if s.discs.len() != self.discs.len() {
            return Err(MagailError::Config(format!(
                "a checkpoint of {} discriminators, this trainer has {}",
                s.discs.len(),
                self.discs.len()
            )));
        }
        let staged = self
            .discs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                d.stage_tensors(m, &format!("disc{k}"))
                    .map_err(|source| MagailError::Disc {
                        iteration,
                        agent: k,
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.learners.load_tensors(m, false)?;
        self.learners.set_state(&s.learners)?;
        for (k, ((d, st), ds)) in self.discs.iter_mut().zip(staged).zip(&s.discs).enumerate() {
            d.set_staged(st)
                .and_then(|()| d.set_state(ds))
                .map_err(|source| MagailError::Disc {
                    iteration,
                    agent: k,
                    source,
                })?;
        }
        match &s.collector {
            Some(c) => self.collector.set_state(c)?,
            None => self.collector.restart_stream(iteration),
        }
        self.iteration = iteration;
        self.rng = s.rng.rng();
        Ok(())
    }
}

/// A MAGAIL trainer's state besides its parameters.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    iteration: usize,
    rng: RngState,
    learners: LearnerState,
    discs: Vec<DiscState>,
    /// `None` for a game that saves no state.
    collector: Option<CollectorState>,
}

fn default_bc_batch() -> usize {
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
            phi_as_action: phi.as_action(),
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
