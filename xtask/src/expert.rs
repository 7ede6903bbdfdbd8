//! `cargo xtask expert`: trains experts on the true reward with TRPO per agent (identical agents
//! share parameters), with a live progress bar, atomic periodic checkpoints, `--resume`, and a
//! learning curve (CSV, PNG, SVG).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use magail_async::{
    ExpertSchedule, ExpertTrainer, LearnerConfig, Opponents, RolloutConfig, train_expert,
};
use mg_core::MarkovGame;
use trpo::TrpoConfig;

use crate::common::{
    CheckpointMeta, GameChoice, Series, checkpoint_paths, line_plot, load_checkpoint, read_sidecar,
    save_checkpoint, scripted_policies, write_atomic,
};

#[derive(Args, Debug, Clone)]
pub struct ExpertArgs {
    /// Scenario (simple_spread, cooperative_communication, …) or AMAGAIL game (stoch_navigation, …).
    #[arg(long)]
    pub env: String,
    /// Preset: paper (MAGAIL's variants) or mpe2.
    #[arg(long, default_value = "paper")]
    pub variant: String,
    /// Total environment steps to train for.
    #[arg(long, default_value_t = 2_000_000)]
    pub steps: u64,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Environment copies per rollout.
    #[arg(long, default_value_t = 16)]
    pub envs: usize,
    /// Steps per copy per iteration.
    #[arg(long, default_value_t = 128)]
    pub rollout_steps: usize,
    /// Rollout worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Trust-region radius.
    #[arg(long, default_value_t = 0.01)]
    pub max_kl: f64,
    /// Centralized value function: each agent's critic sees every agent's observation
    /// (policies still see their own).
    #[arg(long)]
    pub centralized_value: bool,
    /// Competitive games: of every K iterations, one has the scripted policy play the adversaries
    /// (only the good agents learn) and one has it play the good agents (only the adversaries
    /// learn); the others are self-play. 0: self-play only. K ≥ 3.
    #[arg(long, default_value_t = 0)]
    pub scripted_every: usize,
    /// With `--scripted-every`: every other cycle, the fixed side plays uniformly random actions
    /// instead of the scripted policy, so each side also learns to exploit a non-evasive,
    /// non-chasing opponent (the cross-play table compares against both).
    #[arg(long)]
    pub random_opponents: bool,
    /// Competitive games: only this side learns (adversaries or good); the other side plays, in
    /// turn, its own policy as the run starts (frozen), the scripted policy and random play.
    /// For fine-tuning one side of a checkpoint with `--resume`.
    #[arg(long, value_parser = ["adversaries", "good"])]
    pub learn_only: Option<String>,
    /// Output folder (default target/experts/<game>-s<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the checkpoint in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Start a new run from the weights (policies and values) of the checkpoint in this folder,
    /// e.g. a synchronous expert fine-tuned in an AMAGAIL game with the same observations. The
    /// networks must have the same shapes; the step count starts at zero.
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Iterations at the start of this run that fit only the value networks (the policies do
    /// not move), e.g. after `--init` from another game whose returns have another scale.
    #[arg(long, default_value_t = 0)]
    pub value_warmup: usize,
    /// Checkpoint every this many iterations.
    #[arg(long, default_value_t = 25)]
    pub checkpoint_every: usize,
    /// No progress bar (logs a line per checkpoint instead).
    #[arg(long)]
    pub quiet: bool,
}

fn curve_csv(rows: &[(usize, u64, usize, f64)]) -> String {
    let mut s = String::from("iteration,env_steps,episodes,mean_team_return\n");
    for (i, st, e, r) in rows {
        s.push_str(&format!("{i},{st},{e},{r}\n"));
    }
    s
}

fn read_curve(path: &std::path::Path) -> Vec<(usize, u64, usize, f64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((
                f.first()?.parse().ok()?,
                f.get(1)?.parse().ok()?,
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
            ))
        })
        .collect()
}

