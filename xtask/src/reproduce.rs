//! `cargo xtask reproduce --quick | --full`: the MAGAIL paper's cooperative-navigation experiment
//! and AMAGAIL's stochastic cooperative navigation, end to end: demonstrations → BC, GAIL,
//! centralized and decentralized MAGAIL (100, 200, 400 demonstrations), and BC (φ as an action,
//! and φ filtered), MAGAIL (φ as an action) and AMAGAIL (φ filtered) at 200 demonstrations.
//! Writes a normalized-reward table (markdown and CSV) and plots (PNG, SVG) under
//! `target/reproduce/` (`--full`: `target/reproduce-full/`). Both presets train the generator on
//! 41 copies × 50 steps at max KL 0.002 with the Fisher on every 4th sample; the quick one for
//! 1000 iterations with ten discriminator steps and the critic in 3 × 4 steps, the full one for
//! 2000 with the library's five and 10 × 16 (`Generator`). Finished cells are skipped on a
//! re-run, and two cells run at a time (one per core), the longest first.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use magail_async::Policy;
use serde::{Deserialize, Serialize};

use magail_async::run::{BcCache, Existing, Method, RunFolder, RunSettings};

use crate::common::{
    GameChoice, Series, Tuning, Who, evaluate, game_for, line_plot, load_checkpoint, play,
    train_cell, write_atomic,
};

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The quick experiment: the paper-shape generator, 1000 adversarial iterations of 2,050
    /// steps per cell, max KL 0.002, ten discriminator steps, the critic in 3 × 4 steps (under
    /// 20 minutes on 2 cores).
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// The full experiment: the same cells with 2000 iterations of 2,050 steps (about 4 M
    /// environment steps per cell), max KL 0.002 and the Fisher on every 4th sample (44 minutes
    /// on 2 cores with the release build); results in `target/reproduce-full/`.
    #[arg(long)]
    pub full: bool,
    /// Adversarial iterations per MAGAIL cell (default: 1000 with --quick, 2000 with --full).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Environment copies per iteration, each running 50 steps (default: 41, i.e. 2,050 joint
    /// steps a rollout).
    #[arg(long)]
    pub envs: Option<usize>,
    /// TRPO trust-region radius of the generators (default: 0.002).
    #[arg(long)]
    pub max_kl: Option<f64>,
    /// Fisher-vector products on every k-th sample of a rollout (default: 4).
    #[arg(long)]
    pub fisher_subsample: Option<usize>,
    /// Discriminator Adam steps per iteration (default: 10 with --quick, the library's 5 with
    /// --full).
    #[arg(long)]
    pub disc_steps: Option<usize>,
    /// Critic epochs per iteration (default: 3 with --quick, the library's 10 with --full).
    #[arg(long)]
    pub vf_epochs: Option<usize>,
    /// Critic minibatches per epoch (default: 4 with --quick, the library's 16 with --full).
    #[arg(long)]
    pub vf_minibatches: Option<usize>,
    /// Behaviour-cloning epochs (BC cells, and the pre-training of every MAGAIL cell).
    #[arg(long, default_value_t = 1000)]
    pub bc_epochs: usize,
    /// Evaluation episodes per cell.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Output folder (default target/reproduce, or target/reproduce-full with --full).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Who demonstrates.
    #[arg(long, value_enum, default_value_t = Demonstrator::Expert)]
    pub demonstrator: Demonstrator,
    /// The expert checkpoint used with `--demonstrator expert`.
    #[arg(long, default_value = "assets/experts/simple_spread-paper-s0")]
    pub expert: PathBuf,
    /// The expert for the stochastic-navigation cells (default: `--expert`, which acts whenever
    /// the player function lets it). `assets/experts/stoch_navigation-s0` is the navigation
    /// expert fine-tuned in that game.
    #[arg(long)]
    pub stoch_expert: Option<PathBuf>,
}

/// What a preset trains each adversarial cell with: iterations, rollout copies (× 50 steps),
/// trust region, Fisher stride, discriminator steps and the critic's epochs × minibatches.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Generator {
    iterations: usize,
    envs: usize,
    max_kl: f64,
    fisher: usize,
    disc_steps: usize,
    vf_epochs: usize,
    vf_minibatches: usize,
}

/// The quick preset: the paper-shape generator (docs/results.md, point 8), the cheapest setting
/// found under which the adversarial methods end above their BC start at 100 demonstrations.
const QUICK: Generator = Generator {
    iterations: 1000,
    envs: 41,
    max_kl: 0.002,
    fisher: 4,
    disc_steps: 10,
    vf_epochs: 3,
    vf_minibatches: 4,
};

