//! One expert run on the true reward, as `cargo xtask expert` runs it: settings checked, the run
//! folder locked, a new run, `--resume` or `--init` from another game's checkpoint, atomic
//! periodic checkpoints and the learning curve (`curve.csv`).

use std::path::{Path, PathBuf};

use magail_async::run::{RunFolder, load_tensors, write_atomic};
use magail_async::{
    ExpertSchedule, ExpertTrainer, IterStats, LearnerConfig, Opponents, Policy, RandomPolicy,
    RolloutConfig, train_expert,
};
use mg_core::MarkovGame;
use serde::{Deserialize, Serialize};
use trpo::TrpoConfig;

use crate::checkpoint::{CheckpointMeta, checkpoint_paths, load_checkpoint, read_sidecar};
use crate::{ExperimentError, Result, save_checkpoint, scripted_policies};
use envs::GameChoice;

/// The side that learns in a competitive game while the other is held fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// The adversaries (predators, keep-away's adversary) learn.
    Adversaries,
    /// The good agents learn.
    Good,
}

/// Who the agents that do not learn are, in competitive games.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixed {
    /// Every agent learns in every iteration.
    SelfPlay,
    /// Of every `every` iterations (≥ 3), one has the scripted policy play the adversaries and
    /// one the good agents; with `random`, every other cycle uses uniform random play instead.
    Alternate {
        /// The cycle length.
        every: usize,
        /// Alternate the scripted policy with random play.
        random: bool,
    },
    /// Only this side learns; the other plays, in turn, its own policy as the run starts, the
    /// scripted policy and random play.
    LearnOnly(Side),
}

/// How the run starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// Fresh networks; a folder that already holds a checkpoint is refused.
    New,
    /// Continue the folder's checkpoint (or start, if the run stopped before its first one).
    Resume,
    /// Fresh run from the networks of the checkpoint in this folder (same shapes), e.g. a
    /// synchronous expert fine-tuned in an AMAGAIL game.
    Init(PathBuf),
}

/// Every setting of an expert run.
#[derive(Clone, Debug)]
pub struct ExpertSpec {
    /// The game.
    pub game: GameChoice,
    /// Total environment steps.
    pub steps: u64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Environment copies per rollout.
    pub envs: usize,
    /// Steps per copy per iteration.
    pub rollout_steps: usize,
    /// Rollout worker threads.
    pub workers: usize,
    /// TRPO's trust-region radius.
    pub max_kl: f64,
    /// Each agent's critic sees every agent's observation.
    pub centralized_value: bool,
    /// Episodes cut off by the step limit end in a terminal state for the critics
    /// ([`LearnerConfig::truncation_as_terminal`]).
    pub truncation_as_terminal: bool,
    /// Who the agents that do not learn are.
    pub fixed: Fixed,
    /// How the run starts.
    pub start: Start,
    /// Iterations at the start of this run that fit only the critics.
    pub value_warmup: usize,
    /// Checkpoint every this many iterations (≥ 1).
    pub checkpoint_every: usize,
    /// The run folder.
    pub out: PathBuf,
    /// The command line, recorded in the checkpoint's sidecar.
    pub command: String,
}

/// What an expert run reports as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpertEvent {
    /// The run continues the folder's checkpoint.
    Resumed {
        /// Iterations already done.
        iteration: usize,
        /// Environment steps already done.
        env_steps: u64,
    },
    /// The networks were loaded from another checkpoint.
    Initialized {
        /// Its game's full name.
        game_name: String,
        /// Its environment steps.
        env_steps: u64,
    },
    /// One iteration finished.
    Iteration {
        /// Its statistics.
        stats: IterStats,
        /// The mean over agents of the last iteration's mean episode return that had one.
        team_return: Option<f64>,
        /// A checkpoint was written after it (`curve.csv` with it).
        checkpoint: bool,
    },
}

/// One row of the learning curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurveRow {
    /// Iteration.
    pub iteration: usize,
    /// Environment steps so far.
    pub env_steps: u64,
    /// Episodes that ended in the iteration.
    pub episodes: usize,
    /// Mean team return over them.
    pub team_return: f64,
}

/// The file of the learning curve in a run folder.
pub const CURVE_FILE: &str = "curve.csv";

