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
    /// How the policies treat φ: always filtered for experts (and left out of their sidecars);
    /// an imitator trained with φ as an action has one category more.
    #[serde(default, skip_serializing_if = "is_filter")]
    pub phi: PhiMode,
}

fn is_filter(phi: &PhiMode) -> bool {
    *phi == PhiMode::Filter
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
    let record = dir.join("imitator.json");
    if !js.is_file() && record.is_file() {
        return imitator_sidecar(path, &record).map(|m| (m, dir.join("imitator.safetensors")));
    }
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

/// An imitation's run folder (`magail imitate`, a cell's `run/`, Python's `train`) read as a
/// checkpoint: its record (`imitator.json`) names the game and holds the learners'
/// configuration, φ's treatment included.
fn imitator_sidecar(path: &Path, record: &Path) -> Result<CheckpointMeta> {
    let text = std::fs::read_to_string(record)
        .map_err(|e| bad(path, format!("cannot read {}: {e}", record.display())))?;
    let r: run::RunRecord<GameChoice> = serde_json::from_str(&text).map_err(|e| {
        bad(
            path,
            format!(
                "{} is not the record of an imitation run: {e}",
                record.display()
            ),
        )
    })?;
    let (game, _) = r.game.build()?;
    let cfg = r.config;
    Ok(CheckpointMeta {
        format: 1,
        game_name: game.spec().name.clone(),
        game: r.game,
        env_steps: (r.iteration * cfg.rollout.envs * cfg.steps_per_iter) as u64,
        learner: cfg.learner,
        rollout: cfg.rollout,
        steps_per_iter: cfg.steps_per_iter,
        iteration: r.iteration,
        score: None,
        command: format!("{} run", r.method.label()),
        phi: cfg.phi,
    })
}

/// Loads a checkpoint folder (or its `.json` / `.safetensors` file), or an imitation's run
/// folder: the sidecar, and learners rebuilt from it with the saved parameters.
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
    let mut learners = Learners::new(probe.spec(), &dims, meta.learner.clone(), meta.phi)
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