/// The full preset: twice the iterations, the library's discriminator and critic steps
/// (docs/results.md, point 7).
const FULL: Generator = Generator {
    iterations: 2000,
    envs: 41,
    max_kl: 0.002,
    fisher: 4,
    disc_steps: 5,
    vf_epochs: 10,
    vf_minibatches: 16,
};

impl ReproduceArgs {
    /// Adversarial iterations per cell: as given, else the preset's.
    fn iterations(&self) -> usize {
        self.generator().iterations
    }

    /// The preset's generator with every setting given on the command line in its place.
    fn generator(&self) -> Generator {
        let p = if self.full { FULL } else { QUICK };
        Generator {
            iterations: self.iterations.unwrap_or(p.iterations),
            envs: self.envs.unwrap_or(p.envs),
            max_kl: self.max_kl.unwrap_or(p.max_kl),
            fisher: self.fisher_subsample.unwrap_or(p.fisher),
            disc_steps: self.disc_steps.unwrap_or(p.disc_steps),
            vf_epochs: self.vf_epochs.unwrap_or(p.vf_epochs),
            vf_minibatches: self.vf_minibatches.unwrap_or(p.vf_minibatches),
        }
    }
}

/// One table cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cell {
    experiment: String,
    method: String,
    demos: usize,
    /// Team mean return on the evaluation seeds.
    score: f64,
    random: f64,
    expert: f64,
    normalized: f64,
    /// The settings that produced the cell: a re-run with others redoes it.
    #[serde(default)]
    settings: String,
}

/// The expert checkpoint that demonstrates in `game`, or `None` for the scripted reference. A
/// relative path is taken from the workspace root when it is not found here.
fn expert_path(a: &ReproduceArgs, game: &GameChoice) -> Option<PathBuf> {
    if a.demonstrator == Demonstrator::Scripted {
        return None;
    }
    let p = match (&a.stoch_expert, game.amagail()) {
        (Some(stoch), Some(_)) => stoch,
        _ => &a.expert,
    };
    Some(if p.is_relative() && !p.exists() {
        crate::project_root().join(p)
    } else {
        p.clone()
    })
}

/// Who demonstrates in `game`, for the settings and the run folder.
fn demonstrator_name(a: &ReproduceArgs, game: &GameChoice) -> String {
    expert_path(a, game).map_or_else(
        || "scripted".to_string(),
        |p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("expert-{name}")
        },
    )
}

/// The settings that make a cell: a re-run with others (another demonstrator included) redoes
/// it instead of keeping a stale result. The demonstrator is named by its whole path, so two
/// checkpoint folders of the same name are not taken for one another.
fn settings(a: &ReproduceArgs, game: &GameChoice) -> String {
    let who = expert_path(a, game).map_or_else(
        || "scripted".to_string(),
        |p| format!("expert {}", p.display()),
    );
    let g = a.generator();
    let generator = format!(
        " of {} copies x 50 steps, max KL {}, Fisher on every {} samples, {} discriminator steps, critic {} epochs x {} minibatches",
        g.envs, g.max_kl, g.fisher, g.disc_steps, g.vf_epochs, g.vf_minibatches
    );
    // On the asynchronous game the baselines treat φ as an action of their policies (since
    // 2026-12-02; before, only their discriminators did): cells made before are redone.
    let baselines = if game.env == "stoch_navigation" {
        "; baselines with φ as a policy action"
    } else {
        ""
    };
    format!(
        "demonstrator {who}, {} iterations{generator}, {} BC epochs, seed {}, {} \
         evaluation episodes{baselines}",
        a.iterations(),
        a.bc_epochs,
        a.seed,
        a.episodes
    )
}

/// A cell's rough cost, in units of a joint-discriminator cell.
fn cost(m: Method) -> u8 {
    match m {
        Method::Bc | Method::BcPhi => 0,
        Method::MagailC | Method::MagailZs => 1,
        Method::Gail | Method::MagailD | Method::MagailPhi | Method::Amagail => 2,
    }
}

#[derive(Clone, Debug)]
struct Job {
    experiment: &'static str,
    game: GameChoice,
    method: Method,
    demos: usize,
}

/// Who demonstrates: the shipped expert or the scripted reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Demonstrator {
    /// The shipped cooperative-navigation expert (`--expert`), trained by TRPO in the synchronous
    /// game; in the asynchronous game it acts whenever the player function lets it (or
    /// `--stoch-expert` demonstrates there).
    Expert,
    /// The scripted reference policy (docs/envs.md).
    Scripted,
}

