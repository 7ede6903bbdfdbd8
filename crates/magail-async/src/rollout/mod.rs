//! Participation-aware rollouts: B copies of an extensive game, n agents, policies asked only for
//! the copies where their agent acts, φ recorded for the others.
//!
//! Work is split over worker threads, each owning a contiguous shard of copies for the whole
//! collection (no per-step synchronisation). Every copy has its own streams, derived from the
//! run's seed: `stream_rng(seed, b)` for its resets and participation draws, and
//! `stream_rng(seed, ACT_STREAMS + 64·b + i)` for agent `i`'s action sampling. So the collected
//! data is identical whatever the number of workers.

mod collector;

pub use collector::{Collector, CollectorState};

use mg_core::{Demonstrations, GameError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// First stream number of the action-sampling streams.
pub const ACT_STREAMS: u64 = 1 << 40;

/// Why a rollout failed. No data is returned with an error.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RolloutError {
    /// The game refused a step or a configuration.
    #[error("game error: {0}")]
    Game(#[from] GameError),
    /// The policies do not match the game's agents.
    #[error("{got} policies given, the game has {expected} agents")]
    PolicyCount {
        /// Agents in the game.
        expected: usize,
        /// Policies given.
        got: usize,
    },
    /// A policy failed.
    #[error("policy of agent {agent} failed: {message}")]
    Policy {
        /// The agent.
        agent: usize,
        /// What the policy said.
        message: String,
    },
    /// A policy returned the wrong number of values.
    #[error(
        "policy of agent {agent} returned {got} {what}, expected {expected} for {rows} observations"
    )]
    PolicyOutputSize {
        /// The agent.
        agent: usize,
        /// `actions` or `log-probabilities`.
        what: &'static str,
        /// Rows asked for.
        rows: usize,
        /// Values expected.
        expected: usize,
        /// Values returned.
        got: usize,
    },
    /// A policy returned an action outside its agent's action space, or a non-finite log-probability.
    #[error("policy of agent {agent} returned an invalid output for environment {env}: {reason}")]
    InvalidPolicyOutput {
        /// The agent.
        agent: usize,
        /// The environment copy.
        env: usize,
        /// What is wrong.
        reason: String,
    },
    /// A bad configuration.
    #[error("rollout configuration: {0}")]
    Config(String),
    /// A game that played past the step limit its spec states without ending the episode (a
    /// game ends its own episodes: `GameSpec::max_steps` describes them, nothing enforces it).
    #[error(
        "game `{game}` played {steps} steps without ending the episode, but its spec says \
         max_steps = {max_steps}: return `truncated: true` at the step limit"
    )]
    Unending {
        /// The game's name.
        game: String,
        /// Its stated limit.
        max_steps: usize,
        /// Steps played in the episode.
        steps: usize,
    },
}

/// How to collect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutConfig {
    /// Number of environment copies B.
    pub envs: usize,
    /// Worker threads (each owns a contiguous shard of copies); the data does not depend on it.
    pub workers: usize,
    /// The run's seed; every stream derives from it.
    pub seed: u64,
    /// Append the last k participation vectors (k·n values of 0/1, oldest first, zero-padded)
    /// to every observation, so policies can see the participation history. 0 = off.
    pub history_k: usize,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            envs: 8,
            workers: 1,
            seed: 0,
            history_k: 0,
        }
    }
}

/// One agent's part of a rollout. Arrays are environment-major: entry (b, t) of a `steps`-long
/// rollout sits at `b · steps + t`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSteps {
    /// `envs × steps × obs_dim`: the observation at each step (before acting).
    pub obs: Vec<f32>,
    /// `envs × steps × width`: the action; φ's fill ([`ActionSpace::phi_fill`]) where not acted,
    /// and where a policy that plays φ ([`Policy::plays_phi`]) chose it.
    pub actions: Vec<f32>,
    /// `envs × steps`: log-probability of the action; 0 where not acted.
    pub logp: Vec<f32>,
    /// `envs × steps`: the true reward; 0 where not acted (masked: read `acted`).
    pub rewards: Vec<f64>,
    /// `envs × steps`: whether the agent acted (the participation mask).
    pub acted: Vec<bool>,
    /// `envs × obs_dim`: the observation after the last step, for bootstrapping.
    pub last_obs: Vec<f32>,
}

/// An episode that ended inside a rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeEnd {
    /// The environment copy.
    pub env: usize,
    /// The step index (within the rollout) of the episode's last step.
    pub step: usize,
    /// The episode's length in steps.
    pub len: usize,
    /// Each agent's return (sum of its rewards over the steps it acted).
    pub returns: Vec<f64>,
    /// Terminal state (true) or time limit (false).
    pub terminated: bool,
    /// Each agent's observation after the last step.
    pub final_obs: Vec<Vec<f32>>,
}

