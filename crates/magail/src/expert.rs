//! `cargo xtask expert`: trains experts on the true reward with TRPO per agent (identical agents
//! share parameters), with a live progress bar, atomic periodic checkpoints, `--resume`, and a
//! learning curve (CSV, PNG, SVG).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use experiments::expert::{CURVE_FILE, read_curve};
use experiments::{ExpertEvent, ExpertSpec, Fixed, Side, Start, run_expert};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{GameChoice, Series, line_plot};

/// The side `--learn-only` trains.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnOnly {
    /// The adversaries learn.
    Adversaries,
    /// The good agents learn.
    Good,
}

/// `expert`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct ExpertArgs {
    /// Scenario (simple_spread, cooperative_communication, …) or AMAGAIL game (stoch_navigation, …).
    #[arg(long)]
    pub env: String,
    /// Preset: paper (MAGAIL's variants) or mpe2.
    #[arg(long, default_value = "paper", value_parser = crate::common::parse_variant)]
    pub variant: envs::Variant,
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
    /// The critics treat an episode cut off by its step limit as ended (no bootstrap from its
    /// final observation), as the official MAGAIL code does. Stochastic predator-prey's
    /// critics diverge without it. A resumed run must keep the setting it began with.
    #[arg(long)]
    pub truncation_as_terminal: bool,
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
    #[arg(long, value_enum)]
    pub learn_only: Option<LearnOnly>,
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

impl ExpertArgs {
    /// The library's settings for this command line.
    pub fn spec(&self, root: &Path) -> Result<ExpertSpec> {
        let game = GameChoice {
            env: self.env.clone(),
            variant: self.variant,
        };
        let fixed = match (self.learn_only, self.scripted_every, self.random_opponents) {
            (Some(_), k, _) if k != 0 => bail!(
                "--learn-only and --scripted-every are exclusive (one fixes a side, the other \
                 alternates)"
            ),
            (_, 0, true) => bail!(
                "--random-opponents needs --scripted-every K (it alternates the fixed side's policy)"
            ),
            (Some(LearnOnly::Adversaries), ..) => Fixed::LearnOnly(Side::Adversaries),
            (Some(LearnOnly::Good), ..) => Fixed::LearnOnly(Side::Good),
            (None, 0, false) => Fixed::SelfPlay,
            (None, every, random) => Fixed::Alternate { every, random },
        };
        let start = match (&self.init, self.resume) {
            (Some(init), _) => Start::Init(init.clone()),
            (None, true) => Start::Resume,
            (None, false) => Start::New,
        };
        let out = self.out.clone().unwrap_or_else(|| {
            root.join(format!(
                "target/experts/{}-s{}",
                game.slug().unwrap_or_default(),
                self.seed
            ))
        });
        Ok(ExpertSpec {
            game,
            steps: self.steps,
            seed: self.seed,
            envs: self.envs,
            rollout_steps: self.rollout_steps,
            workers: self.workers,
            max_kl: self.max_kl,
            centralized_value: self.centralized_value,
            truncation_as_terminal: self.truncation_as_terminal,
            fixed,
            start,
            value_warmup: self.value_warmup,
            checkpoint_every: self.checkpoint_every,
            out,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        })
    }
}

/// Draws the learning curve next to `curve.csv`.
fn plot_curve(out: &std::path::Path, game: &GameChoice) -> Result<()> {
    let curve = read_curve(&out.join(CURVE_FILE));
    if curve.len() < 2 {
        return Ok(());
    }
    line_plot(
        &out.join("curve"),
        &format!("expert training: {} ({})", game.env, game.variant.name()),
        "environment steps",
        "mean team return",
        &[Series {
            label: "train".into(),
            points: curve
                .iter()
                .map(|r| (r.env_steps as f64, r.team_return))
                .collect(),
            band: Vec::new(),
        }],
    )
}

/// Trains and returns the output folder.
pub fn run(a: &ExpertArgs, root: &Path) -> Result<PathBuf> {
    let spec = a.spec(root)?;
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
    let mut plot = Ok(());
    let score = run_expert(&spec, |e| match e {
        ExpertEvent::Resumed {
            iteration,
            env_steps,
        } => {
            bar.set_position((*env_steps).min(a.steps));
            bar.println(format!(
                "resuming {} at iteration {iteration} ({env_steps} steps)",
                spec.out.display()
            ));
        }
        ExpertEvent::Initialized {
            game_name,
            env_steps,
        } => bar.println(format!("starting from {game_name} ({env_steps} steps)")),
        ExpertEvent::Iteration {
            stats,
            team_return,
            checkpoint,
        } => {
            bar.set_position(stats.env_steps.min(a.steps));
            if let Some(r) = team_return {
                bar.set_message(format!("return {r:.2}"));
            }
            if *checkpoint {
                if plot.is_ok() {
                    plot = plot_curve(&spec.out, &spec.game);
                }
                if a.quiet {
                    eprintln!(
                        "iteration {} steps {} return {team_return:?}",
                        stats.iteration, stats.env_steps
                    );
                }
            }
        }
    })?;
    plot?;
    plot_curve(&spec.out, &spec.game)?;
    bar.finish();
    println!("expert saved in {} (return {score:?})", spec.out.display());
    Ok(spec.out)
}