fn run_job(
    job: &Job,
    a: &ReproduceArgs,
    dir: &Path,
    bar: &ProgressBar,
    cache: &BcCache,
) -> Result<Cell> {
    bar.set_message(format!(
        "{} {} {} demos: demonstrations, BC",
        job.experiment,
        job.method.label(),
        job.demos
    ));
    let expert_learners = match expert_path(a, &job.game) {
        // Checked against the cell's game in `run_reproduce`, before any cell started.
        Some(path) => Some(
            load_checkpoint(&path)
                .with_context(|| format!("the demonstrator checkpoint {}", path.display()))?,
        ),
        None => None,
    };
    let expert_pols = expert_learners
        .as_ref()
        .map(|(_, l)| l.policies(false))
        .transpose()?
        .unwrap_or_default();
    let expert_refs: Vec<&dyn Policy> = expert_pols.iter().map(|p| p as &dyn Policy).collect();
    let demonstrator = || {
        if expert_refs.is_empty() {
            Who::Scripted
        } else {
            Who::Learned(&expert_refs)
        }
    };
    let demos = play(&job.game, demonstrator(), job.demos, a.seed.wrapping_add(7))?;
    let (env, _) = job.game.build()?;
    let mut cfg = job.method.config(mg_core::MarkovGame::spec(&env), a.seed);
    cfg.bc_epochs = a.bc_epochs;
    let g = a.generator();
    Tuning {
        envs: Some(g.envs),
        max_kl: Some(g.max_kl),
        fisher_subsample: Some(g.fisher),
        disc_steps: Some(g.disc_steps),
        vf_epochs: Some(g.vf_epochs),
        vf_minibatches: Some(g.vf_minibatches),
        ..Tuning::default()
    }
    .apply(&mut cfg);
    let run = RunSettings {
        method: job.method,
        iterations: a.iterations(),
        checkpoint_every: 25,
    };
    let run_dir = dir
        .join("runs")
        .join(demonstrator_name(a, &job.game))
        .join(format!(
            "{}-{}-{}",
            job.experiment,
            job.method.label(),
            job.demos
        ));
    let folder = RunFolder::open(&run_dir)?;
    // A cell redone under new settings starts its run folder afresh.
    let t = train_cell(
        &job.game,
        &demos,
        cfg,
        &folder,
        &run,
        Existing::ResumeOrReplace,
        Some(cache),
        Some(bar),
    )?;
    let pols = t.learners().policies(false)?;
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let e = evaluate(&job.game, &refs, demonstrator(), a.episodes)?;
    let (score, random, expert) = (e.score, e.random, e.reference);
    let Some(norm) = e.normalized() else {
        bail!(
            "{} at {} demonstrations: the normalized score is undefined (return {score}, \
             random {random}, demonstrator {expert} over {} episodes)",
            job.method.label(),
            job.demos,
            a.episodes
        );
    };
    Ok(Cell {
        experiment: job.experiment.into(),
        method: job.method.label().into(),
        demos: job.demos,
        score,
        random,
        expert,
        normalized: norm,
        settings: settings(a, &job.game),
    })
}

fn cell_path(dir: &Path, job: &Job) -> PathBuf {
    dir.join("cells").join(format!(
        "{}-{}-{}.json",
        job.experiment,
        job.method.label(),
        job.demos
    ))
}