/// Data from `steps` steps of `envs` copies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Number of copies.
    pub envs: usize,
    /// Steps per copy.
    pub steps: usize,
    /// Per agent.
    pub agents: Vec<AgentSteps>,
    /// `envs × steps`: the episode ended in a terminal state at this step.
    pub terminated: Vec<bool>,
    /// `envs × steps`: the episode was truncated at this step.
    pub truncated: Vec<bool>,
    /// `envs × steps`: this step is the first of an episode.
    pub episode_start: Vec<bool>,
    /// Episodes that ended, in (env, step) order.
    pub ends: Vec<EpisodeEnd>,
}

impl Rollout {
    /// A demonstration set in the layout of a rollout, so that both are read by the same code:
    /// one copy whose steps are the episodes one after another (the set's own columns), each
    /// episode's first step marked in `episode_start` and its end listed in `ends` (with its
    /// returns and final observations); empty episodes leave no trace. Log-probabilities are
    /// 0: a recording has none.
    pub fn from_demonstrations(demos: &Demonstrations) -> Rollout {
        let cols = demos.columns();
        let total = demos.steps();
        let n = demos.obs_dims().len();
        let mut out = Rollout {
            envs: 1,
            steps: total,
            agents: cols
                .agents
                .iter()
                .map(|a| AgentSteps {
                    obs: a.obs.clone(),
                    actions: a.actions.clone(),
                    logp: vec![0.0; total],
                    rewards: a.rewards.clone(),
                    acted: a.acted.clone(),
                    last_obs: Vec::new(),
                })
                .collect(),
            terminated: vec![false; total],
            truncated: vec![false; total],
            episode_start: vec![false; total],
            ends: Vec::with_capacity(demos.episodes()),
        };
        let final_obs = |e: usize, i: usize| {
            let d = demos.obs_dims()[i];
            cols.agents[i].final_obs[e * d..(e + 1) * d].to_vec()
        };
        let mut last = None;
        for (e, r) in demos.episode_ranges().enumerate() {
            if r.is_empty() {
                continue;
            }
            let end = r.end - 1;
            out.episode_start[r.start] = true;
            out.terminated[end] = cols.terminated[e];
            out.truncated[end] = cols.truncated[e];
            out.ends.push(EpisodeEnd {
                env: 0,
                step: end,
                len: r.len(),
                returns: (0..n).map(|i| demos.episode_return(e, i)).collect(),
                terminated: cols.terminated[e],
                final_obs: (0..n).map(|i| final_obs(e, i)).collect(),
            });
            last = Some(e);
        }
        // The copy's last observation: the last episode's final one (zeros for an empty set).
        for (i, a) in out.agents.iter_mut().enumerate() {
            a.last_obs = match last {
                Some(e) => final_obs(e, i),
                None => vec![0.0; demos.obs_dims()[i]],
            };
        }
        out
    }

    /// The flat step ranges (`env · steps + step`) of the episodes that ended, in `ends`' order;
    /// an episode that began before this rollout is cut to its part in it. For a recording made
    /// by [`from_demonstrations`](Self::from_demonstrations), every episode whole.
    pub fn episode_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.ends.iter().map(|e| {
            let end = e.env * self.steps + e.step + 1;
            end - e.len.min(e.step + 1)..end
        })
    }

    /// Number of steps where agent `i` acted.
    pub fn active_steps(&self, i: usize) -> usize {
        self.agents[i].acted.iter().filter(|a| **a).count()
    }

    /// Mean return per agent over the episodes that ended, if any did.
    pub fn mean_returns(&self) -> Option<Vec<f64>> {
        let first = self.ends.first()?;
        let mut m = vec![0.0; first.returns.len()];
        for e in &self.ends {
            for (a, r) in m.iter_mut().zip(&e.returns) {
                *a += r;
            }
        }
        Some(m.iter().map(|x| x / self.ends.len() as f64).collect())
    }

    fn append(&mut self, other: Rollout) {
        self.envs += other.envs;
        if self.agents.is_empty() {
            self.agents = vec![AgentSteps::default(); other.agents.len()];
        }
        for (a, b) in self.agents.iter_mut().zip(other.agents) {
            a.obs.extend(b.obs);
            a.actions.extend(b.actions);
            a.logp.extend(b.logp);
            a.rewards.extend(b.rewards);
            a.acted.extend(b.acted);
            a.last_obs.extend(b.last_obs);
        }
        self.terminated.extend(other.terminated);
        self.truncated.extend(other.truncated);
        self.episode_start.extend(other.episode_start);
        self.ends.extend(other.ends);
    }
}
