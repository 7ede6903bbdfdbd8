//! Why training failed ([`MagailError`]).

use gail::GailError;
use mg_core::DemoError;
use thiserror::Error;

use crate::learner::LearnError;
use crate::rollout::RolloutError;

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
