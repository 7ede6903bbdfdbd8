//! Per-agent TRPO learners with parameter sharing among identical agents, fed by rollouts.
//!
//! The same learner trains experts on the true reward and imitators on discriminator rewards:
//! only the rewards handed to [`Learners::update`] differ. Steps where an agent played φ are
//! filtered out of its value and policy updates (AMAGAIL); its GAE runs over its own active steps,
//! each bootstrapped from its next active step in the same episode. The baselines of the AMAGAIL
//! paper instead treat φ as an ordinary action: the [`PhiMode`] given to [`Learners::new`] decides.

mod config;

pub use config::{ComputeDevice, LearnerConfig};

use std::borrow::Cow;
use std::collections::HashMap;

use candle_core::{Device, Tensor};
use mg_core::{ActionSpace, GameSpec, PhiMode, RngState, StreamRng, stream_rng};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use trpo::{
    Anchor, Head, LineSearch, PolicyBatch, StochasticPolicy, TrpoError, ValueFunction, gae,
    trpo_step,
};

use crate::candle_policy::{CandlePolicy, head_for};
use crate::rollout::Rollout;

/// Why learning failed.
#[derive(Debug, Error)]
pub enum LearnError {
    /// The optimizer failed.
    #[error("optimizer: {0}")]
    Trpo(#[from] TrpoError),
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// The configuration does not fit the game.
    #[error("learner configuration: {0}")]
    Config(String),
    /// A checkpoint does not fit the learners.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

/// Copies of the variables' values. A variable's tensor shares its storage with the variable,
/// which training overwrites in place (`Var::set`): a clone of it would change with it, as the
/// shared behaviour cloning of `xtask reproduce` once did (a later run adopted a policy its
/// cloner had already trained).
fn snapshot(vars: Vec<(String, candle_core::Var)>) -> Result<HashMap<String, Tensor>, LearnError> {
    vars.into_iter()
        .map(|(key, var)| Ok((key, var.as_tensor().copy()?)))
        .collect()
}

/// The value network's inputs for `rows` rows: the agent's own rows borrowed as they are, or
/// (with `dims`, the centralized critic) each own row followed by every agent's row at the same
/// index, agent `j`'s rows being `dims[j]` wide.
fn value_rows<'a>(
    own: &'a [f32],
    all: &[&[f32]],
    rows: usize,
    dims: Option<&[usize]>,
    d: usize,
    dv: usize,
) -> Cow<'a, [f32]> {
    let Some(dims) = dims else {
        return Cow::Borrowed(own);
    };
    let mut out = Vec::with_capacity(rows * dv);
    for r in 0..rows {
        out.extend_from_slice(&own[r * d..(r + 1) * d]);
        for (j, &dj) in dims.iter().enumerate() {
            out.extend_from_slice(&all[j][r * dj..(r + 1) * dj]);
        }
    }
    Cow::Owned(out)
}

/// One group's networks.
#[derive(Debug)]
pub struct Group {
    /// The agents in the group.
    pub agents: Vec<usize>,
    /// The shared policy.
    pub policy: StochasticPolicy,
    /// The shared value network.
    pub value: ValueFunction,
    space: ActionSpace,
}

/// The learners' state besides their parameters ([`Learners::state`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerState {
    rng: RngState,
    critics: Vec<trpo::Adam>,
}

/// Statistics of one update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateStats {
    /// Per group: KL of the accepted step, or `None` when the line search rejected every step.
    pub kl: Vec<Option<f64>>,
    /// Per group: value-function loss of the last epoch.
    pub vf_loss: Vec<f64>,
    /// Per group: samples used (active steps only, every step under φ-as-action).
    pub samples: Vec<usize>,
}

/// The learners of every agent.
#[derive(Debug)]
pub struct Learners {
    cfg: LearnerConfig,
    /// How φ is treated: the policies' φ category and which steps enter the updates.
    phi: PhiMode,
    groups: Vec<Group>,
    obs_dims: Vec<usize>,
    rng: StreamRng,
    dev: Device,
    /// Per group: demonstrations every policy step also keeps likely (BC regularisation).
    anchors: Vec<Option<Anchor>>,
}

