//! `cargo xtask reproduce`'s arguments: the preset, what to do with the plan, the executor and
//! its Slurm settings, and the settings given in place of the preset's.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use experiments::{Demonstrator, Experiment, PlanOptions, Preset};

/// `reproduce`'s arguments.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The quick experiment: the paper-shape generator, 1000 adversarial iterations of 2,050
    /// steps per cell, max KL 0.002, ten discriminator steps, the critic in 3 × 4 steps (15–21
    /// minutes on 2 cores).
    #[arg(long, conflicts_with_all = ["full", "smoke"])]
    pub quick: bool,
    /// The full experiment: the same cells with 2000 iterations, the library's five
    /// discriminator steps and critic in 10 × 16; results in `target/reproduce-full/`.
    #[arg(long, conflicts_with = "smoke")]
    pub full: bool,
    /// Four cells of a few iterations (well under two minutes): a first try of the machinery,
    /// on a laptop or a cluster. Its numbers mean nothing.
    #[arg(long)]
    pub smoke: bool,
    /// Every experiment of a paper (`magail`, `amagail` or `all`), each with its own game,
    /// shipped expert, methods and demonstration counts, trained with the quick generator (or
    /// `--full`'s, `--smoke`'s); five seeds unless `--seeds` says otherwise. Results go to
    /// `results/papers/` (committed: every cell's result.json), `results/papers-full/` or
    /// `target/reproduce-papers-smoke/`.
    #[arg(long, value_enum)]
    pub paper: Option<PaperArg>,
    /// With `--paper`: only this experiment (repeatable); `--list` names them.
    #[arg(long, requires = "paper", value_parser = parse_experiment)]
    pub only: Vec<Experiment>,
    /// Name every experiment of both papers (game, methods, demonstrations, demonstrator) and
    /// stop.
    #[arg(long)]
    pub list: bool,
    /// List the cells with their state (done, running, failed, to do) and estimated cost, and
    /// stop.
    #[arg(long)]
    pub plan: bool,
    /// Run (or resume) the one cell of this id from the plan in `--out` (what a Slurm array task
    /// runs).
    #[arg(long, conflicts_with_all = ["quick", "full", "smoke", "report", "plan"])]
    pub cell: Option<String>,
    /// Build the tables and plots from the finished cells of the plan in `--out`.
    #[arg(long, conflicts_with_all = ["quick", "full", "smoke", "plan"])]
    pub report: bool,
    /// Score the plan's unfinished cells from run folders of the same training (their own, or
    /// cells of an earlier evaluation protocol in `--out` or in `--from` folders, moved in),
    /// without training; name the cells whose run folder is gone, to be re-run.
    #[arg(long, conflicts_with_all = ["cell", "report", "plan"])]
    pub rescore: bool,
    /// With `--rescore`: another reproduction folder to take finished run folders from
    /// (repeatable).
    #[arg(long, requires = "rescore")]
    pub from: Vec<PathBuf>,
    /// Where the cells run.
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Local workers (default: the machine's cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The Slurm executor's settings.
    #[command(flatten)]
    pub slurm: SlurmArgs,
    /// Settings given in place of the preset's.
    #[command(flatten)]
    pub settings: CellArgs,
    /// Output folder (default target/reproduce, target/reproduce-full or target/reproduce-smoke).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Which paper's experiments `--paper` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PaperArg {
    /// MAGAIL (NeurIPS 2018): navigation, communication, keep-away, predator-prey.
    Magail,
    /// AMAGAIL (ICLR 2020 submission): its four extensive games.
    Amagail,
    /// Both.
    All,
}

impl PaperArg {
    /// The paper, `None` for both.
    pub fn paper(self) -> Option<experiments::Paper> {
        match self {
            PaperArg::Magail => Some(experiments::Paper::Magail),
            PaperArg::Amagail => Some(experiments::Paper::Amagail),
            PaperArg::All => None,
        }
    }
}

fn parse_experiment(s: &str) -> std::result::Result<Experiment, String> {
    Experiment::from_name(s).map_err(|e| e.to_string())
}

/// Where cells run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// Worker threads of this process.
    Local,
    /// A Slurm job array (one cell per task) and a job that builds the tables after it.
    Slurm,
}