fn curve_csv(rows: &[CurveRow]) -> String {
    let mut s = String::from("iteration,env_steps,episodes,mean_team_return\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{}\n",
            r.iteration, r.env_steps, r.episodes, r.team_return
        ));
    }
    s
}

/// Reads a run folder's learning curve (rows that do not parse are skipped; no file, no rows).
pub fn read_curve(path: &Path) -> Vec<CurveRow> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some(CurveRow {
                iteration: f.first()?.parse().ok()?,
                env_steps: f.get(1)?.parse().ok()?,
                episodes: f.get(2)?.parse().ok()?,
                team_return: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn settings(field: &'static str, reason: String) -> ExperimentError {
    ExperimentError::Settings { field, reason }
}

impl ExpertSpec {
    /// Refuses settings out of range, naming the value and what is accepted.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("steps", self.steps as usize),
            ("envs", self.envs),
            ("rollout_steps", self.rollout_steps),
            ("workers", self.workers),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            crate::error::at_least_one(field, v)?;
        }
        crate::error::positive_number("max_kl", self.max_kl)?;
        if let Fixed::Alternate { every, .. } = self.fixed
            && every < 3
        {
            return Err(settings(
                "scripted_every",
                format!("is {every}; it must be 0 (off) or at least 3"),
            ));
        }
        Ok(())
    }
}

