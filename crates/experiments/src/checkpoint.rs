//! Checkpoint folders of the particle games: the sidecar that names the game and the learners,
//! and the safetensors file of their parameters (written by `cargo xtask expert`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use envs::{GameChoice, ParticleEnv, Variant};
use magail_async::run;
use magail_async::{Collector, LearnerConfig, Learners, RolloutConfig};
use mg_core::{MarkovGame, PhiMode};
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// Everything needed to rebuild a checkpoint's learners, beside the safetensors file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Sidecar format version.
    pub format: u32,
    /// The game.
    pub game: GameChoice,
    /// The game's full name (`simple_spread/paper`).
    pub game_name: String,
    /// Learner configuration (networks, sharing, TRPO).
    pub learner: LearnerConfig,
    /// Rollout configuration.
    pub rollout: RolloutConfig,
    /// Steps per copy per iteration.
    pub steps_per_iter: usize,
    /// Iterations done.
    pub iteration: usize,
    /// Environment steps done.
    pub env_steps: u64,
    /// Mean team return of the last iteration (training-time score).
    pub score: Option<f64>,
    /// The command that produced it.
    pub command: String,
}

/// `DIR/expert.safetensors` and `DIR/expert.json`.
pub fn checkpoint_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("expert.safetensors"), dir.join("expert.json"))
}

/// Saves a checkpoint's tensors and their sidecar atomically (tensors first, so the sidecar
/// never points at a file that is not there yet).
pub fn save_checkpoint(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    meta: &CheckpointMeta,
) -> Result<()> {
    let (st, js) = checkpoint_paths(dir);
    Ok(run::save_checkpoint_files(&st, tensors, &js, meta)?)
}

fn bad(path: &Path, reason: String) -> ExperimentError {
    ExperimentError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads a checkpoint folder's (or its `.json` / `.safetensors` file's) sidecar; returns it and
/// the path of its parameters.
pub fn read_sidecar(path: &Path) -> Result<(CheckpointMeta, PathBuf)> {
    // A path that is not there must not fall back to its parent folder's checkpoint.
    if !path.exists() {
        return Err(bad(
            path,
            "does not exist: expected a checkpoint folder (made by `cargo xtask expert`) or its \
             .json / .safetensors file"
                .into(),
        ));
    }
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let (st, js) = checkpoint_paths(&dir);
    if !js.is_file() {
        return Err(bad(
            path,
            format!(
                "no checkpoint here: expected {} (made by `cargo xtask expert`)",
                js.display()
            ),
        ));
    }
    let text = std::fs::read_to_string(&js)
        .map_err(|e| bad(path, format!("cannot read {}: {e}", js.display())))?;
    let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|e| {
        bad(
            path,
            format!("{} is not a valid checkpoint sidecar: {e}", js.display()),
        )
    })?;
    Ok((meta, st))
}

/// Loads a checkpoint folder (or its `.json` / `.safetensors` file): the sidecar, and learners
/// rebuilt from it with the saved parameters.
pub fn load_checkpoint(path: &Path) -> Result<(CheckpointMeta, Learners)> {
    let (meta, st) = read_sidecar(path)?;
    let (game, player) = meta.game.build()?;
    let probe = Collector::new(
        game,
        player,
        RolloutConfig {
            envs: 1,
            ..meta.rollout.clone()
        },
    )
    .map_err(|e| {
        bad(
            path,
            format!("its rollout settings do not fit its game: {e}"),
        )
    })?;
    let dims: Vec<usize> = (0..probe.spec().n_agents())
        .map(|i| probe.obs_dim(i))
        .collect();
    // Experts learn where they act: φ is never one of their actions.
    let mut learners = Learners::new(probe.spec(), &dims, meta.learner.clone(), PhiMode::Filter)
        .map_err(|e| bad(path, format!("its learners cannot be built: {e}")))?;
    let tensors = run::load_tensors(&st)?;
    learners.load_tensors(&tensors, false).map_err(|e| {
        bad(
            path,
            format!("{} does not fit its sidecar: {e}", st.display()),
        )
    })?;
    Ok((meta, learners))
}

/// The game a checkpoint is played in: its own, or `env` (with `variant`, default `paper`) when
/// given, e.g. a synchronous expert acting in an AMAGAIL game whenever the player function lets
/// it. Refused unless every agent's observation size and action space are the checkpoint's.
pub fn game_for(
    meta: &CheckpointMeta,
    env: Option<&str>,
    variant: Option<Variant>,
) -> Result<GameChoice> {
    let Some(env) = env else {
        return Ok(meta.game.clone());
    };
    let want = GameChoice {
        env: env.to_string(),
        variant: variant.unwrap_or(Variant::Paper),
    };
    let (theirs, _) = meta.game.build()?;
    let (ours, _) = want.build()?;
    let sizes = |g: &ParticleEnv| -> Vec<(usize, mg_core::ActionSpace)> {
        g.spec()
            .agents
            .iter()
            .map(|a| (a.obs_dim, a.action_space))
            .collect()
    };
    if sizes(&theirs) != sizes(&ours) {
        return Err(ExperimentError::GameMismatch {
            checkpoint: meta.game_name.clone(),
            reason: format!(
                "cannot play {}: its agents' (observation size, action space) are {:?}, but the \
                 checkpoint was trained in {} with {:?}",
                want.env,
                sizes(&ours),
                meta.game_name,
                sizes(&theirs)
            ),
        });
    }
    Ok(want)
}
