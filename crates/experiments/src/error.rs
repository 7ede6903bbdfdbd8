//! The crate's one error type: each variant is a heading a user can act on.

use std::path::PathBuf;

use magail_async::run::RunError;
use thiserror::Error;

/// What went wrong, under the heading a user acts on.
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// A game name, variant or game parameter that is not known.
    #[error(transparent)]
    Game(#[from] envs::ConfigError),
    /// A run folder, its settings, or training failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Training an expert failed.
    #[error(transparent)]
    Train(#[from] magail_async::TrainError),
    /// A checkpoint of one game used where another game is asked for.
    #[error("the checkpoint of {checkpoint}: {reason}")]
    GameMismatch {
        /// The checkpoint: its folder, or its game's name when the folder is not known.
        checkpoint: String,
        /// Which game it holds, and which was asked for.
        reason: String,
    },
    /// A checkpoint that is missing, unreadable, or does not fit where it is used.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The folder or file given.
        path: PathBuf,
        /// What is wrong, and what was expected.
        reason: String,
    },
    /// A setting of a cell or an executor out of its range.
    #[error("invalid settings: `{field}` {reason}")]
    Settings {
        /// The setting.
        field: &'static str,
        /// The value given and what is accepted.
        reason: String,
    },
    /// A plan or result file that is missing or not what it should be.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A trainer that cannot be built from the cell's settings and demonstrations.
    #[error("{0}")]
    Setup(String),
    /// The cell's normalized score is undefined (the reference scores no better than random).
    #[error("{0}")]
    Score(String),
    /// A cell asked to be scored without training whose run folder holds no finished training.
    #[error("cannot score {dir} without training: {reason}")]
    NotTrained {
        /// The run folder.
        dir: PathBuf,
        /// What it holds instead.
        reason: String,
    },
    /// Slurm refused or could not be reached.
    #[error("slurm: {0}")]
    Slurm(String),
    /// Cells that failed; the finished ones are kept.
    #[error("{} cells failed (finished cells are kept; run the same command again to retry):\n{}", .0.len(), .0.join("\n"))]
    Cells(Vec<String>),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, ExperimentError>;

/// Refuses a count of 0, naming the setting.
pub(crate) fn at_least_one(field: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(ExperimentError::Settings {
            field,
            reason: "is 0: expected at least 1".into(),
        });
    }
    Ok(())
}

/// Refuses a value that is not a finite number above 0, naming the setting and the value.
pub(crate) fn positive_number(field: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        return Err(ExperimentError::Settings {
            field,
            reason: format!("is {value}: expected a finite number above 0"),
        });
    }
    Ok(())
}