/// Trains and returns the output folder.
pub fn run_expert(a: &ExpertArgs) -> Result<PathBuf> {
    let choice = GameChoice {
        env: a.env.clone(),
        variant: a.variant.clone(),
    };
    let (game, player) = choice.build()?;
    let out = a.out.clone().unwrap_or_else(|| {
        crate::project_root().join(format!(
            "target/experts/{}-s{}",
            choice.slug().unwrap_or_default(),
            a.seed
        ))
    });
    let trpo = TrpoConfig {
        max_kl: a.max_kl,
        ..TrpoConfig::default()
    };
    let learner = LearnerConfig::sharing_identical(game.spec(), trpo, a.seed)
        .with_centralized_value(a.centralized_value);
    let rollout = RolloutConfig {
        envs: a.envs,
        workers: a.workers,
        seed: a.seed,
        history_k: 0,
    };
    // AMAGAIL games share their Markov game's name: say which extensive game it is.
    let game_name = match choice.amagail() {
        Some(g) => format!("{} ({})", g.name(), game.spec().name),
        None => game.spec().name.clone(),
    };
    if a.scripted_every != 0 && a.scripted_every < 3 {
        bail!(
            "--scripted-every must be 0 (off) or at least 3, got {}",
            a.scripted_every
        );
    }
    if a.learn_only.is_some() && a.scripted_every != 0 {
        bail!(
            "--learn-only and --scripted-every are exclusive (one fixes a side, the other alternates)"
        );
    }
    if a.random_opponents && a.scripted_every == 0 {
        bail!(
            "--random-opponents needs --scripted-every K (it alternates the fixed side's policy)"
        );
    }
    let random = || {
        magail_async::RandomPolicy::for_game(game.spec())
            .into_iter()
            .map(|p| Box::new(p) as Box<dyn magail_async::Policy>)
            .collect::<Vec<_>>()
    };
    let opponents = match (&a.learn_only, a.scripted_every) {
        (Some(side), _) => Opponents::LearnOnly {
            adversaries: side == "adversaries",
            scripted: scripted_policies(&game),
            random: random(),
        },
        (None, 0) => Opponents::SelfPlay,
        (None, every) => Opponents::Alternate {
            every,
            scripted: scripted_policies(&game),
            random: a.random_opponents.then(random),
        },
    };
    let schedule = ExpertSchedule {
        steps: a.steps,
        checkpoint_every: a.checkpoint_every.max(1),
        value_warmup: a.value_warmup,
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
        a.rollout_steps,
    )?;
    // One process per folder: a second run on it is refused while this one holds the lock.
    let _lock = magail_async::run::RunFolder::open(&out)?;
    let (_, sidecar) = checkpoint_paths(&out);
    let curve_path = out.join("curve.csv");
    let mut curve = Vec::new();
    // `--resume` on a folder with no checkpoint yet (a run stopped before its first one)
    // starts the run.
    if a.resume && sidecar.exists() {
        let (meta, st) = read_sidecar(&out)
            .with_context(|| format!("--resume: no usable checkpoint in {}", out.display()))?;
        if meta.game != choice {
            bail!(
                "--resume: {} holds a checkpoint for {:?}, not {:?}",
                out.display(),
                meta.game,
                choice
            );
        }
        trainer
            .resume(&magail_async::run::load_tensors(&st)?)
            .with_context(|| format!("--resume: {} cannot be continued", st.display()))?;
        // The parameters carry their own iteration; the sidecar, renamed after them, may be
        // one checkpoint behind.
        curve = read_curve(&curve_path);
        curve.retain(|r| r.0 <= trainer.iteration());
        eprintln!(
            "resuming {} at iteration {} ({} steps)",
            out.display(),
            trainer.iteration(),
            trainer.env_steps()
        );
    } else if sidecar.exists() {
        bail!(
            "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
            out.display()
        );
    } else if let Some(init) = &a.init {
        let (meta, loaded) = load_checkpoint(init)
            .with_context(|| format!("--init: no usable checkpoint in {}", init.display()))?;
        if meta.learner.groups != learner.groups
            || meta.learner.centralized_value != learner.centralized_value
            || meta.learner.activation != learner.activation
        {
            let hint = if meta.learner.centralized_value && !learner.centralized_value {
                " (pass --centralized-value to match)"
            } else {
                ""
            };
            bail!(
                "--init: {} shares parameters as {:?} with centralized value {} and {:?} units; \
                 this run as {:?} with {} and {:?}{hint}",
                init.display(),
                meta.learner.groups,
                meta.learner.centralized_value,
                meta.learner.activation,
                learner.groups,
                learner.centralized_value,
                learner.activation
            );
        }
        trainer
            .learners_mut()
            .load_tensors(&loaded.tensors()?, false)
            .with_context(|| {
                format!(
                    "--init: the networks in {} ({}) do not fit {}",
                    init.display(),
                    meta.game_name,
                    game_name
                )
            })?;
        eprintln!(
            "starting from {} ({}, {} steps)",
            init.display(),
            meta.game_name,
            meta.env_steps
        );
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(a.steps)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(trainer.env_steps().min(a.steps));
    let mut last_score = None;
    let save =
        |trainer: &ExpertTrainer<_, _>, curve: &[(usize, u64, usize, f64)], score| -> Result<()> {
            let meta = CheckpointMeta {
                format: 1,
                game: choice.clone(),
                game_name: game_name.clone(),
                learner: learner.clone(),
                rollout: rollout.clone(),
                steps_per_iter: a.rollout_steps,
                iteration: trainer.iteration(),
                env_steps: trainer.env_steps(),
                score,
                command: command.clone(),
            };
            // The curve first: a resumed run keeps its rows up to the checkpoint's iteration,
            // so rows written ahead of a checkpoint that a kill prevented are dropped.
            write_atomic(&curve_path, |w| {
                std::io::Write::write_all(w, curve_csv(curve).as_bytes())?;
                Ok(())
            })?;
            save_checkpoint(&out, &trainer.checkpoint()?, &meta)?;
            if curve.len() >= 2 {
                let pts: Vec<(f64, f64)> = curve.iter().map(|r| (r.1 as f64, r.3)).collect();
                line_plot(
                    &out.join("curve"),
                    &format!("expert training: {game_name}"),
                    "environment steps",
                    "mean team return",
                    &[Series {
                        label: "train".into(),
                        points: pts,
                    }],
                )?;
            }
            Ok(())
        };
    train_expert(
        &mut trainer,
        &schedule,
        |trainer, s, checkpoint| -> Result<()> {
            if !s.mean_return.is_empty() {
                let team = s.mean_return.iter().sum::<f64>() / s.mean_return.len() as f64;
                last_score = Some(team);
                curve.push((s.iteration, s.env_steps, s.episodes, team));
                bar.set_message(format!("return {team:.2}"));
            }
            bar.set_position(s.env_steps.min(a.steps));
            if checkpoint {
                save(trainer, &curve, last_score)?;
                if a.quiet {
                    eprintln!(
                        "iteration {} steps {} return {:?}",
                        s.iteration, s.env_steps, last_score
                    );
                }
            }
            Ok(())
        },
    )?;
    save(&trainer, &curve, last_score)?;
    bar.finish();
    println!(
        "expert saved in {} (return {:?})",
        out.display(),
        last_score
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(env: &str, out: &std::path::Path) -> ExpertArgs {
        ExpertArgs {
            env: env.into(),
            variant: "paper".into(),
            steps: 32,
            seed: 0,
            envs: 2,
            rollout_steps: 8,
            workers: 1,
            max_kl: 0.01,
            centralized_value: true,
            scripted_every: 0,
            random_opponents: false,
            learn_only: None,
            out: Some(out.to_path_buf()),
            resume: false,
            init: Some(crate::project_root().join("assets/experts/simple_spread-paper-s0")),
            value_warmup: 0,
            checkpoint_every: 100,
            quiet: true,
        }
    }

    fn flat(m: &std::collections::HashMap<String, candle_core::Tensor>, k: &str) -> Vec<f32> {
        m[k].flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("f32 tensor")
    }

    /// `--init` starts from another game's expert; during `--value-warmup` iterations the
    /// policies keep the loaded weights exactly while the critics learn. Mismatched sizes or
    /// critic kinds are refused with the reason.
    #[test]
    fn init_loads_another_games_expert_and_warmup_moves_only_the_critic() {
        let dir = std::env::temp_dir().join(format!("magail-expert-init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut a = args("det_navigation", &dir);
        a.value_warmup = 2; // both iterations (2 copies × 8 steps, 32 steps)
        run_expert(&a).expect("fine-tune run");
        let (_, init) = load_checkpoint(a.init.as_deref().expect("init")).expect("init loads");
        let (meta, out) = load_checkpoint(&dir).expect("output loads");
        assert_eq!(meta.iteration, 2);
        let (before, after) = (
            init.tensors().expect("tensors"),
            out.tensors().expect("tensors"),
        );
        let pi: Vec<&String> = before.keys().filter(|k| k.contains(".pi.")).collect();
        let vf: Vec<&String> = before.keys().filter(|k| k.contains(".vf.")).collect();
        assert!(!pi.is_empty() && !vf.is_empty(), "{:?}", before.keys());
        for k in pi {
            assert_eq!(
                flat(&before, k),
                flat(&after, k),
                "{k} moved during warm-up"
            );
        }
        assert!(
            vf.iter().any(|k| flat(&before, k) != flat(&after, k)),
            "no critic weight moved"
        );
        let _ = std::fs::remove_dir_all(&dir);

        let mut b = args("det_navigation", &dir);
        b.centralized_value = false;
        let err = run_expert(&b).expect_err("critic kinds differ").to_string();
        assert!(err.contains("--centralized-value"), "{err}");
        let c = args("det_reaching", &dir);
        let err = format!("{:#}", run_expert(&c).expect_err("12 observations, not 16"));
        assert!(err.contains("do not fit") && err.contains("shape"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
