//! `cargo xtask reproduce --quick | --full | --smoke`: the MAGAIL paper's cooperative-navigation
//! experiment and AMAGAIL's stochastic cooperative navigation, end to end, as a plan of cells
//! (`experiments::Plan`, written to `DIR/plan.json`). Each cell has a stable id from its settings
//! and its own folder; `--executor local` runs them on worker threads, `--executor slurm` submits
//! them as a job array with a job that builds the tables after it. `--plan` lists the cells and
//! where they stand; `--cell ID` runs (or resumes) one; `--report` builds the tables from the
//! finished ones. Finished cells are never redone; interrupted ones resume exactly.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use experiments::report;
use experiments::{
    CellSpec, CellState, Demonstrator, Observer, Plan, PlanOptions, Preset, SlurmOptions,
};

use crate::common::{Series, line_plot, write_atomic};
use crate::progress::Bars;

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
    /// Where the cells run.
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Local workers (default: the machine's cores).
    #[arg(long)]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    #[command(flatten)]
    pub settings: CellArgs,
    /// Output folder (default target/reproduce, target/reproduce-full or target/reproduce-smoke).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    #[arg(long, default_value_t = 2048)]
    pub mem_mb: u64,
}

/// Settings given in place of the preset's.
#[derive(Args, Debug)]
pub struct CellArgs {
    /// Adversarial iterations per cell (quick 1000, full 2000, smoke 12).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Environment copies per iteration, each running 50 steps (quick and full 41).
    #[arg(long)]
    pub envs: Option<usize>,
    /// TRPO trust-region radius of the generators (quick and full 0.002).
    #[arg(long)]
    pub max_kl: Option<f64>,
    /// Fisher-vector products on every k-th sample of a rollout (quick and full 4).
    #[arg(long)]
    pub fisher_subsample: Option<usize>,
    /// Discriminator Adam steps per iteration (quick 10, full 5).
    #[arg(long)]
    pub disc_steps: Option<usize>,
    /// Critic epochs per iteration (quick 3, full 10).
    #[arg(long)]
    pub vf_epochs: Option<usize>,
    /// Critic minibatches per epoch (quick 4, full 16).
    #[arg(long)]
    pub vf_minibatches: Option<usize>,
    /// Behaviour-cloning epochs (quick and full 1000).
    #[arg(long)]
    pub bc_epochs: Option<usize>,
    /// Evaluation episodes per cell (quick and full 100).
    #[arg(long)]
    pub episodes: Option<usize>,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replicates: seeds `seed`, `seed + 1`, … (each its own demonstrations and training).
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
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
fn expert_at(p: &Path) -> Demonstrator {
    let root = crate::project_root();
    if p.is_relative() && !root.join(p).exists() && p.exists() {
        if let Ok(abs) = std::path::absolute(p) {
            return Demonstrator::Expert(abs);
        }
    }
    Demonstrator::Expert(p.to_path_buf())
}

impl CellArgs {
    fn options(&self, preset: Preset) -> Result<PlanOptions> {
        if self.seeds == 0 {
            bail!("--seeds 0: expected at least 1 replicate");
        }
        let mut o = PlanOptions::new(preset, Demonstrator::Scripted);
        let g = &mut o.generator;
        let set = |dst: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut g.iterations, self.iterations);
        set(&mut g.envs, self.envs);
        set(&mut g.fisher, self.fisher_subsample);
        set(&mut g.disc_steps, self.disc_steps);
        set(&mut g.vf_epochs, self.vf_epochs);
        set(&mut g.vf_minibatches, self.vf_minibatches);
        if let Some(v) = self.max_kl {
            g.max_kl = v;
        }
        set(&mut o.bc_epochs, self.bc_epochs);
        set(&mut o.episodes, self.episodes);
        o.seeds = (0..self.seeds).map(|k| self.seed.wrapping_add(k)).collect();
        if self.demonstrator == Who::Expert {
            o.demonstrator = expert_at(&self.expert);
            o.stoch_demonstrator = expert_at(self.stoch_expert.as_ref().unwrap_or(&self.expert));
        }
        Ok(o)
    }
}

