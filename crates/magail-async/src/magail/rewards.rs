//! The discriminators' side: expert and policy samples encoded for them, the rewards they give
//! every agent at every step, and the zero-sum prior's labelled step.

use gail::{AgentStep, DiscStats, GailError, Prior, encode_pairs, zero_sum_labels};
use mg_core::{ActionSpace, MarkovGame, PlayerFunction, StreamRng, stream_rng};
use rand::Rng;

use super::{MagailError, MagailTrainer};
use crate::policy::Policy;
use crate::rollout::{AgentSteps, Rollout};

impl<G, P> MagailTrainer<G, P>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    pub(super) fn encode_expert(&mut self) -> Result<(), GailError> {
        let mut rows = Vec::new();
        for k in 0..self.widths.len() {
            let (mut x, mut mask) = (Vec::new(), Vec::new());
            self.encode_policy(&self.demos, k, false, &mut x, &mut rows, Some(&mut mask))?;
            self.expert[k] = x;
            self.expert_mask[k] = mask;
        }
        Ok(())
    }

    /// Encodes the samples of a rollout (the policy's, or the demonstrations') for
    /// discriminator `k` (all steps when `all`);
    /// for a joint discriminator that filters φ, `mask` (if given) receives the weights of its
    /// logits.
    pub(super) fn encode_policy(
        &self,
        ro: &Rollout,
        k: usize,
        all: bool,
        out: &mut Vec<f32>,
        rows: &mut Vec<usize>,
        mut mask: Option<&mut Vec<f32>>,
    ) -> Result<(), GailError> {
        let n = self.spec.n_agents();
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
            if self.cfg.prior.encode_step(
                k,
                agent,
                &spaces,
                self.cfg.phi,
                all,
                out,
                mask.as_deref_mut(),
            )? {
                rows.push(at);
            }
        }
        Ok(())
    }

    /// Every agent's discriminator reward for every step of `ro` (the rewards the next policy
    /// step would see): per prior, from the current discriminators (under φ-as-action, φ steps
    /// too, as the rewards of the φ the agent played).
    pub fn rewards(&self, ro: &Rollout) -> Result<Vec<Vec<f64>>, MagailError> {
        self.rewards_at(ro, self.iteration)
    }

    pub(super) fn rewards_at(&self, ro: &Rollout, it: usize) -> Result<Vec<Vec<f64>>, MagailError> {
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
    pub(super) fn zero_sum_step(
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
}
