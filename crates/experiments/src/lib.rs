//! The papers' experiments on the particle games, as a library: what `cargo xtask reproduce`
//! runs, usable without xtask.
//!
//! - [`checkpoint`]: expert checkpoint folders (sidecar and parameters), and which games a
//!   checkpoint can play.
//! - [`expert`]: one expert run on the true reward (new, resumed, or started from another
//!   game's checkpoint), with its checkpoints and learning curve.
//! - [`evaluate`]: playing scripted, random or learned policies on fixed seeds, and the one
//!   normalization every command reports.
//! - [`episodes`]: per-episode returns, stored compactly in results.
//! - [`provenance`]: the commit and matrix kernels that produced a result.
//! - [`cell`]: one table cell ([`CellSpec`]: game, method, demonstrations, seed, demonstrator,
//!   generator) with a stable id from its settings; [`run_cell`] trains or resumes it in its own
//!   folder and writes its result atomically.
//! - [`papers`]: the eight experiments of the two papers ([`Experiment`]): game, shipped
//!   expert, methods and demonstration counts.
//! - [`plan`]: a reproduction's cells ([`Plan`], written to `plan.json`), where each stands
//!   ([`CellState`]), and the local executor ([`run_local`]: N worker threads).
//! - [`rescore`]: a plan's cells scored from run folders trained before, without training.
//! - [`slurm`]: the same cells as a Slurm job array, one cell per task, and a dependent job
//!   that builds the tables.
//! - [`report`]: tables over seeds from finished cells.
//! - [`stats`]: means, bootstrap intervals and paired differences over seeds.
//! - [`claims`]: the papers' claims and their verdicts on the finished cells.
//!
//! ```
//! use experiments::{Demonstrator, Plan, PlanOptions, Preset};
//!
//! let quick = Plan::new(&PlanOptions::new(Preset::Quick, Demonstrator::Scripted));
//! assert_eq!(quick.cells.len(), 16);
//! // Ids are stable and differ whenever a setting does.
//! let a = quick.cells[0].clone();
//! let mut b = a.clone();
//! b.seed = 1;
//! assert_eq!(a.id(), quick.cells[0].id());
//! assert_ne!(a.id(), b.id());
//! assert!(a.id().starts_with("navigation-bc-100-s0-"));
//! ```

pub mod cell;
pub mod checkpoint;
pub mod claims;
pub mod episodes;
pub mod error;
pub mod evaluate;
pub mod expert;
pub mod overrides;
pub mod papers;
pub mod plan;
pub mod provenance;
pub mod report;
pub mod rescore;
pub mod slurm;
pub mod stats;

pub use cell::{
    CellResult, CellSpec, CloningKey, Demonstrator, Generator, MatchScore, MatchSeries, PROTOCOL,
    PROTOCOL_EPISODES, RESULT_FILE, Scores, Sets, rescore_cell, run_cell,
};
pub use checkpoint::{
    CheckpointMeta, checkpoint_paths, game_for, load_checkpoint, read_sidecar, save_checkpoint,
};
pub use error::{ExperimentError, Result};
pub use evaluate::{
    Scored, Sides, TEST_SEED, VALIDATION_SEED, Who, adversaries_of, evaluate, evaluate_on,
    match_episodes, match_return, play, record_demos, score_on, scripted_policies, team_returns,
};
pub use expert::{ExpertEvent, ExpertSpec, Fixed, Side, Start, run_expert};
pub use overrides::Overrides;
pub use papers::{Experiment, Paper};
pub use plan::{
    CellState, FAILED_FILE, Observer, PLAN_FILE, Plan, PlanOptions, Preset, Quiet, cell_dir,
    cell_state, run_local, run_recorded, schedule, seconds_left_together,
};
pub use rescore::{Rescored, rescore};
pub use slurm::{SlurmOptions, Submission};