impl Learners {
    /// Networks for a game with this spec; `obs_dims` are the observation sizes policies see
    /// (the collector's, which may include history features). `phi` decides how the steps an
    /// agent did not act in are treated: filtered out (AMAGAIL, and experts), or φ as one more
    /// action category of every policy (discrete action spaces only), which it may also choose
    /// when allowed to act ([`Policy::plays_phi`](crate::Policy::plays_phi)), every step entering
    /// its value and policy updates.
    pub fn new(
        spec: &GameSpec,
        obs_dims: &[usize],
        cfg: LearnerConfig,
        phi: PhiMode,
    ) -> Result<Self, LearnError> {
        let n = spec.n_agents();
        if cfg.groups.len() != n || obs_dims.len() != n {
            return Err(LearnError::Config(format!(
                "{} sharing groups and {} observation sizes for {n} agents",
                cfg.groups.len(),
                obs_dims.len()
            )));
        }
        cfg.trpo.validate()?;
        let dev = cfg.device.device()?;
        let mut init = stream_rng(cfg.seed, 1 << 50);
        let n_groups = cfg.groups.iter().max().map_or(0, |g| g + 1);
        let mut groups = Vec::new();
        for g in 0..n_groups {
            let agents: Vec<usize> = (0..n).filter(|&i| cfg.groups[i] == g).collect();
            let Some(&first) = agents.first() else {
                return Err(LearnError::Config(format!(
                    "sharing group {g} has no agents"
                )));
            };
            let space = spec.action_space(first);
            for &i in &agents {
                if spec.action_space(i) != space || obs_dims[i] != obs_dims[first] {
                    return Err(LearnError::Config(format!(
                        "agents {first} and {i} share group {g} but differ in observation or action space"
                    )));
                }
            }
            let head = match (phi.is_action(), space) {
                (false, _) => head_for(space),
                (true, ActionSpace::Discrete { n }) => Head::Categorical { n: n + 1 },
                (true, ActionSpace::Box { .. }) => {
                    return Err(LearnError::Config(format!(
                        "φ as an action needs discrete action spaces; agent {first} acts in a box"
                    )));
                }
            };
            let policy = StochasticPolicy::new(
                obs_dims[first],
                &cfg.trpo.hidden,
                cfg.activation,
                head,
                &mut init,
                &dev,
            )?;
            // The game's legal-action mask ends the observation: illegal actions get no
            // probability (history features would come after it, so they are refused).
            let policy = match (spec.agents[first].action_mask, space) {
                (false, _) => policy,
                (true, ActionSpace::Discrete { n }) if obs_dims[first] == spec.obs_dim(first) => {
                    policy.with_action_mask(n)?
                }
                (true, _) => {
                    return Err(LearnError::Config(format!(
                        "agent {first}'s observation ends with an action mask: it needs a \
                         discrete action space and no history features"
                    )));
                }
            };
            // A centralized critic reads [own observation, every agent's observation].
            let value_dim = if cfg.centralized_value {
                obs_dims[first] + obs_dims.iter().sum::<usize>()
            } else {
                obs_dims[first]
            };
            let value = ValueFunction::new(
                value_dim,
                &cfg.trpo.hidden,
                cfg.activation,
                cfg.trpo.vf_lr,
                &mut init,
                &dev,
            )?;
            groups.push(Group {
                agents,
                policy,
                value,
                space,
            });
        }
        Ok(Self {
            rng: stream_rng(cfg.seed, 1 << 51),
            cfg,
            phi,
            anchors: vec![None; groups.len()],
            groups,
            obs_dims: obs_dims.to_vec(),
            dev,
        })
    }

    /// Regularises every later policy step of `group` toward `anchor`'s demonstrations
    /// ([`trpo::Anchor`]); `None` removes it.
    pub fn set_anchor(&mut self, group: usize, anchor: Option<Anchor>) -> Result<(), LearnError> {
        let n = self.groups.len();
        let slot = self.anchors.get_mut(group).ok_or_else(|| {
            LearnError::Config(format!(
                "anchor for group {group}, but there are {n} groups"
            ))
        })?;
        *slot = anchor;
        Ok(())
    }

    /// The groups.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The configuration.
    pub fn config(&self) -> &LearnerConfig {
        &self.cfg
    }

    /// How these learners treat φ.
    pub fn phi(&self) -> PhiMode {
        self.phi
    }