pub fn run_reproduce(a: &ReproduceArgs) -> Result<()> {
    let root = crate::project_root();
    let preset = match (a.quick, a.full, a.smoke) {
        (true, _, _) => Some(Preset::Quick),
        (_, true, _) => Some(Preset::Full),
        (_, _, true) => Some(Preset::Smoke),
        _ => None,
    };
    let default_out = |p: Preset| {
        root.join(match p {
            Preset::Quick => "target/reproduce",
            Preset::Full => "target/reproduce-full",
            Preset::Smoke => "target/reproduce-smoke",
        })
    };
    let dir = match (&a.out, preset) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) => default_out(p),
        (None, None) => bail!(
            "say which experiment: `cargo xtask reproduce --quick` (15–21 minutes on 2 cores), \
             `--full` or `--smoke` (under two minutes); `--cell` and `--report` need `--out DIR`"
        ),
    };
    let plan = match preset {
        Some(p) => {
            let plan = Plan::new(&a.settings.options(p)?);
            plan.validate(&root)?;
            plan.save(&dir)?;
            plan
        }
        None => Plan::load(&dir)?,
    };
    if let Some(id) = &a.cell {
        let cell = plan.cell(id)?;
        let bars = Bars::new();
        bars.started(cell);
        let res =
            experiments::run_recorded(cell, &root, &dir, None, &mut |p| bars.progress(cell, &p));
        bars.finished(cell, res.as_ref());
        res?;
        return Ok(());
    }
    if a.report {
        return write_report(&dir, &plan);
    }
    if preset.is_none() {
        if !a.plan {
            bail!(
                "say which experiment (`--quick`, `--full`, `--smoke`), or `--cell ID`, `--report` or `--plan` for the plan in {}",
                dir.display()
            );
        }
    }
    let states = plan.states(&dir);
    if a.plan {
        print!("{}", experiments::plan::listing(&plan, &states, &dir));
        return Ok(());
    }
    let done = states
        .iter()
        .filter(|s| matches!(s, CellState::Done(_)))
        .count();
    eprintln!(
        "{} cells, {done} already done, results in {}",
        plan.cells.len(),
        dir.display()
    );
    match a.executor {
        Executor::Local => {
            let workers = a
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            experiments::run_local(&plan, &root, &dir, workers, &Bars::new())?;
            write_report(&dir, &plan)
        }
        Executor::Slurm => submit(a, &plan, &states, &dir),
    }
}

fn submit(a: &ReproduceArgs, plan: &Plan, states: &[CellState], dir: &Path) -> Result<()> {
    let todo: Vec<&CellSpec> = plan
        .cells
        .iter()
        .zip(states)
        .filter(|(_, s)| matches!(s, CellState::ToDo | CellState::Failed(_)))
        .map(|(c, _)| c)
        .collect();
    let running = states
        .iter()
        .filter(|s| matches!(s, CellState::Running))
        .count();
    if todo.is_empty() {
        eprintln!("nothing to submit: every cell is done or running ({running} running)");
        return write_report(dir, plan);
    }
    // The array runs this very program: it must be where every node can read it.
    let program = std::env::current_exe().context("cannot find this program's path")?;
    let dir = std::path::absolute(dir).context("cannot make the output folder absolute")?;
    let s = &a.slurm;
    let o = SlurmOptions {
        throttle: s.throttle,
        time_minutes: s.time_minutes,
        mem_mb: s.mem_mb,
        partition: s.partition.clone(),
        account: s.account.clone(),
        extra: s.sbatch_flags.clone(),
        ..SlurmOptions::default()
    };
    let sub = experiments::slurm::prepare(&dir, &program, &todo, &o)?;
    if s.dry_run {
        println!("# {}\n{}", sub.array_path.display(), sub.array_script);
        println!("# {}\n{}", sub.report_path.display(), sub.report_script);
        println!(
            "# {} (one cell id per array task)\n{}",
            sub.cells_file.display(),
            sub.cells.join("\n")
        );
        return Ok(());
    }
    let (array, report) = experiments::slurm::submit(&sub)?;
    println!(
        "submitted {} cells as array job {array} ({running} already running elsewhere); the \
         tables follow in job {report}.\nFollow with `squeue -j {array},{report}` and \
         `cargo xtask reproduce --out {} --plan`; logs in {}/slurm/logs. Run the same command \
         again to resubmit cells that failed or were cancelled.",
        todo.len(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// The tables (markdown, CSV) and plots of the finished cells; names the cells not finished.
fn write_report(dir: &Path, plan: &Plan) -> Result<()> {
    let states = plan.states(dir);
    let (md, results, missing) = report::document(plan, &states);
    write_atomic(&dir.join("results.csv"), |w| {
        Ok(std::io::Write::write_all(
            w,
            report::csv(&results).as_bytes(),
        )?)
    })?;
    let tables = report::tables(&results);
    write_atomic(&dir.join("results.md"), |w| {
        Ok(std::io::Write::write_all(w, md.as_bytes())?)
    })?;
    for t in &tables {
        let many = t.demos.len() > 1;
        let series: Vec<Series> = t
            .methods
            .iter()
            .enumerate()
            .map(|(k, m)| Series {
                label: m.label().to_string(),
                points: t
                    .demos
                    .iter()
                    .filter_map(|&d| {
                        let v = t.get(d, *m);
                        (!v.is_empty()).then(|| {
                            let x = if many { d as f64 } else { k as f64 };
                            (x, report::mean_std(v).0)
                        })
                    })
                    .collect(),
            })
            .collect();
        let labels: Vec<&str> = t.methods.iter().map(|m| m.label()).collect();
        let (title, x) = if many {
            (report::heading(&t.experiment), "demonstrations")
        } else {
            (
                format!(
                    "{}, {} demos (x: {})",
                    report::heading(&t.experiment),
                    t.demos.first().copied().unwrap_or(0),
                    labels.join(", ")
                ),
                "method",
            )
        };
        line_plot(
            &dir.join(&t.experiment),
            &title,
            x,
            "normalized reward",
            &series,
        )?;
    }
    print!("{md}");
    println!(
        "\nwrote {}/results.{{md,csv}} and a plot per experiment (.png, .svg)",
        dir.display()
    );
    if !missing.is_empty() {
        bail!(
            "{} of {} cells are not finished: run the same command again to finish them",
            missing.len(),
            plan.cells.len()
        );
    }
    Ok(())
}
