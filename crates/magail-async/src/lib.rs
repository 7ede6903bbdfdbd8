//! Participation-aware rollouts and MAGAIL / AMAGAIL training on any mg-core game.
//!
//! A [`Collector`] runs B copies of an extensive Markov game (any [`mg_core::MarkovGame`] plus any
//! [`mg_core::PlayerFunction`]; a synchronous game is just the synchronous rule). At each step it
//! asks each agent's [`Policy`] only for the copies where that agent acts — one batched call per
//! agent — records φ for the others, and returns per-agent data with participation masks, true
//! rewards, log-probabilities, episode boundaries and returns ([`Rollout`]), or whole episodes
//! ([`mg_core::Trajectories`]). Worker threads each own a shard of copies; every copy has its own
//! random streams, so the data is identical whatever the number of workers.
//!
//! ```
//! use magail_async::{Collector, Policy, RandomPolicy, RolloutConfig};
//! use mg_core::{ActionSpace, AgentSpec, GameError, GameSpec, MarkovGame, Participation,
//!               Stochastic, StepStatus};
//!
//! // A one-step coin game: two agents, reward 1 for choosing action 1.
//! #[derive(Clone)]
//! struct Coin(GameSpec);
//! impl MarkovGame for Coin {
//!     fn spec(&self) -> &GameSpec { &self.0 }
//!     fn reset(&mut self, _: &mut dyn rand::RngCore) {}
//!     fn observe(&self, _: usize, out: &mut [f32]) { out[0] = 1.0 }
//!     fn step(&mut self, a: &[f32], r: &mut [f64]) -> Result<StepStatus, GameError> {
//!         self.step_partial(a, Participation::all(2), r)
//!     }
//!     fn step_partial(&mut self, a: &[f32], p: Participation, r: &mut [f64])
//!         -> Result<StepStatus, GameError> {
//!         for i in 0..2 { r[i] = if p.is_active(i) { f64::from(a[i]) } else { 0.0 } }
//!         Ok(StepStatus { terminated: true, truncated: false })
//!     }
//! }
//! let agent = AgentSpec { name: "a".into(), obs_dim: 1, action_space: ActionSpace::Discrete { n: 2 }, action_mask: false };
//! let game = Coin(GameSpec { name: "coin".into(), agents: vec![agent.clone(), agent], max_steps: Some(1) });
//! let player = Stochastic::new(vec![1.0, 0.5]).unwrap(); // agent 1 acts half the time
//! let mut c = Collector::new(game, player, RolloutConfig { envs: 64, ..Default::default() }).unwrap();
//! let random = RandomPolicy::new(ActionSpace::Discrete { n: 2 });
//! let r = c.collect(&[&random as &dyn Policy, &random], 10).unwrap();
//! assert_eq!(r.active_steps(0), 640);                  // agent 0 always acts
//! assert!((250..390).contains(&r.active_steps(1)));    // agent 1 about half the time
//! assert_eq!(r.ends.len(), 640);                       // one-step episodes
//! ```
//!
//! Design decision: this crate depends on mg-core's traits only, never on `envs`, so users train
//! on their own games; rollouts shard copies over threads for the whole collection instead of
//! synchronising every step, which keeps two cores busy even with small batches.

#![forbid(unsafe_code)]

mod candle_policy;
mod checkpoint;
mod expert;
mod learner;
mod magail;
mod policy;
mod rollout;
pub mod run;

pub use candle_policy::{CandlePolicy, head_for};
pub use checkpoint::STATE_KEY;
pub use expert::{ExpertSchedule, ExpertTrainer, IterStats, Opponents, TrainError, train_expert};
pub use learner::{
    ComputeDevice, Group, LearnError, LearnerConfig, LearnerState, Learners, UpdateStats,
};
pub use magail::{
    ClonedPolicies, MagailConfig, MagailError, MagailStats, MagailTrainer, default_config,
};
/// How φ is treated (mg-core's, re-exported: the trainer's settings name it).
pub use mg_core::PhiMode;
pub use policy::{FnPolicy, Policy, PolicyError, PolicyOutput, RandomPolicy};
pub use rollout::{
    ACT_STREAMS, AgentSteps, Collector, CollectorState, EpisodeEnd, Rollout, RolloutConfig,
    RolloutError,
};
