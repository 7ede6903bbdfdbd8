//! One imitation run as a library: the papers' methods as typed presets ([`Method`]), a run
//! folder with a lock, a record of what it holds and atomic checkpoints ([`RunFolder`]), the
//! whole run — behaviour cloning, the adversarial loop, metrics, checkpoints, exact resume —
//! in [`train_imitator`], and the evaluation every command reports ([`Evaluation`]).
//!
//! A run folder holds `imitator.safetensors` (parameters and the training state, one file
//! written at once), `imitator.json` (a [`RunRecord`]: the game, method, configuration and
//! demonstrations it was trained with) and `metrics.jsonl` (one [`MagailStats`](crate::MagailStats) per
//! iteration). A run stopped at any moment (SIGKILL included) and resumed writes the same bytes
//! as one that was never stopped.

mod evaluation;
mod folder;
mod method;
mod train;

pub use evaluation::{EVAL_SEED, Evaluation, normalize, play, return_stats};
pub use folder::{
    Existing, RunFolder, RunRecord, demo_digest, load_tensors, save_checkpoint_files, write_atomic,
};
pub use method::Method;
pub use train::{BcCache, Progress, RunSettings, train_imitator};

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::magail::MagailError;

/// Why a run could not be started, continued or finished.
#[derive(Debug, Error)]
pub enum RunError {
    /// A setting out of its range.
    #[error("setting `{field}`: {reason}")]
    Settings {
        /// The setting.
        field: &'static str,
        /// The value given and what is accepted.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process holds the run folder.
    #[error(
        "{0} is in use by another run (its lock is held): wait for it to finish, or stop it first"
    )]
    Busy(PathBuf),
    /// The folder holds a run that this one may not continue (other settings, demonstrations,
    /// more iterations, or a run not asked to be resumed).
    #[error("{0}")]
    Exists(String),
    /// A file of the run folder that cannot be read as what it should be.
    #[error("{path} is not {what}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        what: &'static str,
        /// Why not.
        reason: String,
    },
    /// Training failed; the last checkpoint is kept.
    #[error("{source}; the last good checkpoint (iteration {kept}) is kept in {dir}")]
    Train {
        /// The cause.
        source: Box<MagailError>,
        /// The iteration of the checkpoint left in the folder.
        kept: usize,
        /// The run folder.
        dir: PathBuf,
    },
    /// Setting the run up failed (demonstrations that do not fit, a bad configuration).
    #[error(transparent)]
    Setup(Box<MagailError>),
}

impl From<MagailError> for RunError {
    fn from(e: MagailError) -> Self {
        RunError::Setup(Box::new(e))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}
