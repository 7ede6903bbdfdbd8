//! The error type of every game-level operation.

use thiserror::Error;

/// What went wrong when building or stepping a game.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GameError {
    /// A probability outside [0, 1] or NaN.
    #[error(
        "player function: probability for agent {agent} is {value}, expected a number in [0, 1]"
    )]
    InvalidProbability {
        /// The agent.
        agent: usize,
        /// The offending value.
        value: f64,
    },
    /// A schedule with no steps.
    #[error("player function: the schedule is empty (no steps or rounds), expected at least one")]
    EmptySchedule,
    /// An agent index that does not exist.
    #[error("agent index {agent} is out of range, the game has {n} agents")]
    AgentOutOfRange {
        /// The index given.
        agent: usize,
        /// Number of agents.
        n: usize,
    },
    /// Zero agents or more than the participation bitset can hold.
    #[error("{n} agents is not supported, expected 1 to {max}")]
    TooManyAgents {
        /// Number requested.
        n: usize,
        /// The limit.
        max: usize,
    },
    /// Two parts of a game disagree on the number of agents.
    #[error("agent count mismatch: {what} has {got} agents, the game has {expected}")]
    AgentCountMismatch {
        /// Which part disagrees.
        what: &'static str,
        /// The game's count.
        expected: usize,
        /// The other count.
        got: usize,
    },
    /// A flat joint action of the wrong length.
    #[error("joint action has {got} values, expected {expected}")]
    JointActionLength {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// One agent's action of the wrong length.
    #[error("action of agent {agent} has {got} values, expected {expected}")]
    ActionLength {
        /// The agent.
        agent: usize,
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// An action outside the agent's action space.
    #[error("action of agent {agent} is invalid: {reason}")]
    InvalidAction {
        /// The agent.
        agent: usize,
        /// What is wrong.
        reason: String,
    },
    /// A caller-provided buffer of the wrong size.
    #[error("buffer `{what}` has {got} elements, expected {expected}")]
    BufferSize {
        /// Which buffer.
        what: &'static str,
        /// Expected size.
        expected: usize,
        /// Given size.
        got: usize,
    },
    /// Stepping a game whose episode has ended, without a reset.
    #[error("the episode has ended: call reset before stepping again")]
    EpisodeOver,
    /// The game cannot apply φ for inactive agents.
    #[error("game `{game}` does not support inactive agents (the placeholder action φ)")]
    PhiUnsupported {
        /// The game's name.
        game: String,
    },
    /// A saved state that cannot be taken, or a game that cannot save one.
    #[error("saved state: {0}")]
    State(String),
    /// A game-specific failure.
    #[error("{0}")]
    Other(String),
}
