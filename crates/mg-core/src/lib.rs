//! Markov games and extensive Markov games (EMG), the vocabulary every other magail-rs crate speaks.
//!
//! A [`MarkovGame`] has n agents acting on a shared state; it is stepped with a flat joint action
//! and writes into caller-owned buffers. An extensive Markov game lets only some agents act at each
//! step: the participation vector I_t ([`Participation`]) is drawn from a [`PlayerFunction`]
//! Y(i | h_{t-1}) given the history h_{t-1} = [I_0..I_{t-1}] ([`History`]); an agent that does not
//! act plays the placeholder φ ([`AgentAction::Phi`]) and gets no reward. [`ExtensiveGame`] makes
//! one from any Markov game and any player function: [`Synchronous`] (Y = 1), [`Schedule`]
//! (deterministic turns), [`Stochastic`] (independent probabilities) or [`Rounds`] (a cycle of
//! per-agent probabilities). [`VecGame`] steps B copies
//! of any game together ([`BatchedGame`]), and [`Trajectories`] is the data type shared by
//! rollouts, demonstrations and learners.
//!
//! ```
//! use mg_core::{History, Participation, PlayerFunction, Schedule};
//!
//! // AMAGAIL's deterministic cycle: {1,2,3} -> {1,2} -> {1}, repeating.
//! let y = Schedule::amagail_cycle();
//! let mut h = History::new();
//! assert_eq!(y.prob(2, &h), 1.0); // at t = 0 every agent acts
//! h.push(y.at(0));
//! assert_eq!(y.prob(2, &h), 0.0); // at t = 1 the third agent rests
//! let i1 = Participation::from_active(3, &[0, 1]).unwrap();
//! assert_eq!(y.prob_of(i1, &h), 1.0);
//! ```
//!
//! Design decision: this crate holds traits and plain data only (no tensors, no environments), so a
//! user's own game depends on nothing heavier than `rand` and `serde`, and training code written
//! against these traits runs on any game.

#![forbid(unsafe_code)]

mod batch;
mod columns;
mod demo;
mod error;
mod extensive;
mod game;
mod participation;
mod phi;
mod player;
mod rng;
mod space;
mod state;
mod traj;

pub use batch::{BatchBuffers, BatchedGame, VecGame};
pub use columns::{AgentColumns, DemoColumns, Demonstrations};
pub use demo::{
    DEMO_MAGIC, DEMO_VERSION, DemoError, DemoHeader, DemoShape, check_demos_for, decode_demos,
    encode_demos,
};
pub use error::GameError;
pub use extensive::{AgentAction, EmgStep, ExtensiveGame};
pub use game::{JointStep, MarkovGame, StepStatus};
pub use participation::{History, MAX_AGENTS, Participation};
pub use phi::PhiMode;
pub use player::{
    GameTurns, PlayerFunction, PlayerRule, Rounds, Schedule, Stochastic, Synchronous,
};
pub use rng::{StreamRng, stream_rng};
pub use space::{ActionSpace, AgentId, AgentSpec, GameSpec};
pub use state::{RngState, decode_state, encode_state};
pub use traj::{AgentTrajectory, Episode, Trajectories, TrajectoryError};