pub fn run_reproduce(a: &ReproduceArgs) -> Result<()> {
    if !(a.quick || a.full) {
        anyhow::bail!(
            "say which experiment: `cargo xtask reproduce --quick` (under 20 minutes) or \
             `--full` (about 45 minutes with the release build)"
        );
    }
    // Checked before anything trains: evaluation comes last.
    if a.episodes == 0 {
        bail!("--episodes must be at least 1: every cell is scored over that many episodes");
    }
    let dir = a.out.clone().unwrap_or_else(|| {
        crate::project_root().join(if a.full {
            "target/reproduce-full"
        } else {
            "target/reproduce"
        })
    });
    let nav = GameChoice {
        env: "cooperative_navigation".into(),
        variant: "paper".into(),
    };
    let stoch = GameChoice {
        env: "stoch_navigation".into(),
        variant: "paper".into(),
    };
    // Each demonstrator checkpoint is checked once, before any cell starts: a wrong path
    // or a checkpoint of another game is one clear error, not one per cell.
    for game in [&nav, &stoch] {
        if let Some(path) = expert_path(a, game) {
            let (meta, _) = load_checkpoint(&path)
                .with_context(|| format!("the demonstrator checkpoint {}", path.display()))?;
            game_for(&meta, Some(&game.env), Some(&game.variant)).with_context(|| {
                format!(
                    "the demonstrator checkpoint {} cannot play {}",
                    path.display(),
                    game.env
                )
            })?;
        }
    }
    let mut jobs = Vec::new();
    for demos in [100, 200, 400] {
        for method in [Method::Bc, Method::Gail, Method::MagailC, Method::MagailD] {
            jobs.push(Job {
                experiment: "navigation",
                game: nav.clone(),
                method,
                demos,
            });
        }
    }
    for method in [
        Method::BcPhi,
        Method::Bc,
        Method::MagailPhi,
        Method::Amagail,
    ] {
        jobs.push(Job {
            experiment: "stoch_navigation",
            game: stoch.clone(),
            method,
            demos: 200,
        });
    }
    let mut todo: Vec<Job> = jobs
        .iter()
        .filter(|j| {
            // Done when its cell is there and was made with these settings.
            std::fs::read_to_string(cell_path(&dir, j))
                .ok()
                .and_then(|t| serde_json::from_str::<Cell>(&t).ok())
                .is_none_or(|c| c.settings != settings(a, &j.game))
        })
        .cloned()
        .collect();
    // Longest first, so that the two workers finish together: a cell with one discriminator per
    // agent costs about twice one with a joint discriminator, and cloning alone is short.
    todo.sort_by_key(|j| std::cmp::Reverse(cost(j.method)));
    eprintln!(
        "{} cells, {} already done, results in {}",
        jobs.len(),
        jobs.len() - todo.len(),
        dir.display()
    );
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("{bar:25} {pos}/{len} {elapsed_precise} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let queue = Mutex::new(todo.into_iter());
    // The cells of one demonstration set start from the same cloning: it is done once.
    let cache = BcCache::default();
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some(job) = next else { break };
                    let bar = multi.add(ProgressBar::new(a.iterations() as u64));
                    bar.set_style(style.clone());
                    let res = run_job(&job, a, &dir, &bar, &cache).and_then(|cell| {
                        write_atomic(&cell_path(&dir, &job), |w| {
                            serde_json::to_writer_pretty(&mut *w, &cell)?;
                            Ok(())
                        })
                    });
                    bar.finish_and_clear();
                    if let (Err(e), Ok(mut v)) = (res, errors.lock()) {
                        v.push(format!(
                            "{} {} {}: {e:#}",
                            job.experiment,
                            job.method.label(),
                            job.demos
                        ));
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_default();
    if !errors.is_empty() {
        anyhow::bail!(
            "{} cells failed (finished cells are kept; re-run to retry):\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    let mut cells = Vec::new();
    for j in &jobs {
        let p = cell_path(&dir, j);
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        cells.push(
            serde_json::from_str::<Cell>(&text)
                .with_context(|| format!("{} is not a result cell", p.display()))?,
        );
    }
    let header = format!(
        "{}; stochastic navigation: {}",
        settings(a, &nav),
        expert_path(a, &stoch).map_or_else(|| "scripted".into(), |p| p.display().to_string())
    );
    let title = if a.full { "Full" } else { "Quick" };
    report(&dir, &cells, &header, title)
}

fn report(dir: &Path, cells: &[Cell], settings: &str, title: &str) -> Result<()> {
    let mut csv = String::from("experiment,method,demos,score,random,expert,normalized\n");
    for c in cells {
        csv.push_str(&format!(
            "{},{},{},{:.4},{:.4},{:.4},{:.4}\n",
            c.experiment, c.method, c.demos, c.score, c.random, c.expert, c.normalized
        ));
    }
    write_atomic(&dir.join("results.csv"), |w| {
        Ok(std::io::Write::write_all(w, csv.as_bytes())?)
    })?;
    let mut md = format!(
        "# {title} reproduction: normalized team reward (demonstrator = 1, random = 0)\n\n"
    );
    md.push_str(&format!("Settings: {settings}.\n\n"));
    md.push_str("## Cooperative navigation (MAGAIL paper variant)\n\n| demos | BC | GAIL (independent) | MAGAIL centralized | MAGAIL decentralized |\n|---|---|---|---|---|\n");
    for d in [100, 200, 400] {
        let get = |m: &str| {
            cells
                .iter()
                .find(|c| c.experiment == "navigation" && c.method == m && c.demos == d)
                .map_or("–".to_string(), |c| format!("{:.3}", c.normalized))
        };
        md.push_str(&format!(
            "| {d} | {} | {} | {} | {} |\n",
            get("BC"),
            get("GAIL"),
            get("MAGAIL-C"),
            get("MAGAIL-D")
        ));
    }
    md.push_str("\n## Stochastic cooperative navigation (AMAGAIL), 200 demonstrations\n\n| BC (φ as an action) | BC (φ filtered) | MAGAIL (φ as an action) | AMAGAIL (φ filtered) |\n|---|---|---|---|\n");
    let get = |m: &str| {
        cells
            .iter()
            .find(|c| c.experiment == "stoch_navigation" && c.method == m)
            .map_or("–".to_string(), |c| format!("{:.3}", c.normalized))
    };
    md.push_str(&format!(
        "| {} | {} | {} | {} |\n",
        get("BC-phi"),
        get("BC"),
        get("MAGAIL"),
        get("AMAGAIL")
    ));
    md.push_str(
        "\nThe baselines of the AMAGAIL paper (BC and MAGAIL) treat φ as an ordinary action: \
         their policies clone and may choose it. AMAGAIL, and the BC beside it, know who acted \
         and leave φ out.\n",
    );
    md.push_str("\nRaw team returns (score, random, expert) are in results.csv.\n");
    write_atomic(&dir.join("results.md"), |w| {
        Ok(std::io::Write::write_all(w, md.as_bytes())?)
    })?;
    let series: Vec<Series> = ["BC", "GAIL", "MAGAIL-C", "MAGAIL-D"]
        .iter()
        .map(|m| Series {
            label: (*m).to_string(),
            points: cells
                .iter()
                .filter(|c| c.experiment == "navigation" && c.method == *m)
                .map(|c| (c.demos as f64, c.normalized))
                .collect(),
        })
        .collect();
    line_plot(
        &dir.join("navigation"),
        "Cooperative navigation",
        "demonstrations",
        "normalized reward",
        &series,
    )?;
    let stoch: Vec<Series> = ["BC-phi", "BC", "MAGAIL", "AMAGAIL"]
        .iter()
        .enumerate()
        .map(|(k, m)| Series {
            label: (*m).to_string(),
            points: cells
                .iter()
                .filter(|c| c.experiment == "stoch_navigation" && c.method == *m)
                .map(|c| (k as f64, c.normalized))
                .collect(),
        })
        .collect();
    line_plot(
        &dir.join("stoch_navigation"),
        "Stochastic cooperative navigation, 200 demos (x: BC-phi, BC, MAGAIL, AMAGAIL)",
        "method",
        "normalized reward",
        &stoch,
    )?;
    print!("{md}");
    println!(
        "\nwrote {}/results.{{md,csv}} and navigation/stoch_navigation .png/.svg",
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: ReproduceArgs,
    }

    fn parse(args: &[&str]) -> Result<ReproduceArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("reproduce").chain(args.iter().copied())).map(|c| c.a)
    }

    /// The presets set the generator, a flag overrides its preset, and the settings line (which
    /// decides whether a cell is redone) names every setting.
    #[test]
    fn presets_choose_the_generator_and_flags_override_them() {
        let nav = GameChoice {
            env: "cooperative_navigation".into(),
            variant: "paper".into(),
        };
        // The full preset's discriminator and critic are the library's: they must not drift
        // apart.
        let (game, _) = nav.build().expect("navigation");
        let lib = Method::MagailC.config(mg_core::MarkovGame::spec(&game), 0);
        assert_eq!(
            (FULL.disc_steps, FULL.vf_epochs, FULL.vf_minibatches),
            (
                lib.disc.steps,
                lib.learner.trpo.vf_epochs,
                lib.learner.trpo.vf_minibatches
            )
        );
        let quick = parse(&["--quick"]).expect("quick");
        assert_eq!(quick.generator(), QUICK);
        let line = settings(&quick, &nav);
        assert!(
            line.contains(", 1000 iterations of 41 copies x 50 steps, max KL 0.002, Fisher on every 4 samples, 10 discriminator steps, critic 3 epochs x 4 minibatches, 1000 BC epochs,"),
            "{line}"
        );
        let full = parse(&["--full"]).expect("full");
        assert_eq!(full.generator(), FULL);
        let tuned = parse(&["--full", "--max-kl", "0.001", "--iterations", "300"]).expect("tuned");
        assert_eq!(
            tuned.generator(),
            Generator {
                iterations: 300,
                max_kl: 0.001,
                ..FULL
            }
        );
        assert_ne!(settings(&tuned, &nav), settings(&full, &nav));
        let learners = parse(&["--quick", "--disc-steps", "5"]).expect("learners");
        assert!(settings(&learners, &nav).contains(", 5 discriminator steps,"));
        assert!(parse(&["--quick", "--full"]).is_err());
        let neither = parse(&[]).expect("no preset parses");
        let err = run_reproduce(&neither).expect_err("refused").to_string();
        assert!(err.contains("--quick") && err.contains("--full"), "{err}");
    }
}