/// Trains (or continues) the expert run `spec` describes, calling `on` as it goes; returns the
/// last team return. The folder is locked for the run: a second process on it is refused.
pub fn run_expert(spec: &ExpertSpec, mut on: impl FnMut(&ExpertEvent)) -> Result<Option<f64>> {
    spec.validate()?;
    let (game, player) = spec.game.build()?;
    let trpo = TrpoConfig {
        max_kl: spec.max_kl,
        ..TrpoConfig::default()
    };
    let learner = LearnerConfig::sharing_identical(game.spec(), trpo, spec.seed)
        .with_centralized_value(spec.centralized_value)
        .with_truncation_as_terminal(spec.truncation_as_terminal);
    let rollout = RolloutConfig {
        envs: spec.envs,
        workers: spec.workers,
        seed: spec.seed,
        history_k: 0,
    };
    // AMAGAIL games share their Markov game's name: say which extensive game it is.
    let game_name = match spec.game.amagail() {
        Some(g) => format!("{} ({})", g.name(), game.spec().name),
        None => game.spec().name.clone(),
    };
    let random = || {
        RandomPolicy::for_game(game.spec())
            .into_iter()
            .map(|p| Box::new(p) as Box<dyn Policy>)
            .collect::<Vec<_>>()
    };
    let opponents = match spec.fixed {
        Fixed::LearnOnly(side) => Opponents::LearnOnly {
            adversaries: side == Side::Adversaries,
            scripted: scripted_policies(&game),
            random: random(),
        },
        Fixed::SelfPlay => Opponents::SelfPlay,
        Fixed::Alternate { every, random: r } => Opponents::Alternate {
            every,
            scripted: scripted_policies(&game),
            random: r.then(random),
        },
    };
    let schedule = ExpertSchedule {
        steps: spec.steps,
        checkpoint_every: spec.checkpoint_every,
        value_warmup: spec.value_warmup,
        adversary: (0..game.spec().n_agents())
            .map(|i| game.is_adversary(i))
            .collect(),
        opponents,
    };
    schedule.validate(game.spec().n_agents())?;
    let mut trainer = ExpertTrainer::new(
        game,
        player,
        rollout.clone(),
        learner.clone(),
        spec.rollout_steps,
    )?;
    let out = &spec.out;
    let _lock = RunFolder::open(out)?;
    let (_, sidecar) = checkpoint_paths(out);
    let curve_path = out.join(CURVE_FILE);
    let mut curve = Vec::new();
    match &spec.start {
        Start::Resume if sidecar.exists() => {
            let (meta, st) = read_sidecar(out)?;
            if meta.game != spec.game {
                return Err(ExperimentError::GameMismatch {
                    checkpoint: out.display().to_string(),
                    reason: format!(
                        "holds a checkpoint for {:?}, not {:?}",
                        meta.game, spec.game
                    ),
                });
            }
            // The critics' targets must mean the same thing before and after a resume.
            if meta.learner.truncation_as_terminal != learner.truncation_as_terminal {
                return Err(ExperimentError::Checkpoint {
                    path: out.clone(),
                    reason: format!(
                        "was trained with truncation as terminal {}, this run asks for {} \
                         (pass --truncation-as-terminal only where the run began with it)",
                        meta.learner.truncation_as_terminal, learner.truncation_as_terminal
                    ),
                });
            }
            trainer.resume(&load_tensors(&st)?)?;
            // The parameters carry their own iteration; the curve may run ahead of them.
            curve = read_curve(&curve_path);
            curve.retain(|r| r.iteration <= trainer.iteration());
            on(&ExpertEvent::Resumed {
                iteration: trainer.iteration(),
                env_steps: trainer.env_steps(),
            });
        }
        // A run stopped before its first checkpoint starts again.
        Start::Resume => {}
        _ if sidecar.exists() => {
            return Err(ExperimentError::Checkpoint {
                path: out.clone(),
                reason: "already holds a checkpoint: pass --resume to continue it, or choose \
                         another --out"
                    .into(),
            });
        }
        Start::New => {}
        Start::Init(init) => {
            let (meta, loaded) = load_checkpoint(init)?;
            let (a, b) = (&meta.learner, &learner);
            if a.groups != b.groups
                || a.centralized_value != b.centralized_value
                || a.activation != b.activation
            {
                let hint = if a.centralized_value && !b.centralized_value {
                    " (pass --centralized-value to match)"
                } else {
                    ""
                };
                return Err(ExperimentError::Checkpoint {
                    path: init.clone(),
                    reason: format!(
                        "shares parameters as {:?} with centralized value {} and {:?} units; this \
                         run as {:?} with {} and {:?}{hint}",
                        a.groups,
                        a.centralized_value,
                        a.activation,
                        b.groups,
                        b.centralized_value,
                        b.activation
                    ),
                });
            }
            let tensors = loaded.tensors().map_err(|e| ExperimentError::Checkpoint {
                path: init.clone(),
                reason: e.to_string(),
            })?;
            trainer
                .learners_mut()
                .load_tensors(&tensors, false)
                .map_err(|e| ExperimentError::Checkpoint {
                    path: init.clone(),
                    reason: format!(
                        "the networks of {} do not fit {game_name}: {e}",
                        meta.game_name
                    ),
                })?;
            on(&ExpertEvent::Initialized {
                game_name: meta.game_name,
                env_steps: meta.env_steps,
            });
        }
    }
    let mut last = curve.last().map(|r: &CurveRow| r.team_return);
    let save = |trainer: &ExpertTrainer<_, _>, curve: &[CurveRow], score| -> Result<()> {
        let meta = CheckpointMeta {
            format: 1,
            game: spec.game.clone(),
            game_name: game_name.clone(),
            learner: learner.clone(),
            rollout: rollout.clone(),
            steps_per_iter: spec.rollout_steps,
            iteration: trainer.iteration(),
            env_steps: trainer.env_steps(),
            score,
            command: spec.command.clone(),
            phi: mg_core::PhiMode::Filter,
        };
        // The curve first: a resumed run keeps its rows up to the checkpoint's iteration, so
        // rows written ahead of a checkpoint that a kill prevented are dropped.
        write_atomic(&curve_path, |w| {
            std::io::Write::write_all(w, curve_csv(curve).as_bytes())
        })?;
        save_checkpoint(out, &trainer.checkpoint()?, &meta)
    };
    train_expert(
        &mut trainer,
        &schedule,
        |trainer, s, checkpoint| -> Result<()> {
            if !s.mean_return.is_empty() {
                let team = s.mean_return.iter().sum::<f64>() / s.mean_return.len() as f64;
                last = Some(team);
                curve.push(CurveRow {
                    iteration: s.iteration,
                    env_steps: s.env_steps,
                    episodes: s.episodes,
                    team_return: team,
                });
            }
            if checkpoint {
                save(trainer, &curve, last)?;
            }
            on(&ExpertEvent::Iteration {
                stats: s.clone(),
                team_return: last,
                checkpoint,
            });
            Ok(())
        },
    )?;
    save(&trainer, &curve, last)?;
    Ok(last)
}