    /// One rollout policy per agent, acting on the CPU. On the CPU device they share parameters
    /// with the learners (later updates show through); on a GPU they are CPU copies of the
    /// parameters as they are now (environments step on the CPU, and one row per copy is too
    /// little work for a GPU), so ask again after an update.
    pub fn policies(&self, greedy: bool) -> Result<Vec<CandlePolicy>, LearnError> {
        let cpu = Device::Cpu;
        let copies = if self.dev.is_cpu() {
            self.groups.iter().map(|g| g.policy.clone()).collect()
        } else {
            self.groups
                .iter()
                .map(|g| g.policy.to_device(&cpu))
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok((0..self.cfg.groups.len())
            .map(|i| {
                let g = self.cfg.groups[i];
                CandlePolicy::new(copies[g].clone(), self.groups[g].space, cpu.clone())
                    .greedy(greedy)
                    .with_phi(self.phi.is_action())
            })
            .collect())
    }

    /// The device the networks compute on.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// One TRPO step and one value fit per group on `ro`, with `rewards[i]` replacing agent `i`'s
    /// rewards when given (same layout as `ro.agents[i].rewards`), the true rewards otherwise.
    pub fn update(
        &mut self,
        ro: &Rollout,
        rewards: Option<&[Vec<f64>]>,
    ) -> Result<UpdateStats, LearnError> {
        self.update_parts(ro, rewards, true)
    }

    /// As [`update`](Self::update); with `policy_step` false only the value networks learn
    /// (a warm-up that gives the first policy steps sensible advantages).
    pub fn update_parts(
        &mut self,
        ro: &Rollout,
        rewards: Option<&[Vec<f64>]>,
        policy_step: bool,
    ) -> Result<UpdateStats, LearnError> {
        self.update_groups(ro, rewards, policy_step, None)
    }

    /// As [`update_parts`](Self::update_parts), for the groups with `learn[g]` true only (all
    /// when `None`): the others keep their networks, as when another policy played those agents
    /// in `ro` and its data is not theirs to learn from. Skipped groups report no KL, a zero loss
    /// and zero samples.
    pub fn update_groups(
        &mut self,
        ro: &Rollout,
        rewards: Option<&[Vec<f64>]>,
        policy_step: bool,
        learn: Option<&[bool]>,
    ) -> Result<UpdateStats, LearnError> {
        if let Some(l) = learn
            && l.len() != self.groups.len()
        {
            return Err(LearnError::Config(format!(
                "{} learn flags for {} groups",
                l.len(),
                self.groups.len()
            )));
        }
        let mut stats = UpdateStats::default();
        let (envs, steps) = (ro.envs, ro.steps);
        let end_at: HashMap<(usize, usize), usize> = ro
            .ends
            .iter()
            .enumerate()
            .map(|(k, e)| ((e.env, e.step), k))
            .collect();
        let cfg = self.cfg.trpo.clone();
        // Every agent's recorded, last and final observations, which the centralized critic
        // reads beside the agent's own (the same for every group and agent).
        let all_obs: Vec<&[f32]> = ro.agents.iter().map(|x| x.obs.as_slice()).collect();
        let all_last: Vec<&[f32]> = ro.agents.iter().map(|x| x.last_obs.as_slice()).collect();
        let fin_all: Vec<Vec<f32>> = (0..ro.agents.len())
            .map(|j| {
                ro.ends
                    .iter()
                    .flat_map(|e| e.final_obs[j].iter().copied())
                    .collect()
            })
            .collect();
        let fin_refs: Vec<&[f32]> = fin_all.iter().map(Vec::as_slice).collect();
        for (gi, g) in self.groups.iter_mut().enumerate() {
            if learn.is_some_and(|l| !l[gi]) {
                stats.samples.push(0);
                stats.kl.push(None);
                stats.vf_loss.push(0.0);
                continue;
            }
            let d = self.obs_dims[g.agents[0]];
            let dv = g.value.mlp().dims()[0];
            let w = g.space.width();
            let mut obs: Vec<f32> = Vec::new();
            let mut vobs: Vec<f32> = Vec::new();
            let mut acts: Vec<f32> = Vec::new();
            let mut adv: Vec<f64> = Vec::new();
            let mut ret: Vec<f64> = Vec::new();
            let centralized = self.cfg.centralized_value;
            let cut_is_terminal = self.cfg.truncation_as_terminal;
            let phi = self.phi;
            let dims = &self.obs_dims;
            for &i in &g.agents {
                let a = &ro.agents[i];
                let rew = match rewards {
                    Some(r) => &r[i],
                    None => &a.rewards,
                };
                if rew.len() != envs * steps {
                    return Err(LearnError::Config(format!(
                        "agent {i}: {} rewards for {} steps",
                        rew.len(),
                        envs * steps
                    )));
                }
                // The value network's inputs: the agent's own rows, or (centralized) each row
                // followed by every agent's row at the same index.
                let value_rows = |own, all: &[&[f32]], rows| {
                    value_rows(own, all, rows, centralized.then_some(dims), d, dv)
                };
                let v_in = value_rows(&a.obs, &all_obs, envs * steps);
                let last_in = value_rows(&a.last_obs, &all_last, envs);
                let fin_in = value_rows(&fin_all[i], &fin_refs, ro.ends.len());
                // Values of every recorded observation, of every copy's last observation and of
                // every episode's final observation, in three batched calls.
                let v_all =
                    g.value
                        .predict(&Tensor::from_slice(&v_in, (envs * steps, dv), &self.dev)?)?;
                let v_last =
                    g.value
                        .predict(&Tensor::from_slice(&last_in, (envs, dv), &self.dev)?)?;
                let v_fin = if ro.ends.is_empty() {
                    Vec::new()
                } else {
                    g.value.predict(&Tensor::from_slice(
                        &fin_in,
                        (ro.ends.len(), dv),
                        &self.dev,
                    )?)?
                };
                for b in 0..envs {
                    // The agent's own active steps, each with its bootstrap.
                    let mut idx: Vec<usize> = Vec::new();
                    let mut r: Vec<f64> = Vec::new();
                    let mut v: Vec<f64> = Vec::new();
                    let mut nv: Vec<f64> = Vec::new();
                    let mut term: Vec<bool> = Vec::new();
                    let mut end: Vec<bool> = Vec::new();
                    let mut pending = false;
                    for t in 0..steps {
                        let at = b * steps + t;
                        if phi.counts(a.acted[at]) {
                            if pending {
                                *nv.last_mut().ok_or(LearnError::Config("empty".into()))? =
                                    v_all[at];
                            }
                            idx.push(at);
                            r.push(rew[at]);
                            v.push(v_all[at]);
                            nv.push(0.0);
                            term.push(false);
                            end.push(false);
                            pending = true;
                        }
                        if (ro.terminated[at] || ro.truncated[at]) && pending {
                            let k = v.len() - 1;
                            let terminal = ro.terminated[at] || cut_is_terminal;
                            term[k] = terminal;
                            end[k] = true;
                            nv[k] = if terminal {
                                0.0
                            } else {
                                end_at.get(&(b, t)).map_or(0.0, |&e| v_fin[e])
                            };
                            pending = false;
                        }
                    }
                    if pending {
                        let k = v.len() - 1;
                        nv[k] = v_last[b];
                        end[k] = true;
                    }
                    let (ad, rt) = gae(&r, &v, &nv, &term, &end, cfg.gamma, cfg.gae_lambda)?;
                    for (k, &at) in idx.iter().enumerate() {
                        obs.extend_from_slice(&a.obs[at * d..(at + 1) * d]);
                        if centralized {
                            vobs.extend_from_slice(&v_in[at * dv..(at + 1) * dv]);
                        }
                        acts.extend_from_slice(&a.actions[at * w..(at + 1) * w]);
                        adv.push(ad[k]);
                        ret.push(rt[k]);
                    }
                }
            }
            let n = adv.len();
            stats.samples.push(n);
            if n < 2 {
                stats.kl.push(None);
                stats.vf_loss.push(0.0);
                continue;
            }
            let obs_t = Tensor::from_slice(&obs, (n, d), &self.dev)?;
            let actions = match g.space {
                ActionSpace::Discrete { .. } => {
                    Tensor::from_iter(acts.iter().map(|&a| a as u32), &self.dev)?
                }
                ActionSpace::Box { dim, .. } => Tensor::from_slice(&acts, (n, dim), &self.dev)?,
            };
            if policy_step {
                let rep = trpo_step(
                    &g.policy,
                    &PolicyBatch {
                        obs: obs_t.clone(),
                        actions,
                        advantages: adv,
                        anchor: self.anchors[gi].clone(),
                    },
                    &cfg,
                )?;
                stats.kl.push(match rep.line_search {
                    LineSearch::Accepted { kl, .. } => Some(kl),
                    LineSearch::Rejected { .. } => None,
                });
            } else {
                stats.kl.push(None);
            }
            let vobs_t = if centralized {
                Tensor::from_slice(&vobs, (n, dv), &self.dev)?
            } else {
                obs_t.clone()
            };
            let loss = g.value.fit(
                &vobs_t,
                &ret,
                cfg.vf_epochs,
                cfg.vf_minibatches,
                &mut self.rng,
            )?;
            stats.vf_loss.push(loss);
        }
        Ok(stats)
    }

    /// Every parameter variable by its checkpoint name (`group0.pi.l0.weight`,
    /// `group0.vf.l0.bias`, …), the value networks' left out with `policies_only`.
    fn named_vars(&self, policies_only: bool) -> Vec<(String, candle_core::Var)> {
        let mut out = Vec::new();
        for (k, g) in self.groups.iter().enumerate() {
            let mut pairs: Vec<(String, candle_core::Var)> =
                g.policy.names().into_iter().zip(g.policy.vars()).collect();
            if !policies_only {
                pairs.extend(
                    g.value
                        .mlp()
                        .names("vf")
                        .into_iter()
                        .zip(g.value.mlp().vars()),
                );
            }
            out.extend(
                pairs
                    .into_iter()
                    .map(|(name, var)| (format!("group{k}.{name}"), var)),
            );
        }
        out
    }

    /// What besides the parameters the learners carry from one update to the next: their
    /// sampling stream and each critic's Adam moments.
    pub fn state(&self) -> LearnerState {
        LearnerState {
            rng: RngState::of(&self.rng),
            critics: self
                .groups
                .iter()
                .map(|g| g.value.optimizer().state())
                .collect(),
        }
    }

    /// Restores a [`state`](Self::state) of learners built the same way (after their
    /// parameters are loaded). Nothing changes when it is refused.
    pub fn set_state(&mut self, s: &LearnerState) -> Result<(), LearnError> {
        if s.critics.len() != self.groups.len() {
            return Err(LearnError::Checkpoint(format!(
                "a state of {} critics, these learners have {}",
                s.critics.len(),
                self.groups.len()
            )));
        }
        let mut opts: Vec<trpo::Adam> = self
            .groups
            .iter()
            .map(|g| g.value.optimizer().clone())
            .collect();
        for (o, saved) in opts.iter_mut().zip(&s.critics) {
            o.set_state(saved.clone())?;
        }
        for (g, o) in self.groups.iter_mut().zip(opts) {
            *g.value.optimizer_mut() = o;
        }
        self.rng = s.rng.rng();
        Ok(())
    }

    /// Every network parameter by name (`group0.pi.l0.weight`, `group0.vf.l0.bias`, …): a
    /// snapshot, unchanged by later training.
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>, LearnError> {
        snapshot(self.named_vars(false))
    }

    /// The policies' parameters only, named as in [`tensors`](Self::tensors): a snapshot.
    pub fn policy_tensors(&self) -> Result<HashMap<String, Tensor>, LearnError> {
        snapshot(self.named_vars(true))
    }

    /// Loads parameters saved by [`tensors`](Self::tensors); every name and shape must match and
    /// every value be finite ([`gail::checkpoint_tensor`]), or nothing changes.
    /// With `policies_only`, value networks are left as they are (for imitation from an expert).
    pub fn load_tensors(
        &mut self,
        m: &HashMap<String, Tensor>,
        policies_only: bool,
    ) -> Result<(), LearnError> {
        // Every tensor is checked before any is set, so a bad checkpoint changes nothing.
        let mut staged = Vec::new();
        for (key, var) in self.named_vars(policies_only) {
            let t = gail::checkpoint_tensor(m, &key, var.as_tensor()).map_err(|e| match e {
                gail::GailError::Checkpoint(msg) => LearnError::Checkpoint(msg),
                other => LearnError::Checkpoint(other.to_string()),
            })?;
            staged.push((var, t));
        }
        for (var, t) in staged {
            var.set(&t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Devices parse by name, print back the same, and unknown names are refused with the
    /// accepted forms.
    #[test]
    fn devices_parse_and_print() -> Result<(), LearnError> {
        for (s, d) in [
            ("cpu", ComputeDevice::Cpu),
            ("cuda", ComputeDevice::Cuda(0)),
            ("cuda:2", ComputeDevice::Cuda(2)),
        ] {
            assert_eq!(s.parse::<ComputeDevice>()?, d);
        }
        assert_eq!(ComputeDevice::Cuda(1).to_string(), "cuda:1");
        for bad in ["gpu", "cuda:", "cuda:x", "CPU"] {
            let e = bad.parse::<ComputeDevice>().err().map(|e| e.to_string());
            assert!(
                e.as_deref()
                    .is_some_and(|m| m.contains(bad) && m.contains("cuda:N")),
                "{bad}: {e:?}"
            );
        }
        assert!(ComputeDevice::Cpu.device()?.is_cpu());
        Ok(())
    }

    /// A GPU in a build without CUDA is refused when the learners are built, saying why.
    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_gpu_without_the_cuda_build_is_refused() {
        let e = ComputeDevice::Cuda(0).device().err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("cuda:0") && m.contains("`cuda` feature")),
            "{e:?}"
        );
    }
}