/// How the Slurm array is submitted.
#[derive(Args, Debug)]
pub struct SlurmArgs {
    /// Print the sbatch scripts instead of submitting them.
    #[arg(long)]
    pub dry_run: bool,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm account.
    #[arg(long)]
    pub account: Option<String>,
    /// A further sbatch flag for both jobs, e.g. `--sbatch-flag=--qos=short` (repeatable).
    #[arg(long = "sbatch-flag", allow_hyphen_values = true)]
    pub sbatch_flags: Vec<String>,
    /// At most this many array tasks at once (`%K`).
    #[arg(long, default_value_t = 32)]
    pub throttle: usize,
    /// Minutes per task (default: twice the costliest cell's estimate, plus ten).
    #[arg(long)]
    pub time_minutes: Option<u64>,
    /// MiB of memory per task.
    #[arg(long, default_value_t = 1024)]
    pub mem_mb: u64,
}

/// Settings given in place of the preset's.
#[derive(Args, Debug)]
pub struct CellArgs {
    /// Adversarial iterations per cell (quick 1000, full 2000, smoke 12).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// The generator's settings (quick: 41 copies, max KL 0.002, Fisher on every 4th sample,
    /// 10 discriminator steps, critic 3 × 4; full: 5 discriminator steps, critic 10 × 16).
    #[command(flatten)]
    pub generator: crate::common::GeneratorArgs,
    /// Behaviour-cloning epochs (quick and full 1000).
    #[arg(long)]
    pub bc_epochs: Option<usize>,
    /// Evaluation episodes per cell (quick and full 100; the papers' experiments 1,000, the
    /// fewest their evaluation protocol accepts).
    #[arg(long)]
    pub episodes: Option<usize>,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replicates: seeds `seed`, `seed + 1`, … (each its own demonstrations and training);
    /// default 1, or 5 with `--paper`.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Who demonstrates.
    #[arg(long, value_enum, default_value_t = Who::Expert)]
    pub demonstrator: Who,
    /// The expert checkpoint used with `--demonstrator expert`.
    #[arg(long, default_value = "assets/experts/simple_spread-paper-s0")]
    pub expert: PathBuf,
    /// The expert for the stochastic-navigation cells (default: `--expert`, which acts whenever
    /// the player function lets it). `assets/experts/stoch_navigation-s0` is the navigation
    /// expert fine-tuned in that game.
    #[arg(long)]
    pub stoch_expert: Option<PathBuf>,
}

/// Who demonstrates: the shipped expert or the scripted reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Who {
    /// The shipped cooperative-navigation expert (`--expert`), trained by TRPO in the synchronous
    /// game; in the asynchronous game it acts whenever the player function lets it (or
    /// `--stoch-expert` demonstrates there).
    Expert,
    /// The scripted reference policy (docs/envs.md).
    Scripted,
}

/// A checkpoint path as the plan records it: relative to the project root when given so (the
/// same cell id on every clone), absolute when it names a folder under the current one instead.
fn expert_at(p: &Path, root: &Path) -> Demonstrator {
    if p.is_relative()
        && !root.join(p).exists()
        && p.exists()
        && let Ok(abs) = std::path::absolute(p)
    {
        return Demonstrator::Expert(abs);
    }
    Demonstrator::Expert(p.to_path_buf())
}

impl CellArgs {
    pub fn options(
        &self,
        preset: Preset,
        papers: Option<Vec<Experiment>>,
        root: &Path,
    ) -> Result<PlanOptions> {
        let seeds = self.seeds.unwrap_or(if papers.is_some() { 5 } else { 1 });
        if seeds == 0 {
            bail!("--seeds 0: expected at least 1 replicate");
        }
        let mut o = match papers {
            Some(e) => PlanOptions::papers(preset, e),
            None => PlanOptions::new(preset, Demonstrator::Scripted),
        };
        let g = &mut o.generator;
        let set = |dst: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut g.iterations, self.iterations);
        self.generator.overlay(g);
        set(&mut o.bc_epochs, self.bc_epochs);
        set(&mut o.episodes, self.episodes);
        o.seeds = (0..seeds).map(|k| self.seed.wrapping_add(k)).collect();
        if self.demonstrator == Who::Expert {
            o.demonstrator = expert_at(&self.expert, root);
            o.stoch_demonstrator =
                expert_at(self.stoch_expert.as_ref().unwrap_or(&self.expert), root);
        }
        Ok(o)
    }
}
